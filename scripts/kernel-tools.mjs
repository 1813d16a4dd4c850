#!/usr/bin/env node
// The kernel's own test tools, for the tests that check memseal's KTAP and
// kselftest collection against them: Debian's linux-source-6.12 package is
// downloaded (`apt-get download`, no install, no change to apt's sources)
// into the cache and only these files are extracted from its tarball:
//
//   tools/testing/selftests/run_kselftest.sh, kselftest/ (runner.sh,
//   prefix.pl, ...), kselftest.h, lib.mk, mm/config
//   tools/testing/kunit/ (kunit.py parse and the modules it imports)
//   Documentation/dev-tools/ktap.rst
//
// into $MEMSEAL_CACHE_DIR/linux-source/<version>/ (else
// $XDG_CACHE_HOME/memseal/..., else ~/.cache/memseal/...). A version already
// extracted is reused. scripts/setup-test-env.mjs calls this; alone:
//
//   node scripts/kernel-tools.mjs          fetch when missing, print the folder
//   node scripts/kernel-tools.mjs --path   print the folder, or nothing (exit 1) when missing
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const SOURCE_PACKAGE = 'linux-source-6.12';

/** The members extracted (directories whole). */
export const MEMBERS = [
  'tools/testing/selftests/run_kselftest.sh',
  'tools/testing/selftests/kselftest',
  'tools/testing/selftests/kselftest.h',
  'tools/testing/selftests/lib.mk',
  'tools/testing/selftests/mm/config',
  'tools/testing/kunit',
  'Documentation/dev-tools/ktap.rst',
];

/** Written last: a folder without it is an interrupted extraction. */
const DONE = 'memseal-extracted';

export function sourceCache() {
  if (process.env.MEMSEAL_CACHE_DIR) return join(process.env.MEMSEAL_CACHE_DIR, 'linux-source');
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'memseal', 'linux-source');
}

/** The extracted tree of the newest version in the cache, or undefined. */
export function kernelToolsDir() {
  const dir = sourceCache();
  if (!existsSync(dir)) return undefined;
  const done = readdirSync(dir)
    .filter((v) => existsSync(join(dir, v, DONE)))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return done.length === 0 ? undefined : join(dir, done[done.length - 1]);
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join('; ')}`);
  return r.stdout;
}

/** Downloads and extracts when missing; returns the folder. */
export function ensureKernelTools(log = (m) => console.log(m)) {
  const have = kernelToolsDir();
  if (have !== undefined) return have;
  const base = sourceCache();
  mkdirSync(base, { recursive: true });
  const work = mkdtempSync(join(base, '.fetch-'));
  try {
    log(`memseal: downloading ${SOURCE_PACKAGE} (apt-get download) for the kernel's kselftest runner and KTAP parser`);
    run('apt-get', ['-q', 'download', SOURCE_PACKAGE], { cwd: work });
    const deb = readdirSync(work).find((f) => f.startsWith(`${SOURCE_PACKAGE}_`) && f.endsWith('.deb'));
    if (deb === undefined) throw new Error(`apt-get download ${SOURCE_PACKAGE} left no .deb`);
    const version = decodeURIComponent(deb.slice(SOURCE_PACKAGE.length + 1, -'.deb'.length)).replace(/_[a-z0-9]+$/, '');
    run('dpkg-deb', ['-x', deb, 'deb'], { cwd: work });
    const tarDir = join(work, 'deb', 'usr', 'src');
    const tarball = readdirSync(tarDir).find((f) => /^linux-source-.*\.tar\.xz$/.test(f));
    if (tarball === undefined) throw new Error(`${deb} holds no linux-source tarball`);
    const top = tarball.replace(/\.tar\.xz$/, '');
    const out = join(work, 'out');
    mkdirSync(out);
    log(`memseal: extracting ${MEMBERS.length} paths from ${tarball}`);
    run('tar', ['-xJf', join(tarDir, tarball), '-C', out, '--strip-components=1', ...MEMBERS.map((m) => `${top}/${m}`)]);
    writeFileSync(join(out, DONE), `${SOURCE_PACKAGE} ${version}\n`);
    const dest = join(base, version);
    rmSync(dest, { recursive: true, force: true });
    renameSync(out, dest);
    return dest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--path')) {
    const dir = kernelToolsDir();
    if (dir === undefined) process.exit(1);
    console.log(dir);
  } else {
    console.log(ensureKernelTools((m) => console.error(m)));
  }
}
