import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DomainDefinition, DomainEvent } from '@virtkit/engine';
import type { ImageTranslationConfig } from '../src/images/translation.ts';
import { TEST_GUEST_IMAGE, testGuest, testGuestDomain, testGuestTranslations } from '../src/testing/index.ts';

export const LIBVIRT_SOCKET = '/var/run/libvirt/libvirt-sock';

/**
 * Suffix for node names, domain ids and uids: several test runs may share this machine's libvirtd at
 * once (engineers and CI), and must not adopt or collide with each other's domains.
 */
export const RUN = process.pid.toString(36);

/** Fails (never skips) with the way to fix it when there is no libvirtd to test against. */
export function requireLibvirt(socketPath = LIBVIRT_SOCKET): void {
  if (!existsSync(socketPath)) {
    throw new Error(
      `no libvirtd socket at ${socketPath}: these tests need a real libvirtd + QEMU. ` +
        'Run `sudo bash scripts/setup-libvirt.sh` (./dev test does it when root).',
    );
  }
}

/** A data dir QEMU (running as libvirt-qemu) can traverse. */
export async function tempDataDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join('/var/tmp', `virtkit-${prefix}-`));
  await chmod(dir, 0o755);
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export const GUEST_IMAGE = TEST_GUEST_IMAGE;

/** Translation that maps the test guest's "kernel boot container" to its cache directory. */
export async function guestTranslations(): Promise<ImageTranslationConfig[]> {
  return testGuestTranslations(await testGuest());
}

/** A VMI running the test guest with a cloud-init seed. */
export async function guestDefinition(
  name: string,
  uid: string,
  extra: { hostname?: string; memory?: string; userData?: string } = {},
): Promise<DomainDefinition> {
  return testGuestDomain(await testGuest(), { name, uid, namespace: 'vk-test', ...extra });
}

/** Records a driver's events and waits (bounded) for conditions on them. */
export class EventLog {
  readonly events: DomainEvent[] = [];
  push = (e: DomainEvent) => {
    this.events.push(e);
  };

  lifecycle(domain: string): string[] {
    return this.events
      .filter((e) => e.domain === domain && e.type === 'lifecycle')
      .map((e) => (e.type === 'lifecycle' ? `${e.event}/${e.detail}` : ''));
  }

  /** Non-console event kinds in order, for sequence checks. */
  sequence(domain: string): string[] {
    return this.events
      .filter((e) => e.domain === domain && e.type !== 'console')
      .map((e) =>
        e.type === 'lifecycle'
          ? `${e.event}/${e.detail}`
          : e.type === 'migration'
            ? `migration ${e.phase}`
            : e.type === 'image'
              ? `image ${e.phase}`
              : e.type,
      );
  }

  async waitFor(pred: (e: DomainEvent) => boolean, timeoutMs: number, what: string): Promise<DomainEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) {
        const seen = this.events
          .filter((e) => e.type !== 'console')
          .map((e) => JSON.stringify(e))
          .slice(-10);
        const lines = this.events.flatMap((e) => (e.type === 'console' ? [e.line] : [])).slice(-5);
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; last events: ${seen.join('\n')}\nconsole: ${lines.join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

export async function poll<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
