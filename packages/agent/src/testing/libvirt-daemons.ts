/**
 * Extra, independent libvirtd instances for tests: "two nodes on one machine". Each daemon runs in its
 * own mount namespace (`unshare --mount`) where its private directories are bind-mounted over
 * /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt, with its own
 * virtlogd, a distinct `host_uuid` (libvirt refuses to migrate to "the same host") and a TCP listener on
 * 127.0.0.1 for peer-to-peer migration. Its UNIX socket stays reachable from the test process at
 * `<baseDir>/run/libvirt-sock`, because the bind mount's source is an ordinary directory on the host.
 *
 * Needs root and the packages from scripts/setup-libvirt.sh. The system daemon's QEMU capability cache is
 * copied in, so a new daemon answers in well under a second instead of re-probing QEMU (~8 s).
 *
 * No shell is involved: the namespace is entered by `unshare` running this very module as a small
 * launcher (see the bottom of the file), which bind-mounts with `mount` and starts the daemons with
 * argument arrays.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LibvirtClient } from '../rpc/client.ts';
import { ListFlags } from '../rpc/constants.ts';

export interface LibvirtDaemonOptions {
  /** Label used in directory names and messages. Default `node`. */
  name?: string;
  /** Directory holding the daemon's etc/run/lib/log/cache; default a fresh one under the temp dir. */
  baseDir?: string;
  /** TCP port on 127.0.0.1; default a free port. */
  tcpPort?: number;
  /** Default a random UUID. */
  hostUuid?: string;
  /** libvirtd's keepalive toward its clients (`keepalive_interval`/`keepalive_count`); default 5 s × 5. */
  keepaliveIntervalSec?: number;
  keepaliveCount?: number;
  /** How long to wait for the socket to answer; default 60 s. */
  readyTimeoutMs?: number;
  /** Keep `baseDir` (logs) after `stop()`; default false. */
  keepFiles?: boolean;
}

export interface LibvirtDaemon {
  name: string;
  /** UNIX socket of this daemon, reachable from the calling process. */
  socketPath: string;
  /** `qemu+tcp://127.0.0.1:<port>/system`: what another daemon uses as migration destination. */
  tcpUri: string;
  tcpPort: number;
  hostUuid: string;
  baseDir: string;
  /** libvirtd's pid. */
  pid: number;
  /** libvirtd's log file (outside the namespace). */
  logFile: string;
  /** Destroys the daemon's running domains, stops libvirtd and virtlogd, removes `baseDir` unless kept. */
  stop(): Promise<void>;
  /**
   * Restarts libvirtd alone, as a crash or a package upgrade would: `signal` (default SIGKILL) to the daemon,
   * then, once it is gone and `whileDown` has run, a new libvirtd over the same directories (in a new mount
   * namespace). QEMU processes and virtlogd keep running, and the new daemon reconnects to the running
   * domains. `pid` is the new daemon's afterwards.
   *
   * It resolves once the new daemon answers, which (libvirt 9.0) is before it has finished reconnecting to
   * those domains (one thread each, holding the domain's job): a call on such a domain meanwhile waits for
   * that, a destroy may then fail with "domain is not running", and a domain whose reconnect fails is shut
   * off without any lifecycle event.
   */
  restart(options?: { signal?: 'SIGKILL' | 'SIGTERM'; whileDown?: () => Promise<void> }): Promise<void>;
}

const SYSTEM = {
  etc: '/etc/libvirt',
  run: '/run/libvirt',
  lib: '/var/lib/libvirt',
  log: '/var/log/libvirt',
  cache: '/var/cache/libvirt',
} as const;
type DirKey = keyof typeof SYSTEM;
const DIR_KEYS = Object.keys(SYSTEM) as DirKey[];
/** Config files copied from the system instance; domain definitions (etc/libvirt/qemu/*.xml) are not. */
const CONF_FILES = ['libvirtd.conf', 'qemu.conf', 'virtlogd.conf', 'libvirt.conf', 'libvirt-admin.conf'];

const execFileAsync = promisify(execFile);
const live = new Map<number, { baseDir: string; virtlogdPid: number | undefined }>();
let exitHookInstalled = false;

/** Starts one extra libvirtd (and its virtlogd) in its own mount namespace. */
export async function startLibvirtDaemon(options: LibvirtDaemonOptions = {}): Promise<LibvirtDaemon> {
  if (process.getuid?.() !== 0) {
    throw new Error('startLibvirtDaemon needs root (run `./dev test` as root; it sets libvirt up)');
  }
  for (const bin of ['/usr/sbin/libvirtd', '/usr/sbin/virtlogd', '/usr/bin/unshare', '/usr/bin/qemu-system-x86_64']) {
    if (!existsSync(bin)) {
      throw new Error(`${bin} is missing: run scripts/setup-libvirt.sh as root (\`./dev test\` does it)`);
    }
  }
  const name = options.name ?? 'node';
  if (!/^[A-Za-z0-9_.-]{1,40}$/.test(name)) throw new Error(`bad daemon name ${JSON.stringify(name)}`);
  const baseDir = options.baseDir ?? mkdtempSync(join(tmpdir(), `virtkit-libvirtd-${name}-`));
  // QEMU runs as libvirt-qemu and must traverse into lib/ (monitor sockets, domain dirs).
  chmodSync(baseDir, 0o755);
  const dirs = Object.fromEntries(DIR_KEYS.map((k) => [k, join(baseDir, k)])) as Record<DirKey, string>;
  for (const k of DIR_KEYS) mkdirSync(dirs[k], { recursive: true, mode: 0o755 });
  mkdirSync(join(dirs.etc, 'qemu'), { recursive: true });

  const tcpPort = options.tcpPort ?? (await freePort());
  const hostUuid = options.hostUuid ?? randomUUID();
  writeConfig(dirs.etc, {
    hostUuid,
    tcpPort,
    keepaliveIntervalSec: options.keepaliveIntervalSec ?? 5,
    keepaliveCount: options.keepaliveCount ?? 5,
  });
  seedCapabilityCache(dirs.cache);

  const libvirtdPidFile = join(baseDir, 'libvirtd.pid');
  const virtlogdPidFile = join(baseDir, 'virtlogd.pid');
  const launch: LaunchSpec = {
    mounts: DIR_KEYS.map((k) => [dirs[k], SYSTEM[k]]),
    libvirtdPidFile,
    virtlogdPidFile,
  };
  const self = fileURLToPath(import.meta.url);
  const nodeArgs = self.endsWith('.ts') ? ['--conditions=@virtkit/source'] : [];
  const runLauncher = async (spec: LaunchSpec, what: string) => {
    try {
      await execFileAsync(
        '/usr/bin/unshare',
        ['--mount', '--propagation', 'private', process.execPath, ...nodeArgs, self, LAUNCH_FLAG, JSON.stringify(spec)],
        { encoding: 'utf8', timeout: 60_000 },
      );
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${what} libvirtd ${name} failed: ${e.stderr || e.stdout || e.message}${logTail(dirs.log)}`, {
        cause: err,
      });
    }
  };
  await runLauncher(launch, 'starting');
  const pid = readPid(libvirtdPidFile);
  const virtlogdPid = readPidOrUndefined(virtlogdPidFile);
  live.set(pid, { baseDir, virtlogdPid });
  installExitHook();

  const socketPath = join(dirs.run, 'libvirt-sock');
  const daemon: LibvirtDaemon = {
    name,
    socketPath,
    tcpUri: `qemu+tcp://127.0.0.1:${tcpPort}/system`,
    tcpPort,
    hostUuid,
    baseDir,
    pid,
    logFile: join(dirs.log, 'libvirtd.log'),
    stop: () => stopDaemon(daemon, virtlogdPid, options.keepFiles ?? false),
    restart: async (how = {}) => {
      const old = daemon.pid;
      if (alive(old)) {
        process.kill(old, how.signal ?? 'SIGKILL');
        if (!(await waitForExit(old, 15_000))) {
          process.kill(old, 'SIGKILL');
          await waitForExit(old, 5_000);
        }
      }
      await how.whileDown?.();
      // virtlogd is still running (it holds the guests' console logs): only libvirtd starts again.
      await runLauncher({ mounts: launch.mounts, libvirtdPidFile }, 'restarting');
      const pid = readPid(libvirtdPidFile);
      live.delete(old);
      live.set(pid, { baseDir, virtlogdPid });
      daemon.pid = pid;
      await waitUntilAnswers(socketPath, pid, options.readyTimeoutMs ?? 60_000, dirs.log);
    },
  };
  try {
    await waitUntilAnswers(socketPath, pid, options.readyTimeoutMs ?? 60_000, dirs.log);
  } catch (err) {
    await daemon.stop().catch(() => {});
    throw err;
  }
  return daemon;
}

/** Starts `count` daemons named `<prefix>0`, `<prefix>1`... in parallel. */
export function startLibvirtDaemons(count: number, prefix = 'node', options: Omit<LibvirtDaemonOptions, 'name'> = {}) {
  return Promise.all(
    Array.from({ length: count }, (_, i) => startLibvirtDaemon({ ...options, name: `${prefix}${i}` })),
  );
}

// --- configuration ------------------------------------------------------------------------------

/** Sets `key = value` in a libvirt config text: replaces the first (possibly commented) line, else appends. */
export function setConfValue(text: string, key: string, value: string): string {
  const line = `${key} = ${value}`;
  const re = new RegExp(`^[ \\t]*#?[ \\t]*${key}[ \\t]*=.*$`, 'm');
  return re.test(text) ? text.replace(re, line) : `${text.replace(/\n?$/, '\n')}${line}\n`;
}

function writeConfig(
  etc: string,
  c: { hostUuid: string; tcpPort: number; keepaliveIntervalSec: number; keepaliveCount: number },
): void {
  for (const f of CONF_FILES) {
    const src = join(SYSTEM.etc, f);
    if (existsSync(src)) copyFileSync(src, join(etc, f));
    else writeFileSync(join(etc, f), '');
  }
  const settings: Array<[string, string]> = [
    ['host_uuid', `"${c.hostUuid}"`],
    ['listen_tls', '0'],
    ['listen_tcp', '1'],
    ['auth_tcp', '"none"'],
    ['listen_addr', '"127.0.0.1"'],
    ['tcp_port', `"${c.tcpPort}"`],
    ['keepalive_interval', String(c.keepaliveIntervalSec)],
    ['keepalive_count', String(c.keepaliveCount)],
    ['log_outputs', '"3:file:/var/log/libvirt/libvirtd.log"'],
  ];
  let conf = readFileSync(join(etc, 'libvirtd.conf'), 'utf8');
  for (const [k, v] of settings) conf = setConfValue(conf, k, v);
  writeFileSync(join(etc, 'libvirtd.conf'), conf);
  // Daemons on one machine share the cgroup tree; without controllers their machine cgroups cannot collide.
  const qemu = setConfValue(readFileSync(join(etc, 'qemu.conf'), 'utf8'), 'cgroup_controllers', '[ ]');
  writeFileSync(join(etc, 'qemu.conf'), qemu);
}

/** Copies the system daemon's QEMU capability cache (same binaries, same host): skips the ~8 s probe. */
function seedCapabilityCache(cache: string): void {
  const src = join(SYSTEM.cache, 'qemu', 'capabilities');
  if (!existsSync(src)) return;
  cpSync(src, join(cache, 'qemu', 'capabilities'), { recursive: true });
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for a server that must keep one port across restarts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

// --- lifecycle ----------------------------------------------------------------------------------

function readPidOrUndefined(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function readPid(file: string): number {
  const pid = readPidOrUndefined(file);
  if (pid === undefined) throw new Error(`no pid in ${file}`);
  return pid;
}

/** Running (a zombie counts as gone: PID 1 here reaps orphans only now and then). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function logTail(logDir: string): string {
  try {
    const lines = readFileSync(join(logDir, 'libvirtd.log'), 'utf8').trimEnd().split('\n');
    return `\n--- libvirtd.log (last lines) ---\n${lines.slice(-15).join('\n')}`;
  } catch {
    return '';
  }
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitUntilAnswers(socketPath: string, pid: number, timeoutMs: number, logDir: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < deadline) {
    if (!alive(pid)) throw new Error(`libvirtd (pid ${pid}) exited during start-up${logTail(logDir)}`);
    if (existsSync(socketPath)) {
      try {
        const c = await LibvirtClient.connect({ socketPath, keepalive: false });
        await c.getVersion();
        await c.close();
        return;
      } catch (err) {
        last = err;
      }
    }
    await pause(50);
  }
  throw new Error(`libvirtd at ${socketPath} did not answer within ${timeoutMs} ms: ${String(last)}${logTail(logDir)}`);
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!alive(pid)) return true;
    await pause(20);
  }
  return !alive(pid);
}

async function stopDaemon(d: LibvirtDaemon, virtlogdPid: number | undefined, keepFiles: boolean): Promise<void> {
  if (!live.has(d.pid)) return;
  // QEMU outlives libvirtd: destroy the domains first, through the daemon that owns them.
  if (alive(d.pid)) {
    try {
      const c = await LibvirtClient.connect({ socketPath: d.socketPath, keepalive: false, connectTimeoutMs: 2000 });
      try {
        // Each destroy waits ~1.5 s for QEMU to exit: overlap them.
        const active = await c.listAllDomains(ListFlags.Active);
        await Promise.all(active.map((dom) => c.destroy(dom).catch(() => {})));
      } finally {
        await c.close();
      }
    } catch {
      // Daemon not answering: the pid files below still let us end its QEMU processes.
    }
  }
  killQemus(d.baseDir);
  // libvirtd takes ~1.7 s to shut down on SIGTERM; virtlogd is stopped alongside, not after it.
  await Promise.all(
    [d.pid, virtlogdPid].map(async (pid) => {
      if (pid === undefined || !alive(pid)) return;
      process.kill(pid, 'SIGTERM');
      if (!(await waitForExit(pid, 15_000))) {
        process.kill(pid, 'SIGKILL');
        await waitForExit(pid, 5_000);
      }
    }),
  );
  live.delete(d.pid);
  if (!keepFiles) rmSync(d.baseDir, { recursive: true, force: true });
}

/** Sends SIGKILL to QEMU processes this daemon started (pid files under run/qemu). */
function killQemus(baseDir: string): void {
  const dir = join(baseDir, 'run', 'qemu');
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.pid'));
  } catch {
    return;
  }
  for (const f of files) {
    const pid = readPidOrUndefined(join(dir, f));
    if (pid !== undefined && alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Last resort when a test process exits without stopping its daemons: end them (synchronously). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [pid, { baseDir, virtlogdPid }] of live) {
      killQemus(baseDir);
      for (const p of [pid, virtlogdPid]) {
        if (p !== undefined && alive(p)) {
          try {
            process.kill(p, 'SIGTERM');
          } catch {
            // already gone
          }
        }
      }
    }
  });
}

// --- launcher (runs inside the new mount namespace) ---------------------------------------------

const LAUNCH_FLAG = '--virtkit-launch-libvirtd';

interface LaunchSpec {
  /** [source on the host, target inside the namespace]. */
  mounts: Array<[string, string]>;
  libvirtdPidFile: string;
  /** Absent when virtlogd is already running (a restart of libvirtd alone). */
  virtlogdPidFile?: string;
}

function launch(spec: LaunchSpec): void {
  for (const [src, dst] of spec.mounts) {
    mkdirSync(dst, { recursive: true });
    execFileSync('/usr/bin/mount', ['--bind', src, dst], { stdio: 'inherit' });
  }
  // Both daemonize (-d): the parent exits once the child is set up, leaving it in this namespace.
  if (spec.virtlogdPidFile)
    execFileSync('/usr/sbin/virtlogd', ['-d', '-p', spec.virtlogdPidFile], { stdio: 'inherit' });
  execFileSync('/usr/sbin/libvirtd', ['-d', '--listen', '-p', spec.libvirtdPidFile], { stdio: 'inherit' });
}

if (process.argv[2] === LAUNCH_FLAG && process.argv[1] === fileURLToPath(import.meta.url)) {
  launch(JSON.parse(process.argv[3] ?? '{}') as LaunchSpec);
}
