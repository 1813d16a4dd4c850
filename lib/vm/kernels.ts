/**
 * Debian kernels for `memseal vm --kernel debian:SERIES`: find the newest
 * kernel of a series with apt, download it (`apt-get download`), unpack its
 * image and configuration (`dpkg-deb -x`) into the cache, and reuse it from
 * there.
 *
 * Debian packages its kernels two ways:
 *
 * - bookworm (6.1, 6.12): `linux-image-<release>-unsigned` holds
 *   `boot/vmlinuz-<release>` and `boot/config-<release>`
 *   (`linux-image-6.1.0-57-cloud-amd64-unsigned`,
 *   `linux-image-6.12.117+deb12-cloud-amd64-unsigned`,
 *   `linux-image-6.12.118+deb12-arm64-16k-unsigned`);
 * - trixie-backports (7.x): `linux-binary-unsigned-<release>` holds
 *   `usr/lib/modules/<release>/vmlinuz.unsigned`, and the configuration is
 *   in `linux-base-<release>` at `usr/lib/modules/<release>/config`.
 *
 * apt reads a private configuration under the cache (its own sources.list,
 * package lists and cache, the system's archive keyring), one per archive
 * and Debian architecture (APT::Architectures: amd64 kernels for x86-64
 * guests, arm64 kernels and userland for arm64 guests), so the system's apt
 * sources are never read or changed, any user can run it, and it works on a
 * machine whose apt knows other archives (Ubuntu, a CI runner) as long as
 * apt, dpkg-deb and Debian's archive keyring are there.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { aptConfig, aptOptions, DEBIAN_KEYRING, download, firstLines, refreshOnce, runTool, unpack, type AptConfig, type AptOptions, type Archive } from './apt.js';
import { ARCHES, archOf, FLAVOURS, flavourSuffix, type Flavour, type VmArch } from './arch.js';
import { cacheDir as defaultCacheDir, cacheSubdir } from './cache.js';
import { VmError } from './errors.js';

export { FLAVOURS, type Flavour } from './arch.js';
export { archiveSources, DEBIAN_KEYRING, type Archive, type ToolResult, type ToolRunner } from './apt.js';

/** The prefix of a kernel spec: `debian:6.12`. */
export const DEBIAN_PREFIX = 'debian:';

/** A parsed `debian:SERIES` spec. */
export interface KernelSpec {
  /** `6.1`, `6.12`, `7`, `7.3`. */
  series: string;
  flavour: Flavour;
  archive: Archive;
  /** The guest architecture the kernel is built for. */
  arch: VmArch;
}

/** A kernel package apt offers. */
export interface KernelPackage {
  /** The package holding the image. */
  package: string;
  /** `uname -r` of the kernel: `6.12.117+deb12-cloud-amd64`. */
  release: string;
  /** The package holding the configuration, when it is another one (7.x: linux-base-<release>). */
  configPackage: string | undefined;
}

/** A kernel ready to boot. */
export interface ResolvedKernel {
  /** The bzImage to hand to qemu. */
  image: string;
  /** The kernel's configuration (`config-<release>`), or undefined when the package had none. */
  config: string | undefined;
  release: string;
  package: string;
  /** The Debian version of the package (`6.12.117-1~deb12u1`). */
  version: string;
  spec: string;
  /** True when it came from the cache without a download. */
  cached: boolean;
}

export interface ResolveOptions extends AptOptions {
  flavour?: Flavour;
  /** The kernel's architecture (default x86-64). */
  arch?: VmArch;
  cacheDir?: string;
  /** The keyring apt checks the archive with (default DEBIAN_KEYRING). */
  keyring?: string;
}

/** True for a `debian:` spec rather than an image path. */
export function isKernelSpec(kernel: string): boolean {
  return kernel.startsWith(DEBIAN_PREFIX);
}

/** Parses `debian:6.12`; a VmError (bad-argument) when it names no series memseal knows how to fetch. */
export function parseKernelSpec(spec: string, flavour: Flavour = 'cloud', arch: VmArch = 'x86_64'): KernelSpec {
  const series = spec.slice(DEBIAN_PREFIX.length);
  if (!isKernelSpec(spec) || !/^[0-9]+(\.[0-9]+)?$/.test(series)) {
    throw new VmError('bad-argument', `${JSON.stringify(spec)} is not a kernel spec: write debian:SERIES, e.g. debian:6.1, debian:6.12, debian:7 or debian:7.3`);
  }
  const a = archOf(arch);
  if (!FLAVOURS.includes(flavour)) throw new VmError('bad-argument', `--flavour is ${FLAVOURS.join(', ')} (got ${JSON.stringify(flavour)})`);
  flavourSuffix(a, flavour);
  const major = Number(series.split('.')[0]);
  if (major < 6) throw new VmError('bad-argument', `${spec}: memseal fetches Debian's 6.x (bookworm) and 7.x (trixie-backports) kernels; pass an older kernel's image path instead`);
  return { series, flavour, archive: major >= 7 ? 'trixie-backports' : 'bookworm', arch: a.name };
}

const escape = (s: string): string => s.replace(/[.+]/g, '\\$&');

/** The regular expression a kernel package's name matches; group 1 is the release without the flavour. */
export function packagePattern(spec: KernelSpec): RegExp {
  const flav = escape(flavourSuffix(ARCHES[spec.arch], spec.flavour));
  const series = `${escape(spec.series)}${spec.series.includes('.') ? '' : '\\.[0-9]+'}`;
  // bookworm: 6.1.0-57 or 6.12.117+deb12; trixie-backports: 7.3.4+deb13.
  return spec.archive === 'bookworm'
    ? new RegExp(`^linux-image-(${series}\\.[0-9]+(?:-[0-9]+|\\+deb[0-9]+))-${flav}-unsigned$`)
    : new RegExp(`^linux-binary-unsigned-(${series}\\.[0-9]+\\+deb[0-9]+)-${flav}$`);
}

/** The apt-cache search pattern (a POSIX regex) that lists candidates for `spec`. */
export function searchPattern(spec: KernelSpec): string {
  return spec.archive === 'bookworm' ? `^linux-image-${escape(spec.series)}[.]` : `^linux-binary-unsigned-${escape(spec.series)}[.]`;
}

function versionKey(v: string): number[] {
  return v
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
}

/** Compares kernel releases numerically, part by part: 6.12.9 < 6.12.117, 6.1.0-9 < 6.1.0-57. */
export function compareReleases(a: string, b: string): number {
  const [x, y] = [versionKey(a), versionKey(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The kernel package a name stands for, or undefined when it is no kernel of `spec`. */
export function kernelPackage(spec: KernelSpec, name: string): KernelPackage | undefined {
  const m = packagePattern(spec).exec(name);
  if (m === null) return undefined;
  const release = `${m[1]}-${flavourSuffix(ARCHES[spec.arch], spec.flavour)}`;
  return { package: name, release, configPackage: spec.archive === 'bookworm' ? undefined : `linux-base-${release}` };
}

/** The newest kernel of `spec` in `apt-cache search` output (`name - description` lines), or undefined. */
export function newestPackage(spec: KernelSpec, searchOutput: string): KernelPackage | undefined {
  let best: KernelPackage | undefined;
  for (const line of searchOutput.split('\n')) {
    const k = kernelPackage(spec, line.split(' ')[0] ?? '');
    if (k !== undefined && (best === undefined || compareReleases(k.release, best.release) > 0)) best = k;
  }
  return best;
}

function say(o: ResolveOptions, line: string): void {
  o.progress?.(line);
}

const NO_APT_HELP = (spec: string): string =>
  `memseal fetches ${spec} with apt-get and dpkg-deb (Debian, Ubuntu; with Debian's archive keyring, package debian-archive-keyring). ` +
  'Elsewhere, download the kernel package yourself, unpack it, and pass its image: --kernel PATH/TO/vmlinuz';


/** The kernels of `spec` already unpacked in the cache, newest first. */
export function cachedKernels(spec: KernelSpec, base: string = defaultCacheDir()): ResolvedKernel[] {
  const dir = join(base, 'kernels');
  if (!existsSync(dir)) return [];
  const found: ResolvedKernel[] = [];
  for (const name of readdirSync(dir)) {
    const meta = join(dir, name, 'kernel.json');
    if (!existsSync(meta)) continue;
    try {
      const k = JSON.parse(readFileSync(meta, 'utf8')) as ResolvedKernel;
      if (kernelPackage(spec, k.package) === undefined || !existsSync(join(dir, name, 'vmlinuz'))) continue;
      const config = join(dir, name, 'config');
      found.push({ ...k, image: join(dir, name, 'vmlinuz'), config: existsSync(config) ? config : undefined, cached: true });
    } catch {
      // a damaged entry: ignore it
    }
  }
  return found.sort((a, b) => compareReleases(b.release, a.release));
}


/** The newest package of `spec` that apt knows, after refreshing its lists when they are old. */
async function lookUp(spec: KernelSpec, c: AptConfig, o: ResolveOptions): Promise<{ pkg?: KernelPackage; apt: boolean; why: string }> {
  const run = o.exec ?? runTool;
  const refreshed = await refreshOnce(c, o);
  if (!refreshed.ok && refreshed.why === 'apt-get is not installed') return { apt: false, why: refreshed.why };
  const r = await run('apt-cache', [...aptOptions(c), 'search', '--names-only', searchPattern(spec)], { timeoutSeconds: 120 });
  if (r.failure === 'ENOENT') return { apt: false, why: 'apt-cache is not installed' };
  const pkg = r.status === 0 ? newestPackage(spec, r.stdout) : undefined;
  const why = refreshed.ok ? (r.status === 0 ? '' : firstLines(r.stderr)) : `apt could not update its package lists (${refreshed.why})`;
  return { pkg, apt: true, why };
}


/** Where each packaging keeps the image and the configuration, relative to the unpacked root. */
function layout(k: KernelPackage): { image: string; config: string } {
  return k.configPackage === undefined
    ? { image: join('boot', `vmlinuz-${k.release}`), config: join('boot', `config-${k.release}`) }
    : { image: join('usr', 'lib', 'modules', k.release, 'vmlinuz.unsigned'), config: join('usr', 'lib', 'modules', k.release, 'config') };
}

/** Downloads and unpacks `k` into the cache: `kernels/<package>_<version>/{vmlinuz,config,kernel.json}`. */
async function fetchKernel(spec: string, k: KernelPackage, c: AptConfig, base: string, o: ResolveOptions): Promise<ResolvedKernel> {
  const kernels = cacheSubdir('kernels', base);
  // What a memseal killed in the middle of a download left behind.
  for (const d of readdirSync(kernels)) {
    if (d.startsWith('.fetch-') && Date.now() - statSync(join(kernels, d)).mtimeMs > 86_400_000) rmSync(join(kernels, d), { recursive: true, force: true });
  }
  const work = mkdtempSync(join(kernels, '.fetch-'));
  try {
    // As root, apt-get download drops privileges to _apt, which must be able to write here.
    chmodSync(work, 0o777);
    const names = [k.package, ...(k.configPackage === undefined ? [] : [k.configPackage])];
    say(o, `downloading ${names.join(' and ')} (apt-get download)`);
    const debs = await download(names, work, c, o, { noApt: NO_APT_HELP(spec), failed: 'offline? Pass an image you have with --kernel PATH/TO/vmlinuz' });
    const version = /_([^_]+)_[^_]+\.deb$/.exec(debs[0]!)?.[1] ?? 'unknown';
    const root = join(work, 'root');
    for (const deb of debs) {
      say(o, `unpacking ${deb.slice(work.length + 1)} (dpkg-deb -x)`);
      await unpack(deb, root, o, NO_APT_HELP(spec));
    }
    const where = layout(k);
    if (!existsSync(join(root, where.image))) throw new VmError('missing-kernel', `${k.package} holds no ${where.image}`);
    const target = join(kernels, `${k.package}_${version}`);
    const stage = join(work, 'kernel');
    mkdirSync(stage);
    renameSync(join(root, where.image), join(stage, 'vmlinuz'));
    const hasConfig = existsSync(join(root, where.config));
    if (hasConfig) renameSync(join(root, where.config), join(stage, 'config'));
    else say(o, `${names.join(' / ')} holds no ${where.config}: the guest will not see this kernel's configuration`);
    const meta = { package: k.package, version, release: k.release, spec };
    writeFileSync(join(stage, 'kernel.json'), `${JSON.stringify(meta, null, 2)}\n`);
    try {
      renameSync(stage, target);
    } catch (err) {
      // Another memseal unpacked the same kernel meanwhile: keep theirs.
      if (!existsSync(join(target, 'kernel.json'))) throw err;
    }
    say(o, `${k.package} ${version} is ready in ${target}`);
    return { ...meta, image: join(target, 'vmlinuz'), config: hasConfig ? join(target, 'config') : undefined, cached: false };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const inFlight = new Map<string, Promise<ResolvedKernel>>();

/**
 * The newest Debian kernel of `spec` (`debian:6.12`), unpacked in the cache:
 * its image, its configuration, its release. Uses the cache without network
 * while the package lists are fresh; refreshes them once a day; offline, or
 * without apt, falls back on the newest cached kernel of the series and says
 * so. Rejects with a VmError: `bad-argument`, `no-apt`, `offline`,
 * `no-such-kernel`, `download-failed`.
 */
export function resolveKernel(spec: string, options: ResolveOptions = {}): Promise<ResolvedKernel> {
  const base = options.cacheDir ?? defaultCacheDir();
  const key = `${base}\0${spec}\0${options.flavour ?? 'cloud'}\0${options.arch ?? 'x86_64'}`;
  let p = inFlight.get(key);
  if (p === undefined) {
    p = resolveOnce(spec, { ...options, cacheDir: base }).finally(() => inFlight.delete(key));
    inFlight.set(key, p);
  }
  return p;
}

async function resolveOnce(spec: string, o: ResolveOptions & { cacheDir: string }): Promise<ResolvedKernel> {
  const s = parseKernelSpec(spec, o.flavour, o.arch);
  const what = `${spec}${s.arch === 'x86_64' ? '' : ` ${s.arch}`}${s.flavour === 'cloud' ? '' : ` (${s.flavour})`}`;
  const cached = cachedKernels(s, o.cacheDir);
  const keyring = o.keyring ?? DEBIAN_KEYRING;
  if (!existsSync(keyring)) {
    if (cached[0] !== undefined) {
      say(o, `${keyring} is missing, so apt cannot check Debian's archive; using the newest cached ${what} kernel, ${cached[0].package} ${cached[0].version}`);
      return cached[0];
    }
    throw new VmError('no-apt', `${keyring} is missing: apt needs Debian's archive keyring (apt-get install debian-archive-keyring). ${NO_APT_HELP(what)}`);
  }
  const c = aptConfig(s.archive, o.cacheDir, keyring, ARCHES[s.arch].debian);
  const found = await lookUp(s, c, o);
  const newestCached = cached[0];
  if (found.pkg === undefined) {
    const reason = !found.apt ? `${found.why}, so memseal cannot look for a newer kernel` : found.why !== '' ? found.why : `apt knows no ${packagePattern(s).source} in ${s.archive}`;
    if (newestCached !== undefined) {
      say(o, `${reason}; using the newest cached ${what} kernel, ${newestCached.package} ${newestCached.version}`);
      return newestCached;
    }
    if (!found.apt) throw new VmError('no-apt', `${reason}. ${NO_APT_HELP(what)}`);
    if (found.why !== '') throw new VmError('offline', `cannot fetch ${what}: ${reason}. Offline? Pass an image you have with --kernel PATH/TO/vmlinuz`);
    throw new VmError('no-such-kernel', `cannot fetch ${what}: ${reason} (Debian has 6.1 and 6.12 in bookworm, 7.x in trixie-backports)`);
  }
  if (found.why !== '') say(o, `${found.why}; going by the lists apt has`);
  const hit = cached.find((k) => k.package === found.pkg!.package);
  if (hit !== undefined) {
    say(o, `${hit.package} ${hit.version} is cached`);
    return hit;
  }
  try {
    return await fetchKernel(spec, found.pkg, c, o.cacheDir, o);
  } catch (err) {
    if (err instanceof VmError && err.kind === 'download-failed' && newestCached !== undefined) {
      say(o, `${err.message.split('\n')[0]}; using the newest cached ${what} kernel, ${newestCached.package} ${newestCached.version}`);
      return newestCached;
    }
    throw err;
  }
}

/**
 * The configuration file of a kernel image given by path, when it sits where
 * Debian puts it: `boot/config-<release>` next to `boot/vmlinuz-<release>`, or
 * `config` next to `vmlinuz` (the cache, and `usr/lib/modules/<release>/`).
 */
export function configBeside(image: string): string | undefined {
  const dir = join(image, '..');
  const name = image.slice(dir.length + 1);
  const candidates = [name.startsWith('vmlinuz-') ? join(dir, `config-${name.slice('vmlinuz-'.length)}`) : undefined, join(dir, 'config')];
  return candidates.find((p): p is string => p !== undefined && existsSync(p) && statSync(p).isFile());
}
