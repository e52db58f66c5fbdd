import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNoCloudIso, CloudInitError, noCloudFiles } from '../../src/index.ts';
import { tempDataDir } from '../helpers.ts';

const isoinfo = (args: string[]) => execFileSync('isoinfo', args, { encoding: 'utf8' });

describe('cloud-init NoCloud seed', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  beforeAll(async () => {
    data = await tempDataDir('cidata');
  });
  afterAll(() => data?.cleanup());

  it('writes a cidata ISO with meta-data, user-data and network-config that read back intact', async () => {
    const iso = join(data.dir, 'seed', 'cidata.iso');
    const userData = '#cloud-config\npassword: "it\'s <secret> & more"\n';
    const networkData = 'version: 2\nethernets: {}\n';
    await buildNoCloudIso(
      {
        instanceId: '6b3c0f9e-uid',
        hostname: 'web-0',
        source: { userData, networkDataBase64: Buffer.from(networkData).toString('base64') },
      },
      iso,
    );
    expect(isoinfo(['-d', '-i', iso])).toMatch(/Volume id: cidata/);
    const list = isoinfo(['-R', '-f', '-i', iso]).split('\n').filter(Boolean).sort();
    expect(list).toEqual(['/meta-data', '/network-config', '/user-data']);
    expect(isoinfo(['-R', '-x', '/meta-data', '-i', iso])).toBe(
      'instance-id: "6b3c0f9e-uid"\nlocal-hostname: "web-0"\n',
    );
    expect(isoinfo(['-R', '-x', '/user-data', '-i', iso])).toBe(userData);
    expect(isoinfo(['-J', '-x', '/network-config', '-i', iso])).toBe(networkData);
  });

  it('quotes meta-data values so a hostile hostname stays one YAML scalar', () => {
    const f = noCloudFiles({ instanceId: 'id', hostname: 'x\ninstance-id: evil', source: {} });
    expect(f['meta-data']).toBe('instance-id: "id"\nlocal-hostname: "x\\ninstance-id: evil"\n');
    expect(f['user-data']).toBe('');
    expect(f['network-config']).toBeUndefined();
  });

  it('rejects bad base64 and secret references with a clear error', () => {
    expect(() => noCloudFiles({ instanceId: 'i', hostname: 'h', source: { userDataBase64: '!!notbase64' } })).toThrow(
      CloudInitError,
    );
    expect(() => noCloudFiles({ instanceId: 'i', hostname: 'h', source: { secretRef: { name: 's' } } })).toThrow(
      /secret/,
    );
  });
});
