/**
 * `LibvirtClient`: a pure TypeScript client of libvirt's remote protocol — the same conversation `virsh`
 * has with libvirtd, without libvirt's C library or a child process per call.
 *
 * ```ts
 * const c = await LibvirtClient.connect({ socketPath: '/var/run/libvirt/libvirt-sock' });
 * const dom = await c.defineXML(xml);
 * const off = await c.onLifecycleEvent((e) => console.log(e.domain.name, e.event, e.detail));
 * await c.createDomain(dom);
 * console.log(await c.getState(dom)); // { state: 'running', reason: 'booted', ... }
 * await c.destroy(dom);
 * await off();
 * await c.close();
 * ```
 *
 * Methods that take a domain accept a `Domain` handle (from `lookupByName`, `defineXML`, `listAllDomains`)
 * or a domain name; a name costs one extra `lookupByName` round trip. Errors are `LibvirtError` (the
 * daemon's code/domain/message) or `LibvirtConnectionError`; `toDriverError` maps both to the engine's
 * `DriverError`.
 */
import {
  type Domain,
  readDomain,
  readTypedParam,
  type TypedParam,
  typedParamsToRecord,
  uuidToBytes,
  writeDomain,
  writeOptString,
  writeTypedParam,
} from './codec.ts';
import { type ConnectionOptions, type Endpoint, type KeepaliveStats, RpcConnection } from './connection.ts';
import {
  DomainEventId,
  type DomainStateName,
  eventDetailName,
  eventName,
  JOB_TYPE_NAMES,
  MigrateFlags,
  MigrateParam,
  stateName,
  stateReasonName,
} from './constants.ts';
import { LibvirtConnectionError } from './errors.ts';
import { AuthType, DrvFeature, Proc, STRING_MAX, UUID_BYTES } from './protocol.ts';
import type { XdrReader } from './xdr.ts';

export type { Domain, TypedParam } from './codec.ts';

/** The default system daemon's socket. */
export const DEFAULT_SOCKET_PATH = '/var/run/libvirt/libvirt-sock';

export interface ConnectOptions extends ConnectionOptions {
  /** UNIX socket of the daemon; default `/var/run/libvirt/libvirt-sock` unless `host` is given. */
  socketPath?: string;
  /** TCP host of a daemon started with `--listen` and `auth_tcp = "none"`. */
  host?: string;
  /** TCP port, default 16509. */
  port?: number;
  /** Driver URI the daemon opens, default `qemu:///system`. */
  uri?: string;
  /** Open read-only (VIR_CONNECT_RO). */
  readOnly?: boolean;
}

/** A domain reference: a handle, or a name to look up. */
export type DomainRef = Domain | string;

export interface DomainStateInfo {
  state: DomainStateName;
  /** virsh's reason word, e.g. 'booted', 'user', 'destroyed', 'migrated'. */
  reason: string;
  stateCode: number;
  reasonCode: number;
}

export interface DomainInfoResult {
  state: DomainStateName;
  stateCode: number;
  maxMemoryKiB: number;
  memoryKiB: number;
  vcpus: number;
  /** CPU time used, nanoseconds. */
  cpuTimeNs: bigint;
}

export interface NodeInfoResult {
  model: string;
  memoryKiB: number;
  cpus: number;
  mhz: number;
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}

export interface JobStats {
  /** 'none' when no job runs; 'bounded'/'unbounded' while one runs; 'completed'/'failed'/'cancelled' for completed stats. */
  type: (typeof JOB_TYPE_NAMES)[number];
  typeCode: number;
  /** Every parameter the daemon returned (`time_elapsed`, `data_total`, `memory_iteration`, `downtime`...). */
  params: Record<string, number | bigint | boolean | string>;
  raw: TypedParam[];
}

/** `virsh domjobinfo` in the fixed layout of virDomainJobInfo. */
export interface JobInfo {
  type: (typeof JOB_TYPE_NAMES)[number];
  typeCode: number;
  timeElapsedMs: number;
  timeRemainingMs: number;
  dataTotal: number;
  dataProcessed: number;
  dataRemaining: number;
  memTotal: number;
  memProcessed: number;
  memRemaining: number;
  fileTotal: number;
  fileProcessed: number;
  fileRemaining: number;
}

/** A decoded lifecycle event. `event`/`detail` are virsh's words (see `LIFECYCLE_DETAIL_NAMES`). */
export interface LifecycleEventMessage {
  domain: Domain;
  event: string;
  detail: string;
  eventCode: number;
  detailCode: number;
}

export type LifecycleListener = (e: LifecycleEventMessage) => void;
export type RebootListener = (domain: Domain) => void;

/** Removes a listener; when it was the last of its kind, also deregisters from the daemon. */
export type AsyncUnsubscribe = () => Promise<void>;

export interface MigrateToUriOptions {
  /** Live (default true): the guest keeps running during the copy. */
  live?: boolean;
  /** Extra VIR_MIGRATE_* flags OR-ed in (e.g. `MigrateFlags.PersistDest | MigrateFlags.UndefineSource`). */
  flags?: number;
  /** Where QEMU sends the migration stream, e.g. `tcp://127.0.0.1` (VIR_MIGRATE_PARAM_URI). */
  migrateUri?: string;
  /** Address the target QEMU listens on (VIR_MIGRATE_PARAM_LISTEN_ADDRESS). */
  listenAddress?: string;
  /** Bandwidth cap in MiB/s (VIR_MIGRATE_PARAM_BANDWIDTH). */
  bandwidthMiBs?: number;
  /** Further typed parameters, passed as they are. */
  params?: TypedParam[];
}

const DOMAIN_LIST_MAX = 16384;
const MIGRATE_PARAM_LIST_MAX = 64;
const JOB_STATS_MAX = 64;
const COOKIE_MAX = 4194304;

export class LibvirtClient {
  readonly #conn: RpcConnection;
  /** Server-side callback ids by event id; present while at least one listener of that kind exists. */
  readonly #callbacks = new Map<number, Promise<number>>();
  readonly #lifecycleListeners = new Set<LifecycleListener>();
  readonly #rebootListeners = new Set<RebootListener>();
  /** The URI the daemon opened. */
  readonly uri: string;

  private constructor(conn: RpcConnection, uri: string) {
    this.#conn = conn;
    this.uri = uri;
    conn.onMessage((proc, body) => this.#onMessage(proc, body));
  }

  /**
   * Connects and opens `uri` (default `qemu:///system`) on the daemon at `socketPath` (default
   * `/var/run/libvirt/libvirt-sock`) or `host`+`port` (TCP, no auth). Authenticates when the daemon asks
   * for it (none, or polkit which root passes), enables the daemon's keepalive, then CONNECT_OPEN.
   */
  static async connect(options: ConnectOptions = {}): Promise<LibvirtClient> {
    const endpoint: Endpoint =
      options.host !== undefined
        ? { host: options.host, port: options.port ?? 16509 }
        : { socketPath: options.socketPath ?? DEFAULT_SOCKET_PATH };
    const conn = await RpcConnection.open(endpoint, options);
    const uri = options.uri ?? 'qemu:///system';
    try {
      const types = await conn.call(Proc.AuthList, undefined, (r) => r.readArray((x) => x.readInt(), 20));
      if (types.length > 0 && !types.includes(AuthType.None)) {
        if (!types.includes(AuthType.Polkit)) {
          throw new LibvirtConnectionError(
            `${conn.endpoint}: daemon requires authentication this client does not implement (types ${types.join(',')})`,
          );
        }
        const complete = await conn.call(Proc.AuthPolkit, undefined, (r) => r.readInt());
        if (complete !== 1) throw new LibvirtConnectionError(`${conn.endpoint}: polkit authentication incomplete`);
      }
      // Makes the daemon ping us too, so it drops this connection if we vanish.
      await conn.call(
        Proc.ConnectSupportsFeature,
        (w) => w.writeInt(DrvFeature.ProgramKeepalive),
        (r) => r.readInt(),
      );
      await conn.call(Proc.ConnectOpen, (w) => {
        writeOptString(w, uri);
        w.writeUint(options.readOnly ? 1 : 0);
      });
    } catch (err) {
      conn.destroy('connect failed');
      throw err;
    }
    return new LibvirtClient(conn, uri);
  }

  /**
   * Connects by a libvirt URI as `virsh -c` takes it: `qemu:///system` (default socket),
   * `qemu+unix:///system?socket=/path`, or `qemu+tcp://127.0.0.1:16510/system` (no auth). The daemon is
   * asked to open the URI without its transport part, as libvirt's own remote driver does.
   */
  static connectUri(uri: string, options: Omit<ConnectOptions, 'socketPath' | 'host' | 'port' | 'uri'> = {}) {
    return LibvirtClient.connect({ ...options, ...parseLibvirtUri(uri) });
  }

  /** True once the connection closed or failed; the client cannot be used again. */
  get closed(): boolean {
    return this.#conn.closed;
  }

  /** Runs `listener` once when the connection is lost (daemon gone, keepalive timeout, `close()`). */
  onClose(listener: (err: LibvirtConnectionError) => void): () => void {
    return this.#conn.onClose(listener);
  }

  /** Says goodbye (CONNECT_CLOSE, waiting at most `timeoutMs` for the answer) and closes the socket. Safe to call twice. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.#conn.closed) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      // A wedged daemon must not hold the caller: the goodbye is a courtesy, closing the socket is what counts.
      await Promise.race([
        this.#conn.call(Proc.ConnectClose),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
    } catch {
      // The daemon may already be gone; closing is all that is left to do.
    } finally {
      clearTimeout(timer);
    }
    this.#conn.destroy();
  }

  /** Drops the connection without CONNECT_CLOSE (tests, or when the daemon is known to be wedged). */
  abort(): void {
    this.#conn.destroy('aborted by client');
  }

  /** Keepalive traffic on this connection so far. */
  get keepaliveStats(): KeepaliveStats {
    return this.#conn.keepaliveStats;
  }

  /** Sends one keepalive PING (normally automatic). */
  ping(): void {
    this.#conn.ping();
  }

  // --- connection --------------------------------------------------------------------------------

  /** Hypervisor version as libvirt encodes it: major*1_000_000 + minor*1_000 + micro (QEMU 7.2.0 → 7002000). */
  getVersion(): Promise<number> {
    return this.#conn.call(Proc.ConnectGetVersion, undefined, (r) => r.readUhyperNumber());
  }

  /** libvirt's version, same encoding (9.0.0 → 9000000). */
  getLibVersion(): Promise<number> {
    return this.#conn.call(Proc.ConnectGetLibVersion, undefined, (r) => r.readUhyperNumber());
  }

  getHostname(): Promise<string> {
    return this.#conn.call(Proc.ConnectGetHostname, undefined, (r) => r.readString(STRING_MAX));
  }

  getUri(): Promise<string> {
    return this.#conn.call(Proc.ConnectGetUri, undefined, (r) => r.readString(STRING_MAX));
  }

  /** Capabilities XML (`virsh capabilities`). */
  getCapabilities(): Promise<string> {
    return this.#conn.call(Proc.ConnectGetCapabilities, undefined, (r) => r.readString(STRING_MAX));
  }

  /** Domain capabilities XML (`virsh domcapabilities`); every argument optional. */
  getDomainCapabilities(
    opts: { emulatorBin?: string; arch?: string; machine?: string; virtType?: string } = {},
  ): Promise<string> {
    return this.#conn.call(
      Proc.ConnectGetDomainCapabilities,
      (w) => {
        writeOptString(w, opts.emulatorBin);
        writeOptString(w, opts.arch);
        writeOptString(w, opts.machine);
        writeOptString(w, opts.virtType);
        w.writeUint(0);
      },
      (r) => r.readString(STRING_MAX),
    );
  }

  /** `virsh nodeinfo`. */
  nodeGetInfo(): Promise<NodeInfoResult> {
    return this.#conn.call(Proc.NodeGetInfo, undefined, (r) => {
      // char model[32]: XDR encodes each char as a 4-byte unit.
      const bytes: number[] = [];
      for (let i = 0; i < 32; i++) bytes.push(r.readInt() & 0xff);
      const end = bytes.indexOf(0);
      const model = Buffer.from(end < 0 ? bytes : bytes.slice(0, end)).toString('latin1');
      return {
        model,
        memoryKiB: r.readUhyperNumber(),
        cpus: r.readInt(),
        mhz: r.readInt(),
        nodes: r.readInt(),
        sockets: r.readInt(),
        cores: r.readInt(),
        threads: r.readInt(),
      };
    });
  }

  // --- domains -----------------------------------------------------------------------------------

  /** Defines (or redefines) a persistent domain from XML; it stays shut off. */
  defineXML(xml: string, flags = 0): Promise<Domain> {
    return this.#conn.call(
      Proc.DomainDefineXmlFlags,
      (w) => {
        w.writeString(xml, STRING_MAX);
        w.writeUint(flags);
      },
      readDomain,
      Buffer.byteLength(xml) + 64,
    );
  }

  /** Removes a shut-off domain's definition (a running transient domain disappears when it stops). */
  async undefine(dom: DomainRef, flags = 0): Promise<void> {
    const d = await this.#resolve(dom);
    return this.#conn.call(Proc.DomainUndefineFlags, (w) => {
      writeDomain(w, d);
      w.writeUint(flags);
    });
  }

  /** Starts a defined domain (`virsh start`); resolves with the handle carrying the new id. */
  async createDomain(dom: DomainRef, flags = 0): Promise<Domain> {
    const d = await this.#resolve(dom);
    return this.#conn.call(
      Proc.DomainCreateWithFlags,
      (w) => {
        writeDomain(w, d);
        w.writeUint(flags);
      },
      readDomain,
    );
  }

  lookupByName(name: string): Promise<Domain> {
    return this.#conn.call(Proc.DomainLookupByName, (w) => w.writeString(name, STRING_MAX), readDomain);
  }

  lookupByUUID(uuid: string): Promise<Domain> {
    const bytes = uuidToBytes(uuid);
    return this.#conn.call(Proc.DomainLookupByUuid, (w) => w.writeFixedOpaque(bytes, UUID_BYTES), readDomain);
  }

  /** `virsh domstate --reason`. */
  async getState(dom: DomainRef): Promise<DomainStateInfo> {
    const d = await this.#resolve(dom);
    return this.#conn.call(
      Proc.DomainGetState,
      (w) => {
        writeDomain(w, d);
        w.writeUint(0);
      },
      (r) => {
        const stateCode = r.readInt();
        const reasonCode = r.readInt();
        return { state: stateName(stateCode), reason: stateReasonName(stateCode, reasonCode), stateCode, reasonCode };
      },
    );
  }

  /** `virsh dominfo` basics. */
  async getInfo(dom: DomainRef): Promise<DomainInfoResult> {
    const d = await this.#resolve(dom);
    return this.#conn.call(
      Proc.DomainGetInfo,
      (w) => writeDomain(w, d),
      (r) => {
        const stateCode = r.readUint(); // unsigned char, one XDR unit
        return {
          state: stateName(stateCode),
          stateCode,
          maxMemoryKiB: r.readUhyperNumber(),
          memoryKiB: r.readUhyperNumber(),
          vcpus: r.readUint(), // unsigned short, one XDR unit
          cpuTimeNs: r.readUhyper(),
        };
      },
    );
  }

  /** `virsh dumpxml`; `flags` from `XmlFlags` (e.g. `XmlFlags.Inactive`). */
  async getXMLDesc(dom: DomainRef, flags = 0): Promise<string> {
    const d = await this.#resolve(dom);
    return this.#conn.call(
      Proc.DomainGetXmlDesc,
      (w) => {
        writeDomain(w, d);
        w.writeUint(flags);
      },
      (r) => r.readString(STRING_MAX),
    );
  }

  /** All domains, filtered by `ListFlags` (0 = every domain, active and inactive). */
  listAllDomains(flags = 0): Promise<Domain[]> {
    return this.#conn.call(
      Proc.ConnectListAllDomains,
      (w) => {
        w.writeInt(1); // need_results
        w.writeUint(flags);
      },
      (r) => {
        const domains = r.readArray(readDomain, DOMAIN_LIST_MAX);
        r.readUint(); // ret: the count again
        return domains;
      },
    );
  }

  /** Pauses a running domain (`virsh suspend`). */
  async suspend(dom: DomainRef): Promise<void> {
    const d = await this.#resolve(dom);
    return this.#conn.call(Proc.DomainSuspend, (w) => writeDomain(w, d));
  }

  async resume(dom: DomainRef): Promise<void> {
    const d = await this.#resolve(dom);
    return this.#conn.call(Proc.DomainResume, (w) => writeDomain(w, d));
  }

  /** Asks the guest to power off; `flags` from `ShutdownFlags` (default: the hypervisor's choice, ACPI). */
  async shutdown(dom: DomainRef, flags = 0): Promise<void> {
    const d = await this.#resolve(dom);
    return this.#conn.call(Proc.DomainShutdownFlags, (w) => {
      writeDomain(w, d);
      w.writeUint(flags);
    });
  }

  /** Forces the domain off (`virsh destroy`); `flags` from `DestroyFlags`. */
  async destroy(dom: DomainRef, flags = 0): Promise<void> {
    const d = await this.#resolve(dom);
    return this.#conn.call(Proc.DomainDestroyFlags, (w) => {
      writeDomain(w, d);
      w.writeUint(flags);
    });
  }

  /** Asks the guest to reboot; `flags` from `RebootFlags`. */
  async reboot(dom: DomainRef, flags = 0): Promise<void> {
    const d = await this.#resolve(dom);
    return this.#conn.call(Proc.DomainReboot, (w) => {
      writeDomain(w, d);
      w.writeUint(flags);
    });
  }

  /** Resets the virtual machine like a reset button (`virsh reset`): no guest cooperation; emits a reboot event. */
  async reset(dom: DomainRef): Promise<void> {
    const d = await this.#resolve(dom);
    return this.#conn.call(Proc.DomainReset, (w) => {
      writeDomain(w, d);
      w.writeUint(0);
    });
  }

  // --- jobs and migration ------------------------------------------------------------------------

  /**
   * Statistics of the domain's current job (`virsh domjobinfo`), or with `JobStatsFlags.Completed` of the
   * last completed one (its `downtime`, `time_elapsed`...).
   */
  async jobStats(dom: DomainRef, flags = 0): Promise<JobStats> {
    const d = await this.#resolve(dom);
    return this.#conn.call(
      Proc.DomainGetJobStats,
      (w) => {
        writeDomain(w, d);
        w.writeUint(flags);
      },
      (r) => {
        const typeCode = r.readInt();
        const raw = r.readArray(readTypedParam, JOB_STATS_MAX);
        return { type: JOB_TYPE_NAMES[typeCode] ?? 'none', typeCode, params: typedParamsToRecord(raw), raw };
      },
    );
  }

  /** The older fixed-layout job info (`virDomainGetJobInfo`); `jobStats` returns more. Times in ms, sizes in bytes. */
  async getJobInfo(dom: DomainRef): Promise<JobInfo> {
    const d = await this.#resolve(dom);
    return this.#conn.call(
      Proc.DomainGetJobInfo,
      (w) => writeDomain(w, d),
      (r) => {
        const typeCode = r.readInt();
        return {
          type: JOB_TYPE_NAMES[typeCode] ?? 'none',
          typeCode,
          timeElapsedMs: r.readUhyperNumber(),
          timeRemainingMs: r.readUhyperNumber(),
          dataTotal: r.readUhyperNumber(),
          dataProcessed: r.readUhyperNumber(),
          dataRemaining: r.readUhyperNumber(),
          memTotal: r.readUhyperNumber(),
          memProcessed: r.readUhyperNumber(),
          memRemaining: r.readUhyperNumber(),
          fileTotal: r.readUhyperNumber(),
          fileProcessed: r.readUhyperNumber(),
          fileRemaining: r.readUhyperNumber(),
        };
      },
    );
  }

  /** Aborts the domain's current job (e.g. an outgoing migration, which then fails with VIR_ERR_OPERATION_ABORTED). */
  async abortJob(dom: DomainRef): Promise<void> {
    const d = await this.#resolve(dom);
    return this.#conn.call(Proc.DomainAbortJob, (w) => writeDomain(w, d));
  }

  /** Maximum tolerated downtime of a live migration's switch-over, in ms (`virsh migrate-setmaxdowntime`). */
  async migrateSetMaxDowntime(dom: DomainRef, downtimeMs: number): Promise<void> {
    const d = await this.#resolve(dom);
    return this.#conn.call(Proc.DomainMigrateSetMaxDowntime, (w) => {
      writeDomain(w, d);
      w.writeUhyper(downtimeMs);
      w.writeUint(0);
    });
  }

  async migrateGetMaxDowntime(dom: DomainRef): Promise<number> {
    const d = await this.#resolve(dom);
    return this.#conn.call(
      Proc.DomainMigrateGetMaxDowntime,
      (w) => {
        writeDomain(w, d);
        w.writeUint(0);
      },
      (r) => r.readUhyperNumber(),
    );
  }

  /** Migration bandwidth cap in MiB/s (`virsh migrate-setspeed`); applies to a running migration too. */
  async migrateSetMaxSpeed(dom: DomainRef, bandwidthMiBs: number): Promise<void> {
    const d = await this.#resolve(dom);
    return this.#conn.call(Proc.DomainMigrateSetMaxSpeed, (w) => {
      writeDomain(w, d);
      w.writeUhyper(bandwidthMiBs);
      w.writeUint(0);
    });
  }

  /**
   * The raw MIGRATE_PERFORM3_PARAMS call on the source. With `MigrateFlags.PeerToPeer` the source daemon
   * itself connects to `destUri` and drives the whole migration; the call resolves when it finished.
   */
  async migratePerform3Params(
    dom: DomainRef,
    destUri: string | undefined,
    params: readonly TypedParam[],
    flags: number,
  ): Promise<void> {
    const d = await this.#resolve(dom);
    await this.#conn.call(
      Proc.DomainMigratePerform3Params,
      (w) => {
        writeDomain(w, d);
        writeOptString(w, destUri);
        w.writeArray(params, writeTypedParam, MIGRATE_PARAM_LIST_MAX);
        w.writeOpaque(new Uint8Array(0), COOKIE_MAX); // cookie_in: none for peer-to-peer
        w.writeUint(flags);
      },
      (r) => r.readOpaque(COOKIE_MAX), // cookie_out: unused for peer-to-peer
    );
  }

  /**
   * Peer-to-peer live migration to the daemon at `destUri` (e.g. `qemu+tcp://127.0.0.1:16510/system`),
   * like `virsh migrate --live --p2p`. Resolves when the domain runs on the target. While it runs,
   * `jobStats` on this client reports progress and `abortJob` cancels it.
   */
  migrateToURI(dom: DomainRef, destUri: string, options: MigrateToUriOptions = {}): Promise<void> {
    const params: TypedParam[] = [];
    if (options.migrateUri !== undefined)
      params.push({ field: MigrateParam.Uri, type: 'string', value: options.migrateUri });
    if (options.listenAddress !== undefined) {
      params.push({ field: MigrateParam.ListenAddress, type: 'string', value: options.listenAddress });
    }
    if (options.bandwidthMiBs !== undefined) {
      params.push({ field: MigrateParam.Bandwidth, type: 'ullong', value: BigInt(options.bandwidthMiBs) });
    }
    if (options.params) params.push(...options.params);
    const flags = (options.live === false ? 0 : MigrateFlags.Live) | MigrateFlags.PeerToPeer | (options.flags ?? 0);
    return this.migratePerform3Params(dom, destUri, params, flags);
  }

  // --- events ------------------------------------------------------------------------------------

  /**
   * Delivers every domain's lifecycle events (Defined/Added, Started/Booted, Stopped/Destroyed...) to
   * `listener`, in the order the daemon sent them. Resolves once the daemon confirmed the subscription:
   * events of operations issued after that are delivered. The returned function unsubscribes.
   */
  async onLifecycleEvent(listener: LifecycleListener): Promise<AsyncUnsubscribe> {
    this.#lifecycleListeners.add(listener);
    try {
      await this.#ensureCallback(DomainEventId.Lifecycle);
    } catch (err) {
      this.#lifecycleListeners.delete(listener);
      throw err;
    }
    return () => this.#unsubscribe(this.#lifecycleListeners, listener, DomainEventId.Lifecycle);
  }

  /** Delivers guest reboot events (the guest reset itself, or `reboot` took effect). */
  async onRebootEvent(listener: RebootListener): Promise<AsyncUnsubscribe> {
    this.#rebootListeners.add(listener);
    try {
      await this.#ensureCallback(DomainEventId.Reboot);
    } catch (err) {
      this.#rebootListeners.delete(listener);
      throw err;
    }
    return () => this.#unsubscribe(this.#rebootListeners, listener, DomainEventId.Reboot);
  }

  #ensureCallback(eventId: number): Promise<number> {
    let id = this.#callbacks.get(eventId);
    if (!id) {
      id = this.#conn.call(
        Proc.ConnectDomainEventCallbackRegisterAny,
        (w) => {
          w.writeInt(eventId);
          w.writeBool(false); // dom: null = every domain
        },
        (r) => r.readInt(),
      );
      this.#callbacks.set(eventId, id);
      id.catch(() => this.#callbacks.delete(eventId));
    }
    return id;
  }

  async #unsubscribe<L>(set: Set<L>, listener: L, eventId: number): Promise<void> {
    if (!set.delete(listener) || set.size > 0) return;
    const id = this.#callbacks.get(eventId);
    this.#callbacks.delete(eventId);
    if (!id || this.#conn.closed) return;
    const callbackId = await id;
    await this.#conn.call(Proc.ConnectDomainEventCallbackDeregisterAny, (w) => w.writeInt(callbackId));
  }

  #onMessage(proc: number, r: XdrReader): void {
    if (proc === Proc.DomainEventCallbackLifecycle) {
      r.readInt(); // callbackID: one per event kind, so the procedure already says which
      const domain = readDomain(r);
      const eventCode = r.readInt();
      const detailCode = r.readInt();
      const e: LifecycleEventMessage = {
        domain,
        event: eventName(eventCode),
        detail: eventDetailName(eventCode, detailCode),
        eventCode,
        detailCode,
      };
      for (const l of this.#lifecycleListeners) deliver(l, e);
    } else if (proc === Proc.DomainEventCallbackReboot) {
      r.readInt();
      const domain = readDomain(r);
      for (const l of this.#rebootListeners) deliver(l, domain);
    }
  }

  #resolve(dom: DomainRef): Promise<Domain> | Domain {
    return typeof dom === 'string' ? this.lookupByName(dom) : dom;
  }
}

/** A throwing listener must not break the connection's read loop or other listeners. */
function deliver<T>(listener: (v: T) => void, value: T): void {
  try {
    listener(value);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

/**
 * Splits a libvirt URI into where to connect and what the daemon should open:
 * `qemu+tcp://h:p/system` → `{ host: 'h', port: p, uri: 'qemu:///system' }`.
 */
export function parseLibvirtUri(uri: string): Pick<ConnectOptions, 'socketPath' | 'host' | 'port' | 'uri'> {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new TypeError(`not a libvirt URI: ${JSON.stringify(uri)}`);
  }
  const [driver = '', transport = ''] = u.protocol.slice(0, -1).split('+');
  if (!/^[a-z][a-z0-9]*$/.test(driver)) throw new TypeError(`not a libvirt URI: ${JSON.stringify(uri)}`);
  const open = `${driver}://${u.pathname}`;
  if (transport === 'tcp') {
    if (!u.hostname) throw new TypeError(`${uri}: TCP needs a host`);
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    return { host, port: u.port ? Number(u.port) : 16509, uri: open };
  }
  if (transport === '' || transport === 'unix') {
    if (u.hostname) throw new TypeError(`${uri}: a host needs a transport (+tcp)`);
    const socket = u.searchParams.get('socket');
    return socket ? { socketPath: socket, uri: open } : { uri: open };
  }
  throw new TypeError(`${uri}: transport '${transport}' is not supported (use unix or tcp)`);
}
