/**
 * A private Docker daemon for the container tests, and the base images the
 * Dockerfile builds on, made on this machine (no registry here).
 *
 * The daemon keeps all its state in one temp dir (data, exec root, socket,
 * pid file, log), uses the vfs storage driver and no bridge or iptables, and
 * is stopped by its pid. The base images stand in for the official ones:
 * - node:20-bookworm (build stage): Debian bookworm from debootstrap (minbase
 *   plus g++, make, python3; cached between runs), plus the node running the
 *   tests, its headers and npm, and the host's CA bundle (npm reaches the
 *   registry through it);
 * - node:20-bookworm-slim (runtime): that node and the libraries ldd lists.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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
export async function startDockerd(tools: DockerTools): Promise<Dockerd> {
  const dir = mkdtempSync(join(tmpdir(), 'memseal-dockerd-'));
  const sock = join(dir, 'docker.sock');
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') }));
  const logPath = join(dir, 'dockerd.log');
  const logFd = openSync(logPath, 'a');
  // Its own process group (detached): containerd, which dockerd starts, goes with it.
  const child = spawn(
    tools.dockerd,
    [
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'dockerd.pid'),
      '-H', `unix://${sock}`,
      '--config-file', join(dir, 'daemon.json'),
      '--storage-driver=vfs',
      '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none',
    ],
    { detached: true, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const pid = child.pid!;
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
    if (alive(pid)) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100 && alive(pid); i++) await sleep(200);
    }
    try {
      process.kill(-pid, 'SIGKILL'); // whatever of its group is left
    } catch {
      // the group is gone
    }
    for (let i = 0; i < 25 && alive(pid); i++) await sleep(200);
    // dockerd leaves its network namespace mounted under the exec root.
    for (const mount of mountsUnder(dir)) spawnSync('umount', ['-l', mount]);
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 120; i++) {
    if (child.exitCode !== null || !alive(pid)) break;
    if (docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 }).status === 0) {
      return { dir, pid, docker, stop, log };
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

function copyWithLibraries(stage: string, binaries: readonly string[]): void {
  for (const lib of new Set(binaries.flatMap((b) => sharedLibraries(b)))) {
    mkdirSync(join(stage, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(stage, lib));
  }
}

const ETC = { passwd: 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n', group: 'root:x:0:\nnode:x:1000:\n' };

/** A root filesystem with the node running the tests at /usr/local/bin/node and the libraries it (and the addon) link. */
export function slimRootfs(stage: string, addon: string): void {
  mkdirSync(join(stage, 'usr/local/bin'), { recursive: true });
  copyFileSync(process.execPath, join(stage, 'usr/local/bin/node'));
  chmodSync(join(stage, 'usr/local/bin/node'), 0o755);
  copyWithLibraries(stage, [process.execPath, addon]);
  mkdirSync(join(stage, 'etc'), { recursive: true });
  writeFileSync(join(stage, 'etc/passwd'), ETC.passwd);
  writeFileSync(join(stage, 'etc/group'), ETC.group);
  mkdirSync(join(stage, 'tmp'), { mode: 0o1777 });
  chmodSync(join(stage, 'tmp'), 0o1777);
}

/** The node toolchain a build stage needs, as the official image lays it out under /usr/local: node, its headers, npm. */
export function nodeToolchain(stage: string): void {
  const put = (from: string, to: string): void => {
    rmSync(join(stage, to), { recursive: true, force: true });
    mkdirSync(dirname(join(stage, to)), { recursive: true });
    cpSync(from, join(stage, to), { recursive: true });
  };
  const prefix = resolve(dirname(process.execPath), '..');
  const headers = join(prefix, 'include', 'node');
  const npm = join(prefix, 'lib', 'node_modules', 'npm');
  if (!existsSync(join(headers, 'node_api.h'))) throw new Error(`node's headers are not at ${headers}`);
  if (!existsSync(join(npm, 'bin', 'npm-cli.js'))) throw new Error(`npm is not at ${npm}`);
  put(process.execPath, 'usr/local/bin/node');
  chmodSync(join(stage, 'usr/local/bin/node'), 0o755);
  put(headers, 'usr/local/include/node');
  put(npm, 'usr/local/lib/node_modules/npm');
  for (const tool of ['npm', 'npx']) {
    rmSync(join(stage, 'usr/local/bin', tool), { force: true });
    symlinkSync(`../lib/node_modules/npm/bin/${tool}-cli.js`, join(stage, 'usr/local/bin', tool));
  }
  const ca = hostCaBundle();
  if (ca !== undefined) put(ca, 'etc/ssl/certs/ca-certificates.crt');
}

const BUILD_PACKAGES = ['g++', 'make', 'python3'];

/**
 * Debian bookworm (minbase plus the build toolchain) from debootstrap, kept
 * in the cache: the first run downloads about 150 MB of packages.
 */
export function bookwormRootfs(say: (line: string) => void): string {
  const dir = join(cacheSubdir('docker'), `bookworm-minbase-build-1`);
  const done = join(dir, '.memseal-complete');
  if (existsSync(done)) return dir;
  const debootstrap = which('debootstrap') ?? ['/usr/sbin/debootstrap', '/sbin/debootstrap'].find((p) => existsSync(p));
  if (debootstrap === undefined) throw new Error('debootstrap not found (apt-get install debootstrap)');
  rmSync(dir, { recursive: true, force: true });
  const mirror = process.env.MEMSEAL_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
  say(`debootstrap --variant=minbase --include=${BUILD_PACKAGES.join(',')} bookworm from ${mirror}`);
  run(debootstrap, ['--variant=minbase', `--include=${BUILD_PACKAGES.join(',')}`, 'bookworm', dir, mirror], 'debootstrap');
  // What Debian's own images leave out: package lists, downloaded packages, docs.
  for (const p of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale']) {
    rmSync(join(dir, p), { recursive: true, force: true });
    mkdirSync(join(dir, p), { recursive: true });
  }
  mkdirSync(join(dir, 'var/cache/apt/archives/partial'), { recursive: true });
  mkdirSync(join(dir, 'var/lib/apt/lists/partial'), { recursive: true });
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
  try {
    const slim = join(stage, 'slim');
    slimRootfs(slim, addon);
    const runtime = 'memseal-test/node:20-bookworm-slim';
    importImage(d, runtime, slim, [PATH_ENV, 'CMD ["node"]']);
    // The cached Debian tree, hard-linked (no copy), plus node: nodeToolchain
    // replaces files rather than writing through the links.
    const node = join(stage, 'bookworm');
    run('cp', ['-al', bookwormRootfs(say), node], 'cp -al of the Debian tree');
    nodeToolchain(node);
    const build = 'memseal-test/node:20-bookworm';
    const changes = [PATH_ENV, 'CMD ["node"]'];
    if (hostCaBundle() !== undefined) changes.push('ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt');
    importImage(d, build, node, changes);
    return { build, runtime };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
