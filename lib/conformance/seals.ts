/**
 * File seals (fcntl F_ADD_SEALS / F_GET_SEALS), reading and adding them:
 * the seals a memfd starts with, which bits F_ADD_SEALS takes and from which
 * descriptors, F_SEAL_SEAL, seals shared across dup and /proc/self/fd
 * reopen, and files outside memfd_create.
 *
 * vm.memfd_noexec 1 and 2 add F_SEAL_EXEC to every memfd made without
 * MFD_EXEC; cases about the other seals report the seals without that bit.
 * The family goes on, in catalog order, in seals-write.ts (F_SEAL_WRITE and
 * F_SEAL_FUTURE_WRITE), seals-size.ts (F_SEAL_SHRINK and F_SEAL_GROW) and
 * seals-states.ts; seal-helpers.ts holds what they share.
 */
import { openSync, constants as fsConstants, writeFileSync, unlinkSync } from 'node:fs';
import { addSeals, errno, hex, kv, memfd, sealsNoExec, SRC } from './helpers.js';
import { reopen, sealed, since } from './seal-helpers.js';
import type { Case, Source } from './types.js';

const MT = SRC.memfdTest;
const LTP1 = (test: string): Source => SRC.ltp('memfd_create/memfd_create01.c', test);
const MAN = (section: string): Source => SRC.man('man2const/F_GET_SEALS.2const', section);

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
];
