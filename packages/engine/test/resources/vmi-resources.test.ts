import {
  RequestError,
  type VirtualMachineInstanceSpec,
  vmiGuestMemoryBytes,
  vmiSpecResources,
  vmiVCPUs,
} from '@virtkit/engine';
import { describe, expect, it } from 'vitest';

const spec = (domain: Partial<VirtualMachineInstanceSpec['domain']>): VirtualMachineInstanceSpec => ({
  domain: { devices: {}, ...domain },
});

describe('vmiSpecResources', () => {
  it('uses resource requests when given', () => {
    expect(
      vmiSpecResources(
        spec({
          cpu: { cores: 4 },
          memory: { guest: '1Gi' },
          resources: { requests: { cpu: '500m', memory: '128Mi' } },
        }),
      ),
    ).toEqual({ cpuMillis: 500, memoryBytes: 134_217_728 });
  });

  it('falls back to vCPUs × 1000 and memory.guest', () => {
    expect(vmiSpecResources(spec({ cpu: { cores: 2, sockets: 2, threads: 2 }, memory: { guest: '1.5Gi' } }))).toEqual({
      cpuMillis: 8000,
      memoryBytes: 1_610_612_736,
    });
  });

  it('defaults the topology to one vCPU and takes limits when requests are absent', () => {
    expect(vmiSpecResources(spec({ resources: { limits: { cpu: '2', memory: '1G' } } }))).toEqual({
      cpuMillis: 2000,
      memoryBytes: 1_000_000_000,
    });
    expect(vmiSpecResources(spec({}))).toEqual({ cpuMillis: 1000, memoryBytes: 0 });
  });

  it('rounds CPU up to whole millicores like Kubernetes', () => {
    expect(vmiSpecResources(spec({ resources: { requests: { cpu: '0.0001' } } })).cpuMillis).toBe(1);
  });

  it('accepts quantities that YAML turned into numbers', () => {
    const s = spec({ resources: { requests: { cpu: 2, memory: 1073741824 } as unknown as Record<string, string> } });
    expect(vmiSpecResources(s)).toEqual({ cpuMillis: 2000, memoryBytes: 1_073_741_824 });
  });

  it('throws a typed error for a malformed quantity', () => {
    expect(() => vmiSpecResources(spec({ memory: { guest: '1 GB' } }))).toThrow(RequestError);
  });
});

describe('vmiVCPUs and vmiGuestMemoryBytes', () => {
  it('multiply the topology, ignoring non-positive or missing parts', () => {
    expect(vmiVCPUs(spec({ cpu: { cores: 3, sockets: 2 } }))).toBe(6);
    expect(vmiVCPUs(spec({ cpu: { cores: 0 } }))).toBe(1);
  });

  it('take guest memory first, then limits, then requests', () => {
    expect(
      vmiGuestMemoryBytes(
        spec({ memory: { guest: '2Gi' }, resources: { requests: { memory: '1Gi' }, limits: { memory: '3Gi' } } }),
      ),
    ).toBe(2 * 1024 ** 3);
    expect(vmiGuestMemoryBytes(spec({ resources: { requests: { memory: '1Gi' }, limits: { memory: '3Gi' } } }))).toBe(
      3 * 1024 ** 3,
    );
    expect(vmiGuestMemoryBytes(spec({ resources: { requests: { memory: '1Gi' } } }))).toBe(1024 ** 3);
    expect(vmiGuestMemoryBytes(spec({}))).toBe(0);
  });
});
