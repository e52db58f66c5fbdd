/** Output formats for the CLI: aligned tables (kubectl-like), YAML and JSON. */
import type { KubeObject } from '@virtkit/engine';
import { stringify } from 'yaml';

export type OutputFormat = 'table' | 'yaml' | 'json' | 'name';

export function age(created: string | undefined, now: number): string {
  if (!created) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(created)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

const cond = (o: KubeObject, type: string) =>
  ((o.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).find(
    (c) => c.type === type,
  )?.status;

export function rowsFor(kind: string, items: KubeObject[], now: number): { headers: string[]; rows: string[][] } {
  const name = (o: KubeObject) => o.metadata.name ?? '';
  const st = (o: KubeObject) => (o.status ?? {}) as Record<string, unknown>;
  switch (kind) {
    case 'VirtualMachine':
      return {
        headers: ['NAME', 'AGE', 'STATUS', 'READY'],
        rows: items.map((o) => [
          name(o),
          age(o.metadata.creationTimestamp, now),
          String(st(o).printableStatus ?? 'Stopped'),
          String(st(o).ready ?? false),
        ]),
      };
    case 'VirtualMachineInstance':
      return {
        headers: ['NAME', 'AGE', 'PHASE', 'IP', 'NODENAME', 'READY'],
        rows: items.map((o) => [
          name(o),
          age(o.metadata.creationTimestamp, now),
          String(st(o).phase ?? ''),
          String((st(o).interfaces as { ipAddress?: string }[] | undefined)?.[0]?.ipAddress ?? ''),
          String(st(o).nodeName ?? ''),
          String(cond(o, 'Ready') === 'True'),
        ]),
      };
    case 'VirtualMachineInstanceMigration':
      return {
        headers: ['NAME', 'PHASE', 'VMI', 'SOURCE', 'TARGET'],
        rows: items.map((o) => {
          const ms = (st(o).migrationState ?? {}) as { sourceNode?: string; targetNode?: string };
          return [
            name(o),
            String(st(o).phase ?? 'Pending'),
            String((o.spec as { vmiName?: string }).vmiName ?? ''),
            ms.sourceNode ?? '',
            ms.targetNode ?? '',
          ];
        }),
      };
    case 'VirtualMachineInstanceReplicaSet':
      return {
        headers: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
        rows: items.map((o) => [
          name(o),
          String((o.spec as { replicas?: number }).replicas ?? 0),
          String(st(o).replicas ?? 0),
          String(st(o).readyReplicas ?? 0),
          age(o.metadata.creationTimestamp, now),
        ]),
      };
    case 'Node':
      return {
        headers: ['NAME', 'STATUS', 'VMS', 'CPU', 'MEMORY', 'AGE'],
        rows: items.map((o) => {
          const ready = cond(o, 'Ready') === 'True' ? 'Ready' : 'NotReady';
          const cordoned = (o.spec as { unschedulable?: boolean } | undefined)?.unschedulable
            ? ',SchedulingDisabled'
            : '';
          const alloc = (st(o).allocatable ?? {}) as Record<string, string>;
          return [
            name(o),
            ready + cordoned,
            '',
            alloc.cpu ?? '',
            alloc.memory ?? '',
            age(o.metadata.creationTimestamp, now),
          ];
        }),
      };
    default:
      return {
        headers: ['NAME', 'AGE'],
        rows: items.map((o) => [name(o), age(o.metadata.creationTimestamp, now)]),
      };
  }
}

export function render(kind: string, items: KubeObject[], format: OutputFormat, now: number, single = false): string {
  const clean = items.map((o) => {
    const c = structuredClone(o);
    delete (c.status as Record<string, unknown> | undefined)?.virtkit;
    return c;
  });
  switch (format) {
    case 'json':
      return JSON.stringify(single ? clean[0] : { apiVersion: 'v1', kind: 'List', items: clean }, null, 2);
    case 'yaml':
      return stringify(single ? clean[0] : { apiVersion: 'v1', kind: 'List', items: clean }).trimEnd();
    case 'name':
      return clean.map((o) => `${kind.toLowerCase()}/${o.metadata.name}`).join('\n');
    default: {
      if (items.length === 0) return 'No resources found.';
      const { headers, rows } = rowsFor(kind, items, now);
      return table(headers, rows);
    }
  }
}
