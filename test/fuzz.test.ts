/**
 * Fuzzing every public function and the raw binding with random and hostile
 * arguments, in child processes: at least 100,000 calls per run, fixed
 * seeds (printed). No death by signal; every failure a typed error;
 * descriptors as they were, and mappings too on the runs without the raw
 * binding. `npm run fuzz` runs longer, with
 * random seeds.
 */
import { describe, expect, it } from 'vitest';
import { lastJson, runFixture } from './helpers/child.js';

interface FuzzResult {
  seed: number;
  calls: number;
  targets: number;
  outcomes: Record<string, number>;
  unexpected: Array<{ target: string; error: string }>;
  fds: [number, number];
  maps: [number, number];
}

const SEEDS = [0x5eed0001, 0x5eed0002, 0x5eed0003, 0x5eed0004];
const CALLS = 25_000;
/**
 * Every family but the raw binding's. Its hostile calls (munmap, mprotect,
 * madvise at arbitrary addresses) change mappings that are not its own, so
 * the mapping count is compared on runs of these.
 */
const LIBRARY = ['conform', 'exec', 'mapping', 'memfd', 'probe', 'secret'];

function fuzz(seed: number, families: string[]): FuzzResult {
  const r = runFixture('../fuzz/worker.mjs', { args: [String(seed), String(CALLS), ...families], timeout: 300_000 });
  console.log(`fuzz seed ${seed}${families.length > 0 ? ` (${families.join(', ')})` : ''}: ${CALLS} calls; status ${r.status}, signal ${r.signal}`);
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  const out = lastJson<FuzzResult>(r);
  expect(out.calls).toBe(CALLS);
  expect(out.unexpected).toEqual([]);
  expect(out.fds[1]).toBe(out.fds[0]);
  // The run reached past the argument checks: calls succeeded and syscalls failed.
  const kinds = Object.keys(out.outcomes).map((k) => k.slice(k.lastIndexOf(' ') + 1));
  expect(kinds).toContain('ok');
  expect(kinds.some((k) => k.startsWith('syscall:'))).toBe(true);
  expect(kinds).toContain('hostile');
  return out;
}

describe('fuzz', () => {
  it.each(SEEDS)(`seed %i: ${CALLS} hostile calls, no signal, only typed errors, no descriptor leaked`, (seed) => {
    fuzz(seed, []);
  }, 300_000);

  it.each(SEEDS.slice(0, 1))(`seed %i, the library without the raw binding: ${CALLS} hostile calls, no descriptor or mapping leaked`, (seed) => {
    const out = fuzz(seed, LIBRARY);
    // The count sees anonymous mappings at all: a parsing slip once made it 0 always.
    expect(out.maps[0]).toBeGreaterThan(0);
    expect(out.maps[1]).toBe(out.maps[0]);
  }, 300_000);
});
