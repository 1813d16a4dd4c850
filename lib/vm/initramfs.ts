/**
 * The initramfs `memseal vm` boots: busybox, the node binary and the shared
 * libraries it links, the built memseal package, and an init script. A
 * guest of the host's architecture gets the host's own node, busybox and
 * libraries (as ldd lists them); a guest of another architecture gets the
 * ones lib/vm/userland.ts fetched for it, and the package's addon for that
 * architecture. The
 * archive is cached by content: its name is the hash of everything that goes
 * into it, so a rebuilt package or another node gives a new image and an
 * unchanged one is reused without being written again.
 *
 * The image is an uncompressed newc cpio: under TCG the kernel unpacks it
 * faster than it inflates a gzip-compressed one, and it costs nothing to
 * build.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { delimiter, dirname, join, relative, sep } from 'node:path';
import { addonFile } from '../binding.js';
import { nodeBinary } from '../node-self.js';
import { findPackageRoot } from '../package-root.js';
import { ARCHES, hostArch, type VmArch } from './arch.js';
import { cacheSubdir } from './cache.js';
import { type CpioEntry, withParents, writeCpio } from './cpio.js';
import { sharedLibraries } from './ldd.js';

/** Where things sit inside the guest. */
export const GUEST = {
  node: '/bin/node',
  busybox: '/bin/busybox',
  pkg: '/memseal',
  cli: '/memseal/dist/cli/main.js',
  /** The booted kernel's configuration, when known; init links /boot/config-$(uname -r) to it. */
  kernelConfig: '/boot/memseal-kernel-config',
} as const;

/**
 * The one init argument that carries the guest commands:
 * `@memseal=<base64>`, the commands one per line, words separated by spaces.
 * One word, because the kernel hands init at most 32 arguments (and panics
 * beyond) and stops at a second `--`.
 */
export const ARGS_MARK = '@memseal';

/**
 * PID 1 in the guest. The kernel hands it every command-line word after
 * `--` (and any word it did not recognise): it decodes the ARGS_MARK word,
 * then runs `memseal <args>` for each line of it, and frames each
 * command's stdout and stderr on the console: gzip, base64, and a closing
 * line with the exit status, size and SHA-256, so the host can tell a
 * complete answer from one garbled by a kernel message. Then it powers off.
 */
export const INIT_SCRIPT = initScript(`${GUEST.node} ${GUEST.cli} "$@"`);

/**
 * The init script with `command` as what runs for each guest command line
 * (its words in "$@"): memseal itself in the normal image, the kernel's
 * kselftest runner in the busybox-only one (lib/vm/kselftest-guest.ts).
 */
export function initScript(command: string): string {
  return `#!/bin/busybox sh
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=dumb
# What a program expects of a Linux system: the usual mounts, /dev/fd (a
# #! script run from a memfd is opened as /dev/fd/N), /dev/std*, ptys.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
ln -sfn /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
ln -sf /proc/self/mounts /etc/mtab
mkdir -p /dev/pts /dev/shm /dev/mqueue /dev/hugepages
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue 2>/dev/null
mount -t hugetlbfs hugetlbfs /dev/hugepages 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
ip link set lo up 2>/dev/null
hostname memseal
# The kernel's configuration, where a distribution keeps it.
[ -f ${GUEST.kernelConfig} ] && ln -sf ${GUEST.kernelConfig.slice('/boot/'.length)} /boot/config-$(uname -r)
# Only emergencies and alerts reach the console from here on: kernel lines
# would break into the framed output.
echo 2 > /proc/sys/kernel/printk
echo "===MEMSEAL-INIT $(uname -r)==="
set -f
n=0
frame() {
  echo "===MEMSEAL-BEGIN $1 $2==="
  gzip -c "$4" | base64
  echo "===MEMSEAL-END $1 $2 rc=$3 bytes=$(wc -c < "$4") sha256=$(sha256sum "$4" | cut -d' ' -f1)==="
}
run() {
  n=$((n + 1))
  echo "===MEMSEAL-RUN $n==="
  ${command} > /tmp/out.$n 2> /tmp/err.$n
  rc=$?
  frame $n stdout $rc /tmp/out.$n
  frame $n stderr $rc /tmp/err.$n
}
cmds=
for a in "$@"; do
  case "$a" in ${ARGS_MARK}=*) cmds=$(echo "\${a#${ARGS_MARK}=}" | base64 -d) ;; esac
done
nl='
'
IFS=$nl
for line in $cmds; do
  IFS=' '
  run $line
  IFS=$nl
done
IFS=' '
echo "===MEMSEAL-DONE==="
poweroff -f
`;
}

const ETC_PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
const ETC_GROUP = 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n';
const ETC_HOSTS = '127.0.0.1 localhost\n::1 localhost\n';

/** What goes into the image. */
export interface InitramfsInputs {
  /** The node binary (default: the one running this process). */
  node: string;
  /** busybox; a static one (Debian's busybox-static) needs no libraries. */
  busybox: string;
  /** The memseal package root: package.json, dist/, prebuilds/linux-<arch>/memseal.node, node_modules/. */
  packageRoot: string;
  /**
   * A guest of another architecture than the host's: its architecture, the
   * libraries its node links with their guest paths (lib/vm/userland.ts),
   * and its node's version (which cannot run here to say it).
   */
  foreign?: { arch: VmArch; libraries: readonly CpioEntry[]; nodeVersion: string };
}

/** A built (or cached) image. */
export interface Initramfs {
  path: string;
  /** SHA-256 of the inputs, hex. */
  hash: string;
  bytes: number;
  /** True when an existing image was reused. */
  cached: boolean;
  /** Seconds spent hashing, and building when not cached. */
  seconds: number;
  /** The node version inside. */
  nodeVersion: string;
}

/** `name` on $PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The busybox to put in the image: $MEMSEAL_BUSYBOX or busybox on $PATH. */
export function findBusybox(): string {
  const own = process.env.MEMSEAL_BUSYBOX;
  if (own !== undefined && own !== '') return own;
  const found = which('busybox') ?? ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error('busybox not found: the VM image needs it (Debian: apt-get install busybox-static), or set MEMSEAL_BUSYBOX');
  }
  return found;
}

/** Default inputs: this node, busybox from $PATH, this package. */
export function defaultInputs(): InitramfsInputs {
  return { node: nodeBinary(), busybox: findBusybox(), packageRoot: findPackageRoot() };
}

function walk(dir: string, keep: (rel: string) => boolean, base = dir): string[] {
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...walk(p, keep, base));
    else if ((d.isFile() || d.isSymbolicLink()) && keep(relative(base, p))) out.push(p);
  }
  return out;
}

function findModule(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

function dependencies(dir: string): string[] {
  const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  return Object.keys(pj.dependencies ?? {});
}

/** The package's runtime dependencies (dependencies, transitively), as directories, keyed by name. */
export function runtimeModules(packageRoot: string): Map<string, string> {
  const found = new Map<string, string>();
  const visited = new Set<string>();
  const visit = (from: string): void => {
    for (const name of dependencies(from)) {
      const dir = findModule(name, from);
      if (dir === undefined) throw new Error(`memseal's dependency ${name} is not installed (run npm ci)`);
      if (visited.has(dir)) continue;
      visited.add(dir);
      // A copy nested in its dependent's own node_modules travels with it.
      const nested = from !== packageRoot && dir.startsWith(join(from, 'node_modules') + sep);
      if (!nested && !found.has(name)) found.set(name, dir);
      visit(dir);
    }
  };
  visit(packageRoot);
  return found;
}

function file(path: string, source: string, mode = 0o644): CpioEntry {
  return { type: 'file', path, source, mode: statSync(source).mode & 0o111 ? 0o755 : mode };
}

/**
 * The addon a guest of `arch` loads, as a path relative to the package root:
 * the one the package ships for its architecture, where lib/binding.ts
 * looks (`prebuilds/linux-<arch>/memseal.node`).
 */
export function guestAddons(root: string, arch: VmArch): string[] {
  const shipped = addonFile(ARCHES[arch].node);
  if (!existsSync(join(root, shipped))) throw new Error(`the compiled addon for ${arch} is missing (${join(root, shipped)}): build the package first (npm run build)`);
  return [shipped];
}

/** What every guest image has: init, /etc, the mount points, the console, busybox. */
export function guestSkeleton(init: string, busybox: string): CpioEntry[] {
  return [
    { type: 'data', path: '/init', mode: 0o755, data: Buffer.from(init) },
    { type: 'data', path: '/etc/passwd', mode: 0o644, data: Buffer.from(ETC_PASSWD) },
    { type: 'data', path: '/etc/group', mode: 0o644, data: Buffer.from(ETC_GROUP) },
    { type: 'data', path: '/etc/hosts', mode: 0o644, data: Buffer.from(ETC_HOSTS) },
    { type: 'dir', path: '/boot' },
    { type: 'dir', path: '/proc', mode: 0o555 },
    { type: 'dir', path: '/sys', mode: 0o555 },
    { type: 'dir', path: '/dev' },
    { type: 'chardev', path: '/dev/console', mode: 0o600, major: 5, minor: 1 },
    { type: 'dir', path: '/tmp', mode: 0o1777 },
    { type: 'dir', path: '/root', mode: 0o700 },
    { type: 'dir', path: '/run' },
    { type: 'file', path: GUEST.busybox, mode: 0o755, source: busybox },
  ];
}

/** Every entry of the image, in a stable order. */
export function initramfsEntries(inputs: InitramfsInputs): CpioEntry[] {
  const root = inputs.packageRoot;
  const cli = join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error(`the compiled TypeScript is missing (${cli}): build the package first (npm run build)`);
  const addons = guestAddons(root, inputs.foreign?.arch ?? hostArch() ?? 'x86_64');
  const entries: CpioEntry[] = [
    ...guestSkeleton(INIT_SCRIPT, inputs.busybox),
    { type: 'file', path: GUEST.node, mode: 0o755, source: inputs.node },
  ];
  if (inputs.foreign !== undefined) entries.push(...inputs.foreign.libraries);
  else {
    const libs = new Set([inputs.node, inputs.busybox, ...addons.map((a) => join(root, a))].flatMap(sharedLibraries));
    for (const lib of [...libs].sort()) entries.push({ type: 'file', path: lib, mode: 0o755, source: lib });
  }
  entries.push(file(`${GUEST.pkg}/package.json`, join(root, 'package.json')));
  for (const a of addons) entries.push({ type: 'file', path: `${GUEST.pkg}/${a}`, mode: 0o755, source: join(root, a) });
  const dist = join(root, 'dist');
  for (const p of walk(dist, (rel) => !/\.(map|d\.ts)$/.test(rel))) entries.push(file(`${GUEST.pkg}/dist/${relative(dist, p)}`, p));
  for (const [name, dir] of runtimeModules(root)) {
    for (const p of walk(dir, () => true)) entries.push(file(`${GUEST.pkg}/node_modules/${name}/${relative(dir, p)}`, p));
  }
  return withParents(entries);
}

/** Feeds a file's content to a hash. */
export function hashFile(h: ReturnType<typeof createHash>, path: string): void {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** Format version of the image: bump when the layout changes without an input changing. */
const IMAGE_FORMAT = 'memseal-initramfs-2';

/** SHA-256 over every entry: its kind, path, mode and content. */
export function hashEntries(entries: readonly CpioEntry[]): string {
  const h = createHash('sha256').update(IMAGE_FORMAT);
  for (const e of entries) {
    h.update(`\n${e.type} ${e.path} `);
    if (e.type === 'dir') h.update(String(e.mode ?? 0o755));
    else if (e.type === 'symlink') h.update(e.target);
    else if (e.type === 'chardev') h.update(`${e.mode} ${e.major}:${e.minor}`);
    else if (e.type === 'data') h.update(`${e.mode} ${e.data.length} `).update(e.data);
    else {
      h.update(`${e.mode} ${statSync(e.source).size} `);
      hashFile(h, e.source);
    }
  }
  return h.digest('hex');
}

/** Images kept in the cache; older ones (by last use) are removed. */
const KEEP = 4;

function prune(dir: string): void {
  const images = readdirSync(dir)
    .filter((f) => /^initramfs-[0-9a-f]+\.cpio$/.test(f))
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of images.slice(KEEP)) rmSync(join(dir, f), { force: true });
}

function nodeVersionOf(node: string): string {
  if (node === nodeBinary()) return process.version;
  return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
}

/**
 * Builds the image, or reuses the cached one with the same content hash.
 * `progress` hears what happens, one line at a time.
 */
export function buildInitramfs(
  inputs: InitramfsInputs = defaultInputs(),
  options: { cacheDir?: string; progress?: (line: string) => void } = {},
): Initramfs {
  const started = performance.now();
  const say = options.progress ?? ((): void => undefined);
  const entries = initramfsEntries(inputs);
  const hash = hashEntries(entries);
  const dir = cacheSubdir('initramfs', options.cacheDir);
  const path = join(dir, `initramfs-${hash.slice(0, 16)}.cpio`);
  const nodeVersion = inputs.foreign?.nodeVersion ?? nodeVersionOf(inputs.node);
  if (existsSync(path)) {
    const now = new Date();
    utimesSync(path, now, now);
    const seconds = (performance.now() - started) / 1000;
    say(`initramfs ${hash.slice(0, 12)} is cached (node ${nodeVersion}, ${mib(statSync(path).size)})`);
    return { path, hash, bytes: statSync(path).size, cached: true, seconds, nodeVersion };
  }
  say(`building the initramfs: busybox, node ${nodeVersion} and its libraries, the memseal package (${entries.length} entries)`);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeCpio(tmp, entries, (source) => statSync(source).size);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  prune(dir);
  const bytes = statSync(path).size;
  const seconds = (performance.now() - started) / 1000;
  say(`initramfs ${hash.slice(0, 12)} built: ${mib(bytes)} in ${seconds.toFixed(1)} s`);
  return { path, hash, bytes, cached: false, seconds, nodeVersion };
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
