/**
 * A hostile Object.prototype: a value for every option name memseal reads
 * (lib/options.ts), each chosen to weaken a secret or a seal, or to break
 * the call, if memseal ever read it through the prototype chain.
 *
 * vitest.config.mts loads this file before every test file. With
 * MEMSEAL_POLLUTE_PROTOTYPE=1 (scripts/test.mjs runs the unit files so) the
 * values are planted before each test and removed after it, so vitest
 * itself runs between tests on a clean prototype.
 */
import { afterEach, beforeEach } from 'vitest';
import { OPTION_NAMES } from '../../lib/options.js';

export const HOSTILE: Readonly<Record<string, unknown>> = {
  access: 'none',
  allowSealing: false,
  arenaSize: 4096,
  argv0: 'polluted-argv0',
  backing: 'mlock',
  cases: [],
  cloexec: false,
  concurrency: 1,
  env: { MEMSEAL_POLLUTED: '1' },
  exec: 'exec',
  fallback: 'mlock',
  filter: 'polluted-filter-matches-nothing',
  hugetlb: true,
  length: 1,
  modules: ['/nonexistent/polluted.mjs'],
  name: 'polluted-name',
  offset: 4096,
  onResult: (): never => {
    throw new Error('polluted onResult called');
  },
  script: 'refuse',
  seals: [],
  shared: true,
  shell: '/bin/false',
  stdio: 'ignore',
  strict: true,
  tmpDir: '/nonexistent/polluted',
  wipeSource: true,
};

const missing = OPTION_NAMES.filter((n) => !Object.hasOwn(HOSTILE, n));
if (missing.length > 0) throw new Error(`test/helpers/pollute.ts has no hostile value for: ${missing.join(', ')}`);

/**
 * Plants every hostile value on Object.prototype and returns the function
 * that removes them. `enumerable` as a plain `Object.prototype.x = v`
 * assignment makes them (what a polluting merge does); the suite-wide pass
 * uses non-enumerable ones so that vitest's own for...in walks (deep
 * equality) stay sane: memseal reads options the same way either way.
 */
export function pollute(enumerable = false): () => void {
  const saved = new Map<string, PropertyDescriptor | undefined>();
  for (const name of OPTION_NAMES) {
    saved.set(name, Object.getOwnPropertyDescriptor(Object.prototype, name));
    Object.defineProperty(Object.prototype, name, { value: HOSTILE[name], enumerable, configurable: true, writable: true });
  }
  return () => {
    for (const [name, d] of saved) {
      if (d === undefined) delete (Object.prototype as Record<string, unknown>)[name];
      else Object.defineProperty(Object.prototype, name, d);
    }
  };
}

if (process.env.MEMSEAL_POLLUTE_PROTOTYPE === '1') {
  let restore: (() => void) | undefined;
  beforeEach(() => {
    restore = pollute();
  });
  afterEach(() => {
    restore?.();
    restore = undefined;
  });
}
