/**
 * Everything memseal creates in a worker thread is released when the
 * worker's Node environment is torn down, whichever way the worker ends:
 * descriptors closed, mappings unmapped (a sealed one excepted), locked
 * memory unlocked, a listener's socket path removed, and a pending receive
 * does not keep the worker (or crash the process). npm test runs this file
 * on each supported Node line.
 */
import { describe, expect } from 'vitest';
import { caps } from './helpers/caps.js';
import { lastJson, runFixture, type FixtureResult } from './helpers/child.js';
import { unlessEmulated } from './helpers/emulation.js';

interface Counts {
  fds: number;
  mappings: number;
  memsealMappings: number;
  vmLckKiB: number;
}

interface Way {
  before: Counts;
  after: Counts;
  held: Counts;
  exitCode: number;
  socketLeft: boolean;
  sealedLeft: boolean | null;
}

const WAYS = { terminate: 1, exit: 5, throw: 1, return: 0 } as const;

describe('a worker that ends holding resources releases them all', () => {
  let result: FixtureResult | undefined;
  // One child for the four ways, run by the first test.
  const run = (): FixtureResult => (result ??= runFixture('worker-teardown.mjs', { timeout: 120_000 }));
  for (const [way, exitCode] of Object.entries(WAYS)) {
    const title = { terminate: 'terminate()', exit: 'process.exit() in the worker', throw: 'an uncaught error', return: 'running out of work' }[way];
    // The counts it expects the worker to hold (300 of memseal's mappings) include the 100 secret memory adds.
    unlessEmulated('memfd_secret')(`ended by ${title} (child process)`, () => {
      const r = run();
      expect(r.status, r.stderr).toBe(0);
      const w = lastJson<{ ways: Record<string, Way> }>(r).ways[way]!;
      expect(w.exitCode).toBe(exitCode);
      // It did hold them: 50 memfds and a listener; 300 mappings of memseal's; locked secrets.
      expect(w.held.fds).toBeGreaterThanOrEqual(51);
      expect(w.held.memsealMappings).toBeGreaterThanOrEqual(300);
      expect(w.held.vmLckKiB).toBeGreaterThanOrEqual(400);
      const sealed = caps.mseal ? 1 : 0;
      expect(w.sealedLeft).toBe(caps.mseal ? true : null);
      expect(w.after.fds, 'descriptors').toBe(w.before.fds);
      expect(w.after.vmLckKiB, 'VmLck').toBe(w.before.vmLckKiB);
      expect(w.after.memsealMappings, "memseal's mappings").toBe(w.before.memsealMappings + sealed);
      // Every mapping of the process: the runtime keeps some after a worker
      // (V8's page pool, malloc arenas; more under AddressSanitizer, whose
      // allocator maps its own regions); memseal's own count is exact above.
      expect(Math.abs(w.after.mappings - w.before.mappings - sealed), 'all mappings').toBeLessThanOrEqual(32);
      expect(w.socketLeft, "the listener's socket path").toBe(false);
    });
  }
});
