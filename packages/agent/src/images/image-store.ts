import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, lstat, mkdir, open, readlink, realpath, rename, rm, stat, symlink, truncate } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { run } from '../util/exec.ts';
import { checkAbsolutePath } from '../xml/escape.ts';
import { literalHostRefusal, publicOnlyLookup } from './url-policy.ts';

export type ImageErrorReason = 'ImageFetchFailed' | 'DiskFull' | 'InvalidSpec';

export class ImageError extends Error {
  readonly reason: ImageErrorReason;
  constructor(reason: ImageErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

export interface ImageProgress {
  bytesDone: number;
  /** Undefined when the server did not say. */
  bytesTotal?: number;
}

export interface PullOptions {
  /** Link name (Virtlet: the image name); default: the URL. */
  name?: string;
  sha256?: string;
  /** `Always` fetches again even when the link exists. */
  policy?: 'IfNotPresent' | 'Always';
  onProgress?: (p: ImageProgress) => void;
  signal?: AbortSignal;
  /**
   * Connect only to public addresses (checked on every redirect, at the address really used): for URLs
   * that come straight from a VM spec rather than from an operator's translation rule.
   */
  publicOnly?: boolean;
}

export interface PulledImage {
  /** Path of the image data (`images/data/<sha256>`). */
  path: string;
  sha256: string;
  size: number;
  format: 'raw' | 'qcow2';
  /** False when the image was already in the store. */
  fetched: boolean;
}

export interface ImageStoreOptions {
  /** Root of the store: `<dir>/data/<sha256>`, `<dir>/links/<name>`, `<dir>/tmp/`. */
  dir: string;
  /** Roots under which `hostDisk` paths may live. Empty: hostDisk refused. */
  hostDiskRoots?: readonly string[];
  /** Per-request inactivity timeout for downloads. */
  httpTimeoutMs?: number;
  qemuImg?: string;
}

const QCOW2_MAGIC = 0x514649fb;

function refusedHost(host: string, why: string): ImageError {
  return new ImageError(
    'ImageFetchFailed',
    `image URL host ${host} refused: ${why} (an image URL written in a VM spec may reach public addresses ` +
      `only; the node's operator can add a translation rule for it, or set directImageUrls: 'any')`,
  );
}

const publicLookup = publicOnlyLookup(refusedHost);

/**
 * Images in the Virtlet layout: content-addressed data plus named links, so two names for the same bytes
 * share one file and a VM's overlay always points at immutable data.
 */
export class ImageStore {
  readonly dir: string;
  readonly #hostDiskRoots: readonly string[];
  readonly #httpTimeoutMs: number;
  readonly #qemuImg: string;
  readonly #inflight = new Map<string, Promise<PulledImage>>();

  constructor(options: ImageStoreOptions) {
    this.dir = resolve(options.dir);
    this.#hostDiskRoots = (options.hostDiskRoots ?? []).map((r) => resolve(r));
    this.#httpTimeoutMs = options.httpTimeoutMs ?? 30_000;
    this.#qemuImg = options.qemuImg ?? 'qemu-img';
  }

  /** `images/links/<name with / replaced by %>`. */
  linkPath(name: string): string {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    if (name.length === 0 || name.length > 240 || /[\u0000-\u001F]/.test(name)) {
      throw new ImageError('InvalidSpec', `image name "${name.slice(0, 64)}" cannot be stored`);
    }
    let file = name.replaceAll('/', '%');
    // After the replacement there is no separator left; only `.`/`..` could still mean a directory.
    if (file === '.' || file === '..') file = `%${file}`;
    // 240 characters can be 960 bytes; a file name may have 255 (NAME_MAX), else the rename fails later.
    if (Buffer.byteLength(file) > 255)
      throw new ImageError('InvalidSpec', `image name "${name.slice(0, 64)}" is too long to store (over 255 bytes)`);
    return join(this.dir, 'links', file);
  }

  /** Fetches `url` (http, https or file) into the store unless its link already exists. */
  pull(url: string, options: PullOptions = {}): Promise<PulledImage> {
    const name = options.name ?? url;
    const key = `${name}\n${url}`;
    const running = this.#inflight.get(key);
    if (running) return running;
    // One transfer per URL at a time: they share the resumable `.part` file.
    const before = this.#byUrl.get(url) ?? Promise.resolve();
    const p = before
      .catch(() => undefined)
      .then(() => this.#pull(url, name, options))
      .finally(() => this.#inflight.delete(key));
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.#byUrl.set(url, settled);
    void settled.then(() => {
      if (this.#byUrl.get(url) === settled) this.#byUrl.delete(url);
    });
    this.#inflight.set(key, p);
    return p;
  }

  readonly #byUrl = new Map<string, Promise<void>>();
  #copies = 0;

  async #pull(url: string, name: string, options: PullOptions): Promise<PulledImage> {
    const link = this.linkPath(name);
    await mkdir(join(this.dir, 'data'), { recursive: true });
    await mkdir(join(this.dir, 'links'), { recursive: true });
    await mkdir(join(this.dir, 'tmp'), { recursive: true });
    if (options.policy !== 'Always') {
      const existing = await this.#resolveLink(link);
      if (existing && (!options.sha256 || existing.sha256 === options.sha256.toLowerCase())) return existing;
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (err) {
      throw new ImageError('ImageFetchFailed', `bad image URL "${url}"`, { cause: err });
    }
    let tmp: string;
    let sha256: string;
    try {
      if (parsed.protocol === 'file:') {
        ({ tmp, sha256 } = await this.#copyFile(fileURLToPath(parsed), options));
      } else if (parsed.protocol === 'http:' || parsed.protocol === 'https:') {
        ({ tmp, sha256 } = await this.#download(parsed, options));
      } else {
        throw new ImageError('ImageFetchFailed', `unsupported image URL scheme ${parsed.protocol}`);
      }
    } catch (err) {
      throw toImageError(err, `fetching ${url}`);
    }
    if (options.sha256 && sha256 !== options.sha256.toLowerCase()) {
      await rm(tmp, { force: true });
      throw new ImageError('ImageFetchFailed', `sha256 mismatch for ${url}: expected ${options.sha256}, got ${sha256}`);
    }
    const format = await this.#checkFormat(tmp, url);
    const data = join(this.dir, 'data', sha256);
    await chmod(tmp, 0o444);
    await rename(tmp, data);
    await this.#replaceLink(link, data);
    const st = await stat(data);
    return { path: data, sha256, size: st.size, format, fetched: true };
  }

  async #resolveLink(link: string): Promise<PulledImage | undefined> {
    try {
      const target = resolve(dirname(link), await readlink(link));
      const st = await stat(target);
      const format = await detectFormat(target);
      return { path: target, sha256: basename(target), size: st.size, format, fetched: false };
    } catch {
      return undefined;
    }
  }

  async #replaceLink(link: string, data: string): Promise<void> {
    const tmpLink = join(this.dir, 'tmp', `link-${process.pid}-${++this.#copies}`);
    await rm(tmpLink, { force: true });
    await symlink(relative(dirname(link), data), tmpLink);
    await rename(tmpLink, link);
  }

  async #copyFile(path: string, options: PullOptions): Promise<{ tmp: string; sha256: string }> {
    const st = await stat(path);
    if (!st.isFile()) throw new ImageError('ImageFetchFailed', `${path} is not a regular file`);
    const tmp = join(this.dir, 'tmp', `copy-${process.pid}-${++this.#copies}`);
    const hash = createHash('sha256');
    let done = 0;
    const input = createReadStream(path);
    input.on('data', (chunk) => {
      hash.update(chunk);
      done += chunk.length;
    });
    options.onProgress?.({ bytesDone: 0, bytesTotal: st.size });
    try {
      await pipeline(input, createWriteStream(tmp), { signal: options.signal ?? new AbortController().signal });
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    options.onProgress?.({ bytesDone: done, bytesTotal: st.size });
    return { tmp, sha256: hash.digest('hex') };
  }

  /** Downloads into `tmp/<hash of url>.part`, resuming a previous partial download with a Range request. */
  async #download(url: URL, options: PullOptions): Promise<{ tmp: string; sha256: string }> {
    const tmp = join(this.dir, 'tmp', `${createHash('sha256').update(url.href).digest('hex').slice(0, 32)}.part`);
    const hash = createHash('sha256');
    let have = 0;
    try {
      have = (await stat(tmp)).size;
    } catch {}
    if (have > 0) {
      // The bytes already on disk count towards the checksum of the whole image.
      for await (const chunk of createReadStream(tmp)) hash.update(chunk as Buffer);
    }
    const res = await this.#request(
      url,
      have > 0 ? { Range: `bytes=${have}-` } : {},
      options.signal,
      options.publicOnly === true,
    );
    let append = false;
    if (res.statusCode === 206 && have > 0) {
      const range = /^bytes (\d+)-/.exec(res.headers['content-range'] ?? '');
      append = range !== null && Number(range[1]) === have;
    } else if (res.statusCode === 416 && have > 0) {
      // The partial file is already complete.
      res.resume();
      return { tmp, sha256: hash.digest('hex') };
    } else if (res.statusCode !== 200) {
      res.resume();
      throw new ImageError('ImageFetchFailed', `GET ${url.href}: HTTP ${res.statusCode}`);
    }
    let done = 0;
    let finalHash = hash;
    if (!append) {
      finalHash = createHash('sha256');
      have = 0;
      await truncate(tmp, 0).catch(() => undefined);
    }
    const length = Number(res.headers['content-length']);
    const total = Number.isFinite(length) ? have + length : undefined;
    done = have;
    let lastReport = -1;
    const report = () => {
      lastReport = done;
      options.onProgress?.(total === undefined ? { bytesDone: done } : { bytesDone: done, bytesTotal: total });
    };
    report();
    res.on('data', (chunk: Buffer) => {
      finalHash.update(chunk);
      done += chunk.length;
      if (done - lastReport >= 4 * 1024 * 1024) report();
    });
    await pipeline(res, createWriteStream(tmp, { flags: append ? 'a' : 'w' }), {
      signal: options.signal ?? new AbortController().signal,
    });
    if (total !== undefined && done !== total) {
      throw new ImageError('ImageFetchFailed', `GET ${url.href}: connection closed after ${done} of ${total} bytes`);
    }
    if (lastReport !== done) report();
    return { tmp, sha256: finalHash.digest('hex') };
  }

  #request(
    url: URL,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    publicOnly: boolean,
    redirects = 5,
  ): Promise<IncomingMessage> {
    return new Promise((resolveReq, reject) => {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        reject(new ImageError('ImageFetchFailed', `GET ${url.href}: not an http(s) URL`));
        return;
      }
      const literal = publicOnly ? literalHostRefusal(url) : undefined;
      if (literal) {
        reject(refusedHost(url.hostname, literal));
        return;
      }
      const get = url.protocol === 'https:' ? httpsGet : httpGet;
      const opts = {
        headers,
        timeout: this.#httpTimeoutMs,
        ...(signal ? { signal } : {}),
        ...(publicOnly ? { lookup: publicLookup } : {}),
      };
      const req = get(url, opts, (res) => {
        const loc = res.headers.location;
        if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && loc && redirects > 0) {
          res.resume();
          this.#request(new URL(loc, url), headers, signal, publicOnly, redirects - 1).then(resolveReq, reject);
          return;
        }
        res.setTimeout(this.#httpTimeoutMs, () => res.destroy(new Error(`no data for ${this.#httpTimeoutMs} ms`)));
        resolveReq(res);
      });
      req.on('timeout', () => req.destroy(new Error(`no response within ${this.#httpTimeoutMs} ms`)));
      req.on('error', reject);
    });
  }

  /** Refuses qcow2 images that name a backing file: a downloaded image must not read host files. */
  async #checkFormat(path: string, url: string): Promise<'raw' | 'qcow2'> {
    const fh = await open(path, 'r');
    try {
      const head = Buffer.alloc(16);
      const { bytesRead } = await fh.read(head, 0, 16, 0);
      if (bytesRead >= 16 && head.readUInt32BE(0) === QCOW2_MAGIC) {
        if (head.readBigUInt64BE(8) !== 0n) {
          await rm(path, { force: true });
          throw new ImageError('ImageFetchFailed', `${url}: qcow2 images with a backing file are refused`);
        }
        return 'qcow2';
      }
      return 'raw';
    } finally {
      await fh.close();
    }
  }

  /** Copy-on-write overlay over an image of the store (`qemu-img create -f qcow2 -b … -F …`). */
  async createOverlay(base: PulledImage, path: string): Promise<void> {
    checkAbsolutePath(path, 'overlay');
    await mkdir(dirname(path), { recursive: true });
    await this.#qemuImgCreate(['-f', 'qcow2', '-b', base.path, '-F', base.format, path]);
  }

  /** A sparse qcow2 of `bytes` (KubeVirt emptyDisk). */
  async createEmpty(path: string, bytes: number): Promise<void> {
    checkAbsolutePath(path, 'emptyDisk');
    if (!Number.isSafeInteger(bytes) || bytes <= 0)
      throw new ImageError('InvalidSpec', `bad emptyDisk capacity ${bytes}`);
    await mkdir(dirname(path), { recursive: true });
    await this.#qemuImgCreate(['-f', 'qcow2', path, String(bytes)]);
  }

  async #qemuImgCreate(args: string[]): Promise<void> {
    try {
      await run(this.#qemuImg, ['create', '-q', ...args], { timeoutMs: 60_000 });
    } catch (err) {
      throw toImageError(err, 'qemu-img create');
    }
  }

  /**
   * Resolves a hostDisk path: it must lie under an allow-listed root even after resolving symlinks.
   * `DiskOrCreate` creates a sparse raw file of `capacity` bytes when missing.
   */
  async hostDisk(path: string, type: 'Disk' | 'DiskOrCreate', capacity?: number): Promise<string> {
    let abs: string;
    try {
      abs = checkAbsolutePath(path, 'hostDisk.path');
    } catch (err) {
      throw new ImageError('InvalidSpec', (err as Error).message);
    }
    const parent = await realpath(dirname(abs)).catch(() => undefined);
    const real = parent === undefined ? undefined : join(parent, basename(abs));
    const inside = (p: string) =>
      this.#hostDiskRoots.some(
        (root) => p === root || (p.startsWith(`${root}/`) && !relative(root, p).startsWith('..')),
      );
    if (real === undefined || !inside(real)) {
      throw new ImageError(
        'InvalidSpec',
        `hostDisk ${path} is outside the allowed roots (${this.#hostDiskRoots.join(', ') || 'none'})`,
      );
    }
    const existing = await lstat(real).catch(() => undefined);
    if (existing?.isSymbolicLink()) {
      const target = await realpath(real).catch(() => undefined);
      if (target === undefined || !inside(target))
        throw new ImageError('InvalidSpec', `hostDisk ${path} links outside the allowed roots`);
    } else if (existing && !existing.isFile()) {
      throw new ImageError('InvalidSpec', `hostDisk ${path} is not a regular file`);
    }
    if (!existing) {
      if (type === 'Disk') throw new ImageError('InvalidSpec', `hostDisk ${path} does not exist (type Disk)`);
      if (!capacity || capacity <= 0)
        throw new ImageError('InvalidSpec', `hostDisk ${path}: DiskOrCreate needs a capacity`);
      try {
        const fh = await open(real, 'wx', 0o660);
        await fh.truncate(capacity);
        await fh.close();
      } catch (err) {
        throw toImageError(err, `creating hostDisk ${path}`);
      }
    }
    return real;
  }
}

/** Format of an image file by its magic number. */
export async function detectFormat(path: string): Promise<'raw' | 'qcow2'> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    return bytesRead === 4 && head.readUInt32BE(0) === QCOW2_MAGIC ? 'qcow2' : 'raw';
  } finally {
    await fh.close();
  }
}

function toImageError(err: unknown, what: string): ImageError {
  if (err instanceof ImageError) return err;
  const e = err as NodeJS.ErrnoException;
  const text = `${e?.message ?? String(err)}`;
  if (e?.code === 'ENOSPC' || /No space left on device/.test(text)) {
    return new ImageError('DiskFull', `${what}: no space left on device`, { cause: err });
  }
  return new ImageError('ImageFetchFailed', `${what}: ${text}`, { cause: err });
}
