import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  type Clock,
  type DomainDefinition,
  type DomainEvent,
  type DomainInfo,
  type DomainState,
  DriverError,
  type DriverErrorReason,
  type LifecycleEvent,
  type MigrateOptions,
  type MigrationProgress,
  type MigrationResult,
  type NodeDriver,
  type NodeDriverRegistry,
  type NodeInfo,
  RealClock,
  type TimerHandle,
  type Unsubscribe,
} from '@virtkit/engine';
import { CloudInitError } from '../cloud-init/nocloud.ts';
import { testGuest } from '../guest/test-guest.ts';
import { ImageError, ImageStore } from '../images/image-store.ts';
import type { ImageTranslationConfig } from '../images/translation.ts';
import type { DirectImageUrlPolicy } from '../images/url-policy.ts';
import { probeKvm } from '../kvm/probe.ts';
import { type ConnectOptions, LibvirtClient, type LifecycleEventMessage } from '../rpc/client.ts';
import { JobStatsFlags, MigrateFlags, MigrateParam, XmlFlags } from '../rpc/constants.ts';
import { LibvirtError, toDriverError } from '../rpc/errors.ts';
import { buildDomainXml, type DomainMetadata, readDomainMetadata, VIRTKIT_XMLNS } from '../xml/domain-xml.ts';
import { checkDomainName, checkPathComponent, UnsafeValueError } from '../xml/escape.ts';
import { ConsoleTail, readLastLines } from './console-tail.ts';
import { initialState, type NormaliserState, normalise } from './event-normaliser.ts';
import { prepareDomain } from './prepare.ts';

export interface LibvirtNodeDriverOptions {
  nodeName: string;
  /** How to reach the node's libvirtd (UNIX socket by default, `qemu:///system`). */
  libvirt?: ConnectOptions;
  /** Agent state: `images/` (Virtlet layout), `domains/<uid>/` (overlays, cloud-init ISO, console log). */
  dataDir: string;
  imageTranslations?: ImageTranslationConfig[];
  /**
   * What an image URL written straight into a VM spec (no translation rule) may reach: `public` (default)
   * refuses loopback, private, link-local (cloud metadata) and other non-public addresses, `any` allows
   * all, `refuse` allows only images a translation rule names.
   */
  directImageUrls?: DirectImageUrlPolicy;
  /** Roots that `hostDisk` paths must lie under; none by default (hostDisk refused). */
  hostDiskRoots?: string[];
  /** Console line meaning "guest ready" when the definition gives none. */
  readinessLine?: RegExp;
  clock?: Clock;
  /**
   * `auto` (default) probes whether /dev/kvm can really boot a guest, `kvm`/`qemu` force the domain type.
   * The probe boots `kvmProbeKernel` (default: the test guest's kernel) and its verdict is cached in
   * `probeCacheDir` (default `/var/cache/virtkit`).
   */
  hypervisor?: 'auto' | 'kvm' | 'qemu';
  kvmProbeKernel?: string;
  probeCacheDir?: string;
  /** What the node keeps for itself; subtracted from capacity to give allocatable. */
  reserved?: { cpuMillis?: number; memoryBytes?: number };
  maxVms?: number;
  labels?: Record<string, string>;
  /** libvirt URI other nodes' daemons use to reach this one (`qemu+tcp://127.0.0.1:16509/system`). */
  migrationUri?: string;
  /** Resolves a target node name to its driver (for its `migrationUri` and capacity). */
  peers?: NodeDriverRegistry | ((nodeName: string) => NodeDriver | undefined);
  /** Console lines kept per domain for `console()` backlogs. */
  consoleBacklog?: number;
  /** How often job statistics are sampled during a migration. */
  migrationPollMs?: number;
  /** How long a call waits for the daemon's lifecycle event confirming it. */
  eventTimeoutMs?: number;
  /**
   * How often running domains are checked for a stop libvirt never announced (default 5 s; see
   * `#checkSilentStops`). A stop is reported once seen on two checks in a row.
   */
  silentStopCheckMs?: number;
}

/** Matches the test guest's ready line and cloud-init's final message. */
export const DEFAULT_READINESS = /virtkit-guest ready|Cloud-init v\. \S+ finished/;

interface Tracked {
  id: string;
  uid: string;
  meta: DomainMetadata;
  norm: NormaliserState;
  guestReady: boolean;
  readiness: (line: string) => boolean;
  tail?: ConsoleTail | undefined;
  backlog: string[];
  consoleSubs: Set<(line: string | null) => void>;
  migration?: MigrationProgress | undefined;
  migrationTarget?: string | undefined;
  /** Stopped/Migrated held back until the migration call reported completion. */
  heldStop?: LifecycleEvent | undefined;
  /** Arriving by migration, not yet running here. */
  incoming?: boolean;
  /** Serialises event handling and operations for one domain. */
  chain: Promise<void>;
  /** The last silent-stop check found libvirt showing it shut off while the agent has it running. */
  offUnheard?: boolean;
}

interface EventWaiter {
  domain: string;
  match: (e: LifecycleEvent) => boolean;
  resolve: () => void;
}

const STATE_FILE = 'agent-state.json';

/** How long a domain libvirt shows shut off may take to have its Stopped event arrive before the agent reports it. */
const SILENT_STOP_GRACE_MS = 1000;

/** The canonical detail of a stop, from libvirt's shut-off reason; `otherwise` for daemon, unknown, failed. */
function stoppedDetail(reason: string | undefined, otherwise: 'Failed' | 'Destroyed'): string {
  switch (reason) {
    case 'shutdown':
      return 'Shutdown';
    case 'destroyed':
      return 'Destroyed';
    case 'crashed':
      return 'Crashed';
    case 'migrated':
      return 'Migrated';
    default:
      return otherwise;
  }
}

/**
 * The node agent: a NodeDriver over a real libvirtd, spoken to with the pure TypeScript RPC client.
 * It prepares images and cloud-init seeds, defines domains whose metadata carries the VMI uid (so a
 * restarted agent adopts them without touching them), normalises libvirt's events to the port's
 * canonical sequences, streams the serial console from the log QEMU appends to, and migrates peer-to-peer.
 */
export class LibvirtNodeDriver implements NodeDriver {
  readonly nodeName: string;
  readonly dataDir: string;
  readonly images: ImageStore;
  readonly #opts: LibvirtNodeDriverOptions;
  readonly #clock: Clock;
  readonly #listeners = new Set<(e: DomainEvent) => void>();
  readonly #tracked = new Map<string, Tracked>();
  readonly #waiters = new Set<EventWaiter>();
  readonly #locks = new Map<string, Promise<unknown>>();
  #client: LibvirtClient | undefined;
  #connecting: Promise<LibvirtClient> | undefined;
  #hypervisor: { hypervisor: 'kvm' | 'qemu'; emulationReason?: string } | undefined;
  #closed = false;

  constructor(options: LibvirtNodeDriverOptions) {
    this.nodeName = options.nodeName;
    this.dataDir = resolve(options.dataDir);
    this.#opts = options;
    this.#clock = options.clock ?? new RealClock();
    this.images = new ImageStore({ dir: join(this.dataDir, 'images'), hostDiskRoots: options.hostDiskRoots ?? [] });
  }

  /** Creates a driver and connects it (adopting the node's existing domains). */
  static async open(options: LibvirtNodeDriverOptions): Promise<LibvirtNodeDriver> {
    const d = new LibvirtNodeDriver(options);
    await d.connect();
    return d;
  }

  // --- connection and adoption -------------------------------------------------------------------

  /** Connects, subscribes to events and adopts existing domains. Called lazily by every method. */
  connect(): Promise<LibvirtClient> {
    if (this.#closed) return Promise.reject(this.#error('NodeUnreachable', 'driver is closed'));
    if (this.#client && !this.#client.closed) return Promise.resolve(this.#client);
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<LibvirtClient> {
    let client: LibvirtClient;
    try {
      await mkdir(join(this.dataDir, 'domains'), { recursive: true, mode: 0o755 });
      client = await LibvirtClient.connect({ connectTimeoutMs: 10_000, ...this.#opts.libvirt });
    } catch (err) {
      throw this.#wrap(err, 'NodeUnreachable');
    }
    try {
      await client.onLifecycleEvent((e) => this.#onRaw(e));
      await client.onRebootEvent((dom) => this.#onReboot(dom.name));
      await this.#adopt(client);
    } catch (err) {
      client.abort();
      throw this.#wrap(err);
    }
    this.#client = client;
    client.onClose(() => this.#reconnectLater(1000));
    await this.#resync(client);
    this.#armSilentStopCheck();
    return client;
  }

  #silentStopTimer: TimerHandle | undefined;

  #armSilentStopCheck(): void {
    if (this.#closed || this.#silentStopTimer) return;
    this.#silentStopTimer = this.#clock.setTimer(this.#opts.silentStopCheckMs ?? 5000, () => {
      const client = this.#client;
      const run = client && !client.closed ? this.#checkSilentStops(client) : Promise.resolve();
      void run
        .catch(() => undefined)
        .finally(() => {
          this.#silentStopTimer = undefined;
          this.#armSilentStopCheck();
        });
    });
  }

  /**
   * libvirt (9.0) stops a domain without any event when a restarted daemon cannot finish reconnecting to
   * its QEMU (qemuProcessReconnect's error path, e.g. the QEMU died while the daemon was down). The relist
   * at reconnect can run while that is still under way and read the domain as running. So running domains
   * are looked at now and then, as a kubelet relists: a domain libvirt shows shut off on two checks in a
   * row (any event on its way has long arrived) while the agent never reported its stop is reported
   * stopped. Domains busy with an operation are left to it.
   */
  async #checkSilentStops(client: LibvirtClient): Promise<void> {
    for (const t of [...this.#tracked.values()]) {
      if (t.incoming || t.norm.phase === 'off' || this.#locks.has(t.id)) {
        t.offUnheard = false;
        continue;
      }
      const st = await client.getState(t.id).catch(() => undefined);
      if (st?.state !== 'shutoff' && st?.state !== 'crashed') {
        t.offUnheard = false;
        continue;
      }
      if (!t.offUnheard) {
        t.offUnheard = true;
        continue;
      }
      t.offUnheard = false;
      const detail = stoppedDetail(st.reason, 'Failed');
      const apply = () => {
        if (t.norm.phase !== 'off' && this.#tracked.get(t.id) === t && !this.#locks.has(t.id))
          this.#applySynthetic(t, { event: 'Stopped', detail });
      };
      t.chain = t.chain.then(apply, apply);
      await t.chain;
    }
  }

  /**
   * After the connection to libvirtd dropped (daemon restart), keep trying to get it back, so guest
   * events are not missed for long; what happened meanwhile is caught up by `#resync`.
   */
  #reconnectLater(delayMs: number): void {
    if (this.#closed || this.#reconnectTimer) return;
    this.#reconnectTimer = this.#clock.setTimer(delayMs, () => {
      this.#reconnectTimer = undefined;
      if (this.#closed || (this.#client && !this.#client.closed)) return;
      this.connect().catch(() => this.#reconnectLater(Math.min(delayMs * 2, 10_000)));
    });
  }

  #reconnectTimer: TimerHandle | undefined;

  /** Emits what the agent missed while it was not connected: stops, boots, pauses, removals. */
  async #resync(client: LibvirtClient): Promise<void> {
    for (const t of [...this.#tracked.values()]) {
      if (t.incoming) continue;
      const st = await client.getState(t.id).catch((err) => {
        if (toDriverError(err, this.nodeName).reason === 'DomainNotFound') return undefined;
        throw this.#wrap(err);
      });
      const phase = !st
        ? 'off'
        : st.state === 'paused'
          ? 'paused'
          : st.state === 'shutoff' || st.state === 'crashed'
            ? 'off'
            : 'running';
      const before = t.norm.phase;
      if (before !== 'off' && phase === 'off') {
        this.#applySynthetic(t, { event: 'Stopped', detail: stoppedDetail(st?.reason, 'Failed') });
      } else if (before === 'off' && phase !== 'off') {
        this.#applySynthetic(t, { event: 'Started', detail: 'Booted' });
        if (phase === 'paused') this.#applySynthetic(t, { event: 'Suspended', detail: 'Paused' });
      } else if (before === 'running' && phase === 'paused') {
        this.#applySynthetic(t, { event: 'Suspended', detail: 'Paused' });
      } else if (before === 'paused' && phase === 'running') {
        this.#applySynthetic(t, { event: 'Resumed', detail: 'Unpaused' });
      }
      if (!st) {
        this.#emitLifecycle(t, { event: 'Undefined', detail: 'Removed' });
        await this.#forget(t, false);
      }
    }
  }

  /**
   * libvirt says the domain is shut off: make sure its stop was reported. Usually libvirt's Stopped event
   * is on its way and is waited for; but libvirt (9.0) also stops a domain without any event, when a
   * restarted daemon cannot finish reconnecting to its QEMU (qemuProcessReconnect's error path), and then
   * the agent reports the stop itself.
   */
  async #settleStop(t: Tracked, detail: string): Promise<void> {
    if (t.norm.phase === 'off') return;
    const stopped = this.#waitFor(t.id, (e) => e.event === 'Stopped', SILENT_STOP_GRACE_MS);
    const heard = await stopped.done.then(
      () => true,
      () => false,
    );
    if (heard) return;
    // Behind any raw event of this domain already queued.
    const apply = () => {
      if (t.norm.phase !== 'off' && this.#tracked.get(t.id) === t)
        this.#applySynthetic(t, { event: 'Stopped', detail });
    };
    t.chain = t.chain.then(apply, apply);
    await t.chain;
  }

  #applySynthetic(t: Tracked, e: { event: string; detail: string }): void {
    this.#applyRaw(t, { domain: { name: t.id, uuid: '', id: -1 }, eventCode: -1, detailCode: -1, ...e });
  }

  /**
   * Takes over the domains this node's agent defined earlier (its metadata names this node): running
   * ones keep running, their console is followed from where it is now, readiness is restored from the
   * per-domain state file.
   */
  async #adopt(client: LibvirtClient): Promise<void> {
    for (const dom of await client.listAllDomains()) {
      if (this.#tracked.has(dom.name)) continue;
      let xml: string;
      try {
        xml = await client.getXMLDesc(dom);
      } catch {
        continue; // vanished meanwhile
      }
      const meta = readDomainMetadata(xml);
      if (!meta || !this.#owns(meta)) continue;
      const st = await client.getState(dom);
      const phase =
        st.state === 'running' || st.state === 'blocked' ? 'running' : st.state === 'paused' ? 'paused' : 'off';
      const t = this.#track(dom.name, meta, phase);
      if (phase !== 'off') {
        const saved = await this.#readState(meta);
        t.guestReady = saved?.guestReady ?? false;
        t.backlog = await readLastLines(meta.consoleLog, saved?.bootOffset ?? 0, this.#backlogSize());
        const size = await fileSize(meta.consoleLog);
        this.#startTail(t, size);
      }
    }
  }

  /** A domain belongs to this agent when its metadata says so (set at define and on migration). */
  #owns(meta: DomainMetadata): boolean {
    return meta.node === this.nodeName;
  }

  #track(id: string, meta: DomainMetadata, phase: NormaliserState['phase']): Tracked {
    const line = meta.readinessLine;
    const re = this.#opts.readinessLine ?? DEFAULT_READINESS;
    const t: Tracked = {
      id,
      uid: meta.uid,
      meta,
      norm: initialState(phase),
      guestReady: false,
      readiness: line !== undefined ? (l) => l.includes(line) : (l) => re.test(l),
      backlog: [],
      consoleSubs: new Set(),
      chain: Promise.resolve(),
    };
    this.#tracked.set(id, t);
    return t;
  }

  /** The domain type for this node, decided once (concurrent callers share one probe). */
  #ensureHypervisor(): Promise<{ hypervisor: 'kvm' | 'qemu'; emulationReason?: string }> {
    this.#hvDecision ??= this.#decideHypervisor();
    return this.#hvDecision;
  }

  #hvDecision: Promise<{ hypervisor: 'kvm' | 'qemu'; emulationReason?: string }> | undefined;

  async #decideHypervisor(): Promise<{ hypervisor: 'kvm' | 'qemu'; emulationReason?: string }> {
    if (this.#hypervisor) return this.#hypervisor;
    const mode = this.#opts.hypervisor ?? 'auto';
    if (mode !== 'auto') {
      this.#hypervisor =
        mode === 'kvm'
          ? { hypervisor: 'kvm' }
          : { hypervisor: 'qemu', emulationReason: 'software emulation configured' };
      return this.#hypervisor;
    }
    try {
      const kernel = this.#opts.kvmProbeKernel ?? (await testGuest()).kernel;
      const r = await probeKvm({ kernel, cacheDir: this.#opts.probeCacheDir ?? '/var/cache/virtkit' });
      this.#hypervisor =
        r.hypervisor === 'kvm'
          ? { hypervisor: 'kvm' }
          : { hypervisor: 'qemu', emulationReason: r.emulationReason ?? 'KVM probe failed' };
    } catch (err) {
      this.#hypervisor = { hypervisor: 'qemu', emulationReason: `KVM probe could not run: ${(err as Error).message}` };
    }
    return this.#hypervisor;
  }

  // --- NodeDriver: node ----------------------------------------------------------------------------

  async info(): Promise<NodeInfo> {
    const client = await this.connect();
    try {
      const [ni, libVersion, hvVersion, hv] = await Promise.all([
        client.nodeGetInfo(),
        client.getLibVersion(),
        client.getVersion(),
        this.#ensureHypervisor(),
      ]);
      const capacity = { cpuMillis: ni.cpus * 1000, memoryBytes: ni.memoryKiB * 1024, vms: this.#opts.maxVms ?? 110 };
      const reserved = this.#opts.reserved ?? {};
      const allocatable = {
        cpuMillis: Math.max(0, capacity.cpuMillis - (reserved.cpuMillis ?? 0)),
        memoryBytes: Math.max(0, capacity.memoryBytes - (reserved.memoryBytes ?? 256 * 1024 * 1024)),
        vms: capacity.vms,
      };
      return {
        name: this.nodeName,
        capacity,
        allocatable,
        labels: {
          'kubernetes.io/hostname': this.nodeName,
          'kubevirt.io/schedulable': 'true',
          ...(hv.hypervisor === 'kvm' ? { 'devices.kubevirt.io/kvm': '1' } : {}),
          ...this.#opts.labels,
        },
        hypervisor: hv.hypervisor,
        ...(hv.emulationReason ? { emulationReason: hv.emulationReason } : {}),
        versions: { libvirt: version(libVersion), qemu: version(hvVersion), agent: '0.1.0' },
        ...(this.#opts.migrationUri ? { migrationUri: this.#opts.migrationUri } : {}),
      };
    } catch (err) {
      throw this.#wrap(err);
    }
  }

  async ping(): Promise<void> {
    const client = await this.connect();
    try {
      await client.getLibVersion();
    } catch (err) {
      throw this.#wrap(err, 'NodeUnreachable');
    }
  }

  // --- NodeDriver: domains -------------------------------------------------------------------------

  defineDomain(definition: DomainDefinition): Promise<DomainInfo> {
    return this.#locked(definition.id, () => this.#define(definition));
  }

  async #define(def: DomainDefinition): Promise<DomainInfo> {
    const client = await this.connect();
    let uidDir: string;
    try {
      checkDomainName(def.id);
      uidDir = checkPathComponent(def.uid, 'uid');
    } catch (err) {
      throw this.#wrap(err);
    }
    const existing = this.#tracked.get(def.id);
    if (existing) {
      if (existing.uid === def.uid) return this.#domainInfo(client, existing);
      throw this.#error('DomainExists', `domain ${def.id} exists with uid ${existing.uid}, not ${def.uid}`);
    }
    try {
      await client.lookupByName(def.id);
      throw this.#error(
        'DomainExists',
        `a domain named ${def.id} exists on this node but was not defined by its agent`,
      );
    } catch (err) {
      if (err instanceof DriverError) throw err;
      if (!(err instanceof LibvirtError) || toDriverError(err, this.nodeName).reason !== 'DomainNotFound') {
        throw this.#wrap(err);
      }
    }
    const hv = await this.#ensureHypervisor();
    const allocatable = (await this.info()).allocatable;
    const emit = (e: Omit<Extract<DomainEvent, { type: 'image' }>, 'node' | 'domain' | 'uid' | 'at' | 'type'>) =>
      this.#emit({ type: 'image', node: this.nodeName, domain: def.id, uid: def.uid, at: this.#clock.now(), ...e });
    const domainDir = join(this.dataDir, 'domains', uidDir);
    let xml: string;
    let meta: DomainMetadata;
    try {
      const input = await prepareDomain(def, {
        domainDir,
        hypervisor: hv.hypervisor,
        images: this.images,
        translations: this.#opts.imageTranslations ?? [],
        ...(this.#opts.directImageUrls ? { directImageUrls: this.#opts.directImageUrls } : {}),
        onImage: (phase, p) =>
          emit({ phase, bytesDone: p.bytesDone, ...(p.bytesTotal !== undefined ? { bytesTotal: p.bytesTotal } : {}) }),
      });
      const used = [...this.#tracked.values()].reduce(
        (a, t) => ({ cpu: a.cpu + t.meta.cpuMillis, mem: a.mem + t.meta.memoryBytes, n: a.n + 1 }),
        { cpu: 0, mem: 0, n: 0 },
      );
      const need = input.metadata;
      if (
        used.cpu + need.cpuMillis > allocatable.cpuMillis ||
        used.mem + need.memoryBytes > allocatable.memoryBytes ||
        used.n + 1 > allocatable.vms
      ) {
        throw this.#error(
          'InsufficientResources',
          `domain ${def.id} needs ${need.cpuMillis}m CPU, ${need.memoryBytes} B memory and a VM slot; ` +
            `${allocatable.cpuMillis - used.cpu}m, ${allocatable.memoryBytes - used.mem} B and ` +
            `${allocatable.vms - used.n} slots are free`,
        );
      }
      meta = { ...input.metadata, node: this.nodeName };
      xml = buildDomainXml({ ...input, metadata: meta });
    } catch (err) {
      await rm(domainDir, { recursive: true, force: true });
      if (err instanceof ImageError && err.reason !== 'InvalidSpec') {
        emit({ phase: 'failed', error: { reason: err.reason, message: err.message } });
      }
      throw this.#wrap(err);
    }
    const t = this.#track(def.id, meta, 'off');
    const defined = this.#waitFor(def.id, (e) => e.event === 'Defined');
    try {
      await client.defineXML(xml);
    } catch (err) {
      this.#tracked.delete(def.id);
      defined.cancel();
      await rm(domainDir, { recursive: true, force: true });
      throw this.#wrap(err);
    }
    await defined.done;
    return this.#domainInfo(client, t);
  }

  startDomain(id: string): Promise<void> {
    return this.#locked(id, async () => {
      const client = await this.connect();
      const t = this.#require(id);
      const bootOffset = await fileSize(t.meta.consoleLog);
      await this.#writeState(t.meta, { bootOffset, guestReady: false });
      t.guestReady = false;
      t.backlog = [];
      const started = this.#waitFor(id, (e) => e.event === 'Started');
      try {
        await client.createDomain(id);
      } catch (err) {
        started.cancel();
        const e = this.#wrap(err);
        const blocked = /Permission denied/i.test(e.message) ? await untraversableAncestor(t.meta.dir) : undefined;
        if (blocked) {
          throw this.#error(
            e.reason,
            `${(err as Error).message} (QEMU runs as an unprivileged user and cannot enter ${blocked}: ` +
              'put the agent data dir where every parent directory is world-searchable, e.g. /var/lib/virtkit)',
            err,
          );
        }
        throw e;
      }
      await started.done;
    });
  }

  shutdownDomain(id: string): Promise<void> {
    return this.#locked(id, async () => {
      const client = await this.connect();
      this.#require(id);
      try {
        await client.shutdown(id);
      } catch (err) {
        throw this.#wrap(err);
      }
    });
  }

  destroyDomain(id: string): Promise<void> {
    return this.#locked(id, async () => {
      const client = await this.connect();
      const t = this.#tracked.get(id);
      if (!t) return;
      const st = await client.getState(id).catch((err) => {
        if (toDriverError(err, this.nodeName).reason === 'DomainNotFound') return undefined;
        throw this.#wrap(err);
      });
      if (!st) return;
      if (st.state === 'shutoff') {
        await this.#settleStop(t, stoppedDetail(st.reason, 'Failed'));
        return;
      }
      const stopped = this.#waitFor(id, (e) => e.event === 'Stopped');
      t.norm.destroying = true;
      try {
        await client.destroy(id);
      } catch (err) {
        stopped.cancel();
        t.norm.destroying = false;
        const e = this.#wrap(err);
        if (e.reason === 'DomainNotFound') return;
        if (e.reason !== 'InvalidState') throw e;
        // It stopped between our look and the destroy: that is what was asked, if it is off now. A destroy
        // racing a restarted libvirtd's reconnect to this QEMU kills it, then fails with "domain is not
        // running" (the reconnect failed and stopped it first, reason 'daemon', with no event at all).
        const now = await client.getState(id).catch(() => undefined);
        if (!now) return;
        if (now.state !== 'shutoff') throw e;
        await this.#settleStop(t, stoppedDetail(now.reason, 'Destroyed'));
        return;
      }
      await stopped.done;
    });
  }

  pauseDomain(id: string): Promise<void> {
    // libvirt accepts suspending a paused domain as a no-op that emits nothing; so does the agent.
    return this.#simple(
      id,
      (c) => c.suspend(id),
      (e) => e.event === 'Suspended',
      'paused',
    );
  }

  resumeDomain(id: string): Promise<void> {
    return this.#simple(
      id,
      (c) => c.resume(id),
      (e) => e.event === 'Resumed',
    );
  }

  rebootDomain(id: string): Promise<void> {
    return this.#locked(id, async () => {
      const client = await this.connect();
      const t = this.#require(id);
      const st = await client.getState(id).catch((err) => {
        throw this.#wrap(err);
      });
      if (st.state !== 'running') throw this.#error('InvalidState', `domain ${id} is ${st.state}, not running`);
      t.norm.rebooting = true;
      t.guestReady = false;
      await this.#writeState(t.meta, { bootOffset: t.tail?.offset ?? 0, guestReady: false });
      try {
        await client.reboot(id);
      } catch (err) {
        t.norm.rebooting = false;
        throw this.#wrap(err);
      }
    });
  }

  undefineDomain(id: string): Promise<void> {
    return this.#locked(id, async () => {
      const client = await this.connect();
      const t = this.#tracked.get(id);
      if (!t) return;
      let st: Awaited<ReturnType<LibvirtClient['getState']>> | undefined;
      try {
        st = await client.getState(id);
      } catch (err) {
        if (toDriverError(err, this.nodeName).reason !== 'DomainNotFound') throw this.#wrap(err);
      }
      if (st && st.state !== 'shutoff') throw this.#error('InvalidState', `domain ${id} is ${st.state}; stop it first`);
      if (st) {
        const gone = this.#waitFor(id, (e) => e.event === 'Undefined');
        try {
          await client.undefine(id);
        } catch (err) {
          gone.cancel();
          const e = this.#wrap(err);
          if (e.reason !== 'DomainNotFound') throw e;
        }
        await gone.done;
      }
      await this.#forget(t, true);
    });
  }

  async getDomain(id: string): Promise<DomainInfo | undefined> {
    const client = await this.connect();
    const t = this.#tracked.get(id);
    if (!t || t.incoming) return undefined;
    try {
      return await this.#domainInfo(client, t);
    } catch (err) {
      const e = this.#wrap(err);
      if (e.reason === 'DomainNotFound') return undefined;
      throw e;
    }
  }

  async listDomains(): Promise<DomainInfo[]> {
    const client = await this.connect();
    const out: DomainInfo[] = [];
    for (const t of [...this.#tracked.values()].sort((a, b) => a.id.localeCompare(b.id))) {
      if (t.incoming) continue;
      try {
        out.push(await this.#domainInfo(client, t));
      } catch (err) {
        if (this.#wrap(err).reason !== 'DomainNotFound') throw this.#wrap(err);
      }
    }
    return out;
  }

  async #domainInfo(client: LibvirtClient, t: Tracked): Promise<DomainInfo> {
    const [st, info] = await Promise.all([client.getState(t.id), client.getInfo(t.id)]);
    const hv = await this.#ensureHypervisor();
    return {
      id: t.id,
      uid: t.uid,
      state: st.state as DomainState,
      reason: st.reason,
      guestReady: t.guestReady && st.state !== 'shutoff',
      vcpus: info.vcpus,
      memoryBytes: info.maxMemoryKiB * 1024,
      hypervisor: hv.hypervisor,
      ...(t.migration ? { migration: { ...t.migration } } : {}),
    };
  }

  // --- migration -----------------------------------------------------------------------------------

  migrateDomain(id: string, targetNode: string, options: MigrateOptions = {}): Promise<MigrationResult> {
    return this.#locked(id, () => this.#migrate(id, targetNode, options));
  }

  #peer(name: string): NodeDriver | undefined {
    const p = this.#opts.peers;
    if (!p) return undefined;
    return typeof p === 'function' ? p(name) : p.get(name);
  }

  async #migrate(id: string, targetNode: string, options: MigrateOptions): Promise<MigrationResult> {
    const client = await this.connect();
    const t = this.#require(id);
    const st = await client.getState(id).catch((err) => {
      throw this.#wrap(err);
    });
    if (st.state !== 'running' && st.state !== 'paused') {
      throw this.#error('InvalidState', `domain ${id} is ${st.state}; only a running domain migrates live`);
    }
    if (targetNode === this.nodeName) throw this.#error('MigrationFailed', 'target is this node');
    const peer = this.#peer(targetNode);
    if (!peer) throw this.#error('MigrationFailed', `unknown target node ${targetNode}`);
    const target = await peer.info();
    if (!target.migrationUri) throw this.#error('MigrationFailed', `node ${targetNode} has no migrationUri`);
    const theirs = await peer.listDomains();
    const used = theirs.reduce((a, d) => ({ cpu: a.cpu + d.vcpus * 1000, mem: a.mem + d.memoryBytes }), {
      cpu: 0,
      mem: 0,
    });
    if (
      used.cpu + t.meta.cpuMillis > target.allocatable.cpuMillis ||
      used.mem + t.meta.memoryBytes > target.allocatable.memoryBytes ||
      theirs.length + 1 > target.allocatable.vms
    ) {
      throw this.#error('InsufficientResources', `node ${targetNode} cannot hold domain ${id}`);
    }
    const base = { type: 'migration' as const, node: this.nodeName, domain: id, uid: t.uid, targetNode };
    const startedAt = this.#clock.now();
    // The target's agent recognises the domain as its own by the node named in the metadata.
    let destXml: string;
    try {
      const xml = await client.getXMLDesc(id, XmlFlags.Migratable | XmlFlags.Secure);
      destXml = rewriteMetadataNode(xml, targetNode);
    } catch (err) {
      throw this.#wrap(err);
    }
    t.migrationTarget = targetNode;
    this.#emit({ ...base, at: startedAt, phase: 'started' });
    if (options.maxDowntimeMs !== undefined) {
      await client.migrateSetMaxDowntime(id, options.maxDowntimeMs).catch(() => undefined);
    }
    const hostOf = (uri: string) => {
      try {
        return new URL(uri).hostname || '127.0.0.1';
      } catch {
        return '127.0.0.1';
      }
    };
    const targetHost = hostOf(target.migrationUri);
    let aborted = false;
    let failure: string | undefined;
    let lastRemaining = Number.POSITIVE_INFINITY;
    let lastProgressAt = startedAt;
    let iterations = 0;
    let polling = true;
    // Stopping the sampler must not wait out its current sleep: the migration result would be late.
    const stopSampling = new AbortController();
    const poll = async () => {
      while (polling) {
        try {
          await this.#clock.sleep(this.#opts.migrationPollMs ?? 200, stopSampling.signal);
        } catch {
          break;
        }
        if (!polling) break;
        try {
          const js = await client.jobStats(id);
          if (js.type !== 'bounded' && js.type !== 'unbounded') continue;
          const p = toProgress(js.params);
          iterations = Math.max(iterations, p.iteration);
          t.migration = p;
          if (polling) this.#emit({ ...base, at: this.#clock.now(), phase: 'progress', progress: p });
          const now = this.#clock.now();
          if (p.dataRemaining < lastRemaining) {
            lastRemaining = p.dataRemaining;
            lastProgressAt = now;
          }
          const timedOut =
            (options.completionTimeoutMs !== undefined && now - startedAt > options.completionTimeoutMs) ||
            (options.progressTimeoutMs !== undefined && now - lastProgressAt > options.progressTimeoutMs);
          if (timedOut && !failure) {
            failure =
              options.completionTimeoutMs !== undefined && now - startedAt > options.completionTimeoutMs
                ? `not completed within ${options.completionTimeoutMs} ms`
                : `no progress for ${options.progressTimeoutMs} ms`;
            await client.abortJob(id).catch(() => undefined);
          }
        } catch {
          // The job ended between two samples.
        }
      }
    };
    const abortListener = () => {
      aborted = true;
    };
    this.#abortHooks.set(id, abortListener);
    const poller = poll();
    try {
      await client.migrateToURI(id, target.migrationUri, {
        // The disks stay where they are: nodes share the agent's storage (the same file system for agents
        // on one machine, shared storage otherwise — KubeVirt's RWX rule). libvirt cannot see that for
        // plain local paths and would refuse the migration as unsafe.
        // The source definition is removed by the agent afterwards, once it has read the completed job's
        // statistics (downtime): with UndefineSource they would vanish with the domain.
        flags: MigrateFlags.PersistDest | MigrateFlags.Unsafe,
        migrateUri: `tcp://${targetHost}`,
        listenAddress: targetHost,
        ...(options.bandwidthBytesPerSec !== undefined
          ? { bandwidthMiBs: Math.max(1, Math.round(options.bandwidthBytesPerSec / 1024 / 1024)) }
          : {}),
        params: [{ field: MigrateParam.DestXml, type: 'string', value: destXml }],
      });
    } catch (err) {
      polling = false;
      stopSampling.abort();
      await poller;
      this.#abortHooks.delete(id);
      t.migration = undefined;
      t.migrationTarget = undefined;
      const reason: DriverErrorReason = aborted && !failure ? 'MigrationAborted' : 'MigrationFailed';
      const message = failure ? `migration of ${id} failed: ${failure}` : (err as Error).message;
      this.#emit({
        ...base,
        at: this.#clock.now(),
        phase: reason === 'MigrationAborted' ? 'aborted' : 'failed',
        error: { reason, message },
      });
      throw this.#error(reason, message, err);
    }
    polling = false;
    stopSampling.abort();
    await poller;
    this.#abortHooks.delete(id);
    const durationMs = this.#clock.now() - startedAt;
    let downtimeMs = 0;
    let bytes = 0;
    try {
      const done = await client.jobStats(id, JobStatsFlags.Completed);
      downtimeMs = Number(done.params.downtime ?? 0);
      bytes = Number(done.params.data_processed ?? done.params.memory_processed ?? 0);
      iterations = Math.max(iterations, Number(done.params.memory_iteration ?? 0));
    } catch {
      // Statistics are a report, not the result: the domain does run on the target.
    }
    t.migration = undefined;
    this.#emit({ ...base, at: this.#clock.now(), phase: 'completed', downtimeMs });
    // Source side: Stopped/Migrated comes from the daemon (possibly already held back); release it now.
    await this.#waitTracked(id, (x) => x.norm.migratedAway, this.#opts.eventTimeoutMs ?? 10_000);
    t.migrationTarget = undefined;
    t.norm.migratedAway = true;
    this.#emitLifecycle(t, t.heldStop ?? { event: 'Stopped', detail: 'Migrated' });
    t.heldStop = undefined;
    // "Resolves when the domain runs on the target": as the target's agent sees it, not only its daemon.
    const waitFrom = this.#clock.now();
    const deadline = waitFrom + (this.#opts.eventTimeoutMs ?? 10_000);
    while (this.#clock.now() < deadline && !(await peer.getDomain(id).catch(() => undefined))) {
      await this.#clock.sleep(20);
    }
    if (process.env.VIRTKIT_AGENT_DEBUG) {
      console.error(
        `[${this.nodeName}] migrate ${id}: call ${durationMs} ms, target listed after ${this.#clock.now() - waitFrom} ms`,
      );
    }
    await client.undefine(id).catch(() => undefined);
    await this.#forget(t, false);
    return { targetNode, downtimeMs, durationMs, bytesTransferred: bytes, iterations };
  }

  readonly #abortHooks = new Map<string, () => void>();

  async abortMigration(id: string): Promise<void> {
    const client = await this.connect();
    const hook = this.#abortHooks.get(id);
    if (!hook) return;
    hook();
    try {
      await client.abortJob(id);
    } catch (err) {
      const e = this.#wrap(err);
      if (e.reason !== 'InvalidState' && e.reason !== 'DomainNotFound') throw e;
    }
    // libvirt cancels asynchronously; resolve once the migration has really ended (its `aborted` event
    // sent, `DomainInfo.migration` gone), as a caller looking right after the abort expects.
    const deadline = this.#clock.now() + (this.#opts.eventTimeoutMs ?? 10_000);
    while (this.#abortHooks.get(id) === hook && this.#clock.now() < deadline) await this.#clock.sleep(20);
  }

  // --- console ------------------------------------------------------------------------------------

  console(id: string, options: { signal?: AbortSignal; fromStart?: boolean } = {}): AsyncIterable<string> {
    return { [Symbol.asyncIterator]: () => this.#consoleIterator(id, options) };
  }

  async *#consoleIterator(id: string, options: { signal?: AbortSignal; fromStart?: boolean }): AsyncGenerator<string> {
    await this.connect();
    const t = this.#require(id);
    const queue: (string | null)[] = [];
    let wake: (() => void) | undefined;
    const push = (l: string | null) => {
      queue.push(l);
      wake?.();
    };
    if (options.fromStart) {
      const saved = await this.#readState(t.meta);
      for (const l of await readLastLines(t.meta.consoleLog, saved?.bootOffset ?? 0, this.#backlogSize()))
        queue.push(l);
    } else {
      queue.push(...t.backlog);
    }
    const running = t.norm.phase !== 'off';
    if (running) t.consoleSubs.add(push);
    else queue.push(null);
    const onAbort = () => push(null);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (options.signal?.aborted) return;
        const next = queue.shift();
        if (next === null) return;
        if (next !== undefined) {
          yield next;
          continue;
        }
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      t.consoleSubs.delete(push);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  #startTail(t: Tracked, offset: number): void {
    void t.tail?.stop(false);
    t.tail = new ConsoleTail(t.meta.consoleLog, offset, this.#clock, (line) => this.#onConsoleLine(t, line), 100);
    t.tail.start();
  }

  #onConsoleLine(t: Tracked, line: string): void {
    t.backlog.push(line);
    const max = this.#backlogSize();
    if (t.backlog.length > max) t.backlog.splice(0, t.backlog.length - max);
    const base = { node: this.nodeName, domain: t.id, uid: t.uid };
    this.#emit({ type: 'console', ...base, at: this.#clock.now(), line });
    for (const s of t.consoleSubs) s(line);
    if (!t.guestReady && t.readiness(line)) {
      t.guestReady = true;
      t.norm.rebooting = false;
      void this.#writeState(t.meta, { bootOffset: 0, guestReady: true }, true);
      this.#emit({ type: 'guest-ready', ...base, at: this.#clock.now(), via: 'console' });
    }
  }

  #backlogSize(): number {
    return this.#opts.consoleBacklog ?? 1000;
  }

  // --- events -------------------------------------------------------------------------------------

  onEvent(listener: (event: DomainEvent) => void): Unsubscribe {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(e: DomainEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /** Raw daemon events are handled one domain at a time, in arrival order. */
  #onRaw(e: LifecycleEventMessage): void {
    const name = e.domain.name;
    if (process.env.VIRTKIT_AGENT_DEBUG) console.error(`[${this.nodeName}] raw ${name} ${e.event}/${e.detail}`);
    const known = this.#tracked.get(name);
    const run = async () => {
      let t = this.#tracked.get(name);
      if (!t) {
        // A domain this agent did not define in this process: a migration arriving, or another agent's.
        if (e.event !== 'Started' && e.event !== 'Defined' && e.event !== 'Resumed') return;
        const client = this.#client;
        if (!client) return;
        let meta: DomainMetadata | undefined;
        try {
          meta = readDomainMetadata(await client.getXMLDesc(e.domain));
        } catch {
          return;
        }
        if (!meta || !this.#owns(meta) || this.#tracked.has(name)) return;
        t = this.#track(name, meta, 'off');
        // Events that arrived while this one was looked up are queued on the untracked chain; later ones
        // must wait behind them.
        t.chain = this.#pendingUntracked.get(name) ?? t.chain;
        if (e.event === 'Started' && e.detail === 'Migrated') {
          // An incoming migration has begun: the domain exists here paused and may still fail. It counts
          // as arrived only when the daemon resumes or persists it.
          t.incoming = true;
          return;
        }
        if (e.event !== 'Started') {
          // Persisting the migrated domain or resuming it are not part of the canonical sequence.
          const st = await client.getState(e.domain).catch(() => undefined);
          if (st && st.state !== 'shutoff') {
            t.norm.phase = st.state === 'paused' ? 'paused' : 'running';
            this.#startTail(t, await fileSize(meta.consoleLog));
            this.#emitLifecycle(t, { event: 'Started', detail: 'Migrated' });
          }
          return;
        }
      }
      if (t.incoming) {
        this.#applyIncoming(t, e);
        return;
      }
      if (e.event === 'Suspended' && e.detail === 'Paused' && !(await this.#pausedByRequest(e))) return;
      this.#applyRaw(t, e);
    };
    const t = known;
    if (t) {
      t.chain = t.chain.then(run, run);
    } else {
      const prev = this.#pendingUntracked.get(name) ?? Promise.resolve();
      const next = prev.then(run, run);
      this.#pendingUntracked.set(name, next);
      void next.finally(() => {
        if (this.#pendingUntracked.get(name) === next) this.#pendingUntracked.delete(name);
      });
    }
  }

  readonly #pendingUntracked = new Map<string, Promise<void>>();

  /** Events of a domain arriving by migration: Started/Migrated once it runs here, nothing if it fails. */
  #applyIncoming(t: Tracked, e: LifecycleEventMessage): void {
    if (e.event === 'Stopped' || e.event === 'Undefined') {
      t.incoming = false;
      void this.#forget(t, false);
      return;
    }
    if ((e.event === 'Resumed' && e.detail === 'Migrated') || e.event === 'Defined') {
      t.incoming = false;
      t.norm.phase = 'running';
      // The guest did not reboot: what the source knew about its readiness (kept in the domain's
      // directory on the shared storage) still holds.
      t.guestReady = readStateSync(t.meta)?.guestReady ?? false;
      t.chain = t.chain.then(async () => {
        if (this.#tracked.get(t.id) === t) this.#startTail(t, await fileSize(t.meta.consoleLog));
      });
      this.#emitLifecycle(t, { event: 'Started', detail: 'Migrated' });
    }
  }

  /** The guest reset (its own reboot, or ours): readiness has to be earned again by the new boot. */
  #onReboot(name: string): void {
    const t = this.#tracked.get(name);
    if (!t || t.incoming) return;
    t.chain = t.chain.then(async () => {
      t.guestReady = false;
      await this.#writeState(t.meta, {
        bootOffset: t.tail?.offset ?? (await fileSize(t.meta.consoleLog)),
        guestReady: false,
      });
    });
  }

  /**
   * libvirt also reports `Suspended/Paused` when QEMU stops the CPUs on its own: a guest powering off
   * (reason `shutting down`) or panicking (`crashed`). Only a pause someone asked for (reason `user`) is
   * the port's Suspended/Paused; the others are followed by their own Shutdown or Crashed events.
   */
  async #pausedByRequest(e: LifecycleEventMessage): Promise<boolean> {
    const client = this.#client;
    if (!client) return true;
    try {
      const st = await client.getState(e.domain);
      return st.state === 'paused' && st.reason === 'user';
    } catch {
      return false;
    }
  }

  #applyRaw(t: Tracked, e: LifecycleEventMessage): void {
    const before = t.norm.phase;
    const { emit, next } = normalise(t.norm, e);
    t.norm = next;
    if (before === 'off' && next.phase !== 'off') {
      // A boot (or arrival by migration): follow the console from where this boot starts.
      void this.#readState(t.meta).then(async (s) => {
        const size = await fileSize(t.meta.consoleLog);
        const offset = e.detail === 'Migrated' ? size : Math.min(s?.bootOffset ?? size, size);
        this.#startTail(t, offset);
      });
    }
    if (emit?.event === 'Undefined') {
      // Removed behind the agent's back (or by its own undefine, which also deletes the files).
      this.#emitLifecycle(t, emit);
      if (this.#tracked.get(t.id) === t) this.#tracked.delete(t.id);
      return;
    }
    if (emit?.event === 'Stopped' && emit.detail === 'Migrated' && t.migrationTarget !== undefined) {
      // The daemon reports the source's stop before the migrate call returns; the port puts
      // `migration completed` first, so the stop is released by the migration once it reported.
      t.heldStop = emit;
    } else if (emit) {
      this.#emitLifecycle(t, emit);
    }
    if (before !== 'off' && next.phase === 'off') {
      const tail = t.tail;
      t.tail = undefined;
      t.guestReady = false;
      const end = () => {
        for (const s of t.consoleSubs) s(null);
        t.consoleSubs.clear();
      };
      if (tail) void tail.stop(true).finally(end);
      else end();
    }
  }

  #emitLifecycle(t: Tracked, e: LifecycleEvent): void {
    this.#emit({ type: 'lifecycle', node: this.nodeName, domain: t.id, uid: t.uid, at: this.#clock.now(), ...e });
    for (const w of [...this.#waiters]) {
      if (w.domain === t.id && w.match(e)) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
  }

  /** Registers interest in a canonical event before the call that causes it (the event may beat the reply). */
  #waitFor(
    domain: string,
    match: (e: LifecycleEvent) => boolean,
    timeoutMs = this.#opts.eventTimeoutMs ?? 10_000,
  ): { done: Promise<void>; cancel: () => void } {
    let w!: EventWaiter;
    const done = new Promise<void>((resolve, reject) => {
      const timer = this.#clock.setTimer(timeoutMs, () => {
        this.#waiters.delete(w);
        reject(this.#error('Internal', `no lifecycle event from libvirtd for ${domain} within ${timeoutMs} ms`));
      });
      w = {
        domain,
        match,
        resolve: () => {
          timer.cancel();
          resolve();
        },
      };
      this.#waiters.add(w);
    });
    return {
      done,
      cancel: () => {
        this.#waiters.delete(w);
        w.resolve();
      },
    };
  }

  async #waitTracked(id: string, cond: (t: Tracked) => boolean, timeoutMs: number): Promise<void> {
    const deadline = this.#clock.now() + timeoutMs;
    for (;;) {
      const t = this.#tracked.get(id);
      if (!t || cond(t)) return;
      await t.chain;
      if (cond(t)) return;
      if (this.#clock.now() > deadline) return;
      await this.#clock.sleep(20);
    }
  }

  // --- helpers ------------------------------------------------------------------------------------

  async #forget(t: Tracked, removeFiles: boolean): Promise<void> {
    await t.tail?.stop(false);
    for (const s of t.consoleSubs) s(null);
    t.consoleSubs.clear();
    this.#tracked.delete(t.id);
    if (removeFiles) {
      // Only ever a directory named by the uid under a `domains/` directory, whatever the metadata says.
      const dir = t.meta.dir;
      if (basename(dir) === t.uid && basename(dirname(dir)) === 'domains')
        await rm(dir, { recursive: true, force: true });
    }
  }

  #require(id: string): Tracked {
    const t = this.#tracked.get(id);
    if (!t) throw this.#error('DomainNotFound', `domain ${id} not found`);
    return t;
  }

  async #simple(
    id: string,
    call: (c: LibvirtClient) => Promise<void>,
    match: (e: LifecycleEvent) => boolean,
    noEventIn?: DomainState,
  ): Promise<void> {
    return this.#locked(id, async () => {
      const client = await this.connect();
      this.#require(id);
      if (noEventIn !== undefined) {
        const st = await client.getState(id).catch((err) => {
          throw this.#wrap(err);
        });
        if (st.state === noEventIn) {
          await call(client).catch((err) => {
            throw this.#wrap(err);
          });
          return;
        }
      }
      const w = this.#waitFor(id, match);
      try {
        await call(client);
      } catch (err) {
        w.cancel();
        throw this.#wrap(err);
      }
      await w.done;
    });
  }

  /** One operation per domain at a time: the engine may retry while a call is still running. */
  #locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(id) ?? Promise.resolve();
    const p = prev.then(fn, fn);
    const tail = p.catch(() => undefined);
    this.#locks.set(id, tail);
    void tail.then(() => {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    });
    return p;
  }

  async #readState(meta: DomainMetadata): Promise<{ bootOffset: number; guestReady: boolean } | undefined> {
    try {
      return JSON.parse(await readFile(join(meta.dir, STATE_FILE), 'utf8'));
    } catch {
      return undefined;
    }
  }

  async #writeState(
    meta: DomainMetadata,
    s: { bootOffset: number; guestReady: boolean },
    merge = false,
  ): Promise<void> {
    try {
      const value = merge ? { ...((await this.#readState(meta)) ?? s), guestReady: s.guestReady } : s;
      const tmp = join(meta.dir, `${STATE_FILE}.tmp`);
      await writeFile(tmp, JSON.stringify(value));
      await rename(tmp, join(meta.dir, STATE_FILE));
    } catch {
      // Losing this only costs readiness knowledge across an agent restart.
    }
  }

  #error(reason: DriverErrorReason, message: string, cause?: unknown): DriverError {
    return new DriverError(reason, this.nodeName, message, cause === undefined ? undefined : { cause });
  }

  #wrap(err: unknown, fallback?: DriverErrorReason): DriverError {
    if (err instanceof DriverError) return err;
    if (err instanceof UnsafeValueError || err instanceof CloudInitError) {
      return this.#error('InvalidSpec', err.message, err);
    }
    if (err instanceof ImageError) return this.#error(err.reason, err.message, err);
    if (err instanceof LibvirtError) return toDriverError(err, this.nodeName);
    const d = toDriverError(err, this.nodeName);
    if (fallback && d.reason === 'Internal') return this.#error(fallback, d.message, err);
    return d;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#reconnectTimer?.cancel();
    this.#silentStopTimer?.cancel();
    for (const t of this.#tracked.values()) {
      await t.tail?.stop(false);
      for (const s of t.consoleSubs) s(null);
    }
    this.#tracked.clear();
    await this.#client?.close();
    this.#client = undefined;
  }
}

/** The first directory on the way to `path` that others cannot search (o+x missing), if any. */
async function untraversableAncestor(path: string): Promise<string | undefined> {
  let dir = dirname(path);
  const chain: string[] = [];
  while (dir !== dirname(dir)) {
    chain.unshift(dir);
    dir = dirname(dir);
  }
  for (const d of chain) {
    const st = await stat(d).catch(() => undefined);
    if (st && (st.mode & 0o001) === 0) return d;
  }
  return undefined;
}

function readStateSync(meta: DomainMetadata): { bootOffset: number; guestReady: boolean } | undefined {
  try {
    return JSON.parse(readFileSync(join(meta.dir, STATE_FILE), 'utf8'));
  } catch {
    return undefined;
  }
}

function version(n: number): string {
  return `${Math.floor(n / 1_000_000)}.${Math.floor((n % 1_000_000) / 1000)}.${n % 1000}`;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function toProgress(p: Record<string, number | bigint | boolean | string>): MigrationProgress {
  const n = (k: string) => Number(p[k] ?? 0);
  const dirty = p.memory_dirty_rate;
  return {
    dataTotal: n('data_total'),
    dataProcessed: n('data_processed'),
    dataRemaining: n('data_remaining'),
    iteration: Math.max(1, n('memory_iteration')),
    ...(dirty !== undefined ? { dirtyRate: Number(dirty) * n('memory_page_size') || Number(dirty) } : {}),
    elapsedMs: n('time_elapsed'),
  };
}

/** Rewrites the `node` recorded in the agent's metadata inside a domain XML. */
export function rewriteMetadataNode(xml: string, node: string): string {
  const meta = readDomainMetadata(xml);
  if (!meta) throw new Error('domain has no virtkit metadata');
  const updated = { ...meta, node };
  const re = /(<(?:[A-Za-z0-9_-]+:)?vmi\s[^>]*>)[^<]*(<\/(?:[A-Za-z0-9_-]+:)?vmi>)/;
  const escaped = JSON.stringify(updated)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
  if (!xml.includes(VIRTKIT_XMLNS)) throw new Error('domain has no virtkit metadata');
  return xml.replace(re, (_, open: string, close: string) => `${open}${escaped}${close}`);
}
