/**
 * Secret memory is wiped before it is given back, at every access ('rw',
 * 'r', 'none') and on every path that gives it back: dispose(), the
 * finalizer, SecretPool.destroy(), a worker's end (terminate(),
 * process.exit(), an uncaught error), the main thread's end, and
 * process.exit(). An LD_PRELOAD spy (test/fixtures/c/munmap-spy.c) reads
 * each range at the moment of its munmap, and what is still mapped at exit.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { PAGE_SIZE } from '../lib/index.js';
import { caps, itIf } from './helpers/caps.js';
import { helper, runFixture, tools, type FixtureResult } from './helpers/child.js';

const ACCESSES = ['rw', 'r', 'none'] as const;
const BACKINGS = caps.secretmem ? (['secretmem', 'mlock'] as const) : (['mlock'] as const);
const withSpy = itIf(tools.cc, 'cc is needed to build the munmap spy');

interface Seen {
  readable: number;
  raised: number;
  nonzero: number;
}

/** Runs secret-wipe.cjs in `mode` under the spy; returns its output and the spy's log. */
function spy(mode: string, nodeArgs: string[] = []): { r: FixtureResult; lines: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'memseal-spy-'));
  const log = join(dir, 'munmap.log');
  try {
    // After whatever is preloaded already (the sanitizer pass's runtimes must come first).
    const preload = [process.env.LD_PRELOAD, helper('munmap-spy')!].filter((p) => p !== undefined && p !== '').join(':');
    const r = runFixture('secret-wipe.cjs', { args: [mode], nodeArgs, env: { LD_PRELOAD: preload, MUNMAP_SPY_LOG: log } });
    expect(r.json, r.stderr).toBeDefined();
    return { r, lines: readFileSync(log, 'utf8').split('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const counts = (line: string): Seen => {
  const m = /readable=(\d+) raised=(\d+) nonzero=(\d+)/.exec(line)!;
  return { readable: Number(m[1]), raised: Number(m[2]), nonzero: Number(m[3]) };
};

/** What the first munmap of a named range after the fixture's mark for it found. */
function unmapped(r: FixtureResult, lines: string[], name: string): Seen {
  const [hex, len] = r.json[name] as [string, number];
  const from = lines.indexOf(`mark ${name}`);
  expect(from, `no mark for ${name}`).toBeGreaterThanOrEqual(0);
  const line = lines.slice(from).find((l) => l.startsWith(`munmap 0x${hex} ${len} `));
  expect(line, `no munmap of 0x${hex} (${name})`).toBeDefined();
  return counts(line!);
}

/**
 * A secret's reservation: a guard page, its data, a guard page. At the
 * munmap its data was readable (memseal raised the protection to wipe it)
 * and all zeros; the spy raised the guard pages itself.
 */
const wiped = (dataPages: number): Seen => ({ readable: dataPages * PAGE_SIZE, raised: 2 * PAGE_SIZE, nonzero: 0 });

describe('secret memory is wiped before it is released, at every access', () => {
  withSpy('dispose(), the finalizer and SecretPool.destroy() (--expose-gc, child process)', () => {
    const { r, lines } = spy('paths', ['--expose-gc']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.json.collected).toBe(true);
    // The control: an ordinary mapping still holds its bytes when unmapped.
    expect(unmapped(r, lines, 'control')).toEqual({ readable: PAGE_SIZE, raised: 0, nonzero: 64 });
    for (const backing of BACKINGS) {
      for (const access of ACCESSES) {
        expect(unmapped(r, lines, `dispose.${backing}.${access}`), `dispose ${backing} ${access}`).toEqual(wiped(1));
        expect(unmapped(r, lines, `finalizer.${backing}.${access}`), `finalizer ${backing} ${access}`).toEqual(wiped(1));
        // A pool arena of two pages, its canaries wiped too.
        expect(unmapped(r, lines, `destroy.${backing}.${access}`), `destroy ${backing} ${access}`).toEqual(wiped(2));
      }
    }
  });

  for (const how of ['terminate', 'exit', 'throw']) {
    withSpy(`a worker's secrets and pool arenas when the worker ends by ${how === 'terminate' ? 'terminate()' : how === 'exit' ? 'process.exit()' : 'an uncaught error'} (child process)`, () => {
      const { r, lines } = spy(`worker-${how}`);
      expect(r.status, r.stderr).toBe(0);
      expect(r.json.exitCode).toBe(how === 'exit' ? 3 : 1);
      for (const backing of BACKINGS) {
        for (const access of ACCESSES) {
          expect(unmapped(r, lines, `own.${backing}.${access}`), `${backing} ${access}`).toEqual(wiped(1));
          expect(unmapped(r, lines, `pool.${backing}.${access}`), `pool ${backing} ${access}`).toEqual(wiped(2));
        }
      }
    });
  }

  withSpy('secrets still live when the main thread ends (child process)', () => {
    const { r, lines } = spy('natural');
    expect(r.status, r.stderr).toBe(0);
    for (const backing of BACKINGS) {
      for (const access of ACCESSES) {
        expect(unmapped(r, lines, `own.${backing}.${access}`), `${backing} ${access}`).toEqual(wiped(1));
        expect(unmapped(r, lines, `pool.${backing}.${access}`), `pool ${backing} ${access}`).toEqual(wiped(2));
      }
    }
  });

  withSpy('secrets still live at process.exit(): wiped before the process goes (child process)', () => {
    const { r, lines } = spy('exit');
    expect(r.status, r.stderr).toBe(0);
    for (const name of Object.keys(r.json)) {
      const line = lines.find((l) => l.startsWith(`exit ${name} `));
      expect(line, `the spy saw no ${name} at exit`).toBeDefined();
      // Still mapped (nothing unmaps at exit), readable (memseal raised it to wipe it), zero.
      expect(counts(line!), name).toEqual({ readable: PAGE_SIZE, raised: 0, nonzero: 0 });
    }
    expect(Object.keys(r.json)).toHaveLength(BACKINGS.length * ACCESSES.length * 2);
  });

  itIf(caps.secretmem, 'memfd_secret is unavailable on this machine', 'memfd_secret')('the finalizer disposes a secret that was never disposed (--expose-gc, child process)', () => {
    const r = runFixture('secret-gc.cjs', { nodeArgs: ['--expose-gc'] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.json.before).toEqual({ mapped: true, live: 1, pooled: 1 });
    expect(r.json.after).toEqual({ collected: true, mapped: false, live: 0, pooled: 0 });
    expect(r.json.reuse).toBe(true);
  });
});
