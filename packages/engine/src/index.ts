// @virtkit/engine — the control plane's public surface. Explicit exports only.

export { RealClock, sleepOn } from './clock/real-clock.ts';
export { VirtualClock, type VirtualClockOptions } from './clock/virtual-clock.ts';
export * from './errors.ts';
export * from './ports/clock.ts';
export type * from './ports/node-driver.ts';
export type * from './ports/resource-store.ts';
export type * from './resources/core.ts';
export * from './resources/kinds.ts';
export * from './resources/kubevirt.ts';
export type * from './resources/meta.ts';
