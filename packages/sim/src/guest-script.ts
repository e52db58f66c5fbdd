/**
 * What the simulated guest prints on its serial console. The shape follows the project's test guest
 * (SeaBIOS, a Linux kernel with direct kernel boot, a busybox init that runs a NoCloud step) and ends
 * with the exact ready line the real test guest prints, which the agent also matches:
 * `virtkit-guest ready instance-id=<id> hostname=<h>`.
 */
import type { GuestIdentity } from './cloud-init.ts';

export const READY_PREFIX = 'virtkit-guest ready';

/**
 * The ready line. Without a NoCloud seed the real guest has no instance-id (`none`) and keeps the
 * kernel's default hostname `(none)`.
 */
export function readyLine(id: GuestIdentity): string {
  return id.cloudInit
    ? `${READY_PREFIX} instance-id=${id.instanceId} hostname=${id.hostname}`
    : `${READY_PREFIX} instance-id=none hostname=(none)`;
}

/** The real test guest's heartbeat: `virtkit-guest heartbeat <n>`. */
export function heartbeatLine(seq: number): string {
  return `virtkit-guest heartbeat ${seq}`;
}

/** What the real test guest's acpid handler prints before powering off. */
export const POWER_BUTTON_LINE = 'virtkit-guest: power button, powering off';

/** `[   12.345678]`: the kernel's printk timestamp for a guest uptime. */
export function kernelStamp(uptimeMs: number): string {
  const s = (uptimeMs / 1000).toFixed(6);
  return `[${s.padStart(12, ' ')}]`;
}

export interface ScriptLine {
  /** Offset from the start of the boot, guest time (ms). */
  at: number;
  line: string;
}

export interface BootContext {
  identity: GuestIdentity;
  kernel: string;
  vcpus: number;
  memoryBytes: number;
  /** Total boot time to the ready line. */
  bootMs: number;
  /** Stop after "Probing EDD" and never get further (the notes' hang under KVM). */
  hang: boolean;
  /** Print only the ready line (large simulations). */
  minimal: boolean;
}

/** Boot lines with their offsets; the last one is the ready line unless the boot hangs. */
export function bootScript(c: BootContext): ScriptLine[] {
  const B = c.bootMs;
  if (c.minimal && !c.hang) return [{ at: B, line: readyLine(c.identity) }];
  const lines: ScriptLine[] = [
    { at: 0, line: 'SeaBIOS (version 1.16.2-debian-1.16.2-1)' },
    { at: Math.round(B * 0.03), line: 'Booting from ROM...' },
  ];
  if (c.hang) {
    lines.push({ at: Math.round(B * 0.04), line: 'Probing EDD (edd=off to disable)... ok' });
    return lines;
  }
  // The kernel's clock starts once the decompressed kernel runs (~5% into the boot).
  const k0 = Math.round(B * 0.05);
  const k = (f: number, text: string) => {
    const at = Math.round(B * f);
    lines.push({ at, line: `${kernelStamp(Math.max(0, at - k0))} ${text}` });
  };
  const kib = Math.floor(c.memoryBytes / 1024);
  k(0.05, `Linux version ${c.kernel} (virtkit-sim) #1 SMP PREEMPT_DYNAMIC`);
  k(0.05, 'Command line: console=ttyS0 panic=-1');
  k(0.08, `Memory: ${Math.floor(kib * 0.93)}K/${kib}K available`);
  k(0.12, `smpboot: Allowing ${c.vcpus} CPUs, 0 hotplug CPUs`);
  k(0.3, 'virtio_blk virtio1: [vda] disk attached');
  k(0.45, 'Freeing unused kernel image (initmem) memory');
  k(0.5, 'Run /init as init process');
  lines.push({ at: Math.round(B * 0.6), line: 'virtkit-guest: init started' });
  if (!c.identity.cloudInit) {
    lines.push({ at: Math.round(B * 0.9), line: 'virtkit-guest: no cidata seed found' });
  } else {
    lines.push({ at: Math.round(B * 0.7), line: 'cloud-init: NoCloud seed found on LABEL=cidata' });
    lines.push({ at: Math.round(B * 0.8), line: `cloud-init: instance-id=${c.identity.instanceId}` });
    lines.push({ at: Math.round(B * 0.8), line: `cloud-init: hostname=${c.identity.hostname}` });
    lines.push({ at: Math.round(B * 0.95), line: `cloud-init: user-data applied (${c.identity.userDataBytes} bytes)` });
  }
  lines.push({ at: B, line: readyLine(c.identity) });
  return lines;
}

export function panicLines(uptimeMs: number): string[] {
  const t = kernelStamp(uptimeMs);
  return [
    `${t} Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b`,
    `${t} CPU: 0 PID: 1 Comm: init Not tainted`,
    `${t} ---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b ]---`,
  ];
}

export function powerDownLine(uptimeMs: number): string {
  return `${kernelStamp(uptimeMs)} reboot: Power down`;
}

export function restartLine(uptimeMs: number): string {
  return `${kernelStamp(uptimeMs)} reboot: Restarting system`;
}
