/**
 * The size seals: F_SEAL_SHRINK against ftruncate and O_TRUNC, and the
 * growth it allows; F_SEAL_GROW against ftruncate, fallocate and writes
 * past the end (a short count, or EPERM where the end lies in a large
 * folio's first chunk); both together at the current size.
 */
import { closeSync, openSync, constants as fsConstants } from 'node:fs';
import { errno, kv, pwrite, pwriteCount, size, SRC } from './helpers.js';
import { sealed, since } from './seal-helpers.js';
import type { Case, Source } from './types.js';

const MT = SRC.memfdTest;
const LTP1 = (test: string): Source => SRC.ltp('memfd_create/memfd_create01.c', test);
const LTPC = (test: string): Source => SRC.ltp('memfd_create/memfd_create_common.c', test);
const MAN = (section: string): Source => SRC.man('man2const/F_GET_SEALS.2const', section);

function reopenResult(fd: number, flags: number): string {
  try {
    closeSync(openSync(`/proc/self/fd/${fd}`, flags));
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  }
}

/** seals.grow.short-write: page by page (the pages inside are written), or refused whole (the first chunk crosses the end). */
const ACROSS_SHORT = 'across=2*page at-end=EPERM size=2*page';
const ACROSS_REFUSED = 'across=EPERM at-end=EPERM size=2*page';

export const cases: readonly Case[] = [
  {
    id: 'seals.shrink.blocks',
    title: 'F_SEAL_SHRINK: ftruncate to a smaller size and reopening with O_TRUNC fail with EPERM',
    family: 'seals',
    source: [MT('mfd_fail_shrink'), LTP1('test_seal_shrink'), LTPC('check_mfd_non_shrinkable'), MAN('F_SEAL_SHRINK')],
    expect: since('3.17', 'ftruncate=EPERM o-trunc=EPERM size=4*page'),
    run: (ctx) => {
      const fd = sealed(ctx, ctx.c.F_SEAL_SHRINK!);
      return kv({
        ftruncate: errno(() => ctx.b.ftruncate(fd, ctx.page)),
        'o-trunc': reopenResult(fd, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_TRUNC),
        size: size(ctx, fd),
      });
    },
  },
  {
    id: 'seals.shrink.allows-growth',
    title: 'F_SEAL_SHRINK: growing by ftruncate, fallocate, write and pwrite past the end works',
    family: 'seals',
    source: [MT('test_seal_shrink'), LTP1('test_seal_shrink'), LTPC('check_mfd_growable / check_mfd_growable_by_write')],
    expect: since('3.17', 'ftruncate=ok fallocate=ok write=ok pwrite=ok'),
    run: (ctx) => {
      const { b } = ctx;
      const fd = sealed(ctx, ctx.c.F_SEAL_SHRINK!);
      return kv({
        ftruncate: errno(() => b.ftruncate(fd, 8 * ctx.page)),
        fallocate: errno(() => b.fallocate(fd, 0, 8 * ctx.page, ctx.page)),
        write: errno(() => b.write(fd, Buffer.from('x'), 0, 1, -1)),
        pwrite: pwrite(ctx, fd, Buffer.from('y'), 12 * ctx.page),
      });
    },
  },
  {
    id: 'seals.grow.blocks',
    title: 'F_SEAL_GROW: ftruncate larger and fallocate past the end fail with EPERM; fallocate inside works',
    family: 'seals',
    source: [MT('mfd_fail_grow'), LTP1('test_seal_grow'), LTPC('check_mfd_non_growable'), MAN('F_SEAL_GROW')],
    expect: since('3.17', 'ftruncate=EPERM fallocate-past=EPERM fallocate-inside=ok size=4*page'),
    run: (ctx) => {
      const { b } = ctx;
      const fd = sealed(ctx, ctx.c.F_SEAL_GROW!);
      return kv({
        ftruncate: errno(() => b.ftruncate(fd, 8 * ctx.page)),
        'fallocate-past': errno(() => b.fallocate(fd, 0, 4 * ctx.page, ctx.page)),
        'fallocate-inside': errno(() => b.fallocate(fd, 0, 0, ctx.page)),
        size: size(ctx, fd),
      });
    },
  },
  {
    id: 'seals.grow.short-write',
    title: 'F_SEAL_GROW: a pwrite across the end stops there (short count), or fails whole with EPERM where the end lies in its first chunk (a large folio); one at the end fails with EPERM',
    family: 'seals',
    source: [
      MT('mfd_fail_grow_write'),
      LTPC('check_mfd_non_growable_by_write'),
      SRC.code('mm/filemap.c', 'generic_perform_write: chunk = mapping_max_folio_size(mapping)'),
      SRC.code('mm/shmem.c', 'shmem_write_begin: F_SEAL_GROW and pos + len > i_size -> EPERM'),
      SRC.observedOn('6.18.44 (shmem_enabled never: across=2*page; always: EPERM), Debian 6.12.117 and 7.3.4 cloud (THP built in: EPERM)', 'pwrite of 8 pages to a 2-page F_SEAL_GROW memfd'),
    ],
    expect: [
      { before: '6.2', outcome: ACROSS_SHORT, note: 'generic_perform_write() copies page by page (6.1 source)' },
      { since: '6.12', before: '6.13', condition: 'thp', outcome: ACROSS_REFUSED, note: 'every shmem inode may hold large folios (6.12.117 source)' },
      { since: '6.12', before: '6.13', condition: 'no-thp', outcome: ACROSS_SHORT, note: 'without THP writes go page by page (measured on a 6.12.117 defconfig build)' },
      { since: '6.18', before: '6.19', condition: 'shmem-huge', outcome: ACROSS_REFUSED, note: 'shmem_enabled allows huge pages, so memfds hold large folios (measured on 6.18.44)' },
      { since: '6.18', before: '6.19', condition: 'no-shmem-huge', outcome: ACROSS_SHORT, note: 'shmem_enabled never: memfds hold no large folios (measured on 6.18.44)' },
      { since: '7.2', condition: 'thp', outcome: ACROSS_REFUSED, note: 'every shmem inode may hold large folios (7.2.12 and 7.3.4 source; measured on 7.3.4)' },
      { since: '7.2', condition: 'no-thp', outcome: ACROSS_SHORT, note: 'without THP writes go page by page' },
    ],
    run: (ctx) => {
      const fd = sealed(ctx, ctx.c.F_SEAL_GROW!, 2);
      return kv({
        across: pwriteCount(ctx, fd, Buffer.alloc(8 * ctx.page), 0),
        'at-end': pwrite(ctx, fd, Buffer.alloc(10), 2 * ctx.page),
        size: size(ctx, fd),
      });
    },
  },
  {
    id: 'seals.resize.same-size',
    title: 'F_SEAL_SHRINK | F_SEAL_GROW: ftruncate to the current size works; smaller fails with EPERM',
    family: 'seals',
    source: [MT('test_seal_resize'), LTP1('test_seal_resize'), SRC.observed('ftruncate to the same size')],
    expect: since('3.17', 'same=ok smaller=EPERM larger=EPERM'),
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = sealed(ctx, c.F_SEAL_SHRINK! | c.F_SEAL_GROW!);
      return kv({
        same: errno(() => b.ftruncate(fd, 4 * ctx.page)),
        smaller: errno(() => b.ftruncate(fd, ctx.page)),
        larger: errno(() => b.ftruncate(fd, 8 * ctx.page)),
      });
    },
  },
];
