// One fuzzing process: `node worker.mjs SEED CALLS [FAMILY...]`. Calls every
// public function and method, and the raw binding, with random and hostile
// arguments, then releases what it made and prints one JSON line:
// { seed, calls, outcomes, unexpected: [...], fds: [before, after], maps: [before, after] }.
// Any death by signal is seen by the parent; any error that is not a typed
// error (a Node-coded TypeError/RangeError, a SyscallError, a MemsealError,
// or the fuzzer's own thrown value passing through) is listed in `unexpected`.
import { readdirSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import { arg, HOSTILE, hostile, NUMBERS, rng, setValidBias, SMALL_SIZES } from './values.mjs';
import { families } from './targets.mjs';

const require = createRequire(import.meta.url);
const lib = require('../../dist/index.js');
const { binding } = require('../../dist/binding.js');

const seed = Number(process.argv[2] ?? 1);
const calls = Number(process.argv[3] ?? 10_000);
const only = process.argv.slice(4);
const r = rng(seed);

const fdCount = () => readdirSync('/proc/self/fd').length;
// Small mappings of the kinds memseal makes (anonymous, shared anonymous,
// memfd), not sealed (those stay until exit). V8 grows its heap in 256 KiB
// chunks, which this leaves out, so a leak of fuzzer-made mappings shows.
const mapsCount = () =>
  readFileSync('/proc/self/smaps', 'utf8')
    .split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)
    .filter((block) => {
      const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+[ \t]*(.*)$/m.exec(block);
      if (!m || /VmFlags:.*\bsl\b/.test(block)) return false;
      const size = Number(BigInt(`0x${m[2]}`) - BigInt(`0x${m[1]}`));
      return size <= 64 * 1024 && (m[3] === '' || m[3].startsWith('/dev/zero') || m[3].startsWith('/memfd:'));
    }).length;

/** Objects the fuzzer made; bounded, released at the end. */
const pool = {
  items: new Map(), // kind -> array
  add(kind, x) {
    if (x === undefined || x === null) return;
    const list = this.items.get(kind) ?? [];
    list.push(x);
    if (list.length > 24) release(kind, list.shift());
    this.items.set(kind, list);
  },
  any(kind) {
    const list = this.items.get(kind) ?? [];
    return list.length ? r.pick(list) : undefined;
  },
};

const releasers = new Map();
function release(kind, x) {
  try {
    (releasers.get(kind) ?? ((y) => y?.[Symbol.dispose]?.()))(x);
  } catch {
    // Releasing a sealed mapping or an already closed object may throw: fine.
  }
}

function typed(err) {
  if (err && err[HOSTILE]) return 'hostile';
  if (!(err instanceof Error)) return null;
  const code = err.code;
  if (typeof code !== 'string') return null;
  if (err instanceof lib.SyscallError) return `syscall:${code}`;
  if (/^ERR_[A-Z_]+$/.test(code)) return code;
  return null;
}

const ctx = { lib, raw: binding(), r, pool, arg, hostile, NUMBERS, SMALL_SIZES, releasers };
const all = families(ctx);
const targets = all.filter((t) => only.length === 0 || only.includes(t.family));
targets.cleanup = all.cleanup;

for (const warm of all.warmups ?? ctx.warmups ?? []) await warm();
// libuv starts its thread pool (a stack and a guard page per thread) on the
// first asynchronous call: start it before counting mappings, not during.
await stat('.');
const outcomes = {};
const unexpected = [];
const pending = [];
const count = (name, outcome, err) => {
  if (outcome === null && unexpected.length < 20) {
    unexpected.push({ target: name, error: inspect(err, { depth: 1 }).split('\n').slice(0, 4).join(' | ').slice(0, 400) });
  }
  const key = `${name} ${outcome ?? 'UNEXPECTED'}`;
  outcomes[key] = (outcomes[key] ?? 0) + 1;
};
const fdsBefore = fdCount(); // after the warm-ups above
const mapsBefore = mapsCount();
for (let i = 0; i < calls; i++) {
  const t = r.pick(targets);
  setValidBias(r.chance(0.4) ? 0.92 : 0.5);
  let outcome;
  try {
    const result = t.call();
    if (result && typeof result.then === 'function') {
      // Asynchronous targets: classified when they settle, released if they made something.
      pending.push(
        result.then(
          (value) => {
            t.adopt?.(value);
            count(t.name, 'ok');
          },
          (err) => count(t.name, typed(err), err),
        ),
      );
      continue;
    }
    outcome = 'ok';
  } catch (err) {
    outcome = typed(err);
    if (outcome === null && /at (hostile|arg|detached|rng) \(.*fuzz\/values\.mjs/.test(String(err?.stack))) {
      throw err; // a bug in the fuzzer's own value generator, not a finding
    }
    count(t.name, outcome, err);
    continue;
  }
  count(t.name, outcome);
}
await Promise.all(pending);
for (const [kind, list] of pool.items) for (const x of list) release(kind, x);
targets.cleanup?.();
await ctx.settle?.();
await new Promise((resolve) => setTimeout(resolve, 50));
const fdsAfter = fdCount();
const mapsAfter = mapsCount();
process.stdout.write(`${JSON.stringify({ seed, calls, targets: targets.length, outcomes, unexpected, fds: [fdsBefore, fdsAfter], maps: [mapsBefore, mapsAfter], sealedMappings: ctx.sealed ?? 0 })}\n`);
