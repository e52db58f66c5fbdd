import { describe, expect, it } from 'vitest';
import { READY_PREFIX } from '../src/index.ts';
import { rejection, run, summary, vmDef, world } from './helpers.ts';

const A = 'default_a';

async function collect(it: AsyncIterable<string>, into: string[]): Promise<void> {
  for await (const line of it) into.push(line);
}

describe('serial console', () => {
  it('echoes the instance-id and hostname from cloud-init and prints the real guest ready line', async () => {
    const w = world();
    const def = vmDef('a', { uid: 'f00d-1', userData: '#cloud-config\nhostname: web-1\n' });
    await run(w.clock, w.node.defineDomain(def));
    await run(w.clock, w.node.startDomain(A));
    await w.clock.advance(10_000);
    const lines = w.node.consoleBacklog(A);
    expect(lines).toContain('cloud-init: instance-id=f00d-1');
    expect(lines).toContain('cloud-init: hostname=web-1');
    expect(lines.at(-1)).toBe('virtkit-guest ready instance-id=f00d-1 hostname=web-1');
    expect(lines.some((l) => /^\[\s+\d+\.\d{6}\] Linux version/.test(l))).toBe(true);
  });

  it('without a NoCloud seed prints what the real guest does: no instance-id, the kernel default hostname', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    await run(w.clock, w.node.startDomain(A));
    await w.clock.advance(10_000);
    const lines = w.node.consoleBacklog(A);
    expect(lines).toContain('virtkit-guest: no cidata seed found');
    expect(lines.at(-1)).toBe('virtkit-guest ready instance-id=none hostname=(none)');
    expect(summary(w.events).at(-1)).toBe('n1 guest-ready console');
  });

  it('prints the power-button line before powering off on ACPI shutdown', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    await run(w.clock, w.node.startDomain(A));
    await w.clock.advance(10_000);
    await run(w.clock, w.node.shutdownDomain(A));
    await w.clock.advance(2_000);
    const lines = w.node.consoleBacklog(A);
    expect(lines.at(-2)).toBe('virtkit-guest: power button, powering off');
    expect(lines.at(-1)).toMatch(/reboot: Power down$/);
  });

  it('streams backlog then live lines, and ends when the domain stops', async () => {
    const w = world(1, { timing: { heartbeatMs: 1000 } });
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    await run(w.clock, w.node.startDomain(A));
    await w.clock.advance(2_000);
    const seen: string[] = [];
    const reading = collect(w.node.console(A), seen);
    await w.clock.advance(100);
    const backlogCount = seen.length;
    expect(seen[0]).toMatch(/^SeaBIOS/);
    await w.clock.advance(8_000);
    expect(seen.length).toBeGreaterThan(backlogCount);
    expect(seen.some((l) => l.startsWith(READY_PREFIX))).toBe(true);
    expect(seen.filter((l) => l.startsWith('virtkit-guest heartbeat')).length).toBeGreaterThanOrEqual(3);
    await run(w.clock, w.node.destroyDomain(A));
    await run(w.clock, reading);
    expect(seen).toEqual([...w.node.consoleBacklog(A)]);
  });

  it('emits console events in order, matching the backlog', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    await run(w.clock, w.node.startDomain(A));
    await w.clock.advance(10_000);
    const fromEvents = w.events.flatMap((e) => (e.type === 'console' ? [e.line] : []));
    expect(fromEvents).toEqual([...w.node.consoleBacklog(A)]);
  });

  it('a shut-off domain yields its last run and ends (with or without fromStart)', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    for (let i = 0; i < 2; i++) {
      await run(w.clock, w.node.startDomain(A));
      await w.clock.advance(10_000);
      await run(w.clock, w.node.destroyDomain(A));
    }
    const last: string[] = [];
    await run(w.clock, collect(w.node.console(A), last));
    const all: string[] = [];
    await run(w.clock, collect(w.node.console(A, { fromStart: true }), all));
    expect(all).toEqual(last);
    expect(last.filter((l) => l.startsWith('SeaBIOS'))).toHaveLength(1);
    expect(w.node.consoleBacklog(A).filter((l) => l.startsWith('SeaBIOS'))).toHaveLength(2);
  });

  it('stops when the signal aborts and rejects DomainNotFound for an unknown domain', async () => {
    const w = world(1, { timing: { heartbeatMs: 1000 } });
    await run(w.clock, w.node.defineDomain(vmDef('a')));
    await run(w.clock, w.node.startDomain(A));
    const ac = new AbortController();
    const seen: string[] = [];
    const reading = collect(w.node.console(A, { signal: ac.signal }), seen);
    await w.clock.advance(3_000);
    ac.abort();
    await run(w.clock, reading);
    const n = seen.length;
    await w.clock.advance(20_000);
    expect(seen.length).toBe(n);
    const e = await rejection(run(w.clock, collect(w.node.console('nope'), [])));
    expect(e.reason).toBe('DomainNotFound');
  });

  it('uses a custom readiness line when the definition sets one', async () => {
    const w = world();
    const def = vmDef('a');
    def.readinessLine = 'this line never appears';
    await run(w.clock, w.node.defineDomain(def));
    await run(w.clock, w.node.startDomain(A));
    await w.clock.advance(30_000);
    expect(summary(w.events)).not.toContain('n1 guest-ready console');
  });
});

describe('guest agent', () => {
  it('reports readiness via the agent when the VMI asks for guestAgentPing and the image runs an agent', async () => {
    const w = world();
    await run(
      w.clock,
      w.node.defineDomain(
        vmDef('a', { image: 'quay.io/containerdisks/fedora:40', agentReadiness: true, memory: '1Gi' }),
      ),
    );
    await run(w.clock, w.node.startDomain(A));
    expect((await rejection(run(w.clock, w.node.guestInfo(A)))).message).toContain('Guest agent is not responding');
    await w.clock.advance(200_000);
    expect(summary(w.events).at(-1)).toBe('n1 guest-ready agent');
    expect(await run(w.clock, w.node.guestInfo(A))).toMatchObject({ hostname: 'a', os: { id: 'fedora' } });
  });

  it('never reports agent readiness for a guest without an agent', async () => {
    const w = world();
    await run(w.clock, w.node.defineDomain(vmDef('a', { agentReadiness: true })));
    await run(w.clock, w.node.startDomain(A));
    await w.clock.advance(60_000);
    expect(summary(w.events).filter((s) => s.includes('guest-ready'))).toEqual([]);
  });
});
