import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KINDS, type Kind, type KubeObject, parseManifests, VirtkitError } from '@virtkit/engine';
import type { VirtkitClient } from '../client/client.ts';
import { connect } from '../connect.ts';
import { type OutputFormat, render } from './format.ts';
import { resolveKind } from './kinds.ts';

export interface CliIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: Record<string, string | undefined>;
  /** Aborts long-running commands (`up`, `get -w`, `console`); default: SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

export const EXIT = { ok: 0, failure: 1, usage: 2, notFound: 3, conflict: 4, invalid: 5, timeout: 6 } as const;

class UsageError extends Error {}

const HELP: Record<string, string> = {
  main: `virtkit — run KubeVirt-style virtual machines (embedded engine, simulator or libvirt)

Usage: virtkit <command> [options]

Commands:
  up                        run an embedded control plane + Kubernetes-compatible API server (foreground)
  controller                run the engine on a Kubernetes cluster (leader-elected; see deploy/)
  agent --node-name NODE    run a node agent on a cluster (libvirt, or --sim)
  apply -f FILE             create or update resources from YAML/JSON (multi-document)
  get KIND [NAME]           list or show resources (vms, vmis, migrations, replicasets, nodes, events)
  describe KIND NAME        show one resource with its conditions and events
  start|stop|restart NAME   change a VM's run state (stop --grace-period S, --force)
  pause|unpause NAME        pause or resume a VM's instance
  migrate NAME              live-migrate a VM (--target-node NODE)
  console NAME              stream a VM's serial console
  delete KIND NAME          delete a resource (--wait)
  nodes drain|cordon|uncordon NODE
  scale NAME --replicas N   scale a replica set

Global options:
  --kubeconfig PATH   default $VIRTKIT_KUBECONFIG, else ~/.virtkit/kubeconfig (written by 'up'), else $KUBECONFIG
  --context NAME      kubeconfig context
  -n, --namespace NS  default "default"
  -o, --output FMT    table | yaml | json | name
  --wait              wait for the resulting state;  --timeout SECONDS (default 300)
  -h, --help          help for any command

Exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 conflict/illegal transition, 5 invalid, 6 timeout.`,
  controller: 'virtkit controller [--kubeconfig PATH] [--namespace NS] [--lease-name NAME]   (virtkit controller -h)',
  agent:
    'virtkit agent --node-name NODE [--port P] [--libvirt-socket PATH] [--data-dir DIR] [--config PATH] [--sim]   (virtkit agent -h)',
  up: `virtkit up [--nodes N | --libvirt [--agent-config PATH]] [--port P] [--kubeconfig PATH] [--data-dir DIR] [--seed S] [--speed X]
Runs the engine and a Kubernetes-compatible API server on 127.0.0.1 until interrupted.
Writes a kubeconfig for kubectl and @kubernetes/client-node (default ~/.virtkit/kubeconfig).
--data-dir keeps state in a durable store; --libvirt drives the local libvirtd instead of simulated nodes,
configured by --agent-config (the file 'virtkit agent --config' reads: imageTranslations, directImageUrls, ...).`,
  apply: 'virtkit apply -f FILE [-n NS]   (FILE may be - for stdin)',
  get: 'virtkit get KIND [NAME] [-n NS | -A] [-l SELECTOR] [-o table|yaml|json|name] [-w]',
  describe: 'virtkit describe KIND NAME [-n NS]',
  start: 'virtkit start NAME [--wait] [--timeout S]',
  stop: 'virtkit stop NAME [--grace-period S] [--force] [--wait]',
  restart: 'virtkit restart NAME [--wait]',
  pause: 'virtkit pause NAME [--wait]',
  unpause: 'virtkit unpause NAME [--wait]',
  migrate: 'virtkit migrate NAME [--target-node NODE] [--wait]',
  console: 'virtkit console NAME   (Ctrl-C to leave)',
  delete: 'virtkit delete KIND NAME [--wait]',
  nodes: 'virtkit nodes drain|cordon|uncordon NODE',
  scale: 'virtkit scale NAME --replicas N [--wait]',
};

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  output: { type: 'string', short: 'o' },
  selector: { type: 'string', short: 'l' },
  watch: { type: 'boolean', short: 'w' },
  filename: { type: 'string', short: 'f' },
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
  'grace-period': { type: 'string' },
  force: { type: 'boolean' },
  'target-node': { type: 'string' },
  replicas: { type: 'string' },
  nodes: { type: 'string' },
  seed: { type: 'string' },
  port: { type: 'string' },
  'data-dir': { type: 'string' },
  libvirt: { type: 'boolean' },
  'agent-config': { type: 'string' },
  speed: { type: 'string' },
} as const;

function intOpt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got "${value}"`);
  return n;
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError) return EXIT.usage;
  if (e instanceof VirtkitError) {
    switch (e.code) {
      case 'NotFound':
        return EXIT.notFound;
      case 'Conflict':
      case 'AlreadyExists':
      case 'IllegalTransition':
        return EXIT.conflict;
      case 'Invalid':
      case 'BadRequest':
        return EXIT.invalid;
      case 'Timeout':
        return EXIT.timeout;
    }
  }
  return EXIT.failure;
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const out = (s: string) => io.stdout.write(`${s}\n`);
  const err = (s: string) => io.stderr.write(`${s}\n`);
  // The cluster processes take their own options (parsed in cluster/cli.ts).
  switch (argv[0]) {
    case 'controller':
    case 'agent': {
      const { runClusterCommand } = await import('../cluster/cli.ts');
      return runClusterCommand(argv, io);
    }
  }
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; args: string[] }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    err(`error: ${(e as Error).message}\nRun 'virtkit --help' for usage.`);
    return EXIT.usage;
  }
  const { values: v, positionals } = parsed;
  const [command, ...args] = positionals;
  if (!command || command === 'help') {
    out(HELP[args[0] ?? 'main'] ?? HELP.main ?? '');
    return command || v.help ? EXIT.ok : EXIT.usage;
  }
  if (v.help) {
    out(HELP[command] ?? HELP.main ?? '');
    return EXIT.ok;
  }
  const signal = io.signal ?? interruptSignal();
  let vk: VirtkitClient | undefined;
  const client = async () => {
    if (!vk) {
      const kubeconfig =
        v.kubeconfig ??
        io.env.VIRTKIT_KUBECONFIG ??
        (existsQuiet(join(homedir(), '.virtkit', 'kubeconfig'))
          ? join(homedir(), '.virtkit', 'kubeconfig')
          : undefined);
      // Without any kubeconfig, client-node would fall back to http://localhost:8080 and fail with a
      // TLS message that says nothing about the real problem.
      if (!kubeconfig && !defaultClusterConfigured(io.env)) {
        throw new Error(
          "no virtkit server or cluster to talk to: no kubeconfig at ~/.virtkit/kubeconfig (written by 'virtkit up'), " +
            "$VIRTKIT_KUBECONFIG, $KUBECONFIG or ~/.kube/config, and not inside a cluster. Start one with 'virtkit up' " +
            '(in another terminal) or pass --kubeconfig PATH',
        );
      }
      vk = await connect({
        mode: 'kubernetes',
        ...(kubeconfig ? { kubeconfig } : {}),
        ...(v.context ? { context: v.context } : {}),
        ...(v.namespace ? { namespace: v.namespace } : {}),
      });
    }
    return vk;
  };
  const format = (v.output ?? 'table') as OutputFormat;
  if (!['table', 'yaml', 'json', 'name'].includes(format)) {
    err(`error: --output must be table, yaml, json or name, got "${v.output}"`);
    return EXIT.usage;
  }
  const timeoutMs = intOpt(v.timeout, 'timeout', 300) * 1000;
  const need = (n: number, usage: string) => {
    if (args.length < n) throw new UsageError(`missing argument: ${usage}`);
  };
  try {
    switch (command) {
      case 'up': {
        if (v['agent-config'] && !v.libvirt) throw new UsageError('--agent-config configures the --libvirt node');
        const { runUp } = await import('./up.ts');
        await runUp({
          nodes: intOpt(v.nodes, 'nodes', 3),
          libvirt: v.libvirt ?? false,
          ...(v['agent-config'] ? { agentConfig: v['agent-config'] } : {}),
          port: intOpt(v.port, 'port', 0),
          kubeconfig: v.kubeconfig ?? join(homedir(), '.virtkit', 'kubeconfig'),
          ...(v['data-dir'] ? { dataDir: v['data-dir'] } : {}),
          seed: intOpt(v.seed, 'seed', 1),
          ...(v.speed ? { speed: intOpt(v.speed, 'speed', 1) } : {}),
          log: out,
          signal,
        });
        return EXIT.ok;
      }
      case 'apply': {
        if (!v.filename) throw new UsageError('apply needs -f FILE');
        const text = v.filename === '-' ? readFileSync(0, 'utf8') : readFileSync(v.filename, 'utf8');
        const c = await client();
        for (const obj of parseDocs(text)) {
          const kind = resolveKind(String(obj.kind ?? ''));
          if (!kind) throw new UsageError(`unsupported kind "${String(obj.kind)}" in ${v.filename}`);
          const existed = await c.transport
            .get(kind, obj.metadata.namespace ?? v.namespace ?? c.transport.defaultNamespace, obj.metadata.name ?? '')
            .then(
              () => true,
              () => false,
            );
          const applied = await resourceClient(c, kind).apply(
            obj as never,
            v.namespace ? { namespace: v.namespace } : {},
          );
          out(
            `${KINDS[kind].singular}.${KINDS[kind].group || 'core'}/${applied.metadata.name} ${existed ? 'configured' : 'created'}`,
          );
        }
        return EXIT.ok;
      }
      case 'get': {
        need(1, 'get KIND [NAME]');
        const kind = kindArg(args[0] ?? '');
        const c = await client();
        const rc = resourceClient(c, kind);
        const ns = v.namespace ? { namespace: v.namespace } : {};
        if (args[1]) {
          const obj = await rc.get(args[1], ns);
          out(render(kind, [obj], format, Date.now(), true));
          if (!v.watch) return EXIT.ok;
        }
        if (!args[1]) {
          const items = await rc.list({
            ...ns,
            ...(v['all-namespaces'] ? { allNamespaces: true } : {}),
            ...(v.selector ? { labelSelector: v.selector } : {}),
          });
          out(render(kind, items, format, Date.now()));
        }
        if (v.watch) {
          const q = {
            ...ns,
            ...(v['all-namespaces'] ? { allNamespaces: true } : {}),
            ...(args[1] ? { fieldSelector: `metadata.name=${args[1]}` } : {}),
            ...(v.selector ? { labelSelector: v.selector } : {}),
            signal,
          };
          let first = true;
          for await (const ev of rc.watch(q)) {
            if (first && ev.type === 'ADDED') continue;
            first = false;
            if (ev.type === 'BOOKMARK') continue;
            const line = render(kind, [ev.object], format === 'table' ? 'table' : format, Date.now(), true);
            out(format === 'table' ? `${ev.type}\t${line.split('\n')[1] ?? ''}` : line);
          }
        }
        return EXIT.ok;
      }
      case 'describe': {
        need(2, 'describe KIND NAME');
        const kind = kindArg(args[0] ?? '');
        const c = await client();
        const obj = await resourceClient(c, kind).get(args[1] ?? '', v.namespace ? { namespace: v.namespace } : {});
        out(render(kind, [obj], 'yaml', Date.now(), true));
        const events = await c.events.list({
          ...(v.namespace ? { namespace: v.namespace } : {}),
          fieldSelector: `involvedObject.name=${args[1]}`,
        });
        out('Events:');
        if (events.length === 0) out('  <none>');
        for (const e of events) out(`  ${e.type ?? 'Normal'}\t${e.reason ?? ''}\t${e.message ?? ''}`);
        return EXIT.ok;
      }
      case 'start':
      case 'stop':
      case 'restart':
      case 'pause':
      case 'unpause': {
        need(1, `${command} NAME`);
        const c = await client();
        const name = args[0] ?? '';
        const base = {
          ...(v.namespace ? { namespace: v.namespace } : {}),
          ...(v.wait ? { wait: { timeoutMs, signal } } : {}),
        };
        if (command === 'stop') {
          const grace = v.force
            ? 0
            : v['grace-period'] !== undefined
              ? intOpt(v['grace-period'], 'grace-period', 0)
              : undefined;
          await c.vms.stop(name, { ...base, ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}) });
        } else {
          await c.vms[command](name, base);
        }
        out(`VM ${name} was scheduled to ${command}`);
        if (v.wait) out(`VM ${name} is ${(await c.vms.get(name, base)).status?.printableStatus ?? 'Unknown'}`);
        return EXIT.ok;
      }
      case 'migrate': {
        need(1, 'migrate NAME');
        const c = await client();
        const name = args[0] ?? '';
        const ns = v.namespace ? { namespace: v.namespace } : {};
        const m = await c.vms.migrate(name, { ...ns, ...(v['target-node'] ? { targetNode: v['target-node'] } : {}) });
        out(`VM ${name} was scheduled to migrate (migration ${m.metadata.name})`);
        if (v.wait) {
          const done = await c.migrations.waitFor(
            m.metadata.name ?? '',
            (o) => o?.status?.phase === 'Succeeded' || o?.status?.phase === 'Failed',
            { ...ns, timeoutMs, signal },
          );
          const ms = done.status?.migrationState;
          out(
            `migration ${done.status?.phase}: ${ms?.sourceNode ?? '?'} -> ${ms?.targetNode ?? '?'}${ms?.downtimeMs !== undefined ? `, downtime ${ms.downtimeMs} ms` : ''}`,
          );
          if (done.status?.phase === 'Failed') return EXIT.failure;
        }
        return EXIT.ok;
      }
      case 'console': {
        need(1, 'console NAME');
        const c = await client();
        for await (const line of c.vms.console(args[0] ?? '', {
          ...(v.namespace ? { namespace: v.namespace } : {}),
          signal,
        }))
          out(line);
        return EXIT.ok;
      }
      case 'delete': {
        need(2, 'delete KIND NAME');
        const kind = kindArg(args[0] ?? '');
        const c = await client();
        await resourceClient(c, kind).delete(args[1] ?? '', {
          ...(v.namespace ? { namespace: v.namespace } : {}),
          ...(v.wait ? { wait: true, timeoutMs } : {}),
        });
        out(`${KINDS[kind].singular} "${args[1]}" deleted`);
        return EXIT.ok;
      }
      case 'scale': {
        need(1, 'scale NAME --replicas N');
        if (v.replicas === undefined) throw new UsageError('scale needs --replicas N');
        const c = await client();
        const n = intOpt(v.replicas, 'replicas', 0);
        await c.replicaSets.scale(args[0] ?? '', n, {
          ...(v.namespace ? { namespace: v.namespace } : {}),
          ...(v.wait ? { wait: { timeoutMs, signal } } : {}),
        });
        out(`replicaset ${args[0]} scaled to ${n}`);
        return EXIT.ok;
      }
      case 'nodes': {
        need(2, 'nodes drain|cordon|uncordon NODE');
        const c = await client();
        const [verb, node = ''] = args;
        if (verb === 'cordon') await c.nodes.cordon(node);
        else if (verb === 'uncordon') await c.nodes.uncordon(node);
        else if (verb === 'drain') {
          const res = await c.nodes.drain(node, {
            timeoutMs,
            signal,
            onProgress: (p) =>
              out(
                `drain ${p.node}: ${p.remaining} left, ${p.migrated} migrated, ${p.evicted} evicted, ` +
                  `${p.migrating} migrating${p.blocked ? `, ${p.blocked} blocked (LiveMigrate, not migratable)` : ''}`,
              ),
          });
          out(`node ${node} drained: ${res.migrated} VMIs migrated, ${res.evicted} evicted`);
          return EXIT.ok;
        } else throw new UsageError(`unknown nodes verb "${verb}": use drain, cordon or uncordon`);
        out(`node/${node} ${verb}ed`);
        return EXIT.ok;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    const code = exitCodeFor(e);
    err(`error: ${(e as Error).message}${code === EXIT.usage ? "\nRun 'virtkit --help' for usage." : ''}`);
    for (const c of (e as { causes?: { field: string; message: string }[] }).causes ?? [])
      err(`  ${c.field}: ${c.message}`);
    return code;
  } finally {
    await vk?.close();
  }
}

function kindArg(word: string): Kind {
  const kind = resolveKind(word.split('/')[0] ?? '');
  if (!kind)
    throw new UsageError(`unknown resource type "${word}" (try vms, vmis, migrations, replicasets, nodes, events)`);
  return kind;
}

function resourceClient(c: VirtkitClient, kind: Kind) {
  switch (kind) {
    case 'VirtualMachine':
      return c.vms;
    case 'VirtualMachineInstance':
      return c.vmis;
    case 'VirtualMachineInstanceMigration':
      return c.migrations;
    case 'VirtualMachineInstanceReplicaSet':
      return c.replicaSets;
    case 'Node':
      return c.nodes;
    case 'Event':
      return c.events;
    default:
      throw new UsageError(`resource type ${kind} is not supported by the CLI`);
  }
}

function parseDocs(text: string): KubeObject[] {
  return parseManifests(text);
}

/** Whether client-node's default loading rules would find a cluster: $KUBECONFIG, ~/.kube/config or in-cluster. */
function defaultClusterConfigured(env: Record<string, string | undefined>): boolean {
  const fromEnv = (env.KUBECONFIG ?? '').split(':').filter((p) => p.length > 0);
  if (fromEnv.some(existsQuiet)) return true;
  if (existsQuiet(join(homedir(), '.kube', 'config'))) return true;
  return (
    env.KUBERNETES_SERVICE_HOST !== undefined && existsQuiet('/var/run/secrets/kubernetes.io/serviceaccount/token')
  );
}

function existsQuiet(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

function interruptSignal(): AbortSignal {
  const ac = new AbortController();
  const stop = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return ac.signal;
}
