// The agent config file (`virtkit agent --config`): good files map to exact LibvirtNodeDriver options,
// every kind of bad field is an InvalidSpecError naming it, the CLI stops on a bad file, and a good one
// reaches the real agent on this machine's libvirtd (no guest boots).
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { translateImage } from '@virtkit/agent';
import { type Event, InvalidSpecError, type Node, parseBytes, type VirtualMachine } from '@virtkit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/commands.ts';
import { AGENT_CONFIG_KIND, parseAgentConfig, readAgentConfig } from '../../src/cluster/index.ts';
import { cliIo, eventually, startCluster } from './support.ts';

const SUM = 'AB'.repeat(32);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtkit-agent-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** The InvalidSpecError `text` gives (failing the test when it parses). */
function problems(text: string, name = '/etc/virtkit/agent.yaml'): InvalidSpecError {
  try {
    parseAgentConfig(text, name);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidSpecError);
    return e as InvalidSpecError;
  }
  throw new Error(`parsed without error:\n${text}`);
}

const FULL_YAML = `# every setting
imageTranslations:
  - prefix: local
    translations:
      - name: cirros
        url: https://images.example.com/cirros-0.6.2.img
        sha256: ${SUM}
      - regexp: 'fedora/(\\d+)'
        url: https://images.example.com/fedora-$1.qcow2
  - translations:
      - name: guest
        url: file:///var/lib/virtkit/seed/guest.qcow2
directImageUrls: refuse
hostDiskRoots:
  - /var/lib/vm-disks
  - /srv/disks/
hypervisor: qemu
reserved:
  cpu: 1500m
  memory: 1.5Gi
maxVms: 40
labels:
  topology.kubernetes.io/zone: eu-1a
  virtkit.io/rack: r7
`;

const FULL_OPTIONS = {
  imageTranslations: [
    {
      prefix: 'local',
      translations: [
        { name: 'cirros', url: 'https://images.example.com/cirros-0.6.2.img', sha256: SUM },
        { regexp: 'fedora/(\\d+)', url: 'https://images.example.com/fedora-$1.qcow2' },
      ],
    },
    { translations: [{ name: 'guest', url: 'file:///var/lib/virtkit/seed/guest.qcow2' }] },
  ],
  directImageUrls: 'refuse',
  hostDiskRoots: ['/var/lib/vm-disks', '/srv/disks/'],
  hypervisor: 'qemu',
  reserved: { cpuMillis: 1500, memoryBytes: 1610612736 },
  maxVms: 40,
  labels: { 'topology.kubernetes.io/zone': 'eu-1a', 'virtkit.io/rack': 'r7' },
};

describe('agent config: good files', () => {
  it('a YAML file maps to exactly the driver options it sets', async () => {
    const config = await readAgentConfig(await file('full.yaml', FULL_YAML));
    expect(config).toStrictEqual(FULL_OPTIONS);
    // The rules are the ones the agent's translation applies.
    expect(translateImage('local/fedora/41', config.imageTranslations ?? [])).toEqual({
      url: 'https://images.example.com/fedora-41.qcow2',
    });
    expect(translateImage('local/cirros', config.imageTranslations ?? [])).toEqual({
      url: 'https://images.example.com/cirros-0.6.2.img',
      sha256: SUM.toLowerCase(),
    });
  });

  it('a JSON file (by its .json name) maps the same way, and so does JSON content in a YAML file', async () => {
    const json = JSON.stringify(
      {
        imageTranslations: [{ translations: [{ regexp: 'os/(.+)', url: 'https://img.example.org/$1.img' }] }],
        directImageUrls: 'any',
        hypervisor: 'auto',
        reserved: { cpu: 2, memory: '512Mi' },
        maxVms: 1,
        labels: { tier: 'gold' },
      },
      null,
      '\t', // tabs: valid JSON, not valid YAML indentation
    );
    const expected = {
      imageTranslations: [{ translations: [{ regexp: 'os/(.+)', url: 'https://img.example.org/$1.img' }] }],
      directImageUrls: 'any',
      hypervisor: 'auto',
      reserved: { cpuMillis: 2000, memoryBytes: 536870912 },
      maxVms: 1,
      labels: { tier: 'gold' },
    };
    expect(await readAgentConfig(await file('agent.json', json))).toStrictEqual(expected);
    expect(parseAgentConfig(JSON.stringify(JSON.parse(json)), 'agent.yaml')).toStrictEqual(expected);
  });

  it('an empty or comment-only file leaves every setting at its default; partial files set only their fields', () => {
    expect(parseAgentConfig('', 'a.yaml')).toStrictEqual({});
    expect(parseAgentConfig('# nothing yet\n', 'a.yaml')).toStrictEqual({});
    expect(parseAgentConfig('{}', 'a.json')).toStrictEqual({});
    expect(parseAgentConfig('reserved: {memory: 1G}\n', 'a.yaml')).toStrictEqual({
      reserved: { memoryBytes: 1_000_000_000 },
    });
    expect(parseAgentConfig('hostDiskRoots: []\n', 'a.yaml')).toStrictEqual({ hostDiskRoots: [] });
  });

  it('reads the file by its name, without a shell (metacharacters are part of the name)', async () => {
    const path = await file('a $(touch pwned) `id`; b.yaml', 'maxVms: 3\n');
    expect(await readAgentConfig(path)).toStrictEqual({ maxVms: 3 });
  });
});

describe('agent config: bad fields', () => {
  const rule = (r: string) => `imageTranslations:\n  - translations:\n      - ${r}\n`;
  const cases: [what: string, text: string, field: string, message: RegExp][] = [
    ['an unknown top-level key', 'maxVM: 3\n', 'maxVM', /unknown field; supported: .*maxVms/],
    ['imageTranslations not a list', 'imageTranslations: {}\n', 'imageTranslations', /must be a list/],
    [
      'an unknown key in a translation config',
      'imageTranslations: [{translations: [], prefixes: x}]\n',
      'imageTranslations[0].prefixes',
      /unknown field/,
    ],
    ['no translations', 'imageTranslations: [{prefix: local}]\n', 'imageTranslations[0].translations', /is required/],
    [
      'empty translations',
      'imageTranslations: [{translations: []}]\n',
      'imageTranslations[0].translations',
      /at least one/,
    ],
    [
      'a prefix ending in /',
      'imageTranslations: [{prefix: local/, translations: [{name: a, url: "https://x.io/a"}]}]\n',
      'imageTranslations[0].prefix',
      /must not end with "\/"/,
    ],
    [
      'a prefix that is not a string',
      'imageTranslations: [{prefix: 7, translations: [{name: a, url: "https://x.io/a"}]}]\n',
      'imageTranslations[0].prefix',
      /must be a string/,
    ],
    [
      'a regexp that does not compile',
      rule('{regexp: "fedora/(\\\\d+", url: "https://x.io/f$1"}'),
      'imageTranslations[0].translations[0].regexp',
      /does not compile: .*Unterminated group/,
    ],
    [
      'an unbalanced ) in a regexp',
      rule('{regexp: "a)|(b", url: "https://x.io/a"}'),
      'imageTranslations[0].translations[0].regexp',
      /does not compile/,
    ],
    [
      'a url that does not parse',
      rule('{name: a, url: "images/a.qcow2"}'),
      'imageTranslations[0].translations[0].url',
      /is not a URL/,
    ],
    [
      'a url with an unsupported scheme',
      rule('{name: a, url: "ftp://x.io/a"}'),
      'imageTranslations[0].translations[0].url',
      /scheme ftp: is not supported/,
    ],
    [
      'a file url with a host',
      rule('{name: a, url: "file://server/a.img"}'),
      'imageTranslations[0].translations[0].url',
      /host must be "localhost" or empty/,
    ],
    [
      'a url naming a group the regexp lacks',
      rule('{regexp: "os/(.+)", url: "https://x.io/$1/$2"}'),
      'imageTranslations[0].translations[0].url',
      /\$2 refers to a group .* \(it has 1\)/,
    ],
    [
      'a rule with neither name nor regexp',
      rule('{url: "https://x.io/a"}'),
      'imageTranslations[0].translations[0].name',
      /needs a name or a regexp/,
    ],
    [
      'a rule with both name and regexp',
      rule('{name: a, regexp: b, url: "https://x.io/a"}'),
      'imageTranslations[0].translations[0]',
      /both name and regexp/,
    ],
    ['a rule without a url', rule('{name: a}'), 'imageTranslations[0].translations[0].url', /is required/],
    [
      'a bad sha256',
      rule('{name: a, url: "https://x.io/a", sha256: abc}'),
      'imageTranslations[0].translations[0].sha256',
      /64 hexadecimal digits/,
    ],
    [
      'an unknown key in a rule',
      rule('{name: a, url: "https://x.io/a", checksum: x}'),
      'imageTranslations[0].translations[0].checksum',
      /unknown field; supported: name, regexp, url, sha256/,
    ],
    ['a relative hostDisk root', 'hostDiskRoots: [data/vms]\n', 'hostDiskRoots[0]', /not an absolute path/],
    ['hostDisk root /', 'hostDiskRoots: [/var/data, "/"]\n', 'hostDiskRoots[1]', /any file on the node/],
    ['a hostDisk root that is not a string', 'hostDiskRoots: [{path: /x}]\n', 'hostDiskRoots[0]', /must be a string/],
    ['hostDiskRoots not a list', 'hostDiskRoots: /var/data\n', 'hostDiskRoots', /must be a list/],
    [
      'an unknown directImageUrls policy',
      'directImageUrls: private\n',
      'directImageUrls',
      /"private" is not supported; supported: public, any, refuse/,
    ],
    ['an unknown hypervisor', 'hypervisor: xen\n', 'hypervisor', /"xen" is not supported; supported: auto, kvm, qemu/],
    ['a cpu that is not a quantity', 'reserved: {cpu: two}\n', 'reserved.cpu', /quantities must match/],
    ['a memory with a bad suffix', 'reserved: {memory: 1Mk}\n', 'reserved.memory', /suffix/],
    ['a negative reservation', 'reserved: {memory: -1Gi}\n', 'reserved.memory', /must not be negative/],
    ['an unknown reservation', 'reserved: {gpu: 1}\n', 'reserved.gpu', /unknown field; supported: cpu, memory/],
    ['reserved not a mapping', 'reserved: 1Gi\n', 'reserved', /must be a mapping/],
    ['maxVms zero', 'maxVms: 0\n', 'maxVms', /positive integer/],
    ['maxVms fractional', 'maxVms: 2.5\n', 'maxVms', /positive integer/],
    ['maxVms as a string', 'maxVms: "10"\n', 'maxVms', /positive integer/],
    ['an invalid label key', 'labels: {"bad key": x}\n', 'labels', /invalid label key "bad key"/],
    ['an invalid label value', 'labels: {zone: -eu-}\n', 'labels[zone]', /invalid label value "-eu-"/],
    ['a label value that is not a string', 'labels: {replicas: 3}\n', 'labels[replicas]', /must be a string/],
    ['a top level that is not a mapping', '- maxVms: 3\n', '(file)', /must be a mapping, not a list/],
    ['a top level that is text', 'maxVms 3\n', '(file)', /must be a mapping, not a string/],
    ['a duplicate key', 'maxVms: 3\nmaxVms: 4\n', '(syntax)', /Map keys must be unique/],
    ['two documents', 'maxVms: 3\n---\nmaxVms: 4\n', '(syntax)', /multiple documents|Source contains/],
  ];

  it.each(cases)('%s is an InvalidSpecError naming the field', (_what, text, field, message) => {
    const e = problems(text);
    expect(e.code).toBe('Invalid');
    expect(e.message).toMatch(/^AgentConfig "\/etc\/virtkit\/agent\.yaml" is invalid: /);
    const cause = e.causes.find((c) => c.field === field);
    expect(cause, `causes: ${JSON.stringify(e.causes)}`).toBeDefined();
    expect(cause?.message).toMatch(message);
    expect(e.message).toContain(`${field}: `);
  });

  it('lists every bad field of a file at once, each with its path', () => {
    const e = problems(`imageTranslations:
  - prefix: local
    translations:
      - name: ok
        url: https://x.io/ok
      - regexp: '([a-z]+'
        url: https://x.io/$1
      - name: x
        url: not a url
directImageUrls: sometimes
reserved: {cpu: lots}
maxVms: -1
`);
    expect(e.causes.map((c) => c.field)).toEqual([
      'imageTranslations[0].translations[1].regexp',
      'imageTranslations[0].translations[2].url',
      'directImageUrls',
      'reserved.cpu',
      'maxVms',
    ]);
    expect(e.causes.map((c) => c.reason)).toEqual([
      'FieldValueInvalid',
      'FieldValueInvalid',
      'FieldValueNotSupported',
      'FieldValueInvalid',
      'FieldValueInvalid',
    ]);
  });

  it('a JSON syntax error, and a file that cannot be read, are InvalidSpecErrors too', async () => {
    const bad = problems('{"maxVms": 3,}', '/etc/virtkit/agent.json');
    expect(bad.causes[0]?.field).toBe('(syntax)');
    expect(bad.message).toMatch(/^AgentConfig "\/etc\/virtkit\/agent\.json" is invalid: \(syntax\): /);
    const missing = join(dir, 'missing.yaml');
    const e = await readAgentConfig(missing).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidSpecError);
    expect((e as InvalidSpecError).causes).toEqual([
      { field: '(file)', reason: 'FieldValueInvalid', message: 'cannot be read (ENOENT)' },
    ]);
    expect((e as Error).message).toContain(`${AGENT_CONFIG_KIND} "${missing}"`);
  });
});

describe('virtkit agent --config', () => {
  // The signal is never reached: a bad config stops the agent before it starts anything.
  const io = (env: Record<string, string | undefined> = {}) => cliIo(env, AbortSignal.abort());
  const agentArgs = ['agent', '--sim', '--node-name', 'n1', '--host', '127.0.0.1', '--port', '0'];

  it('exits non-zero on a bad file, naming every bad field, one per line', async () => {
    const path = await file(
      'bad-agent.yaml',
      'imageTranslations: [{translations: [{regexp: "(x", url: "https://x.io/$1"}]}]\nmaxVms: 0\n',
    );
    const r = io({ VIRTKIT_AGENT_TOKEN: 't' });
    expect(await runCli([...agentArgs, '--config', path], r.io)).toBe(1);
    const err = r.err.join('');
    expect(err).toContain(`error: AgentConfig "${path}" is invalid:\n`);
    expect(err).toMatch(/^ {2}imageTranslations\[0\]\.translations\[0\]\.regexp: does not compile/m);
    expect(err).toMatch(/^ {2}maxVms: must be a positive integer/m);
    expect(r.out.join('')).toBe('');
  });

  it('takes the file from $VIRTKIT_AGENT_CONFIG when --config is not given, and --config wins', async () => {
    const bad = await file('env-agent.yaml', 'hypervisor: xen\n');
    const r = io({ VIRTKIT_AGENT_TOKEN: 't', VIRTKIT_AGENT_CONFIG: bad });
    expect(await runCli(agentArgs, r.io)).toBe(1);
    expect(r.err.join('')).toBe(
      `error: AgentConfig "${bad}" is invalid: hypervisor: "xen" is not supported; supported: auto, kvm, qemu\n`,
    );
    const missing = join(dir, 'nope.yaml');
    const r2 = io({ VIRTKIT_AGENT_TOKEN: 't', VIRTKIT_AGENT_CONFIG: bad });
    expect(await runCli([...agentArgs, '--config', missing], r2.io)).toBe(1);
    expect(r2.err.join('')).toContain(`AgentConfig "${missing}" is invalid: (file): cannot be read (ENOENT)`);
  });

  it('is described in the agent help', async () => {
    const r = io();
    expect(await runCli(['agent', '--help'], r.io)).toBe(0);
    expect(r.out.join('')).toContain('--config PATH');
    expect(r.out.join('')).toContain('$VIRTKIT_AGENT_CONFIG');
  });
});

describe('virtkit up --libvirt --agent-config', () => {
  it('stops on a bad file before starting anything (exit 5, the field named), and needs --libvirt', async () => {
    const path = await file('up-agent.yaml', 'directImageUrls: sometimes\n');
    const kubeconfig = join(dir, 'up', 'kubeconfig');
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
      env: {},
      signal: AbortSignal.abort(),
    };
    expect(await runCli(['up', '--libvirt', '--agent-config', path, '--kubeconfig', kubeconfig], io)).toBe(5);
    expect(err.join('')).toContain(`AgentConfig "${path}" is invalid: directImageUrls: "sometimes" is not supported`);
    expect(out.join('')).toBe('');
    expect(existsSync(kubeconfig)).toBe(false);
    err.length = 0;
    expect(await runCli(['up', '--agent-config', path, '--kubeconfig', kubeconfig], io)).toBe(2);
    expect(err.join('')).toContain('--agent-config configures the --libvirt node');
    const help: string[] = [];
    expect(await runCli(['up', '--help'], { ...io, stdout: { write: (s: string) => help.push(s) } })).toBe(0);
    expect(help.join('')).toContain('--agent-config PATH');
  });
});

describe('virtkit agent --config on libvirt', () => {
  const SOCKET = '/var/run/libvirt/libvirt-sock';
  const vm = (name: string, image: string): VirtualMachine => ({
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: 'default' },
    spec: {
      runStrategy: 'Always',
      template: {
        spec: {
          domain: { memory: { guest: '64Mi' }, devices: { disks: [{ name: 'root', disk: { bus: 'virtio' } }] } },
          volumes: [{ name: 'root', containerDisk: { image } }],
        },
      },
    },
  });

  it('gives the real agent every setting: node labels, capacity, reserve, translations and the URL policy', async () => {
    if (!existsSync(SOCKET)) throw new Error(`no libvirtd socket at ${SOCKET}: run scripts/setup-libvirt.sh`);
    const h = await startCluster();
    // QEMU (as libvirt-qemu) must be able to traverse the agent's data dir.
    const work = await mkdtemp(join('/var/tmp', 'virtkit-agent-config-'));
    await chmod(work, 0o755);
    const stop = new AbortController();
    const quiet = { write: () => true };
    const cli = { stdout: quiet, stderr: quiet, env: { VIRTKIT_AGENT_TOKEN: 't' }, signal: stop.signal };
    // Its own node name: other runs may share this libvirtd, and an agent adopts its node's domains.
    const node = `cfg-${process.pid.toString(36)}`;
    const missing = join(work, 'no-such-guest.qcow2');
    const config = join(work, 'agent.yaml');
    await writeFile(
      config,
      `hypervisor: qemu
maxVms: 3
reserved: {cpu: 250m, memory: 1Gi}
labels: {virtkit.io/rack: r9}
directImageUrls: refuse
imageTranslations:
  - prefix: local
    translations: [{name: guest, url: "${pathToFileURL(missing).href}"}]
`,
    );
    const running: Promise<number>[] = [];
    try {
      const kubeconfig = join(work, 'kubeconfig');
      await h.server.kubeconfig(kubeconfig);
      const common = ['--namespace', 'virtkit-system', '--kubeconfig', kubeconfig];
      const agent = runCli(
        ['agent', '--node-name', node, '--host', '127.0.0.1', '--port', '0', '--data-dir', join(work, 'data')].concat(
          ['--libvirt-socket', SOCKET, '--config', config],
          common,
        ),
        cli,
      );
      const controller = runCli(['controller', '--core-nodes', ...common], cli);
      running.push(agent, controller);
      await eventually(
        async () => {
          const n = (await h.backing.tryGet('Node', undefined, node)) as Node | undefined;
          const ready = n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
          return ready && n?.metadata.labels?.['kubevirt.io/schedulable'] === 'true';
        },
        `node ${node} Ready and schedulable`,
        20_000,
      );
      const n = (await h.backing.get('Node', undefined, node)) as Node;
      expect(n.metadata.labels).toMatchObject({ 'virtkit.io/rack': 'r9', 'kubevirt.io/hypervisor': 'qemu' });
      expect(n.status?.capacity?.pods).toBe('3');
      const bytes = (q: string | undefined) => parseBytes(q ?? '0');
      expect(bytes(n.status?.capacity?.memory) - bytes(n.status?.allocatable?.memory)).toBe(1073741824n);

      await h.backing.create('VirtualMachine', vm('translated', 'local/guest'));
      await h.backing.create('VirtualMachine', vm('direct', 'https://images.example.com/x.img'));
      const failures = async () =>
        ((await h.backing.list('Event')).items as Event[])
          .filter((e) => e.reason === 'Failed')
          .map((e) => e.message ?? '');
      // The rule took local/guest to the file it names (not there); the spec's own URL was not fetched.
      await eventually(
        async () => (await failures()).some((m) => m.includes(missing)),
        'the translated image failing on the missing file',
        20_000,
      );
      await eventually(
        async () => (await failures()).some((m) => m.includes("directImageUrls: 'refuse'")),
        'the direct URL refused',
        20_000,
      );
      stop.abort();
      expect(await controller).toBe(0);
      expect(await agent).toBe(0);
    } finally {
      stop.abort();
      await Promise.allSettled(running);
      await h.close();
      await rm(work, { recursive: true, force: true });
    }
  }, 60_000);
});
