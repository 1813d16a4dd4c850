/**
 * How the kernel accounts secret memory against RLIMIT_MEMLOCK, per kernel
 * version, and the probe the memlock cases of secret-mmap.ts share.
 */
import { readFileSync } from 'node:fs';
import type { RawRegion } from '../binding.js';
import { attempt, hex, kv, SRC } from './helpers.js';
import type { CaseContext, Expectation, Source } from './types.js';

/**
 * How the kernel accounts secret memory, per version. Until the fix for
 * CVE-2026-93243 ("mm/secretmem: properly account locked pages"),
 * secretmem_mmap() checks mlock_future_ok() and marks the mapping
 * VM_LOCKED | VM_DONTDUMP: the limit is checked when mapping (EAGAIN), VmLck
 * grows, and CAP_IPC_LOCK lifts the limit. With the fix the mapping is only
 * VM_DONTDUMP, and secretmem_fault() charges each page to the user's locked
 * memory when it is first faulted in (secretmem_account_folio()), against
 * RLIMIT_MEMLOCK and with no capability exemption; a fault past the limit is
 * SIGBUS. The fix is in 6.1.191 and 6.12.113 (Debian's changelogs list it in
 * those stable updates) and in the 7.2.12 and 7.3.4 code (not as a 7.2.y
 * stable update: mainline by 7.2). 6.18.44 keeps the old accounting
 * (measured). Where it is not known (6.6.y, 6.18.45 and later, 6.19 to 7.1)
 * there is no expectation.
 */
export function byAccounting(atMmap: string, perPage: string): Expectation[] {
  const old = 'secretmem_mmap() locks the mapping and checks RLIMIT_MEMLOCK (before the CVE-2026-93243 fix)';
  const fixed = 'pages are charged to RLIMIT_MEMLOCK one by one when first faulted in (CVE-2026-93243 fix)';
  return [
    { since: '6.1', before: '6.1.191', outcome: atMmap, note: old },
    { since: '6.1.191', before: '6.2', outcome: perPage, note: `${fixed}, in 6.1.191` },
    { since: '6.2', before: '6.6', outcome: atMmap, note: old },
    { since: '6.7', before: '6.12.113', outcome: atMmap, note: old },
    { since: '6.12.113', before: '6.13', outcome: perPage, note: `${fixed}, in 6.12.113` },
    { since: '6.13', before: '6.18.45', outcome: atMmap, note: `${old}; measured on 6.18.44` },
    { since: '7.2', outcome: perPage, note: `${fixed}, in mainline by 7.2 (7.2.12 and 7.3.4 code; measured on 7.3.4)` },
  ];
}

/**
 * With the accounting fix, secretmem charges the uid (user->locked_vm in
 * __secretmem_account_pages, mm/secretmem.c), not the process: a secret page
 * another case of the same uid holds at that moment takes the 2-page limit.
 */
export const UID_LOCKED = "charges RLIMIT_MEMLOCK against the uid's locked pages (user->locked_vm), which any other case's secret memory shares";

export const ACCOUNTING_SOURCES: readonly Source[] = [
  SRC.code('mm/secretmem.c', 'secretmem_mmap: mlock_future_ok, VM_LOCKED (before the fix); secretmem_account_folio (after)'),
  SRC.lkml('mm/secretmem: properly account locked pages (CVE-2026-93243; stable 6.1.191, 6.12.113)'),
];

/** Faults the pages of `region` in from the kernel side (no SIGBUS): how many it backed, of how many. */
function populated(ctx: CaseContext, region: RawRegion): string {
  return `${Math.floor(region.populate() / ctx.page)}/${region.mappedLength / ctx.page}`;
}

/**
 * Maps 2 and then 4 pages of `fd` (charged once per page: the file keeps its
 * pages), faults them in from the kernel side, and reads the last page from a
 * forked child (a user-space touch: SIGBUS when the kernel will not back it).
 */
export function limitProbe(ctx: CaseContext, fd: number): string {
  const { b, c, pc } = ctx;
  const map = (pages: number): RawRegion | string =>
    attempt(() => new b.Region(pages * ctx.page, c.PROT_READ! | c.PROT_WRITE!, c.MAP_SHARED!, fd, 0, 0, ctx.page, false));
  const two = map(2);
  if (typeof two === 'string') return kv({ two });
  const twoBacked = populated(ctx, two);
  two.unmap();
  const four = map(4);
  if (typeof four === 'string') return kv({ two: twoBacked === '2/2' ? 'ok' : twoBacked, four });
  ctx.defer(() => four.unmap());
  const backed = populated(ctx, four);
  const r = b.forkProbe(pc.FORK_READ!, four.address + BigInt(3 * ctx.page), 1, 0, 5);
  const touch = r.value !== null ? hex(r.value) : `signal ${r.signal}`;
  return kv({ two: twoBacked === '2/2' ? 'ok' : twoBacked, four: 'ok', backed, touch });
}

export function vmLockedKiB(): number {
  const m = /^VmLck:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : -1;
}
