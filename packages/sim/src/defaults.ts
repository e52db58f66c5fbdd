/**
 * Default timings of a simulated node. The agent's own steps come from `calibration.json`, measured on
 * this project's machines by `scripts/calibrate.ts` ("CALIBRATED" below: median and p95 of N runs, clamped
 * to the measured range widened by 10%; the file names the machine, versions, date and load). The rest
 * comes from shared/notes/libvirt-on-these-machines.md ("the notes") or is marked ESTIMATE: not measured,
 * a stated assumption. All durations are milliseconds of the injected clock, bandwidths bytes per second.
 */
import { CALIBRATION, calibratedDist } from './calibration.ts';
import type { Dist } from './distributions.ts';

const measured = CALIBRATION.figures;

export interface TimingProfile {
  /** A cheap agent call (get/list/info/ping, pause, resume). Notes: "later calls ~23 ms" (virsh round trip). */
  rpc: Dist;
  /** Preparing overlays and the cloud-init disk, then `virsh define`. */
  define: Dist;
  /** `virsh start` until the domain runs. */
  start: Dist;
  /** Start → guest-ready line, for images that do not set their own. */
  boot: Dist;
  /** ACPI power button → guest powered off (guests that honour ACPI). */
  acpiShutdown: Dist;
  /** `virsh destroy` until off. */
  destroy: Dist;
  /** `virsh undefine` plus removing the overlay and cloud-init ISO. */
  undefine: Dist;
  /** Per-image registry round trips before bytes flow. */
  imageFetchOverhead: Dist;
  /** Image download rate. */
  imageBandwidth: number;
  /** Migration: connect to the target, start the incoming QEMU, before the first page moves. */
  migrationSetup: Dist;
  /** Migration stream rate when the caller sets no cap. */
  migrationBandwidth: number;
  /** Fixed cost of the final switch-over (stop CPUs, device state, resume on target), added to downtime. */
  migrationSwitchover: Dist;
  /** QEMU's default `downtime-limit` when the caller passes no maxDowntimeMs. */
  maxDowntimeMs: number;
  /** Fraction of guest RAM that is not zero pages (QEMU skips zero pages in the first round). */
  touchedMemoryFraction: number;
  /** Guest page-dirtying rate for images that do not set their own. */
  dirtyRate: number;
  /** How long a caller waits before a call into a crashed or partitioned node fails (client timeout). */
  unreachableTimeoutMs: number;
  /** Agent process start until it serves calls (libvirtd already warm). */
  agentStart: Dist;
  /** Host reboot until the agent serves calls (OS boot, libvirtd start, QEMU capability probe). */
  nodeBoot: Dist;
  /** Interval of the guest's console heartbeat line once ready; 0 disables heartbeats. */
  heartbeatMs: number;
  /** Guest agent connecting after the guest is up (readiness via agent). */
  guestAgentConnect: Dist;
}

export const DEFAULT_TIMING: TimingProfile = {
  // CALIBRATED `rpc`: the agent's getDomain over its RPC client (~1 ms; the notes' ~23 ms is a virsh process).
  rpc: calibratedDist(measured.rpc),
  // CALIBRATED `define`: defineDomain (cloud-init ISO, domain XML, defineXML, Defined event).
  define: calibratedDist(measured.define),
  // CALIBRATED `start`: startDomain until the domain runs (TCG; the notes' bare `virsh start`: 0.4–0.6 s).
  start: calibratedDist(measured.start),
  // CALIBRATED `boot`: startDomain resolved → the test guest's ready line, TCG (notes: 3.8 / 4.1 / 5.4 s).
  boot: calibratedDist(measured.boot),
  // CALIBRATED `acpiShutdown`: shutdownDomain resolved → Stopped/Shutdown (notes: 1.3–1.7 s).
  acpiShutdown: calibratedDist(measured.acpiShutdown),
  // CALIBRATED `destroy`: destroyDomain of a running guest (notes: `virsh destroy` 1.4–1.6 s).
  destroy: calibratedDist(measured.destroy),
  // CALIBRATED `undefine`: undefineDomain (undefine + removing the domain's directory).
  undefine: calibratedDist(measured.undefine),
  // ESTIMATE: registry manifest + token round trips for a containerDisk pull.
  imageFetchOverhead: { median: 300, p95: 800, min: 100, max: 3000 },
  // ESTIMATE: 50 MiB/s, a modest registry pull rate; not measured here (no registry reachable).
  imageBandwidth: 50 * 2 ** 20,
  // CALIBRATED `migrationSetup`: a migrateDomain call's wall time minus the call cost, the transfer at the
  // measured stream rate and the downtime, per run (target checks, connection, incoming QEMU, clean-up).
  migrationSetup: calibratedDist(measured.migrationSetup),
  // CALIBRATED `migrationBandwidth`: median stream rate between job-statistics samples (loopback, TCG QEMU).
  migrationBandwidth: measured.migrationBandwidth.median,
  // CALIBRATED `migrationDowntime` (notes: 12–181 ms, median ~70 ms). The data part of a converged idle guest
  // is ~1 ms, so this fixed cost carries the measured spread.
  migrationSwitchover: calibratedDist(measured.migrationDowntime),
  // QEMU's documented default downtime-limit (300 ms).
  maxDowntimeMs: 300,
  // CALIBRATED `migrationBytes` over the migrated guest's memory (notes: 256 MiB guest, ~85 MiB moved).
  touchedMemoryFraction: measured.migrationBytes.median / Number(CALIBRATION.method.migrationMemoryBytes),
  // ESTIMATE: an idle busybox guest writing a console heartbeat dirties little; 1 MiB/s.
  dirtyRate: 2 ** 20,
  // ESTIMATE: assumed client-side call timeout of the engine's agent client.
  unreachableTimeoutMs: 3000,
  // ESTIMATE: a Node.js agent process starting and reconnecting to an already warm libvirtd.
  agentStart: { median: 600, p95: 900, min: 300, max: 2000 },
  // ESTIMATE 20 s host boot + notes' ~8 s QEMU capability probe on libvirtd's first connection.
  nodeBoot: { median: 28_000, p95: 35_000, min: 22_000, max: 60_000 },
  // The real test guest's /init prints `virtkit-guest heartbeat <n>` every second once ready
  // (packages/agent/src/guest/init-script.ts).
  heartbeatMs: 1000,
  // ESTIMATE: qemu-ga starts late in boot and connects over virtio-serial.
  guestAgentConnect: { median: 800, p95: 1500, min: 300, max: 4000 },
};

/** What the simulator knows about a containerDisk / kernel-boot image. */
export interface SimImage {
  sizeBytes: number;
  /** Start → guest-ready for this image (default: the profile's `boot`). */
  boot?: Dist;
  /** Guest ignores the ACPI power button and reboot (plain busybox init does, per the notes). */
  ignoresAcpi?: boolean;
  /** Guest runs qemu-guest-agent (readiness `via: 'agent'`, guest info). */
  guestAgent?: boolean;
  /** Guest page-dirtying rate, bytes/s (default: the profile's `dirtyRate`). */
  dirtyRate?: number;
  /** Never reaches ready (kernel stops after "Probing EDD", like the notes' compressed kernel under KVM). */
  bootHang?: boolean;
  /** Kernel release printed on the console. */
  kernel?: string;
  /** Operating system reported by the guest agent. */
  os?: { id: string; name: string; version: string };
}

/** The project's test guest (busybox initramfs + Debian 6.1 kernel). Sizes from the notes. */
export const TEST_GUEST_IMAGE: SimImage = {
  // Debian 6.1 vmlinux ~ 8 MiB (ESTIMATE) + 1.8 MB initramfs (notes).
  sizeBytes: 10 * 2 ** 20,
  kernel: '6.1.0-virtkit-amd64',
  os: { id: 'busybox', name: 'virtkit test guest', version: '1.36' },
};

/**
 * Images a SimNode knows by default. Sizes of the public demo images are ESTIMATES (compressed layer
 * sizes, order of magnitude); boot times for the non-test images are ESTIMATES scaled from the
 * notes' TCG figures (compressed kernels 6.4 / 6.6 / 7.5 s; a full distribution boots slower).
 */
export const DEFAULT_IMAGES: Readonly<Record<string, SimImage>> = {
  'virtkit/test-guest': TEST_GUEST_IMAGE,
  'virtkit/test-guest-compressed': {
    ...TEST_GUEST_IMAGE,
    // Notes: compressed vmlinuz 6.4 / 6.6 / 7.5 s.
    boot: { median: 6600, p95: 7400, min: 5800, max: 8300 },
  },
  'virtkit/test-guest-noacpi': { ...TEST_GUEST_IMAGE, ignoresAcpi: true },
  'quay.io/kubevirt/cirros-container-disk-demo': {
    sizeBytes: 22 * 2 ** 20,
    boot: { median: 9000, p95: 14_000, min: 6000, max: 30_000 },
    kernel: '5.15.0-71-generic',
    os: { id: 'cirros', name: 'CirrOS', version: '0.6.2' },
  },
  'quay.io/containerdisks/fedora': {
    sizeBytes: 500 * 2 ** 20,
    boot: { median: 45_000, p95: 70_000, min: 30_000, max: 120_000 },
    guestAgent: true,
    dirtyRate: 8 * 2 ** 20,
    kernel: '6.8.5-301.fc40.x86_64',
    os: { id: 'fedora', name: 'Fedora Linux', version: '40' },
  },
};

/** Used for images not in the catalogue when the node accepts unknown images. */
export const DEFAULT_UNKNOWN_IMAGE: SimImage = { ...TEST_GUEST_IMAGE, sizeBytes: 64 * 2 ** 20 };

/** Guest used for a domain with no image at all (e.g. only an emptyDisk): boots like the test guest. */
export const NO_IMAGE_GUEST: SimImage = { ...TEST_GUEST_IMAGE, sizeBytes: 0 };

/** Node defaults: a small host. `vms` follows the kubelet's default maxPods (110). */
export const DEFAULT_CAPACITY = { cpu: 4, memory: 8 * 2 ** 30, vms: 110 } as const;
/** ESTIMATE: disk space for the image cache and overlays. */
export const DEFAULT_DISK_BYTES = 100 * 2 ** 30;
/** Lines a console keeps (virtlogd rotates by size; here by line count). */
export const CONSOLE_BACKLOG_LINES = 1000;
