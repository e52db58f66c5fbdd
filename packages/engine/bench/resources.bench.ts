// Cost of the resource model on the API path: quantity parsing, validation (+ defaulting) of a realistic
// VMI, and manifest parsing, each next to the obvious cheaper baseline so the ratio shows what
// exactness and checking cost:
//   - parseQuantity (exact, BigInt)   vs  parseFloat + suffix table (inexact)
//   - validateObject(vm)              vs  JSON deep copy of the same object (what a store does anyway)
//   - parseManifests(YAML, 100 docs)  vs  yaml.parseAllDocuments + toJS alone, and vs the same as JSON
//   npm run bench -- resources

import { defaultObject, parseManifests, parseQuantity, quantityValue, toYaml, validateObject } from '@virtkit/engine';
import { parseAllDocuments } from 'yaml';

const ROUNDS = 5;
const ROUND_MS = 250;

/** Median operations per second over ROUNDS rounds of ~ROUND_MS each. */
function opsPerSec(fn: () => void): number {
  for (let i = 0; i < 200; i++) fn(); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_MS) {
      for (let i = 0; i < 50; i++) fn();
      n += 50;
      elapsed = performance.now() - start;
    }
    rates.push((n / elapsed) * 1000);
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)] as number;
}

const fmt = (n: number) =>
  n >= 1e6
    ? `${(n / 1e6).toFixed(2)} M`
    : n >= 1e3
      ? `${(n / 1e3).toFixed(1)} k`
      : n >= 10
        ? n.toFixed(0)
        : n.toFixed(2);
const line = (label: string, ops: number, unit = 'ops/s') =>
  console.log(`${label.padEnd(48)} ${fmt(ops).padStart(9)} ${unit}`);

// --- quantities ---------------------------------------------------------------------------------------
const quantities = ['128Mi', '1Gi', '1.5Gi', '500m', '2', '1024M', '2e3', '0.5', '100k', '16Ei', '250m', '4Ti'];
const SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Ei: 1024 ** 6,
};
function naive(s: string): number {
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(s);
  if (!m) throw new Error(s);
  return Number.parseFloat(m[1] as string) * (SUFFIX[m[2] as string] ?? 1);
}
let sink = 0n;
let fsink = 0;
let qi = 0;
const exact = opsPerSec(() => {
  sink += quantityValue(parseQuantity(quantities[qi++ % quantities.length] as string));
});
const inexact = opsPerSec(() => {
  fsink += naive(quantities[qi++ % quantities.length] as string);
});
console.log('quantities (mix of 12 notations)');
line('  parseQuantity + quantityValue (exact)', exact);
line('  parseFloat + suffix table (inexact baseline)', inexact);
console.log(`  ratio exact/inexact time: ${(inexact / exact).toFixed(2)}x`);

// --- validation ---------------------------------------------------------------------------------------
const vm = {
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachine',
  metadata: { name: 'web-1', namespace: 'prod', labels: { app: 'web', 'kubevirt.io/vm': 'web-1' } },
  spec: {
    runStrategy: 'Always',
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        domain: {
          cpu: { cores: 2, sockets: 1, threads: 1 },
          memory: { guest: '2Gi' },
          resources: { requests: { memory: '2Gi', cpu: '1' } },
          devices: {
            disks: [
              { name: 'root', disk: { bus: 'virtio' }, bootOrder: 1 },
              { name: 'data', disk: { bus: 'virtio' } },
              { name: 'cloudinit', disk: { bus: 'virtio' } },
            ],
            interfaces: [{ name: 'default', masquerade: {}, ports: [{ port: 80 }, { port: 443 }] }],
          },
          features: { chassisTypo: {} },
        },
        networks: [{ name: 'default', pod: {} }],
        nodeSelector: { 'kubernetes.io/arch': 'amd64' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'vms', effect: 'NoSchedule' }],
        volumes: [
          { name: 'root', containerDisk: { image: 'quay.io/containerdisks/fedora:40' } },
          { name: 'data', persistentVolumeClaim: { claimName: 'web-1-data' } },
          { name: 'cloudinit', cloudInitNoCloud: { userData: '#cloud-config\npackages: [nginx]\n' } },
        ],
      },
    },
  },
};
if (validateObject(vm).causes.length !== 0) throw new Error('bench VM must be valid');
let count = 0;
const validate = opsPerSec(() => {
  count += validateObject(vm).warnings.length;
});
const validateDefault = opsPerSec(() => {
  count += validateObject(defaultObject(vm)).warnings.length;
});
const copy = opsPerSec(() => {
  count += (JSON.parse(JSON.stringify(vm)) as { kind: string }).kind.length;
});
console.log('\nvalidation of a 3-disk VirtualMachine');
line('  validateObject', validate);
line('  defaultObject + validateObject', validateDefault);
line('  JSON deep copy (baseline)', copy);
console.log(
  `  ratio validate/copy time: ${(copy / validate).toFixed(2)}x, per object ${(1e6 / validate).toFixed(1)} µs`,
);

// --- manifests ----------------------------------------------------------------------------------------
const docs = Array.from({ length: 100 }, (_, i) => ({ ...vm, metadata: { ...vm.metadata, name: `web-${i}` } }));
const yamlText = toYaml(docs);
const jsonText = JSON.stringify(docs);
const mb = (s: string) => Buffer.byteLength(s) / 1e6;
const ours = opsPerSec(() => {
  count += parseManifests(yamlText).length;
});
const raw = opsPerSec(() => {
  count += parseAllDocuments(yamlText, { version: '1.1' }).length;
});
const rawJs = opsPerSec(() => {
  for (const d of parseAllDocuments(yamlText, { version: '1.1' })) count += d.toJS() ? 1 : 0;
});
const json = opsPerSec(() => {
  count += parseManifests(jsonText).length;
});
console.log(
  `\nmanifests: 100 VirtualMachines, YAML ${(mb(yamlText) * 1000).toFixed(0)} kB, JSON ${(mb(jsonText) * 1000).toFixed(0)} kB`,
);
line('  parseManifests(YAML)', ours * mb(yamlText), 'MB/s');
line('  yaml.parseAllDocuments + toJS (baseline)', rawJs * mb(yamlText), 'MB/s');
line('  yaml.parseAllDocuments only', raw * mb(yamlText), 'MB/s');
line('  parseManifests(JSON)', json * mb(jsonText), 'MB/s');
console.log(
  `  ratio ours/baseline time (YAML): ${(rawJs / ours).toFixed(2)}x; YAML/JSON time: ${(json / ours).toFixed(1)}x`,
);
console.log(`  documents/s (YAML): ${fmt(ours * 100)}`);
if (sink < 0n || fsink < 0 || count < 0) console.log('unreachable');
