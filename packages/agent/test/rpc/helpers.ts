// Shared by the RPC integration tests: reaching the real libvirtd, tiny domains, bounded polling.
import { existsSync } from 'node:fs';
import { type ConnectOptions, LibvirtClient } from '../../src/rpc/client.ts';
import { LibvirtError } from '../../src/rpc/errors.ts';

export const SYSTEM_SOCKET = '/var/run/libvirt/libvirt-sock';

const SETUP_HINT =
  'these tests need the real libvirtd + QEMU: run `./dev test` as root, which runs scripts/setup-libvirt.sh';

/** Fails (never skips) with a message saying how to get a daemon when there is none. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error(`not running as root; ${SETUP_HINT}`);
}

export async function connectSystem(options: ConnectOptions = {}): Promise<LibvirtClient> {
  requireRoot();
  if (!existsSync(SYSTEM_SOCKET)) throw new Error(`no libvirtd socket at ${SYSTEM_SOCKET}; ${SETUP_HINT}`);
  try {
    return await LibvirtClient.connect({ socketPath: SYSTEM_SOCKET, ...options });
  } catch (err) {
    throw new Error(`libvirtd at ${SYSTEM_SOCKET} does not answer (${String(err)}); ${SETUP_HINT}`, { cause: err });
  }
}

let counter = 0;
/** A domain name no other test (or engineer) uses: tests share the system daemon. */
export function uniqueName(tag: string): string {
  return `vk-rpc-${tag}-${process.pid}-${++counter}`;
}

const xmlEscape = (s: string) =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

/**
 * A disk-less TCG domain: boots into SeaBIOS and waits there. Enough for lifecycle, events and live
 * migration (QEMU still moves all of its memory), and it starts in ~0.4 s.
 */
export function tinyDomainXml(name: string, opts: { memoryMiB?: number; uuid?: string } = {}): string {
  return [
    "<domain type='qemu'>",
    `<name>${xmlEscape(name)}</name>`,
    opts.uuid ? `<uuid>${xmlEscape(opts.uuid)}</uuid>` : '',
    `<memory unit='MiB'>${opts.memoryMiB ?? 32}</memory>`,
    '<vcpu>1</vcpu>',
    "<os><type arch='x86_64' machine='pc'>hvm</type></os>",
    '<on_reboot>restart</on_reboot>',
    '<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>',
    '</domain>',
  ].join('');
}

/** Polls `probe` every 10 ms until it returns a value other than undefined/false; fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Removes a test domain whatever its state; a domain that is already gone is fine. */
export async function removeDomain(c: LibvirtClient, name: string): Promise<void> {
  const ignoreGone = (err: unknown) => {
    if (!(err instanceof LibvirtError) || (err.code !== 42 && err.code !== 55)) throw err;
  };
  try {
    const d = await c.lookupByName(name);
    await c.destroy(d).catch(ignoreGone);
    await c.undefine(d).catch(ignoreGone);
  } catch (err) {
    ignoreGone(err);
  }
}

/** Captures a promise's rejection (fails when it resolves). */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}
