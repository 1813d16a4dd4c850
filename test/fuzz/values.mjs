// Seeded generator of hostile arguments for the fuzzer.
export const HOSTILE = Symbol.for('memseal.fuzz.hostile');

/** Small, fast, seedable PRNG (mulberry32). */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
    chance: (p) => next() < p,
  };
}

/** An Error our own hostile values throw: expected to propagate unchanged. */
export function hostileError() {
  const e = new Error('thrown by a fuzzer value');
  e[HOSTILE] = true;
  return e;
}

function throwingGetters(keys) {
  const o = {};
  for (const k of keys) {
    Object.defineProperty(o, k, {
      enumerable: true,
      get() {
        throw hostileError();
      },
    });
  }
  return o;
}

function throwingProxy(target = {}) {
  const fail = () => {
    throw hostileError();
  };
  return new Proxy(target, { get: fail, has: fail, ownKeys: fail, getOwnPropertyDescriptor: fail, getPrototypeOf: fail, apply: fail, construct: fail, set: fail });
}

function detached() {
  const ab = new ArrayBuffer(16);
  const view = new Uint8Array(ab);
  structuredClone(ab, { transfer: [ab] });
  return view; // length 0 now
}

export const NUMBERS = [-1, -0, 0, 1, 2, 7, 31, 4096, 4097, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 1, 2 ** 46 + 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), Number.MAX_VALUE, Number.MIN_VALUE, Number.NaN, Infinity, -Infinity, 1.5, -2.5, 0.1];
export const SMALL_SIZES = [1, 7, 16, 32, 100, 4095, 4096, 4097, 8192];
const STRINGS = ['', 'a', 'x'.repeat(249), 'x'.repeat(250), 'x'.repeat(5000), 'nul\0inside', '\u{1F600}', 'r', 'rw', 'none', 'write', 'seal', 'exec', 'kernel-default', 'noexec-seal', '__proto__', 'constructor'];

/** One hostile value, of any kind. */
export function hostile(r) {
  switch (r.int(16)) {
    case 0:
      return r.pick(NUMBERS);
    case 1:
      return r.pick(STRINGS);
    case 2:
      return r.pick([undefined, null, true, false]);
    case 3:
      return r.pick([0n, -1n, 2n ** 64n, 4096n, 2n ** 63n - 1n]);
    case 4:
      return Symbol('fuzz');
    case 5:
      return r.pick([{}, [], [1, 2], Object.create(null), Object.freeze({ a: 1 })]);
    case 6:
      return throwingGetters(['exec', 'access', 'shared', 'name', 'seals', 'length', 'offset', 'fallback', 'allowSealing', 'cloexec', 'hugetlb', 'wipeSource']);
    case 7:
      return throwingProxy();
    case 8:
      return detached();
    case 9:
      return r.pick([Buffer.alloc(0), Buffer.from('fuzz'), new Uint16Array(3), new Float64Array(2), new DataView(new ArrayBuffer(8)), new ArrayBuffer(8), new SharedArrayBuffer(8), new Int32Array(new SharedArrayBuffer(8))]);
    case 10:
      return () => 1;
    case 11:
      return r.pick([new Date(0), /re/, new Map(), new Set(['write']), Promise.resolve(1), new Error('x')]);
    case 12:
      return r.pick(['write', 'grow', 'shrink', 'seal', 'future-write', 'exec']);
    case 13:
      return r.pick(SMALL_SIZES);
    case 14:
      return { [r.pick(['exec', 'access', 'shared', 'length', 'offset', 'seals', 'name'])]: hostileShallow(r) };
    default:
      return r.pick([{ toString: () => { throw hostileError(); } }, { valueOf: () => { throw hostileError(); } }, { [Symbol.toPrimitive]: () => { throw hostileError(); } }]);
  }
}

function hostileShallow(r) {
  return r.pick([...NUMBERS.slice(0, 8), ...STRINGS.slice(0, 8), null, undefined, true, {}, []]);
}

let validBias = 0.5;

/**
 * How often arg() picks a plausible value for the next call: the worker sets
 * it per call, so some calls are valid but for one or two arguments (which
 * reaches the code behind the argument checks) and others are hostile all over.
 */
export function setValidBias(p) {
  validBias = p;
}

/** A plausible value from `valid`, or a hostile one. */
export function arg(r, valid) {
  return valid !== undefined && r.chance(validBias) ? r.pick(valid) : hostile(r);
}
