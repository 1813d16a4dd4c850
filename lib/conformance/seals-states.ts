/**
 * File seals in the states the modules before it leave out: F_SEAL_GROW
 * and SHRINK|GROW against shrinking and O_TRUNC, F_SEAL_WRITE with a live
 * read-only shared mapping, F_SEAL_FUTURE_WRITE through a reopened fd, the
 * write seals F_SEAL_EXEC implies, F_SEAL_SEAL across dup, reopen and a
 * second process, and F_SEAL_WRITE against pages an in-flight pipe still
 * holds (vmsplice), which the kernel must wait for and then refuse.
 */
import { constants as fsConstants } from 'node:fs';
import { addSeals, attempt, errno, hex, kv, mapFd, mapResult, memfd, sealsNoExec, size, sized, SRC } from './helpers.js';
import { FUSE_TEST, holdInAnotherProcess, PUNCH, readOnlySharedRanges, readOnlyThenWritable, reopenOrErrno, RW, sealed, splicedPagesBusy } from './seal-helpers.js';
import type { Case, CaseContext, Source } from './types.js';

const MT = SRC.memfdTest;
const LTP1 = (test: string): Source => SRC.ltp('memfd_create/memfd_create01.c', test);
const MEMFD_C = (fn: string): Source => SRC.code('mm/memfd.c', fn);

const TRUNC_OPEN = fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_TRUNC;

/** O_RDWR|O_CREAT|O_TRUNC reopen: 'ok' or the errno name (the new fd is closed at once). */
function truncOpen(ctx: CaseContext, fd: number): string {
  const r = reopenOrErrno(ctx, fd, TRUNC_OPEN);
  if (typeof r === 'string') return r;
  ctx.close(r);
  return 'ok';
}

function read16(ctx: CaseContext, fd: number): string {
  return errno(() => ctx.b.read(fd, Buffer.alloc(16), 0, 16, 0));
}

const READ_ONLY_SHARED = [
  MT('test_seal_write_map_read_shared'),
  SRC.lkml('mm: permit write-sealed memfd read-only shared mappings (6.7)'),
  SRC.lkml('mm: reinstate ability to map write-sealed memfd mappings read-only (6.12.9, 6.13-rc6)'),
];

/** A case of this module: file seals only, in the seals child batch. */
function sealCase(c: Omit<Case, 'family' | 'isolation'>): Case {
  return { ...c, family: 'seals', isolation: 'child' };
}

export const cases: readonly Case[] = [
  sealCase({
    id: 'seals.grow.allows-shrink',
    title: 'F_SEAL_GROW alone still lets the file shrink: ftruncate smaller, and an O_TRUNC reopen to size 0',
    source: [MT('test_seal_grow'), LTP1('test_seal_grow'), SRC.ltp('memfd_create/memfd_create_common.c', 'check_mfd_shrinkable')],
    expect: [{ since: '3.17', outcome: 'seals=0x4 shrink=ok size=2*page trunc-open=ok size=0' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = sealed(ctx, c.F_SEAL_GROW!);
      const seals = sealsNoExec(ctx, fd);
      const shrink = errno(() => b.ftruncate(fd, 2 * ctx.page));
      const shrunk = size(ctx, fd);
      const trunc = truncOpen(ctx, fd);
      return `${kv({ seals, shrink, size: shrunk })} ${kv({ 'trunc-open': trunc, size: size(ctx, fd) })}`;
    },
  }),
  sealCase({
    id: 'seals.resize.blocks-both-ways',
    title: 'F_SEAL_SHRINK | F_SEAL_GROW together: O_TRUNC reopen, fallocate past the end and an 8x pwrite all fail to change the size',
    source: [MT('test_seal_resize'), LTP1('test_seal_resize')],
    expect: [{ since: '3.17', outcome: 'seals=0x6 trunc-open=EPERM fallocate=EPERM pwrite-complete=false size=4*page' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = sealed(ctx, c.F_SEAL_SHRINK! | c.F_SEAL_GROW!);
      const seals = sealsNoExec(ctx, fd);
      const trunc = truncOpen(ctx, fd);
      const fallocate = errno(() => b.fallocate(fd, 0, 4 * ctx.page, 4 * ctx.page));
      // memfd_test only asks that the write not complete: a short count or EPERM, depending on how shmem splits it.
      const big = Buffer.alloc(8 * 4 * ctx.page);
      const n = attempt(() => b.write(fd, big, 0, big.length, 0));
      return kv({ seals, 'trunc-open': trunc, fallocate, 'pwrite-complete': n === big.length, size: size(ctx, fd) });
    },
  }),
  sealCase({
    id: 'seals.resize.allows-io',
    title: 'F_SEAL_SHRINK | F_SEAL_GROW do not block I/O inside the file: read, write, shared writable mappings, mprotect, hole punching',
    source: [MT('test_seal_resize'), LTP1('test_seal_resize'), MT('mfd_assert_write')],
    expect: [{ since: '3.17', outcome: 'read=ok write=ok shared-rw=ok shared-w=ok mprotect=ok punch=ok' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = sealed(ctx, c.F_SEAL_SHRINK! | c.F_SEAL_GROW!);
      const ro = mapFd(ctx, fd, ctx.page, c.PROT_READ!, c.MAP_SHARED!);
      return kv({
        read: read16(ctx, fd),
        write: errno(() => b.write(fd, Buffer.from('x'), 0, 1, 0)),
        'shared-rw': mapResult(ctx, fd, ctx.page, RW(ctx), c.MAP_SHARED!),
        'shared-w': mapResult(ctx, fd, ctx.page, c.PROT_WRITE!, c.MAP_SHARED!),
        mprotect: typeof ro === 'string' ? `mmap-${ro}` : errno(() => b.mprotect(ro, ctx.page, RW(ctx))),
        punch: errno(() => b.fallocate(fd, PUNCH(ctx), 0, ctx.page)),
      });
    },
  }),
  ...(['shrink', 'grow'] as const).map((which) =>
    sealCase({
      id: `seals.${which}.allows-io`,
      title: `F_SEAL_${which.toUpperCase()} alone does not block I/O inside the file: read, write, private and shared writable mappings, mprotect(RW), hole punching`,
      source: [MT(`test_seal_${which}`), LTP1(`test_seal_${which}`)],
      expect: [{ since: '3.17', outcome: `seals=${which === 'shrink' ? '0x2' : '0x4'} read=ok write=ok private-r=ok private-rw=ok shared-rw=ok shared-w=ok mprotect=ok punch=ok` }],
      run: (ctx: CaseContext) => {
        const { b, c } = ctx;
        const fd = sealed(ctx, which === 'shrink' ? c.F_SEAL_SHRINK! : c.F_SEAL_GROW!);
        const ro = mapFd(ctx, fd, ctx.page, c.PROT_READ!, c.MAP_SHARED!);
        return kv({
          seals: sealsNoExec(ctx, fd),
          read: read16(ctx, fd),
          write: errno(() => b.write(fd, Buffer.from('x'), 0, 1, 0)),
          'private-r': mapResult(ctx, fd, ctx.page, c.PROT_READ!, c.MAP_PRIVATE!),
          'private-rw': mapResult(ctx, fd, ctx.page, RW(ctx), c.MAP_PRIVATE!),
          'shared-rw': mapResult(ctx, fd, ctx.page, RW(ctx), c.MAP_SHARED!),
          'shared-w': mapResult(ctx, fd, ctx.page, c.PROT_WRITE!, c.MAP_SHARED!),
          mprotect: typeof ro === 'string' ? `mmap-${ro}` : errno(() => b.mprotect(ro, ctx.page, RW(ctx))),
          punch: errno(() => b.fallocate(fd, PUNCH(ctx), 0, ctx.page)),
        });
      },
    }),
  ),
  sealCase({
    id: 'seals.write.truncate-reopen',
    title: 'F_SEAL_WRITE does not block an O_RDWR | O_CREAT | O_TRUNC reopen through /proc/self/fd: the file becomes empty',
    source: [MT('test_seal_write'), LTP1('test_seal_write')],
    expect: [{ since: '3.17', outcome: 'trunc-open=ok size=0 seals=0x8' }],
    run: (ctx) => {
      const fd = sealed(ctx, ctx.c.F_SEAL_WRITE!);
      const trunc = truncOpen(ctx, fd);
      return kv({ 'trunc-open': trunc, size: size(ctx, fd), seals: sealsNoExec(ctx, fd) });
    },
  }),
  sealCase({
    id: 'seals.future-write.reopened-fd',
    title: 'F_SEAL_FUTURE_WRITE through an fd reopened O_RDWR: reads and private or read-only shared maps work; W-only maps, mprotect(RW) and hole punching fail',
    source: [MT('test_seal_future_write'), SRC.code('include/linux/mm.h', 'seal_check_write')],
    expect: [{ since: '5.1', outcome: 'seals=0x10 read=ok private-r=ok private-rw=ok ro=ok mprotect=EACCES shared-w=EPERM punch=EPERM' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = sealed(ctx, c.F_SEAL_FUTURE_WRITE!);
      const seals = sealsNoExec(ctx, fd);
      const again = reopenOrErrno(ctx, fd, fsConstants.O_RDWR);
      if (typeof again === 'string') return kv({ seals, reopen: again });
      return `${kv({
        seals,
        read: read16(ctx, again),
        'private-r': mapResult(ctx, again, ctx.page, c.PROT_READ!, c.MAP_PRIVATE!),
        'private-rw': mapResult(ctx, again, ctx.page, RW(ctx), c.MAP_PRIVATE!),
      })} ${readOnlyThenWritable(ctx, again, ctx.page)} ${kv({
        'shared-w': mapResult(ctx, again, ctx.page, c.PROT_WRITE!, c.MAP_SHARED!),
        punch: errno(() => b.fallocate(again, PUNCH(ctx), 0, ctx.page)),
      })}`;
    },
  }),
  sealCase({
    id: 'seals.write.live-read-mapping-allows',
    title: 'F_SEAL_WRITE with a live read-only shared mapping: read(), private mappings and another read-only shared mapping still work',
    source: READ_ONLY_SHARED,
    expect: readOnlySharedRanges('map=ok read=ok private-r=ok private-rw=ok shared-r=ok', 'map=EPERM', '6.7'),
    run: (ctx) => {
      const { c } = ctx;
      const fd = sealed(ctx, c.F_SEAL_WRITE!);
      const live = mapFd(ctx, fd, ctx.page, c.PROT_READ!, c.MAP_SHARED!);
      if (typeof live === 'string') return kv({ map: live });
      return kv({
        map: 'ok',
        read: read16(ctx, fd),
        'private-r': mapResult(ctx, fd, ctx.page, c.PROT_READ!, c.MAP_PRIVATE!),
        'private-rw': mapResult(ctx, fd, ctx.page, RW(ctx), c.MAP_PRIVATE!),
        'shared-r': mapResult(ctx, fd, ctx.page, c.PROT_READ!, c.MAP_SHARED!),
      });
    },
  }),
  sealCase({
    id: 'seals.write.live-read-mapping-blocks',
    title: 'F_SEAL_WRITE with a live read-only shared mapping: write(), shared writable maps, mprotect(RW) of it and hole punching all fail',
    source: READ_ONLY_SHARED,
    expect: readOnlySharedRanges('map=ok write=EPERM shared-rw=EPERM shared-w=EPERM mprotect=EACCES punch=EPERM', 'map=EPERM', '6.7'),
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = sealed(ctx, c.F_SEAL_WRITE!);
      const live = mapFd(ctx, fd, ctx.page, c.PROT_READ!, c.MAP_SHARED!);
      if (typeof live === 'string') return kv({ map: live });
      return kv({
        map: 'ok',
        write: errno(() => b.write(fd, Buffer.from('x'), 0, 1, 0)),
        'shared-rw': mapResult(ctx, fd, ctx.page, RW(ctx), c.MAP_SHARED!),
        'shared-w': mapResult(ctx, fd, ctx.page, c.PROT_WRITE!, c.MAP_SHARED!),
        mprotect: errno(() => b.mprotect(live, ctx.page, RW(ctx))),
        punch: errno(() => b.fallocate(fd, PUNCH(ctx), 0, ctx.page)),
      });
    },
  }),
  sealCase({
    id: 'seals.exec.implied-write-blocks-mappings',
    title: 'the write seals F_SEAL_EXEC implies on an executable-mode memfd block shared writable maps, mprotect(RW) and hole punching like an explicit F_SEAL_WRITE',
    source: [MT('test_exec_seal'), MEMFD_C('memfd_add_seals: F_SEAL_EXEC on a mode with x bits adds F_WX_SEALS'), ...READ_ONLY_SHARED.slice(1)],
    expect: [
      { since: '6.7', noexec: [2], outcome: 'create=EACCES', note: 'vm.memfd_noexec=2 refuses MFD_EXEC' },
      ...readOnlySharedRanges('seals=0x3e rw=EPERM w=EPERM ro=ok mprotect=EACCES punch=EPERM', 'seals=0x3e rw=EPERM w=EPERM ro=EPERM punch=EPERM', '6.7'),
    ],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = attempt(() => memfd(ctx, c.MFD_EXEC! | c.MFD_ALLOW_SEALING!));
      if (typeof fd === 'string') return kv({ create: fd });
      b.ftruncate(fd, 4 * ctx.page);
      b.fchmod(fd, 0o700);
      b.addSeals(fd, c.F_SEAL_EXEC!);
      return `${kv({
        seals: hex(b.getSeals(fd)),
        rw: mapResult(ctx, fd, ctx.page, RW(ctx), c.MAP_SHARED!),
        w: mapResult(ctx, fd, ctx.page, c.PROT_WRITE!, c.MAP_SHARED!),
      })} ${readOnlyThenWritable(ctx, fd, ctx.page)} ${kv({ punch: errno(() => b.fallocate(fd, PUNCH(ctx), 0, ctx.page)) })}`;
    },
  }),
  sealCase({
    id: 'seals.share.dup-seal-seal',
    title: 'F_SEAL_SEAL added through a dup() is seen through both fds: neither can add F_SEAL_SEAL or F_SEAL_GROW, even after the dup is closed',
    source: [MT('test_share_dup'), LTP1('test_share_dup')],
    expect: [{ since: '3.17', outcome: 'add=ok seals=0x1/0x1 seal=EPERM/EPERM grow=EPERM/EPERM closed-grow=EPERM' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = sealed(ctx, 0, 1);
      const dup = ctx.fd(b.dup(fd));
      const add = addSeals(ctx, dup, c.F_SEAL_SEAL!);
      const both = (f: (x: number) => string): string => `${f(fd)}/${f(dup)}`;
      const out = kv({
        add,
        seals: both((x) => sealsNoExec(ctx, x)),
        seal: both((x) => addSeals(ctx, x, c.F_SEAL_SEAL!)),
        grow: both((x) => addSeals(ctx, x, c.F_SEAL_GROW!)),
      });
      ctx.close(dup);
      return `${out} ${kv({ 'closed-grow': addSeals(ctx, fd, c.F_SEAL_GROW!) })}`;
    },
  }),
  sealCase({
    id: 'seals.share.reopen-read-only',
    title: 'seals through /proc/self/fd reopens: an O_RDONLY reopen cannot add F_SEAL_SEAL (EPERM), an O_RDWR reopen of it can, and all three fds see it',
    source: [MT('test_share_open'), LTP1('test_share_open'), MEMFD_C('memfd_add_seals: FMODE_WRITE needed')],
    expect: [{ since: '3.17', outcome: 'ro-seal=EPERM rw-seal=ok seals=0xb/0xb/0xb grow=EPERM' }],
    run: (ctx) => {
      const { c } = ctx;
      const fd = sealed(ctx, c.F_SEAL_WRITE! | c.F_SEAL_SHRINK!, 1);
      const ro = reopenOrErrno(ctx, fd, fsConstants.O_RDONLY);
      if (typeof ro === 'string') return kv({ 'reopen-ro': ro });
      const roSeal = addSeals(ctx, ro, c.F_SEAL_SEAL!);
      const rw = reopenOrErrno(ctx, ro, fsConstants.O_RDWR);
      if (typeof rw === 'string') return kv({ 'ro-seal': roSeal, 'reopen-rw': rw });
      const rwSeal = addSeals(ctx, rw, c.F_SEAL_SEAL!);
      return kv({
        'ro-seal': roSeal,
        'rw-seal': rwSeal,
        seals: [fd, ro, rw].map((x) => sealsNoExec(ctx, x)).join('/'),
        grow: addSeals(ctx, fd, c.F_SEAL_GROW!),
      });
    },
  }),
  sealCase({
    id: 'seals.share.other-process',
    title: 'F_SEAL_SEAL added while another process holds the memfd: F_SEAL_WRITE then fails, before and after that process exits',
    requires: ['secondProcess'],
    source: [MT('test_share_fork'), MEMFD_C('memfd_add_seals: F_SEAL_SEAL refuses every later seal, whoever else holds the file')],
    expect: [{ since: '3.17', outcome: 'held=true seal=ok write=EPERM exited=0 write=EPERM seals=0x1' }],
    run: async (ctx) => {
      const { c } = ctx;
      const fd = sealed(ctx, 0, 1);
      const holder = await holdInAnotherProcess(fd);
      const seal = addSeals(ctx, fd, c.F_SEAL_SEAL!);
      const before = addSeals(ctx, fd, c.F_SEAL_WRITE!);
      const code = await holder.release();
      return `${kv({ held: holder.held, seal, write: before, exited: code })} ${kv({ write: addSeals(ctx, fd, c.F_SEAL_WRITE!), seals: sealsNoExec(ctx, fd) })}`;
    },
  }),
  sealCase({
    id: 'seals.write.spliced-pages-busy',
    title: 'F_SEAL_WRITE while a pipe still holds the memfd\'s pages (vmsplice of its shared mapping) fails with EBUSY after the kernel\'s wait; once the pipe is closed it succeeds',
    syscalls: ['vmsplice'],
    source: [
      FUSE_TEST('main, sealing_thread_fn: F_SEAL_WRITE during an in-flight read is EBUSY, and succeeds once the pages are released'),
      MEMFD_C('memfd_wait_for_pins: folios with references beyond the page cache and mappings'),
    ],
    expect: [{ since: '3.17', outcome: 'spliced=1*page write=EBUSY seals=0x0 released-write=ok seals=0x8' }],
    run: (ctx) => splicedPagesBusy(ctx, sized(ctx, 4 * ctx.page), ctx.page),
  }),
];

