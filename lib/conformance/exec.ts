/**
 * Exec and memfds (Linux 6.3+): the mode and seals MFD_EXEC and
 * MFD_NOEXEC_SEAL give, F_SEAL_EXEC and chmod, the write seals F_SEAL_EXEC
 * implies on an executable mode, and executable mappings of a noexec memfd.
 *
 * The family goes on, in catalog order, in exec-execveat.ts (executing a
 * memfd), exec-sysctl.ts (vm.memfd_noexec, each value tried in a fresh pid
 * namespace), exec-sysctl-nested.ts and exec-acl.ts.
 */
import { addSeals, attempt, errno, hex, kv, mapResult, memfd, modeOf, SRC } from './helpers.js';
import type { Case, CaseContext, Deviation, Expectation, Source } from './types.js';

const MT = SRC.memfdTest;
const DOC = (section: string): Source => SRC.doc('userspace-api/mfd_noexec.rst', section);
const MEMFD_C = (fn: string): Source => SRC.code('mm/memfd.c', fn);

function shape(ctx: CaseContext, flags: number): string {
  const fd = attempt(() => memfd(ctx, flags));
  return typeof fd === 'string' ? fd : kv({ mode: modeOf(ctx, fd), seals: hex(ctx.b.getSeals(fd)) });
}

/** MFD_EXEC outcomes: EACCES where vm.memfd_noexec is 2 (6.6+; unfixed 6.3-6.5 let it through). */
export function withExec(outcome: string): Expectation[] {
  return [
    { since: '6.3', before: '6.6', noexec: [2], outcome: [outcome, 'EACCES'], note: 'unfixed 6.3-6.5 kernels let MFD_EXEC through at vm.memfd_noexec=2' },
    { since: '6.3', noexec: [2], outcome: 'EACCES', note: 'vm.memfd_noexec=2 refuses MFD_EXEC' },
    { since: '6.3', outcome },
  ];
}

/**
 * exec.seal-exec.busy-writable-mapping: from 6.3 until the fix ("memfd: deny
 * writeable mappings when implying SEAL_WRITE": mainline 7.1, stable 7.0.12,
 * 6.18.35 and 6.12.93, the last from Debian's changelog) the implied write
 * seal was set with a writable mapping alive: a known kernel bug, a
 * deviation. Fixed kernels must answer EBUSY.
 */
function sealExecBusyRanges(): Expectation[] {
  const fixed = 'add=EBUSY seals=0x0';
  const vulnerable: Deviation = {
    observed: 'add=ok seals=0x3e',
    reason: 'vulnerable kernel: the implied F_SEAL_WRITE was set while a writable shared mapping can still change the file',
    source: SRC.lkml('memfd: deny writeable mappings when implying SEAL_WRITE (3b041514cb6e)'),
  };
  const bounds: [string, string | undefined, boolean][] = [
    ['6.3', '6.12.93', false],
    ['6.12.93', '6.13', true],
    ['6.13', '6.18.35', false],
    ['6.18.35', '6.19', true],
    ['6.19', '7.0.12', false],
    ['7.0.12', undefined, true],
  ];
  const byVersion: Expectation[] = bounds.map(([sinceV, beforeV, isFixed]) => ({
    since: sinceV,
    ...(beforeV === undefined ? {} : { before: beforeV }),
    outcome: fixed,
    ...(isFixed ? {} : { deviations: [vulnerable] }),
  }));
  // vm.memfd_noexec=2 refuses MFD_EXEC before any of this matters.
  return [...withExec(fixed).filter((e) => e.noexec !== undefined), ...byVersion];
}

function chmods(ctx: CaseContext, fd: number, modes: readonly number[]): string {
  return modes.map((m) => `${m.toString(8).padStart(4, '0')}=${errno(() => ctx.b.fchmod(fd, m))}`).join(' ');
}

export const cases: readonly Case[] = [
  {
    id: 'exec.noexec-seal.mode-seals',
    title: 'MFD_NOEXEC_SEAL gives mode 0666 and exactly F_SEAL_EXEC (still sealable)',
    family: 'exec',
    source: [MT('test_noexec_seal'), DOC('MFD_NOEXEC_SEAL'), SRC.observed('mode 0666, seals 0x20')],
    expect: [{ since: '6.3', outcome: 'mode=0666 seals=0x20' }],
    run: (ctx) => shape(ctx, ctx.c.MFD_NOEXEC_SEAL!),
  },
  {
    id: 'exec.noexec-seal.implies-sealing',
    title: 'MFD_NOEXEC_SEAL | MFD_ALLOW_SEALING gives the same: NOEXEC_SEAL implies ALLOW_SEALING',
    family: 'exec',
    source: [MT('test_noexec_seal'), DOC('MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING')],
    expect: [{ since: '6.3', outcome: 'mode=0666 seals=0x20' }],
    run: (ctx) => shape(ctx, ctx.c.MFD_NOEXEC_SEAL! | ctx.c.MFD_ALLOW_SEALING!),
  },
  {
    id: 'exec.exec.mode-seals',
    title: 'MFD_EXEC gives mode 0777 and F_SEAL_SEAL (not sealable)',
    family: 'exec',
    source: [MT('test_exec_no_seal'), SRC.observed('mode 0777, seals 0x1')],
    expect: withExec('mode=0777 seals=0x1'),
    run: (ctx) => shape(ctx, ctx.c.MFD_EXEC!),
  },
  {
    id: 'exec.exec.allow-sealing',
    title: 'MFD_EXEC | MFD_ALLOW_SEALING gives mode 0777 and no seals',
    family: 'exec',
    source: [MT('test_exec_seal')],
    expect: withExec('mode=0777 seals=0x0'),
    run: (ctx) => shape(ctx, ctx.c.MFD_EXEC! | ctx.c.MFD_ALLOW_SEALING!),
  },
  {
    id: 'exec.exec.fchmod',
    title: 'MFD_EXEC: fchmod(0666) works (no seal guards the mode)',
    family: 'exec',
    source: [MT('test_exec_no_seal')],
    expect: withExec('fchmod=ok mode=0666'),
    run: (ctx) => {
      const fd = attempt(() => memfd(ctx, ctx.c.MFD_EXEC!));
      return typeof fd === 'string' ? fd : kv({ fchmod: errno(() => ctx.b.fchmod(fd, 0o666)), mode: modeOf(ctx, fd) });
    },
  },
  {
    id: 'exec.noexec-seal.fchmod-exec-bits',
    title: 'MFD_NOEXEC_SEAL: fchmod adding x bits (0777, 0755) fails with EPERM; the mode stays 0666',
    family: 'exec',
    source: [MT('mfd_fail_chmod'), SRC.code('mm/shmem.c', 'shmem_setattr: F_SEAL_EXEC')],
    expect: [{ since: '6.3', outcome: '0777=EPERM 0755=EPERM mode=0666' }],
    run: (ctx) => {
      const fd = memfd(ctx, ctx.c.MFD_NOEXEC_SEAL!);
      return `${chmods(ctx, fd, [0o777, 0o755])} mode=${modeOf(ctx, fd)}`;
    },
  },
  {
    id: 'exec.noexec-seal.fchmod-other-bits',
    title: 'MFD_NOEXEC_SEAL: fchmod that leaves the x bits clear (0600, 0666) works',
    family: 'exec',
    source: [SRC.code('mm/shmem.c', 'shmem_setattr: only the 0111 bits are frozen'), SRC.observed('fchmod 0600/0666')],
    expect: [{ since: '6.3', outcome: '0600=ok 0666=ok' }],
    run: (ctx) => chmods(ctx, memfd(ctx, ctx.c.MFD_NOEXEC_SEAL!), [0o600, 0o666]),
  },
  {
    id: 'exec.noexec-seal.seal-seal',
    title: 'MFD_NOEXEC_SEAL: adding F_SEAL_SEAL works and gives 0x21 (the documented way to stop further sealing)',
    family: 'exec',
    source: [DOC('MFD_NOEXEC_SEAL: add F_SEAL_SEAL to prevent further sealing'), SRC.observed('seals 0x21')],
    expect: [{ since: '6.3', outcome: 'add=ok seals=0x21' }],
    run: (ctx) => {
      const fd = memfd(ctx, ctx.c.MFD_NOEXEC_SEAL!);
      return kv({ add: addSeals(ctx, fd, ctx.c.F_SEAL_SEAL!), seals: hex(ctx.b.getSeals(fd)) });
    },
  },
  {
    id: 'exec.noexec-seal.more-seals',
    title: 'MFD_NOEXEC_SEAL without MFD_ALLOW_SEALING still takes further seals (F_SEAL_WRITE: 0x28)',
    family: 'exec',
    source: [
      DOC('Note: MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING; an app that does not want sealing can add F_SEAL_SEAL after creation'),
      MEMFD_C('memfd_create: MFD_NOEXEC_SEAL clears F_SEAL_SEAL whether or not MFD_ALLOW_SEALING is given'),
      SRC.lkml('mm/memfd: MFD_NOEXEC_SEAL should not imply MFD_ALLOW_SEALING (2024, not merged)'),
    ],
    expect: [{ since: '6.3', outcome: 'add=ok seals=0x28', note: 'a 2024 patch making MFD_NOEXEC_SEAL memfds unsealable was not merged' }],
    run: (ctx) => {
      const fd = memfd(ctx, ctx.c.MFD_NOEXEC_SEAL!);
      return kv({ add: addSeals(ctx, fd, ctx.c.F_SEAL_WRITE!), seals: hex(ctx.b.getSeals(fd)) });
    },
  },
  {
    id: 'exec.seal-exec.non-executable-mode',
    title: 'F_SEAL_EXEC on a non-executable mode (0644) freezes the x bits only; writes still work',
    family: 'exec',
    source: [MT('test_exec_seal')],
    expect: withExec('seals=0x20 0600=ok 0666=ok 0777=EPERM 0670=EPERM 0605=EPERM 0700=EPERM 0100=EPERM write=ok'),
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = attempt(() => memfd(ctx, c.MFD_EXEC! | c.MFD_ALLOW_SEALING!));
      if (typeof fd === 'string') return fd;
      b.fchmod(fd, 0o644);
      b.addSeals(fd, c.F_SEAL_EXEC!);
      const modes = chmods(ctx, fd, [0o600, 0o666, 0o777, 0o670, 0o605, 0o700, 0o100]);
      return `seals=${hex(b.getSeals(fd))} ${modes} write=${errno(() => b.write(fd, Buffer.from('x'), 0, 1, 0))}`;
    },
  },
  {
    id: 'exec.seal-exec.implies-write-seals',
    title: 'F_SEAL_EXEC on an executable mode (0700) also seals writes and size (0x3e): W^X',
    family: 'exec',
    source: [MT('test_exec_seal'), MEMFD_C('memfd_add_seals: F_SEAL_EXEC with an x bit implies F_WX_SEALS')],
    expect: withExec('seals=0x3e 0711=EPERM 0600=EPERM write=EPERM'),
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = attempt(() => memfd(ctx, c.MFD_EXEC! | c.MFD_ALLOW_SEALING!));
      if (typeof fd === 'string') return fd;
      b.fchmod(fd, 0o700);
      b.addSeals(fd, c.F_SEAL_EXEC!);
      return `seals=${hex(b.getSeals(fd))} ${chmods(ctx, fd, [0o711, 0o600])} write=${errno(() => b.write(fd, Buffer.from('x'), 0, 1, 0))}`;
    },
  },
  {
    id: 'exec.seal-exec.executable-mode-chmod',
    title:
      'F_SEAL_EXEC on an executable mode (0555, as cloneExecutable leaves its clones) freezes only the x bits: fchmod to 0755, 0777 or 0557 works, to 0444 or 0554 fails with EPERM; writes stay sealed',
    family: 'exec',
    source: [
      SRC.code('mm/shmem.c', 'shmem_setattr: under F_SEAL_EXEC a mode change is EPERM when (old ^ new) & 0111 (7.3.4; memfd_check_seals_mode() in include/linux/memfd.h on Debian 6.12.118)'),
      DOC('Let memfd be sealed for modifying X bit'),
      MEMFD_C('memfd_add_seals: F_SEAL_EXEC with an x bit implies F_WX_SEALS'),
      SRC.observed('fchmod of a 0555 memfd sealed with F_SEAL_EXEC'),
    ],
    expect: withExec('seals=0x3e 0755=ok 0777=ok 0557=ok 0444=EPERM 0554=EPERM mode=0557 write=EPERM'),
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = attempt(() => memfd(ctx, c.MFD_EXEC! | c.MFD_ALLOW_SEALING!));
      if (typeof fd === 'string') return fd;
      b.fchmod(fd, 0o555);
      b.addSeals(fd, c.F_SEAL_EXEC!);
      const modes = chmods(ctx, fd, [0o755, 0o777, 0o557, 0o444, 0o554]);
      return `seals=${hex(b.getSeals(fd))} ${modes} mode=${modeOf(ctx, fd)} write=${errno(() => b.write(fd, Buffer.from('x'), 0, 1, 0))}`;
    },
  },
  {
    id: 'exec.seal-exec.busy-writable-mapping',
    title: 'F_SEAL_EXEC on an executable memfd with a writable shared mapping alive fails with EBUSY (the implied write seal)',
    family: 'exec',
    source: [
      SRC.lkml('memfd: deny writeable mappings when implying SEAL_WRITE (3b041514cb6e; 7.1, 7.0.12, 6.18.35, 6.12.93)'),
      SRC.observed('EBUSY on 6.18.44, Debian 6.12.117 and 7.3.4'),
    ],
    expect: sealExecBusyRanges(),
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = attempt(() => memfd(ctx, c.MFD_EXEC! | c.MFD_ALLOW_SEALING!));
      if (typeof fd === 'string') return fd;
      b.ftruncate(fd, ctx.page);
      const mapped = mapResult(ctx, fd, ctx.page, c.PROT_READ! | c.PROT_WRITE!, c.MAP_SHARED!);
      if (mapped !== 'ok') return `mmap=${mapped}`;
      return kv({ add: addSeals(ctx, fd, c.F_SEAL_EXEC!), seals: hex(b.getSeals(fd)) });
    },
  },
  {
    id: 'exec.noexec-seal.mmap-exec',
    title: 'MFD_NOEXEC_SEAL does not forbid executable mappings: mmap(PROT_READ | PROT_EXEC) works, shared and private',
    family: 'exec',
    source: [SRC.observed('mmap PROT_EXEC of a NOEXEC_SEAL memfd'), SRC.lkml('[RFC PATCH] mm/memfd: Add support for F_SEAL_FUTURE_EXEC to memfd (Jan 2025, not merged)')],
    expect: [{ since: '6.3', outcome: 'shared=ok private=ok' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = memfd(ctx, c.MFD_NOEXEC_SEAL!);
      b.ftruncate(fd, ctx.page);
      const prot = c.PROT_READ! | c.PROT_EXEC!;
      return kv({ shared: mapResult(ctx, fd, ctx.page, prot, c.MAP_SHARED!), private: mapResult(ctx, fd, ctx.page, prot, c.MAP_PRIVATE!) });
    },
  },
];
