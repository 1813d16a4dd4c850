/**
 * mseal(2) (6.10+), the call itself: whether it exists, its flags, start
 * alignment, length rounding and overflow, ranges with holes, idempotence,
 * the smaps flag, and how sealing part of a mapping splits and merges VMAs.
 *
 * The family goes on, in catalog order, in mseal-blocks.ts (what a seal
 * blocks), mseal-scope.ts (contents, fork, the program's ELF),
 * mseal-changes.ts (calls over several VMAs that changed between releases),
 * mseal-sysmap.ts (the stack and [vdso]), mseal-vma.ts and
 * mseal-controls.ts (the same calls on unsealed memory); mseal-helpers.ts
 * holds what they share. Every case runs in the mseal child.
 */
import { anon, errno, kv, pagePerms, SRC, vmaCount, vmFlags } from './helpers.js';
import { at, DOC, LTP1, LTP2, msealCase, MSEAL_C, MST, RW, seal, sealedMap, since } from './mseal-helpers.js';
import type { Case } from './types.js';

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
];
