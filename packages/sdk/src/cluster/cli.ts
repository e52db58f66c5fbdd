/**
 * `virtkit controller` and `virtkit agent`: the two processes of a cluster deployment (deploy/). Both run
 * in the foreground until SIGINT/SIGTERM (or the CLI's abort signal) and then shut down in order: the
 * controller stops its engine before it releases the leader Lease; the agent stops serving but leaves
 * its domains running and its Lease in place.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { InvalidSpecError, type NodeDriverRegistry, RealClock } from '@virtkit/engine';
import { startAgent } from './agent.ts';
import { startController } from './controller.ts';

export interface ClusterCliIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: Record<string, string | undefined>;
  signal?: AbortSignal;
}

export const CONTROLLER_HELP = `virtkit controller [options]
Runs the virtkit engine against a Kubernetes cluster: its objects live in the cluster's API (CRDs from
deploy/), one replica at a time leads (a coordination.k8s.io Lease), nodes are the registered agents.

  --kubeconfig PATH     default: in-cluster service account, else $KUBECONFIG / ~/.kube/config
  --context NAME        kubeconfig context
  --namespace NS        Lease and agent registrations (default $POD_NAMESPACE, the service account's, or virtkit-system)
  --lease-name NAME     leader Lease (default virtkit-controller)
  --identity ID         this replica in the Lease (default $POD_NAME or the host name)
  --token-file PATH     token the agents expect (default $VIRTKIT_AGENT_TOKEN_FILE; or $VIRTKIT_AGENT_TOKEN)
  --core-nodes          keep the engine's nodes as v1 Nodes (only for API servers without kubelets, e.g. virtkit up)`;

export const AGENT_HELP = `virtkit agent --node-name NODE [options]
Runs the node agent: this node's libvirtd (or a simulated node with --sim) served to the controller,
registered with a Lease in the controller's namespace.

  --node-name NODE          this node (default $NODE_NAME)
  --port PORT               listen port (default 8443)
  --host ADDR               listen address (default 0.0.0.0)
  --advertise-address ADDR  address the controller uses (default $POD_IP, else 127.0.0.1)
  --libvirt-socket PATH     libvirtd socket (default /var/run/libvirt/libvirt-sock)
  --migration-uri URI       libvirt URI peers migrate to (e.g. qemu+tcp://NODE_IP:16509/system)
  --data-dir DIR            images, overlays, console logs (default /var/lib/virtkit)
  --config PATH             agent config file, YAML or JSON (default $VIRTKIT_AGENT_CONFIG; none: defaults):
                            imageTranslations, directImageUrls (public|any|refuse), hostDiskRoots,
                            hypervisor (auto|kvm|qemu), reserved {cpu, memory}, maxVms, labels
  --sim                     a simulated node instead of libvirt (exercise a cluster without KVM); of the
                            config it uses labels, hostDiskRoots, hypervisor, reserved and maxVms
  --namespace NS            where the controller runs (default $POD_NAMESPACE or virtkit-system)
  --token-file PATH         token the controller sends (default $VIRTKIT_AGENT_TOKEN_FILE; or $VIRTKIT_AGENT_TOKEN)
  --insecure                plain HTTP instead of TLS (trusted networks only)
  --kubeconfig PATH, --context NAME`;

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

class UsageError extends Error {}

function namespaceOf(flag: string | undefined, env: ClusterCliIO['env']): string {
  if (flag) return flag;
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  if (existsSync(SERVICE_ACCOUNT_NAMESPACE)) return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
  return 'virtkit-system';
}

function tokenOf(flag: string | undefined, env: ClusterCliIO['env']): string {
  const file = flag ?? env.VIRTKIT_AGENT_TOKEN_FILE;
  const token = file ? readFileSync(file, 'utf8').trim() : env.VIRTKIT_AGENT_TOKEN?.trim();
  if (!token) throw new UsageError('no agent token: pass --token-file or set VIRTKIT_AGENT_TOKEN(_FILE)');
  return token;
}

function portOf(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port must be 0..65535, got "${value}"`);
  return n;
}

function interrupt(): AbortSignal {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return ac.signal;
}

const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

/** Runs `virtkit controller ...` or `virtkit agent ...`; resolves the exit code. */
export async function runClusterCommand(argv: string[], io: ClusterCliIO): Promise<number> {
  const [command, ...rest] = argv;
  const out = (s: string) => io.stdout.write(`${s}\n`);
  const err = (s: string) => io.stderr.write(`${s}\n`);
  try {
    if (command === 'controller') return await controller(rest, io, out);
    if (command === 'agent') return await agent(rest, io, out);
    throw new UsageError(`unknown command "${command}"`);
  } catch (e) {
    // A config file's problems, one per line: an operator fixes them all in one go.
    if (e instanceof InvalidSpecError && e.causes.length > 1) {
      const causes = e.causes.map((c) => `${c.field}: ${c.message}`);
      const header = e.message.slice(0, e.message.length - causes.join('; ').length).trimEnd();
      err(`error: ${header}\n${causes.map((c) => `  ${c}`).join('\n')}`);
    } else err(`error: ${(e as Error).message}`);
    return e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
  }
}

async function controller(argv: string[], io: ClusterCliIO, log: (s: string) => void): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      'lease-name': { type: 'string' },
      identity: { type: 'string' },
      'token-file': { type: 'string' },
      'core-nodes': { type: 'boolean' },
    },
  });
  if (v.help) {
    log(CONTROLLER_HELP);
    return 0;
  }
  const signal = io.signal ?? interrupt();
  const c = await startController({
    ...(v.kubeconfig ? { kubeconfig: v.kubeconfig } : {}),
    ...(v.context ? { context: v.context } : {}),
    namespace: namespaceOf(v.namespace, io.env),
    leaseName: v['lease-name'] ?? 'virtkit-controller',
    identity: v.identity ?? io.env.POD_NAME ?? hostname(),
    token: tokenOf(v['token-file'], io.env),
    nodes: v['core-nodes'] ? 'core' : 'hypervisor',
    log,
  });
  log(`controller ${c.elector.identity} campaigning for the lease`);
  await untilAborted(signal);
  log('shutting down');
  await c.stop();
  return 0;
}

async function agent(argv: string[], io: ClusterCliIO, log: (s: string) => void): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      'node-name': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'advertise-address': { type: 'string' },
      'libvirt-socket': { type: 'string' },
      'migration-uri': { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      sim: { type: 'boolean' },
      seed: { type: 'string' },
      'token-file': { type: 'string' },
      insecure: { type: 'boolean' },
    },
  });
  if (v.help) {
    log(AGENT_HELP);
    return 0;
  }
  const nodeName = v['node-name'] ?? io.env.NODE_NAME;
  if (!nodeName) throw new UsageError('--node-name is required (or set NODE_NAME)');
  // Read before anything starts: a bad file stops the agent here, with every bad field named.
  const configPath = v.config ?? io.env.VIRTKIT_AGENT_CONFIG;
  const config = configPath ? await (await import('./agent-config.ts')).readAgentConfig(configPath) : {};
  if (configPath) log(`agent config from ${configPath}`);
  const signal = io.signal ?? interrupt();
  const clock = new RealClock();
  const driver = async (peers: NodeDriverRegistry) => {
    if (v.sim) {
      const { SimFabric, SimNode } = await import('@virtkit/sim');
      const fabric = new SimFabric({ clock, seed: Number(v.seed ?? 1) });
      const { labels, hostDiskRoots, hypervisor, reserved, maxVms } = config;
      return new SimNode({
        name: nodeName,
        fabric,
        ...(labels ? { labels } : {}),
        ...(hostDiskRoots ? { hostDiskRoots } : {}),
        ...(hypervisor && hypervisor !== 'auto' ? { hypervisor } : {}),
        ...(reserved
          ? {
              reserve: {
                ...(reserved.cpuMillis !== undefined ? { cpu: `${reserved.cpuMillis}m` } : {}),
                ...(reserved.memoryBytes !== undefined ? { memory: reserved.memoryBytes } : {}),
              },
            }
          : {}),
        ...(maxVms ? { capacity: { vms: maxVms } } : {}),
      });
    }
    const { LibvirtNodeDriver } = await import('@virtkit/agent');
    return LibvirtNodeDriver.open({
      ...config,
      nodeName,
      dataDir: v['data-dir'] ?? '/var/lib/virtkit',
      clock,
      peers,
      ...(v['libvirt-socket'] ? { libvirt: { socketPath: v['libvirt-socket'] } } : {}),
      ...(v['migration-uri'] ? { migrationUri: v['migration-uri'] } : {}),
    });
  };
  const advertise = v['advertise-address'] ?? io.env.POD_IP;
  const a = await startAgent({
    ...(v.kubeconfig ? { kubeconfig: v.kubeconfig } : {}),
    ...(v.context ? { context: v.context } : {}),
    namespace: namespaceOf(v.namespace, io.env),
    nodeName,
    driver,
    token: tokenOf(v['token-file'], io.env),
    host: v.host ?? '0.0.0.0',
    port: portOf(v.port, 8443),
    ...(advertise ? { advertiseAddress: advertise } : {}),
    ...(v.insecure ? { insecure: true } : {}),
    clock,
    log,
  });
  await untilAborted(signal);
  log('shutting down (domains keep running)');
  await a.stop();
  return 0;
}
