/**
 * Fault tests: exhausted descriptors, impossible sizes, concurrent worker
 * threads, and descriptors across process creation. Each runs where a
 * failure cannot take the test worker down (a child process or a
 * self-contained check).
 */
import { kMaxLength } from 'node:buffer';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Mapping, Memfd, SyscallError } from '../lib/index.js';
import { lastJson, root } from './helpers/child.js';
import { unlessEmulated } from './helpers/emulation.js';

describe('faults', () => {
  it('RLIMIT_NOFILE exhausted: typed EMFILE everywhere, and recovery once descriptors are released', () => {
    const r = spawnSync('prlimit', ['--nofile=128:128', process.execPath, join(root, 'test/fixtures/emfile.mjs')], { encoding: 'utf8' });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const out = lastJson<{ held: number; first: string; failures: string[]; recovered: string; fdsAtEnd: number }>({ ...r, status: r.status, signal: r.signal });
    expect(out.held).toBeGreaterThan(50);
    expect(out.held).toBeLessThan(128);
    expect(out.first).toBe('EMFILE:memfd_create');
    expect(out.failures).toEqual(['EMFILE:memfd_create', 'EMFILE:memfd_create', 'EMFILE:fcntl']);
    expect(out.recovered).toBe('recovered');
    expect(out.fdsAtEnd).toBeLessThan(30);
  });

  it('impossible sizes give a typed ENOMEM', () => {
    for (const make of [() => Mapping.anonymous(2 ** 46), () => Mapping.anonymous(2 ** 45, { shared: true })]) {
      let caught: unknown;
      try {
        make();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(SyscallError);
      expect(caught).toMatchObject({ code: 'ENOMEM', syscall: 'mmap' });
    }
  });

  unlessEmulated('sharedMmapReserve')('a huge sparse memfd maps, and its buffer is refused past the largest Buffer (4 GiB on Node 20, 2^53-1 from 22)', () => {
    using m = Memfd.create('sparse');
    m.truncate(2 ** 36);
    const map = m.map();
    try {
      expect(map.length).toBe(2 ** 36);
      if (kMaxLength < 2 ** 36) expect(() => map.buffer).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      else expect(map.buffer.length).toBe(2 ** 36);
    } finally {
      map.unmap();
    }
  });

  it('four worker threads doing 10,000 mixed operations each', () => {
    const r = spawnSync(process.execPath, [join(root, 'test/fixtures/workers.mjs')], { encoding: 'utf8', timeout: 120_000 });
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = lastJson<{ results: Array<{ id: number; done: number; expectedErrors: number }>; fdsBefore: number; fdsAfter: number; memfdMaps: number }>({ ...r, status: r.status, signal: r.signal });
    expect(out.results.map((x) => x.done)).toEqual([10_000, 10_000, 10_000, 10_000]);
    for (const x of out.results) expect(x.expectedErrors).toBe(Math.ceil((10_000 - 3) / 6));
    expect(out.fdsAfter).toBe(out.fdsBefore);
    expect(out.memfdMaps).toBe(0);
  });

  it('processes started after allocation inherit none of the close-on-exec memfds', () => {
    const held = Array.from({ length: 50 }, (_, i) => Memfd.create(`inherit-${i}`));
    const maps = Array.from({ length: 10 }, () => Mapping.anonymous(4096));
    try {
      const listing = execFileSync('ls', ['-l', '/proc/self/fd'], { encoding: 'utf8' });
      expect(listing).not.toMatch(/memfd:/);
      const kept = Memfd.create('kept', { cloexec: false });
      try {
        expect(execFileSync('ls', ['-l', '/proc/self/fd'], { encoding: 'utf8' })).toMatch(/memfd:kept/);
      } finally {
        kept.close();
      }
    } finally {
      for (const m of held) m.close();
      for (const m of maps) m.unmap();
    }
  });
});
