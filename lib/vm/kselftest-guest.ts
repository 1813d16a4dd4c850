/**
 * The guest `memseal vm --kselftest FILE` boots: a userland of busybox and
 * a kselftest install and nothing else (no node, no glibc outside the
 * collection's own runtime), as a lab's minimal root filesystem is. The
 * collection is unpacked under /opt/kselftests/default-in-kernel (where
 * tuxrun puts KSELFTEST=) beside the kernel's run_kselftest.sh and its
 * kselftest/ helpers, taken from the tarball when it has them or from a
 * kselftest install (or a kernel source tree) given with --runner. init runs
 * `run_kselftest.sh ARGS` for each guest command line and frames its output
 * on the console as the normal image does (lib/vm/initramfs.ts).
 *
 * The image is cached by content, as the normal one.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join, relative } from 'node:path';
import { cacheSubdir } from './cache.js';
import { type CpioEntry, withParents, writeCpio } from './cpio.js';
import { findBusybox, guestSkeleton, hashEntries, initScript, type Initramfs } from './initramfs.js';

/** Where labs unpack a kselftest tarball (tuxrun's KSELFTEST=). */
export const KSELFTEST_INSTALL = '/opt/kselftests/default-in-kernel';

/**
 * What each guest command line runs: the kernel's runner from the install,
 * its stdout on a pipe (it writes through /dev/stdout, which cannot be
 * opened on a file it shares with its own output without losing lines);
 * without /usr/bin/timeout, whose busybox version lacks --foreground.
 */
const RUN_KSELFTEST = `(rm -f /usr/bin/timeout; cd ${KSELFTEST_INSTALL} && set -o pipefail && ./run_kselftest.sh "$@" | cat)`;

export const KSELFTEST_INIT = initScript(RUN_KSELFTEST);

export interface KselftestGuestInputs {
  /** The collection: a .tar.gz in the kselftest install layout (`memseal kselftest`). */
  tarball: string;
  /** A folder holding run_kselftest.sh and kselftest/ (an install, or tools/testing/selftests of a kernel tree); unneeded when the tarball has them. */
  runner?: string;
  busybox?: string;
}

function walk(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) out.push(p, ...walk(p, base));
    else if (st.isFile() || st.isSymbolicLink()) out.push(p);
  }
  return out;
}

function treeEntries(dir: string, under: string): CpioEntry[] {
  return walk(dir).map((p): CpioEntry => {
    const path = `${under}/${relative(dir, p)}`;
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return { type: 'symlink', path, target: readlinkSync(p) };
    if (st.isDirectory()) return { type: 'dir', path, mode: st.mode & 0o7777 };
    return { type: 'file', path, mode: st.mode & 0o7777, source: p };
  });
}

/** Unpacks the tarball into a fresh folder; throws a clear error when it is not a collection. */
function unpack(tarball: string): string {
  const dir = mkdtempSync(join(cacheSubdir('initramfs'), '.kselftest-'));
  try {
    execFileSync('tar', ['-xzf', tarball, '-C', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${tarball} does not unpack as a .tar.gz: ${((err as { stderr?: Buffer }).stderr?.toString() ?? String(err)).trim()}`);
  }
  if (!existsSync(join(dir, 'kselftest-list.txt'))) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${tarball} is not a kselftest collection: it has no kselftest-list.txt (memseal kselftest writes one)`);
  }
  return dir;
}

/** The runner's folder: the tarball's own run_kselftest.sh, else --runner. Throws when neither has one. */
function runnerDir(unpacked: string, runner: string | undefined): string | undefined {
  if (existsSync(join(unpacked, 'run_kselftest.sh'))) return undefined;
  if (runner === undefined) {
    throw new Error('the tarball has no run_kselftest.sh: name a kselftest install or tools/testing/selftests of a kernel tree with --runner DIR');
  }
  for (const need of ['run_kselftest.sh', join('kselftest', 'runner.sh')]) {
    if (!existsSync(join(runner, need))) throw new Error(`--runner ${runner}: ${need} is missing (the kernel's tools/testing/selftests, or a kselftest install)`);
  }
  return runner;
}

const KEEP = 2;

/** Builds (or reuses) the busybox-only image for a collection. */
export function buildKselftestImage(inputs: KselftestGuestInputs, options: { cacheDir?: string; progress?: (line: string) => void } = {}): Initramfs {
  const started = performance.now();
  const say = options.progress ?? ((): void => undefined);
  const unpacked = unpack(inputs.tarball);
  try {
    const runner = runnerDir(unpacked, inputs.runner);
    const entries: CpioEntry[] = [...guestSkeleton(KSELFTEST_INIT, inputs.busybox ?? findBusybox()), ...treeEntries(unpacked, KSELFTEST_INSTALL)];
    if (runner !== undefined) {
      entries.push({ type: 'file', path: `${KSELFTEST_INSTALL}/run_kselftest.sh`, mode: 0o755, source: join(runner, 'run_kselftest.sh') });
      entries.push(...treeEntries(join(runner, 'kselftest'), `${KSELFTEST_INSTALL}/kselftest`));
    }
    const all = withParents(entries);
    const hash = createHash('sha256').update('memseal-kselftest-guest-1').update(hashEntries(all)).digest('hex');
    const dir = cacheSubdir('initramfs', options.cacheDir);
    const path = join(dir, `kselftest-${hash.slice(0, 16)}.cpio`);
    if (existsSync(path)) {
      const now = new Date();
      utimesSync(path, now, now);
      say(`kselftest image ${hash.slice(0, 12)} is cached`);
      return { path, hash, bytes: statSync(path).size, cached: true, seconds: (performance.now() - started) / 1000, nodeVersion: 'the collection\'s' };
    }
    say(`building the kselftest image: busybox and the collection (${all.length} entries)`);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      writeCpio(tmp, all, (source) => statSync(source).size);
      renameSync(tmp, path);
    } finally {
      rmSync(tmp, { force: true });
    }
    const images = readdirSync(dir)
      .filter((f) => /^kselftest-[0-9a-f]+\.cpio$/.test(f))
      .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { f } of images.slice(KEEP)) rmSync(join(dir, f), { force: true });
    const bytes = statSync(path).size;
    say(`kselftest image ${hash.slice(0, 12)} built: ${(bytes / 1048576).toFixed(1)} MiB`);
    return { path, hash, bytes, cached: false, seconds: (performance.now() - started) / 1000, nodeVersion: "the collection's" };
  } finally {
    rmSync(unpacked, { recursive: true, force: true });
  }
}

/** One case line of the runner's output: the id and its KTAP verdict (`ok`, `ok SKIP`, `ok XFAIL`, `not ok`, `not ok ERROR`). */
export interface KtapVerdict {
  id: string;
  verdict: string;
}

/** The case lines of run_kselftest.sh's prefixed KTAP, in order. */
export function ktapVerdicts(text: string): KtapVerdict[] {
  const out: KtapVerdict[] = [];
  for (const m of text.matchAll(/^(?:# )?\s*((?:not )?ok) \d+ ([a-z0-9]+\.[a-z0-9.-]+)(?: # (SKIP|XFAIL|ERROR|TIMEOUT)\b)?/gm)) {
    out.push({ id: m[2]!, verdict: `${m[1]}${m[3] ? ` ${m[3]}` : ''}` });
  }
  return out;
}

/** The KTAP verdict a memseal case status becomes (what `conform --ktap` prints). */
export function verdictOf(status: string, strict = false): string {
  switch (status) {
    case 'pass':
      return 'ok';
    case 'deviation':
      return strict ? 'not ok' : 'ok XFAIL';
    case 'skip':
    case 'blocked':
      return 'ok SKIP';
    case 'error':
      return 'not ok ERROR';
    default:
      return 'not ok';
  }
}
