/**
 * File seals (fcntl F_ADD_SEALS / F_GET_SEALS): each seal against each
 * operation, sealing with live mappings, F_SEAL_FUTURE_WRITE against old and
 * new mappings, F_SEAL_SEAL, and seals across dup and /proc/self/fd reopen.
 *
 * vm.memfd_noexec 1 and 2 add F_SEAL_EXEC to every memfd made without
 * MFD_EXEC; cases about the other seals report the seals without that bit.
 */
import { closeSync, openSync, constants as fsConstants, writeFileSync, unlinkSync } from 'node:fs';
import { addSeals, errno, hex, kv, mapFd, mapResult, memfd, pwrite, pwriteCount, sealsNoExec, size, sized, SRC } from './helpers.js';
import { readOnlySharedRanges } from './seal-helpers.js';
import type { Case, CaseContext, Expectation, Source } from './types.js';

const MT = SRC.memfdTest;
const LTP1 = (test: string): Source => SRC.ltp('memfd_create/memfd_create01.c', test);
const LTPC = (test: string): Source => SRC.ltp('memfd_create/memfd_create_common.c', test);
const MAN = (section: string): Source => SRC.man('man2const/F_GET_SEALS.2const', section);

/** A sealable memfd of `pages` pages with `seals` added. */
function sealed(ctx: CaseContext, seals: number, pages = 4): number {
  const fd = sized(ctx, pages * ctx.page);
  if (seals !== 0) ctx.b.addSeals(fd, seals);
  return fd;
}

function reopen(ctx: CaseContext, fd: number, flags: number): number {
  return ctx.fd(openSync(`/proc/self/fd/${fd}`, flags));
}

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

const RW = (ctx: CaseContext): number => ctx.c.PROT_READ! | ctx.c.PROT_WRITE!;

function since(version: string, outcome: string, note?: string): Expectation[] {
  return [{ since: version, outcome, ...(note === undefined ? {} : { note }) }];
}

export const cases: readonly Case[] = [
  {
    id: 'seals.get.initial',
    title: 'a memfd made with MFD_ALLOW_SEALING starts with no seals (F_SEAL_EXEC where vm.memfd_noexec is 1 or 2)',
    family: 'seals',
    source: [MT('test_basic'), LTP1('test_basic'), MT('test_sysctl_sysctl1')],
    expect: [
      { since: '6.3', noexec: [1, 2], outcome: '0x20' },
      { since: '3.17', outcome: '0x0' },
    ],
    run: (ctx) => hex(ctx.b.getSeals(memfd(ctx, ctx.c.MFD_ALLOW_SEALING!))),
  },
  {
    id: 'seals.get.not-sealable',
    title: 'without MFD_ALLOW_SEALING a memfd carries F_SEAL_SEAL and refuses new seals (EPERM)',
    family: 'seals',
    source: [MT('test_basic'), LTP1('test_no_sealing_without_flag'), MAN('DESCRIPTION: F_SEAL_SEAL set at creation')],
    expect: [
      {
        since: '6.3',
        noexec: [1, 2],
        outcome: 'seals=0x20 add=ok after=0x2e',
        note: 'vm.memfd_noexec 1/2 turns a plain memfd_create into MFD_NOEXEC_SEAL, which implies sealing',
      },
      { since: '3.17', outcome: 'seals=0x1 add=EPERM after=0x1' },
    ],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = memfd(ctx, 0);
      const before = hex(b.getSeals(fd));
      const add = addSeals(ctx, fd, c.F_SEAL_SHRINK! | c.F_SEAL_GROW! | c.F_SEAL_WRITE!);
      return kv({ seals: before, add, after: hex(b.getSeals(fd)) });
    },
  },
  {
    id: 'seals.add.basic',
    title: 'F_SEAL_SHRINK | F_SEAL_WRITE is added, and adding it again is a no-op',
    family: 'seals',
    source: [MT('test_basic'), LTP1('test_basic')],
    expect: since('3.17', 'add=ok seals=0xa again=ok seals=0xa'),
    run: (ctx) => {
      const { c } = ctx;
      const fd = sealed(ctx, 0, 1);
      const s = c.F_SEAL_SHRINK! | c.F_SEAL_WRITE!;
      const first = addSeals(ctx, fd, s);
      const after = sealsNoExec(ctx, fd);
      return `${kv({ add: first, seals: after })} ${kv({ again: addSeals(ctx, fd, s), seals: sealsNoExec(ctx, fd) })}`;
    },
  },
  {
    id: 'seals.add.seal-seal',
    title: 'after F_SEAL_SEAL every F_ADD_SEALS fails with EPERM, even an empty set',
    family: 'seals',
    source: [MT('test_basic'), LTP1('test_basic'), MAN('F_SEAL_SEAL')],
    expect: since('3.17', 'add=ok seals=0xf grow=EPERM empty=EPERM'),
    run: (ctx) => {
      const { c } = ctx;
      const fd = sealed(ctx, c.F_SEAL_SHRINK! | c.F_SEAL_WRITE!, 1);
      const add = addSeals(ctx, fd, c.F_SEAL_GROW! | c.F_SEAL_SEAL!);
      return kv({ add, seals: sealsNoExec(ctx, fd), grow: addSeals(ctx, fd, c.F_SEAL_GROW!), empty: addSeals(ctx, fd, 0) });
    },
  },
  {
    id: 'seals.add.empty',
    title: 'F_ADD_SEALS with no bits succeeds on a sealable memfd',
    family: 'seals',
    source: [SRC.observed('F_ADD_SEALS(0)'), SRC.code('mm/memfd.c', 'memfd_add_seals')],
    expect: since('3.17', 'ok'),
    run: (ctx) => addSeals(ctx, sealed(ctx, 0, 1), 0),
  },
  {
    id: 'seals.add.unknown-bit',
    title: 'an unknown seal bit (0x40) is refused with EINVAL',
    family: 'seals',
    source: [SRC.code('mm/memfd.c', 'memfd_add_seals: F_ALL_SEALS'), SRC.observed('F_ADD_SEALS(0x40)')],
    expect: since('3.17', 'EINVAL'),
    run: (ctx) => addSeals(ctx, sealed(ctx, 0, 1), 0x40),
  },
  {
    id: 'seals.add.exec-bit',
    title: 'F_SEAL_EXEC (0x20) is a known seal from 6.3; before, EINVAL',
    family: 'seals',
    source: [MT('test_exec_seal'), SRC.code('mm/memfd.c', 'F_ALL_SEALS (6.3 adds F_SEAL_EXEC)')],
    expect: [
      { before: '6.3', outcome: 'EINVAL' },
      { since: '6.3', outcome: 'ok' },
    ],
    run: (ctx) => addSeals(ctx, sealed(ctx, 0, 1), ctx.c.F_SEAL_EXEC!),
  },
  {
    id: 'seals.add.upper-bits',
    title: 'F_ADD_SEALS with bit 32 set: truncated to 32 bits from 6.6 (F_SEAL_GROW added), EINVAL before',
    family: 'seals',
    source: [SRC.lkml('fcntl: Cast commands with int args explicitly (6.6)'), SRC.observed('fcntl(F_ADD_SEALS, 1<<32 | F_SEAL_GROW)')],
    expect: [
      { before: '6.6', outcome: ['add=EINVAL seals=0x0', 'add=ok seals=0x4'], note: 'older kernels refused arguments above UINT_MAX; stable trees may carry the 6.6 change' },
      { since: '6.6', outcome: 'add=ok seals=0x4' },
    ],
    run: (ctx) => {
      const fd = sealed(ctx, 0, 1);
      const add = addSeals(ctx, fd, (1n << 32n) | BigInt(ctx.c.F_SEAL_GROW!));
      return kv({ add, seals: sealsNoExec(ctx, fd) });
    },
  },
  {
    id: 'seals.add.read-only-fd',
    title: 'seals cannot be added through a descriptor opened read-only (EPERM); F_GET_SEALS works there',
    family: 'seals',
    source: [MT('test_share_open'), LTP1('test_share_open'), MAN('ERRORS: EPERM')],
    expect: since('3.17', 'add=EPERM get=0x8'),
    run: (ctx) => {
      const { c } = ctx;
      const fd = sealed(ctx, c.F_SEAL_WRITE!, 1);
      const ro = reopen(ctx, fd, fsConstants.O_RDONLY);
      return kv({ add: addSeals(ctx, ro, c.F_SEAL_SEAL!), get: sealsNoExec(ctx, ro) });
    },
  },
  {
    id: 'seals.share.dup',
    title: 'seals belong to the inode: dup()ed descriptors see and extend the same set',
    family: 'seals',
    source: [MT('test_share_dup'), LTP1('test_share_dup')],
    expect: since('3.17', 'fd=0xb dup=0xb growFd=EPERM growDup=EPERM'),
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = sealed(ctx, 0, 1);
      const d = ctx.fd(b.dup(fd));
      b.addSeals(fd, c.F_SEAL_WRITE!);
      b.addSeals(d, c.F_SEAL_SHRINK!);
      b.addSeals(fd, c.F_SEAL_SEAL!);
      return kv({
        fd: sealsNoExec(ctx, fd),
        dup: sealsNoExec(ctx, d),
        growFd: addSeals(ctx, fd, c.F_SEAL_GROW!),
        growDup: addSeals(ctx, d, c.F_SEAL_GROW!),
      });
    },
  },
  {
    id: 'seals.share.reopen',
    title: 'a /proc/self/fd reopen sees seals added through the original, and the original sees its seals',
    family: 'seals',
    source: [MT('test_share_open'), LTP1('test_share_open')],
    expect: since('3.17', 'fd=0xa reopened=0xa'),
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = sealed(ctx, 0, 1);
      const again = reopen(ctx, fd, fsConstants.O_RDWR);
      b.addSeals(fd, c.F_SEAL_WRITE!);
      b.addSeals(again, c.F_SEAL_SHRINK!);
      return kv({ fd: sealsNoExec(ctx, fd), reopened: sealsNoExec(ctx, again) });
    },
  },
  {
    id: 'seals.get.not-shmem',
    title: 'F_GET_SEALS on files outside shmem (a procfs file, the root directory) fails with EINVAL',
    family: 'seals',
    source: [MAN('ERRORS: EINVAL (the file does not support sealing)'), SRC.code('mm/memfd.c', 'memfd_file_seals_ptr')],
    expect: since('3.17', 'procfs=EINVAL directory=EINVAL'),
    run: (ctx) => {
      const proc = ctx.fd(openSync('/proc/self/stat', fsConstants.O_RDONLY));
      const dir = ctx.fd(openSync('/', fsConstants.O_RDONLY));
      return kv({ procfs: errno(() => ctx.b.getSeals(proc)), directory: errno(() => ctx.b.getSeals(dir)) });
    },
  },
  {
    id: 'seals.get.tmpfs-file',
    title: 'a regular file created on tmpfs starts with F_SEAL_SEAL, so no seal can be added',
    family: 'seals',
    requires: ['devShm'],
    source: [SRC.observed('open() in /dev/shm; F_GET_SEALS'), SRC.code('mm/shmem.c', '__shmem_get_inode: info->seals = F_SEAL_SEAL')],
    expect: since('3.17', 'seals=0x1 add=EPERM'),
    run: (ctx) => {
      const path = `/dev/shm/memseal-conform-${process.pid}`;
      writeFileSync(path, 'x');
      ctx.defer(() => unlinkSync(path));
      const fd = ctx.fd(openSync(path, fsConstants.O_RDWR));
      return kv({ seals: hex(ctx.b.getSeals(fd)), add: addSeals(ctx, fd, ctx.c.F_SEAL_WRITE!) });
    },
  },
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
