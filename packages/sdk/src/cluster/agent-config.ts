/**
 * The node agent's configuration file (`virtkit agent --config`, the ConfigMap in deploy/): what an
 * operator sets on a node beyond flags, read into the LibvirtNodeDriver options it covers.
 *
 * The whole file is checked before the agent starts, and every bad field is reported at once with its
 * path: a regexp that does not compile or a URL that does not parse would otherwise surface only when
 * the first VM using that image is defined, as that VM's failure rather than the operator's.
 */
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DIRECT_IMAGE_URL_POLICIES,
  type ImageTranslationConfig,
  type ImageTranslationRule,
  type LibvirtNodeDriverOptions,
} from '@virtkit/agent';
import {
  checkQuantity,
  type FieldCause,
  InvalidSpecError,
  type Quantity,
  quantityMilliValue,
  quantityValue,
  validateLabels,
} from '@virtkit/engine';
import { parseDocument } from 'yaml';

/** The `kind` of the InvalidSpecError a bad file gives (its `name` is the file's path). */
export const AGENT_CONFIG_KIND = 'AgentConfig';

/** The LibvirtNodeDriver options an agent config file sets. */
export type AgentConfig = Pick<
  LibvirtNodeDriverOptions,
  'imageTranslations' | 'directImageUrls' | 'hostDiskRoots' | 'hypervisor' | 'reserved' | 'maxVms' | 'labels'
>;

const TOP_LEVEL = [
  'imageTranslations',
  'directImageUrls',
  'hostDiskRoots',
  'hypervisor',
  'reserved',
  'maxVms',
  'labels',
] as const satisfies readonly (keyof AgentConfig)[];
const HYPERVISORS = ['auto', 'kvm', 'qemu'] as const;
const IMAGE_URL_SCHEMES = ['http:', 'https:', 'file:'];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const describe = (v: unknown): string =>
  Array.isArray(v) ? 'a list' : v === null ? 'null' : `${/^[aeiou]/.test(typeof v) ? 'an' : 'a'} ${typeof v}`;
const sub = (field: string, key: string) => (field ? `${field}.${key}` : key);

/** Collects every problem of one file; nothing is thrown until all fields were looked at. */
class Problems {
  readonly causes: FieldCause[] = [];
  invalid(field: string, message: string): undefined {
    this.causes.push({ field, reason: 'FieldValueInvalid', message });
    return undefined;
  }
  required(field: string, message = 'is required'): undefined {
    this.causes.push({ field, reason: 'FieldValueRequired', message });
    return undefined;
  }
  notSupported(field: string, value: unknown, supported: readonly string[]): undefined {
    this.causes.push({
      field,
      reason: 'FieldValueNotSupported',
      message: `${JSON.stringify(value)} is not supported; supported: ${supported.join(', ')}`,
    });
    return undefined;
  }
  /** A mapping with only the `allowed` keys; unknown keys are errors (a typo must not silently do nothing). */
  mapping(v: unknown, field: string, allowed: readonly string[]): Obj | undefined {
    if (!isObj(v)) return this.invalid(field || '(file)', `must be a mapping, not ${describe(v)}`);
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k))
        this.causes.push({
          field: sub(field, k),
          reason: 'FieldValueNotSupported',
          message: `unknown field; supported: ${allowed.join(', ')}`,
        });
    }
    return v;
  }
  string(v: unknown, field: string): string | undefined {
    if (typeof v !== 'string') return this.invalid(field, `must be a string, not ${describe(v)}`);
    if (v === '') return this.invalid(field, 'must not be empty');
    return v;
  }
  list(v: unknown, field: string): unknown[] | undefined {
    return Array.isArray(v) ? v : this.invalid(field, `must be a list, not ${describe(v)}`);
  }
}

/**
 * Reads an agent config file (YAML, or JSON when the name ends in `.json`). Throws InvalidSpecError
 * (kind `AgentConfig`, name = `path`) listing every bad field, also when the file cannot be read.
 */
export async function readAgentConfig(path: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new InvalidSpecError(
      AGENT_CONFIG_KIND,
      path,
      [{ field: '(file)', reason: 'FieldValueInvalid', message: `cannot be read (${why})` }],
      { cause: err },
    );
  }
  return parseAgentConfig(text, path);
}

/** Parses and checks an agent config; `name` (a path) names the file in errors and picks the format. */
export function parseAgentConfig(
  text: string,
  name: string,
  format: 'yaml' | 'json' = name.endsWith('.json') ? 'json' : 'yaml',
): AgentConfig {
  let doc: unknown;
  try {
    doc = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new InvalidSpecError(
      AGENT_CONFIG_KIND,
      name,
      [{ field: '(syntax)', reason: 'FieldValueInvalid', message: (err as Error).message }],
      { cause: err },
    );
  }
  // An empty file (or one holding only comments) leaves every setting at its default.
  return doc === null || doc === undefined ? {} : checkAgentConfig(doc, name);
}

/**
 * Checks an agent config that is already a value (parsed elsewhere, or options given in code, as
 * `connect({ driver: 'libvirt' })` does) exactly as a file's; `name` names it in the InvalidSpecError.
 */
export function checkAgentConfig(value: unknown, name: string): AgentConfig {
  const problems = new Problems();
  const config = checkConfig(value, problems);
  if (problems.causes.length) throw new InvalidSpecError(AGENT_CONFIG_KIND, name, problems.causes);
  return config;
}

function parseYaml(text: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const first = doc.errors[0];
  if (first) throw new SyntaxError(first.message.split('\n')[0]?.replace(/:$/, ''), { cause: first });
  return doc.toJS();
}

function checkConfig(doc: unknown, p: Problems): AgentConfig {
  const o = p.mapping(doc, '', TOP_LEVEL);
  if (!o) return {};
  const config: AgentConfig = {};
  if (o.imageTranslations !== undefined) {
    const v = imageTranslations(o.imageTranslations, p);
    if (v) config.imageTranslations = v;
  }
  if (o.directImageUrls !== undefined) {
    const v = o.directImageUrls;
    const policy = DIRECT_IMAGE_URL_POLICIES.find((x) => x === v);
    if (policy) config.directImageUrls = policy;
    else p.notSupported('directImageUrls', v, DIRECT_IMAGE_URL_POLICIES);
  }
  if (o.hostDiskRoots !== undefined) {
    const v = hostDiskRoots(o.hostDiskRoots, p);
    if (v) config.hostDiskRoots = v;
  }
  if (o.hypervisor !== undefined) {
    const v = o.hypervisor;
    const h = HYPERVISORS.find((x) => x === v);
    if (h) config.hypervisor = h;
    else p.notSupported('hypervisor', v, HYPERVISORS);
  }
  if (o.reserved !== undefined) {
    const v = reserved(o.reserved, p);
    if (v) config.reserved = v;
  }
  if (o.maxVms !== undefined) {
    if (Number.isSafeInteger(o.maxVms) && (o.maxVms as number) > 0) config.maxVms = o.maxVms as number;
    else p.invalid('maxVms', `must be a positive integer, not ${JSON.stringify(o.maxVms)}`);
  }
  if (o.labels !== undefined) {
    const causes = validateLabels(o.labels, 'labels');
    if (causes.length) p.causes.push(...causes);
    else config.labels = o.labels as Record<string, string>;
  }
  return config;
}

function imageTranslations(v: unknown, p: Problems): ImageTranslationConfig[] | undefined {
  const list = p.list(v, 'imageTranslations');
  if (!list) return undefined;
  const configs: ImageTranslationConfig[] = [];
  list.forEach((item, i) => {
    const field = `imageTranslations[${i}]`;
    const o = p.mapping(item, field, ['prefix', 'translations']);
    if (!o) return;
    let prefix: string | undefined;
    if (o.prefix !== undefined) {
      prefix = p.string(o.prefix, `${field}.prefix`);
      // translateImage matches `<prefix>/`: a prefix ending in / would never match anything.
      if (prefix?.endsWith('/'))
        prefix = p.invalid(`${field}.prefix`, 'must not end with "/" (names match "<prefix>/...")');
    }
    const config: ImageTranslationConfig = { ...(prefix ? { prefix } : {}), translations: [] };
    if (o.translations === undefined) p.required(`${field}.translations`);
    else {
      const rules = p.list(o.translations, `${field}.translations`);
      if (rules?.length === 0) p.invalid(`${field}.translations`, 'must list at least one translation');
      rules?.forEach((r, j) => {
        const rule = translationRule(r, `${field}.translations[${j}]`, p);
        if (rule) config.translations.push(rule);
      });
    }
    configs.push(config);
  });
  return configs;
}

function translationRule(v: unknown, field: string, p: Problems): ImageTranslationRule | undefined {
  const o = p.mapping(v, field, ['name', 'regexp', 'url', 'sha256']);
  if (!o) return undefined;
  const rule: Partial<ImageTranslationRule> = {};
  let groups: number | undefined;
  if (o.name !== undefined && o.regexp !== undefined)
    p.invalid(field, 'has both name and regexp: a rule matches by one of them');
  else if (o.name === undefined && o.regexp === undefined)
    p.required(`${field}.name`, 'a rule needs a name or a regexp');
  else if (o.name !== undefined) {
    const name = p.string(o.name, `${field}.name`);
    if (name) rule.name = name;
  } else {
    const regexp = p.string(o.regexp, `${field}.regexp`);
    if (regexp) {
      try {
        // Compiled alone first, so an unbalanced `)` cannot pair with the anchoring group translateImage adds.
        new RegExp(regexp);
        new RegExp(`^(?:${regexp})$`);
        groups = (new RegExp(`(?:${regexp})|`).exec('')?.length ?? 1) - 1;
        rule.regexp = regexp;
      } catch (err) {
        p.invalid(`${field}.regexp`, `does not compile: ${(err as Error).message}`);
      }
    }
  }
  if (o.url === undefined) p.required(`${field}.url`);
  else {
    const url = p.string(o.url, `${field}.url`);
    if (url && imageUrl(url, groups, `${field}.url`, p)) rule.url = url;
  }
  if (o.sha256 !== undefined) {
    if (typeof o.sha256 === 'string' && /^[0-9a-fA-F]{64}$/.test(o.sha256)) rule.sha256 = o.sha256;
    else p.invalid(`${field}.sha256`, `must be 64 hexadecimal digits, not ${JSON.stringify(o.sha256)}`);
  }
  return rule.url !== undefined && (rule.name !== undefined || rule.regexp !== undefined)
    ? (rule as ImageTranslationRule)
    : undefined;
}

/**
 * Whether `url` (a rule's target, `$1`… standing for a regexp rule's groups) parses as the image store's
 * URLs must: http(s) or a local file.
 */
function imageUrl(url: string, groups: number | undefined, field: string, p: Problems): boolean {
  let ok = true;
  // Groups are filled in at translation time; a stand-in lets the rest be checked now.
  const sample =
    groups === undefined
      ? url
      : url.replace(/\$(\d+)/g, (ref: string, n: string) => {
          if (Number(n) > groups) {
            ok = false;
            p.invalid(field, `${ref} refers to a group the regexp does not have (it has ${groups})`);
          }
          return 'x';
        });
  let parsed: URL;
  try {
    parsed = new URL(sample);
  } catch {
    p.invalid(field, `${JSON.stringify(url)} is not a URL (an absolute http://, https:// or file:// URL)`);
    return false;
  }
  if (!IMAGE_URL_SCHEMES.includes(parsed.protocol)) {
    p.invalid(field, `scheme ${parsed.protocol} is not supported (http:, https: or file:)`);
    return false;
  }
  if (parsed.protocol === 'file:') {
    try {
      fileURLToPath(parsed);
    } catch (err) {
      p.invalid(field, (err as Error).message);
      return false;
    }
  }
  return ok;
}

function hostDiskRoots(v: unknown, p: Problems): string[] | undefined {
  const list = p.list(v, 'hostDiskRoots');
  if (!list) return undefined;
  const roots: string[] = [];
  list.forEach((item, i) => {
    const field = `hostDiskRoots[${i}]`;
    const root = p.string(item, field);
    if (root === undefined) return;
    if (!posix.isAbsolute(root)) p.invalid(field, `${JSON.stringify(root)} is not an absolute path`);
    else if (root.includes('\0')) p.invalid(field, 'must not contain a NUL character');
    else if (posix.normalize(root) === '/')
      p.invalid(field, '"/" would let a VM open any file on the node; name the directories its disks live in');
    else roots.push(root);
  });
  return roots;
}

function reserved(v: unknown, p: Problems): AgentConfig['reserved'] | undefined {
  const o = p.mapping(v, 'reserved', ['cpu', 'memory']);
  if (!o) return undefined;
  const r: NonNullable<AgentConfig['reserved']> = {};
  const amount = (value: unknown, field: string, scale: (q: Quantity) => bigint) => {
    const c = checkQuantity(value);
    if (!c.ok) return p.invalid(field, `${JSON.stringify(value)}: ${c.reason}`);
    const n = scale(c.quantity);
    if (n < 0n) return p.invalid(field, `${JSON.stringify(value)} must not be negative`);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) return p.invalid(field, `${JSON.stringify(value)} is too large`);
    return Number(n);
  };
  if (o.cpu !== undefined) {
    const m = amount(o.cpu, 'reserved.cpu', quantityMilliValue);
    if (m !== undefined) r.cpuMillis = m;
  }
  if (o.memory !== undefined) {
    const b = amount(o.memory, 'reserved.memory', quantityValue);
    if (b !== undefined) r.memoryBytes = b;
  }
  return r;
}
