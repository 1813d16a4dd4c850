import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { PAGE_SIZE, SECRET_POOL_CLASSES, SecretBuffer, SecretPool } from '../lib/index.js';
import { caps, itIf } from './helpers/caps.js';
import { runFixture, tools } from './helpers/child.js';

const pools: SecretPool[] = [];
const newPool = (o?: ConstructorParameters<typeof SecretPool>[0]): SecretPool => {
  const p = new SecretPool(o);
  pools.push(p);
  return p;
};
afterEach(() => {
  for (const p of pools.splice(0)) p.destroy();
});

/**
 * Flips every bit of the byte at `address`, through /proc/self/mem and past
 * any protection: a stand-in for a memory bug that overruns a slot (a fixed
 * value would match the pool's random canary 1 time in 256).
 */
function corrupt(address: bigint): void {
  const byte = Buffer.alloc(1);
  const fd = openSync('/proc/self/mem', 'r+');
  try {
    expect(readSync(fd, byte, 0, 1, Number(address))).toBe(1);
    byte[0] = byte[0]! ^ 0xff;
    expect(writeSync(fd, byte, 0, 1, Number(address))).toBe(1);
  } finally {
    closeSync(fd);
  }
}

describe('SecretPool', () => {
  itIf(caps.secretmem, 'memfd_secret is unavailable on this machine', 'memfd_secret')('packs many small secrets into one arena of secret memory', () => {
    const pool = newPool();
    const secrets = Array.from({ length: 500 }, (_, i) => pool.from(Buffer.alloc(32, i & 0xff)));
    const s = pool.stats();
    expect(s).toMatchObject({ arenas: 1, slotsInUse: 500, lockedBytes: 64 * 1024, large: 0 });
    expect(s.classes.find((c) => c.slotSize === 32)).toMatchObject({ arenas: 1, slotsInUse: 500 });
    for (const [i, x] of secrets.entries()) {
      expect(x.pooled).toBe(true);
      expect(x.backing).toBe('secretmem');
      expect(x.buffer.equals(Buffer.alloc(32, i & 0xff))).toBe(true);
    }
    // Neighbours are 40 bytes apart (32 + an 8-byte canary), inside one mapping.
    expect(secrets[1]!.address - secrets[0]!.address).toBe(40n);
    for (const x of secrets) x.dispose();
    expect(pool.stats()).toMatchObject({ arenas: 1, slotsInUse: 0 });
  });

  it('picks the smallest class that fits; larger secrets get their own mapping', () => {
    const pool = newPool({ backing: 'mlock' });
    expect(SECRET_POOL_CLASSES).toEqual([16, 32, 64, 128, 256, 512, 1024, 2048]);
    const sizes = [1, 16, 17, 33, 2048];
    for (const n of sizes) expect(pool.alloc(n).length).toBe(n);
    const stats = pool.stats();
    expect(stats.classes.filter((c) => c.slotsInUse > 0).map((c) => c.slotSize)).toEqual([16, 32, 64, 2048]);
    expect(stats.classes.find((c) => c.slotSize === 16)!.slotsInUse).toBe(2);
    const big = pool.alloc(2049);
    expect(big.pooled).toBe(false);
    expect(big.backing).toBe('mlock');
    expect(pool.stats().large).toBe(1);
    expect(pool.stats().lockedBytes).toBe(4 * 64 * 1024 + PAGE_SIZE);
    big.dispose();
    expect(pool.stats().large).toBe(0);
  });

  it('wipes a slot when it is freed, so the next secret there starts at zero', () => {
    const pool = newPool({ backing: 'mlock' });
    const a = pool.from(Buffer.alloc(32, 0xee));
    const where = a.address;
    a.dispose();
    const b = pool.alloc(32);
    expect(b.address).toBe(where);
    expect(b.buffer.equals(Buffer.alloc(32))).toBe(true);
  });

  it('detaches the Buffer of a freed slot, so it can never alias the next secret there', () => {
    const pool = newPool({ backing: 'mlock' });
    const a = pool.from('first');
    const view = a.buffer;
    a.dispose();
    const b = pool.from('other');
    expect(view.length).toBe(0);
    expect(b.buffer.toString()).toBe('other');
  });

  it('checks the canaries when a slot is freed: an overrun is a typed error, the slot is retired', () => {
    const pool = newPool({ backing: 'mlock' });
    const victim = pool.from(Buffer.alloc(32, 1));
    const neighbour = pool.from(Buffer.alloc(32, 2));
    const victimAddress = victim.address;
    corrupt(victimAddress + 32n); // one byte past the end
    expect(() => victim.dispose()).toThrow(expect.objectContaining({ name: 'MemsealError', code: 'ERR_MEMSEAL_CANARY' }));
    expect(() => victim.dispose()).not.toThrow(); // disposed all the same
    expect(victim.disposed).toBe(true);
    expect(pool.stats()).toMatchObject({ slotsInUse: 1, slotsRetired: 1 });
    // The neighbour's leading canary is the same bytes: it reports an underrun.
    let err: Error | undefined;
    try {
      neighbour.dispose();
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(/before its start/);
    // Retired slots are never handed out again; the pool keeps working.
    const next = Array.from({ length: 3 }, () => pool.alloc(32).address);
    expect(next).not.toContain(victimAddress);
    expect(pool.stats().slotsRetired).toBe(2);
  });

  it('protection is per arena: protect and use act on every secret in it', () => {
    const pool = newPool({ backing: 'mlock' });
    const a = pool.from('a');
    const b = pool.from('b');
    const bView = b.buffer;
    a.protect('none');
    expect(b.access).toBe('none');
    expect(bView.length).toBe(0);
    expect(a.use(() => b.access)).toBe('r');
    expect(b.access).toBe('none');
    // A new secret from that arena has its access; from() still fills it.
    const c = pool.from('c');
    expect(c.access).toBe('none');
    expect(c.use((x) => x.toString())).toBe('c');
    c.protect('rw');
    expect(b.buffer.toString()).toBe('b');
  });

  it('destroy() disposes every secret and detaches their Buffers', () => {
    const pool = newPool({ backing: 'mlock' });
    const a = pool.from('a');
    const view = a.buffer;
    const big = pool.alloc(5000);
    pool.destroy();
    expect(pool.destroyed).toBe(true);
    expect(a.disposed).toBe(true);
    expect(big.disposed).toBe(true);
    expect(view.length).toBe(0);
    expect(() => a.buffer).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_DISPOSED' }));
    expect(() => a.dispose()).not.toThrow();
    expect(() => pool.alloc(8)).toThrow(expect.objectContaining({ code: 'ERR_MEMSEAL_DISPOSED' }));
    pool.destroy();
  });

  it('gives an empty arena back when another one has room', () => {
    const pool = newPool({ backing: 'mlock', arenaSize: PAGE_SIZE });
    const perArena = Math.floor((PAGE_SIZE - 8) / 40);
    const secrets = Array.from({ length: perArena + 1 }, () => pool.alloc(32));
    expect(pool.stats().arenas).toBe(2);
    secrets.pop()!.dispose(); // empties the second arena, but the first is full: kept
    expect(pool.stats().arenas).toBe(2);
    secrets.pop()!.dispose(); // the first now has room: the empty one goes
    expect(pool.stats()).toMatchObject({ arenas: 1, lockedBytes: PAGE_SIZE });
  });

  it('equals() works between pooled and own secrets', () => {
    const pool = newPool({ backing: 'mlock' });
    const own = SecretBuffer.from('same', { backing: 'mlock' });
    expect(pool.from('same').equals(own)).toBe(true);
    expect(own.equals(pool.from('diff'))).toBe(false);
    own.dispose();
  });

  it.each([0, -1, 1.5, 2 ** 31 + 1, '8', undefined])('refuses size %s', (size) => {
    const pool = newPool({ backing: 'mlock' });
    expect(() => pool.alloc(size as number)).toThrow(expect.objectContaining({ code: expect.stringMatching(/ERR_OUT_OF_RANGE|ERR_INVALID_ARG_TYPE/) }));
  });

  it('refuses bad options', () => {
    expect(() => new SecretPool({ arenaSize: 1000 })).toThrow(RangeError);
    expect(() => new SecretPool({ arenaSize: PAGE_SIZE + 1 })).toThrow(/multiple of the page size/);
    expect(() => new SecretPool({ size: 1 } as object)).toThrow(/not a known option/);
    expect(() => newPool({ backing: 'mlock' }).from('x', { wipeSource: true })).toThrow(/strings cannot be wiped/);
  });

  itIf(tools.root && tools.setpriv && caps.secretmem, 'needs root (to drop to uid 65534) and memfd_secret', 'memfd_secret')(
    'fits at least 200,000 32-byte secrets under an 8 MiB RLIMIT_MEMLOCK as an unprivileged user (child process)',
    () => {
      const r = runFixture('secret-memlock.cjs', { args: ['pool'], unprivilegedMemlock: 8 * 1024 * 1024 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.json.count).toBeGreaterThanOrEqual(200_000);
      expect(r.json.error).toMatchObject({ name: 'MemlockLimitError', code: 'EAGAIN', limit: 8 * 1024 * 1024 });
      expect(r.json.recovered).toBe(true);
    },
  );
});
