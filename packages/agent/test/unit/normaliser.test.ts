import { describe, expect, it } from 'vitest';
import { initialState, type NormaliserState, normalise } from '../../src/index.ts';

/** Feeds raw `Event/Detail` strings through the normaliser and returns what it emits. */
function run(raw: string[], state: NormaliserState = initialState()): { out: string[]; state: NormaliserState } {
  const out: string[] = [];
  let s = state;
  for (const r of raw) {
    const [event = '', detail = ''] = r.split('/');
    const { emit, next } = normalise(s, { event, detail });
    if (emit) out.push(`${emit.event}/${emit.detail}`);
    s = next;
  }
  return { out, state: s };
}

describe('libvirt event normalisation', () => {
  it('start: drops the Resumed/Unpaused libvirt emits before Started/Booted', () => {
    expect(run(['Defined/Added', 'Resumed/Unpaused', 'Started/Booted']).out).toEqual([
      'Defined/Added',
      'Started/Booted',
    ]);
  });

  it('pause and resume pass through', () => {
    const { out } = run(['Suspended/Paused', 'Resumed/Unpaused'], initialState('running'));
    expect(out).toEqual(['Suspended/Paused', 'Resumed/Unpaused']);
  });

  it('guest shutdown: Shutdown/Guest becomes Shutdown/Finished, then Stopped/Shutdown', () => {
    expect(run(['Shutdown/Guest', 'Stopped/Shutdown'], initialState('running')).out).toEqual([
      'Shutdown/Finished',
      'Stopped/Shutdown',
    ]);
  });

  it('destroy: only Stopped/Destroyed, with or without the destroy flag', () => {
    expect(run(['Shutdown/Host', 'Stopped/Destroyed'], initialState('running')).out).toEqual(['Stopped/Destroyed']);
    const destroying = { ...initialState('running'), destroying: true };
    const r = run(['Shutdown/Finished', 'Stopped/Destroyed'], destroying);
    expect(r.out).toEqual(['Stopped/Destroyed']);
    expect(r.state.destroying).toBe(false);
  });

  it('crash: Crashed/Panicked then Stopped/Crashed', () => {
    expect(run(['Crashed/Panicked', 'Stopped/Crashed'], initialState('running')).out).toEqual([
      'Crashed/Panicked',
      'Stopped/Crashed',
    ]);
  });

  it('reboot: the fake-reboot noise is dropped', () => {
    const rebooting = { ...initialState('running'), rebooting: true };
    expect(run(['Shutdown/Guest', 'Suspended/Paused', 'Resumed/Unpaused'], rebooting).out).toEqual([]);
  });

  it('migration source: Suspended/Migrated hidden, Stopped/Migrated kept, later Undefined hidden', () => {
    const r = run(['Suspended/Migrated', 'Stopped/Migrated', 'Undefined/Removed'], initialState('running'));
    expect(r.out).toEqual(['Stopped/Migrated']);
    expect(r.state.migratedAway).toBe(true);
  });

  it('failed migration: the source resuming is not an event', () => {
    expect(run(['Suspended/Migrated', 'Resumed/Migrated'], initialState('running')).out).toEqual([]);
  });

  it('target after arrival: Resumed/Migrated and a persisting Defined are hidden', () => {
    expect(run(['Started/Migrated', 'Defined/Added', 'Resumed/Migrated'], initialState('off')).out).toEqual([
      'Started/Migrated',
    ]);
  });

  it('undefine passes through; a stop of a domain already off is not repeated', () => {
    expect(run(['Undefined/Removed']).out).toEqual(['Undefined/Removed']);
    expect(run(['Stopped/Destroyed']).out).toEqual([]);
  });
});
