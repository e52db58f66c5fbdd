/**
 * The contract scenarios, as data. Each one is small enough to run on a real TCG node in seconds, and is
 * written so that every asynchronous event is awaited by a `wait` step before the next call: what a
 * snapshot after a step shows then depends only on the driver's behaviour, never on timing.
 */
import type { ContractScenario } from './types.ts';

/** VM slots of each contract node (the "full node" scenarios fill one). */
export const CONTRACT_MAX_VMS = 3;

/** A small raw disk the nodes have to fetch (a real run serves it as a `file://` translation). */
export const CONTRACT_DATA_DISK_IMAGE = 'virtkit/contract-data-disk';
export const CONTRACT_DATA_DISK_BYTES = 1024 * 1024;

/** Where the simulator's contract nodes allow hostDisk paths (a real run uses a directory of its own). */
export const CONTRACT_HOST_DISK_ROOT = '/var/lib/virtkit-contract/host-disks';

/**
 * Symlinks a target's hostDisk root holds when a run starts (name in the root → target): one pointing
 * out of the root, which a node must refuse to follow.
 */
export const CONTRACT_HOST_DISK_LINKS: Readonly<Record<string, string>> = { 'escape-link.img': '/etc/hostname' };

/** Migration bandwidth cap that keeps a migration running long enough to be cancelled (1 MiB/s). */
const SLOW = 1024 * 1024;

export const CONTRACT_SCENARIOS: readonly ContractScenario[] = [
  {
    name: 'lifecycle',
    about:
      'define, boot to ready, pause, resume, ACPI shutdown, boot again, destroy, undefine; repeated stop/undefine are no-ops',
    vms: { a: {} },
    steps: [
      { do: 'define', node: 'A', vm: 'a' },
      { do: 'start', node: 'A', vm: 'a' },
      { do: 'wait', node: 'A', vm: 'a', for: 'guest-ready' },
      { do: 'pause', node: 'A', vm: 'a' },
      { do: 'resume', node: 'A', vm: 'a' },
      { do: 'shutdown', node: 'A', vm: 'a', snapshot: false },
      { do: 'wait', node: 'A', vm: 'a', for: 'Stopped/Shutdown' },
      { do: 'start', node: 'A', vm: 'a' },
      { do: 'destroy', node: 'A', vm: 'a' },
      { do: 'destroy', node: 'A', vm: 'a' },
      { do: 'undefine', node: 'A', vm: 'a' },
      { do: 'undefine', node: 'A', vm: 'a' },
      { do: 'get', node: 'A', vm: 'a' },
    ],
  },
  {
    name: 'misuse',
    about: 'calls in the wrong state, on unknown domains, duplicates and idempotent retries',
    vms: { a: {} },
    steps: [
      { do: 'start', node: 'A', vm: 'a' },
      { do: 'pause', node: 'A', vm: 'a' },
      { do: 'destroy', node: 'A', vm: 'a' },
      { do: 'undefine', node: 'A', vm: 'a' },
      { do: 'define', node: 'A', vm: 'a' },
      { do: 'define', node: 'A', vm: 'a' },
      { do: 'define', node: 'A', vm: 'a', variant: 'other-uid' },
      { do: 'pause', node: 'A', vm: 'a' },
      { do: 'resume', node: 'A', vm: 'a' },
      { do: 'shutdown', node: 'A', vm: 'a' },
      { do: 'reboot', node: 'A', vm: 'a' },
      { do: 'migrate', node: 'A', vm: 'a', to: 'B' },
      { do: 'abort-migration', node: 'A', vm: 'a' },
      { do: 'start', node: 'A', vm: 'a' },
      { do: 'start', node: 'A', vm: 'a' },
      { do: 'resume', node: 'A', vm: 'a' },
      { do: 'undefine', node: 'A', vm: 'a' },
      { do: 'define', node: 'A', vm: 'a', variant: 'other-uid' },
      { do: 'migrate', node: 'A', vm: 'a', to: 'A' },
      { do: 'migrate', node: 'A', vm: 'a', to: 'unknown' },
      { do: 'pause', node: 'A', vm: 'a' },
      { do: 'pause', node: 'A', vm: 'a' },
      { do: 'undefine', node: 'A', vm: 'a' },
      { do: 'destroy', node: 'A', vm: 'a' },
      { do: 'resume', node: 'A', vm: 'a' },
      { do: 'undefine', node: 'A', vm: 'a' },
    ],
  },
  {
    name: 'invalid-spec',
    about: 'definitions a node must refuse before anything is created',
    vms: { a: {}, b: {}, c: {}, d: {} },
    steps: [
      { do: 'define', node: 'A', vm: 'a', variant: 'no-memory' },
      { do: 'define', node: 'A', vm: 'b', variant: 'disk-without-volume' },
      { do: 'define', node: 'A', vm: 'c', variant: 'bad-name' },
      { do: 'define', node: 'A', vm: 'd', variant: 'bad-uid' },
    ],
  },
  {
    name: 'host-disk',
    about:
      'hostDisk paths only under the allowed root: outside it, escaping by .. or by a symlink, a missing Disk and a DiskOrCreate without capacity are refused; a DiskOrCreate creates its file, which a Disk then uses, and boots',
    vms: {
      outside: { hostDisk: { path: '/etc/hostname', type: 'Disk' } },
      dotdot: { hostDisk: { path: '../escape.img', type: 'DiskOrCreate', capacity: '1Mi' } },
      link: { hostDisk: { path: 'escape-link.img', type: 'Disk' } },
      missing: { hostDisk: { path: 'missing.img', type: 'Disk' } },
      nocap: { hostDisk: { path: 'nocap.img', type: 'DiskOrCreate' } },
      create: { hostDisk: { path: 'created.img', type: 'DiskOrCreate', capacity: '1Mi' } },
      reuse: { hostDisk: { path: 'created.img', type: 'Disk' } },
    },
    steps: [
      { do: 'define', node: 'A', vm: 'outside' },
      { do: 'define', node: 'A', vm: 'dotdot' },
      { do: 'define', node: 'A', vm: 'link' },
      { do: 'define', node: 'A', vm: 'missing' },
      { do: 'define', node: 'A', vm: 'nocap' },
      { do: 'define', node: 'A', vm: 'create' },
      { do: 'define', node: 'A', vm: 'reuse' },
      { do: 'start', node: 'A', vm: 'create' },
      { do: 'wait', node: 'A', vm: 'create', for: 'guest-ready' },
      { do: 'destroy', node: 'A', vm: 'create' },
      { do: 'undefine', node: 'A', vm: 'create' },
      { do: 'undefine', node: 'A', vm: 'reuse' },
      { do: 'define', node: 'A', vm: 'create' },
      { do: 'undefine', node: 'A', vm: 'create' },
    ],
  },
  {
    name: 'reboot',
    about: 'an ACPI reboot of a ready guest boots it again to a second ready line, with no lifecycle events',
    vms: { a: { hostname: 'contract-reboot' } },
    steps: [
      { do: 'define', node: 'A', vm: 'a' },
      { do: 'start', node: 'A', vm: 'a' },
      { do: 'wait', node: 'A', vm: 'a', for: 'guest-ready' },
      { do: 'reboot', node: 'A', vm: 'a' },
      { do: 'wait', node: 'A', vm: 'a', for: 'guest-ready' },
      { do: 'destroy', node: 'A', vm: 'a' },
      { do: 'undefine', node: 'A', vm: 'a' },
    ],
  },
  {
    name: 'paused',
    about:
      'a paused guest refuses the power button and reboot and cannot be undefined; once resumed it shuts down; destroy stops a paused one',
    vms: { a: {} },
    steps: [
      { do: 'define', node: 'A', vm: 'a' },
      { do: 'start', node: 'A', vm: 'a' },
      { do: 'wait', node: 'A', vm: 'a', for: 'guest-ready' },
      { do: 'pause', node: 'A', vm: 'a' },
      { do: 'shutdown', node: 'A', vm: 'a' },
      { do: 'reboot', node: 'A', vm: 'a' },
      { do: 'undefine', node: 'A', vm: 'a' },
      { do: 'resume', node: 'A', vm: 'a' },
      { do: 'shutdown', node: 'A', vm: 'a', snapshot: false },
      { do: 'wait', node: 'A', vm: 'a', for: 'Stopped/Shutdown' },
      { do: 'start', node: 'A', vm: 'a' },
      { do: 'pause', node: 'A', vm: 'a' },
      { do: 'destroy', node: 'A', vm: 'a' },
      { do: 'undefine', node: 'A', vm: 'a' },
    ],
  },
  {
    name: 'migrate',
    about: 'live migration of a ready guest to the second node, which then owns it',
    vms: { a: {} },
    steps: [
      { do: 'define', node: 'A', vm: 'a' },
      { do: 'start', node: 'A', vm: 'a' },
      { do: 'wait', node: 'A', vm: 'a', for: 'guest-ready' },
      { do: 'migrate', node: 'A', vm: 'a', to: 'B' },
      { do: 'wait', node: 'B', vm: 'a', for: 'Started/Migrated' },
      { do: 'get', node: 'B', vm: 'a' },
      { do: 'undefine', node: 'A', vm: 'a' },
      { do: 'pause', node: 'B', vm: 'a' },
      { do: 'resume', node: 'B', vm: 'a' },
      { do: 'destroy', node: 'B', vm: 'a' },
      { do: 'undefine', node: 'B', vm: 'a' },
    ],
  },
  {
    name: 'migrate-full',
    about: 'a node whose VM slots are taken refuses definitions and incoming migrations',
    vms: { a: {}, f1: {}, f2: {}, f3: {}, f4: {} },
    steps: [
      { do: 'define', node: 'B', vm: 'f1' },
      { do: 'define', node: 'B', vm: 'f2' },
      { do: 'define', node: 'B', vm: 'f3' },
      { do: 'define', node: 'B', vm: 'f4' },
      { do: 'define', node: 'A', vm: 'a' },
      { do: 'start', node: 'A', vm: 'a' },
      { do: 'migrate', node: 'A', vm: 'a', to: 'B' },
      { do: 'destroy', node: 'A', vm: 'a' },
      { do: 'undefine', node: 'A', vm: 'a' },
      { do: 'undefine', node: 'B', vm: 'f1' },
      { do: 'undefine', node: 'B', vm: 'f2' },
      { do: 'undefine', node: 'B', vm: 'f3' },
    ],
  },
  {
    name: 'migrate-cancel',
    about: 'a slow migration cancelled mid-way: the guest keeps running on the source, nothing on the target',
    vms: { a: {} },
    steps: [
      { do: 'define', node: 'A', vm: 'a' },
      { do: 'start', node: 'A', vm: 'a' },
      { do: 'wait', node: 'A', vm: 'a', for: 'guest-ready' },
      { do: 'migrate', node: 'A', vm: 'a', to: 'B', bandwidthBytesPerSec: SLOW, background: true },
      { do: 'wait', node: 'A', vm: 'a', for: 'migration progress' },
      { do: 'abort-migration', node: 'A', vm: 'a' },
      { do: 'await-migration', vm: 'a' },
      { do: 'abort-migration', node: 'A', vm: 'a' },
      { do: 'get', node: 'B', vm: 'a' },
      { do: 'destroy', node: 'A', vm: 'a' },
      { do: 'undefine', node: 'A', vm: 'a' },
    ],
  },
  {
    name: 'images',
    about: 'a containerDisk is fetched once per node: the second domain using it defines without image events',
    vms: { a: { dataDisk: true }, b: { dataDisk: true } },
    steps: [
      { do: 'define', node: 'A', vm: 'a' },
      { do: 'define', node: 'A', vm: 'b' },
      { do: 'undefine', node: 'A', vm: 'a' },
      { do: 'undefine', node: 'A', vm: 'b' },
    ],
  },
];
