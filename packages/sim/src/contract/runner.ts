/**
 * Runs contract scenarios against a pair of NodeDrivers and records a `ContractTrace`: per step the call's
 * outcome and both nodes' domain lists afterwards, per node the ordered, normalised port events.
 */
import { type DomainDefinition, type DomainInfo, DriverError, type NodeDriver } from '@virtkit/engine';
import { CONTRACT_GUEST, contractDefinition, contractDomainId, contractUid } from './definitions.ts';
import { collapseSamples, eventText, infoText, Naming, NODES } from './normalise.ts';
import { CONTRACT_HOST_DISK_ROOT, CONTRACT_SCENARIOS } from './scenarios.ts';
import {
  CONTRACT_TIMEOUT,
  type ContractNode,
  type ContractPair,
  type ContractScenario,
  type ContractStep,
  type ContractTarget,
  type ContractTrace,
  type EventRecord,
  type ScenarioTrace,
  type StepOutcome,
  type StepRecord,
} from './types.ts';

/** Name given to the migration target nobody knows. */
export const UNKNOWN_NODE = 'contract-no-such-node';

export interface RunContractOptions {
  scenarios?: readonly ContractScenario[];
  /** Upper bound of one call (a real migration of a small guest takes seconds). Default 60 s. */
  callTimeoutMs?: number;
  /** Default bound of a `wait` step (a TCG boot takes ~5 s, more on a loaded machine). Default 120 s. */
  waitTimeoutMs?: number;
  /** Progress report, e.g. for a long real run. */
  onStep?: (scenario: ContractScenario, record: StepRecord) => void;
}

/** A one-line description of a step, as reports show it. */
export function stepLabel(step: ContractStep): string {
  switch (step.do) {
    case 'define':
      return `${step.node} define ${step.vm}${step.variant ? ` (${step.variant})` : ''}`;
    case 'migrate':
      return (
        `${step.node} migrate ${step.vm} to ${step.to}` +
        `${step.bandwidthBytesPerSec !== undefined ? ` at ${step.bandwidthBytesPerSec} B/s` : ''}` +
        `${step.background ? ' (background)' : ''}`
      );
    case 'await-migration':
      return `await migration of ${step.vm}`;
    case 'wait':
      return `${step.node} wait ${step.vm} ${step.for}`;
    default:
      return `${step.node} ${step.do} ${step.vm}`;
  }
}

export async function runContract(target: ContractTarget, options: RunContractOptions = {}): Promise<ContractTrace> {
  const scenarios = options.scenarios ?? CONTRACT_SCENARIOS;
  const names = new Set<string>();
  for (const s of scenarios) {
    if (!/^[a-z0-9-]+$/.test(s.name) || names.has(s.name))
      throw new TypeError(`bad or duplicate scenario name ${s.name}`);
    names.add(s.name);
  }
  const meta: Record<string, string> = { driver: target.name };
  const out: ScenarioTrace[] = [];
  for (const scenario of scenarios) {
    const pair = await target.pair(scenario);
    try {
      if (out.length === 0 && target.describe) Object.assign(meta, await target.describe(pair));
      out.push(await runScenario(target, pair, scenario, options));
    } finally {
      await pair.dispose?.();
    }
  }
  return { meta, scenarios: out };
}

interface RawEvent {
  vm: string;
  what: string;
}

async function runScenario(
  target: ContractTarget,
  pair: ContractPair,
  scenario: ContractScenario,
  options: RunContractOptions,
): Promise<ScenarioTrace> {
  const callLimit = options.callTimeoutMs ?? 60_000;
  const guest = target.guest ?? CONTRACT_GUEST;
  const hostDiskRoot = target.hostDiskRoot ?? CONTRACT_HOST_DISK_ROOT;
  const { time } = pair;
  const nodes: Record<ContractNode, NodeDriver> = { A: pair.a, B: pair.b };
  const naming = new Naming();
  naming.addNode(pair.a.nodeName, 'A');
  naming.addNode(pair.b.nodeName, 'B');
  const ids = new Set<string>();
  for (const vm of Object.keys(scenario.vms)) {
    naming.addDomain(contractDomainId(scenario.name, vm), contractUid(scenario.name, vm), vm, `uid(${vm})`);
    ids.add(contractDomainId(scenario.name, vm));
  }

  let current = -1;
  let recording = true;
  const events: Record<ContractNode, EventRecord[]> = { A: [], B: [] };
  const raw: Record<ContractNode, RawEvent[]> = { A: [], B: [] };
  const unsubscribe = NODES.map((n) =>
    nodes[n].onEvent((e) => {
      if (!recording) return;
      const text = eventText(e, nodes[n].nodeName, naming);
      if (text !== undefined) events[n].push({ step: current, text });
      const vm = naming.vmOf(e.domain);
      if (vm === undefined) return;
      const what =
        e.type === 'lifecycle'
          ? `${e.event}/${e.detail}`
          : e.type === 'migration'
            ? `migration ${e.phase}`
            : e.type === 'guest-ready'
              ? 'guest-ready'
              : undefined;
      if (what) raw[n].push({ vm, what });
    }),
  );

  /** Runs a call, bounded; a DriverError becomes its reason, anything else is a contract violation. */
  const call = async <T>(p: Promise<T>, value?: (v: T) => string): Promise<StepOutcome> => {
    try {
      const v = await time.settle(p, callLimit);
      if (v === CONTRACT_TIMEOUT) return { result: 'timeout', message: `no answer within ${callLimit} ms` };
      return value ? { result: 'ok', value: value(v as T) } : { result: 'ok' };
    } catch (err) {
      if (err instanceof DriverError) {
        // A real run's root is a fresh temporary directory: named by role, a re-recorded trace stays the same.
        return {
          result: 'error',
          reason: err.reason,
          message: err.message.replaceAll(hostDiskRoot, '<host-disk-root>'),
        };
      }
      return { result: 'error', reason: 'not-a-DriverError', message: String(err) };
    }
  };
  const infoValue = (i: DomainInfo | undefined) => (i ? infoText(i, naming) : 'none');

  const background = new Map<string, Promise<unknown>>();
  const waits = new Map<string, number>();
  const definedIds = new Set<string>();

  const exec = async (step: ContractStep): Promise<StepOutcome> => {
    if (step.do === 'await-migration') {
      const p = background.get(step.vm);
      if (!p) throw new TypeError(`${scenario.name}: no background migration of ${step.vm}`);
      background.delete(step.vm);
      return call(p, () => 'returned');
    }
    const node = nodes[step.node];
    const id = contractDomainId(scenario.name, step.vm);
    switch (step.do) {
      case 'define': {
        const def: DomainDefinition = contractDefinition(scenario, step.vm, step.variant, guest, hostDiskRoot);
        if (step.variant) naming.addDomain(def.id, def.uid, step.vm, `${step.variant}(${step.vm})`);
        ids.add(def.id);
        definedIds.add(def.id);
        return call(node.defineDomain(def), infoValue);
      }
      case 'start':
        return call(node.startDomain(id));
      case 'shutdown':
        return call(node.shutdownDomain(id));
      case 'destroy':
        return call(node.destroyDomain(id));
      case 'pause':
        return call(node.pauseDomain(id));
      case 'resume':
        return call(node.resumeDomain(id));
      case 'reboot':
        return call(node.rebootDomain(id));
      case 'undefine':
        return call(node.undefineDomain(id));
      case 'abort-migration':
        return call(node.abortMigration(id));
      case 'get':
        return call(node.getDomain(id), infoValue);
      case 'migrate': {
        const to = step.to === 'unknown' ? UNKNOWN_NODE : nodes[step.to].nodeName;
        const p = node.migrateDomain(
          id,
          to,
          step.bandwidthBytesPerSec !== undefined ? { bandwidthBytesPerSec: step.bandwidthBytesPerSec } : {},
        );
        const summary = (r: { targetNode: string }) => `to ${naming.node(r.targetNode)}`;
        if (!step.background) return call(p, summary);
        const kept = p.then(summary);
        kept.catch(() => {});
        background.set(step.vm, kept);
        return { result: 'ok', value: 'started' };
      }
      case 'wait': {
        const key = `${step.node}|${step.vm}|${step.for}`;
        const n = (waits.get(key) ?? 0) + 1;
        waits.set(key, n);
        const seen = () => raw[step.node].filter((e) => e.vm === step.vm && e.what === step.for).length >= n;
        const limit = step.timeoutMs ?? options.waitTimeoutMs ?? 120_000;
        return (await time.until(seen, limit))
          ? { result: 'ok' }
          : { result: 'timeout', message: `no ${step.for} for ${step.vm} on ${step.node} within ${limit} ms` };
      }
    }
  };

  const snapshot = async (): Promise<Record<ContractNode, string[]>> => {
    const state: Record<ContractNode, string[]> = { A: [], B: [] };
    for (const n of NODES) {
      const listed = await time.settle(nodes[n].listDomains(), callLimit).catch((e: unknown) => e);
      if (!Array.isArray(listed)) {
        state[n].push(`listDomains failed: ${listed instanceof DriverError ? listed.reason : String(listed)}`);
        continue;
      }
      const mine = listed.filter((d: DomainInfo) => ids.has(d.id));
      state[n] = mine.map((d: DomainInfo) => infoText(d, naming));
      // getDomain must agree with listDomains.
      for (const id of ids) {
        const got = await time.settle(nodes[n].getDomain(id), callLimit).catch((e: unknown) => e);
        const inList = mine.find((d: DomainInfo) => d.id === id);
        const gotText =
          got === undefined
            ? 'none'
            : got instanceof Error || got === CONTRACT_TIMEOUT
              ? `failed: ${got instanceof DriverError ? got.reason : String(got)}`
              : infoText(got as DomainInfo, naming);
        if (gotText !== (inList ? infoText(inList, naming) : 'none')) {
          state[n].push(`getDomain(${naming.vmOf(id)}) differs from listDomains: ${gotText}`);
        }
      }
    }
    return state;
  };

  const steps: StepRecord[] = [];
  let stopped = false;
  for (const [index, step] of scenario.steps.entries()) {
    current = index;
    const label = stepLabel(step);
    if (stopped) {
      steps.push({ index, label, outcome: { result: 'skipped' } });
      continue;
    }
    const outcome = await exec(step);
    const record: StepRecord = { index, label, outcome };
    if (outcome.result === 'timeout') stopped = true;
    else if (step.snapshot !== false && !(step.do === 'migrate' && step.background)) record.state = await snapshot();
    steps.push(record);
    options.onStep?.(scenario, record);
  }
  recording = false;

  // Clean up without recording: abort migrations, destroy and undefine whatever is left on both nodes.
  for (const p of background.values()) {
    for (const n of NODES)
      for (const id of definedIds) await time.settle(nodes[n].abortMigration(id), callLimit).catch(() => {});
    await time.settle(p, callLimit).catch(() => {});
  }
  for (const n of NODES) {
    for (const id of definedIds) {
      await time.settle(nodes[n].destroyDomain(id), callLimit).catch(() => {});
      await time.settle(nodes[n].undefineDomain(id), callLimit).catch(() => {});
    }
  }
  for (const u of unsubscribe) u();
  return { scenario: scenario.name, steps, events: { A: collapseSamples(events.A), B: collapseSamples(events.B) } };
}
