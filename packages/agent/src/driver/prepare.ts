import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type DiskBus,
  type DomainDefinition,
  parseBytes,
  vmiGuestMemoryBytes,
  vmiSpecResources,
} from '@virtkit/engine';
import { buildNoCloudIso } from '../cloud-init/nocloud.ts';
import { ImageError, type ImageProgress, type ImageStore } from '../images/image-store.ts';
import { type ImageTranslationConfig, type TranslatedImage, translateImage } from '../images/translation.ts';
import type { DirectImageUrlPolicy } from '../images/url-policy.ts';
import type { DomainDiskInput, DomainMetadata, DomainXmlInput } from '../xml/domain-xml.ts';
import { UnsafeValueError } from '../xml/escape.ts';

export interface PrepareContext {
  /** `<dataDir>/domains/<uid>` — created here. */
  domainDir: string;
  hypervisor: 'kvm' | 'qemu';
  images: ImageStore;
  translations: readonly ImageTranslationConfig[];
  /** What image URLs written straight into a spec may reach (default `public`). */
  directImageUrls?: DirectImageUrlPolicy;
  /** Called for every image that really has to be fetched (not for ones already in the store). */
  onImage: (phase: 'fetching' | 'fetched', progress: ImageProgress) => void;
}

/**
 * Turns a VMI spec into the inputs of the domain XML, creating the files it needs on the way: overlays
 * over fetched images, empty disks, host disks, the cloud-init seed. Volumes without a disk entry are
 * attached as virtio disks, as KubeVirt does.
 */
export async function prepareDomain(def: DomainDefinition, ctx: PrepareContext): Promise<DomainXmlInput> {
  const spec = def.spec;
  const dom = spec.domain;
  await mkdir(ctx.domainDir, { recursive: true, mode: 0o755 });
  const volumes = spec.volumes ?? [];
  const diskSpecs = dom.devices?.disks ?? [];
  for (const d of diskSpecs) {
    if (!volumes.some((v) => v.name === d.name)) throw new UnsafeValueError(`disk ${d.name}`, 'has no matching volume');
  }
  const ordered = [
    ...diskSpecs,
    ...volumes.filter((v) => !diskSpecs.some((d) => d.name === v.name)).map((v) => ({ name: v.name })),
  ];
  const disks: DomainDiskInput[] = [];
  let index = 0;
  for (const d of ordered) {
    const volume = volumes.find((v) => v.name === d.name);
    if (!volume) continue;
    const i = index++;
    const target = d as (typeof diskSpecs)[number];
    const device: 'disk' | 'cdrom' = target.cdrom ? 'cdrom' : 'disk';
    const bus: DiskBus =
      target.cdrom?.bus ?? target.disk?.bus ?? target.lun?.bus ?? (device === 'cdrom' ? 'sata' : 'virtio');
    const readonly = target.cdrom?.readonly ?? target.disk?.readonly ?? target.lun?.readonly;
    const base = {
      name: d.name,
      device,
      bus,
      ...(readonly !== undefined ? { readonly } : {}),
      ...(target.bootOrder !== undefined ? { bootOrder: target.bootOrder } : {}),
      ...(target.serial !== undefined ? { serial: target.serial } : {}),
      ...(target.cache !== undefined ? { cache: target.cache } : {}),
    };
    if (volume.containerDisk) {
      const image = await pullImage(volume.containerDisk.image, ctx, volume.containerDisk.imagePullPolicy);
      const path = join(ctx.domainDir, `disk-${i}.qcow2`);
      await ctx.images.createOverlay(image, path);
      disks.push({ ...base, path, format: 'qcow2' });
    } else if (volume.emptyDisk) {
      const bytes = Number(parseBytes(volume.emptyDisk.capacity));
      const path = join(ctx.domainDir, `empty-${i}.qcow2`);
      await ctx.images.createEmpty(path, bytes);
      disks.push({ ...base, path, format: 'qcow2' });
    } else if (volume.hostDisk) {
      const capacity =
        volume.hostDisk.capacity === undefined ? undefined : Number(parseBytes(volume.hostDisk.capacity));
      const path = await ctx.images.hostDisk(volume.hostDisk.path, volume.hostDisk.type, capacity);
      disks.push({ ...base, path, format: 'raw' });
    } else if (volume.cloudInitNoCloud) {
      const path = join(ctx.domainDir, 'cidata.iso');
      await buildNoCloudIso(
        { instanceId: def.uid, hostname: spec.hostname ?? def.name, source: volume.cloudInitNoCloud },
        path,
      );
      disks.push({ ...base, path, format: 'raw' });
    } else {
      const kind = Object.keys(volume).find((k) => k !== 'name') ?? 'unknown';
      throw new ImageError('InvalidSpec', `volume ${volume.name}: source ${kind} is not supported by the agent`);
    }
  }

  let kernelBoot: DomainXmlInput['kernelBoot'];
  const kb = dom.firmware?.kernelBoot;
  if (kb) {
    if (!kb.container?.image || !kb.container.kernelPath) {
      throw new UnsafeValueError('firmware.kernelBoot', 'needs container.image and container.kernelPath');
    }
    const kernel = await kernelBootFile(kb.container.image, kb.container.kernelPath, ctx);
    const initrd = kb.container.initrdPath
      ? await kernelBootFile(kb.container.image, kb.container.initrdPath, ctx)
      : undefined;
    kernelBoot = {
      kernel,
      ...(initrd ? { initrd } : {}),
      cmdline: kb.kernelArgs ?? 'console=ttyS0',
    };
  }

  const res = vmiSpecResources(spec);
  // KubeVirt refuses a VMI without memory; guessing a size would hide the mistake.
  const memoryBytes = vmiGuestMemoryBytes(spec);
  if (!memoryBytes) {
    throw new UnsafeValueError(
      'spec.domain.memory.guest',
      'no guest memory: set memory.guest or resources.requests.memory',
    );
  }
  const consoleLog = join(ctx.domainDir, 'console.log');
  const metadata: DomainMetadata = {
    uid: def.uid,
    namespace: def.namespace,
    name: def.name,
    dir: ctx.domainDir,
    consoleLog,
    cpuMillis: res.cpuMillis,
    memoryBytes: res.memoryBytes || memoryBytes,
    ...(def.readinessLine !== undefined ? { readinessLine: def.readinessLine } : {}),
  };
  const uuid = dom.firmware?.uuid ?? (UUID_RE.test(def.uid) ? def.uid : undefined);
  return {
    name: def.id,
    ...(uuid ? { uuid } : {}),
    hypervisor: ctx.hypervisor,
    sockets: dom.cpu?.sockets ?? 1,
    cores: dom.cpu?.cores ?? 1,
    threads: dom.cpu?.threads ?? 1,
    ...(dom.cpu?.model ? { cpuModel: dom.cpu.model } : {}),
    memoryBytes,
    ...(dom.machine?.type ? { machine: dom.machine.type } : {}),
    ...(kernelBoot ? { kernelBoot } : {}),
    disks,
    consoleLog,
    metadata,
    ...(dom.firmware?.serial !== undefined ? { smbiosSerial: dom.firmware.serial } : {}),
  };
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** What a pull of a translated image may reach: direct URLs follow the node's policy, rules are trusted. */
function networkRule(t: TranslatedImage, image: string, ctx: PrepareContext): { publicOnly?: true } {
  if (!t.direct) return {};
  const policy = ctx.directImageUrls ?? 'public';
  if (policy === 'refuse') {
    throw new ImageError(
      'ImageFetchFailed',
      `image "${image}" is a URL, and this node fetches only images its translation rules name ` +
        `(directImageUrls: 'refuse'); ask the node's operator for a rule`,
    );
  }
  return policy === 'public' ? { publicOnly: true } : {};
}

async function pullImage(image: string, ctx: PrepareContext, policy?: string) {
  const t = translateImage(image, ctx.translations);
  if (!t) throw new ImageError('ImageFetchFailed', `no translation for image "${image}" and it is not an http(s) URL`);
  let fetching = false;
  const pulled = await ctx.images.pull(t.url, {
    ...networkRule(t, image, ctx),
    name: image,
    ...(t.sha256 ? { sha256: t.sha256 } : {}),
    ...(policy === 'Always' ? { policy: 'Always' as const } : {}),
    onProgress: (p) => {
      fetching = true;
      ctx.onImage('fetching', p);
    },
  });
  if (fetching) ctx.onImage('fetched', { bytesDone: pulled.size, bytesTotal: pulled.size });
  return pulled;
}

/**
 * A kernel or initrd for direct kernel boot: `container.image` translates to a base location (a directory
 * via `file://`, or an http(s) prefix) and the path inside it is appended. Local files are used where they
 * are (QEMU only reads them); remote ones are fetched into the image store.
 */
async function kernelBootFile(image: string, inner: string, ctx: PrepareContext): Promise<string> {
  if (inner.split('/').includes('..')) throw new UnsafeValueError('kernelBoot', `"${inner}" must not contain ..`);
  const t = translateImage(image, ctx.translations);
  if (!t) throw new ImageError('ImageFetchFailed', `no translation for kernel boot image "${image}"`);
  const url = `${t.url.replace(/\/+$/, '')}/${inner.replace(/^\/+/, '')}`;
  if (url.startsWith('file:')) return fileURLToPath(url);
  let fetching = false;
  const pulled = await ctx.images.pull(url, {
    ...networkRule(t, image, ctx),
    name: `${image}/${inner.replace(/^\/+/, '')}`,
    onProgress: (p) => {
      fetching = true;
      ctx.onImage('fetching', p);
    },
  });
  if (fetching) ctx.onImage('fetched', { bytesDone: pulled.size, bytesTotal: pulled.size });
  return pulled.path;
}
