// `virtkit controller` and `virtkit agent --sim` through the CLI entry (runCli), against our API server on 127.0.0.1.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lease, Node } from '@virtkit/engine';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/commands.ts';
import { type ClusterHarness, cliIo, eventually, startCluster } from './support.ts';

const NS = 'virtkit-system';

let h: ClusterHarness;
let dir: string;
let kubeconfig: string;
let tokenFile: string;

beforeEach(async () => {
  h = await startCluster();
  dir = await mkdtemp(join(tmpdir(), 'virtkit-cluster-cli-'));
  kubeconfig = join(dir, 'kubeconfig');
  await h.server.kubeconfig(kubeconfig);
  tokenFile = join(dir, 'token');
  await writeFile(tokenFile, 's3cret\n');
});
afterEach(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

describe('virtkit controller / virtkit agent', () => {
  it('run a leader-elected controller and a simulated agent until interrupted', async () => {
    const stop = new AbortController();
    const agentIo = cliIo({}, stop.signal);
    // A simulated agent takes its node's labels from the config file, as the libvirt agent does.
    const config = join(dir, 'agent.yaml');
    await writeFile(config, 'labels:\n  virtkit.io/rack: r1\n');
    const controllerIo = cliIo({ POD_NAME: 'controller-0', VIRTKIT_AGENT_TOKEN_FILE: tokenFile }, stop.signal);
    const agentExit = runCli(
      [
        'agent',
        '--sim',
        '--node-name',
        'sim-1',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--namespace',
        NS,
        '--kubeconfig',
        kubeconfig,
        '--token-file',
        tokenFile,
        '--config',
        config,
      ],
      agentIo.io,
    );
    const controllerExit = runCli(
      ['controller', '--core-nodes', '--namespace', NS, '--lease-name', 'vk-leader', '--kubeconfig', kubeconfig],
      controllerIo.io,
    );
    await eventually(async () => {
      const l = (await h.backing.tryGet('Lease', NS, 'vk-leader')) as Lease | undefined;
      return l?.spec?.holderIdentity === 'controller-0';
    }, 'controller-0 holds the lease');
    // The engine registered the agent's node and found it ready (through the agent's RPC endpoint).
    await eventually(async () => {
      const n = (await h.backing.tryGet('Node', undefined, 'sim-1')) as Node | undefined;
      return n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
    }, 'node sim-1 Ready');
    expect(((await h.backing.get('Lease', NS, 'virtkit-agent-sim-1')) as Lease).spec?.holderIdentity).toBe('sim-1');
    const node = (await h.backing.get('Node', undefined, 'sim-1')) as Node;
    expect(node.metadata.labels?.['virtkit.io/rack']).toBe('r1');
    stop.abort();
    expect(await controllerExit).toBe(0);
    expect(await agentExit).toBe(0);
    const log = controllerIo.out.join('');
    expect(log).toContain('node sim-1 registered');
    expect(log).toContain('engine running');
    expect(log).toContain('no longer leading: stopping the engine');
    expect(agentIo.out.join('')).toContain('agent for node sim-1 serving at https://127.0.0.1:');
    // Released on the way out: a successor need not wait for the lease to expire.
    expect(((await h.backing.get('Lease', NS, 'vk-leader')) as Lease).spec?.holderIdentity).toBe('');
  });

  it('refuses to start without a node name or a token, with usage exit codes; -h prints help', async () => {
    const noNode = cliIo({ VIRTKIT_AGENT_TOKEN: 'x' });
    expect(await runCli(['agent', '--sim', '--kubeconfig', kubeconfig], noNode.io)).toBe(2);
    expect(noNode.err.join('')).toContain('--node-name is required');
    const noToken = cliIo();
    expect(await runCli(['controller', '--kubeconfig', kubeconfig], noToken.io)).toBe(2);
    expect(noToken.err.join('')).toContain('no agent token');
    const badFlag = cliIo();
    expect(await runCli(['agent', '--frobnicate'], badFlag.io)).toBe(2);
    const help = cliIo();
    expect(await runCli(['controller', '-h'], help.io)).toBe(0);
    expect(help.out.join('')).toContain('--lease-name NAME');
    const agentHelp = cliIo();
    expect(await runCli(['agent', '--help'], agentHelp.io)).toBe(0);
    expect(agentHelp.out.join('')).toContain('--libvirt-socket PATH');
  });
});
