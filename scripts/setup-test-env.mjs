#!/usr/bin/env node
// Installs the system packages the test suite needs, with apt-get, when they
// are missing and this process can install them (root on Debian). Each entry:
// a command that must exist, and the Debian package that provides it.
//
// Another apt or dpkg run (unattended-upgrades, a parallel setup) holds the
// dpkg lock for a while: wait for it, saying so, instead of failing.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ensureKernelTools } from './kernel-tools.mjs';

export const DPKG_LOCK = '/var/lib/dpkg/lock-frontend';
const LOCK_TIMEOUT_S = 600;

/**
 * The pids holding a lock (POSIX, as apt and dpkg take, or flock) on `file`,
 * read from /proc/locks; [] when none or the file does not exist.
 */
export function lockHolders(file) {
  let st;
  try {
    st = statSync(file);
  } catch {
    return [];
  }
  const ino = String(st.ino);
  const holders = [];
  for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
    // "1: POSIX  ADVISORY  WRITE 1234 08:01:56789 0 EOF" (blocked waiters carry "->")
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || f[1] === '->') continue;
    const id = f[5].split(':');
    if (id[2] === ino) holders.push(Number(f[4]));
  }
  return holders;
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function processName(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/**
 * Waits until nothing holds a lock on `lockFile`, printing what holds it
 * (once, then every 30 s). Returns the milliseconds waited; throws after
 * `timeoutMs`.
 */
export function waitForDpkgLock({ lockFile = DPKG_LOCK, timeoutMs = LOCK_TIMEOUT_S * 1000, pollMs = 1000, log = console.log } = {}) {
  const start = Date.now();
  let lastSaid = -Infinity;
  for (;;) {
    const holders = lockHolders(lockFile);
    const waited = Date.now() - start;
    if (holders.length === 0) return waited;
    if (waited > timeoutMs) throw new Error(`${lockFile} is still locked after ${Math.round(waited / 1000)} s (by ${holders.join(', ')})`);
    if (waited - lastSaid >= 30_000) {
      const who = holders.map((pid) => `${processName(pid)} (pid ${pid})`).join(', ');
      log(`memseal: waiting for the dpkg lock ${lockFile}, held by ${who}${waited > 0 ? `; ${Math.round(waited / 1000)} s so far` : ''}`);
      lastSaid = waited;
    }
    sleep(pollMs);
  }
}

const NEEDS = [
  { command: 'clang-format', pkg: 'clang-format' },
  { command: 'unshare', pkg: 'util-linux' },
  // The transfer tests' peer in another language (socket.send_fds, 3.9+),
  // and the README's Python example.
  { command: 'python3', pkg: 'python3' },
  // memseal vm: the emulator, the guest's shell and tools (static), and
  // cpio(1) to check the initramfs the harness writes.
  { command: 'qemu-system-x86_64', pkg: 'qemu-system-x86' },
  // memseal vm --arch arm64: qemu-system-aarch64 (the arm64 guest's
  // userland comes from Debian's arm64 packages through lib/vm's private apt
  // configuration, not from the system).
  { command: 'qemu-system-aarch64', pkg: 'qemu-system-arm' },
  { command: 'busybox', pkg: 'busybox-static' },
  { command: 'cpio', pkg: 'cpio' },
  // The container tests: a private Docker daemon, a Debian root filesystem
  // for the build stage's base image, and cc for the seccomp launcher.
  { command: 'dockerd', pkg: 'docker.io' },
  { command: 'debootstrap', pkg: 'debootstrap' },
  { command: 'cc', pkg: 'gcc' },
  // The arm64 addon: Debian's cross compiler (with the cross binutils, for
  // its glibc floor), file(1) to tell the two addons apart, and qemu's
  // user-mode emulator to run the arm64 Node binaries over it.
  { command: 'aarch64-linux-gnu-g++', pkg: 'g++-aarch64-linux-gnu' },
  { command: 'file', pkg: 'file' },
  { command: 'qemu-aarch64-static', pkg: 'qemu-user-static' },
  // The kernel's KTAP parser (tools/testing/kunit/kunit.py) and kselftest
  // runner, from linux-source-6.12 (scripts/kernel-tools.mjs): python3 and
  // perl's prefix.pl.
  { command: 'python3', pkg: 'python3' },
  { command: 'perl', pkg: 'perl-base' },
];

/** The kernel's test tools, downloaded and extracted into the cache when missing (apt-get download: root not needed). */
function kernelTools() {
  if (!existsSync('/usr/bin/apt-get')) {
    console.warn('memseal: no apt-get: the tests that use the kernel\'s kselftest runner and kunit.py need linux-source-6.12 (node scripts/kernel-tools.mjs)');
    return 0;
  }
  try {
    console.log(`memseal: the kernel's kselftest runner and kunit.py: ${ensureKernelTools()}`);
    return 0;
  } catch (err) {
    console.error(`memseal: ${err.message}`);
    return 1;
  }
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function main() {
  const status = installMissing();
  return status !== 0 ? status : kernelTools();
}

function installMissing() {
  const missing = NEEDS.filter((n) => !has(n.command)).map((n) => n.pkg);
  if (missing.length === 0) return 0;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    console.warn(`memseal: missing ${missing.join(', ')}; install them (apt-get install ${missing.join(' ')}) to run every test`);
    return 0;
  }
  console.log(`memseal: installing ${missing.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Wait here (with a message) and let apt-get wait too: the lock can be
  // taken again between the two.
  waitForDpkgLock();
  const lockWait = ['-o', `DPkg::Lock::Timeout=${LOCK_TIMEOUT_S}`];
  const update = spawnSync('apt-get', [...lockWait, 'update', '-qq'], { stdio: 'inherit', env });
  if (update.status !== 0) return update.status ?? 1;
  waitForDpkgLock();
  const install = spawnSync('apt-get', [...lockWait, 'install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  return install.status ?? 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(main());
