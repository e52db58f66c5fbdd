import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CloudInitNoCloudSource } from '@virtkit/engine';
import { run } from '../util/exec.ts';
import { checkAbsolutePath } from '../xml/escape.ts';

export interface NoCloudInput {
  /** `instance-id` in meta-data: the VMI uid, so a new VMI is a new instance to cloud-init. */
  instanceId: string;
  /** `local-hostname`: spec.hostname or the VMI name. */
  hostname: string;
  source: CloudInitNoCloudSource;
}

export interface NoCloudFiles {
  'meta-data': string;
  'user-data': string;
  'network-config'?: string;
}

/** Thrown for seeds that cannot be built from the spec (bad base64, secret references). */
export class CloudInitError extends Error {}

function decode(plain: string | undefined, b64: string | undefined, field: string): string | undefined {
  if (plain !== undefined) return plain;
  if (b64 === undefined) return undefined;
  const compact = b64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) {
    throw new CloudInitError(`${field}: not valid base64`);
  }
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** JSON is valid YAML, and JSON string quoting makes any hostname or id safe inside meta-data. */
export function noCloudFiles(input: NoCloudInput): NoCloudFiles {
  const s = input.source;
  if (s.secretRef || s.networkDataSecretRef) {
    throw new CloudInitError('cloudInitNoCloud secret references are not supported by the agent; inline the data');
  }
  const meta = `instance-id: ${JSON.stringify(input.instanceId)}\nlocal-hostname: ${JSON.stringify(input.hostname)}\n`;
  const files: NoCloudFiles = {
    'meta-data': meta,
    'user-data': decode(s.userData, s.userDataBase64, 'userDataBase64') ?? '',
  };
  const net = decode(s.networkData, s.networkDataBase64, 'networkDataBase64');
  if (net !== undefined) files['network-config'] = net;
  return files;
}

/**
 * Writes a NoCloud seed as an ISO9660 image labelled `cidata` (genisoimage -volid cidata -joliet -rock)
 * at `isoPath`. The image is built in a scratch directory next to it and renamed into place.
 */
export async function buildNoCloudIso(
  input: NoCloudInput,
  isoPath: string,
  options: { genisoimage?: string } = {},
): Promise<NoCloudFiles> {
  checkAbsolutePath(isoPath, 'cloud-init ISO');
  const files = noCloudFiles(input);
  await mkdir(dirname(isoPath), { recursive: true });
  const scratch = await mkdtemp(join(dirname(isoPath), '.cidata-'));
  try {
    const names = Object.keys(files) as (keyof NoCloudFiles)[];
    const src = join(scratch, 'src');
    await mkdir(src);
    for (const n of names) await writeFile(join(src, n), files[n] ?? '');
    const tmpIso = join(scratch, 'cidata.iso');
    await run(
      options.genisoimage ?? 'genisoimage',
      ['-quiet', '-output', tmpIso, '-volid', 'cidata', '-joliet', '-rock', ...names.map((n) => join(src, n))],
      { timeoutMs: 60_000 },
    );
    await rename(tmpIso, isoPath);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return files;
}
