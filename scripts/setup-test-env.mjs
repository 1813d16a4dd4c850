#!/usr/bin/env node
// Installs the system packages the test suite needs, with apt-get, when they
// are missing and this process can install them (root on Debian). Each entry:
// a command that must exist, and the Debian package that provides it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const NEEDS = [
  { command: 'clang-format', pkg: 'clang-format' },
  { command: 'unshare', pkg: 'util-linux' },
  // memseal vm: the emulator, the guest's shell and tools (static), and
  // cpio(1) to check the initramfs the harness writes.
  { command: 'qemu-system-x86_64', pkg: 'qemu-system-x86' },
  { command: 'busybox', pkg: 'busybox-static' },
  { command: 'cpio', pkg: 'cpio' },
  // The container tests: a private Docker daemon, a Debian root filesystem
  // for the build stage's base image, and cc for the seccomp launcher.
  { command: 'dockerd', pkg: 'docker.io' },
  { command: 'debootstrap', pkg: 'debootstrap' },
  { command: 'cc', pkg: 'gcc' },
];

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

const missing = NEEDS.filter((n) => !has(n.command)).map((n) => n.pkg);
if (missing.length === 0) process.exit(0);
if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
  console.warn(`memseal: missing ${missing.join(', ')}; install them (apt-get install ${missing.join(' ')}) to run every test`);
  process.exit(0);
}
console.log(`memseal: installing ${missing.join(', ')} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
if (update.status !== 0) process.exit(update.status ?? 1);
const install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
process.exit(install.status ?? 1);
