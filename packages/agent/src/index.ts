// @virtkit/agent — the node agent: a NodeDriver over a real libvirtd. Explicit exports only.

export {
  buildNoCloudIso,
  CloudInitError,
  type NoCloudFiles,
  type NoCloudInput,
  noCloudFiles,
} from './cloud-init/nocloud.ts';
export { initialState, type NormaliserState, normalise, type RawLifecycle } from './driver/event-normaliser.ts';
export { DEFAULT_READINESS, LibvirtNodeDriver, type LibvirtNodeDriverOptions } from './driver/libvirt-node-driver.ts';
export {
  detectFormat,
  ImageError,
  type ImageErrorReason,
  type ImageProgress,
  ImageStore,
  type ImageStoreOptions,
  type PulledImage,
  type PullOptions,
} from './images/image-store.ts';
export {
  type ImageTranslationConfig,
  type ImageTranslationRule,
  type TranslatedImage,
  translateImage,
} from './images/translation.ts';
export { DIRECT_IMAGE_URL_POLICIES, type DirectImageUrlPolicy, nonPublicReason } from './images/url-policy.ts';
export { type KvmProbeOptions, type KvmProbeResult, probeKvm } from './kvm/probe.ts';
/** The whole libvirt RPC client: constants (states, events, flags), codecs, connection, errors. */
export * as libvirtRpc from './rpc/index.ts';
export { LibvirtClient, LibvirtConnectionError, LibvirtError, toDriverError } from './rpc/index.ts';
export {
  assignTargets,
  buildDomainXml,
  type DomainDiskInput,
  type DomainMetadata,
  type DomainXmlInput,
  readDomainMetadata,
  VIRTKIT_XMLNS,
} from './xml/domain-xml.ts';
export { UnsafeValueError, xmlEscape } from './xml/escape.ts';
