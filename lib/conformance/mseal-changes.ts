/**
 * mseal(2) where the answer changed between kernel releases: resealing a
 * range whose middle is sealed (the merge bug of 6.17 to 6.18.20 and
 * 7.0-rc1 to rc5), MADV_DONTNEED and a moving mremap over [unsealed |
 * sealed] (per-VMA checks from 6.12, multi-VMA moves from 6.17), and
 * MADV_GUARD_INSTALL on a sealed file mapping (6.13, file mappings 6.15).
 */
import { anon, errno, hex, kv, pagePerms, SRC, vmaCount } from './helpers.js';
import { at, DOC, MADVISE_C, madviseSealedFilePage, mremap, msealCase, MSEAL_C, MST, seal, sealedMap } from './mseal-helpers.js';
import type { Case, Deviation } from './types.js';

export const cases: readonly Case[] = [
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
];
