/**
 * Seals on hugetlb memfds in the states memfd_test.c's hugetlbfs mode
 * checks and the first hugetlb module does not: F_SEAL_SEAL, a memfd made
 * without MFD_ALLOW_SEALING, each resize seal alone, F_SEAL_WRITE and
 * F_SEAL_FUTURE_WRITE against every kind of mapping and hole punching,
 * sealing with a live mapping, with pages a pipe still holds, and the seals
 * F_SEAL_EXEC implies. Cases that map need a free huge page ('hugepages').
 */
import { constants as fsConstants } from 'node:fs';
import { addSeals, attempt, errno, hex, kv, mapFd, mapResult, modeOf, sealsNoExec, SRC } from './helpers.js';
import { huge, hugeSize } from './hugetlb.js';
import { FUSE_TEST, holdInAnotherProcess, PUNCH, readOnlySharedRanges, readOnlyThenWritable, reopenOrErrno, splicedPagesBusy } from './seal-helpers.js';
import type { Case, CaseContext, Source } from './types.js';

const HT = (test: string): Source => SRC.memfdTest(`${test} (hugetlbfs mode)`);
const HUGETLBFS = (fn: string): Source => SRC.code('fs/hugetlbfs/inode.c', fn);

const RW = (ctx: CaseContext): number => ctx.c.PROT_READ! | ctx.c.PROT_WRITE!;

/** A sealable hugetlb memfd of `pages` huge pages with `seals` added. */
function sealedHuge(ctx: CaseContext, seals: number, pages = 1): number {
  const fd = huge(ctx, ctx.c.MFD_ALLOW_SEALING!);
  ctx.b.ftruncate(fd, pages * hugeSize(ctx));
  if (seals !== 0) ctx.b.addSeals(fd, seals);
  return fd;
}

/** A mapping of one huge page of `fd` (unmapped when the case ends), or the errno name. */
function mapHuge(ctx: CaseContext, fd: number, prot: number, flags: number): bigint | string {
  return mapFd(ctx, fd, hugeSize(ctx), prot, flags);
}

/** As mapHuge, but only 'ok' or the errno name. */
function mapHugeResult(ctx: CaseContext, fd: number, prot: number, flags: number): string {
  return mapResult(ctx, fd, hugeSize(ctx), prot, flags);
}

function punch(ctx: CaseContext, fd: number): string {
  return errno(() => ctx.b.fallocate(fd, PUNCH(ctx), 0, hugeSize(ctx)));
}

function hugeCase(c: Omit<Case, 'family' | 'isolation'>): Case {
  return { ...c, family: 'hugetlb', isolation: 'child', requires: ['hugetlb', ...(c.requires ?? [])] };
}

export const cases: readonly Case[] = [
  hugeCase({
    id: 'hugetlb.seals.seal-seal',
    title: 'a sealable hugetlb memfd takes SHRINK|WRITE (again, as a no-op), then GROW|SEAL; after F_SEAL_SEAL any further seal fails',
    source: [HT('test_basic'), HUGETLBFS('hugetlbfs_file_setup / memfd_add_seals')],
    expect: [{ since: '4.16', outcome: 'add=ok again=ok seals=0xa seal=ok seals=0xf more=EPERM' }],
    run: (ctx) => {
      const { c } = ctx;
      const fd = sealedHuge(ctx, 0);
      const sw = c.F_SEAL_SHRINK! | c.F_SEAL_WRITE!;
      const add = addSeals(ctx, fd, sw);
      const again = addSeals(ctx, fd, sw);
      const first = sealsNoExec(ctx, fd);
      const seal = addSeals(ctx, fd, c.F_SEAL_GROW! | c.F_SEAL_SEAL!);
      return `${kv({ add, again, seals: first })} ${kv({ seal, seals: sealsNoExec(ctx, fd), more: addSeals(ctx, fd, c.F_SEAL_SHRINK!) })}`;
    },
  }),
  hugeCase({
    id: 'hugetlb.seals.not-sealable',
    title: 'a hugetlb memfd made without MFD_ALLOW_SEALING carries F_SEAL_SEAL and refuses seals (EPERM)',
    source: [HT('test_basic'), HUGETLBFS('hugetlbfs_file_setup: seals = F_SEAL_SEAL')],
    expect: [
      { since: '6.3', noexec: [1, 2], outcome: 'seals=0x20 add=ok after=0x2e', note: 'vm.memfd_noexec 1/2 makes a plain memfd MFD_NOEXEC_SEAL, which implies sealing' },
      { since: '4.16', outcome: 'seals=0x1 add=EPERM after=0x1' },
    ],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = huge(ctx);
      const before = hex(b.getSeals(fd));
      const add = addSeals(ctx, fd, c.F_SEAL_SHRINK! | c.F_SEAL_GROW! | c.F_SEAL_WRITE!);
      return kv({ seals: before, add, after: hex(b.getSeals(fd)) });
    },
  }),
  hugeCase({
    id: 'hugetlb.seals.shrink',
    title: 'F_SEAL_SHRINK on a hugetlb memfd: ftruncate smaller and an O_TRUNC reopen fail (EPERM), ftruncate larger works',
    source: [HT('test_seal_shrink'), HUGETLBFS('hugetlbfs_setattr: F_SEAL_SHRINK')],
    expect: [{ since: '4.16', outcome: 'shrink=EPERM trunc-open=EPERM grow=ok size=4' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const H = hugeSize(ctx);
      const fd = sealedHuge(ctx, c.F_SEAL_SHRINK!, 2);
      const shrink = errno(() => b.ftruncate(fd, H));
      const t = reopenOrErrno(ctx, fd, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_TRUNC);
      const grow = errno(() => b.ftruncate(fd, 4 * H));
      return kv({ shrink, 'trunc-open': typeof t === 'string' ? t : 'ok', grow, size: b.fstat(fd).size / H });
    },
  }),
  hugeCase({
    id: 'hugetlb.seals.grow',
    title: 'F_SEAL_GROW on a hugetlb memfd: ftruncate larger and fallocate past the end fail (EPERM), ftruncate smaller works',
    source: [HT('test_seal_grow'), HUGETLBFS('hugetlbfs_fallocate: F_SEAL_GROW'), HUGETLBFS('hugetlbfs_setattr: F_SEAL_GROW')],
    expect: [{ since: '4.16', outcome: 'grow=EPERM fallocate=EPERM shrink=ok size=1' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const H = hugeSize(ctx);
      const fd = sealedHuge(ctx, c.F_SEAL_GROW!, 2);
      const grow = errno(() => b.ftruncate(fd, 4 * H));
      const fallocate = errno(() => b.fallocate(fd, 0, 2 * H, H));
      const shrink = errno(() => b.ftruncate(fd, H));
      return kv({ grow, fallocate, shrink, size: b.fstat(fd).size / H });
    },
  }),
  hugeCase({
    id: 'hugetlb.seals.shared-fds',
    title: 'seals on a hugetlb memfd are shared by a dup(), an O_RDWR reopen through /proc/self/fd, and the copy a second process holds',
    requires: ['secondProcess'],
    source: [HT('test_share_dup'), HT('test_share_open'), HT('test_share_fork')],
    expect: [{ since: '4.16', outcome: 'dup-add=ok reopen-add=ok seals=0x6/0x6/0x6 held=true seal=ok write=EPERM exited=0 write=EPERM seals=0x7' }],
    run: async (ctx) => {
      const { b, c } = ctx;
      const fd = sealedHuge(ctx, 0);
      const dup = ctx.fd(b.dup(fd));
      const dupAdd = addSeals(ctx, dup, c.F_SEAL_SHRINK!);
      const again = reopenOrErrno(ctx, fd, fsConstants.O_RDWR);
      if (typeof again === 'string') return kv({ 'dup-add': dupAdd, reopen: again });
      const reopenAdd = addSeals(ctx, again, c.F_SEAL_GROW!);
      const seen = [fd, dup, again].map((x) => sealsNoExec(ctx, x)).join('/');
      const holder = await holdInAnotherProcess(fd);
      const seal = addSeals(ctx, fd, c.F_SEAL_SEAL!);
      const before = addSeals(ctx, dup, c.F_SEAL_WRITE!);
      const code = await holder.release();
      return `${kv({ 'dup-add': dupAdd, 'reopen-add': reopenAdd, seals: seen, held: holder.held, seal, write: before, exited: code })} ${kv({ write: addSeals(ctx, again, c.F_SEAL_WRITE!), seals: sealsNoExec(ctx, fd) })}`;
    },
  }),
  hugeCase({
    id: 'hugetlb.seals.write-mappings',
    title: 'F_SEAL_WRITE on a hugetlb memfd: private maps and a read-only shared map work; W-only shared maps, mprotect(RW) of the read-only one and hole punching fail',
    requires: ['hugepages'],
    source: [HT('test_seal_write'), HT('test_seal_write_map_read_shared'), HUGETLBFS('hugetlbfs_punch_hole: F_SEAL_WRITE')],
    expect: readOnlySharedRanges(
      'private-r=ok private-rw=ok shared-w=EPERM ro=ok mprotect=EACCES punch=EPERM',
      'private-r=ok private-rw=ok shared-w=EPERM ro=EPERM punch=EPERM',
      '6.7',
    ),
    run: (ctx) => {
      const { c } = ctx;
      const fd = sealedHuge(ctx, c.F_SEAL_WRITE!);
      return `${kv({
        'private-r': mapHugeResult(ctx, fd, c.PROT_READ!, c.MAP_PRIVATE!),
        'private-rw': mapHugeResult(ctx, fd, RW(ctx), c.MAP_PRIVATE!),
        'shared-w': mapHugeResult(ctx, fd, c.PROT_WRITE!, c.MAP_SHARED!),
      })} ${readOnlyThenWritable(ctx, fd, hugeSize(ctx))} ${kv({ punch: punch(ctx, fd) })}`;
    },
  }),
  hugeCase({
    id: 'hugetlb.seals.future-write-reopened',
    title: 'F_SEAL_FUTURE_WRITE on a hugetlb memfd, through an O_RDWR reopen: shared writable maps, mprotect(RW) and hole punching fail; a private copy-on-write map stays private',
    requires: ['hugepages'],
    source: [HT('test_seal_future_write'), SRC.lkml('hugetlbfs: add F_SEAL_FUTURE_WRITE support (5.13)')],
    expect: [{ since: '5.13', outcome: 'seals=0x10 shared-rw=EPERM ro=ok mprotect=EACCES punch=EPERM private-write=ok shared-sees=0x0' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = sealedHuge(ctx, c.F_SEAL_FUTURE_WRITE!);
      const seals = sealsNoExec(ctx, fd);
      const again = reopenOrErrno(ctx, fd, fsConstants.O_RDWR);
      if (typeof again === 'string') return kv({ seals, reopen: again });
      const head = `${kv({ seals, 'shared-rw': mapHugeResult(ctx, again, RW(ctx), c.MAP_SHARED!) })} ${readOnlyThenWritable(ctx, again, hugeSize(ctx))} ${kv({ punch: punch(ctx, again) })}`;
      // The selftest writes its private mapping in a forked child; a write here through a private map shows the same copy-on-write.
      const priv = mapHuge(ctx, again, RW(ctx), c.MAP_PRIVATE!);
      const shared = mapHuge(ctx, again, c.PROT_READ!, c.MAP_SHARED!);
      if (typeof priv === 'string' || typeof shared === 'string') return `${head} ${kv({ private: String(priv), shared: String(shared) })}`;
      const write = errno(() => b.poke(priv, Buffer.from([0x5a])));
      return `${head} ${kv({ 'private-write': write, 'shared-sees': hex(b.peek(shared, 1)[0]!) })}`;
    },
  }),
  hugeCase({
    id: 'hugetlb.seals.busy-mapping',
    title: 'a live writable shared mapping of a hugetlb memfd makes F_SEAL_WRITE fail (EBUSY) while F_SEAL_SHRINK works; a private mapping does not block it',
    requires: ['hugepages'],
    source: [HT('test_share_mmap'), SRC.code('mm/memfd.c', 'memfd_add_seals: mapping_deny_writable')],
    expect: [{ since: '4.16', outcome: 'write=EBUSY shrink=ok seals=0x2 private-then-write=ok seals=0x8' }],
    run: (ctx) => {
      const { c } = ctx;
      const fd = sealedHuge(ctx, 0);
      const shared = mapHuge(ctx, fd, RW(ctx), c.MAP_SHARED!);
      if (typeof shared === 'string') return kv({ shared });
      const write = addSeals(ctx, fd, c.F_SEAL_WRITE!);
      const shrink = addSeals(ctx, fd, c.F_SEAL_SHRINK!);
      const first = sealsNoExec(ctx, fd);
      const other = sealedHuge(ctx, 0);
      const priv = mapHuge(ctx, other, RW(ctx), c.MAP_PRIVATE!);
      if (typeof priv === 'string') return kv({ write, shrink, seals: first, private: priv });
      return `${kv({ write, shrink, seals: first })} ${kv({ 'private-then-write': addSeals(ctx, other, c.F_SEAL_WRITE!), seals: sealsNoExec(ctx, other) })}`;
    },
  }),
  hugeCase({
    id: 'hugetlb.seals.spliced-pages-busy',
    title: 'F_SEAL_WRITE on a hugetlb memfd while a pipe still holds its huge page (vmsplice) fails with EBUSY; once the pipe is closed it succeeds',
    requires: ['hugepages'],
    syscalls: ['vmsplice'],
    source: [FUSE_TEST('run_fuse_test.sh hugetlbfs: the same race on a hugetlb memfd'), SRC.code('mm/memfd.c', 'memfd_wait_for_pins')],
    expect: [{ since: '4.16', outcome: 'spliced=1*page write=EBUSY seals=0x0 released-write=ok seals=0x8' }],
    run: (ctx) => splicedPagesBusy(ctx, sealedHuge(ctx, 0), hugeSize(ctx), false),
  }),
  hugeCase({
    id: 'hugetlb.exec.seal-exec-on-exec-memfd',
    title: 'F_SEAL_EXEC added to an MFD_EXEC hugetlb memfd at mode 0644 should forbid fchmod(0777)',
    source: [HT('test_exec_seal'), HUGETLBFS('hugetlbfs_setattr checks only F_SEAL_SHRINK and F_SEAL_GROW')],
    expect: [
      { since: '6.3', noexec: [2], outcome: 'create=EACCES', note: 'vm.memfd_noexec=2 refuses MFD_EXEC' },
      {
        since: '6.3',
        outcome: 'seals=0x20 fchmod=EPERM mode=0644',
        deviations: [
          {
            observed: 'seals=0x20 fchmod=ok mode=0777',
            reason: 'known kernel gap: hugetlbfs_setattr() does not check F_SEAL_EXEC, so the x bits of a hugetlb memfd with F_SEAL_EXEC can be set (still so on 6.18 and 7.3)',
            source: HUGETLBFS('hugetlbfs_setattr'),
          },
        ],
      },
    ],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = attempt(() => huge(ctx, c.MFD_EXEC! | c.MFD_ALLOW_SEALING!));
      if (typeof fd === 'string') return kv({ create: fd });
      b.fchmod(fd, 0o644);
      b.addSeals(fd, c.F_SEAL_EXEC!);
      return kv({ seals: hex(b.getSeals(fd)), fchmod: errno(() => b.fchmod(fd, 0o777)), mode: modeOf(ctx, fd) });
    },
  }),
  hugeCase({
    id: 'hugetlb.exec.implied-write-blocks-mappings',
    title:
      'F_SEAL_EXEC on an executable-mode (0700) hugetlb memfd: fchmod to 0711 or 0600 should fail, and the write seals it implies block shared writable mappings and hole punching',
    requires: ['hugepages'],
    source: [HT('test_exec_seal'), SRC.code('mm/memfd.c', 'memfd_add_seals: F_SEAL_EXEC implies F_WX_SEALS'), HUGETLBFS('hugetlbfs_setattr checks only F_SEAL_SHRINK and F_SEAL_GROW')],
    expect: [
      { since: '6.3', noexec: [2], outcome: 'create=EACCES', note: 'vm.memfd_noexec=2 refuses MFD_EXEC' },
      {
        since: '6.3',
        outcome: 'seals=0x3e 0711=EPERM 0600=EPERM rw=EPERM w=EPERM punch=EPERM',
        deviations: [
          {
            observed: 'seals=0x3e 0711=ok 0600=ok rw=EPERM w=EPERM punch=EPERM',
            reason:
              'known kernel gap: hugetlbfs_setattr() does not check F_SEAL_EXEC, so both modes are taken (the implied write seals still hold; 6.12.118 and 7.3.4 source, measured on 6.18.44)',
            source: HUGETLBFS('hugetlbfs_setattr'),
          },
        ],
      },
    ],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = attempt(() => huge(ctx, c.MFD_EXEC! | c.MFD_ALLOW_SEALING!));
      if (typeof fd === 'string') return kv({ create: fd });
      b.ftruncate(fd, hugeSize(ctx));
      b.fchmod(fd, 0o700);
      b.addSeals(fd, c.F_SEAL_EXEC!);
      return kv({
        seals: hex(b.getSeals(fd)),
        '0711': errno(() => b.fchmod(fd, 0o711)),
        '0600': errno(() => b.fchmod(fd, 0o600)),
        rw: mapHugeResult(ctx, fd, RW(ctx), c.MAP_SHARED!),
        w: mapHugeResult(ctx, fd, c.PROT_WRITE!, c.MAP_SHARED!),
        punch: punch(ctx, fd),
      });
    },
  }),
];
