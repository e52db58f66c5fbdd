import { describe, expect, it } from 'vitest';
import { domainSize, guestIdentity, imageRepository, imagesOf, planPrecopy, userDataHostname } from '../src/index.ts';
import { vmDef } from './helpers.ts';

describe('pre-copy model', () => {
  const MiB = 2 ** 20;
  it('converges for an idle guest within a round or two', () => {
    const plan = planPrecopy({
      memoryBytes: 256 * MiB,
      firstRoundBytes: 85 * MiB,
      bandwidth: 100 * MiB,
      dirtyRate: 1 * MiB,
      maxDowntimeMs: 300,
    });
    expect(plan.converges).toBe(true);
    expect(plan.rounds).toHaveLength(1);
    expect(plan.rounds[0]!.durationMs).toBe(850);
  });

  it('shrinks geometrically when dirtying is slower than the link', () => {
    const plan = planPrecopy({
      memoryBytes: 1024 * MiB,
      firstRoundBytes: 1024 * MiB,
      bandwidth: 100 * MiB,
      dirtyRate: 60 * MiB,
      maxDowntimeMs: 300,
    });
    expect(plan.converges).toBe(true);
    const rem = plan.rounds.map((r) => r.remainingBytes);
    for (let i = 1; i < rem.length; i++) expect(rem[i]!).toBeLessThan(rem[i - 1]!);
    expect(plan.rounds.length).toBeGreaterThan(3);
  });

  it('never converges when the guest dirties faster than the link sends', () => {
    const plan = planPrecopy({
      memoryBytes: 1024 * MiB,
      firstRoundBytes: 512 * MiB,
      bandwidth: 100 * MiB,
      dirtyRate: 150 * MiB,
      maxDowntimeMs: 300,
      maxRounds: 50,
    });
    expect(plan.converges).toBe(false);
    expect(plan.rounds.at(-1)!.remainingBytes).toBe(1024 * MiB);
  });
});

describe('domain sizing', () => {
  it('derives vCPUs, memory and CPU requests as the engine scheduler does', () => {
    expect(domainSize(vmDef('a', { cores: 2, memory: '1Gi' }).spec)).toEqual({
      vcpus: 2,
      guestMemoryBytes: 2 ** 30,
      cpuMillis: 2000,
      memoryBytes: 2 ** 30,
    });
    expect(domainSize(vmDef('a', { cpu: '1500m' }).spec)).toMatchObject({ cpuMillis: 1500 });
    const noMem = vmDef('a');
    delete noMem.spec.domain.memory;
    expect(typeof domainSize(noMem.spec)).toBe('string');
  });

  it('lists images kernel first and strips tags for the catalogue', () => {
    const d = vmDef('a', { image: 'quay.io/containerdisks/fedora:40' });
    d.spec.domain.firmware = { kernelBoot: { container: { image: 'virtkit/test-guest' } } };
    expect(imagesOf(d.spec)).toEqual(['virtkit/test-guest', 'quay.io/containerdisks/fedora:40']);
    expect(imageRepository('quay.io/containerdisks/fedora:40')).toBe('quay.io/containerdisks/fedora');
    expect(imageRepository('localhost:5000/img@sha256:abc')).toBe('localhost:5000/img');
  });
});

describe('cloud-init identity', () => {
  it('takes spec.hostname first, then user-data hostname, then the VMI name', () => {
    const ud = '#cloud-config\nhostname: from-userdata\nusers: []\n';
    expect(guestIdentity(vmDef('vm1', { userData: ud, hostname: 'from-spec' })).hostname).toBe('from-spec');
    expect(guestIdentity(vmDef('vm1', { userData: ud })).hostname).toBe('from-userdata');
    expect(guestIdentity(vmDef('vm1')).hostname).toBe('vm1');
    expect(guestIdentity(vmDef('vm1', { uid: 'u-123' })).instanceId).toBe('u-123');
    expect(userDataHostname("hostname: 'quoted'\n")).toBe('quoted');
    expect(userDataHostname('  hostname: nested\n')).toBeUndefined();
  });

  it('decodes base64 user-data', () => {
    const d = vmDef('vm1');
    d.spec.volumes!.push({
      name: 'ci',
      cloudInitNoCloud: { userDataBase64: Buffer.from('hostname: b64\n').toString('base64') },
    });
    expect(guestIdentity(d)).toMatchObject({ hostname: 'b64', cloudInit: true, userDataBytes: 14 });
  });
});
