import { KINDS, type Kind } from '@virtkit/engine';

const ALIASES: Record<string, Kind> = {};
for (const info of Object.values(KINDS)) {
  for (const n of [info.plural, info.singular, info.kind.toLowerCase(), ...info.shortNames]) ALIASES[n] = info.kind;
}
Object.assign(ALIASES, { migration: 'VirtualMachineInstanceMigration', migrations: 'VirtualMachineInstanceMigration' });
Object.assign(ALIASES, {
  replicaset: 'VirtualMachineInstanceReplicaSet',
  replicasets: 'VirtualMachineInstanceReplicaSet',
});

/** Resolves `vm`, `vms`, `virtualmachines`, `vmi`, `nodes`, ... to a Kind; undefined when unknown. */
export function resolveKind(word: string): Kind | undefined {
  return ALIASES[word.toLowerCase()];
}

export const KIND_WORDS = Object.keys(ALIASES).sort();
