/**
 * The userland of a guest whose architecture is not the host's (an arm64
 * guest on an x86-64 machine): the host's node and busybox cannot run there,
 * so the guest gets
 *
 * - Debian's static busybox and the libraries the official Node.js build
 *   links (libc6, libstdc++6, libgcc-s1, libatomic1), of the guest's
 *   architecture, from bookworm through the private apt configuration of
 *   lib/vm/apt.ts (`apt-get download`, `dpkg-deb -x`), cached by version;
 * - the official Node.js build of the same major line as the node running
 *   memseal, from the npm package `node-linux-<arch>` (`npm view` for the
 *   newest release of the line, `npm pack` for the tarball, which checks no
 *   platform, unpacked with tar), cached by version; or a node binary the
 *   user names (`memseal vm --node PATH`).
 *
 * Both fall back on the newest cached copy when offline, and say so.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, closeSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { findPackageRoot } from '../package-root.js';
import { aptConfig, aptOptions, DEBIAN_KEYRING, download, firstLines, refreshOnce, runTool, unpack, type AptOptions } from './apt.js';
import { elfMachineOf, type ArchDescription } from './arch.js';
import { cacheDir as defaultCacheDir, cacheSubdir } from './cache.js';
import type { CpioEntry } from './cpio.js';
import { VmError } from './errors.js';

/** What a foreign guest runs: busybox, node, and the libraries with their guest paths. */
export interface GuestUserland {
  busybox: string;
  node: string;
  nodeVersion: string;
  /** Files and symbolic links to put in the image at the same paths as in Debian's packages. */
  libraries: CpioEntry[];
  /** The Debian packages it came from, `name=version`. */
  packages: string[];
}

export interface UserlandOptions extends AptOptions {
  cacheDir?: string;
  keyring?: string;
  /** A node binary of the guest's architecture to use instead of fetching one. */
  node?: string;
  /** The Node.js major line to fetch (default: the one running this process). */
  nodeMajor?: number;
}

const say = (o: UserlandOptions, line: string): void => o.progress?.(line);

function readHeader(path: string, bytes = 64): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(bytes);
    const n = readSync(fd, b, 0, bytes, 0);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Throws unless `path` is an ELF binary for `arch`. */
export function checkBinaryArch(path: string, arch: ArchDescription, what: string): void {
  if (!existsSync(path) || !statSync(path).isFile()) throw new VmError('bad-argument', `${what} ${path} does not exist`);
  const machine = elfMachineOf(readHeader(path));
  if (machine !== arch.elfMachine) {
    throw new VmError('bad-argument', `${what} ${path} is ${machine === undefined ? 'not an ELF binary' : `built for another architecture (ELF machine ${machine})`}; an ${arch.name} guest needs an ${arch.name} one`);
  }
}

// --- Debian's packages -------------------------------------------------------------

/** Library files worth carrying: shared objects and the dynamic loader, not gconv modules or audit libraries. */
function isLibrary(rel: string): boolean {
  return /^(usr\/)?lib\/[^/]+(\/[^/]+)?$/.test(rel) && /(\.so(\.[0-9]+)*|ld-linux[^/]*)$/.test(rel) && !rel.includes('/gconv/') && !rel.includes('/audit/');
}

function walkTree(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...walkTree(p, base));
    else out.push(relative(base, p));
  }
  return out;
}

/** The image entries of an unpacked userland root: busybox at /bin/busybox is separate; libraries at their paths. */
export function libraryEntries(root: string): CpioEntry[] {
  return walkTree(root)
    .filter(isLibrary)
    .sort()
    .map((rel): CpioEntry => {
      const p = join(root, rel);
      return lstatSync(p).isSymbolicLink() ? { type: 'symlink', path: `/${rel}`, target: readlinkSync(p) } : { type: 'file', path: `/${rel}`, mode: 0o755, source: p };
    });
}

const NO_APT = (arch: ArchDescription): string =>
  `an ${arch.name} guest's busybox and libraries come from Debian's ${arch.debian} packages, fetched with apt-get and dpkg-deb (Debian, Ubuntu; with Debian's archive keyring, package debian-archive-keyring)`;

/** The candidate version of each package, from the private lists (`apt-cache show`), as `name=version`. */
async function candidates(arch: ArchDescription, o: UserlandOptions): Promise<string[] | undefined> {
  const c = aptConfig('bookworm', o.cacheDir, o.keyring ?? DEBIAN_KEYRING, arch.debian);
  const refreshed = await refreshOnce(c, o);
  if (!refreshed.ok) say(o, `apt could not update the ${arch.debian} package lists (${refreshed.why}); going by the lists it has`);
  const names = arch.userland.map((p) => `${p}:${arch.debian}`);
  const r = await (o.exec ?? runTool)('apt-cache', [...aptOptions(c), 'show', '--no-all-versions', ...names], { timeoutSeconds: 120 });
  if (r.status !== 0) return undefined;
  const found = new Map<string, string>();
  for (const para of r.stdout.split(/\n\n+/)) {
    const name = /^Package: (\S+)$/m.exec(para)?.[1];
    const version = /^Version: (\S+)$/m.exec(para)?.[1];
    if (name !== undefined && version !== undefined) found.set(name, version);
  }
  if (!arch.userland.every((p) => found.has(p))) return undefined;
  return arch.userland.map((p) => `${p}=${found.get(p)!}`);
}

interface CachedRoot {
  dir: string;
  packages: string[];
}

function cachedRoots(base: string, arch: ArchDescription): CachedRoot[] {
  const dir = join(base, 'userland');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => d.startsWith(`${arch.debian}-`))
    .map((d) => join(dir, d))
    .filter((d) => existsSync(join(d, 'userland.json')) && existsSync(join(d, 'root', 'bin', 'busybox')))
    .map((d) => ({ dir: d, packages: (JSON.parse(readFileSync(join(d, 'userland.json'), 'utf8')) as { packages: string[] }).packages, t: statSync(join(d, 'userland.json')).mtimeMs }))
    .sort((a, b) => b.t - a.t);
}

/** Downloads and unpacks the packages `wanted` (`name=version`) into the cache. */
async function fetchRoot(arch: ArchDescription, wanted: string[], target: string, o: UserlandOptions & { cacheDir: string }): Promise<void> {
  const c = aptConfig('bookworm', o.cacheDir, o.keyring ?? DEBIAN_KEYRING, arch.debian);
  const parent = cacheSubdir('userland', o.cacheDir);
  const work = mkdtempSync(join(parent, '.fetch-'));
  try {
    // As root, apt-get download drops privileges to _apt, which must be able to write here.
    chmodSync(work, 0o777);
    const names = wanted.map((w) => {
      const [name, version] = w.split('=') as [string, string];
      return `${name}:${arch.debian}=${version}`;
    });
    say(o, `downloading ${arch.userland.join(', ')} (${arch.debian}, apt-get download)`);
    const debs = await download(names, work, c, o, { noApt: NO_APT(arch), failed: 'offline? memseal needs them once; they are cached afterwards' });
    const root = join(work, 'root');
    for (const deb of debs) await unpack(deb, root, o, NO_APT(arch));
    writeFileSync(join(work, 'userland.json'), `${JSON.stringify({ arch: arch.name, packages: wanted }, null, 2)}\n`);
    for (const f of readdirSync(work)) if (f.endsWith('.deb')) rmSync(join(work, f));
    try {
      renameSync(work, target);
    } catch (err) {
      // Another memseal unpacked the same packages meanwhile: keep theirs.
      if (!existsSync(join(target, 'userland.json'))) throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** busybox and the libraries of `arch` from Debian's packages, unpacked in the cache. */
async function debianRoot(arch: ArchDescription, o: UserlandOptions & { cacheDir: string }): Promise<CachedRoot> {
  const cached = cachedRoots(o.cacheDir, arch);
  if (!existsSync(o.keyring ?? DEBIAN_KEYRING)) {
    if (cached[0] !== undefined) return cached[0];
    throw new VmError('no-apt', `${o.keyring ?? DEBIAN_KEYRING} is missing: apt needs Debian's archive keyring (apt-get install debian-archive-keyring); ${NO_APT(arch)}`);
  }
  let wanted: string[] | undefined;
  try {
    wanted = await candidates(arch, o);
  } catch (err) {
    if (!(err instanceof VmError)) throw err;
  }
  if (wanted === undefined) {
    if (cached[0] !== undefined) {
      say(o, `apt does not list ${arch.userland.join(', ')} for ${arch.debian}; using the cached ones (${cached[0].packages.join(', ')})`);
      return cached[0];
    }
    throw new VmError('offline', `cannot fetch the ${arch.name} guest userland: apt does not list ${arch.userland.join(', ')} for ${arch.debian} (offline?)`);
  }
  const key = wanted.join(' ');
  const hit = cached.find((r) => r.packages.join(' ') === key);
  if (hit !== undefined) return hit;
  const target = join(o.cacheDir, 'userland', `${arch.debian}-${wanted.map((w) => w.replace(/[^A-Za-z0-9.+~-]/g, '_')).join('_').slice(0, 200)}`);
  try {
    await fetchRoot(arch, wanted, target, o);
  } catch (err) {
    if (err instanceof VmError && err.kind === 'download-failed' && cached[0] !== undefined) {
      say(o, `${err.message.split('\n')[0]}; using the cached ${arch.debian} userland (${cached[0].packages.join(', ')})`);
      return cached[0];
    }
    throw err;
  }
  say(o, `${arch.debian} userland ready: ${wanted.join(', ')}`);
  return { dir: target, packages: wanted };
}

// --- Node.js ---------------------------------------------------------------------

const NPM = 'npm';

function npm(args: readonly string[], cwd?: string, timeoutSeconds = 300): { ok: boolean; stdout: string; why: string } {
  try {
    const stdout = execFileSync(NPM, [...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutSeconds * 1000, maxBuffer: 16 << 20 });
    return { ok: true, stdout, why: '' };
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') return { ok: false, stdout: '', why: 'npm is not installed' };
    return { ok: false, stdout: '', why: firstLines(e.stderr ?? e.message) };
  }
}

function nodeDir(base: string, arch: ArchDescription, version: string): string {
  return join(base, 'guest-node', `${arch.nodePackage}-${version}`);
}

function cachedNodes(base: string, arch: ArchDescription, major: number): string[] {
  const dir = join(base, 'guest-node');
  if (!existsSync(dir)) return [];
  const prefix = `${arch.nodePackage}-`;
  const key = (v: string): number[] => v.split('.').map(Number);
  return readdirSync(dir)
    .filter((d) => d.startsWith(`${prefix}${major}.`) && existsSync(join(dir, d, 'bin', 'node')))
    .map((d) => d.slice(prefix.length))
    .sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      return y[0]! - x[0]! || y[1]! - x[1]! || y[2]! - x[2]!;
    });
}

/** The newest release of a major line on the registry (`npm view`), remembered for a day. */
function newestRelease(arch: ArchDescription, major: number, base: string): { version?: string; why: string } {
  const memo = join(cacheSubdir('guest-node', base), `${arch.nodePackage}-${major}.json`);
  if (existsSync(memo) && Date.now() - statSync(memo).mtimeMs < 86_400_000) {
    try {
      return { version: (JSON.parse(readFileSync(memo, 'utf8')) as { version: string }).version, why: '' };
    } catch {
      // damaged: ask again
    }
  }
  const r = npm(['view', `${arch.nodePackage}@${major}`, 'version', '--json'], undefined, 120);
  if (!r.ok) return { why: r.why };
  const parsed = JSON.parse(r.stdout) as string | string[];
  const versions = (Array.isArray(parsed) ? parsed : [parsed]).filter((v) => /^\d+\.\d+\.\d+$/.test(v));
  const version = versions[versions.length - 1];
  if (version === undefined) return { why: `the registry has no ${arch.nodePackage}@${major}` };
  writeFileSync(memo, `${JSON.stringify({ version })}\n`);
  return { version, why: '' };
}

/** `npm pack` of one release, unpacked into the cache: its bin/node. */
function fetchNode(arch: ArchDescription, version: string, base: string, o: UserlandOptions): string {
  const target = nodeDir(base, arch, version);
  const work = mkdtempSync(join(cacheSubdir('guest-node', base), '.fetch-'));
  try {
    say(o, `downloading ${arch.nodePackage}@${version} (npm pack)`);
    const r = npm(['pack', `${arch.nodePackage}@${version}`, '--silent', '--pack-destination', work], work);
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!r.ok || tgz === undefined) throw new VmError('download-failed', `npm pack ${arch.nodePackage}@${version} failed (${r.why || 'no tarball'}): offline? Pass an ${arch.name} node with --node PATH`);
    mkdirSync(join(work, 'x'));
    execFileSync('tar', ['-xzf', join(work, tgz), '-C', join(work, 'x')], { stdio: 'ignore' });
    const pkg = join(work, 'x', 'package');
    if (!existsSync(join(pkg, 'bin', 'node'))) throw new VmError('download-failed', `${arch.nodePackage}@${version} holds no bin/node`);
    try {
      renameSync(pkg, target);
    } catch (err) {
      if (!existsSync(join(target, 'bin', 'node'))) throw err;
    }
    return join(target, 'bin', 'node');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The oldest Node.js major line memseal supports, from its package.json (`engines.node`: ">=22"). */
function oldestSupportedMajor(): number {
  const pj = JSON.parse(readFileSync(join(findPackageRoot(), 'package.json'), 'utf8')) as { engines?: { node?: string } };
  return Number(/(\d+)/.exec(pj.engines?.node ?? '')?.[1] ?? 0);
}

/** The node a guest of `arch` runs, and its version: this node's major line, or the oldest memseal supports if this one is older. */
function guestNode(arch: ArchDescription, o: UserlandOptions & { cacheDir: string }): { node: string; version: string } {
  if (o.node !== undefined) {
    checkBinaryArch(o.node, arch, 'the node binary');
    const pj = join(o.node, '..', '..', 'package.json');
    const version = existsSync(pj) ? `v${(JSON.parse(readFileSync(pj, 'utf8')) as { version: string }).version}` : 'unknown';
    return { node: o.node, version };
  }
  const major = o.nodeMajor ?? Math.max(Number(process.versions.node.split('.')[0]), oldestSupportedMajor());
  const cached = cachedNodes(o.cacheDir, arch, major);
  const newest = newestRelease(arch, major, o.cacheDir);
  const version = newest.version ?? cached[0];
  if (version === undefined) {
    throw new VmError('offline', `cannot fetch ${arch.nodePackage}@${major} for the ${arch.name} guest (${newest.why}): offline? Pass an ${arch.name} node with --node PATH`);
  }
  if (newest.version === undefined) say(o, `npm could not name the newest ${arch.nodePackage}@${major} (${newest.why}); using the cached ${version}`);
  const node = cached.includes(version) ? join(nodeDir(o.cacheDir, arch, version), 'bin', 'node') : fetchNode(arch, version, o.cacheDir, o);
  return { node, version: `v${version}` };
}

/**
 * The userland of an `arch` guest on a host of another architecture. Rejects
 * with a VmError: `no-apt`, `offline`, `download-failed`, `bad-argument`
 * (a --node of another architecture).
 */
export async function guestUserland(arch: ArchDescription, options: UserlandOptions = {}): Promise<GuestUserland> {
  const o = { ...options, cacheDir: options.cacheDir ?? defaultCacheDir() };
  const root = await debianRoot(arch, o);
  const { node, version } = guestNode(arch, o);
  return {
    busybox: join(root.dir, 'root', 'bin', 'busybox'),
    node,
    nodeVersion: version,
    libraries: libraryEntries(join(root.dir, 'root')),
    packages: root.packages,
  };
}
