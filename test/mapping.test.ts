import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Mapping, Memfd, MemsealError, SyscallError } from '../lib/index.js';
import { caps, itIf } from './helpers/caps.js';
import { lastJson, runFixture } from './helpers/child.js';

const owned: Array<Memfd | Mapping> = [];
function track<T extends Memfd | Mapping>(x: T): T {
  owned.push(x);
  return x;
}
afterEach(() => {
  for (const x of owned.splice(0)) x[Symbol.dispose]();
});

/** The /proc/self/smaps block of the mapping that holds `address` (an anonymous mapping may have merged with a neighbour). */
function smapsBlock(address: bigint): string | undefined {
  const blocks = readFileSync('/proc/self/smaps', 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/);
  return blocks.find((b) => {
    const [s, e] = b.split(' ')[0]!.split('-').map((x) => BigInt(`0x${x}`));
    return s! <= address && address < e!;
  });
}

/** The VmFlags of the mapping that holds `address`. */
function vmFlags(address: bigint): string[] {
  const block = smapsBlock(address);
  if (!block) throw new Error(`no mapping at 0x${address.toString(16)}`);
  return (/^VmFlags:(.*)$/m.exec(block)?.[1] ?? '').trim().split(/\s+/);
}

describe('Mapping.anonymous', () => {
  it('gives a zero-filled, writable Buffer of the asked length', () => {
    const map = track(Mapping.anonymous(10_000));
    expect(Buffer.isBuffer(map.buffer)).toBe(true);
    expect(map.length).toBe(10_000);
    expect(map.buffer.length).toBe(10_000);
    expect(map.buffer.every((b) => b === 0)).toBe(true);
    map.buffer.write('hello');
    expect(map.buffer.subarray(0, 5).toString()).toBe('hello');
    expect(map.buffer).toBe(map.buffer); // one Buffer until it is detached
    expect(map.access).toBe('rw');
    expect(vmFlags(map.address)).toEqual(expect.arrayContaining(['rd', 'wr']));
  });

  it('starts with the access asked for', () => {
    const map = track(Mapping.anonymous(4096, { access: 'none' }));
    expect(map.access).toBe('none');
    expect(() => map.buffer).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NO_ACCESS' }));
    expect(vmFlags(map.address)).not.toContain('rd');
  });

  it.each([
    [0, RangeError],
    [-1, RangeError],
    [1.5, RangeError],
    [2 ** 46 + 1, RangeError],
    [Number.NaN, RangeError],
    ['4096', TypeError],
    [undefined, TypeError],
    [4096n, TypeError],
  ])('rejects the size %s', (size, cls) => {
    expect(() => Mapping.anonymous(size as number)).toThrow(cls);
  });

  it.each([[{ access: 'x' }], [{ acess: 'r' }], [{ shared: 1 }], ['rw']])('rejects the options %j', (options) => {
    expect(() => Mapping.anonymous(4096, options as never)).toThrow(TypeError);
  });

  it('cannot be constructed directly', () => {
    expect(() => new (Mapping as unknown as new () => Mapping)()).toThrow(/Illegal constructor/);
  });
});

describe('protect', () => {
  it("detaches every view on 'none' and gives fresh ones after", () => {
    const map = track(Mapping.anonymous(8192));
    const old = map.buffer;
    const slice = old.subarray(10, 20);
    old.write('keep me');
    map.protect('none');
    expect(old.length).toBe(0);
    expect(slice.length).toBe(0);
    expect(old[0]).toBeUndefined();
    expect(() => map.buffer).toThrow(MemsealError);
    map.protect('r');
    expect(map.buffer.subarray(0, 7).toString()).toBe('keep me');
    expect(old.length).toBe(0);
    expect(vmFlags(map.address)).not.toContain('wr');
    map.protect('rw');
    map.buffer.write('again');
    expect(map.access).toBe('rw');
  });

  it('validates the access', () => {
    const map = track(Mapping.anonymous(4096));
    expect(() => map.protect('rwx' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => map.protect(undefined as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('a write through a read-only view is a SIGSEGV (in a child process)', () => {
    const r = runFixture('write-readonly-mapping.mjs');
    expect(r.stdout).toContain('readable 1');
    expect(r.stdout).not.toContain('survived');
    expect(r.signal).toBe('SIGSEGV');
  });
});

describe('unmap', () => {
  it('detaches views, is idempotent, and later use is a typed error', () => {
    const map = Mapping.anonymous(4096);
    const view = map.buffer;
    map.unmap();
    map.unmap();
    map[Symbol.dispose]();
    expect(map.unmapped).toBe(true);
    expect(view.length).toBe(0);
    for (const use of [() => map.buffer, () => map.protect('r'), () => map.seal()]) {
      expect(use).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_UNMAPPED' }));
    }
    expect(inspect(map)).toBe('Mapping <unmapped anonymous>');
  });

  it('stale views handed to native code read as empty and never fault; memseal refuses them (in a child process)', () => {
    const r = runFixture('stale-views.mjs');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const out = lastJson<Record<string, Record<string, unknown>>>(r);
    for (const kind of ['unmapped', 'none', 'slice']) {
      expect(out[kind]).toMatchObject({ length: 0, written: 0, copied: 0, memfdWrite: 'ERR_MEMSEAL_DETACHED', index0: 'undefined' });
    }
  });

  it('the mapping is gone from /proc/self/maps', () => {
    const map = Mapping.anonymous(4096 * 3);
    const pages = [0, 1, 2].map((i) => map.address + BigInt(4096 * i));
    for (const p of pages) expect(smapsBlock(p)).toBeDefined();
    map.unmap();
    for (const p of pages) expect(smapsBlock(p), `0x${p.toString(16)}`).toBeUndefined();
  });
});

describe('seal (mseal)', () => {
  itIf(caps.mseal, 'needs mseal (Linux 6.10+)', 'mseal')('refuses protect and unmap with EPERM and a hint', () => {
    const map = Mapping.anonymous(4096);
    map.buffer.write('sealed');
    map.seal();
    map.seal(); // idempotent
    expect(map.sealed).toBe(true);
    expect(vmFlags(map.address)).toContain('sl');
    for (const [use, syscall] of [
      [() => map.protect('r'), 'mprotect'],
      [() => map.protect('none'), 'mprotect'],
      [() => map.unmap(), 'munmap'],
    ] as const) {
      let caught: unknown;
      try {
        use();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(SyscallError);
      expect(caught).toMatchObject({ code: 'EPERM', syscall, errno: -1 });
      expect((caught as SyscallError).hint).toMatch(/mseal/);
    }
    // Views were detached by the failed attempts; a fresh one still works.
    expect(map.access).toBe('rw');
    expect(map.buffer.subarray(0, 6).toString()).toBe('sealed');
    // Disposing a sealed mapping does not throw: the memory stays until exit.
    const view = map.buffer;
    map[Symbol.dispose]();
    expect(view.length).toBe(0);
    expect(map.unmapped).toBe(false);
  });
});

describe('Memfd#map', () => {
  it('shares bytes with the file both ways, with zero copies', () => {
    const m = track(Memfd.create('shared'));
    m.truncate(8192);
    const map = track(m.map({ access: 'rw' }));
    map.buffer.write('from the mapping', 100);
    expect(m.read(100, 16).toString()).toBe('from the mapping');
    m.write('from the file', 4096);
    expect(map.buffer.subarray(4096, 4109).toString()).toBe('from the file');
  });

  it('maps a private copy-on-write view', () => {
    const m = track(Memfd.create('private'));
    m.write('original');
    const map = track(m.map({ access: 'rw', shared: false }));
    map.buffer.write('CHANGED!');
    expect(m.read().toString()).toBe('original');
  });

  it('maps at an offset and a length, read-only by default', () => {
    const m = track(Memfd.create('offset'));
    m.truncate(3 * 4096);
    m.write('page two', 4096);
    const map = track(m.map({ offset: 4096, length: 100 }));
    expect(map.access).toBe('r');
    expect(map.length).toBe(100);
    expect(map.buffer.subarray(0, 8).toString()).toBe('page two');
  });

  it('outlives the Memfd', () => {
    const m = Memfd.create('outlive');
    m.write('still here');
    const map = track(m.map());
    m.close();
    expect(map.buffer.toString()).toBe('still here');
  });

  it('refuses ranges that would fault: past the end, empty file, unaligned offset', () => {
    const m = track(Memfd.create('range'));
    expect(() => m.map()).toThrow(RangeError); // size 0
    m.truncate(4096);
    expect(() => m.map({ length: 4097 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => m.map({ offset: 100 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => m.map({ offset: 4096 })).toThrow(RangeError);
    expect(() => m.map({ length: 0 })).toThrow(RangeError);
    expect(() => m.map({ access: 'none' } as never)).toThrow(TypeError);
    expect(() => m.map({ whatever: true } as never)).toThrow(TypeError);
  });

  it('gives EPERM mapping a write-sealed memfd shared rw, and allows read-only or private', () => {
    const m = track(Memfd.create('sealedmap'));
    m.write('x'.repeat(100));
    m.addSeals('write');
    let caught: unknown;
    try {
      m.map({ access: 'rw' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SyscallError);
    expect(caught).toMatchObject({ code: 'EPERM', syscall: 'mmap' });
    expect((caught as SyscallError).hint).toMatch(/sealed against writes/);
    track(m.map({ access: 'rw', shared: false })).buffer.write('private');
    expect(m.read(0, 7).toString()).toBe('xxxxxxx');
    track(m.map({ access: 'r' }));
  });

  it('cannot make a read-only shared mapping of a write-sealed memfd writable (EACCES)', () => {
    const m = track(Memfd.create('nowrite'));
    m.truncate(4096);
    m.addSeals('write');
    const map = track(m.map({ access: 'r' }));
    expect(() => map.protect('rw')).toThrow(expect.objectContaining({ code: 'EACCES', syscall: 'mprotect' }));
  });
});
