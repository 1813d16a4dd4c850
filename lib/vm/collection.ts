/**
 * The kselftest collection `memseal kselftest` writes: a .tar.gz laid out
 * as `make -C tools/testing/selftests install` lays out an install, so a lab
 * unpacks it over its own (or alone) and runs the kernel's runner:
 *
 *   kselftest-list.txt        memseal:conform
 *   memseal/conform           the launcher (lib/vm/collection-launcher.ts)
 *   memseal/settings          timeout=N for the runner
 *   memseal/config            the kernel options the suite needs
 *   memseal/MANIFEST          sha256sum(1) lines of every file below
 *   memseal/runtime/node      this node binary, unchanged
 *   memseal/runtime/lib/      the shared libraries it and the addon link, and the dynamic loader
 *   memseal/package/          package.json, dist/, the addon, the runtime dependencies
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { addonFile } from '../binding.js';
import { nodeBinary } from '../node-self.js';
import { findPackageRoot } from '../package-root.js';
import { configFragment, launcherScript, LIST_LINE, settingsFile, unameMachine } from './collection-launcher.js';
import { hashFile, runtimeModules } from './initramfs.js';
import { sharedLibraries } from './ldd.js';
import type { TarEntry } from './tar.js';

export interface CollectionInputs {
  /** The node binary to carry (default: the one running this process). */
  node: string;
  /** The memseal package root: package.json, dist/, prebuilds/linux-<arch>/memseal.node, node_modules/. */
  packageRoot: string;
  /** Node.js's name of the architecture (default: this process's). */
  arch: string;
}

export function defaultCollectionInputs(): CollectionInputs {
  return { node: nodeBinary(), packageRoot: findPackageRoot(), arch: process.arch };
}

/** The dynamic loader among a binary's libraries (ld-linux-x86-64.so.2, ld-linux-aarch64.so.1, ld-musl-*). */
export function isLoader(path: string): boolean {
  return /^ld-(linux|musl)[^/]*\.so(\.\d+)*$/.test(basename(path));
}

function files(dir: string, keep: (rel: string) => boolean, base = dir): string[] {
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...files(p, keep, base));
    else if ((d.isFile() || d.isSymbolicLink()) && keep(relative(base, p))) out.push(p);
  }
  return out;
}

function sha256(path: string): string {
  const h = createHash('sha256');
  hashFile(h, path);
  return h.digest('hex');
}

const exec = (source: string): number => (statSync(source).mode & 0o111 ? 0o755 : 0o644);

/** The archive's entries, directories first where needed; throws when an input is missing. */
export function collectionEntries(inputs: CollectionInputs): TarEntry[] {
  const root = inputs.packageRoot;
  const addon = join(root, addonFile(inputs.arch));
  const entry = join(root, 'dist', 'cli', 'kselftest-entry.js');
  for (const need of [inputs.node, addon, entry]) statSync(need);
  const libs = [...new Set([...sharedLibraries(inputs.node), ...sharedLibraries(addon)])].sort();
  const loader = libs.find(isLoader);
  if (loader === undefined) throw new Error(`${inputs.node} names no dynamic loader (ldd): a static node needs no collection runtime`);
  // Payload files: [path in the archive under memseal/, source file, mode].
  const payload: [string, string, number][] = [
    ['runtime/node', inputs.node, 0o755],
    ...libs.map((l): [string, string, number] => [`runtime/lib/${basename(l)}`, l, 0o755]),
    ['package/package.json', join(root, 'package.json'), 0o644],
    [`package/${addonFile(inputs.arch)}`, addon, 0o755],
  ];
  const dist = join(root, 'dist');
  for (const p of files(dist, (rel) => !/\.(map|d\.ts)$/.test(rel))) payload.push([`package/dist/${relative(dist, p)}`, p, 0o644]);
  for (const [name, dir] of runtimeModules(root)) {
    for (const p of files(dir, () => true)) payload.push([`package/node_modules/${name}/${relative(dir, p)}`, p, exec(p)]);
  }
  const texts: [string, string, number][] = [
    ['conform', launcherScript({ machine: unameMachine(inputs.arch), loader: basename(loader) }), 0o755],
    ['settings', settingsFile(), 0o644],
    ['config', configFragment(inputs.arch), 0o644],
  ];
  const manifest = [
    ...texts.map(([p, text]) => `${createHash('sha256').update(text).digest('hex')}  ${p}`),
    ...payload.map(([p, source]) => `${sha256(source)}  ${p}`),
  ].join('\n');
  const entries: TarEntry[] = [{ type: 'data', path: 'kselftest-list.txt', mode: 0o644, data: Buffer.from(`${LIST_LINE}\n`) }];
  const dirs = new Set<string>();
  const addDirs = (path: string): void => {
    const parts = path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ type: 'dir', path: d, mode: 0o755 });
      }
    }
  };
  for (const [p, text, mode] of [...texts, ['MANIFEST', `${manifest}\n`, 0o644] as [string, string, number]]) {
    addDirs(`memseal/${p}`);
    entries.push({ type: 'data', path: `memseal/${p}`, mode, data: Buffer.from(text) });
  }
  for (const [p, source, mode] of payload) {
    addDirs(`memseal/${p}`);
    entries.push({ type: 'file', path: `memseal/${p}`, mode, source, size: statSync(source).size });
  }
  return entries;
}

/** The package version, for the default file name. */
export function packageVersion(root: string): string {
  return String((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }).version ?? '0');
}
