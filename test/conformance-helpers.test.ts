/**
 * Where the catalog's anonymous mappings go (anon() in
 * lib/conformance/helpers.ts): the holes a case unmaps must stay holes while
 * the rest of the process (V8's threads, a sanitizer's allocator) maps memory,
 * or the case would see, or clobber, someone else's pages.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { binding } from '../lib/binding.js';
import { Context } from '../lib/conformance/context.js';
import { gatherEnv } from '../lib/conformance/env.js';
import { anon } from '../lib/conformance/helpers.js';
import { PAGE_SIZE } from '../lib/constants.js';

const b = binding();
const c = b.constants;
const page = BigInt(PAGE_SIZE);
const contexts: Context[] = [];
afterEach(() => {
  for (const ctx of contexts.splice(0)) ctx.release();
});

/** The mappings of this process that overlap [start, end). */
function overlapping(start: bigint, end: bigint): string[] {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => {
      const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
      return m !== null && BigInt(`0x${m[1]}`) < end && BigInt(`0x${m[2]}`) > start;
    });
}

describe("the catalog's anonymous mappings", () => {
  it('a hole a case unmaps stays a hole while the process maps 500 more pages where the kernel chooses', () => {
    const ctx = new Context(gatherEnv());
    contexts.push(ctx);
    const addr = anon(ctx, 4);
    b.munmap(addr + page, Number(page));
    const others: bigint[] = [];
    try {
      for (let i = 0; i < 500; i++) others.push(b.mmap(0n, Number(page), c.PROT_READ! | c.PROT_WRITE!, c.MAP_PRIVATE! | c.MAP_ANONYMOUS!, -1, 0));
      expect(others.filter((o) => o >= addr && o < addr + 4n * page)).toEqual([]);
      expect(overlapping(addr + page, addr + 2n * page)).toEqual([]);
    } finally {
      for (const o of others) b.munmap(o, Number(page));
    }
  });

  it('each mapping is a fresh range with unmapped pages around it, so two never merge into one VMA', () => {
    const ctx = new Context(gatherEnv());
    contexts.push(ctx);
    const first = anon(ctx, 2);
    const second = anon(ctx, 2);
    expect(second).not.toBe(first);
    const [low, high] = first < second ? [first, second] : [second, first];
    expect(high - low).toBeGreaterThan(2n * page);
    expect(overlapping(low + 2n * page, high)).toEqual([]);
  });
});
