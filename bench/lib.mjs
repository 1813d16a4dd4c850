// Shared pieces for bench/*.bench.mjs: compile a C baseline, time a JS loop
// the same way the C side does (median of rounds, ns per operation), and
// alternate the two so drift on a noisy machine hits both alike.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const root = join(benchDir, '..');
export const require = createRequire(import.meta.url);

/** The built package (run `npm run build` first). */
export function memseal() {
  return require(join(root, 'dist', 'index.js'));
}

/** Compiles bench/c/NAME.c to bench/.build/NAME unless it is up to date. */
export function compileC(name, extra = []) {
  const src = join(benchDir, 'c', `${name}.c`);
  const out = join(benchDir, '.build', name);
  mkdirSync(dirname(out), { recursive: true });
  let fresh = false;
  try {
    fresh = statSync(out).mtimeMs > statSync(src).mtimeMs;
  } catch {
    fresh = false;
  }
  if (!fresh) execFileSync('cc', ['-O2', '-Wall', '-o', out, src, ...extra]);
  return out;
}

const ROUNDS = 7;

/** Median ns per operation of `fn(n)` over rounds, after a warm-up. */
export function timeJs(fn, n) {
  fn(Math.max(1, Math.floor(n / 10)));
  const r = [];
  for (let k = 0; k < ROUNDS; k++) {
    const t0 = process.hrtime.bigint();
    fn(n);
    r.push(Number(process.hrtime.bigint() - t0) / n);
  }
  r.sort((a, b) => a - b);
  return r[ROUNDS >> 1];
}

/** Runs a C baseline binary: prints ns/op. */
export function timeC(binary, args) {
  return Number(execFileSync(binary, args, { encoding: 'utf8' }).trim());
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * Alternates `a` and `b` `pairs` times; returns the medians and the median of
 * the pairwise ratios a/b.
 */
export function paired(a, b, pairs = 5) {
  const as = [];
  const bs = [];
  const ratios = [];
  for (let i = 0; i < pairs; i++) {
    const x = a();
    const y = b();
    as.push(x);
    bs.push(y);
    ratios.push(x / y);
  }
  return { a: median(as), b: median(bs), ratio: median(ratios) };
}

export function emit(suite, rows) {
  process.stdout.write(`${JSON.stringify({ suite, rows })}\n`);
}
