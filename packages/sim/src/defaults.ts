/**
 * Default timings of a simulated node, taken from measurements of the real libvirt agent's stack on
 * this project's machines (shared/notes/libvirt-on-these-machines.md, "the notes" below). Each number
 * says where it comes from; those marked ESTIMATE were not measured and are stated assumptions.
 * All durations are milliseconds of the injected clock, bandwidths bytes per second.
 */
import type { Dist } from './distributions.ts';

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
  // Notes: "The first connection ... ~8 s QEMU capability probe; later calls ~23 ms."
  rpc: { median: 23, p95: 30, min: 15, max: 60 },
  // ESTIMATE: one virsh call (~23 ms, notes) + qemu-img overlay create + genisoimage for the NoCloud seed.
  define: { median: 90, p95: 160, min: 50, max: 400 },
  // Notes: "`virsh start` returns in 0.4–0.6 s" (TCG).
  start: { min: 400, max: 600 },
  // Notes: start → ready line, uncompressed vmlinux with PVH entry 3.8 / 4.1 / 5.4 s (min/median/max, 5 runs).
  // p95 set so the log-normal's spread covers the measured max; clamped to the measured range widened by 10%.
  boot: { median: 4100, p95: 5200, min: 3400, max: 6000 },
  // Notes: "with busybox acpid handling the power button the guest powers off in 1.3–1.7 s".
  acpiShutdown: { min: 1300, max: 1700 },
  // Notes: "`virsh destroy` takes 1.4–1.6 s".
  destroy: { min: 1400, max: 1600 },
  // ESTIMATE: one virsh call (~23 ms, notes) + unlinking two files.
  undefine: { median: 30, p95: 45, min: 20, max: 100 },
  // ESTIMATE: registry manifest + token round trips for a containerDisk pull.
  imageFetchOverhead: { median: 300, p95: 800, min: 100, max: 3000 },
  // ESTIMATE: 50 MiB/s, a modest registry pull rate; not measured here (no registry reachable).
  imageBandwidth: 50 * 2 ** 20,
  // Derived: notes measure 256 MiB guest, ~85 MiB transferred, 1.9 / 2.0 / 2.3 s wall (cgroup fix). With the
  // stream at ~100 MiB/s (below) the transfer is ~0.85 s, leaving ~1.1 s of setup + finish. The split is assumed.
  migrationSetup: { median: 1050, p95: 1300, min: 850, max: 1800 },
  // ESTIMATE (fitted, see migrationSetup): loopback TCP stream limited by TCG QEMU.
  migrationBandwidth: 100 * 2 ** 20,
  // Notes: downtime 12–181 ms, median ~70 ms. The data part of a converged idle guest is ~1 ms, so this
  // fixed cost carries the measured spread.
  migrationSwitchover: { median: 70, p95: 165, min: 12, max: 400 },
  // QEMU's documented default downtime-limit (300 ms).
  maxDowntimeMs: 300,
  // Notes: 256 MiB guest, ~85 MiB transferred → ~0.33 of RAM is non-zero.
  touchedMemoryFraction: 85 / 256,
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
