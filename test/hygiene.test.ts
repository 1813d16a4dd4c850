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
    const before = mapsLines();
    for (let i = 0; i < 10_000; i++) {
      const anon = Mapping.anonymous(4096 * (1 + (i % 4)));
      anon.buffer[0] = 1;
      if (i % 3 === 0) anon.protect('none');
      anon.unmap();
      const file = m.map({ access: i % 2 === 0 ? 'r' : 'rw' });
      void file.buffer.length;
      file.unmap();
    }
    const after = mapsLines();
    expect(after.filter((l) => l.includes('/memfd:hygiene-map'))).toEqual([]);
    // V8 may grow its own heap meanwhile; a leak here would add thousands of lines.
    expect(after.length).toBeLessThanOrEqual(before.length + 16);
  });

  it('finalizers close forgotten memfds and unmap forgotten mappings exactly once (--expose-gc child)', () => {
    const r = runFixture('finalizers.mjs', [], { nodeArgs: ['--expose-gc'] });
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
