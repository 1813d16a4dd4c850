/**
 * Resource hygiene: many cycles leave the process's descriptors and mappings
 * as they were, and the garbage collector releases forgotten objects once.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Mapping, Memfd } from '../lib/index.js';
import { lastJson, runFixture } from './helpers/child.js';

const fdList = (): string[] => readdirSync('/proc/self/fd').sort();
const mapsLines = (): string[] => readFileSync('/proc/self/maps', 'utf8').trim().split('\n');

/**
 * Mappings of the kinds these cycles make (anonymous up to 64 KiB, memfd):
 * V8 grows its heap in 256 KiB chunks meanwhile, which this leaves out.
 */
function smallMappings(): string[] {
  return mapsLines().filter((line) => {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (!m) return false;
    const size = Number(BigInt(`0x${m[2]}`) - BigInt(`0x${m[1]}`));
    return size <= 64 * 1024 && (m[3] === '' || m[3]!.startsWith('/memfd:'));
  });
}

describe('hygiene', () => {
  it('10,000 create/close cycles leave /proc/self/fd as it was', () => {
    const before = fdList();
    for (let i = 0; i < 10_000; i++) {
      const m = Memfd.create('cycle');
      if (i % 2 === 0) m.write('x');
      m.close();
    }
    for (let i = 0; i < 1_000; i++) {
      using m = Memfd.create('using-cycle');
      m.addSeals('grow');
    }
    expect(fdList()).toEqual(before);
  });

  it('10,000 map/unmap cycles leave /proc/self/maps as it was', () => {
    using m = Memfd.create('hygiene-map');
    m.truncate(8192);
    const before = smallMappings();
    for (let i = 0; i < 10_000; i++) {
      const anon = Mapping.anonymous(4096 * (1 + (i % 4)));
      anon.buffer[0] = 1;
      if (i % 3 === 0) anon.protect('none');
      anon.unmap();
      const file = m.map({ access: i % 2 === 0 ? 'r' : 'rw' });
      void file.buffer.length;
      file.unmap();
    }
    const after = smallMappings();
    expect(after.filter((l) => l.includes('/memfd:hygiene-map'))).toEqual([]);
    // As before, give or take what the runtime maps meanwhile (a thread stack
    // guard; under AddressSanitizer its allocator's own small regions). A leak
    // here adds thousands: every third mapping is PROT_NONE, so leaked
    // neighbours cannot all merge into a few.
    expect(after.length).toBeLessThanOrEqual(before.length + 16);
    expect(after.length).toBeGreaterThanOrEqual(before.length - 16);
  });

  it('finalizers close forgotten memfds and unmap forgotten mappings exactly once (--expose-gc child)', () => {
    const r = runFixture('finalizers.mjs', { nodeArgs: ['--expose-gc'] });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const out = lastJson<Record<string, number | string>>(r);
    expect(out.fdsHeld).toBe(Number(out.fdsBefore) + 50);
    expect(out.fdsAfter).toBe(out.fdsBefore);
    expect(out.warnings).toBe(50);
    expect(out.mapsWhileViewAlive).toBe(1); // a live Buffer keeps its mapping
    expect(out.text).toBe('alive');
    expect(out.mapsAfter).toBe(0);
    expect(r.stderr).not.toMatch(/EBADF|double|Assertion/);
  });
});
