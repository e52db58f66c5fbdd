import { spawn } from 'node:child_process';
import { access, constants, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, release } from 'node:os';
import { join } from 'node:path';
import { buildCpio } from '../guest/cpio.ts';

export interface KvmProbeResult {
  hypervisor: 'kvm' | 'qemu';
  /** Why the node emulates in software (absent when KVM works). */
  emulationReason?: string;
  /** How long the probe took; 0 when answered from the cache. */
  probeMs: number;
  cached: boolean;
}

export interface KvmProbeOptions {
  /** Linux kernel the probe boots (the kind of guest the node will run). */
  kernel: string;
  /** Statically linked busybox for the probe's one-line initramfs. */
  busybox?: string;
  /** Where the verdict is cached, keyed by host, host kernel and probe kernel. */
  cacheDir: string;
  /** Upper bound of the probe boot; a KVM that hangs is declared unusable after this. */
  timeoutMs?: number;
  qemu?: string;
  devKvm?: string;
  /** Accelerator to probe; `tcg` exists so the probe itself can be tested on hosts without working KVM. */
  accel?: 'kvm' | 'tcg';
}

const MARKER = 'virtkit-kvm-probe-ok';

/**
 * Decides whether /dev/kvm can really run a guest: opening it is not enough (on nested or paravirtual
 * hosts KVM_CREATE_VM works while the guest kernel hangs or dies with "KVM internal error"), so the probe
 * boots `kernel` under KVM with an initramfs that prints a marker and powers off. Bounded by `timeoutMs`,
 * cached per host + host kernel + probe kernel, and every failure is turned into a readable reason.
 */
export async function probeKvm(options: KvmProbeOptions): Promise<KvmProbeResult> {
  const devKvm = options.devKvm ?? '/dev/kvm';
  try {
    await access(devKvm, constants.R_OK | constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      hypervisor: 'qemu',
      emulationReason: code === 'ENOENT' ? `${devKvm} does not exist` : `${devKvm} is not accessible (${code})`,
      probeMs: 0,
      cached: false,
    };
  }
  const k = await stat(options.kernel);
  const key = [hostname(), release(), options.accel ?? 'kvm', options.kernel, k.size, Math.trunc(k.mtimeMs)].join('|');
  const cacheFile = join(options.cacheDir, 'kvm-probe.json');
  try {
    const cached = JSON.parse(await readFile(cacheFile, 'utf8')) as { key: string; result: KvmProbeResult };
    if (cached.key === key) return { ...cached.result, probeMs: 0, cached: true };
  } catch {}
  await mkdir(options.cacheDir, { recursive: true });
  const initrd = join(options.cacheDir, 'kvm-probe-initrd.cpio');
  await writeProbeInitrd(initrd, options.busybox ?? '/bin/busybox');
  const result = await bootUnderKvm(
    options.qemu ?? 'qemu-system-x86_64',
    options.accel ?? 'kvm',
    options.kernel,
    initrd,
    options.timeoutMs ?? 10_000,
  );
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ key, result }, null, 2)}\n`);
  await rename(tmp, cacheFile);
  return result;
}

async function writeProbeInitrd(path: string, busyboxPath: string): Promise<void> {
  const busybox = await readFile(busyboxPath);
  const init = `#!/bin/busybox sh\n/bin/busybox echo ${MARKER}\n/bin/busybox poweroff -f\n`;
  const cpio = buildCpio([
    { type: 'dir', path: 'bin' },
    { type: 'dir', path: 'dev' },
    { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { type: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
    { type: 'file', path: 'init', data: Buffer.from(init), mode: 0o755 },
  ]);
  const fh = await open(`${path}.tmp`, 'w', 0o644);
  await fh.writeFile(cpio);
  await fh.close();
  await rename(`${path}.tmp`, path);
}

function bootUnderKvm(
  qemu: string,
  accel: 'kvm' | 'tcg',
  kernel: string,
  initrd: string,
  timeoutMs: number,
): Promise<KvmProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    // The serial console goes to stdout; QEMU's own complaints go to stderr.
    const child = spawn(
      qemu,
      [
        '-machine',
        `pc,accel=${accel}`,
        '-m',
        '128',
        '-smp',
        '1',
        '-nodefaults',
        '-display',
        'none',
        '-no-reboot',
        '-kernel',
        kernel,
        '-initrd',
        initrd,
        '-append',
        'console=ttyS0 panic=-1 quiet',
        '-serial',
        'stdio',
        '-monitor',
        'none',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    let done = false;
    const finish = (ok: boolean, reason?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      const probeMs = Math.round(performance.now() - started);
      resolve(
        ok
          ? { hypervisor: 'kvm', probeMs, cached: false }
          : { hypervisor: 'qemu', emulationReason: reason ?? 'KVM probe failed', probeMs, cached: false },
      );
    };
    const timer = setTimeout(() => {
      const last = lastLine(err);
      const hint = last ? `: ${last}` : out.trim() ? '' : ' (no console output)';
      finish(false, `a probe guest did not boot under KVM within ${timeoutMs} ms${hint}`);
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('latin1');
      if (out.includes(MARKER)) finish(true);
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString('utf8');
      if (/KVM internal error|emulation failure/i.test(err))
        finish(false, `KVM cannot run the guest: ${lastLine(err)}`);
    });
    child.on('error', (e) => finish(false, `cannot run ${qemu}: ${e.message}`));
    child.on('exit', (code, signal) => {
      if (out.includes(MARKER)) finish(true);
      else
        finish(
          false,
          `probe QEMU under KVM exited (${code ?? signal}) before the guest booted: ${lastLine(err) || 'no message'}`,
        );
    });
  });
}

function lastLine(s: string): string {
  const lines = s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^qemu-system-x86_64: warning/.test(l));
  return (lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? '').slice(0, 300);
}

/** Removes a cached verdict (after a host change the operator wants re-probed). */
export async function forgetKvmProbe(cacheDir: string): Promise<void> {
  await rm(join(cacheDir, 'kvm-probe.json'), { force: true });
}
