/**
 * Turns port events and results into short text that holds only what both drivers must agree on: the
 * kind, phase and lifecycle detail of events, the ready line, error reasons, domain states. Timings,
 * byte counts, progress figures, messages, ids and uids are left out or replaced by the scenario's VM keys.
 */
import type { DomainEvent, DomainInfo } from '@virtkit/engine';
import type { ContractNode, EventRecord } from './types.ts';

/** Marks the test guest's ready line; every other console line is left out of traces. */
const READY_LINE = 'virtkit-guest ready';

export class Naming {
  readonly #ids = new Map<string, string>();
  readonly #uids = new Map<string, string>();
  readonly #nodes = new Map<string, string>();

  addDomain(id: string, uid: string, vm: string, uidToken: string): void {
    this.#ids.set(id, vm);
    this.#uids.set(uid, uidToken);
  }

  addNode(name: string, as: string): void {
    this.#nodes.set(name, as);
  }

  vmOf(id: string): string | undefined {
    return this.#ids.get(id);
  }

  node(name: string): string {
    return this.#nodes.get(name) ?? '<other node>';
  }

  uid(uid: string): string {
    return this.#uids.get(uid) ?? '<unknown uid>';
  }

  /** Replaces every known uid in a text. */
  text(s: string): string {
    let out = s;
    for (const [uid, token] of this.#uids) out = out.replaceAll(uid, token);
    return out;
  }
}

/** One event as trace text, or undefined when the contract leaves it out. */
export function eventText(e: DomainEvent, driverNode: string, naming: Naming): string | undefined {
  const vm = naming.vmOf(e.domain);
  if (vm === undefined) return undefined;
  let text: string;
  switch (e.type) {
    case 'lifecycle':
      text = `${vm} lifecycle ${e.event}/${e.detail}`;
      break;
    case 'guest-ready':
      text = `${vm} guest-ready via=${e.via}`;
      break;
    case 'console':
      if (!e.line.includes(READY_LINE)) return undefined;
      text = `${vm} console ${naming.text(e.line.trim())}`;
      break;
    case 'image':
      text = `${vm} image ${e.phase}${e.error ? ` reason=${e.error.reason}` : ''}`;
      break;
    case 'migration':
      text = `${vm} migration ${e.phase} target=${naming.node(e.targetNode)}`;
      if (e.phase === 'completed') text += e.downtimeMs === undefined ? ' no-downtime' : ' downtime';
      if (e.error) text += ` reason=${e.error.reason}`;
      break;
  }
  if (e.uid !== undefined && naming.uid(e.uid) !== `uid(${vm})`) text += ` uid=${naming.uid(e.uid)}`;
  if (e.node !== driverNode) text += ` node=${naming.node(e.node)}`;
  return text;
}

/**
 * Repeated `migration progress` and `image fetching` events are samples whose number depends on timing
 * (the port writes them as `progress*`): a run of them counts as one.
 */
export function collapseSamples(events: EventRecord[]): EventRecord[] {
  const out: EventRecord[] = [];
  for (const e of events) {
    const prev = out.at(-1);
    if (prev && prev.text === e.text && /\b(migration progress|image fetching)\b/.test(e.text)) continue;
    out.push(e);
  }
  return out;
}

/** A domain as the snapshot shows it: `a uid(a) running/booted ready=true vcpus=1 mem=128Mi`. */
export function infoText(info: DomainInfo, naming: Naming): string {
  const vm = naming.vmOf(info.id) ?? '<unknown id>';
  const mem = info.memoryBytes % 2 ** 20 === 0 ? `${info.memoryBytes / 2 ** 20}Mi` : `${info.memoryBytes}B`;
  return (
    `${vm} ${naming.uid(info.uid)} ${info.state}/${info.reason} ready=${info.guestReady} ` +
    `vcpus=${info.vcpus} mem=${mem}${info.migration ? ' migrating' : ''}`
  );
}

export const NODES: readonly ContractNode[] = ['A', 'B'];
