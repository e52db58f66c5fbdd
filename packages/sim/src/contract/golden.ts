/**
 * The golden trace: the contract scenarios as the real libvirt agent ran them (TCG, two libvirtd on one
 * machine). The agent's contract test records it again on every run and fails when it changed; the
 * simulator's contract test compares against it without needing libvirt.
 */
import { fileURLToPath } from 'node:url';
import golden from './golden-libvirt.json' with { type: 'json' };
import type { ContractTrace } from './types.ts';

export const goldenTrace: ContractTrace = golden as ContractTrace;

/** Where the golden trace lives in the source tree (what a regeneration rewrites). */
export const goldenTracePath: string = fileURLToPath(new URL('./golden-libvirt.json', import.meta.url));
