// Image URLs written straight into a VM spec reach public addresses only (by default): the node's loopback
// services, cloud metadata and private networks stay out of reach of whoever may create a VM.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDomain } from '../../src/driver/prepare.ts';
import { ImageError, ImageStore, nonPublicReason } from '../../src/index.ts';
import { tempDataDir } from '../helpers.ts';

describe('nonPublicReason', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '0.0.0.0',
    '10.1.2.3',
    '100.64.0.1',
    '169.254.169.254',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '198.18.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    'fd00::1',
    'fe80::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::10.0.0.1',
  ])('refuses %s', (ip) => {
    expect(nonPublicReason(ip)).toMatch(/is not a public address$/);
  });

  it.each(['1.1.1.1', '8.8.8.8', '172.32.0.1', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'allows %s',
    (ip) => {
      expect(nonPublicReason(ip)).toBeUndefined();
    },
  );

  it('is not fooled by names', () => {
    expect(nonPublicReason('localhost')).toBe('"localhost" is not an IP address');
  });
});

describe('ImageStore pull with publicOnly', () => {
  let server: Server;
  let port = 0;
  let requests = 0;
  let data: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    data = await tempDataDir('url-policy');
    server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-length': 4 }).end('DATA');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await data.cleanup();
  });

  it.each([
    [
      'loopback literal',
      () => `http://127.0.0.1:${port}/a.img`,
      /host 127\.0\.0\.1 refused: 127\.0\.0\.1 is not a public/,
    ],
    ['decimal form of loopback', () => `http://2130706433:${port}/a.img`, /host 127\.0\.0\.1 refused/],
    ['hex form of loopback', () => `http://0x7f.1:${port}/a.img`, /host 127\.0\.0\.1 refused/],
    ['IPv4-mapped IPv6', () => `http://[::ffff:127.0.0.1]:${port}/a.img`, /refused: ::ffff:7f00:1 is not a public/],
    ['cloud metadata', () => 'http://169.254.169.254/latest/meta-data', /host 169\.254\.169\.254 refused/],
    ['a name resolving to loopback', () => `http://localhost:${port}/a.img`, /host localhost refused: it resolves to/],
  ])('refuses a %s before sending anything', async (_what, url, message) => {
    const store = new ImageStore({ dir: data.dir });
    const before = requests;
    const err = await store.pull(url(), { name: `n${requests}-${Math.random()}`, publicOnly: true }).catch((e) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).reason).toBe('ImageFetchFailed');
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toMatch(/translation rule/);
    expect(requests).toBe(before);
  });

  it('fetches the same URL when the pull is not limited (an operator rule)', async () => {
    const store = new ImageStore({ dir: data.dir });
    const pulled = await store.pull(`http://127.0.0.1:${port}/a.img`, { name: 'operator-rule' });
    expect(pulled.size).toBe(4);
  });
});

describe('prepareDomain: direct image URLs follow the node policy', () => {
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(200, { 'content-length': 4 }).end('DATA'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  const def = (image: string) => ({
    id: 'ns_vm',
    uid: 'u-1',
    name: 'vm',
    namespace: 'ns',
    spec: {
      domain: {
        memory: { guest: '64Mi' },
        devices: { disks: [{ name: 'root', disk: { bus: 'virtio' as const } }] },
      },
      volumes: [{ name: 'root', containerDisk: { image } }],
    },
  });

  async function prepare(image: string, directImageUrls?: 'public' | 'any' | 'refuse', rules = true) {
    const data = await tempDataDir('prepare-policy');
    try {
      return await prepareDomain(def(image), {
        domainDir: `${data.dir}/domains/u-1`,
        hypervisor: 'qemu',
        images: new ImageStore({ dir: `${data.dir}/images` }),
        translations: rules
          ? [{ prefix: 'local', translations: [{ name: 'img', url: `http://127.0.0.1:${port}/img` }] }]
          : [],
        onImage: () => undefined,
        ...(directImageUrls ? { directImageUrls } : {}),
      });
    } finally {
      await data.cleanup();
    }
  }

  it('refuses a loopback URL by default and with public', async () => {
    for (const policy of [undefined, 'public'] as const) {
      await expect(prepare(`http://127.0.0.1:${port}/img`, policy)).rejects.toThrow(/host 127\.0\.0\.1 refused/);
    }
  });

  it('fetches it with any, and always through an operator rule', async () => {
    await expect(prepare(`http://127.0.0.1:${port}/img`, 'any')).resolves.toBeDefined();
    await expect(prepare('local/img', 'refuse')).resolves.toBeDefined();
  });

  it('refuses every direct URL with refuse, naming the policy', async () => {
    await expect(prepare('https://images.example/x.img', 'refuse')).rejects.toThrow(
      /fetches only images its translation rules name \(directImageUrls: 'refuse'\)/,
    );
  });
});
