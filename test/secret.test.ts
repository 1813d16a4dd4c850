import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemlockLimitError, MemsealError, PAGE_SIZE, SecretBuffer, UnsupportedError } from '../lib/index.js';
import { caps, itIf } from './helpers/caps.js';
import { helper, root, runFixture, tools } from './helpers/child.js';
import { unlessEmulated } from './helpers/emulation.js';

const secretmem = caps.secretmem;
const needSecretmem = itIf(secretmem, 'memfd_secret is unavailable on this machine', 'memfd_secret');
const needCc = tools.cc;
const live: SecretBuffer[] = [];
const track = (s: SecretBuffer): SecretBuffer => (live.push(s), s);
afterEach(() => {
  for (const s of live.splice(0)) s.dispose();
});

function mapsLine(address: bigint): string | undefined {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${address.toString(16)}-`));
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('SecretBuffer.alloc', () => {
  needSecretmem('maps zeroed secret memory, readable and writable, with no copy between buffer and read()', () => {
    const s = track(SecretBuffer.alloc(32));
    expect(s.length).toBe(32);
    expect(s.backing).toBe('secretmem');
    expect(s.access).toBe('rw');
    expect(s.pooled).toBe(false);
    expect(s.buffer.equals(Buffer.alloc(32))).toBe(true);
    s.buffer.fill(0x42, 0, 16);
    const out = Buffer.alloc(32);
    expect(s.read(out)).toBe(32);
    expect(out.toString('hex')).toBe('42'.repeat(16) + '00'.repeat(16));
    expect(s.write(Buffer.from([1, 2, 3]), 29)).toBe(3);
    expect([...s.buffer.subarray(28)]).toEqual([0, 1, 2, 3]);
    expect(Buffer.isBuffer(s.buffer)).toBe(true);
  });

  needSecretmem('shows in /proc/self/maps as secretmem between guard pages, and is gone after dispose', () => {
    const s = SecretBuffer.alloc(100);
    const line = mapsLine(s.address);
    expect(line).toMatch(/ rw-s .*\/secretmem \(deleted\)$/);
    const [start, end] = line!.split(' ')[0]!.split('-').map((h) => BigInt(`0x${h}`));
    expect(end! - start!).toBe(BigInt(PAGE_SIZE));
    expect(mapsLine(s.address - BigInt(PAGE_SIZE))).toMatch(/ ---p /);
    expect(mapsLine(s.address + BigInt(PAGE_SIZE))).toMatch(/ ---p /);
    s.dispose();
    expect(mapsLine(start!)).toBeUndefined();
    expect(mapsLine(start! - BigInt(PAGE_SIZE))).toBeUndefined();
  });

  needSecretmem('costs no file descriptor per secret (the memfd_secret fd is closed once mapped)', () => {
    const before = fdCount();
    const many = Array.from({ length: 64 }, () => SecretBuffer.alloc(32));
    expect(fdCount()).toBe(before);
    for (const s of many) s.dispose();
  });

  unlessEmulated('madvise')('uses locked anonymous memory for backing: mlock, with the same guard pages', () => {
    const s = track(SecretBuffer.alloc(64, { backing: 'mlock' }));
    expect(s.backing).toBe('mlock');
    const line = mapsLine(s.address);
    expect(line).toMatch(/ rw-p 00000000 00:00 0/);
    expect(mapsLine(s.address - BigInt(PAGE_SIZE))).toMatch(/ ---p /);
    const smaps = readFileSync('/proc/self/smaps', 'utf8');
    const block = smaps.slice(smaps.indexOf(`${s.address.toString(16)}-`));
    const flags = /VmFlags: (.*)/.exec(block)![1]!.split(' ');
    expect(flags).toEqual(expect.arrayContaining(['lo', 'dd', 'wf']));
  });

  needSecretmem('marks secret memory locked and not dumped, and not inherited by fork (dc)', () => {
    const s = track(SecretBuffer.alloc(64));
    const smaps = readFileSync('/proc/self/smaps', 'utf8');
    const block = smaps.slice(smaps.indexOf(`${s.address.toString(16)}-`));
    const flags = /VmFlags: (.*)/.exec(block)![1]!.split(' ');
    expect(flags).toEqual(expect.arrayContaining(['lo', 'dd', 'dc']));
  });

  it.each([
    [0, RangeError, 'ERR_OUT_OF_RANGE'],
    [-1, RangeError, 'ERR_OUT_OF_RANGE'],
    [1.5, RangeError, 'ERR_OUT_OF_RANGE'],
    [2 ** 31 + 1, RangeError, 'ERR_OUT_OF_RANGE'],
    [2 ** 53, RangeError, 'ERR_OUT_OF_RANGE'],
    [NaN, RangeError, 'ERR_OUT_OF_RANGE'],
    [Infinity, RangeError, 'ERR_OUT_OF_RANGE'],
    ['32', TypeError, 'ERR_INVALID_ARG_TYPE'],
    [undefined, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [32n, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ])('refuses size %s with a typed error before any system call', (size, cls, code) => {
    const err = (() => {
      try {
        SecretBuffer.alloc(size as number);
      } catch (e) {
        return e as Error & { code: string };
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(cls);
    expect(err.code).toBe(code);
    expect(err.message).toContain('"size"');
  });

  it('refuses bad options', () => {
    expect(() => SecretBuffer.alloc(8, { fallback: 'swap' as 'mlock' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => SecretBuffer.alloc(8, { fallbak: 'mlock' } as object)).toThrow(/not a known option/);
    expect(() => SecretBuffer.alloc(8, 'mlock' as unknown as object)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('can start at access none', () => {
    const s = track(SecretBuffer.from('abc', { backing: 'mlock', access: 'none' }));
    expect(s.access).toBe('none');
    expect(s.use((b) => b.toString())).toBe('abc');
  });

  it('has no public constructor', () => {
    const Ctor = SecretBuffer as unknown as new (...a: unknown[]) => unknown;
    expect(() => new Ctor(Symbol('x'), {}, 0, 1)).toThrow(/Illegal constructor/);
  });
});

describe('SecretBuffer.from', () => {
  it('copies a Buffer, and zeroes it with wipeSource', () => {
    const src = Buffer.from('hunter2hunter2');
    const s = track(SecretBuffer.from(src, { backing: 'mlock', wipeSource: true }));
    expect(s.buffer.toString()).toBe('hunter2hunter2');
    expect(src.equals(Buffer.alloc(14))).toBe(true);
    const kept = Buffer.from('kept');
    track(SecretBuffer.from(kept, { backing: 'mlock' }));
    expect(kept.toString()).toBe('kept');
  });

  it('copies the bytes of a TypedArray view, and a string as UTF-8', () => {
    const words = new Uint16Array([0x0102, 0x0304, 0x0506]).subarray(1);
    const s = track(SecretBuffer.from(words, { backing: 'mlock', wipeSource: true }));
    expect(s.length).toBe(4);
    expect([...words]).toEqual([0, 0]);
    expect(s.buffer.readUInt16LE(0)).toBe(0x0304);
    expect(track(SecretBuffer.from('héllo', { backing: 'mlock' })).buffer.toString()).toBe('héllo');
  });

  it.each([
    ['', 'ERR_INVALID_ARG_VALUE'],
    [Buffer.alloc(0), 'ERR_INVALID_ARG_VALUE'],
    [123, 'ERR_INVALID_ARG_TYPE'],
    [undefined, 'ERR_INVALID_ARG_TYPE'],
    [[1, 2], 'ERR_INVALID_ARG_TYPE'],
  ])('refuses source %s', (source, code) => {
    expect(() => SecretBuffer.from(source as string, { backing: 'mlock' })).toThrow(expect.objectContaining({ code }));
  });

  it('refuses wipeSource for a string, which cannot be wiped', () => {
    expect(() => SecretBuffer.from('secret', { wipeSource: true })).toThrow(/strings cannot be wiped/);
  });
});

describe('protection, use() and equals()', () => {
  it("protect('none') detaches the Buffers and refuses new ones; protect('r') gives them back", () => {
    const s = track(SecretBuffer.from('abcd', { backing: 'mlock' }));
    const view = s.buffer;
    s.protect('none');
    expect(view.length).toBe(0);
    expect(() => s.buffer).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NO_ACCESS' }));
    expect(() => s.read(Buffer.alloc(4))).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NO_ACCESS' }));
    s.protect('r');
    expect(s.buffer.toString()).toBe('abcd');
    expect(() => s.write(Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NO_ACCESS' }));
    expect(() => s.protect('all' as 'r')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('use() opens a secret kept at none only for fn, also when fn throws, and nests', () => {
    const s = track(SecretBuffer.from('key!', { backing: 'mlock', access: 'none' }));
    let inside: Buffer | undefined;
    expect(
      s.use((b) => {
        inside = b;
        expect(s.access).toBe('r');
        expect(s.use((c) => c.toString(), { access: 'rw' })).toBe('key!');
        expect(s.access).toBe('r');
        return b.toString();
      }),
    ).toBe('key!');
    expect(s.access).toBe('none');
    expect(inside!.length).toBe(0);
    expect(() =>
      s.use(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(s.access).toBe('none');
    s.use((b) => b.write('KEY!'), { access: 'rw' });
    expect(s.use((b) => b.toString())).toBe('KEY!');
    expect(() => s.use('fn' as unknown as () => void)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => s.use(() => 1, { access: 'none' as 'r' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('use() on a readable secret restores its access', () => {
    const s = track(SecretBuffer.from('x', { backing: 'mlock' }));
    s.use(() => undefined);
    expect(s.access).toBe('rw');
  });

  it('equals() compares with secrets and bytes, by length first', () => {
    const a = track(SecretBuffer.from('same bytes', { backing: 'mlock' }));
    const b = track(SecretBuffer.from('same bytes', { backing: 'mlock' }));
    const c = track(SecretBuffer.from('same bytez', { backing: 'mlock' }));
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
    expect(a.equals(Buffer.from('same bytes'))).toBe(true);
    expect(a.equals(new Uint8Array(Buffer.from('same bytes')))).toBe(true);
    expect(a.equals(Buffer.from('same'))).toBe(false);
    expect(a.equals(new DataView(Buffer.from('xsame bytes').buffer, 1))).toBe(false);
    expect(() => a.equals('same bytes' as unknown as Buffer)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    b.protect('none');
    expect(() => a.equals(b)).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_NO_ACCESS' }));
    b.dispose();
    expect(() => a.equals(b)).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_DISPOSED' }));
  });

  it('read() and write() check their arguments', () => {
    const s = track(SecretBuffer.from('0123456789', { backing: 'mlock' }));
    const small = Buffer.alloc(4);
    expect(s.read(small, 8)).toBe(2);
    expect(small.subarray(0, 2).toString()).toBe('89');
    expect(() => s.read(Buffer.alloc(1), 11)).toThrow(RangeError);
    expect(() => s.read('x' as unknown as Buffer)).toThrow(TypeError);
    expect(() => s.write(Buffer.alloc(3), 8)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => s.write('abc' as unknown as Buffer)).toThrow(TypeError);
  });
});

describe('dispose', () => {
  it('is idempotent, works with using, and leaves everything refused but nothing crashing', () => {
    let kept: SecretBuffer;
    let view: Buffer;
    {
      using s = SecretBuffer.from('bye', { backing: 'mlock' });
      kept = s;
      view = s.buffer;
    }
    expect(kept.disposed).toBe(true);
    expect(view.length).toBe(0);
    kept.dispose();
    expect(() => kept.buffer).toThrow(MemsealError);
    expect(() => kept.buffer).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_DISPOSED' }));
    expect(() => kept.access).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_DISPOSED' }));
  });

  needSecretmem('touching a disposed or protect(none) secret never crashes (child process)', () => {
    const r = runFixture('secret-touch.cjs');
    expect(r.signal).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    for (const label of ['secretmem', 'mlock', 'pooled']) {
      const at = (k: string): unknown => r.json[`${label}.${k}`];
      expect(at('none.viewLength')).toEqual({ value: 0 });
      expect(at('none.subLength')).toEqual({ value: 0 });
      // Writing into a detached Buffer: no-op element stores, and a TypeError from fill(), never a fault.
      expect(at('none.viewWrite')).toEqual({ error: 'TypeError' });
      for (const k of ['buffer', 'read', 'write', 'equals']) expect(at(`none.${k}`)).toEqual({ code: 'ERR_MEMSEAL_NO_ACCESS' });
      expect(at('none.use')).toEqual({ value: '0123456789abcdef0123456789abcdef' });
      expect(at('none.afterUse')).toEqual({ value: 'none' });
      expect(at('none.throwingUse')).toEqual({ code: 'INSIDE' });
      expect(at('none.afterThrowingUse')).toEqual({ value: 'none' });
      expect(at('disposed.viewLength')).toEqual({ value: 0 });
      expect(at('disposed.viewWrite')).toEqual({ error: 'TypeError' });
      for (const k of ['buffer', 'read', 'write', 'protect', 'use', 'equals', 'seal']) expect(at(`disposed.${k}`)).toEqual({ code: 'ERR_MEMSEAL_DISPOSED' });
      expect(at('disposed.disposed')).toEqual({ value: true });
    }
  });
});

describe('seal', () => {
  itIf(caps.mseal, 'mseal is unavailable on this machine', 'mseal')('keeps the memory for good, refuses changes, and dispose wipes what it can (child process)', () => {
    const r = runFixture('secret-seal.cjs');
    expect(r.status, r.stderr).toBe(0);
    const ro = r.json.readOnly;
    expect(ro).toMatchObject({ sealed: true, access: 'r', label: '[SecretBuffer 16 bytes mlock, sealed]' });
    expect(ro.protect).toMatchObject({ name: 'SyscallError', code: 'EPERM' });
    expect(ro.protect.hint).toMatch(/mseal/);
    expect(ro.write.code).toBe('ERR_MEMSEAL_NO_ACCESS');
    expect(ro.stats).toMatchObject({ live: 1, sealed: 1, sealedBytes: PAGE_SIZE });
    expect(ro.afterDispose).toMatchObject({ disposed: true, viewLength: 0, mapped: true });
    expect(ro.afterDispose.stats).toMatchObject({ live: 0, sealed: 1, lockedBytes: PAGE_SIZE });
    expect(r.json.readWrite).toEqual({ before: '22'.repeat(16), after: '00'.repeat(16), mapped: true });
    if (secretmem) expect(r.json.secretmem).toEqual({ sealed: true, procMem: 'EIO', mapped: true });
    expect(r.json.pool).toMatchObject({ siblingSealed: true, newSealed: false, stats: { arenas: 2, sealedArenas: 1, slotsInUse: 3 } });
    expect(r.json.pool.afterDispose).toMatchObject({ sealedArenas: 1, slotsInUse: 2 });
  });
});

describe('errors that say what to do', () => {
  const asNobody = itIf(tools.root && tools.setpriv, 'needs root (to drop to uid 65534 with prlimit/setpriv)');

  asNobody('a full RLIMIT_MEMLOCK gives MemlockLimitError naming the limit; released memory can be used again', () => {
    const kinds = secretmem ? ['buffer', 'mlock'] : ['mlock'];
    for (const kind of kinds) {
      const r = runFixture('secret-memlock.cjs', { args: [kind], unprivilegedMemlock: 16 * PAGE_SIZE });
      expect(r.status, r.stderr).toBe(0);
      expect(r.json.count).toBeGreaterThan(0);
      expect(r.json.count).toBeLessThanOrEqual(16);
      expect(r.json.error).toMatchObject({ name: 'MemlockLimitError', limit: 16 * PAGE_SIZE, requested: PAGE_SIZE });
      expect(r.json.error.code).toBe(kind === 'mlock' ? 'ENOMEM' : 'EAGAIN');
      expect(r.json.error.message).toMatch(/RLIMIT_MEMLOCK is 65536 bytes \(ulimit -l 64\)/);
      expect(r.json.error.message).toMatch(/this process has \d+ bytes locked/);
      expect(r.json.error.message).toMatch(/ulimit -l/);
      expect(r.json.recovered).toBe(true);
    }
  });

  it('MemlockLimitError is a SyscallError with the numbers', () => {
    const e = new MemlockLimitError('mmap', -11, { requested: 4096, limit: 8192, locked: 8192 });
    expect(e.code).toBe('EAGAIN');
    expect(e.name).toBe('MemlockLimitError');
    expect(e.message).toMatch(/^EAGAIN: mmap cannot lock 4096 more bytes: RLIMIT_MEMLOCK is 8192 bytes \(ulimit -l 8\)/);
  });

  itIf(needCc && secretmem, 'needs cc and memfd_secret', 'memfd_secret')('memfd_secret denied by seccomp names seccomp; fallback mlock works and says so', () => {
    const deny = helper('seccomp-deny')!;
    for (const [errno, code] of [
      [1, 'EPERM'],
      [38, 'ENOSYS'],
    ] as const) {
      const r = runFixture('secret-seccomp.cjs', { prefix: [deny, String(errno), '447', '--'] });
      expect(r.status, r.stderr).toBe(0);
      expect(r.json.strict).toMatchObject({ name: 'UnsupportedError', code, reason: 'blocked', feature: 'memfd_secret' });
      expect(r.json.strict.message).toMatch(/seccomp/);
      expect(r.json.strict.message).toMatch(/fallback: 'mlock'/);
      expect(r.json.fallback).toEqual({ backing: 'mlock', label: '[SecretBuffer 32 bytes mlock]' });
      expect(r.json.pool).toBe('mlock');
    }
  });

  it('UnsupportedError is what a missing memfd_secret gives (the class exported)', () => {
    expect(new UnsupportedError('memfd_secret', -38, { feature: 'memfd_secret', since: '5.14', kernel: '5.10.0', reason: 'kernel' }).message).toMatch(
      /memfd_secret needs Linux 5.14 or later/,
    );
  });
});

describe('runtimes without external buffers', () => {
  const variant = join(root, 'build-no-external-buffers', 'build', 'Release', 'memseal.node');
  itIf(existsSync(variant), 'build it with: node scripts/build.mjs --native --variant=no-external-buffers', 'memfd_secret')(
    'buffer throws a clear error; read, write and use work through a wiped temporary (child process)',
    () => {
      const r = runFixture('secret-noext.cjs', { env: { MEMSEAL_ADDON_PATH: variant } });
      expect(r.status, r.stderr).toBe(0);
      expect(r.json.buffer).toMatchObject({ name: 'MemsealError', code: 'ERR_MEMSEAL_NO_EXTERNAL_BUFFERS' });
      expect(r.json.buffer.message).toMatch(/use read\(\), write\(\) or use\(\)/);
      expect(r.json.read).toEqual({ n: 28, text: 'correct horse battery staple' });
      expect(r.json.use).toBe('Correct horse battery staple');
      expect(r.json.tempAfterUse).toBe('00'.repeat(28));
      // The temporary prints as the zero-copy Buffer would not.
      expect(r.json.tempPrints).toEqual({ template: '[secret 28 bytes]', inspect: '<Buffer (secret) 28 bytes>' });
      expect(r.json.afterRw).toBe('COrrect horse battery staple');
      expect(r.json.equals).toBe(true);
      expect(r.json.pool).toEqual({ buffer: 'ERR_MEMSEAL_NO_EXTERNAL_BUFFERS', use: 'pooled', equals: true });
      // useAsync: the temporary lives across the await, is written back for 'rw', then wiped.
      expect(r.json.useAsync).toBe('CORrect horse battery staple');
      expect(r.json.tempAfterUseAsync).toBe('00'.repeat(28));
      expect(r.json.afterUseAsync).toBe('CORrect horse battery staple');
      expect(r.json.accessAfterUseAsync).toBe('r');
    },
  );
});

describe('raw binding', () => {
  it('the new Region methods survive hostile arguments (child process)', () => {
    const r = runFixture('secret-rawfuzz.cjs');
    expect(r.signal).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.json.ok).toBe(true);
    expect(r.json.impostors).toBe(3);
    expect(r.json.threw).toBeGreaterThan(r.json.calls / 2);
  });
});
