/**
 * hugetlb memfds (MFD_HUGETLB, 4.14+): creation with and without reserved
 * huge pages, page-size flags, what hugetlbfs refuses, seals on hugetlbfs,
 * the exec flags there, and the F_SEAL_EXEC gap in hugetlbfs's chmod.
 */
import { existsSync } from 'node:fs';
import { addSeals, attempt, byArch, errno, hex, kv, modeOf, SRC } from './helpers.js';
import type { Case, CaseContext, Expectation, Source } from './types.js';

const MAN = (section: string): Source => SRC.man('man2/memfd_create.2', section);
const HUGETLBFS = (fn: string): Source => SRC.code('fs/hugetlbfs/inode.c', fn);
const LTP3 = (test: string): Source => SRC.ltp('memfd_create/memfd_create03.c', test);
const LTP4 = (test: string): Source => SRC.ltp('memfd_create/memfd_create04.c', test);

/** The default huge page size in bytes (2 MiB when the machine does not say). */
export function hugeSize(ctx: CaseContext): number {
  return (ctx.env.hugepages.sizeKiB ?? 2048) * 1024;
}

/** MFD_HUGE_<log2 size> flag bits, as an unsigned 32-bit value. */
function hugeFlag(ctx: CaseContext, log2: number): number {
  return ((log2 << ctx.c.MFD_HUGE_SHIFT!) | ctx.c.MFD_HUGETLB!) >>> 0;
}

/** memfd_create with MFD_HUGETLB of 2^log2 bytes: ok, or the errno name. */
function hugeCreate(ctx: CaseContext, log2: number): string {
  return errno(() => ctx.fd(ctx.b.memfdCreate('h', hugeFlag(ctx, log2))));
}

/**
 * arm64's huge page sizes (arch/arm64/mm/hugetlbpage.c, hugetlbpage_init, 6.1
 * to 7.3): PUD (1 GiB, 4 KiB pages only: pud_sect_supported()), contiguous
 * PMD, PMD and contiguous PTE: 1 GiB, 32 MiB, 2 MiB and 64 KiB with 4 KiB
 * pages; 1 GiB, 32 MiB and 2 MiB with 16 KiB pages (CONFIG_ARM64_CONT_PTE_SHIFT,
 * CONFIG_ARM64_CONT_PMD_SHIFT).
 */
const ARM64_HSTATES = SRC.code('arch/arm64/mm/hugetlbpage.c', 'hugetlbpage_init: PUD (4K pages only), CONT_PMD, PMD, CONT_PTE hstates');

/** A hugetlb memfd (MFD_HUGETLB | MFD_CLOEXEC | extra), closed when the case ends. */
export function huge(ctx: CaseContext, extra = 0): number {
  return ctx.fd(ctx.b.memfdCreate('conform-huge', (ctx.c.MFD_HUGETLB! | ctx.c.MFD_CLOEXEC! | extra) >>> 0));
}

function hugeCase(c: Omit<Case, 'family'>): Case {
  return { ...c, family: 'hugetlb', requires: ['hugetlb', ...(c.requires ?? [])] };
}

function withExec(outcome: string): Expectation[] {
  return [
    { since: '6.3', before: '6.6', noexec: [2], outcome: [outcome, 'EACCES'] },
    { since: '6.3', noexec: [2], outcome: 'EACCES', note: 'vm.memfd_noexec=2 refuses MFD_EXEC' },
    { since: '6.3', outcome },
  ];
}

export const cases: readonly Case[] = [
  hugeCase({
    id: 'hugetlb.create.without-pages',
    title: 'MFD_HUGETLB works with no huge pages reserved (they are needed only at mmap or fault time)',
    source: [MAN('MFD_HUGETLB (since Linux 4.14)'), SRC.observed('HugePages_Free=0')],
    expect: [{ since: '4.14', outcome: 'ok' }],
    run: (ctx) => errno(() => huge(ctx)),
  }),
  hugeCase({
    id: 'hugetlb.create.sealing',
    title: 'MFD_HUGETLB | MFD_ALLOW_SEALING works (sealable hugetlb memfds, 4.16+)',
    source: [MAN('MFD_HUGETLB: sealing supported since Linux 4.16'), HUGETLBFS('hugetlbfs_file_setup')],
    expect: [
      { since: '4.14', before: '4.16', outcome: 'EINVAL' },
      { since: '4.16', outcome: 'ok seals=0x0' },
    ],
    run: (ctx) => {
      const fd = attempt(() => huge(ctx, ctx.c.MFD_ALLOW_SEALING!));
      return typeof fd === 'string' ? fd : `ok seals=${hex(ctx.b.getSeals(fd) & ~ctx.c.F_SEAL_EXEC!)}`;
    },
  }),
  {
    id: 'hugetlb.flags.size-without-hugetlb',
    title: 'a huge page size flag (MFD_HUGE_2MB) without MFD_HUGETLB is refused with EINVAL',
    family: 'hugetlb',
    source: [SRC.code('mm/memfd.c', 'memfd_create: MFD_HUGE_MASK without MFD_HUGETLB'), SRC.observed('EINVAL')],
    expect: [{ since: '4.14', outcome: 'EINVAL' }],
    run: (ctx) => errno(() => ctx.fd(ctx.b.memfdCreate('conform-huge', (21 << ctx.c.MFD_HUGE_SHIFT!) >>> 0))),
  },
  hugeCase({
    id: 'hugetlb.flags.unsupported-size',
    title: 'page sizes the machine does not offer are refused with ENODEV (x86-64: 64 KiB, 16 GiB; arm64 with 4 KiB pages: 16 KiB, 16 GiB; with 16 KiB pages: 64 KiB, 16 GiB)',
    requires: ['machineCode'],
    source: [LTP4('MFD_HUGE_64KB ... MFD_HUGE_16GB'), HUGETLBFS('hugetlb_file_setup: no hstate -> ENODEV'), ARM64_HSTATES],
    expect: [
      ...byArch([{ since: '4.14', outcome: '64k=ENODEV 16g=ENODEV' }], 'x86_64'),
      ...byArch([{ since: '4.14', outcome: '16k=ENODEV 16g=ENODEV' }], 'arm64-4k'),
      ...byArch([{ since: '4.14', outcome: '64k=ENODEV 16g=ENODEV' }], 'arm64-16k'),
    ],
    run: (ctx) => {
      const small = ctx.env.kernel.arch === 'arm64' && ctx.page === 4096 ? 14 : 16;
      return kv({ [`${1 << (small - 10)}k`]: hugeCreate(ctx, small), '16g': hugeCreate(ctx, 34) });
    },
  }),
  hugeCase({
    id: 'hugetlb.flags.offered-sizes',
    title: 'each huge page size the architecture offers works (x86-64: 2 MiB, and 1 GiB exactly when the 1 GiB hstate exists; arm64: its four sizes with 4 KiB pages, three with 16 KiB)',
    requires: ['machineCode'],
    source: [LTP4('MFD_HUGE_2MB, MFD_HUGE_1GB'), MAN('MFD_HUGE_2MB, MFD_HUGE_1GB'), ARM64_HSTATES],
    expect: [
      // 1 GiB pages need the CPU's pdpe1gb (X86_FEATURE_GBPAGES): the hstate's sysfs folder says whether it is there.
      ...byArch([{ since: '4.14', outcome: ['2m=ok 1g=ok hstate-1g=true', '2m=ok 1g=ENODEV hstate-1g=false'] }], 'x86_64'),
      ...byArch([{ since: '4.14', outcome: '64k=ok 2m=ok 32m=ok 1g=ok' }], 'arm64-4k'),
      ...byArch([{ since: '4.14', outcome: '64k=ENODEV 2m=ok 32m=ok 1g=ok' }], 'arm64-16k'),
    ],
    run: (ctx) =>
      ctx.env.kernel.arch === 'arm64'
        ? kv({ '64k': hugeCreate(ctx, 16), '2m': hugeCreate(ctx, 21), '32m': hugeCreate(ctx, 25), '1g': hugeCreate(ctx, 30) })
        : kv({ '2m': hugeCreate(ctx, 21), '1g': hugeCreate(ctx, 30), 'hstate-1g': existsSync('/sys/kernel/mm/hugepages/hugepages-1048576kB') }),
  }),
  hugeCase({
    id: 'hugetlb.io.write',
    title: 'write() to a hugetlb memfd fails with EINVAL (hugetlbfs has no write path)',
    source: [LTP3('test_write_protect'), SRC.observed('EINVAL')],
    expect: [{ since: '4.14', outcome: 'EINVAL' }],
    run: (ctx) => errno(() => ctx.b.write(huge(ctx), Buffer.from('x'), 0, 1, 0)),
  }),
  hugeCase({
    id: 'hugetlb.truncate.alignment',
    title: 'ftruncate to a size that is not a huge-page multiple fails with EINVAL; to 2 huge pages works (no pages needed)',
    source: [HUGETLBFS('hugetlbfs_setattr: size must be huge-page aligned'), SRC.observed('EINVAL, then ok')],
    expect: [{ since: '4.14', outcome: 'page=EINVAL two-huge=ok' }],
    run: (ctx) => {
      const fd = huge(ctx);
      return kv({ page: errno(() => ctx.b.ftruncate(fd, ctx.page)), 'two-huge': errno(() => ctx.b.ftruncate(fd, 2 * hugeSize(ctx))) });
    },
  }),
  hugeCase({
    id: 'hugetlb.mmap.without-free-pages',
    title: 'with no free huge pages, mmap of a hugetlb memfd fails with ENOMEM (the reservation fails)',
    requires: ['noFreeHugepages'],
    source: [SRC.observed('HugePages_Free=0: ENOMEM'), HUGETLBFS('hugetlbfs_file_mmap: hugetlb_reserve_pages')],
    expect: [{ since: '4.14', outcome: 'ENOMEM' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = huge(ctx);
      b.ftruncate(fd, hugeSize(ctx));
      return errno(() => ctx.mapped(b.mmap(0n, hugeSize(ctx), c.PROT_READ! | c.PROT_WRITE!, c.MAP_SHARED!, fd, 0), hugeSize(ctx)));
    },
  }),
  hugeCase({
    id: 'hugetlb.mmap.partial-munmap',
    title: 'a huge page mapping cannot be unmapped by a fraction of a huge page (EINVAL for 1/4, 1/2, 3/4)',
    requires: ['hugepages'],
    isolation: 'child',
    source: [LTP3('test_def_pagesize')],
    expect: [{ since: '4.14', outcome: 'quarter=EINVAL half=EINVAL three-quarters=EINVAL' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const size = hugeSize(ctx);
      const fd = huge(ctx);
      b.ftruncate(fd, size);
      const addr = ctx.mapped(b.mmap(0n, size, c.PROT_READ! | c.PROT_WRITE!, c.MAP_SHARED!, fd, 0), size);
      const un = (n: number): string => errno(() => b.munmap(addr, n));
      return kv({ quarter: un(size / 4), half: un(size / 2), 'three-quarters': un((3 * size) / 4) });
    },
  }),
  hugeCase({
    id: 'hugetlb.mmap.all-free-pages',
    title: 'once every free huge page is mapped from one memfd, mapping one more from another fails with ENOMEM',
    requires: ['hugepages'],
    isolation: 'child',
    source: [LTP3('test_max_hugepages')],
    expect: [{ since: '4.14', outcome: 'all=ok one-more=ENOMEM' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const size = hugeSize(ctx);
      const total = (ctx.env.hugepages.free ?? 0) * size;
      const map = (bytes: number): string => {
        const fd = huge(ctx);
        b.ftruncate(fd, bytes);
        return errno(() => ctx.mapped(b.mmap(0n, bytes, c.PROT_READ! | c.PROT_WRITE!, c.MAP_SHARED!, fd, 0), bytes));
      };
      return kv({ all: map(total), 'one-more': map(size) });
    },
  }),
  hugeCase({
    id: 'hugetlb.seals.write',
    title: 'F_SEAL_WRITE on a hugetlb memfd blocks writable shared mappings (EPERM before any page is reserved)',
    source: [SRC.memfdTest('hugetlbfs mode: mfd_fail_write'), HUGETLBFS('hugetlbfs_file_mmap: seal check')],
    expect: [{ since: '4.16', outcome: 'seal=ok mmap-rw=EPERM' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = huge(ctx, c.MFD_ALLOW_SEALING!);
      b.ftruncate(fd, hugeSize(ctx));
      const sealed = addSeals(ctx, fd, c.F_SEAL_WRITE!);
      return kv({ seal: sealed, 'mmap-rw': errno(() => ctx.mapped(b.mmap(0n, hugeSize(ctx), c.PROT_READ! | c.PROT_WRITE!, c.MAP_SHARED!, fd, 0), hugeSize(ctx))) });
    },
  }),
  hugeCase({
    id: 'hugetlb.seals.future-write',
    title: 'hugetlbfs honours F_SEAL_FUTURE_WRITE (5.13+): a new writable shared mapping fails with EPERM',
    source: [SRC.lkml('hugetlbfs: add F_SEAL_FUTURE_WRITE support (5.13)'), SRC.memfdTest('test_seal_future_write (hugetlbfs mode)')],
    expect: [{ since: '5.13', outcome: 'seal=ok mmap-rw=EPERM' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = huge(ctx, c.MFD_ALLOW_SEALING!);
      b.ftruncate(fd, hugeSize(ctx));
      const sealed = addSeals(ctx, fd, c.F_SEAL_FUTURE_WRITE!);
      return kv({ seal: sealed, 'mmap-rw': errno(() => ctx.mapped(b.mmap(0n, hugeSize(ctx), c.PROT_READ! | c.PROT_WRITE!, c.MAP_SHARED!, fd, 0), hugeSize(ctx))) });
    },
  }),
  hugeCase({
    id: 'hugetlb.seals.resize',
    title: 'F_SEAL_GROW | F_SEAL_SHRINK on a hugetlb memfd: growing and shrinking fail with EPERM',
    source: [HUGETLBFS('hugetlbfs_setattr: F_SEAL_SHRINK, F_SEAL_GROW'), SRC.memfdTest('hugetlbfs mode: test_seal_resize')],
    expect: [{ since: '4.16', outcome: 'grow=EPERM shrink=EPERM' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = huge(ctx, c.MFD_ALLOW_SEALING!);
      b.ftruncate(fd, hugeSize(ctx));
      b.addSeals(fd, c.F_SEAL_GROW! | c.F_SEAL_SHRINK!);
      return kv({ grow: errno(() => b.ftruncate(fd, 2 * hugeSize(ctx))), shrink: errno(() => b.ftruncate(fd, 0)) });
    },
  }),
  hugeCase({
    id: 'hugetlb.exec.flags',
    title: 'exec flags on hugetlb memfds: MFD_NOEXEC_SEAL gives 0666 + F_SEAL_EXEC, MFD_EXEC gives 0777 + F_SEAL_SEAL',
    source: [SRC.memfdTest('hugetlbfs mode: test_noexec_seal, test_exec_no_seal'), SRC.observed('mode and seals')],
    expect: [
      { since: '6.3', before: '6.6', noexec: [2], outcome: ['noexec=mode=0666 seals=0x20 exec=mode=0777 seals=0x1', 'noexec=mode=0666 seals=0x20 exec=EACCES'] },
      { since: '6.3', noexec: [2], outcome: 'noexec=mode=0666 seals=0x20 exec=EACCES' },
      { since: '6.3', outcome: 'noexec=mode=0666 seals=0x20 exec=mode=0777 seals=0x1' },
    ],
    run: (ctx) => {
      const shape = (flag: number): string => {
        const fd = attempt(() => huge(ctx, flag));
        return typeof fd === 'string' ? fd : kv({ mode: modeOf(ctx, fd), seals: hex(ctx.b.getSeals(fd)) });
      };
      return `noexec=${shape(ctx.c.MFD_NOEXEC_SEAL!)} exec=${shape(ctx.c.MFD_EXEC!)}`;
    },
  }),
  hugeCase({
    id: 'hugetlb.exec.seal-exec-implies',
    title: 'F_SEAL_EXEC on an executable hugetlb memfd implies the write seals too (0x3e): growing fails with EPERM',
    source: [SRC.code('mm/memfd.c', 'memfd_add_seals: F_SEAL_EXEC implies F_WX_SEALS'), SRC.observed('0x3e, EPERM')],
    expect: withExec('seal=ok seals=0x3e grow=EPERM'),
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = attempt(() => huge(ctx, c.MFD_EXEC! | c.MFD_ALLOW_SEALING!));
      if (typeof fd === 'string') return fd;
      b.ftruncate(fd, hugeSize(ctx));
      const seal = addSeals(ctx, fd, c.F_SEAL_EXEC!);
      return kv({ seal, seals: hex(b.getSeals(fd)), grow: errno(() => b.ftruncate(fd, 2 * hugeSize(ctx))) });
    },
  }),
  hugeCase({
    id: 'hugetlb.exec.chmod-ignores-seal',
    title: 'F_SEAL_EXEC should forbid fchmod(0755) of a MFD_NOEXEC_SEAL hugetlb memfd',
    source: [SRC.memfdTest('hugetlbfs mode: mfd_fail_chmod'), HUGETLBFS('hugetlbfs_setattr checks only F_SEAL_SHRINK and F_SEAL_GROW')],
    expect: [
      {
        since: '6.3',
        outcome: 'fchmod=EPERM mode=0666',
        deviations: [
          {
            observed: 'fchmod=ok mode=0755',
            reason: 'known kernel gap: hugetlbfs_setattr() does not check F_SEAL_EXEC, so the x bits of a NOEXEC_SEAL hugetlb memfd can be set (still so on 6.18)',
            source: HUGETLBFS('hugetlbfs_setattr'),
          },
        ],
      },
    ],
    run: (ctx) => {
      const fd = huge(ctx, ctx.c.MFD_NOEXEC_SEAL!);
      return kv({ fchmod: errno(() => ctx.b.fchmod(fd, 0o755)), mode: modeOf(ctx, fd) });
    },
  }),
  hugeCase({
    id: 'hugetlb.create.unprivileged',
    title: 'an unprivileged process (not in hugetlb_shm_group) may create a hugetlb memfd',
    isolation: 'child',
    requires: ['secondProcess', 'otherUser'],
    source: [HUGETLBFS('hugetlb_file_setup: the group check applies to SysV SHM_HUGETLB only'), SRC.observed('uid 65534: ok')],
    docNote: 'memfd_create(2) lists EPERM for MFD_HUGETLB without CAP_IPC_LOCK outside hugetlb_shm_group; that check applies only to SysV SHM_HUGETLB segments, and memfd_create succeeds',
    expect: [{ since: '4.14', outcome: 'ok' }],
    run: async (ctx) => {
      if (ctx.env.euid !== 0) return errno(() => huge(ctx));
      const agent = await ctx.step('memfd-shape', { flags: ctx.c.MFD_HUGETLB! }, { uid: 65534 });
      const answer = await agent.receive();
      await agent.done();
      return typeof answer === 'string' && answer.startsWith('mode=') ? 'ok' : String(answer);
    },
  }),
];
