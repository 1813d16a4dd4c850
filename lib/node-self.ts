/**
 * How to start this node again. Usually `process.execPath`; but in a
 * kselftest collection (`memseal kselftest`) node runs through the dynamic
 * loader it carries (`ld-linux-x86-64.so.2 --library-path LIBS NODE ...`),
 * so /proc/self/exe and process.execPath are the loader, and starting it
 * with a script would ask the loader to run the script. The collection's
 * launcher then says, in $MEMSEAL_NODE_LAUNCHER (a JSON array of absolute
 * paths and arguments: the loader, its options, node), what to start
 * instead; it is honoured only when its first word is this process's own
 * executable, so a value inherited by an unrelated node does nothing.
 *
 * Every spawn of "this node" (batch children, pid-namespace cases, steps,
 * helper processes of cases) goes through nodeCommand().
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LAUNCHER_ENV = 'MEMSEAL_NODE_LAUNCHER';

interface Launch {
  /** The program to execute. */
  file: string;
  /** Arguments before node's own (the loader's options and node's path). */
  prefix: string[];
  /** The node binary itself (for /proc/self/maps and permission checks). */
  node: string;
  /** Every file a process of another user must be able to read or run (loader, node, libraries' folder). */
  files: string[];
}

let cached: Launch | undefined;

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function fromEnv(): Launch | undefined {
  const raw = process.env[LAUNCHER_ENV];
  if (raw === undefined || raw === '') return undefined;
  let words: unknown;
  try {
    words = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!Array.isArray(words) || words.length < 2 || !words.every((w) => typeof w === 'string' && w !== '')) return undefined;
  const list = words as string[];
  if (!list[0]!.startsWith('/') || real(list[0]!) !== real(process.execPath)) return undefined;
  const node = list[list.length - 1]!;
  const libraryPath = list.indexOf('--library-path');
  const libs = libraryPath >= 0 && list[libraryPath + 1] !== undefined ? list[libraryPath + 1]!.split(':') : [];
  return { file: list[0]!, prefix: list.slice(1), node: real(node), files: [list[0]!, node, ...libs] };
}

function launch(): Launch {
  cached ??= fromEnv() ?? { file: process.execPath, prefix: [], node: real(process.execPath), files: [process.execPath] };
  return cached;
}

/** The program and arguments that run this node with `args` (`[file, [...loader options, node, ...args]]` in a collection). */
export function nodeCommand(args: readonly string[]): { file: string; args: string[] } {
  const l = launch();
  return { file: l.file, args: [...l.prefix, ...args] };
}

/** The node binary this process runs (not the loader): the file /proc/self/maps names for node's own code. */
export function nodeBinary(): string {
  return launch().node;
}

/** The files another user's process needs to start this node: the executable, and in a collection node and its libraries' folder. */
export function nodeFiles(): readonly string[] {
  return launch().files;
}

let compileCache: string | null | undefined;

/**
 * Environment for this node's children: a V8 compile cache they share
 * (NODE_COMPILE_CACHE, Node 22.1+), so only the first child compiles
 * memseal's modules; under TCG every compile is expensive. The folder is
 * private to this process's user (mkdtemp, 0700: a cache another user
 * could write would be code run here) and removed when this process
 * exits; children of other users simply go without. Empty when the
 * caller set NODE_COMPILE_CACHE or no temporary folder can be made.
 */
export function childNodeEnv(): Record<string, string> {
  if (process.env.NODE_COMPILE_CACHE !== undefined) return {};
  if (compileCache === undefined) {
    try {
      const dir = mkdtempSync(join(tmpdir(), 'memseal-compile-cache-'));
      process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
      compileCache = dir;
    } catch {
      compileCache = null;
    }
  }
  return compileCache === null ? {} : { NODE_COMPILE_CACHE: compileCache };
}

/** True when this node runs through a bundled dynamic loader (a kselftest collection). */
export function viaLoader(): boolean {
  return launch().prefix.length > 0;
}
