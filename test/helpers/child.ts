/**
 * Child processes for the tests where a crash is possible, and the small C
 * helpers (test/fixtures/c/*.c) they need, compiled once per run with `cc`
 * into a world-readable temporary folder (the memlock tests run the child
 * as an unprivileged user).
 */
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emulator } from './emulation.js';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixtures = join(root, 'test', 'fixtures');
const helperDir = join(tmpdir(), `memseal-test-helpers-${process.pid}`);
process.on('exit', () => rmSync(helperDir, { recursive: true, force: true }));

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * The compiler for a helper loaded into node (an LD_PRELOAD library, an addon):
 * under emulation that node is arm64, so the cross compiler; programs that run
 * on their own stay native.
 */
const loadedCc = emulator !== undefined ? 'aarch64-linux-gnu-gcc' : 'cc';

export const tools = {
  cc: has('cc') && has(loadedCc),
  setpriv: has('setpriv') && has('prlimit'),
  root: process.getuid?.() === 0,
};

/** Node's own headers (for the forkpeek test addon), or undefined. */
function nodeIncludeDir(): string | undefined {
  const dir = join(dirname(process.execPath), '..', 'include', 'node');
  return existsSync(join(dir, 'node_api.h')) ? dir : undefined;
}

export type HelperName = 'vmread' | 'munmap-spy' | 'seccomp-deny' | 'forkpeek';

const built = new Map<HelperName, string | undefined>();

/** Compiles test/fixtures/c/<name>.c; undefined when cc (or Node's headers) are missing. */
export function helper(name: HelperName): string | undefined {
  if (built.has(name)) return built.get(name);
  let out: string | undefined;
  if (tools.cc) {
    mkdirSync(helperDir, { recursive: true, mode: 0o755 });
    chmodSync(helperDir, 0o755);
    const src = join(fixtures, 'c', `${name}.c`);
    const args = ['-O1', '-Wall', '-o'];
    if (name === 'munmap-spy') {
      out = join(helperDir, 'munmap-spy.so');
      execFileSync(loadedCc, ['-shared', '-fPIC', ...args, out, src, '-ldl']);
    } else if (name === 'forkpeek') {
      const include = nodeIncludeDir();
      if (include !== undefined) {
        out = join(helperDir, 'forkpeek.node');
        execFileSync(loadedCc, ['-shared', '-fPIC', `-I${include}`, ...args, out, src]);
      }
    } else {
      out = join(helperDir, name);
      execFileSync('cc', [...args, out, src]);
    }
    if (out !== undefined) chmodSync(out, 0o755);
  }
  built.set(name, out);
  return out;
}

export interface FixtureOptions {
  args?: string[];
  env?: Record<string, string>;
  nodeArgs?: string[];
  /** Run as uid/gid 65534 with RLIMIT_MEMLOCK set to this many bytes (needs root). */
  unprivilegedMemlock?: number;
  /** Command words to put in front of node (e.g. the seccomp helper). */
  prefix?: string[];
  timeout?: number;
}

export interface FixtureResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last line of stdout parsed as JSON (undefined if it is not JSON). */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * uid 65534 may not be able to read the checkout (a CI clone can sit in a
 * private folder), so the unprivileged child runs a world-readable copy of
 * dist/, the fixture and the addon (loaded through MEMSEAL_ADDON_PATH).
 */
function stageForNobody(file: string): { script: string; addon: string } {
  const { dir, addon } = stagedPackage();
  const script = join(dir, 'test', 'fixtures', file);
  copyFileSync(join(fixtures, file), script);
  return { script, addon };
}

/**
 * The addon the library loads in this process: MEMSEAL_ADDON_PATH (a variant,
 * or the arm64 addon from the packed tarball under emulation), else this
 * checkout's build for this architecture.
 */
export function addonInUse(): string {
  return process.env.MEMSEAL_ADDON_PATH || join(root, 'prebuilds', `linux-${process.arch}`, 'memseal.node');
}

/**
 * A world-readable copy of the package (package.json, dist/, the addon) for
 * processes of uid 65534, once per run: its CLI runs as that user with
 * MEMSEAL_ADDON_PATH set to `addon`, wherever the checkout sits.
 */
export function stagedPackage(): { dir: string; cli: string; addon: string } {
  const dir = join(helperDir, 'staged');
  const addon = join(dir, 'memseal.node');
  if (!existsSync(addon)) {
    mkdirSync(join(dir, 'test', 'fixtures'), { recursive: true });
    cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
    copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
    copyFileSync(addonInUse(), addon);
    for (const d of [helperDir, dir, join(dir, 'test'), join(dir, 'test', 'fixtures')]) chmodSync(d, 0o755);
  }
  return { dir, cli: join(dir, 'dist', 'cli', 'main.js'), addon };
}

function command(file: string, o: FixtureOptions): string[] {
  const staged = o.unprivilegedMemlock !== undefined ? stageForNobody(file) : undefined;
  const script = staged?.script ?? join(fixtures, file);
  let argv = [...(o.prefix ?? []), process.execPath, ...(o.nodeArgs ?? []), script, ...(o.args ?? [])];
  if (staged !== undefined) argv = ['env', `MEMSEAL_ADDON_PATH=${staged.addon}`, ...argv];
  if (o.unprivilegedMemlock !== undefined) {
    const l = String(o.unprivilegedMemlock);
    argv = ['prlimit', `--memlock=${l}:${l}`, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...argv];
  }
  return argv;
}

/** Runs test/fixtures/<file> in a child Node process and waits for it. */
export function runFixture(file: string, o: FixtureOptions = {}): FixtureResult {
  const [cmd, ...argv] = command(file, o);
  const r: SpawnSyncReturns<string> = spawnSync(cmd!, argv, {
    encoding: 'utf8',
    env: { ...process.env, ...o.env },
    timeout: o.timeout ?? 60_000,
    cwd: o.unprivilegedMemlock !== undefined ? '/' : root,
  });
  if (r.error) throw r.error;
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let json: unknown;
  try {
    json = JSON.parse(last);
  } catch {
    json = undefined;
  }
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, json };
}

/**
 * Starts a fixture that prints one JSON line when ready and then waits for a
 * line on stdin before it exits: the test inspects the live process in between.
 */
export async function withLiveFixture<T>(file: string, inspect: (pid: number, info: any) => Promise<T> | T, o: FixtureOptions = {}): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const [cmd, ...argv] = command(file, o);
  const child = spawn(cmd!, argv, { env: { ...process.env, ...o.env }, cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    const info = await new Promise<unknown>((res, rej) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          try {
            res(JSON.parse(out.slice(0, nl)));
          } catch (err) {
            rej(err);
          }
        }
      });
      child.on('exit', (code, signal) => rej(new Error(`fixture exited (${code ?? signal}) before it was ready: ${stderr}`)));
    });
    return await inspect(child.pid!, info);
  } finally {
    child.stdin.end('done\n');
    await exited;
  }
}

/** The last line of a child's stdout parsed as JSON; throws with the child's output when there is none. */
export function lastJson<T = unknown>(r: { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }): T {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`child printed no JSON (status ${r.status}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
}
