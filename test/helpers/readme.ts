/**
 * The README as data: its sections and fenced code blocks, and what the code
 * says must be documented there (exports, error codes, CLI subcommands and
 * flags), collected from the sources rather than from a hand-kept list.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { root } from './child.js';

export const readme = readFileSync(join(root, 'README.md'), 'utf8');

export interface CodeBlock {
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
}

/** Every fenced block, with its info string's first word as the language. */
export function codeBlocks(text = readme): CodeBlock[] {
  const out: CodeBlock[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    out.push({ lang: open[1]!, code: `${body.join('\n')}\n`, line: start + 1 });
  }
  return out;
}

/** The README without its fenced blocks (headings inside code are not headings). */
function prose(text = readme): string {
  return text.replace(/^```[\s\S]*?^```\s*$/gm, '');
}

/** The text under the heading matching `title` (a regex), up to the next heading of the same or a higher level. */
export function section(title: RegExp, text = readme): string {
  const lines = text.split('\n');
  let inFence = false;
  let level = 0;
  const out: string[] = [];
  for (const line of lines) {
    if (/^```/.test(line)) inFence = !inFence;
    const h = inFence ? null : /^(#+)\s+(.*)$/.exec(line);
    if (level > 0 && h && h[1]!.length <= level) break;
    if (level > 0) out.push(line);
    else if (h && title.test(h[2]!)) level = h[1]!.length;
  }
  return out.join('\n');
}

/** Heading lines outside code blocks. */
export function headings(text = readme): string[] {
  return prose(text)
    .split('\n')
    .filter((l) => /^#+\s/.test(l));
}

/** Whether `token` occurs in `text` as a whole word (flags: not inside a longer flag). */
export function hasToken(text: string, token: string): boolean {
  const escaped = token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w-])${escaped}(?![\\w-])`, 'm').test(text);
}

/** Every ERR_MEMSEAL_* code named in lib/errors.ts. */
export function errorCodes(): string[] {
  const src = readFileSync(join(root, 'lib', 'errors.ts'), 'utf8');
  return [...new Set(src.match(/ERR_MEMSEAL_[A-Z0-9_]+/g) ?? [])].sort();
}

const cliDir = join(root, 'lib', 'cli');

/** The subcommands: the keys of main.ts's COMMANDS table. */
export function cliSubcommands(): string[] {
  const src = readFileSync(join(cliDir, 'main.ts'), 'utf8');
  const start = src.indexOf('const COMMANDS');
  if (start < 0) throw new Error('lib/cli/main.ts has no COMMANDS table');
  const open = src.indexOf('{', src.indexOf('=', start));
  let depth = 0;
  let end = open;
  for (; end < src.length; end++) {
    if (src[end] === '{') depth++;
    else if (src[end] === '}' && --depth === 0) break;
  }
  const body = src.slice(open + 1, end);
  const names: string[] = [];
  depth = 0;
  // Keys at the top level of the object literal only.
  for (const m of body.matchAll(/[{}]|(?:^|\n)\s*['"]?([a-z][\w-]*)['"]?\s*:/g)) {
    if (m[0] === '{') depth++;
    else if (m[0] === '}') depth--;
    else if (depth === 0) names.push(m[1]!);
  }
  return names;
}

/**
 * Flags per CLI source file: every `--flag` and `-x` in its strings and usage
 * text, and every parseArgs option (`name: { type: ... }`, `short: 'x'`).
 */
export function cliFlags(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of readdirSync(cliDir).filter((f) => f.endsWith('.ts'))) {
    const src = readFileSync(join(cliDir, file), 'utf8');
    const flags = new Set<string>();
    for (const m of src.matchAll(/(?:^|[^\w-])(--[a-z][a-z0-9-]*)/g)) flags.add(m[1]!);
    for (const m of src.matchAll(/['"]?([a-z][\w-]*)['"]?\s*:\s*\{\s*type:\s*'(?:boolean|string)'/g)) flags.add(`--${m[1]}`);
    for (const m of src.matchAll(/short:\s*'([a-zA-Z])'/g)) flags.add(`-${m[1]}`);
    for (const m of src.matchAll(/['"](-[a-zA-Z])['"]/g)) flags.add(m[1]!);
    out.set(basename(file, '.ts'), [...flags].sort());
  }
  return out;
}
