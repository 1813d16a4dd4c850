/**
 * The write seals: F_SEAL_WRITE against every way of writing (write, pwrite,
 * writev, shared writable mappings, hole punching, growing by a write), what
 * it leaves alone (reads, private mappings, resizing), read-only shared
 * mappings (6.7), and adding it while mappings are alive (EBUSY);
 * F_SEAL_FUTURE_WRITE (5.1), which spares the mappings that exist.
 * vm.memfd_noexec 1 and 2 add F_SEAL_EXEC: the seals reported leave it out.
 */
import { constants as fsConstants } from 'node:fs';
import { addSeals, errno, hex, kv, mapFd, mapResult, pwrite, sealsNoExec, size, SRC } from './helpers.js';
import { readOnlySharedRanges, reopen, RW, sealed, since } from './seal-helpers.js';
import type { Case, Source } from './types.js';

const MT = SRC.memfdTest;
const LTP1 = (test: string): Source => SRC.ltp('memfd_create/memfd_create01.c', test);
const LTPC = (test: string): Source => SRC.ltp('memfd_create/memfd_create_common.c', test);
const MAN = (section: string): Source => SRC.man('man2const/F_GET_SEALS.2const', section);

export const cases: readonly Case[] = [
  {
    id: 'seals.write.blocks-write',
    title: 'F_SEAL_WRITE: write() fails with EPERM',
    family: 'seals',
    source: [MT('mfd_fail_write'), LTP1('test_seal_write'), LTPC('check_mfd_non_writeable'), MAN('F_SEAL_WRITE')],
    expect: since('3.17', 'EPERM'),
    run: (ctx) => errno(() => ctx.b.write(sealed(ctx, ctx.c.F_SEAL_WRITE!), Buffer.from('x'), 0, 1, -1)),
  },
  {
    id: 'seals.write.blocks-pwrite',
    title: 'F_SEAL_WRITE: pwrite() fails with EPERM',
    family: 'seals',
    source: [SRC.code('mm/shmem.c', 'shmem_write_begin: F_SEAL_WRITE -> EPERM'), MAN('F_SEAL_WRITE: write(2) fails with EPERM'), SRC.observed('pwrite of 8 pages at 0')],
    expect: since('3.17', 'EPERM'),
    run: (ctx) => pwrite(ctx, sealed(ctx, ctx.c.F_SEAL_WRITE!), Buffer.from('x'), 0),
  },
  {
    id: 'seals.write.blocks-writev',
    title: 'F_SEAL_WRITE: writev() fails with EPERM',
    family: 'seals',
    source: [MAN('F_SEAL_WRITE: no write(2) family call succeeds'), SRC.observed('writev')],
    expect: since('3.17', 'EPERM'),
    run: (ctx) => errno(() => ctx.b.writev(sealed(ctx, ctx.c.F_SEAL_WRITE!), [Buffer.from('a'), Buffer.from('b')])),
  },
  {
    id: 'seals.write.blocks-shared-writable-mmap',
    title: 'F_SEAL_WRITE: new shared mappings with PROT_WRITE fail with EPERM',
    family: 'seals',
    source: [MT('mfd_fail_write'), LTPC('check_mfd_non_writeable'), MAN('F_SEAL_WRITE')],
    expect: since('3.17', 'rw=EPERM w=EPERM'),
    run: (ctx) => {
      const { c } = ctx;
      const fd = sealed(ctx, c.F_SEAL_WRITE!);
      return kv({ rw: mapResult(ctx, fd, ctx.page, RW(ctx), c.MAP_SHARED!), w: mapResult(ctx, fd, ctx.page, c.PROT_WRITE!, c.MAP_SHARED!) });
    },
  },
  {
    id: 'seals.write.blocks-punch-hole',
    title: 'F_SEAL_WRITE: fallocate(PUNCH_HOLE | KEEP_SIZE) fails with EPERM',
    family: 'seals',
    source: [MT('mfd_fail_write'), LTPC('check_mfd_non_writeable'), SRC.code('mm/shmem.c', 'shmem_fallocate')],
    expect: since('3.17', 'EPERM'),
    run: (ctx) => {
      const { pc } = ctx;
      const fd = sealed(ctx, ctx.c.F_SEAL_WRITE!);
      return errno(() => ctx.b.fallocate(fd, pc.FALLOC_FL_PUNCH_HOLE! | pc.FALLOC_FL_KEEP_SIZE!, 0, ctx.page));
    },
  },
  {
    id: 'seals.write.allows-read-and-private',
    title: 'F_SEAL_WRITE: read(), private read-only and private writable mappings still work',
    family: 'seals',
    source: [MT('mfd_assert_read'), LTPC('check_mfd_readable'), SRC.observed('MAP_PRIVATE PROT_READ|PROT_WRITE')],
    expect: since('3.17', 'read=ok private-r=ok private-rw=ok'),
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = sealed(ctx, c.F_SEAL_WRITE!);
      return kv({
        read: errno(() => b.read(fd, Buffer.alloc(16), 0, 16, 0)),
        'private-r': mapResult(ctx, fd, ctx.page, c.PROT_READ!, c.MAP_PRIVATE!),
        'private-rw': mapResult(ctx, fd, ctx.page, RW(ctx), c.MAP_PRIVATE!),
      });
    },
  },
  {
    id: 'seals.write.private-mprotect',
    title: 'F_SEAL_WRITE: a private read-only mapping can still be made writable',
    family: 'seals',
    source: [SRC.observed('mprotect of a MAP_PRIVATE mapping of a write-sealed memfd'), MAN('F_SEAL_WRITE: private mappings are not affected')],
    expect: since('3.17', 'ok'),
    run: (ctx) => {
      const { c } = ctx;
      const addr = mapFd(ctx, sealed(ctx, c.F_SEAL_WRITE!), ctx.page, c.PROT_READ!, c.MAP_PRIVATE!);
      return typeof addr === 'string' ? `mmap=${addr}` : errno(() => ctx.b.mprotect(addr, ctx.page, RW(ctx)));
    },
  },
  {
    id: 'seals.write.allows-resize',
    title: 'F_SEAL_WRITE alone lets the size change: ftruncate smaller and larger, fallocate past the end',
    family: 'seals',
    source: [MT('test_seal_write'), LTP1('test_seal_write'), LTPC('check_mfd_shrinkable / check_mfd_growable')],
    expect: since('3.17', 'shrink=ok grow=ok fallocate=ok'),
    run: (ctx) => {
      const { b } = ctx;
      const fd = sealed(ctx, ctx.c.F_SEAL_WRITE!);
      return kv({
        shrink: errno(() => b.ftruncate(fd, ctx.page)),
        grow: errno(() => b.ftruncate(fd, 8 * ctx.page)),
        fallocate: errno(() => b.fallocate(fd, 0, 8 * ctx.page, 4 * ctx.page)),
      });
    },
  },
  {
    id: 'seals.write.grow-by-write',
    title: 'F_SEAL_WRITE: a pwrite past the end cannot grow the file either (EPERM)',
    family: 'seals',
    source: [LTP1('test_seal_write'), LTPC('check_mfd_non_growable_by_write')],
    expect: since('3.17', 'pwrite=EPERM size=4*page'),
    run: (ctx) => {
      const fd = sealed(ctx, ctx.c.F_SEAL_WRITE!);
      const r = pwrite(ctx, fd, Buffer.alloc(8 * ctx.page), 0);
      return kv({ pwrite: r, size: size(ctx, fd) });
    },
  },
  {
    id: 'seals.write.read-only-shared-mmap',
    title: 'F_SEAL_WRITE: a new read-only shared mapping is allowed from 6.7 (EPERM before)',
    family: 'seals',
    source: [
      MT('test_seal_write_map_read_shared'),
      SRC.lkml('mm: permit write-sealed memfd read-only shared mappings (6.7; stable backports Aug 2025, 6.1.149)'),
      SRC.lkml('mm: reinstate ability to map write-sealed memfd mappings read-only (6.12.9, 6.13-rc6)'),
    ],
    expect: readOnlySharedRanges('ok', 'EPERM'),
    run: (ctx) => mapResult(ctx, sealed(ctx, ctx.c.F_SEAL_WRITE!), ctx.page, ctx.c.PROT_READ!, ctx.c.MAP_SHARED!),
  },
  {
    id: 'seals.write.mprotect-to-writable',
    title: 'F_SEAL_WRITE: that read-only shared mapping cannot be mprotect()ed writable (EACCES)',
    family: 'seals',
    source: [MT('test_seal_write_map_read_shared'), MT('mfd_fail_write'), SRC.lkml('mm: reinstate ability to map write-sealed memfd mappings read-only (6.12.9)')],
    expect: readOnlySharedRanges('EACCES', 'mmap=EPERM'),
    run: (ctx) => {
      const { c } = ctx;
      const addr = mapFd(ctx, sealed(ctx, c.F_SEAL_WRITE!), ctx.page, c.PROT_READ!, c.MAP_SHARED!);
      return typeof addr === 'string' ? `mmap=${addr}` : errno(() => ctx.b.mprotect(addr, ctx.page, RW(ctx)));
    },
  },
  {
    id: 'seals.write.busy-writable-mapping',
    title: 'F_SEAL_WRITE while a writable shared mapping exists fails with EBUSY; F_SEAL_SHRINK still works',
    family: 'seals',
    source: [MT('test_share_mmap'), LTP1('test_share_mmap'), MAN('ERRORS: EBUSY')],
    expect: since('3.17', 'write=EBUSY seals=0x0 shrink=ok seals=0x2'),
    run: (ctx) => {
      const { c } = ctx;
      const fd = sealed(ctx, 0);
      const addr = mapFd(ctx, fd, ctx.page, RW(ctx), c.MAP_SHARED!);
      if (typeof addr === 'string') return `mmap=${addr}`;
      const first = kv({ write: addSeals(ctx, fd, c.F_SEAL_WRITE!), seals: sealsNoExec(ctx, fd) });
      return `${first} ${kv({ shrink: addSeals(ctx, fd, c.F_SEAL_SHRINK!), seals: sealsNoExec(ctx, fd) })}`;
    },
  },
  {
    id: 'seals.write.busy-read-only-mapping',
    title: 'F_SEAL_WRITE while a read-only shared mapping made from an O_RDWR descriptor exists fails with EBUSY',
    family: 'seals',
    source: [SRC.observed('mmap(PROT_READ, MAP_SHARED) of the O_RDWR fd, then F_SEAL_WRITE'), SRC.lkml('mm: permit write-sealed memfd read-only shared mappings (cover letter)')],
    expect: since('3.17', 'EBUSY', 'such a mapping could still be mprotect()ed writable, so it counts as a writer'),
    run: (ctx) => {
      const { c } = ctx;
      const fd = sealed(ctx, 0);
      const addr = mapFd(ctx, fd, ctx.page, c.PROT_READ!, c.MAP_SHARED!);
      return typeof addr === 'string' ? `mmap=${addr}` : addSeals(ctx, fd, c.F_SEAL_WRITE!);
    },
  },
  {
    id: 'seals.write.read-only-descriptor-mapping',
    title: 'F_SEAL_WRITE with only a shared mapping made from an O_RDONLY reopen: allowed from 6.7 (EBUSY before)',
    family: 'seals',
    source: [SRC.observed('O_RDONLY reopen, mmap(PROT_READ, MAP_SHARED), F_SEAL_WRITE'), SRC.lkml('mm: permit write-sealed memfd read-only shared mappings (6.7)')],
    expect: [
      { before: '6.7', outcome: ['EBUSY', 'ok'], note: 'before 6.7 every shared mapping blocked the seal; backports change that' },
      { since: '6.7', outcome: 'ok' },
    ],
    run: (ctx) => {
      const { c } = ctx;
      const fd = sealed(ctx, 0);
      const ro = reopen(ctx, fd, fsConstants.O_RDONLY);
      const addr = mapFd(ctx, ro, ctx.page, c.PROT_READ!, c.MAP_SHARED!);
      return typeof addr === 'string' ? `mmap=${addr}` : addSeals(ctx, fd, c.F_SEAL_WRITE!);
    },
  },
  {
    id: 'seals.write.private-mapping-ok',
    title: 'F_SEAL_WRITE with only a private mapping alive succeeds',
    family: 'seals',
    source: [MT('test_share_mmap'), LTP1('test_share_mmap')],
    expect: since('3.17', 'ok'),
    run: (ctx) => {
      const { c } = ctx;
      const fd = sealed(ctx, 0);
      const addr = mapFd(ctx, fd, ctx.page, c.PROT_READ!, c.MAP_PRIVATE!);
      return typeof addr === 'string' ? `mmap=${addr}` : addSeals(ctx, fd, c.F_SEAL_WRITE!);
    },
  },
  {
    id: 'seals.future-write.existing-mapping',
    title: 'F_SEAL_FUTURE_WRITE with a writable shared mapping alive succeeds, and that mapping still writes',
    family: 'seals',
    source: [MT('test_seal_future_write'), MAN('F_SEAL_FUTURE_WRITE (since Linux 5.1)')],
    expect: since('5.1', 'add=ok write-through-old-mapping=0x7'),
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = sealed(ctx, 0);
      const addr = mapFd(ctx, fd, ctx.page, RW(ctx), c.MAP_SHARED!);
      if (typeof addr === 'string') return `mmap=${addr}`;
      const add = addSeals(ctx, fd, c.F_SEAL_FUTURE_WRITE!);
      b.poke(addr, Buffer.from([7]));
      const byte = Buffer.alloc(1);
      b.read(fd, byte, 0, 1, 0);
      return kv({ add, 'write-through-old-mapping': hex(byte[0]!) });
    },
  },
  {
    id: 'seals.future-write.blocks-new-writes',
    title: 'F_SEAL_FUTURE_WRITE: write(), new writable shared mappings and hole punching fail with EPERM',
    family: 'seals',
    source: [MT('test_seal_future_write'), MT('mfd_fail_write')],
    expect: since('5.1', 'write=EPERM mmap-rw=EPERM mmap-w=EPERM punch=EPERM'),
    run: (ctx) => {
      const { b, c, pc } = ctx;
      const fd = sealed(ctx, c.F_SEAL_FUTURE_WRITE!);
      return kv({
        write: errno(() => b.write(fd, Buffer.from('x'), 0, 1, 0)),
        'mmap-rw': mapResult(ctx, fd, ctx.page, RW(ctx), c.MAP_SHARED!),
        'mmap-w': mapResult(ctx, fd, ctx.page, c.PROT_WRITE!, c.MAP_SHARED!),
        punch: errno(() => b.fallocate(fd, pc.FALLOC_FL_PUNCH_HOLE! | pc.FALLOC_FL_KEEP_SIZE!, 0, ctx.page)),
      });
    },
  },
  {
    id: 'seals.future-write.read-shared',
    title: 'F_SEAL_FUTURE_WRITE: a read-only shared mapping works but cannot become writable (EACCES)',
    family: 'seals',
    source: [MT('test_seal_future_write'), MT('mfd_assert_read_shared')],
    expect: since('5.1', 'mmap=ok mprotect=EACCES'),
    run: (ctx) => {
      const { c } = ctx;
      const addr = mapFd(ctx, sealed(ctx, c.F_SEAL_FUTURE_WRITE!), ctx.page, c.PROT_READ!, c.MAP_SHARED!);
      if (typeof addr === 'string') return `mmap=${addr}`;
      return kv({ mmap: 'ok', mprotect: errno(() => ctx.b.mprotect(addr, ctx.page, RW(ctx))) });
    },
  },
  {
    id: 'seals.future-write.private-cow',
    title: 'F_SEAL_FUTURE_WRITE: a private writable mapping works; a forked child writing it does not change the parent',
    family: 'seals',
    isolation: 'child',
    requires: ['secondProcess'],
    source: [MT('mfd_assert_fork_private_write')],
    expect: since('5.1', 'mmap=ok child=0x21 parent=0x16'),
    run: (ctx) => {
      const { b, c, pc } = ctx;
      const addr = mapFd(ctx, sealed(ctx, c.F_SEAL_FUTURE_WRITE!), ctx.page, RW(ctx), c.MAP_PRIVATE!);
      if (typeof addr === 'string') return `mmap=${addr}`;
      b.poke(addr, Buffer.from([22]));
      const child = b.forkProbe(pc.FORK_WRITE!, addr, 1, 33, 5);
      return kv({ mmap: 'ok', child: child.value === null ? `signal ${child.signal}` : hex(child.value), parent: hex(b.peek(addr, 1)[0]!) });
    },
  },
  {
    id: 'seals.future-write.reopened',
    title: 'F_SEAL_FUTURE_WRITE holds for a descriptor reopened O_RDWR afterwards',
    family: 'seals',
    source: [MT('test_seal_future_write')],
    expect: since('5.1', 'write=EPERM mmap-rw=EPERM'),
    run: (ctx) => {
      const { c } = ctx;
      const fd = reopen(ctx, sealed(ctx, c.F_SEAL_FUTURE_WRITE!), fsConstants.O_RDWR);
      return kv({ write: errno(() => ctx.b.write(fd, Buffer.from('x'), 0, 1, 0)), 'mmap-rw': mapResult(ctx, fd, ctx.page, RW(ctx), c.MAP_SHARED!) });
    },
  },
];
