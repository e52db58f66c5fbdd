/**
 * Virtlet-style image name translation: maps a `containerDisk.image` name to where the image really is
 * (an http(s) URL, a `file://` URL or an absolute path).
 */
export interface ImageTranslationRule {
  /** Exact image name (after the config prefix is stripped). */
  name?: string;
  /** Regular expression matched against the whole name; `$1`… in `url` are replaced by its groups. */
  regexp?: string;
  url: string;
  /** Expected sha256 (hex) of the image; a download that does not match is discarded. */
  sha256?: string;
}

export interface ImageTranslationConfig {
  /** Names must start with `<prefix>/` to use this config; the prefix is stripped before matching. */
  prefix?: string;
  translations: ImageTranslationRule[];
}

export interface TranslatedImage {
  /** `http(s)://…` or (from a translation rule) `file://…` URL. */
  url: string;
  sha256?: string;
  /** The image name was the URL itself (no rule): it comes from the VM spec, not from the operator. */
  direct?: true;
}

/**
 * Translates an image name. Names that already are http(s) URLs pass through unchanged. `file://` URLs and
 * absolute paths do not: the image name comes from whoever may create a VM, and letting it name a file on
 * the node would copy any file the agent can read (/etc/shadow, another VM's disk) into that VM. Local
 * images are reached through a translation rule, which the node's operator writes.
 */
export function translateImage(image: string, configs: readonly ImageTranslationConfig[]): TranslatedImage | undefined {
  for (const config of configs) {
    let name = image;
    if (config.prefix) {
      if (!image.startsWith(`${config.prefix}/`)) continue;
      name = image.slice(config.prefix.length + 1);
    }
    for (const rule of config.translations) {
      if (rule.name !== undefined && rule.name === name) return withSum(rule.url, rule.sha256);
    }
    for (const rule of config.translations) {
      if (rule.regexp === undefined) continue;
      const m = new RegExp(`^(?:${rule.regexp})$`).exec(name);
      // What a name puts into the URL must not climb out of where the rule points (`local/../../etc/x`).
      if (m?.slice(1).some((g) => g !== undefined && (g.includes('%') || g.split('/').some((s) => s === '..'))))
        continue;
      if (m)
        return withSum(
          rule.url.replace(/\$(\d+)/g, (_, n: string) => m[Number(n)] ?? ''),
          rule.sha256,
        );
    }
  }
  if (/^https?:\/\//.test(image)) return { url: image, direct: true };
  return undefined;
}

function withSum(url: string, sha256: string | undefined): TranslatedImage {
  return sha256 === undefined ? { url } : { url, sha256: sha256.toLowerCase() };
}
