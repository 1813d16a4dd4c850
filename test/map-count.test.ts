/**
 * memseal never leads the process into vm.max_map_count: before a new
 * secret, pool arena or Mapping would leave fewer mappings than the
 * runtime's reserve, it throws MapCountError, and the process goes on. The
 * limit is global, so the child uses up mappings first until few are left.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MapCountError, MemsealError } from '../lib/index.js';
import { mapCountReserve } from '../lib/mapcount.js';
import { caps, itIf } from './helpers/caps.js';
import { lastJson, runFixture, tools, type FixtureOptions } from './helpers/child.js';

const maxMapCount = Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8'));
const reserve = mapCountReserve(maxMapCount);

interface Loop {
  left: number;
  before: number;
  count: number;
  error: { name: string; code: string; message: string; maxMapCount: number; mapCount: number; reserve: number; requested: number };
  atError: number;
  bufferOk: boolean | string;
  poolBefore: string;
  afterDispose: { secret: boolean; pool: boolean; mapping: boolean; mapCount: number };
  explained: { far: string; atLimit: string };
  maxMapCount: number;
  backing: string;
  uid: number;
}

/**
 * The loop with `reserve` + 2000 mappings left: about 1,000 secrets (2
 * mappings each) fit before the reserve, and their 4 MiB fit the default
 * RLIMIT_MEMLOCK of an unprivileged user.
 */
function loop(o: FixtureOptions): Loop {
  const r = runFixture('map-count.cjs', { ...o, args: [String(reserve + 2000)], timeout: 120_000 });
  expect(r.signal, r.stderr).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  return lastJson<Loop>(r);
}

function check(out: Loop, uid: number): void {
  expect(out.uid).toBe(uid);
  expect(out.backing).toBe(caps.secretmem ? 'secretmem' : 'mlock');
  // A typed error, well before the 100,000th secret and after many.
  expect(out.error).toMatchObject({ name: 'MapCountError', code: 'ERR_MEMSEAL_MAP_COUNT', maxMapCount, reserve, requested: 3 });
  expect(out.count).toBeGreaterThan(500);
  expect(out.count).toBeLessThan(1500);
  expect(out.error.mapCount + out.error.requested).toBeGreaterThan(maxMapCount - reserve);
  expect(out.error.message).toMatch(/vm\.max_map_count is \d+/);
  expect(out.error.message).toMatch(/Each SecretBuffer costs 2 mappings/);
  expect(out.error.message).toMatch(/SecretPool/);
  // The reserve is left to the runtime, which goes on working. memseal reads
  // the process's count only now and then: as root the child's first secret
  // (9 MiB) came before it used up the mappings, so memseal saw that only at
  // its next reading, and may have taken up to half the reserve by then.
  expect(out.atError).toBeLessThanOrEqual(maxMapCount - (uid === 0 ? reserve / 2 : reserve - 16));
  expect(out.bufferOk).toBe(true);
  expect(out.poolBefore).toBe('ERR_MEMSEAL_MAP_COUNT');
  expect(out.afterDispose).toMatchObject({ secret: true, pool: true, mapping: true });
  expect(out.afterDispose.mapCount).toBeLessThan(out.atError - 2 * 500);
  // An ENOMEM is blamed on the map count only at the limit, and never on
  // RLIMIT_MEMLOCK when that is not what refused (root, with 9 MiB locked,
  // is not bound by it; the unprivileged child has locked less than it).
  expect(out.explained).toEqual({ far: 'SyscallError', atLimit: 'MapCountError' });
}

describe('vm.max_map_count', () => {
  itIf(tools.root, 'needs root (RLIMIT_MEMLOCK does not bind it)')('the 100,000-secrets loop as root: MapCountError, and the process goes on (child process)', () => {
    check(loop({}), 0);
  });

  itIf(tools.root && tools.setpriv, 'needs root, setpriv and prlimit')('the same loop as an unprivileged user under an 8 MiB RLIMIT_MEMLOCK (child process)', () => {
    check(loop({ unprivilegedMemlock: 8 * 1024 * 1024 }), 65534);
  });

  it('MapCountError is a MemsealError with the numbers', () => {
    const e = new MapCountError({ maxMapCount: 65530, mapCount: 57338, reserve: 8191, requested: 3 });
    expect(e).toBeInstanceOf(MemsealError);
    expect(e.name).toBe('MapCountError');
    expect(e.code).toBe('ERR_MEMSEAL_MAP_COUNT');
    expect(e).toMatchObject({ maxMapCount: 65530, mapCount: 57338, reserve: 8191, requested: 3 });
    expect(e.message).toMatch(/^This process has 57338 memory mappings and vm\.max_map_count is 65530: memseal keeps the last 8191/);
    expect(Object.keys(e)).not.toContain('name');
  });

  it('the reserve is an eighth of the limit, and never below 2048', () => {
    expect(mapCountReserve(65530)).toBe(8191);
    expect(mapCountReserve(1_000_000)).toBe(125_000);
    expect(mapCountReserve(4096)).toBe(2048);
  });
});
