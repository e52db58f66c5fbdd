// Every manifest in ../shared/kubevirt-examples (unmodified KubeVirt examples) must parse and validate:
// warnings allowed, no errors; unsupported fields are reported and still present in the parsed object.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultObject, parseManifests, validateObject, validateOrThrow } from '@virtkit/engine';
import { describe, expect, it } from 'vitest';

function examplesDir(): string {
  // The repo root is four levels up from this file; the shared directory sits beside the clone.
  const root = resolve(import.meta.dirname, '../../../..');
  for (const candidate of [join(root, '../shared/kubevirt-examples'), join(root, 'shared/kubevirt-examples')]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`kubevirt-examples not found beside ${root}`);
}

const dir = examplesDir();
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml') || f.endsWith('.json'))
  .sort();

function get(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

describe('KubeVirt example manifests', () => {
  it('are all found', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  it.each(files)('%s parses and validates without errors', (file) => {
    const objects = parseManifests(readFileSync(join(dir, file), 'utf8'));
    expect(objects.length).toBeGreaterThan(0);
    for (const obj of objects) {
      const result = validateObject(obj);
      expect(result.causes).toEqual([]);
      expect(() => validateOrThrow(obj)).not.toThrow();
      // Every warning names a field path that exists in the parsed object, unchanged.
      for (const w of result.warnings) {
        const path = w.slice(0, w.indexOf(':'));
        expect(path).toMatch(/^[a-zA-Z]/);
        if (w.includes('not supported by virtkit')) expect(get(obj, path)).toBeDefined();
      }
      // Defaulting keeps the object valid and keeps unsupported fields.
      const defaulted = defaultObject(obj);
      expect(validateObject(defaulted).causes).toEqual([]);
      expect(defaulted.apiVersion).toBe(obj.kind === 'Node' ? 'v1' : 'kubevirt.io/v1');
    }
  });

  it('reports the unsupported fields of vmi-fedora and vmi-kernel-boot and keeps them', () => {
    const [fedora] = parseManifests(readFileSync(join(dir, 'vmi-fedora.yaml'), 'utf8'));
    expect(validateObject(fedora).warnings).toEqual([
      'spec.domain.chassis: not supported by virtkit; kept in the stored object but has no effect',
    ]);
    expect(get(fedora, 'spec.domain.chassis')).toEqual({ asset: 123456 });
    expect(get(defaultObject(fedora!), 'spec.domain.chassis')).toEqual({ asset: 123456 });
    expect(fedora?.apiVersion).toBe('kubevirt.io/v1alpha3');

    const [kernel] = parseManifests(readFileSync(join(dir, 'vmi-kernel-boot.yaml'), 'utf8'));
    const warnings = validateObject(kernel).warnings.map((w) => w.slice(0, w.indexOf(':')));
    expect(warnings).toEqual([
      'spec.domain.firmware.kernelBoot.cmdline',
      'spec.domain.firmware.kernelBoot.kernelPath',
      'spec.domain.firmware.kernelBoot.name',
    ]);
    expect(get(kernel, 'spec.domain.firmware.kernelBoot')).toEqual({
      cmdline: 'console=ttyS0',
      kernelPath: 'kernelImage/',
      name: 'containerdisk',
    });
  });

  it('warns that vm-cirros uses the deprecated running field', () => {
    const [vm] = parseManifests(readFileSync(join(dir, 'vm-cirros.yaml'), 'utf8'));
    expect(validateObject(vm).warnings).toEqual([
      'spec.running: deprecated, use spec.runStrategy (true means Always, false means Halted)',
    ]);
  });
});
