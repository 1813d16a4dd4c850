/**
 * Issue 11: no mistake of the caller silently weakens a secret or a seal.
 * Async callbacks to use(), dead views, overlapping uses, internal
 * factories, and structuredClone of the resource classes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cloneExecutable, cloneExecutableSync, Mapping, Memfd, MemsealError, SecretBuffer, SecretPool } from '../lib/index.js';
import { caps, itIf } from './helpers/caps.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});
function secret(bytes = 'key material'): SecretBuffer {
  const s = SecretBuffer.from(bytes, { fallback: 'mlock' });
  cleanup.push(() => s.dispose());
  return s;
}
function expectCode(fn: () => unknown, code: string): MemsealError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(MemsealError);
  expect((caught as MemsealError).code).toBe(code);
  return caught as MemsealError;
}
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

describe('use() with an async callback', () => {
  it('refuses a callback that returns a promise, after restoring the access', async () => {
    const s = secret();
    s.protect('none');
    let seenInside = -1;
    const err = expectCode(
      () =>
        s.use(async (k) => {
          seenInside = k.length;
          await tick();
          return k.length;
        }),
      'ERR_MEMSEAL_ASYNC_CALLBACK',
    );
    expect(err.message).toMatch(/useAsync/);
    expect(seenInside).toBe(12);
    expect(s.access).toBe('none');
    await tick(); // the abandoned promise settles without an unhandled rejection
  });

  it('refuses any thenable, and a rejecting async callback causes no unhandled rejection', async () => {
    const s = secret();
    expectCode(() => s.use(() => ({ then: (): void => undefined })), 'ERR_MEMSEAL_ASYNC_CALLBACK');
    expectCode(() => s.use(async () => Promise.reject(new Error('late'))), 'ERR_MEMSEAL_ASYNC_CALLBACK');
    await tick();
    expect(s.access).toBe('rw');
  });

  it('useAsync keeps the access until the promise settles, then restores it', async () => {
    const s = secret();
    s.protect('none');
    const result = await s.useAsync(async (k) => {
      await tick();
      expect(s.access).toBe('r');
      return Buffer.from(k).toString();
    });
    expect(result).toBe('key material');
    expect(s.access).toBe('none');
    await expect(s.useAsync(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(s.access).toBe('none');
    await expect(s.useAsync(async (k) => k.fill(0x41), { access: 'rw' })).resolves.toBeDefined();
    expect(s.use((k) => k.toString())).toBe('A'.repeat(12));
  });

  it('overlapping uses restore the access only when the last one ends', async () => {
    const s = secret();
    s.protect('none');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = s.useAsync(async (k) => {
      await gate;
      return k.toString();
    });
    expect(s.access).toBe('r');
    expect(s.use((k) => k.toString())).toBe('key material'); // a sync use inside the async one
    expect(s.access).toBe('r');
    const fast = s.useAsync(async (k) => k.length);
    await expect(fast).resolves.toBe(12);
    expect(s.access).toBe('r'); // the slow one still holds it
    release();
    await expect(slow).resolves.toBe('key material');
    expect(s.access).toBe('none');
  });

  itIf(caps.secretmem, 'memfd_secret', 'memfd_secret')('overlapping uses of one pool arena are counted too', async () => {
    const pool = new SecretPool();
    cleanup.push(() => pool.destroy());
    const a = pool.from('aaaa');
    const b = pool.from('bbbb');
    a.protect('none');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = a.useAsync(async (k) => {
      await gate;
      return k.toString();
    });
    await b.useAsync(async (k) => k.length);
    expect(b.access).toBe('r');
    release();
    await expect(slow).resolves.toBe('aaaa');
    expect(a.access).toBe('none');
  });
});

describe('dead views', () => {
  it("a Buffer kept past protect('none') or dispose() reads as length 0 and memseal's functions refuse it", () => {
    const s = secret();
    const kept = s.buffer;
    s.protect('none');
    expect(kept.length).toBe(0);
    const other = secret('other bytes!');
    expectCode(() => other.write(kept), 'ERR_MEMSEAL_DETACHED');
    expectCode(() => other.read(kept), 'ERR_MEMSEAL_DETACHED');
    expectCode(() => other.equals(kept), 'ERR_MEMSEAL_DETACHED');
    expectCode(() => SecretBuffer.from(kept), 'ERR_MEMSEAL_DETACHED');
    expectCode(() => Memfd.from(kept, { exec: 'kernel-default' }), 'ERR_MEMSEAL_DETACHED');
    const m = Memfd.create('dead', { exec: 'kernel-default' });
    cleanup.push(() => m.close());
    expectCode(() => m.write(kept), 'ERR_MEMSEAL_DETACHED');
    const kept2 = other.buffer;
    other.dispose();
    expectCode(() => m.write(kept2), 'ERR_MEMSEAL_DETACHED');
  });

  it("the Buffer use() hands out is dead after it, and an unmapped Mapping's Buffer too", () => {
    const s = secret();
    s.protect('none');
    const leaked = s.use((k) => k);
    expect(leaked.length).toBe(0);
    const m = Memfd.create('dead2', { exec: 'kernel-default' });
    cleanup.push(() => m.close());
    expectCode(() => m.write(leaked), 'ERR_MEMSEAL_DETACHED');
    const map = Mapping.anonymous(4096);
    const view = map.buffer;
    map.unmap();
    expectCode(() => m.write(view), 'ERR_MEMSEAL_DETACHED');
  });

  it('cloneExecutable refuses a dead view as source, or as a chunk of a stream', async () => {
    const map = Mapping.anonymous(4096);
    const view = map.buffer;
    map.unmap();
    expectCode(() => cloneExecutableSync(view), 'ERR_MEMSEAL_DETACHED');
    await expect(cloneExecutable(view)).rejects.toMatchObject({ code: 'ERR_MEMSEAL_DETACHED' });
    async function* chunks(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('#!/bin/sh\n');
      yield view;
    }
    await expect(cloneExecutable(chunks())).rejects.toMatchObject({ code: 'ERR_MEMSEAL_DETACHED' });
  });

  it('a genuinely empty view is still empty bytes, not dead', () => {
    const m = Memfd.create('empty', { exec: 'kernel-default' });
    cleanup.push(() => m.close());
    expect(m.write(Buffer.alloc(0))).toBe(0);
    expect(m.write(new Uint8Array(0))).toBe(0);
    expect(m.write(new Uint8Array(new ArrayBuffer(8), 8))).toBe(0);
  });
});

describe('internal factories', () => {
  it('are not reachable: no public static, and the constructors refuse without the private token', () => {
    expect((SecretBuffer as unknown as Record<string, unknown>).fromHome).toBeUndefined();
    expect((Mapping as unknown as Record<string, unknown>).fromRegion).toBeUndefined();
    const Ctor = (c: unknown): new (...args: unknown[]) => unknown => c as new (...args: unknown[]) => unknown;
    expect(() => new (Ctor(SecretBuffer))(Symbol('SecretBuffer'), {}, 0, 8)).toThrow(TypeError);
    expect(() => new (Ctor(Mapping))(Symbol('Mapping'), {}, 'x')).toThrow(TypeError);
    expect(() => new (Ctor(Memfd))(Symbol('Memfd'), 0, 'stdin', 'exec')).toThrow(TypeError);
  });

  it('refuse memory memseal did not map', async () => {
    const { mappingOf } = await import('../lib/mapping.js');
    const { secretInHome } = await import('../lib/secret/buffer.js');
    expectCode(() => mappingOf({} as never, 'fake'), 'ERR_MEMSEAL_NOT_OURS');
    const map = Mapping.anonymous(4096);
    cleanup.push(() => map.unmap());
    expectCode(() => secretInHome({ region: {} } as never, 0, 8), 'ERR_MEMSEAL_NOT_OURS');
  });
});

describe('structuredClone', () => {
  it('of a Memfd or a Mapping throws DataCloneError, as for a SecretBuffer', () => {
    const m = Memfd.create('clone', { exec: 'kernel-default' });
    cleanup.push(() => m.close());
    const map = Mapping.anonymous(4096);
    cleanup.push(() => map.unmap());
    for (const x of [m, map, secret()]) {
      let caught: unknown;
      try {
        structuredClone(x);
      } catch (err) {
        caught = err;
      }
      expect((caught as Error).name).toBe('DataCloneError');
    }
  });
});
