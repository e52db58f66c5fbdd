import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError, ImageStore, translateImage } from '../../src/index.ts';
import { tempDataDir } from '../helpers.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
// Deterministic content, large enough to arrive in several chunks.
const IMAGE = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 7 + (i >> 11)) & 0xff));

interface Served {
  server: Server;
  base: string;
  requests: { path: string; range?: string }[];
  /** Paths whose first full-body response is cut off after this many bytes. */
  cutFirst: Map<string, number>;
}

async function serve(): Promise<Served> {
  const requests: Served['requests'] = [];
  const cutFirst = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const range = req.headers.range;
    requests.push(range ? { path, range } : { path });
    if (path !== '/img.raw' && path !== '/cut.raw') {
      res.writeHead(404).end('no');
      return;
    }
    const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
    if (m) {
      const from = Number(m[1]);
      res.writeHead(206, {
        'content-length': IMAGE.length - from,
        'content-range': `bytes ${from}-${IMAGE.length - 1}/${IMAGE.length}`,
      });
      res.end(IMAGE.subarray(from));
      return;
    }
    const cut = cutFirst.get(path);
    res.writeHead(200, { 'content-length': IMAGE.length });
    if (cut !== undefined) {
      cutFirst.delete(path);
      res.write(IMAGE.subarray(0, cut), () => res.destroy());
      return;
    }
    res.end(IMAGE);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { server, base: `http://127.0.0.1:${port}`, requests, cutFirst };
}

describe('ImageStore', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let http: Served;

  beforeAll(async () => {
    data = await tempDataDir('images');
    http = await serve();
  });
  afterAll(async () => {
    http?.server.close();
    await data?.cleanup();
  });

  it('stores local files in the Virtlet layout: data/<sha256> plus links/<name with / as %>', async () => {
    const store = new ImageStore({ dir: join(data.dir, 'store1') });
    const src = join(data.dir, 'local.img');
    await writeFile(src, IMAGE);
    const progress: number[] = [];
    const a = await store.pull(pathToFileURL(src).href, {
      name: 'library/cirros:0.6',
      onProgress: (p) => progress.push(p.bytesDone),
    });
    expect(a).toMatchObject({ sha256: sha(IMAGE), size: IMAGE.length, format: 'raw', fetched: true });
    expect(a.path).toBe(join(data.dir, 'store1', 'data', sha(IMAGE)));
    expect(readlinkSync(join(data.dir, 'store1', 'links', 'library%cirros:0.6'))).toBe(`../data/${sha(IMAGE)}`);
    expect(progress.at(-1)).toBe(IMAGE.length);
    // Second pull: from the link, nothing copied.
    const b = await store.pull(pathToFileURL(src).href, { name: 'library/cirros:0.6' });
    expect(b).toMatchObject({ path: a.path, fetched: false });
    // Names cannot escape the links directory.
    expect(store.linkPath('../../etc/passwd')).toBe(join(data.dir, 'store1', 'links', '..%..%etc%passwd'));
    expect(store.linkPath('..')).toBe(join(data.dir, 'store1', 'links', '%..'));
  });

  it('downloads over http with progress, resumes a cut download with a Range request', async () => {
    const store = new ImageStore({ dir: join(data.dir, 'store2') });
    http.cutFirst.set('/cut.raw', 1024 * 1024 + 123);
    await expect(store.pull(`${http.base}/cut.raw`, { name: 'cut' })).rejects.toBeInstanceOf(ImageError);
    const partial = readdirSync(join(data.dir, 'store2', 'tmp')).filter((f) => f.endsWith('.part'));
    expect(partial).toHaveLength(1);
    // Whatever arrived before the cut is kept (how much depends on socket timing) and not fetched again.
    const kept = statSync(join(data.dir, 'store2', 'tmp', partial[0] ?? '')).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(1024 * 1024 + 123);
    const progress: { bytesDone: number; bytesTotal?: number }[] = [];
    const img = await store.pull(`${http.base}/cut.raw`, {
      name: 'cut',
      sha256: sha(IMAGE),
      onProgress: (p) => progress.push(p),
    });
    expect(img).toMatchObject({ sha256: sha(IMAGE), size: IMAGE.length, fetched: true });
    expect(readFileSync(img.path).equals(IMAGE)).toBe(true);
    expect(http.requests.filter((r) => r.path === '/cut.raw').map((r) => r.range)).toEqual([
      undefined,
      `bytes=${kept}-`,
    ]);
    expect(progress[0]).toEqual({ bytesDone: kept, bytesTotal: IMAGE.length });
    expect(progress.at(-1)).toEqual({ bytesDone: IMAGE.length, bytesTotal: IMAGE.length });
  });

  it('serialises concurrent pulls of one URL under different names (they share the partial file)', async () => {
    const store = new ImageStore({ dir: join(data.dir, 'store2b') });
    const [x, y] = await Promise.all([
      store.pull(`${http.base}/img.raw`, { name: 'x' }),
      store.pull(`${http.base}/img.raw`, { name: 'y' }),
    ]);
    expect(x.sha256).toBe(sha(IMAGE));
    expect(y.sha256).toBe(sha(IMAGE));
    expect(readFileSync(y.path).equals(IMAGE)).toBe(true);
    expect(readdirSync(join(data.dir, 'store2b', 'tmp'))).toEqual([]);
  });

  it('discards a download whose sha256 does not match, and reports HTTP errors', async () => {
    const store = new ImageStore({ dir: join(data.dir, 'store3') });
    const bad = store.pull(`${http.base}/img.raw`, { name: 'img', sha256: '0'.repeat(64) });
    await expect(bad).rejects.toThrow(/sha256 mismatch/);
    await expect(bad).rejects.toMatchObject({ reason: 'ImageFetchFailed' });
    expect(readdirSync(join(data.dir, 'store3', 'data'))).toEqual([]);
    expect(existsSync(store.linkPath('img'))).toBe(false);
    await expect(store.pull(`${http.base}/missing`, { name: 'missing' })).rejects.toThrow(/HTTP 404/);
    await expect(store.pull('ftp://example/x', { name: 'x' })).rejects.toThrow(/unsupported/);
  });

  it('creates qcow2 overlays backed by the image, and sparse empty disks', async () => {
    const store = new ImageStore({ dir: join(data.dir, 'store4') });
    const img = await store.pull(`${http.base}/img.raw`, { name: 'base' });
    const overlay = join(data.dir, 'vm', 'disk-0.qcow2');
    await store.createOverlay(img, overlay);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-U', overlay], { encoding: 'utf8' }));
    expect(info).toMatchObject({ format: 'qcow2', 'backing-filename': img.path, 'backing-filename-format': 'raw' });
    const empty = join(data.dir, 'vm', 'empty.qcow2');
    await store.createEmpty(empty, 1024 * 1024 * 1024);
    const e = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-U', empty], { encoding: 'utf8' }));
    expect(e).toMatchObject({ format: 'qcow2', 'virtual-size': 1024 * 1024 * 1024 });
    expect(e['actual-size']).toBeLessThan(1024 * 1024);
  });

  it('refuses downloaded qcow2 images that name a backing file', async () => {
    const store = new ImageStore({ dir: join(data.dir, 'store5') });
    const evil = join(data.dir, 'evil.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', '/etc/hostname', '-F', 'raw', evil, '1M']);
    await expect(store.pull(pathToFileURL(evil).href, { name: 'evil' })).rejects.toThrow(/backing file/);
  });

  it('allows hostDisk only under the allowed roots, symlinks included', async () => {
    const root = join(data.dir, 'hostdisks');
    await mkdir(root);
    const store = new ImageStore({ dir: join(data.dir, 'store6'), hostDiskRoots: [root] });
    const created = await store.hostDisk(join(root, 'new.img'), 'DiskOrCreate', 4 * 1024 * 1024);
    expect(readFileSync(created).length).toBe(4 * 1024 * 1024);
    expect(await store.hostDisk(join(root, 'new.img'), 'Disk')).toBe(created);
    await expect(store.hostDisk(join(root, 'missing.img'), 'Disk')).rejects.toThrow(/does not exist/);
    await expect(store.hostDisk('/etc/passwd', 'Disk')).rejects.toThrow(/outside the allowed roots/);
    await expect(store.hostDisk(`${root}/../escape.img`, 'DiskOrCreate', 1024)).rejects.toMatchObject({
      reason: 'InvalidSpec',
    });
    await symlink('/etc/passwd', join(root, 'link.img'));
    await expect(store.hostDisk(join(root, 'link.img'), 'Disk')).rejects.toThrow(/links outside/);
    await expect(new ImageStore({ dir: join(data.dir, 's7') }).hostDisk(join(root, 'new.img'), 'Disk')).rejects.toThrow(
      /allowed roots \(none\)/,
    );
  });
});

describe('image name translation (Virtlet style)', () => {
  const configs = [
    {
      prefix: 'virtlet.cloud',
      translations: [
        { name: 'cirros', url: 'https://images.example/cirros.img', sha256: 'AB' },
        { regexp: 'fedora/(\\d+)', url: 'https://images.example/fedora-$1.qcow2' },
      ],
    },
  ];
  it('maps names and regexps, strips the prefix, passes URLs and paths through', () => {
    expect(translateImage('virtlet.cloud/cirros', configs)).toEqual({
      url: 'https://images.example/cirros.img',
      sha256: 'ab',
    });
    expect(translateImage('virtlet.cloud/fedora/39', configs)).toEqual({
      url: 'https://images.example/fedora-39.qcow2',
    });
    expect(translateImage('cirros', configs)).toBeUndefined();
    expect(translateImage('virtlet.cloud/fedora/x', configs)).toBeUndefined();
    expect(translateImage('http://h/x.img', configs)).toEqual({ url: 'http://h/x.img', direct: true });
    // A VM may not name files on the node: local images need a translation rule.
    expect(translateImage('/srv/images/a #1.img', [])).toBeUndefined();
    expect(translateImage('file:///etc/shadow', [])).toBeUndefined();
  });
});
