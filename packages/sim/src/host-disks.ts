/**
 * The libvirt agent's `hostDisk` rule, as pure path logic over a declared host filesystem (the simulator
 * has no real one). The agent refuses, with `InvalidSpec` and these messages, in this order:
 * - a path that is not absolute and normalised (no `.`/`..`/empty segments, no control characters);
 * - a path whose parent directory, with symlinks resolved, does not exist or is not under an allowed root
 *   (no roots configured: every hostDisk is refused);
 * - a symlink whose target does not resolve to a path under a root; a directory;
 * - a missing file with type `Disk`; a missing file with type `DiskOrCreate` and no capacity.
 * A missing `DiskOrCreate` file with a capacity is created (and stays: host disks belong to the host).
 *
 * The declared filesystem: directories are `/`, the roots and their ancestors, and the ancestors of every
 * declared file and symlink; everything else does not exist.
 */

export interface HostDiskLayout {
  /** Absolute roots hostDisk paths must lie under. */
  roots: readonly string[];
  /** Regular files on the host. */
  files: readonly string[];
  /** Symlinks: absolute link path → target (absolute, or relative to the link's directory). */
  symlinks: Readonly<Record<string, string>>;
}

/** `path` is what the disk resolves to; `created` when this call made the file. */
export type HostDiskOutcome = { ok: true; path: string; created: boolean } | { ok: false; message: string };

/** The most symlinks one resolution follows (Linux's limit), so link loops end. */
const MAX_LINK_HOPS = 40;

/** Why `path` is not absolute and normalised (the agent's `checkAbsolutePath`), or undefined. */
export function absolutePathError(path: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (!path.startsWith('/') || /[\u0000-\u001F\u007F]/.test(path)) {
    return 'must be an absolute path without control characters';
  }
  const segs = path.split('/').slice(1);
  if (path !== '/' && segs.some((s) => s === '' || s === '.' || s === '..')) {
    return `"${path}" is not a normalised absolute path`;
  }
  return undefined;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let p = parentOf(path); p !== '/'; p = parentOf(p)) out.push(p);
  return out;
}

/** A simulated node's host filesystem as far as hostDisk volumes see it. */
export class HostDisks {
  /** The roots as given, for messages. */
  readonly roots: readonly string[];
  readonly #files = new Set<string>();
  readonly #links = new Map<string, string>();
  readonly #dirs = new Set<string>(['/']);

  constructor(layout: Partial<HostDiskLayout> = {}) {
    const checked = (p: string, what: string) => {
      const bad = absolutePathError(p.length > 1 ? p.replace(/\/+$/, '') : p);
      if (bad) throw new TypeError(`${what} ${JSON.stringify(p)}: ${bad}`);
      return p.length > 1 ? p.replace(/\/+$/, '') : p;
    };
    this.roots = (layout.roots ?? []).map((r) => checked(r, 'hostDiskRoots entry'));
    for (const r of this.roots) {
      this.#dirs.add(r);
      for (const a of ancestors(r)) this.#dirs.add(a);
    }
    for (const f of layout.files ?? []) {
      const p = checked(f, 'hostFiles entry');
      this.#files.add(p);
      for (const a of ancestors(p)) this.#dirs.add(a);
    }
    for (const [link, target] of Object.entries(layout.symlinks ?? {})) {
      const p = checked(link, 'hostSymlinks entry');
      this.#links.set(p, target);
      for (const a of ancestors(p)) this.#dirs.add(a);
    }
  }

  /** Whether a regular file exists at `path` (declared, or created by a `DiskOrCreate`). */
  hasFile(path: string): boolean {
    return this.#files.has(path);
  }

  /** `realpath(3)`: the path with every symlink resolved, or undefined when a component is missing. */
  realpath(path: string, hops = 0): string | undefined {
    const parts = path.split('/').filter((s) => s !== '' && s !== '.');
    let cur = '';
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === '..') {
        cur = cur.slice(0, cur.lastIndexOf('/'));
        continue;
      }
      const next = `${cur}/${part}`;
      const target = this.#links.get(next);
      if (target !== undefined) {
        if (hops >= MAX_LINK_HOPS) return undefined;
        const base = target.startsWith('/') ? target : `${cur}/${target}`;
        return this.realpath([base, ...parts.slice(i + 1)].join('/'), hops + 1);
      }
      const last = i === parts.length - 1;
      if (this.#dirs.has(next) || (last && this.#files.has(next))) cur = next;
      else return undefined;
    }
    return cur === '' ? '/' : cur;
  }

  #inside(p: string): boolean {
    // Exactly the agent's test, including its quirk that a root of `/` admits nothing below it.
    return this.roots.some((root) => p === root || p.startsWith(`${root}/`));
  }

  /**
   * Resolves a hostDisk volume as the agent does at define time; a `DiskOrCreate` that succeeds on a
   * missing file creates it.
   */
  resolve(path: string, type: 'Disk' | 'DiskOrCreate', capacityBytes?: number): HostDiskOutcome {
    const bad = absolutePathError(path);
    if (bad) return { ok: false, message: `hostDisk.path: ${bad}` };
    const parent = this.realpath(parentOf(path));
    const name = path.slice(path.lastIndexOf('/') + 1);
    const real = parent === undefined ? undefined : parent === '/' ? `/${name}` : `${parent}/${name}`;
    if (real === undefined || !this.#inside(real)) {
      return {
        ok: false,
        message: `hostDisk ${path} is outside the allowed roots (${this.roots.join(', ') || 'none'})`,
      };
    }
    if (this.#links.has(real)) {
      const target = this.realpath(real);
      if (target === undefined || !this.#inside(target)) {
        return { ok: false, message: `hostDisk ${path} links outside the allowed roots` };
      }
      return { ok: true, path: real, created: false };
    }
    if (this.#dirs.has(real)) return { ok: false, message: `hostDisk ${path} is not a regular file` };
    if (this.#files.has(real)) return { ok: true, path: real, created: false };
    if (type === 'Disk') return { ok: false, message: `hostDisk ${path} does not exist (type Disk)` };
    if (!capacityBytes || capacityBytes <= 0) {
      return { ok: false, message: `hostDisk ${path}: DiskOrCreate needs a capacity` };
    }
    this.#files.add(real);
    return { ok: true, path: real, created: true };
  }
}
