/**
 * One test per module of the library: what the older Node lines run under
 * arm64 emulation (scripts/test.mjs), beside the README examples. Each
 * goes through the addon and back.
 */
import { closeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  cloneExecutableSync,
  constants,
  isErrno,
  Mapping,
  Memfd,
  memfdSocketPair,
  PAGE_SIZE,
  probe,
  receiveMemfd,
  SecretBuffer,
  SecretPool,
  sendMemfd,
  spawnSealed,
  SyscallError,
} from '../lib/index.js';
import { caps } from './helpers/caps.js';

describe('smoke', () => {
  it('creates a memfd and probes the kernel', () => {
    using m = Memfd.create('smoke');
    expect(m.fd).toBeGreaterThan(2);
    expect(probe().features.memfd_create.status).toBe('supported');
  });

  it('memfd: writes, seals against writes, and the kernel refuses one', () => {
    using m = Memfd.create('smoke-seal');
    m.write('sealed');
    m.addSeals('write', 'seal');
    expect([...m.seals]).toEqual(expect.arrayContaining(['seal', 'write']));
    let err: unknown;
    try {
      m.write('x', 0);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SyscallError);
    expect(isErrno(err, 'EPERM')).toBe(true);
    expect(m.read().toString()).toBe('sealed');
  });

  it('mapping: maps a page, protects it read-only, and unmaps', () => {
    const map = Mapping.anonymous(PAGE_SIZE);
    map.buffer.write('page');
    map.protect('r');
    expect(map.access).toBe('r');
    expect(map.buffer.subarray(0, 4).toString()).toBe('page');
    map.unmap();
    expect(map.unmapped).toBe(true);
  });

  it('secret: holds bytes in secret memory (locked memory where this process has none), and wipes them on dispose', () => {
    const s = SecretBuffer.from(Buffer.from('hunter2'), { fallback: 'mlock' });
    expect(s.backing).toBe(caps.secretmem ? 'secretmem' : 'mlock');
    expect(s.equals(Buffer.from('hunter2'))).toBe(true);
    expect(`${s}`).toBe(`[SecretBuffer 7 bytes ${s.backing}]`);
    s.dispose();
    expect(s.disposed).toBe(true);
  });

  it('pool: packs small secrets into one arena and checks their canaries on free', () => {
    const pool = new SecretPool({ fallback: 'mlock' });
    try {
      const a = pool.from('one');
      const b = pool.from('two');
      expect(pool.stats().arenas).toBe(1);
      expect([a.equals(Buffer.from('one')), b.equals(Buffer.from('two'))]).toEqual([true, true]);
      a.dispose();
      expect(pool.stats().slotsInUse).toBe(1);
    } finally {
      pool.destroy();
    }
  });

  it('exec: clones a program into a sealed memfd and runs it', async () => {
    using exe = cloneExecutableSync('/bin/true');
    expect(exe.seals.has('write')).toBe(true);
    const child = spawnSealed(exe);
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
  });

  it('transfer: sends a sealed memfd with a message across a socket pair', async () => {
    const [a, b] = memfdSocketPair();
    try {
      using m = Memfd.from('shared');
      await sendMemfd(a, m, { n: 1 });
      const got = await receiveMemfd(b, { requireSeals: ['write'] });
      using received = got.memfd;
      expect(got.message).toEqual({ n: 1 });
      expect(received.read().toString()).toBe('shared');
    } finally {
      closeSync(a);
      closeSync(b);
    }
  });

  it("constants: the flags and syscall numbers the addon was built with, this architecture's", () => {
    expect(constants.MFD_CLOEXEC).toBe(1);
    // memfd_create has its own number per architecture; the syscalls from 424 on share one.
    expect(constants.SYS_memfd_create).toBe(process.arch === 'arm64' ? 279 : 319);
    expect([constants.SYS_memfd_secret, constants.SYS_mseal]).toEqual([447, 462]);
  });
});
