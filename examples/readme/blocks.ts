/**
 * The fenced code blocks of the project's READMEs, with the `<!-- readme-test: ... -->` marker written on
 * the line before a fence, so the README tests run what readers read rather than a copy of it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export const REPO_ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');

export interface ReadmeBlock {
  /** Path relative to the repository root. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string, lower-cased (`ts`, `sh`, `yaml`, or '' when none). */
  lang: string;
  /** What the marker comment says, or undefined without one. */
  marker: string | undefined;
  /** The block's text with the fence's own indentation removed. */
  code: string;
}

const SKIP_DIRS = new Set(['node_modules', '.tools', '.git', 'dist', 'tmp', 'docs', 'coverage']);
const FENCE = /^(\s*)```\s*([\w-]*)\s*$/;
const MARKER = /^\s*<!--\s*readme-test:\s*(.*?)\s*-->\s*$/;

/** Every README*.md in the repository outside dependencies and build output. */
export function readmeFiles(root = REPO_ROOT): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !(dir === root && e.name.startsWith('.'))) walk(join(dir, e.name));
      } else if (/^README.*\.md$/i.test(e.name)) found.push(relative(root, join(dir, e.name)));
    }
  };
  walk(root);
  return found.sort();
}

/** The fenced blocks of one markdown file; an unclosed fence throws with its line. */
export function readmeBlocks(file: string, root = REPO_ROOT): ReadmeBlock[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? '');
    if (!open) continue;
    const indent = open[1]?.length ?? 0;
    let prev = i - 1;
    while (prev >= 0 && (lines[prev] ?? '').trim() === '') prev--;
    const marker = prev >= 0 ? MARKER.exec(lines[prev] ?? '')?.[1] : undefined;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j] ?? ''); j++) body.push((lines[j] ?? '').slice(indent));
    if (j >= lines.length) throw new Error(`${file}:${i + 1}: code fence never closed`);
    blocks.push({ file, line: i + 1, lang: (open[2] ?? '').toLowerCase(), marker, code: `${body.join('\n')}\n` });
    i = j;
  }
  return blocks;
}

export const where = (b: ReadmeBlock) => `${b.file}:${b.line}`;
