/**
 * apt and dpkg-deb for the VM harness, through private configurations only:
 * each (archive, Debian architecture) pair has its own sources.list, package
 * lists and cache under the memseal cache, checked with Debian's archive
 * keyring, so the system's apt sources are never read or changed and any
 * user can fetch. Kernels (lib/vm/kernels.ts) and the packages of a foreign
 * guest userland (lib/vm/userland.ts) come through here.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ArchDescription } from './arch.js';
import { cacheDir as defaultCacheDir, cacheSubdir } from './cache.js';
import { VmError } from './errors.js';

/** Where apt finds a series: bookworm (and its security and updates suites) for 6.x, trixie-backports for 7.x. */
export type Archive = 'bookworm' | 'trixie-backports';

/** The keyring apt checks Debian's archives with (Debian and Ubuntu: package debian-archive-keyring). */
export const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

export type DebianArch = ArchDescription['debian'];

/**
 * The sources.list lines of each private apt configuration. Debian's newest
 * bookworm kernels arrive through bookworm-security; point releases move them
 * to bookworm.
 */
export function archiveSources(archive: Archive, keyring: string = DEBIAN_KEYRING, debianArch: DebianArch = 'amd64'): string[] {
  const deb = (where: string): string => `deb [arch=${debianArch} signed-by=${keyring}] http://deb.debian.org/${where} main`;
  return archive === 'bookworm' ? [deb('debian bookworm'), deb('debian bookworm-updates'), deb('debian-security bookworm-security')] : [deb('debian trixie-backports')];
}

export interface ToolResult {
  /** Exit status; null when killed or not started. */
  status: number | null;
  stdout: string;
  stderr: string;
  /** `ENOENT` when the tool is not installed, `timeout` when it was killed. */
  failure?: 'ENOENT' | 'timeout' | string;
}

export type ToolRunner = (cmd: string, args: readonly string[], options: { cwd?: string; timeoutSeconds: number }) => Promise<ToolResult>;

/** Runs a tool without a shell, killing it after the time limit. */
export const runTool: ToolRunner = (cmd, args, options) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' } });
    let stdout = '';
    let stderr = '';
    let failure: string | undefined;
    const timer = setTimeout(() => {
      failure = 'timeout';
      child.kill('SIGKILL');
    }, options.timeoutSeconds * 1000);
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', (err: NodeJS.ErrnoException) => {
      failure ??= err.code === 'ENOENT' ? 'ENOENT' : err.message;
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status: failure === undefined ? status : null, stdout, stderr, failure });
    });
  });

/** The directories of one private apt configuration. */
export interface AptConfig {
  archive: Archive;
  /** The Debian architecture whose packages it lists. */
  debianArch: DebianArch;
  dir: string;
  sourcesList: string;
  lists: string;
  cache: string;
  /** Written after each successful `apt-get update`. */
  stamp: string;
}

/**
 * Creates (or finds) the private apt configuration for `archive` and a
 * Debian architecture under `base` (`apt/bookworm` for amd64, as before
 * arm64 existed; `apt/bookworm-arm64`). Touches nothing outside it.
 */
export function aptConfig(archive: Archive, base: string = defaultCacheDir(), keyring: string = DEBIAN_KEYRING, debianArch: DebianArch = 'amd64'): AptConfig {
  const dir = join(cacheSubdir('apt', base), debianArch === 'amd64' ? archive : `${archive}-${debianArch}`);
  const c: AptConfig = {
    archive,
    debianArch,
    dir,
    sourcesList: join(dir, 'sources.list'),
    lists: join(dir, 'lists'),
    cache: join(dir, 'cache'),
    stamp: join(dir, 'lists', 'memseal-updated'),
  };
  for (const d of [join(c.lists, 'partial'), join(c.cache, 'archives', 'partial')]) mkdirSync(d, { recursive: true });
  const sources = `${archiveSources(archive, keyring, debianArch).join('\n')}\n`;
  if (!existsSync(c.sourcesList) || readFileSync(c.sourcesList, 'utf8') !== sources) writeFileSync(c.sourcesList, sources);
  return c;
}

/** The `-o` options that point apt at a private configuration and nothing of the system's. */
export function aptOptions(c: AptConfig): string[] {
  return [
    `Dir::Etc::sourcelist=${c.sourcesList}`,
    'Dir::Etc::sourceparts=-',
    // Its packages are those of its architecture, whatever dpkg's own is.
    `APT::Architecture=${c.debianArch}`,
    `APT::Architectures=${c.debianArch}`,
    `Dir::State::Lists=${c.lists}`,
    `Dir::Cache=${c.cache}`,
    'Acquire::Languages=none',
    'Acquire::http::Timeout=30',
    'Acquire::Retries=1',
    'APT::Get::List-Cleanup=false',
  ].flatMap((o) => ['-o', o]);
}

/** What every apt step takes: time limits, the age of lists to trust, where progress goes, who runs tools. */
export interface AptOptions {
  /** Package lists older than this are refreshed (default: a day). */
  listsMaxAgeSeconds?: number;
  /** Seconds an apt command may take before it is killed (default 600). */
  aptTimeoutSeconds?: number;
  progress?: (line: string) => void;
  /** Runs a tool; tests replace it. */
  exec?: ToolRunner;
}

export function firstLines(text: string, n = 3): string {
  return text.trim().split('\n').filter(Boolean).slice(-n).join('; ');
}

/** Refreshes the package lists when missing or older than the limit; false when that failed (offline). */
async function refreshLists(c: AptConfig, o: AptOptions): Promise<{ ok: boolean; why: string }> {
  const run = o.exec ?? runTool;
  const maxAge = o.listsMaxAgeSeconds ?? 86_400;
  const age = existsSync(c.stamp) ? (Date.now() - statSync(c.stamp).mtimeMs) / 1000 : Infinity;
  if (age <= maxAge) return { ok: true, why: '' };
  o.progress?.(`updating the package lists of ${c.archive}${c.debianArch === 'amd64' ? '' : ` (${c.debianArch})`} (apt-get update, a private configuration in ${c.dir})`);
  let r = await run('apt-get', [...aptOptions(c), '-q', 'update'], { timeoutSeconds: o.aptTimeoutSeconds ?? 600 });
  // Another memseal may be updating the same lists: wait for it, a few times.
  for (let tries = 0; tries < 5 && r.status !== 0 && /Could not get lock/.test(r.stderr); tries++) {
    o.progress?.(`another apt-get holds the lock on ${c.lists}; waiting`);
    await new Promise((done) => setTimeout(done, 3000));
    r = await run('apt-get', [...aptOptions(c), '-q', 'update'], { timeoutSeconds: o.aptTimeoutSeconds ?? 600 });
  }
  if (r.failure === 'ENOENT') return { ok: false, why: 'apt-get is not installed' };
  const text = `${r.stdout}\n${r.stderr}`;
  // apt-get update exits 0 even when a source could not be fetched; "W:"/"E:" lines say so.
  const failed = r.status !== 0 || /^(E:|W: (Failed to fetch|Some index files failed))/m.test(text);
  if (failed) return { ok: false, why: r.failure === 'timeout' ? `apt-get update took longer than ${o.aptTimeoutSeconds ?? 600} s` : firstLines(r.stderr || r.stdout) };
  writeFileSync(c.stamp, `${new Date().toISOString()}\n`);
  return { ok: true, why: '' };
}

const updating = new Map<string, Promise<{ ok: boolean; why: string }>>();

/** One `apt-get update` per configuration at a time: two kernels of one archive share it. */
export function refreshOnce(c: AptConfig, o: AptOptions): Promise<{ ok: boolean; why: string }> {
  let p = updating.get(c.dir);
  if (p === undefined) {
    p = refreshLists(c, o).finally(() => updating.delete(c.dir));
    updating.set(c.dir, p);
  }
  return p;
}

/**
 * `apt-get download` of `names` into `dir`; the .deb of each, in order.
 * `help` is what to do instead, for the error messages.
 */
export async function download(names: readonly string[], dir: string, c: AptConfig, o: AptOptions, help: { noApt: string; failed: string }): Promise<string[]> {
  const run = o.exec ?? runTool;
  const r = await run('apt-get', [...aptOptions(c), '-q', 'download', ...names], { cwd: dir, timeoutSeconds: o.aptTimeoutSeconds ?? 600 });
  if (r.failure === 'ENOENT') throw new VmError('no-apt', `apt-get is not installed: ${help.noApt}`);
  if (r.status !== 0) {
    const why = r.failure === 'timeout' ? `it took longer than ${o.aptTimeoutSeconds ?? 600} s` : firstLines(r.stderr || r.stdout);
    throw new VmError('download-failed', `apt-get download ${names.join(' ')} failed (${why}): ${help.failed}`);
  }
  return names.map((n) => {
    const bare = n.replace(/[:=].*$/, '');
    const deb = readdirSync(dir).find((f) => f.startsWith(`${bare}_`) && f.endsWith('.deb'));
    if (deb === undefined) throw new VmError('download-failed', `apt-get download ${n} left no .deb`);
    return join(dir, deb);
  });
}

/** `dpkg-deb -x deb root`; a VmError when dpkg-deb is missing or fails. */
export async function unpack(deb: string, root: string, o: AptOptions, noApt: string): Promise<void> {
  const x = await (o.exec ?? runTool)('dpkg-deb', ['-x', deb, root], { timeoutSeconds: 300 });
  if (x.failure === 'ENOENT') throw new VmError('no-apt', `dpkg-deb is not installed: ${noApt}`);
  if (x.status !== 0) throw new VmError('download-failed', `dpkg-deb -x ${deb} failed: ${firstLines(x.stderr)}`);
}
