#!/usr/bin/env node
// Secrets, all in one run (only same-run ratios mean anything on these
// machines): alloc+dispose of 32-byte secrets through SecretPool,
// SecretBuffer and sodium-native's sodium_malloc/sodium_free, and a C loop of
// memfd_secret+mmap+munmap; how many 32-byte secrets fit under
// `ulimit -l 8192` as an unprivileged user; read/write throughput of a
// SecretBuffer's `buffer` against a plain Buffer.
//
// Every contender runs in the same rounds, interleaved in short chunks (this
// machine's load changes from one second to the next), with a full GC
// before each chunk (bench/run.mjs passes --expose-gc), and the median of
// the rounds is kept. The JS loops yield to the event loop every BATCH
// operations, because sodium-native frees in a finalizer and aborts in a
// tight loop that never yields (and memseal's finalizers need the same turn).
//
//   node bench/secret.bench.mjs          (prints one JSON line last; see bench/run.mjs)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { SecretBuffer, SecretPool } = require('../dist/index.js');
const sodium = require('sodium-native');

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const BATCH = 500;
const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const tick = () => new Promise((r) => setImmediate(r));
const key = Buffer.alloc(32, 7);

/** Mean microseconds per op over `n` ops, yielding every BATCH. */
async function timeOps(n, op) {
  globalThis.gc?.();
  await tick();
  const start = process.hrtime.bigint();
  for (let done = 0; done < n; done += BATCH) {
    for (let i = 0; i < BATCH; i++) op();
    await tick();
  }
  return Number(process.hrtime.bigint() - start) / 1000 / n;
}

function buildC() {
  const out = join(here, '.build');
  mkdirSync(out, { recursive: true });
  const exe = join(out, 'secret-loop');
  execFileSync('cc', ['-O2', '-o', exe, join(here, 'secret-loop.c')]);
  return exe;
}

async function speed() {
  const exe = buildC();
  const pool = new SecretPool();
  const contenders = {
    c: async () => Number(execFileSync(exe, ['500'], { encoding: 'utf8' }).trim()),
    cGuards: async () => Number(execFileSync(exe, ['500', 'guards'], { encoding: 'utf8' }).trim()),
    sodium: () =>
      timeOps(2000, () => {
        const b = sodium.sodium_malloc(32);
        b.set(key);
        sodium.sodium_free(b);
      }),
    poolAlloc: () => timeOps(20_000, () => pool.alloc(32).dispose()),
    poolWrite: () =>
      timeOps(20_000, () => {
        const s = pool.alloc(32);
        s.write(key);
        s.dispose();
      }),
    poolBuffer: () =>
      timeOps(10_000, () => {
        const s = pool.alloc(32);
        s.buffer.set(key);
        s.dispose();
      }),
    bufferWrite: () =>
      timeOps(500, () => {
        const s = SecretBuffer.alloc(32);
        s.write(key);
        s.dispose();
      }),
    bufferView: () =>
      timeOps(500, () => {
        const s = SecretBuffer.alloc(32);
        s.buffer.set(key);
        s.dispose();
      }),
  };
  const samples = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  // One warm-up round, not kept.
  for (let round = 0; round <= ROUNDS; round++) {
    for (const [name, run] of Object.entries(contenders)) {
      const us = await run();
      if (round > 0) samples[name].push(us);
    }
    log(`secret bench: round ${round}/${ROUNDS}`);
  }
  pool.destroy();
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

function capacity(kind) {
  const limit = 8 * 1024 * 1024;
  const script = join(here, 'secret-capacity.cjs');
  const root = process.getuid?.() === 0;
  const argv = root
    ? ['prlimit', `--memlock=${limit}:${limit}`, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, script, kind]
    : ['prlimit', `--memlock=${limit}:${limit}`, process.execPath, script, kind];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', cwd: '/', timeout: 120_000 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    log(`capacity ${kind} failed: ${r.stderr}`);
    return { kind, count: null, note: 'failed' };
  }
}

// Each contender gets its own copy of the measuring functions (separate
// JIT feedback), so neither is measured through code optimized for the other.
const THROUGHPUT = `
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    buf.fill(i & 0xff);
    buf.copy(scratch);
    scratch.copy(buf);
  }
  return (3 * buf.length * iterations) / (Number(process.hrtime.bigint() - start) / 1e9) / 1e9;`;
const BYTE_LOOP = `
  const start = process.hrtime.bigint();
  let acc = 0;
  for (let i = 0; i < iterations; i++) {
    for (let j = 0; j < buf.length; j++) {
      buf[j] = (buf[j] + j) & 0xff;
      acc ^= buf[j];
    }
  }
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  return acc === -1 ? 0 : (2 * buf.length * iterations) / s / 1e6;`;
/** GB/s of fill + copy out + copy in over a 1 MiB buffer. */
const makeThroughput = () => new Function('process', 'buf', 'scratch', 'iterations', THROUGHPUT).bind(null, process);
/** Million byte operations per second of an indexed JS loop. */
const makeByteLoop = () => new Function('process', 'buf', 'iterations', BYTE_LOOP).bind(null, process);

function rw() {
  const size = 1 << 20;
  const secret = SecretBuffer.alloc(size);
  const plain = Buffer.alloc(size);
  const scratch = Buffer.alloc(size);
  const small = SecretBuffer.alloc(64 * 1024);
  const smallPlain = Buffer.alloc(64 * 1024);
  const bulk = { secret: [], plain: [] };
  const loop = { secret: [], plain: [] };
  const [throughputSecret, throughputPlain, loopSecret, loopPlain] = [makeThroughput(), makeThroughput(), makeByteLoop(), makeByteLoop()];
  for (let round = 0; round <= ROUNDS; round++) {
    const a = throughputSecret(secret.buffer, scratch, 150);
    const b = throughputPlain(plain, scratch, 150);
    const c = loopSecret(small.buffer, 300);
    const d = loopPlain(smallPlain, 300);
    if (round === 0) continue;
    bulk.secret.push(a);
    bulk.plain.push(b);
    loop.secret.push(c);
    loop.plain.push(d);
  }
  secret.dispose();
  small.dispose();
  return { bulk: { secret: median(bulk.secret), plain: median(bulk.plain) }, loop: { secret: median(loop.secret), plain: median(loop.plain) } };
}

const t = await speed();
const cap = { pool: capacity('pool'), buffer: capacity('buffer'), sodium: capacity('sodium') };
const through = rw();
const r3 = (n) => Math.round(n * 1000) / 1000;

const rows = [
  { name: 'SecretPool alloc+dispose (32 B)', memseal: r3(t.poolAlloc), baseline: r3(t.sodium), baselineName: 'sodium_malloc+set+free', unit: 'us/op', target: '<= 0.10', ok: t.poolAlloc / t.sodium <= 0.1 },
  { name: 'SecretPool alloc+write()+dispose', memseal: r3(t.poolWrite), baseline: r3(t.sodium), baselineName: 'sodium_malloc+set+free', unit: 'us/op', target: '<= 0.10', ok: t.poolWrite / t.sodium <= 0.1 },
  { name: 'SecretPool alloc+buffer.set+dispose', memseal: r3(t.poolBuffer), baseline: r3(t.sodium), baselineName: 'sodium_malloc+set+free', unit: 'us/op', target: '<= 0.10', ok: t.poolBuffer / t.sodium <= 0.1 },
  { name: 'SecretBuffer alloc+write()+dispose', memseal: r3(t.bufferWrite), baseline: r3(t.c), baselineName: 'C memfd_secret loop', unit: 'us/op', target: '<= 1.5', ok: t.bufferWrite / t.c <= 1.5 },
  { name: 'SecretBuffer alloc+buffer.set+dispose', memseal: r3(t.bufferView), baseline: r3(t.c), baselineName: 'C memfd_secret loop', unit: 'us/op', target: '<= 1.5', ok: t.bufferView / t.c <= 1.5 },
  { name: 'SecretBuffer alloc+write()+dispose, vs C with the same guards', memseal: r3(t.bufferWrite), baseline: r3(t.cGuards), baselineName: 'C loop + guards, DONTFORK, wipe', unit: 'us/op' },
  { name: 'sodium_malloc+set+free (for scale)', memseal: r3(t.sodium), baseline: r3(t.c), baselineName: 'C memfd_secret loop', unit: 'us/op' },
  { name: 'capacity under ulimit -l 8192: SecretPool', memseal: cap.pool.count, baseline: cap.sodium.count, baselineName: 'sodium_malloc, locked', unit: 'secrets', higherIsBetter: true, target: '>= 200000', ok: cap.pool.count >= 200_000 },
  { name: 'capacity under ulimit -l 8192: SecretBuffer', memseal: cap.buffer.count, baseline: cap.sodium.count, baselineName: 'sodium_malloc, locked', unit: 'secrets', higherIsBetter: true },
  { name: 'buffer throughput, 1 MiB fill+copy', memseal: r3(through.bulk.secret), baseline: r3(through.bulk.plain), baselineName: 'plain Buffer', unit: 'GB/s', higherIsBetter: true, target: '>= 0.95', ok: through.bulk.secret / through.bulk.plain >= 0.95 },
  { name: 'buffer throughput, JS byte loop 64 KiB', memseal: r3(through.loop.secret), baseline: r3(through.loop.plain), baselineName: 'plain Buffer', unit: 'Mop/s', higherIsBetter: true, target: '>= 0.95', ok: through.loop.secret / through.loop.plain >= 0.95 },
];
log(`capacity notes: pool ${cap.pool.note}; buffer ${cap.buffer.note}; sodium ${cap.sodium.note} (VmLck ${cap.sodium.vmLckKiB} kB)`);
console.log(JSON.stringify({ suite: 'secret', rows, capacity: cap }));
