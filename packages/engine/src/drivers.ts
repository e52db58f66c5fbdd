/**
 * The driver registry: which nodes exist, by name. The engine registers a Node object for every driver
 * added here and forgets nothing when one is removed (the Node turns NotReady and its VMs are handled
 * like any lost node), because removal from the registry is indistinguishable from a node going away.
 */
import { AlreadyExistsError } from './errors.ts';
import type { NodeDriver, NodeDriverRegistry, Unsubscribe } from './ports/node-driver.ts';

export type DriverRegistryChange = { type: 'added'; driver: NodeDriver } | { type: 'removed'; driver: NodeDriver };

export class DriverRegistry implements NodeDriverRegistry {
  #drivers = new Map<string, NodeDriver>();
  #listeners = new Set<(change: DriverRegistryChange) => void>();

  constructor(drivers: Iterable<NodeDriver> = []) {
    for (const d of drivers) this.add(d);
  }

  get(nodeName: string): NodeDriver | undefined {
    return this.#drivers.get(nodeName);
  }

  has(nodeName: string): boolean {
    return this.#drivers.has(nodeName);
  }

  /** Drivers in node-name order, so everything derived from the list is deterministic. */
  list(): NodeDriver[] {
    return [...this.#drivers.values()].sort((a, b) => (a.nodeName < b.nodeName ? -1 : a.nodeName > b.nodeName ? 1 : 0));
  }

  get size(): number {
    return this.#drivers.size;
  }

  /** Adds a node. Fails with AlreadyExistsError when another driver already serves that node name. */
  add(driver: NodeDriver): void {
    const existing = this.#drivers.get(driver.nodeName);
    if (existing === driver) return;
    if (existing) throw new AlreadyExistsError('NodeDriver', driver.nodeName);
    this.#drivers.set(driver.nodeName, driver);
    this.#emit({ type: 'added', driver });
  }

  /** Removes a node's driver; true when one was registered. The driver is not closed (its owner closes it). */
  remove(nodeName: string): boolean {
    const driver = this.#drivers.get(nodeName);
    if (!driver) return false;
    this.#drivers.delete(nodeName);
    this.#emit({ type: 'removed', driver });
    return true;
  }

  /** Listens for additions and removals; the listener is not called for drivers already present. */
  onChange(listener: (change: DriverRegistryChange) => void): Unsubscribe {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #emit(change: DriverRegistryChange): void {
    for (const l of [...this.#listeners]) l(change);
  }
}
