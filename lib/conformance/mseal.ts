/**
 * mseal(2) (6.10+): flags, alignment, length rounding, holes, idempotence,
 * every operation it blocks (mprotect, pkey_mprotect, munmap, mremap, mmap
 * MAP_FIXED, discarding madvise on read-only anonymous memory), partial
 * ranges and VMA splits, the smaps flag, and what it does not block.
 *
 * Every case runs in one throwaway child process (sealed mappings stay until
 * the process exits) with MEMSEAL_UNSAFE_RAW=1, since cases aim at holes
 * they made and at the program's own mappings.
 */
import { closeSync, openSync, readFileSync, constants as fsConstants } from 'node:fs';
import { nodeBinary } from '../node-self.js';
import { anon, attempt, errno, errnoName, hex, kv, mapFd, memfd, pagePerms, SRC, vmaCount, vmFlags } from './helpers.js';
import type { Case, CaseContext, Deviation, Expectation, Source } from './types.js';

const MST = SRC.msealTest;
const LTP1 = (test: string): Source => SRC.ltp('mseal/mseal01.c', test);
const LTP2 = (test: string): Source => SRC.ltp('mseal/mseal02.c', test);
const DOC = (section: string): Source => SRC.doc('userspace-api/mseal.rst', section);
const MSEAL_C = (fn: string): Source => SRC.code('mm/mseal.c', fn);
const MADVISE_C = (fn: string): Source => SRC.code('mm/madvise.c', fn);

export function since(version: string, outcome: string, note?: string): Expectation[] {
  return [{ since: version, outcome, ...(note === undefined ? {} : { note }) }];
}

/** An mseal case, run in the mseal child; it needs mseal unless it lists its requirements itself. */
export function msealCase(c: Omit<Case, 'family' | 'isolation'>): Case {
  return { ...c, family: 'mseal', isolation: 'child', syscalls: ['mseal', ...(c.syscalls ?? [])], requires: c.requires ?? ['mseal'] };
}

export const RW = (ctx: CaseContext): number => ctx.c.PROT_READ! | ctx.c.PROT_WRITE!;
export const ANON = (ctx: CaseContext): number => ctx.c.MAP_PRIVATE! | ctx.c.MAP_ANONYMOUS!;

export function at(ctx: CaseContext, addr: bigint, page: number): bigint {
  return addr + BigInt(page * ctx.page);
}

export function seal(ctx: CaseContext, addr: bigint, pages: number): string {
  return errno(() => ctx.b.mseal(addr, pages * ctx.page, 0));
}

/** Per page, 's' when the page is sealed (mprotect to its own protection fails EPERM), '-' when not. */
function sealedMap(ctx: CaseContext, addr: bigint, pages: number, prot?: number): string {
  let out = '';
  for (let i = 0; i < pages; i++) out += errno(() => ctx.b.mprotect(at(ctx, addr, i), ctx.page, prot ?? RW(ctx))) === 'EPERM' ? 's' : '-';
  return out;
}

/** A mapping of `pages` pages with a sealed middle part [from, from + count). */
function withSealed(ctx: CaseContext, pages: number, from: number, count: number, prot?: number): bigint {
  const addr = anon(ctx, pages, prot);
  ctx.b.mseal(at(ctx, addr, from), count * ctx.page, 0);
  return addr;
}

function mremap(ctx: CaseContext, old: bigint, oldPages: number, newPages: number, flags: number, dest = 0n): string {
  return errno(() => ctx.b.mremap(old, oldPages * ctx.page, newPages * ctx.page, flags, dest));
}

/** madvise(advice) on a sealed read-only private mapping of a one-page memfd: 'ok' or the errno name. */
function madviseSealedFilePage(ctx: CaseContext, advice: number): string {
  const { b, c } = ctx;
  const fd = memfd(ctx, c.MFD_CLOEXEC!);
  b.ftruncate(fd, ctx.page);
  const addr = mapFd(ctx, fd, ctx.page, c.PROT_READ!, c.MAP_PRIVATE!);
  if (typeof addr === 'string') return `mmap=${addr}`;
  b.mseal(addr, ctx.page, 0);
  return errno(() => b.madvise(addr, ctx.page, advice));
}

function madviseOn(ctx: CaseContext, prot: number, flags: number, advice: number): string {
  const addr = anon(ctx, 1, prot, flags);
  ctx.b.mseal(addr, ctx.page, 0);
  return errno(() => ctx.b.madvise(addr, ctx.page, advice));
}

export const cases: readonly Case[] = [
  msealCase({
    id: 'mseal.syscall.available',
    title: 'mseal exists from 6.10 (ENOSYS before); a zero-length call seals nothing and succeeds',
    requires: [],
    source: [LTP1('min_kver 6.10'), DOC('mseal syscall'), SRC.observed('Debian 6.1: ENOSYS')],
    expect: [
      { before: '6.10', outcome: 'ENOSYS' },
      { since: '6.10', outcome: 'ok' },
    ],
    run: (ctx) => errno(() => ctx.b.mseal(0n, 0, 0)),
  }),
  msealCase({
    id: 'mseal.flags.invalid',
    title: 'any flag (1, 0x20, ULONG_MAX) is refused with EINVAL',
    source: [MST('test_seal_invalid_input'), LTP2('flags'), MSEAL_C('do_mseal: flags')],
    expect: since('6.10', '1=EINVAL 0x20=EINVAL max=EINVAL sealed=-'),
    run: (ctx) => {
      const addr = anon(ctx, 1);
      const r = kv({
        1: errno(() => ctx.b.mseal(addr, ctx.page, 1)),
        '0x20': errno(() => ctx.b.mseal(addr, ctx.page, 0x20)),
        max: errno(() => ctx.b.mseal(addr, ctx.page, (1n << 64n) - 1n)),
      });
      return `${r} sealed=${sealedMap(ctx, addr, 1)}`;
    },
  }),
  msealCase({
    id: 'mseal.start.unaligned',
    title: 'a start that is not page aligned is refused with EINVAL, whatever the length (even 0)',
    source: [MST('test_seal_invalid_input'), LTP2('unaligned start'), MSEAL_C('do_mseal: offset_in_page')],
    expect: since('6.10', 'len-page=EINVAL len-0=EINVAL'),
    run: (ctx) => {
      const addr = anon(ctx, 2);
      return kv({ 'len-page': errno(() => ctx.b.mseal(addr + 1n, ctx.page, 0)), 'len-0': errno(() => ctx.b.mseal(addr + 1n, 0, 0)) });
    },
  }),
  msealCase({
    id: 'mseal.len.zero',
    title: 'a zero length succeeds and seals nothing, also at NULL and at an unmapped address',
    source: [MST('test_seal_zero_length'), MSEAL_C('do_mseal: len == 0'), SRC.observed('NULL and unmapped')],
    expect: since('6.10', 'mapped=ok null=ok unmapped=ok then-mprotect=ok'),
    run: (ctx) => {
      const addr = anon(ctx, 2);
      const hole = at(ctx, addr, 1);
      ctx.b.munmap(hole, ctx.page);
      return kv({
        mapped: errno(() => ctx.b.mseal(addr, 0, 0)),
        null: errno(() => ctx.b.mseal(0n, 0, 0)),
        unmapped: errno(() => ctx.b.mseal(hole, 0, 0)),
        'then-mprotect': errno(() => ctx.b.mprotect(addr, ctx.page, ctx.c.PROT_READ!)),
      });
    },
  }),
  msealCase({
    id: 'mseal.len.overflow',
    title: 'a length that rounds up to 0, or start + length wrapping around, is refused with EINVAL',
    source: [LTP2('length overflow'), MST('test_seal_invalid_input'), SRC.observed('errno')],
    expect: since('6.10', 'rounds-to-zero=EINVAL wraps=EINVAL'),
    run: (ctx) => {
      const addr = anon(ctx, 1);
      const max = (1n << 64n) - 1n;
      return kv({
        'rounds-to-zero': errno(() => ctx.b.mseal(addr, max - BigInt(ctx.page) + 2n, 0)),
        wraps: errno(() => ctx.b.mseal(max - BigInt(ctx.page) + 1n, 2 * ctx.page, 0)),
      });
    },
  }),
  msealCase({
    id: 'mseal.start.unmapped',
    title: 'a range starting in an unmapped page is refused with ENOMEM',
    source: [LTP2('unmapped start'), MST('test_seal_unmapped_start')],
    expect: since('6.10', 'ENOMEM'),
    run: (ctx) => {
      const addr = anon(ctx, 2);
      ctx.b.munmap(addr, ctx.page);
      return seal(ctx, addr, 2);
    },
  }),
  msealCase({
    id: 'mseal.range.hole-at-end',
    title: 'a range ending in a hole is refused with ENOMEM and seals nothing',
    source: [MST('test_seal_unmapped_end'), LTP2('unmapped end'), DOC('ENOMEM')],
    expect: since('6.10', 'seal=ENOMEM sealed=--'),
    run: (ctx) => {
      const addr = anon(ctx, 3);
      ctx.b.munmap(at(ctx, addr, 2), ctx.page);
      return kv({ seal: seal(ctx, addr, 3), sealed: sealedMap(ctx, addr, 2) });
    },
  }),
  msealCase({
    id: 'mseal.range.hole-in-middle',
    title: 'a range with a hole in the middle is refused with ENOMEM and seals nothing; the pieces can be sealed one by one',
    source: [MST('test_seal_unmapped_middle'), DOC('ENOMEM')],
    expect: since('6.10', 'seal=ENOMEM before=-- pieces=ok/ok after=ss'),
    run: (ctx) => {
      const addr = anon(ctx, 3);
      const last = at(ctx, addr, 2);
      ctx.b.munmap(at(ctx, addr, 1), ctx.page);
      const state = (): string => sealedMap(ctx, addr, 1) + sealedMap(ctx, last, 1);
      const whole = seal(ctx, addr, 3);
      const before = state();
      const pieces = `${seal(ctx, addr, 1)}/${seal(ctx, last, 1)}`;
      return kv({ seal: whole, before, pieces, after: state() });
    },
  }),
  msealCase({
    id: 'mseal.len.rounding',
    title: 'the length is rounded up to whole pages: 1 byte seals 1 page, 2 pages - 1 seals 2, 2 pages + 1 seals 3',
    source: [MST('test_seal_mprotect_unalign_len'), MST('test_seal_mprotect_unalign_len_variant_2')],
    expect: since('6.10', '1=s--- 2p-1=ss-- 2p+1=sss-'),
    run: (ctx) => {
      const one = (len: number): string => {
        const addr = anon(ctx, 4);
        ctx.b.mseal(addr, len, 0);
        return sealedMap(ctx, addr, 4);
      };
      return kv({ 1: one(1), '2p-1': one(2 * ctx.page - 1), '2p+1': one(2 * ctx.page + 1) });
    },
  }),
  msealCase({
    id: 'mseal.idempotent',
    title: 'sealing the same range twice succeeds both times',
    source: [MST('test_seal_twice'), DOC('mseal is idempotent')],
    expect: since('6.10', 'first=ok second=ok'),
    run: (ctx) => {
      const addr = anon(ctx, 2);
      return kv({ first: seal(ctx, addr, 2), second: seal(ctx, addr, 2) });
    },
  }),
  msealCase({
    id: 'mseal.smaps.flag',
    title: 'a sealed mapping shows "sl" in its smaps VmFlags',
    source: [SRC.sysmap('VmFlags sl'), SRC.code('fs/proc/task_mmu.c', 'show_smap_vma_flags: VM_SEALED "sl"')],
    expect: since('6.10', 'before=false after=true'),
    run: (ctx) => {
      const addr = anon(ctx, 1);
      const before = vmFlags(addr).includes('sl');
      ctx.b.mseal(addr, ctx.page, 0);
      return kv({ before, after: vmFlags(addr).includes('sl') });
    },
  }),
  msealCase({
    id: 'mseal.vma.split-merge',
    title: 'sealing one page of a 4-page mapping splits it into 3 VMAs; sealing its neighbour merges the sealed pages',
    source: [MST('test_seal_split_start'), MST('test_seal_split_end'), MST('test_seal_merge_and_split')],
    expect: since('6.10', 'before=1 one=3 two=3 sealed=-ss-'),
    run: (ctx) => {
      const addr = anon(ctx, 4);
      const before = vmaCount(addr, 4 * ctx.page);
      seal(ctx, at(ctx, addr, 1), 1);
      const one = vmaCount(addr, 4 * ctx.page);
      seal(ctx, at(ctx, addr, 2), 1);
      return kv({ before, one, two: vmaCount(addr, 4 * ctx.page), sealed: sealedMap(ctx, addr, 4) });
    },
  }),
  msealCase({
    id: 'mseal.vma.multiple',
    title: 'one call can seal three VMAs of different protections',
    source: [MST('test_seal_multiple_vmas')],
    expect: since('6.10', 'vmas=3 seal=ok perms=rw-p|r--p|---p mprotect=EPERM'),
    run: (ctx) => {
      const { b, c } = ctx;
      const addr = anon(ctx, 3);
      b.mprotect(at(ctx, addr, 1), ctx.page, c.PROT_READ!);
      b.mprotect(at(ctx, addr, 2), ctx.page, c.PROT_NONE!);
      const vmas = vmaCount(addr, 3 * ctx.page);
      return kv({ vmas, seal: seal(ctx, addr, 3), perms: pagePerms(ctx, addr, 3), mprotect: errno(() => b.mprotect(addr, 3 * ctx.page, RW(ctx))) });
    },
  }),
  msealCase({
    id: 'mseal.mprotect.eperm',
    title: 'mprotect of a sealed range fails with EPERM, to a new protection and to the same one',
    source: [MST('test_seal_mprotect'), LTP1('test_mprotect'), DOC('Blocked mm syscall: mprotect and pkey_mprotect')],
    expect: since('6.10', 'new=EPERM same=EPERM perms=rw-p'),
    run: (ctx) => {
      const addr = withSealed(ctx, 1, 0, 1);
      return kv({
        new: errno(() => ctx.b.mprotect(addr, ctx.page, ctx.c.PROT_READ!)),
        same: errno(() => ctx.b.mprotect(addr, ctx.page, RW(ctx))),
        perms: pagePerms(ctx, addr, 1),
      });
    },
  }),
  msealCase({
    id: 'mseal.pkey-mprotect.eperm',
    title: 'pkey_mprotect of a sealed range fails with EPERM (pkey -1: no protection keys needed)',
    syscalls: ['pkey_mprotect'],
    source: [LTP1('test_pkey_mprotect (with an allocated key; this case passes -1)'), DOC('Blocked mm syscall: mprotect and pkey_mprotect'), SRC.observed('pkey -1')],
    expect: since('6.10', 'EPERM'),
    run: (ctx) => errno(() => ctx.b.pkeyMprotect(withSealed(ctx, 1, 0, 1), ctx.page, ctx.c.PROT_READ!, -1)),
  }),
  msealCase({
    id: 'mseal.pkey-mprotect.allocated-key',
    title: 'pkey_mprotect with an allocated protection key on a sealed range fails with EPERM',
    requires: ['mseal', 'pku'],
    syscalls: ['pkey_mprotect'],
    source: [LTP1('test_pkey_mprotect'), DOC('Blocked mm syscall: mprotect and pkey_mprotect')],
    expect: since('6.10', 'EPERM'),
    run: (ctx) => {
      const key = ctx.b.pkeyAlloc(0, 0);
      ctx.defer(() => ctx.b.pkeyFree(key));
      return errno(() => ctx.b.pkeyMprotect(withSealed(ctx, 1, 0, 1), ctx.page, RW(ctx), key));
    },
  }),
  msealCase({
    id: 'mseal.mprotect.partial',
    title: 'with only the first page of 4 sealed, mprotect of that page fails (EPERM) and of the other 3 works',
    source: [MST('test_seal_start_mprotect'), MST('test_seal_end_mprotect'), MST('test_seal_mprotect_two_vma_with_split')],
    expect: since('6.10', 'first=EPERM rest=ok perms=rw-p|r--p|r--p|r--p'),
    run: (ctx) => {
      const addr = withSealed(ctx, 4, 0, 1);
      return kv({
        first: errno(() => ctx.b.mprotect(addr, ctx.page, ctx.c.PROT_READ!)),
        rest: errno(() => ctx.b.mprotect(at(ctx, addr, 1), 3 * ctx.page, ctx.c.PROT_READ!)),
        perms: pagePerms(ctx, addr, 4),
      });
    },
  }),
  msealCase({
    id: 'mseal.mprotect.across',
    title: 'mprotect over [unsealed | sealed | unsealed] fails with EPERM and leaves the sealed page as it was',
    source: [MST('test_seal_mprotect_partial_mprotect'), DOC('Blocked mm syscall: mprotect')],
    expect: since('6.10', 'mprotect=EPERM sealed-page=rw-p'),
    run: (ctx) => {
      const addr = withSealed(ctx, 3, 1, 1);
      const r = errno(() => ctx.b.mprotect(addr, 3 * ctx.page, ctx.c.PROT_READ!));
      return kv({ mprotect: r, 'sealed-page': pagePerms(ctx, at(ctx, addr, 1), 1) });
    },
  }),
  msealCase({
    id: 'mseal.mprotect.partial-update',
    title: 'a failing mprotect over [unsealed | sealed]: from 6.12 the unsealed VMA before the sealed one is already changed',
    source: [
      MST('test_seal_mprotect_partial_mprotect_tail'),
      DOC('partial update might happen'),
      SRC.lkml('mm: Optimize mseal checks (6.12)'),
      SRC.observed('6.18: first page became read-only'),
    ],
    docNote: 'The 6.10 design checked the whole range before changing anything; since 6.12 the check runs per VMA, so mprotect can change the VMAs before a sealed one and then fail (mseal.rst now says "partial update might happen")',
    expect: [
      { since: '6.10', before: '6.12', outcome: 'mprotect=EPERM first-page=rw-p', note: '6.10-6.11 checked the whole range first: nothing changed' },
      { since: '6.12', outcome: 'mprotect=EPERM first-page=r--p', note: 'per-VMA checks: the leading unsealed VMA changed before the sealed one failed' },
    ],
    run: (ctx) => {
      const addr = withSealed(ctx, 2, 1, 1);
      const r = errno(() => ctx.b.mprotect(addr, 2 * ctx.page, ctx.c.PROT_READ!));
      return kv({ mprotect: r, 'first-page': pagePerms(ctx, addr, 1) });
    },
  }),
  msealCase({
    id: 'mseal.munmap.eperm',
    title: 'munmap of a sealed range fails with EPERM and the memory stays mapped',
    source: [MST('test_seal_munmap'), LTP1('test_munmap'), DOC('Blocked mm syscall: munmap')],
    expect: since('6.10', 'munmap=EPERM still-mapped=rw-p'),
    run: (ctx) => {
      const addr = withSealed(ctx, 1, 0, 1);
      return kv({ munmap: errno(() => ctx.b.munmap(addr, ctx.page)), 'still-mapped': pagePerms(ctx, addr, 1) });
    },
  }),
  msealCase({
    id: 'mseal.munmap.across',
    title: 'munmap over [unsealed | sealed | unsealed] fails with EPERM and unmaps nothing (all or nothing)',
    source: [MST('test_seal_munmap_partial_across_vmas'), MST('test_seal_munmap_two_vma'), DOC('munmap')],
    expect: since('6.10', 'control=ok munmap=EPERM pages=rw-p|rw-p|rw-p'),
    run: (ctx) => {
      const control = anon(ctx, 3);
      const c = errno(() => ctx.b.munmap(control, 3 * ctx.page));
      const addr = withSealed(ctx, 3, 1, 1);
      return kv({ control: c, munmap: errno(() => ctx.b.munmap(addr, 3 * ctx.page)), pages: pagePerms(ctx, addr, 3) });
    },
  }),
  msealCase({
    id: 'mseal.munmap.hole-next-to-sealed',
    title: 'munmap over a hole and a sealed page fails with EPERM',
    source: [MST('test_munmap_start_freed'), MST('test_munmap_middle_freed'), MST('test_munmap_end_freed')],
    expect: since('6.10', 'munmap=EPERM pages=-|rw-p'),
    run: (ctx) => {
      const addr = anon(ctx, 2);
      ctx.b.munmap(addr, ctx.page);
      seal(ctx, at(ctx, addr, 1), 1);
      return kv({ munmap: errno(() => ctx.b.munmap(addr, 2 * ctx.page)), pages: pagePerms(ctx, addr, 2) });
    },
  }),
  msealCase({
    id: 'mseal.mremap.in-place',
    title: 'mremap of a sealed range in place fails with EPERM, shrinking and expanding',
    source: [MST('test_seal_mremap_shrink'), MST('test_seal_mremap_expand'), DOC('Blocked mm syscall: mremap')],
    expect: since('6.10', 'shrink=EPERM expand=EPERM'),
    run: (ctx) => {
      const addr = anon(ctx, 3);
      ctx.b.munmap(at(ctx, addr, 2), ctx.page); // room to expand into
      seal(ctx, addr, 2);
      return kv({ shrink: mremap(ctx, addr, 2, 1, 0), expand: mremap(ctx, addr, 2, 3, 0) });
    },
  }),
  msealCase({
    id: 'mseal.mremap.move-sealed-source',
    title: 'mremap(MREMAP_MAYMOVE | MREMAP_FIXED) of a sealed source fails with EPERM: same size, smaller, larger',
    source: [MST('test_seal_mremap_move'), MST('test_seal_mremap_shrink_fixed'), LTP1('test_mremap_resize')],
    expect: since('6.10', 'same=EPERM smaller=EPERM larger=EPERM'),
    run: (ctx) => {
      const { c } = ctx;
      const src = withSealed(ctx, 2, 0, 2);
      const dst = anon(ctx, 4);
      const f = c.MREMAP_MAYMOVE! | c.MREMAP_FIXED!;
      return kv({ same: mremap(ctx, src, 2, 2, f, dst), smaller: mremap(ctx, src, 2, 1, f, dst), larger: mremap(ctx, src, 2, 4, f, dst) });
    },
  }),
  msealCase({
    id: 'mseal.mremap.onto-sealed',
    title: 'mremap of an unsealed source onto a sealed destination (MREMAP_FIXED) fails with EPERM',
    source: [MST('test_seal_mremap_expand_fixed'), MST('test_seal_mremap_move_fixed')],
    expect: since('6.10', 'EPERM'),
    run: (ctx) => {
      const { c } = ctx;
      const dst = withSealed(ctx, 2, 0, 2);
      return mremap(ctx, anon(ctx, 2), 2, 2, c.MREMAP_MAYMOVE! | c.MREMAP_FIXED!, dst);
    },
  }),
  msealCase({
    id: 'mseal.mremap.dontunmap',
    title: 'mremap(MREMAP_DONTUNMAP) from a sealed source fails with EPERM, with or without a fixed target',
    source: [MST('test_seal_mremap_move_dontunmap'), MST('test_seal_mremap_move_dontunmap_anyaddr')],
    expect: since('6.10', 'anywhere=EPERM fixed=EPERM'),
    run: (ctx) => {
      const { c } = ctx;
      const src = withSealed(ctx, 2, 0, 2);
      const dst = anon(ctx, 2);
      const f = c.MREMAP_MAYMOVE! | c.MREMAP_DONTUNMAP!;
      return kv({ anywhere: mremap(ctx, src, 2, 2, f), fixed: mremap(ctx, src, 2, 2, f | c.MREMAP_FIXED!, dst) });
    },
  }),
  msealCase({
    id: 'mseal.mmap.fixed-over',
    title: 'mmap(MAP_FIXED) over a sealed range fails with EPERM: same size, smaller, larger into an unmapped tail',
    source: [MST('test_seal_mmap_overwrite_prot'), MST('test_seal_mmap_expand'), MST('test_seal_mmap_shrink'), LTP1('test_mmap_change_prot')],
    expect: since('6.10', 'same=EPERM smaller=EPERM larger=EPERM'),
    run: (ctx) => {
      const { b, c } = ctx;
      const addr = anon(ctx, 3);
      b.munmap(at(ctx, addr, 2), ctx.page);
      seal(ctx, addr, 2);
      const over = (pages: number): string => errno(() => b.mmap(addr, pages * ctx.page, RW(ctx), ANON(ctx) | c.MAP_FIXED!, -1, 0));
      return kv({ same: over(2), smaller: over(1), larger: over(3) });
    },
  }),
  msealCase({
    id: 'mseal.mmap.fixed-noreplace',
    title: 'mmap(MAP_FIXED_NOREPLACE) over a sealed range fails with EEXIST (the overlap check comes first)',
    source: [SRC.observed('EEXIST on 6.18'), SRC.man('man2/mmap.2', 'MAP_FIXED_NOREPLACE: EEXIST')],
    expect: since('6.10', 'EEXIST'),
    run: (ctx) => {
      const addr = withSealed(ctx, 1, 0, 1);
      return errno(() => ctx.b.mmap(addr, ctx.page, RW(ctx), ANON(ctx) | ctx.c.MAP_FIXED_NOREPLACE!, -1, 0));
    },
  }),
  msealCase({
    id: 'mseal.madvise.dontneed-ro-anon',
    title: 'MADV_DONTNEED on sealed read-only private anonymous memory fails with EPERM',
    source: [MST('test_seal_discard_ro_anon'), LTP1('test_madvise'), DOC('Blocked mm syscall: destructive madvise')],
    expect: since('6.10', 'EPERM'),
    run: (ctx) => madviseOn(ctx, ctx.c.PROT_READ!, ANON(ctx), ctx.c.MADV_DONTNEED!),
  }),
  msealCase({
    id: 'mseal.madvise.discard-variants',
    title: 'MADV_FREE, MADV_DONTNEED_LOCKED, MADV_REMOVE, MADV_DONTFORK and MADV_WIPEONFORK fail the same way (EPERM)',
    source: [DOC('Blocked mm syscall: destructive madvise'), MADVISE_C('is_discard / can_madvise_modify'), SRC.observed('errno per advice')],
    expect: since('6.10', 'free=EPERM dontneed-locked=EPERM remove=EPERM dontfork=EPERM wipeonfork=EPERM'),
    run: (ctx) => {
      const { c } = ctx;
      const one = (advice: number): string => madviseOn(ctx, c.PROT_READ!, ANON(ctx), advice);
      return kv({
        free: one(c.MADV_FREE!),
        'dontneed-locked': one(c.MADV_DONTNEED_LOCKED!),
        remove: one(c.MADV_REMOVE!),
        dontfork: one(c.MADV_DONTFORK!),
        wipeonfork: one(c.MADV_WIPEONFORK!),
      });
    },
  }),
  msealCase({
    id: 'mseal.madvise.guard-install',
    title: 'MADV_GUARD_INSTALL counts as a discard: EPERM on sealed read-only anonymous memory, allowed on sealed writable',
    source: [MADVISE_C('is_discard: MADV_GUARD_INSTALL'), SRC.observed('6.18')],
    expect: since('6.13', 'ro=EPERM rw=ok', 'guard regions arrived in 6.13'),
    run: (ctx) => {
      const { c } = ctx;
      return kv({ ro: madviseOn(ctx, c.PROT_READ!, ANON(ctx), c.MADV_GUARD_INSTALL!), rw: madviseOn(ctx, RW(ctx), ANON(ctx), c.MADV_GUARD_INSTALL!) });
    },
  }),
  msealCase({
    id: 'mseal.madvise.prot-none',
    title: 'MADV_DONTNEED on sealed PROT_NONE anonymous memory fails with EPERM',
    source: [SRC.observed('EPERM on 6.18'), SRC.lkml('selftest/mseal: Add tests for madvise fixes (Oct 2024, not applied)')],
    expect: since('6.10', 'EPERM'),
    run: (ctx) => madviseOn(ctx, ctx.c.PROT_NONE!, ANON(ctx), ctx.c.MADV_DONTNEED!),
  }),
  msealCase({
    id: 'mseal.madvise.rw-anon',
    title: 'MADV_DONTNEED on sealed writable anonymous memory works (the owner could zero it anyway); munmap still fails',
    source: [MST('test_seal_discard_ro_anon_on_rw'), DOC('destructive madvise: only read-only anonymous memory')],
    expect: since('6.10', 'dontneed=ok munmap=EPERM'),
    run: (ctx) => {
      const addr = withSealed(ctx, 1, 0, 1);
      return kv({ dontneed: errno(() => ctx.b.madvise(addr, ctx.page, ctx.c.MADV_DONTNEED!)), munmap: errno(() => ctx.b.munmap(addr, ctx.page)) });
    },
  }),
  msealCase({
    id: 'mseal.madvise.shared-anon',
    title: 'MADV_DONTNEED on sealed read-only shared anonymous memory works (shmem-backed inside the kernel)',
    source: [MST('test_seal_discard_ro_anon_on_shared')],
    expect: since('6.10', 'ok'),
    run: (ctx) => madviseOn(ctx, ctx.c.PROT_READ!, ctx.c.MAP_SHARED! | ctx.c.MAP_ANONYMOUS!, ctx.c.MADV_DONTNEED!),
  }),
  msealCase({
    id: 'mseal.madvise.file-private',
    title: 'MADV_DONTNEED on a sealed read-only private mapping of a memfd works (file-backed)',
    source: [MST('test_seal_discard_ro_anon_on_filebacked'), MADVISE_C('can_madvise_modify: file-backed mappings allowed')],
    expect: since('6.10', 'ok'),
    run: (ctx) => madviseSealedFilePage(ctx, ctx.c.MADV_DONTNEED!),
  }),
  msealCase({
    id: 'mseal.madvise.across',
    title: 'MADV_DONTNEED over [unsealed read-only | sealed read-only] anonymous memory fails with EPERM',
    source: [MST('test_seal_discard_across_vmas')],
    expect: since('6.10', 'EPERM'),
    run: (ctx) => errno(() => ctx.b.madvise(withSealed(ctx, 2, 1, 1, ctx.c.PROT_READ!), 2 * ctx.page, ctx.c.MADV_DONTNEED!)),
  }),
  msealCase({
    id: 'mseal.madvise.non-discard',
    title: 'non-destructive advice (MADV_RANDOM, MADV_WILLNEED, MADV_COLD) on sealed read-only anonymous memory works',
    source: [MST('test_seal_madvise_nodiscard'), SRC.lkml('mseal: fix is_madv_discard() (6.11, 6.10.y)')],
    expect: [
      {
        since: '6.10',
        before: '6.11',
        outcome: 'random=ok willneed=ok cold=ok',
        deviations: [
          {
            observed: ['random=EPERM willneed=ok cold=ok', 'random=EPERM willneed=EPERM cold=EPERM', 'random=ok willneed=EPERM cold=EPERM'],
            reason: 'early 6.10 kernels treated some non-discard advice as discard; fixed by "mseal: fix is_madv_discard()"',
            source: SRC.lkml('mseal: fix is_madv_discard()'),
          },
        ],
      },
      { since: '6.11', outcome: 'random=ok willneed=ok cold=ok' },
    ],
    run: (ctx) => {
      const { c } = ctx;
      const one = (advice: number): string => madviseOn(ctx, c.PROT_READ!, ANON(ctx), advice);
      return kv({ random: one(c.MADV_RANDOM!), willneed: one(c.MADV_WILLNEED!), cold: one(c.MADV_COLD!) });
    },
  }),
  msealCase({
    id: 'mseal.contents.proc-mem-write',
    title: 'mseal freezes the mapping, not the contents: a write through /proc/self/mem to a sealed read-only page succeeds',
    requires: ['mseal', 'procMemForce'],
    source: [
      DOC('mseal does not block: writes through /proc/pid/mem, ptrace'),
      SRC.observed('pwrite of /proc/self/mem'),
      SRC.code('fs/proc/base.c', 'proc_mem_foll_force: proc_mem.force_override, CONFIG_PROC_MEM_FORCE_PTRACE'),
    ],
    expect: since('6.10', 'write=1 byte=0xb mprotect=EPERM'),
    run: (ctx) => {
      const addr = withSealed(ctx, 1, 0, 1, ctx.c.PROT_READ!);
      const fd = openSync('/proc/self/mem', fsConstants.O_RDWR);
      try {
        const n = attempt(() => ctx.b.write(fd, Buffer.from([11]), 0, 1, addr));
        return kv({ write: n, byte: hex(ctx.b.peek(addr, 1)[0]!), mprotect: errno(() => ctx.b.mprotect(addr, ctx.page, RW(ctx))) });
      } finally {
        closeSync(fd);
      }
    },
  }),
  msealCase({
    id: 'mseal.fork.child-sealed',
    title: 'a forked child inherits the seal: munmap of the page in the child fails with EPERM',
    requires: ['mseal', 'secondProcess'],
    source: [SRC.observed('munmap in a forked child'), SRC.code('kernel/fork.c', 'dup_mmap copies vm_flags (VM_SEALED)')],
    expect: since('6.10', 'EPERM'),
    run: (ctx) => {
      const r = ctx.b.forkProbe(ctx.pc.FORK_MUNMAP!, withSealed(ctx, 1, 0, 1), ctx.page, 0, 5);
      return r.errno === null ? `signal ${r.signal}` : r.errno === 0 ? 'ok' : errnoName(r.errno);
    },
  }),
  msealCase({
    id: 'mseal.elf.read-only-segment',
    title: 'sealing a read-only file-backed mapping of the program (its ELF), then mprotect to writable, fails with EPERM',
    source: [SRC.sealElf('test_seal_elf')],
    expect: since('6.10', 'seal=ok mprotect=EPERM'),
    run: (ctx) => {
      const exe = nodeBinary();
      const line = readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .find((l) => / r--p /.test(l) && l.endsWith(exe));
      if (line === undefined) return 'no read-only mapping of the executable';
      const [s, e] = line.split(' ')[0]!.split('-').map((x) => BigInt(`0x${x}`)) as [bigint, bigint];
      const length = Number(e - s);
      const sealResult = errno(() => ctx.b.mseal(s, length, 0));
      return kv({ seal: sealResult, mprotect: errno(() => ctx.b.mprotect(s, length, RW(ctx))) });
    },
  }),
  msealCase({
    id: 'mseal.vma.reseal-merged-range',
    title: 'sealing 3 adjacent pages whose middle one is already sealed seals all three (the merge of the first with the sealed middle must not cut the range short)',
    source: [
      SRC.lkml('mm/mseal: update VMA end correctly on merge (7.0-rc6, 6.18.21)'),
      MST('test_seal_merge_and_split'),
      SRC.observed('6.12.117, 6.18.44, 7.3.4'),
    ],
    expect: (() => {
      const all = 'middle=ok all=ok sealed=sss vmas=1';
      const bug: Deviation = {
        observed: ['ss-', 's-s', '-ss', 's--', '-s-', '--s', '---'].flatMap((m) => [1, 2, 3].map((v) => `middle=ok all=ok sealed=${m} vmas=${v}`)),
        reason: 'mseal_apply() used a stale VMA end after a merge and left part of the range unsealed (6.17 to 6.18.20, 7.0-rc1 to rc5)',
        source: SRC.lkml('mm/mseal: update VMA end correctly on merge'),
      };
      return [
        { since: '6.10', before: '6.17', outcome: all },
        { since: '6.17', before: '6.18.21', outcome: all, deviations: [bug] },
        { since: '6.18.21', before: '6.19', outcome: all },
        { since: '6.19', before: '7.0', outcome: all, deviations: [bug] },
        { since: '7.0', outcome: all },
      ];
    })(),
    run: (ctx) => {
      const addr = anon(ctx, 3);
      const middle = seal(ctx, at(ctx, addr, 1), 1);
      const all = seal(ctx, addr, 3);
      return kv({ middle, all, sealed: sealedMap(ctx, addr, 3), vmas: vmaCount(addr, 3 * ctx.page) });
    },
  }),
  msealCase({
    id: 'mseal.madvise.across-partial',
    title: 'MADV_DONTNEED over [unsealed read-only | sealed read-only] anonymous memory: EPERM, and the sealed page keeps its data; from 6.12 the unsealed page before it is already discarded',
    source: [
      MST('test_seal_discard_across_vmas'),
      SRC.lkml('mm: Optimize mseal checks (6.12: the check moved into the per-VMA walk)'),
      DOC('a partial update might happen'),
      SRC.observed('6.12.117, 6.18.44, 7.3.4'),
    ],
    expect: [{ since: '6.12', outcome: 'madvise=EPERM first=0x0 second=0x2a', note: 'the walk discards the unsealed VMA before it reaches the sealed one' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const addr = anon(ctx, 2);
      b.poke(addr, Buffer.from([0x2a]));
      b.poke(at(ctx, addr, 1), Buffer.from([0x2a]));
      b.mprotect(addr, 2 * ctx.page, c.PROT_READ!);
      b.mseal(at(ctx, addr, 1), ctx.page, 0);
      const madvise = errno(() => b.madvise(addr, 2 * ctx.page, c.MADV_DONTNEED!));
      return kv({ madvise, first: hex(b.peek(addr, 1)[0]!), second: hex(b.peek(at(ctx, addr, 1), 1)[0]!) });
    },
  }),
  msealCase({
    id: 'mseal.mremap.move-across',
    title: 'mremap(MREMAP_MAYMOVE | MREMAP_FIXED) of a range over [unsealed | sealed]: EFAULT (the destination already unmapped) while a move took one VMA; from 6.17 (several VMAs may move) EPERM after the unsealed page has moved; the sealed page stays',
    source: [
      SRC.code('mm/mremap.c', 'check_prep_vma / remap_move: multi-VMA moves (6.17)'),
      MSEAL_C('vma_is_sealed'),
      SRC.observed('6.12.117, 6.18.44, 7.3.4'),
    ],
    expect: [
      {
        since: '6.10',
        before: '6.13',
        outcome: 'mremap=EFAULT first=rw-p second=r--p moved=-',
        note: 'a move spans one VMA only; MREMAP_FIXED has already unmapped the destination when that is found (measured on 6.12.117)',
      },
      {
        since: '6.17',
        outcome: 'mremap=EPERM first=- second=r--p moved=rw-p',
        note: 'several VMAs may move, one by one: the unsealed one has moved when the sealed one refuses (measured on 6.18.44 and 7.3.4)',
      },
    ],
    run: (ctx) => {
      const { c } = ctx;
      const src = anon(ctx, 2);
      ctx.b.mprotect(at(ctx, src, 1), ctx.page, c.PROT_READ!);
      ctx.b.mseal(at(ctx, src, 1), ctx.page, 0);
      const dst = anon(ctx, 2);
      const r = mremap(ctx, src, 2, 2, c.MREMAP_MAYMOVE! | c.MREMAP_FIXED!, dst);
      const [first, second] = pagePerms(ctx, src, 2).split('|');
      return kv({ mremap: r, first: first!, second: second!, moved: pagePerms(ctx, dst, 1) });
    },
  }),
  msealCase({
    id: 'mseal.madvise.guard-install-file',
    title: 'MADV_GUARD_INSTALL on a sealed read-only private file mapping (a memfd): unknown advice before 6.13; from 6.15 guard regions work in file mappings, and the seal does not stop it',
    source: [MADVISE_C('madvise_guard_install; can_madvise_modify: file-backed mappings may be discarded'), SRC.observed('6.12.117, 6.18.44, 7.3.4')],
    expect: [
      { since: '6.10', before: '6.13', outcome: 'EINVAL', note: 'MADV_GUARD_INSTALL arrived in 6.13' },
      { since: '6.15', outcome: 'ok', note: 'guard regions in file-backed mappings from 6.15' },
    ],
    run: (ctx) => madviseSealedFilePage(ctx, ctx.c.MADV_GUARD_INSTALL!),
  }),
  msealCase({
    id: 'mseal.sysmap.stack-unsealed',
    title: 'the kernel never seals the process stack ([stack] has no "sl")',
    requires: [],
    source: [SRC.sysmap('[stack] is not sealed'), DOC('System mappings')],
    expect: since('6.10', 'false'),
    run: () => {
      const text = readFileSync('/proc/self/smaps', 'utf8');
      const at0 = text.indexOf('[stack]');
      if (at0 < 0) return 'no [stack]';
      const flags = /^VmFlags:(.*)$/m.exec(text.slice(at0));
      return String(flags !== null && flags[1]!.trim().split(/\s+/).includes('sl'));
    },
  }),
  msealCase({
    id: 'mseal.sysmap.vdso-sealed',
    title: 'with CONFIG_MSEAL_SYSTEM_MAPPINGS, [vdso] is sealed: munmap of it (in a forked child) fails with EPERM',
    requires: ['mseal', 'sysmapSealed', 'secondProcess'],
    source: [SRC.sysmap('[vdso], [vvar]'), DOC('System mappings (6.15)')],
    expect: since('6.15', 'EPERM'),
    run: (ctx) => {
      const line = readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .find((l) => l.endsWith('[vdso]'));
      if (line === undefined) return 'no [vdso]';
      const [s, e] = line.split(' ')[0]!.split('-').map((x) => BigInt(`0x${x}`)) as [bigint, bigint];
      const r = ctx.b.forkProbe(ctx.pc.FORK_MUNMAP!, s, Number(e - s), 0, 5);
      return r.errno === null ? `signal ${r.signal}` : r.errno === 0 ? 'ok' : errnoName(r.errno);
    },
  }),
];
