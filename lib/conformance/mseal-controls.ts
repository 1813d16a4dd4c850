/**
 * The mseal family's seal=false controls, after the sealed cases they stand
 * beside: on unsealed memory the same mremap, mmap MAP_FIXED, madvise,
 * mprotect and munmap calls succeed, so a failing sealed case can be told
 * from a broken call.
 */
import { anon, errno, kv, mapsIn, vmaCount } from './helpers.js';
import { ANON, at, mprotect, MST, RW, since } from './mseal-helpers.js';
import type { Case } from './types.js';

/**
 * A control case: plain memory calls without mseal, in the same child as the
 * sealed cases they stand beside. They need mseal all the same: a control
 * only means something next to the sealed case it tells apart, and where
 * mseal is missing or filtered the whole family reports that instead.
 */
function controlCase(c: Omit<Case, 'family' | 'isolation' | 'requires'>): Case {
  return { ...c, family: 'mseal', isolation: 'child', requires: ['mseal'] };
}

export const cases: readonly Case[] = [
  controlCase({
    id: 'mseal.control.mremap',
    title: 'control: on unsealed memory mremap shrinks and grows in place, moves with MAYMOVE | FIXED, and moves with DONTUNMAP',
    source: [MST('test_seal_mremap_shrink(false), test_seal_mremap_expand(false), test_seal_mremap_move_fixed(false), test_seal_mremap_move_dontunmap(false)')],
    expect: since('5.7', 'shrink=ok expand=ok move-fixed=ok dontunmap=ok', 'MREMAP_DONTUNMAP exists from 5.7'),
    run: (ctx) => {
      const { b, c } = ctx;
      const P = ctx.page;
      const mremap = (old: bigint, oldPages: number, newPages: number, flags: number, dest = 0n): string => {
        try {
          const to = b.mremap(old, oldPages * P, newPages * P, flags, dest);
          if (to !== old) ctx.mapped(to, newPages * P);
          return 'ok';
        } catch (err) {
          return errno(() => { throw err; });
        }
      };
      const a = anon(ctx, 4, c.PROT_READ!);
      const shrink = mremap(a, 4, 2, 0);
      const e = anon(ctx, 8, c.PROT_READ!);
      b.munmap(at(ctx, e, 4), 4 * P);
      const expand = mremap(e, 4, 6, 0);
      const m = anon(ctx, 4, c.PROT_READ!);
      const dest = anon(ctx, 4, c.PROT_NONE!);
      const moveFixed = mremap(m, 4, 2, c.MREMAP_MAYMOVE! | c.MREMAP_FIXED!, dest);
      const d = anon(ctx, 4, c.PROT_READ!);
      const dontunmap = mremap(d, 4, 4, c.MREMAP_MAYMOVE! | c.MREMAP_DONTUNMAP!);
      return kv({ shrink, expand, 'move-fixed': moveFixed, dontunmap });
    },
  }),
  controlCase({
    id: 'mseal.control.mmap-fixed',
    title: 'control: on unsealed memory mmap(MAP_FIXED) may replace a mapping, extend over its end, or cover part of it',
    source: [MST('test_seal_mmap_overwrite_prot(false), test_seal_mmap_expand(false), test_seal_mmap_shrink(false)')],
    expect: since('3.2', 'over=ok expand=ok shrink=ok perms=rw-p'),
    run: (ctx) => {
      const { b, c } = ctx;
      const fixed = (addr: bigint, pages: number): string => errno(() => b.mmap(addr, pages * ctx.page, RW(ctx), ANON(ctx) | c.MAP_FIXED!, -1, 0));
      const a = anon(ctx, 4, c.PROT_READ!);
      const over = fixed(a, 4);
      const e = anon(ctx, 12, c.PROT_READ!);
      b.munmap(at(ctx, e, 8), 4 * ctx.page);
      const expand = fixed(e, 12);
      const s = anon(ctx, 4, c.PROT_READ!);
      const shrink = fixed(s, 2);
      return kv({ over, expand, shrink, perms: mapsIn(s, ctx.page)[0]?.perms ?? 'none' });
    },
  }),
  controlCase({
    id: 'mseal.control.madvise',
    title: 'control: on unsealed read-only anonymous memory the discarding madvise calls and munmap succeed',
    source: [MST('test_seal_discard_ro_anon(false)'), MST('test_seal_madvise_nodiscard(false)')],
    expect: since('5.18', 'dontneed=ok free=ok dontneed-locked=ok willneed=ok munmap=ok', 'MADV_DONTNEED_LOCKED exists from 5.18'),
    run: (ctx) => {
      const { b, c } = ctx;
      const addr = anon(ctx, 4, c.PROT_READ!);
      const advise = (advice: number): string => errno(() => b.madvise(addr, 4 * ctx.page, advice));
      return kv({
        dontneed: advise(c.MADV_DONTNEED!),
        free: advise(c.MADV_FREE!),
        'dontneed-locked': advise(c.MADV_DONTNEED_LOCKED!),
        willneed: advise(c.MADV_WILLNEED!),
        munmap: errno(() => b.munmap(addr, 4 * ctx.page)),
      });
    },
  }),
  controlCase({
    id: 'mseal.control.mprotect',
    title: 'control: on unsealed memory mprotect of the first or last pages, an unaligned length (rounded up), across two VMAs and of a partial range all succeed',
    source: [MST('test_seal_start_mprotect(false), test_seal_end_mprotect(false), test_seal_mprotect_unalign_len(false), test_seal_mprotect_two_vma(false), test_seal_mprotect_partial_mprotect(false)')],
    expect: since('3.2', 'start=ok end=ok unaligned=ok two-vma=ok partial=ok perms=r--p|r--p|r--p|r--p'),
    run: (ctx) => {
      const { b, c } = ctx;
      const addr = anon(ctx, 4, c.PROT_READ!);
      const start = mprotect(ctx, addr, 2, RW(ctx));
      const end = mprotect(ctx, at(ctx, addr, 2), 2, RW(ctx));
      const unaligned = errno(() => b.mprotect(addr, ctx.page + 1, c.PROT_READ!));
      const twoVma = mprotect(ctx, addr, 4, c.PROT_READ!);
      const partial = mprotect(ctx, addr, 1, c.PROT_READ!);
      const perms = [0, 1, 2, 3].map((i) => mapsIn(at(ctx, addr, i), 1)[0]?.perms ?? '-').join('|');
      return kv({ start, end, unaligned, 'two-vma': twoVma, partial, perms });
    },
  }),
  controlCase({
    id: 'mseal.control.munmap-holes',
    title: 'control: on unsealed memory munmap over [mapped | hole | mapped] succeeds and leaves nothing mapped',
    source: [MST('test_munmap_start_freed(false), test_munmap_middle_freed(false), test_munmap_end_freed(false)')],
    expect: since('3.2', 'munmap=ok left=0'),
    run: (ctx) => {
      const addr = anon(ctx, 4, ctx.c.PROT_READ!);
      ctx.b.munmap(at(ctx, addr, 1), 2 * ctx.page);
      const r = errno(() => ctx.b.munmap(addr, 4 * ctx.page));
      return kv({ munmap: r, left: vmaCount(addr, 4 * ctx.page) });
    },
  }),
];
