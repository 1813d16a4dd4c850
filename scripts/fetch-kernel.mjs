#!/usr/bin/env node
// Fetches Debian's newest 6.1 cloud kernel for `memseal vm` and prints the
// path of its vmlinuz on stdout (progress goes to stderr):
//
//   node scripts/fetch-kernel.mjs                 linux-image-6.1.0-*-cloud-amd64-unsigned
//   node scripts/fetch-kernel.mjs --series 6.12   linux-image-6.12.*-cloud-amd64-unsigned
//   node scripts/fetch-kernel.mjs --dir DIR       unpack under DIR (default: <cache>/kernels)
//
// It asks apt which versions exist (apt-cache search, no download), picks the
// newest, and if that one is not unpacked yet runs `apt-get download` and
// `dpkg-deb -x`. Without apt it falls back on the newest kernel already
// unpacked. The cache is $MEMSEAL_CACHE_DIR, else $XDG_CACHE_HOME/memseal,
// else ~/.cache/memseal (as lib/vm/cache.ts).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { series: { type: 'string', default: '6.1' }, dir: { type: 'string' } } });
const series = values.series;
if (!/^\d+\.\d+$/.test(series)) fail(`--series is a kernel series such as 6.1 (got ${series})`);

function cacheDir() {
  if (process.env.MEMSEAL_CACHE_DIR) return process.env.MEMSEAL_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'memseal');
}

function fail(message) {
  process.stderr.write(`fetch-kernel: ${message}\n`);
  process.exit(1);
}

function say(message) {
  process.stderr.write(`fetch-kernel: ${message}\n`);
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...options });
  if (r.error) return { ok: false, out: '', err: r.error.code === 'ENOENT' ? `${cmd} not found` : r.error.message };
  return { ok: r.status === 0, out: r.stdout ?? '', err: r.stderr ?? '' };
}

// linux-image-6.1.0-56-cloud-amd64-unsigned, linux-image-6.12.48+deb12-cloud-amd64-unsigned
const escaped = series.replace('.', '\\.');
const NAME = new RegExp(`^linux-image-(${escaped}[.][0-9]+(?:-[0-9]+|\\+deb[0-9]+))-cloud-amd64-unsigned$`);

function versionKey(v) {
  return v.split(/[^0-9]+/).filter(Boolean).map(Number);
}

function newer(a, b) {
  const [x, y] = [versionKey(a), versionKey(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
}

function newest(names) {
  let best;
  for (const n of names) {
    const m = NAME.exec(n);
    if (m && (best === undefined || newer(m[1], NAME.exec(best)[1]))) best = n;
  }
  return best;
}

function available() {
  const r = run('apt-cache', ['search', '--names-only', `^linux-image-${escaped}.*-cloud-amd64-unsigned$`]);
  if (!r.ok) return { apt: false, names: [] };
  return { apt: true, names: r.out.split('\n').map((l) => l.split(' ')[0]).filter(Boolean) };
}

function vmlinuzIn(dir) {
  const boot = join(dir, 'boot');
  if (!existsSync(boot)) return undefined;
  const f = readdirSync(boot).find((n) => n.startsWith('vmlinuz-'));
  return f && join(boot, f);
}

const dir = values.dir ?? join(cacheDir(), 'kernels');
mkdirSync(dir, { recursive: true });

let { apt, names } = available();
if (apt && newest(names) === undefined && process.getuid?.() === 0) {
  say('no package list names a matching kernel; running apt-get update');
  run('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'] });
  ({ apt, names } = available());
}
const pkg = newest(names);
if (pkg === undefined) {
  const cached = newest(readdirSync(dir));
  if (cached && vmlinuzIn(join(dir, cached))) {
    say(`${apt ? 'apt knows no' : 'no apt-cache here, so no check for a newer'} linux-image-${series} cloud kernel; using the unpacked ${cached}`);
    process.stdout.write(`${vmlinuzIn(join(dir, cached))}\n`);
    process.exit(0);
  }
  fail(apt ? `apt knows no linux-image-${series}.*-cloud-amd64-unsigned package (Debian 12's main archive has them)` : 'apt-cache not found: this script fetches Debian kernels with apt');
}

const target = join(dir, pkg);
const ready = vmlinuzIn(target);
if (ready) {
  say(`${pkg} is already unpacked`);
  process.stdout.write(`${ready}\n`);
  process.exit(0);
}
const work = mkdtempSync(join(tmpdir(), 'memseal-kernel-'));
try {
  // apt-get download drops privileges to _apt, which must be able to write here.
  chmodSync(work, 0o777);
  say(`downloading ${pkg}`);
  const dl = run('apt-get', ['download', '-q', pkg], { cwd: work });
  if (!dl.ok) fail(`apt-get download ${pkg} failed: ${dl.err.trim()}`);
  const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
  if (!deb) fail(`apt-get download ${pkg} left no .deb`);
  const unpack = join(work, 'root');
  const x = run('dpkg-deb', ['-x', join(work, deb), unpack]);
  if (!x.ok) fail(`dpkg-deb -x ${deb} failed: ${x.err.trim()}`);
  // Keep only what a boot needs: the image and its config.
  rmSync(join(unpack, 'lib'), { recursive: true, force: true });
  rmSync(join(unpack, 'usr'), { recursive: true, force: true });
  rmSync(target, { recursive: true, force: true });
  renameSync(unpack, target);
} finally {
  rmSync(work, { recursive: true, force: true });
}
const image = vmlinuzIn(target);
if (!image) fail(`${pkg} holds no boot/vmlinuz-*`);
say(`unpacked ${pkg}`);
process.stdout.write(`${image}\n`);
