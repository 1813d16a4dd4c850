/**
 * Options are read as own properties only: a value for every option name
 * planted on Object.prototype (test/helpers/pollute.ts) changes no default
 * of any public function.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Mapping, Memfd, SecretBuffer, SecretPool, cloneExecutableSync, probe, runConformance } from '../lib/index.js';
import { readReport } from '../lib/reports.js';
import { OPTION_KEYS, OPTION_NAMES } from '../lib/options.js';
import { ownOptions, validateOptions } from '../lib/validate.js';
import { caps, itIf } from './helpers/caps.js';
import { HOSTILE, pollute } from './helpers/pollute.js';

let restore: (() => void) | undefined;
const cleanup: (() => void)[] = [];
beforeEach(() => {
  restore = pollute(true);
});
afterEach(() => {
  restore?.();
  restore = undefined;
  for (const f of cleanup.splice(0).reverse()) f();
});

function keep<T extends { close?: () => void; dispose?: () => void; destroy?: () => void; unmap?: () => void }>(x: T): T {
  cleanup.push(() => (x.close ?? x.dispose ?? x.destroy ?? x.unmap)?.call(x));
  return x;
}

describe('the option list', () => {
  it('names every key of every options object once, each with a hostile value', () => {
    expect(new Set(OPTION_NAMES).size).toBe(OPTION_NAMES.length);
    for (const keys of Object.values(OPTION_KEYS)) for (const k of keys) expect(OPTION_NAMES).toContain(k);
    for (const n of OPTION_NAMES) expect(Object.hasOwn(HOSTILE, n)).toBe(true);
  });

  it('validateOptions copies own properties only, into an object with no prototype', () => {
    const o = validateOptions<{ exec?: string; fallback?: string }>({ fallback: 'error' }, 'options', ['exec', 'fallback']);
    expect(Object.getPrototypeOf(o)).toBe(null);
    expect(o.exec).toBeUndefined();
    expect(o.fallback).toBe('error');
    expect(Object.getPrototypeOf(ownOptions({}))).toBe(null);
    expect(validateOptions(undefined, 'options', ['exec'])).not.toHaveProperty('exec');
  });
});

describe('with every option name polluted on Object.prototype', () => {
  itIf(caps.execFlags, 'MFD_EXEC / MFD_NOEXEC_SEAL (Linux 6.3+)')('Memfd.create keeps its defaults: noexec-seal, sealing allowed, cloexec', () => {
    expect(({} as Record<string, unknown>).exec).toBe('exec');
    const m = keep(Memfd.create('x'));
    expect(m.exec).toBe('noexec-seal');
    expect(m.mode & 0o111).toBe(0);
    expect(m.seals.has('exec')).toBe(true);
    m.addSeals('grow'); // sealing allowed
    const m2 = keep(Memfd.create('y', {}));
    expect(m2.exec).toBe('noexec-seal');
  });

  it('Memfd.create without the exec flags keeps allowSealing and cloexec', () => {
    const m = keep(Memfd.create('x', { exec: 'kernel-default' }));
    m.addSeals('shrink');
    expect(m.seals.has('shrink')).toBe(true);
  });

  it('Memfd.from keeps its default seals and name', () => {
    const m = keep(Memfd.from('data', caps.execFlags ? undefined : { exec: 'kernel-default' }));
    expect([...m.seals].filter((s) => s !== 'exec').sort()).toEqual(['grow', 'seal', 'shrink', 'write']);
    expect(m.name).toBe('memseal');
  });

  it('Memfd.fromFd keeps the name from /proc and Memfd#map its defaults', () => {
    const m = keep(Memfd.create('real', { exec: 'kernel-default' }));
    m.truncate(8192);
    const copy = keep(Memfd.fromFd(m.fd));
    expect(copy.name).toBe('real');
    const map = keep(m.map());
    expect(map.length).toBe(8192);
    expect(map.access).toBe('r');
  });

  it('Mapping.anonymous keeps access rw', () => {
    const map = keep(Mapping.anonymous(4096));
    expect(map.access).toBe('rw');
    map.buffer[0] = 1;
  });

  itIf(caps.secretmem, 'memfd_secret', 'memfd_secret')('SecretBuffer.alloc and from stay secretmem with access rw, and do not wipe the source', () => {
    const s = keep(SecretBuffer.alloc(16));
    expect(s.backing).toBe('secretmem');
    expect(s.access).toBe('rw');
    const src = Buffer.from('key material');
    const t = keep(SecretBuffer.from(src));
    expect(t.backing).toBe('secretmem');
    expect(src.toString()).toBe('key material');
    expect(t.use((b) => b.toString())).toBe('key material');
    expect(t.access).toBe('rw');
  });

  itIf(caps.secretmem, 'memfd_secret', 'memfd_secret')('a SecretPool keeps secretmem and its arena size', () => {
    const pool = keep(new SecretPool());
    const s = pool.from('abc');
    expect(s.backing).toBe('secretmem');
    expect(pool.stats().lockedBytes).toBe(64 * 1024);
  });

  it('cloneExecutableSync keeps its name, seals and fallback', () => {
    const exe = keep(cloneExecutableSync(process.execPath) as Memfd);
    expect(exe.name).not.toBe('polluted-name');
    expect(exe.seals.has('write')).toBe(true);
  });

  it('a saved report is read by its own fields only', () => {
    const probeReport = JSON.parse(JSON.stringify(probe())) as unknown;
    expect(readReport(probeReport).kind).toBe('probe'); // not 'conform' from an inherited `cases`
  });

  it('runConformance keeps its filter, strictness and cases', async () => {
    const r = await runConformance({ cases: [{ id: 'own.case', title: 't', family: 'memfd', source: [], expect: [{ since: '0', outcome: 'ok' }], run: () => 'ok' } as never], env: undefined });
    expect(r.cases.map((c) => c.id)).toEqual(['own.case']);
  });
});
