/** Shared helpers for the API server tests: a server over a MemoryStore, raw HTTPS requests, kubectl. */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KubeObject, MemoryStore, type StoreOptions, type VirtualMachine } from '@virtkit/engine';
import { type ApiServer, type ApiServerOptions, createApiServer } from '../../src/api/index.ts';

export const EXAMPLES_DIR = join(import.meta.dirname, '../../../../../shared/kubevirt-examples');

export interface Harness {
  store: MemoryStore;
  server: ApiServer;
  dir: string;
  kubeconfig: string;
  close(): Promise<void>;
}

/** A server over a fresh MemoryStore; `options` may depend on the store (e.g. VmActions over it). */
export async function startServer(
  options: Partial<ApiServerOptions> | ((store: MemoryStore) => Partial<ApiServerOptions>) = {},
  storeOptions: StoreOptions = {},
): Promise<Harness> {
  const store = new MemoryStore(storeOptions);
  const server = await createApiServer({ store, ...(typeof options === 'function' ? options(store) : options) });
  const dir = await mkdtemp(join(tmpdir(), 'virtkit-api-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await server.kubeconfig(kubeconfig);
  return {
    store,
    server,
    dir,
    kubeconfig,
    async close() {
      await server.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function vm(name: string, namespace = 'default', labels: Record<string, string> = {}): VirtualMachine {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, namespace, labels },
    spec: {
      runStrategy: 'Halted',
      template: {
        spec: {
          domain: { devices: { disks: [{ name: 'root', disk: { bus: 'virtio' } }] }, memory: { guest: '128Mi' } },
          volumes: [{ name: 'root', containerDisk: { image: 'quay.io/containerdisks/cirros:0.6' } }],
        },
      },
    },
  };
}

/**
 * Opens connections to the TLS server at `url` that never finish a handshake (TCP only, and one that sends the
 * start of a ClientHello and stops), then runs `close`: how long it took, in ms.
 */
export async function closeWithStalledHandshakes(url: string, close: () => Promise<void>): Promise<number> {
  const u = new URL(url);
  const open = () => netConnect(Number(u.port), u.hostname).on('error', () => {});
  const sockets = Array.from({ length: 5 }, open);
  const half = open();
  half.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])); // the start of a ClientHello, then nothing
  sockets.push(half);
  await new Promise((r) => setTimeout(r, 100));
  const started = performance.now();
  try {
    await close();
    return performance.now() - started;
  } finally {
    for (const s of sockets) s.destroy();
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): unknown;
}

export interface RawRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send no Authorization header. */
  anonymous?: boolean;
  token?: string;
}

/** One HTTPS request trusting the server's certificate; sends the server's token unless told otherwise. */
export function raw(server: ApiServer, path: string, o: RawRequest = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...o.headers };
    const token = o.token ?? server.token;
    if (!o.anonymous && token) headers.authorization = `Bearer ${token}`;
    if (o.body !== undefined) headers['content-length'] = String(Buffer.byteLength(o.body));
    const req = httpsRequest(
      new URL(path, server.url),
      { method: o.method ?? 'GET', headers, ca: server.caCertificate },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

export interface WatchClient {
  status: Promise<number>;
  /** Resolves with the next parsed event (waits for it). */
  next(): Promise<{ type: string; object: KubeObject & Record<string, unknown> }>;
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  close(): void;
}

/** A streaming watch request that parses newline-delimited events. */
export function watchRaw(server: ApiServer, path: string): WatchClient {
  const lines: string[] = [];
  let buffer = '';
  let wake: (() => void) | undefined;
  let endedResolve!: () => void;
  let statusResolve!: (n: number) => void;
  const ended = new Promise<void>((r) => {
    endedResolve = r;
  });
  const status = new Promise<number>((r) => {
    statusResolve = r;
  });
  const req = httpsRequest(
    new URL(path, server.url),
    { headers: { authorization: `Bearer ${server.token}` }, ca: server.caCertificate },
    (res) => {
      statusResolve(res.statusCode ?? 0);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
          lines.push(buffer.slice(0, i));
          buffer = buffer.slice(i + 1);
        }
        wake?.();
      });
      res.on('end', () => {
        endedResolve();
        wake?.();
      });
      res.on('close', () => {
        endedResolve();
        wake?.();
      });
    },
  );
  req.on('error', () => {
    endedResolve();
    wake?.();
  });
  req.end();
  let done = false;
  void ended.then(() => {
    done = true;
  });
  return {
    status,
    ended,
    async next() {
      for (;;) {
        const line = lines.shift();
        if (line !== undefined) return JSON.parse(line);
        if (done) throw new Error('watch ended');
        await new Promise<void>((r) => {
          wake = r;
        });
      }
    },
    close() {
      req.destroy();
    },
  };
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real kubectl against the harness's kubeconfig, with its own discovery cache. */
export function kubectl(h: Harness, args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', h.kubeconfig, '--cache-dir', join(h.dir, 'cache'), ...args],
      { timeout: 30_000, env: { ...process.env, HOME: h.dir, KUBECTL_KUBERC: 'false' } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/**
 * Runs a long-lived kubectl (e.g. `get -w`) and resolves once `until` matches its stdout so far; the
 * process is then stopped. Rejects if it exits first or `timeoutMs` passes.
 */
export function kubectlUntil(h: Harness, args: string[], until: (stdout: string) => boolean, timeoutMs = 20_000) {
  const child = spawn('kubectl', ['--kubeconfig', h.kubeconfig, '--cache-dir', join(h.dir, 'cache'), ...args], {
    env: { ...process.env, HOME: h.dir },
  });
  let stdout = '';
  let stderr = '';
  const result = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(
        new Error(`kubectl ${args.join(' ')}: no match within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`),
      );
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (until(stdout)) {
        clearTimeout(timer);
        child.kill();
        resolve(stdout);
      }
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!until(stdout))
        reject(new Error(`kubectl exited (${code}) before matching; stdout:\n${stdout}\nstderr:\n${stderr}`));
    });
  });
  return { result, stdout: () => stdout };
}
