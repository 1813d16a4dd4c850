/**
 * mseal(2), every operation a seal blocks: mprotect and pkey_mprotect,
 * munmap, mremap (in place, moving the sealed source, onto a sealed
 * destination, MREMAP_DONTUNMAP), mmap MAP_FIXED over it, and discarding
 * madvise on read-only anonymous memory, with the advice and mappings it
 * leaves alone; partial ranges and ranges across sealed and unsealed VMAs.
 */
import { anon, errno, kv, pagePerms, SRC } from './helpers.js';
import { ANON, at, DOC, LTP1, MADVISE_C, madviseOn, madviseSealedFilePage, mremap, msealCase, MST, RW, seal, since, withSealed } from './mseal-helpers.js';
import type { Case } from './types.js';

export const cases: readonly Case[] = [
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
];
