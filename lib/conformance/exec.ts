/**
 * Exec and memfds (Linux 6.3+): the mode and seals MFD_EXEC and
 * MFD_NOEXEC_SEAL give, F_SEAL_EXEC and chmod, executing a memfd through
 * execveat (what fexecve does), and the pid-namespaced sysctl
 * vm.memfd_noexec, each value tried in a fresh pid namespace.
 */
import { existsSync } from 'node:fs';
import { readNoexec, writeNoexec, memfdShape } from './noexec-sysctl.js';
import { addSeals, attempt, errno, errnoName, hex, kv, mapResult, memfd, modeOf, SRC } from './helpers.js';
import type { Case, CaseContext, Deviation, Expectation, Source } from './types.js';

const MT = SRC.memfdTest;
const DOC = (section: string): Source => SRC.doc('userspace-api/mfd_noexec.rst', section);
const MEMFD_C = (fn: string): Source => SRC.code('mm/memfd.c', fn);

/** The machine code of exit(42) per architecture (the ELF e_machine, the instructions, the loader's page alignment). */
const EXIT_42: Readonly<Record<string, { machine: number; code: readonly number[]; align: bigint }>> = {
  // mov edi, 42; mov eax, 60 (exit); syscall
  x64: { machine: 0x3e, code: [0xbf, 42, 0, 0, 0, 0xb8, 60, 0, 0, 0, 0x0f, 0x05], align: 0x1000n },
  // movz x0, #42; movz x8, #93 (exit); svc #0; 64 KiB alignment, as arm64's linkers use (any page size loads it)
  arm64: { machine: 0xb7, code: [0x40, 0x05, 0x80, 0xd2, 0xa8, 0x0b, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4], align: 0x10000n },
};

/**
 * A minimal static ELF executable for this machine (x86-64 or arm64):
 * exit(42). 132 bytes: the ELF header, one PT_LOAD program header mapping
 * the file at 0x400000, and the three instructions of exit(42).
 */
export function exit42Elf(arch: string = process.arch): Buffer {
  const m = EXIT_42[arch];
  if (m === undefined) throw new Error(`memseal carries no machine code for ${arch}`);
  const b = Buffer.alloc(132);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(b, 0); // ELF, 64-bit, little endian, version 1
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(m.machine, 18); // EM_X86_64, EM_AARCH64
  b.writeUInt32LE(1, 20); // EV_CURRENT
  b.writeBigUInt64LE(0x400078n, 24); // entry: the code after the headers
  b.writeBigUInt64LE(64n, 32); // program headers at 64
  b.writeUInt16LE(64, 52); // header size
  b.writeUInt16LE(56, 54); // program header size
  b.writeUInt16LE(1, 56); // one program header
  b.writeUInt32LE(1, 64); // PT_LOAD
  b.writeUInt32LE(5, 68); // PF_R | PF_X
  b.writeBigUInt64LE(0x400000n, 80); // vaddr
  b.writeBigUInt64LE(0x400000n, 88); // paddr
  b.writeBigUInt64LE(132n, 96); // filesz
  b.writeBigUInt64LE(132n, 104); // memsz
  b.writeBigUInt64LE(m.align, 112); // align
  Buffer.from(m.code).copy(b, 120);
  return b;
}

/** A memfd holding `content`, or the errno name memfd_create failed with. */
function filled(ctx: CaseContext, flags: number, content: Buffer, name = 'conform-exec'): number | string {
  const fd = attempt(() => ctx.fd(ctx.b.memfdCreate(name, flags)));
  if (typeof fd === 'string') return fd;
  ctx.b.write(fd, content, 0, content.length, 0);
  return fd;
}

/** Executes the memfd with execveat(fd, "", AT_EMPTY_PATH) in a forked child: the exec's errno, or how the program ended. */
function execFd(ctx: CaseContext, fd: number): string {
  const { b, pc } = ctx;
  const r = b.forkExecveat(fd, '', ['conform'], [], pc.AT_EMPTY_PATH!, 10);
  if (r.execErrno !== 0) return errnoName(r.execErrno);
  return r.exitCode !== null ? `exit ${r.exitCode}` : `signal ${r.signal}`;
}

function shape(ctx: CaseContext, flags: number): string {
  const fd = attempt(() => memfd(ctx, flags));
  return typeof fd === 'string' ? fd : kv({ mode: modeOf(ctx, fd), seals: hex(ctx.b.getSeals(fd)) });
}

/** MFD_EXEC outcomes: EACCES where vm.memfd_noexec is 2 (6.6+; unfixed 6.3-6.5 let it through). */
function withExec(outcome: string): Expectation[] {
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

const execCases: Case[] = [
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
  {
    id: 'exec.execveat.noexec-seal',
    title: 'execveat(AT_EMPTY_PATH) of a MFD_NOEXEC_SEAL memfd fails with EACCES, also for root',
    family: 'exec',
    isolation: 'child',
    requires: ['secondProcess', 'machineCode'],
    syscalls: ['execveat'],
    source: [SRC.man('man2/execve.2', 'ERRORS: EACCES (execute permission is denied)'), DOC('MFD_NOEXEC_SEAL: the memfd cannot be executed'), SRC.observed('execveat EACCES')],
    expect: [{ since: '6.3', outcome: 'EACCES' }],
    run: (ctx) => {
      const fd = filled(ctx, ctx.c.MFD_NOEXEC_SEAL! | ctx.c.MFD_CLOEXEC!, exit42Elf());
      return typeof fd === 'string' ? fd : execFd(ctx, fd);
    },
  },
  {
    id: 'exec.execveat.exec-memfd',
    title: 'execveat(AT_EMPTY_PATH) runs an ELF held in a MFD_EXEC memfd',
    family: 'exec',
    isolation: 'child',
    requires: ['secondProcess', 'machineCode'],
    syscalls: ['execveat'],
    source: [SRC.man('man3/fexecve.3', 'DESCRIPTION'), SRC.man('man2/memfd_create.2', 'NOTES: executing a memfd'), SRC.observed('exit 42')],
    expect: withExec('exit 42'),
    run: (ctx) => {
      const fd = filled(ctx, ctx.c.MFD_EXEC! | ctx.c.MFD_CLOEXEC!, exit42Elf());
      return typeof fd === 'string' ? fd : execFd(ctx, fd);
    },
  },
  {
    id: 'exec.execveat.sealed-exec-memfd',
    title: 'a MFD_EXEC memfd sealed against change (F_SEAL_EXEC | WRITE | GROW | SHRINK | SEAL) still executes',
    family: 'exec',
    isolation: 'child',
    requires: ['secondProcess', 'machineCode'],
    syscalls: ['execveat'],
    source: [SRC.man('man3/fexecve.3', 'DESCRIPTION'), SRC.lkml('runc CVE-2019-5736 mitigation: execute a sealed memfd copy'), SRC.observed('execveat(AT_EMPTY_PATH) of a sealed MFD_EXEC memfd')],
    expect: withExec('seals=0x3f exit 42'),
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = filled(ctx, c.MFD_EXEC! | c.MFD_ALLOW_SEALING! | c.MFD_CLOEXEC!, exit42Elf());
      if (typeof fd === 'string') return fd;
      b.fchmod(fd, 0o755);
      b.addSeals(fd, c.F_SEAL_EXEC! | c.F_SEAL_WRITE! | c.F_SEAL_GROW! | c.F_SEAL_SHRINK! | c.F_SEAL_SEAL!);
      return `seals=${hex(b.getSeals(fd))} ${execFd(ctx, fd)}`;
    },
  },
  {
    id: 'exec.execveat.chmod-removes-exec',
    title: 'a MFD_EXEC memfd fchmod()ed to 0644 can no longer be executed (EACCES)',
    family: 'exec',
    isolation: 'child',
    requires: ['secondProcess', 'machineCode'],
    syscalls: ['execveat'],
    source: [SRC.man('man2/execve.2', 'ERRORS: EACCES'), SRC.observed('execveat(AT_EMPTY_PATH) after fchmod(0666)')],
    expect: withExec('EACCES'),
    run: (ctx) => {
      const fd = filled(ctx, ctx.c.MFD_EXEC! | ctx.c.MFD_CLOEXEC!, exit42Elf());
      if (typeof fd === 'string') return fd;
      ctx.b.fchmod(fd, 0o644);
      return execFd(ctx, fd);
    },
  },
  {
    id: 'exec.execveat.script-cloexec',
    title: 'a #! script in a MFD_EXEC memfd: ENOENT with MFD_CLOEXEC (the interpreter could not open it), runs without',
    family: 'exec',
    isolation: 'child',
    requires: ['secondProcess', 'sh'],
    syscalls: ['execveat'],
    source: [SRC.man('man3/fexecve.3', 'NOTES: close-on-exec descriptors and scripts fail with ENOENT'), SRC.code('fs/binfmt_script.c', 'BINPRM_FLAGS_PATH_INACCESSIBLE')],
    expect: withExec('cloexec=ENOENT plain=exit 42'),
    run: (ctx) => {
      const { c } = ctx;
      const script = Buffer.from('#!/bin/sh\nexit 42\n');
      const a = filled(ctx, c.MFD_EXEC! | c.MFD_CLOEXEC!, script);
      if (typeof a === 'string') return a;
      const p = filled(ctx, c.MFD_EXEC!, script);
      if (typeof p === 'string') return p;
      return kv({ cloexec: execFd(ctx, a), plain: execFd(ctx, p) });
    },
  },
];

// vm.memfd_noexec, each case as pid 1 of a fresh pid namespace whose value
// starts at this one's (the ambient value: 0 on a normal host).

const SYSCTL_SRC = (test: string): Source => MT(test);
const PIDSYS = SRC.code('kernel/pid_sysctl.h', 'pid_mfd_noexec_dointvec_minmax');

function sysctlCase(c: Omit<Case, 'family' | 'isolation' | 'requires'> & { extraRequires?: Case['requires'] }): Case {
  const { extraRequires, ...rest } = c;
  return { ...rest, family: 'exec', isolation: 'pidns', requires: ['pidns', ...(extraRequires ?? [])], timeout: 15 };
}

const NOEXEC_SHAPE = 'mode=0666 seals=0x20';

const sysctlCases: Case[] = [
  {
    id: 'exec.sysctl.present',
    title: 'vm.memfd_noexec exists from 6.3 and reads 0, 1 or 2',
    family: 'exec',
    source: [DOC('sysctl vm.memfd_noexec'), SRC.observed('/proc/sys/vm/memfd_noexec')],
    expect: [
      { before: '6.3', outcome: 'absent' },
      { since: '6.3', outcome: ['0', '1', '2'] },
    ],
    run: () => (existsSync('/proc/sys/vm/memfd_noexec') ? readNoexec() : 'absent'),
  },
  sysctlCase({
    id: 'exec.sysctl.fresh-namespace',
    title: 'a new pid namespace starts with its parent namespace\'s value',
    source: [DOC('sysctl vm.memfd_noexec: the value is inherited by child namespaces'), SYSCTL_SRC('test_sysctl_nested')],
    expect: [
      { since: '6.3', noexec: [0], outcome: '0' },
      { since: '6.3', noexec: [1], outcome: '1' },
      { since: '6.3', noexec: [2], outcome: '2' },
    ],
    run: () => readNoexec(),
  }),
  sysctlCase({
    id: 'exec.sysctl.value-0',
    title: 'at 0 a memfd made without exec flags is executable: 0777, F_SEAL_SEAL unless MFD_ALLOW_SEALING',
    source: [SYSCTL_SRC('test_sysctl_sysctl0'), DOC('vm.memfd_noexec = 0')],
    expect: [
      { since: '6.3', noexec: [0], outcome: 'write=ok plain=mode=0777 seals=0x1 sealing=mode=0777 seals=0x0' },
      {
        since: '6.3',
        noexec: [1, 2],
        outcome: `write=EINVAL plain=${NOEXEC_SHAPE} sealing=${NOEXEC_SHAPE}`,
        note: 'a namespace cannot go below its parent\'s value: the ambient 1 or 2 stays in force',
      },
    ],
    run: (ctx) => {
      const write = writeNoexec('0');
      return `write=${write} plain=${memfdShape(0)} sealing=${memfdShape(ctx.c.MFD_ALLOW_SEALING!)}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.value-1',
    title: 'at 1 a memfd made without exec flags acts as MFD_NOEXEC_SEAL: 0666, F_SEAL_EXEC, fchmod +x fails',
    source: [SYSCTL_SRC('test_sysctl_sysctl1'), DOC('vm.memfd_noexec = 1')],
    expect: [
      { since: '6.3', noexec: [0, 1], outcome: `write=ok plain=${NOEXEC_SHAPE} sealing=${NOEXEC_SHAPE} chmod=EPERM` },
      { since: '6.6', noexec: [2], outcome: `write=EINVAL plain=${NOEXEC_SHAPE} sealing=${NOEXEC_SHAPE} chmod=EPERM` },
    ],
    run: (ctx) => {
      const write = writeNoexec('1');
      const fd = memfd(ctx, 0);
      return `write=${write} plain=${memfdShape(0)} sealing=${memfdShape(ctx.c.MFD_ALLOW_SEALING!)} chmod=${errno(() => ctx.b.fchmod(fd, 0o777))}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.value-1-exec',
    title: 'at 1 MFD_EXEC is still honoured: 0777 (F_SEAL_SEAL, or none with MFD_ALLOW_SEALING)',
    source: [SYSCTL_SRC('test_sysctl_sysctl1'), DOC('vm.memfd_noexec = 1')],
    expect: [
      { since: '6.3', noexec: [0, 1], outcome: 'write=ok exec=mode=0777 seals=0x1 exec-sealing=mode=0777 seals=0x0' },
      { since: '6.6', noexec: [2], outcome: 'write=EINVAL exec=EACCES exec-sealing=EACCES' },
    ],
    run: (ctx) => {
      const { c } = ctx;
      const write = writeNoexec('1');
      return `write=${write} exec=${memfdShape(c.MFD_EXEC!)} exec-sealing=${memfdShape(c.MFD_EXEC! | c.MFD_ALLOW_SEALING!)}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.value-2-plain',
    title: 'at 2 a memfd made without exec flags succeeds as MFD_NOEXEC_SEAL (0666, F_SEAL_EXEC)',
    source: [SYSCTL_SRC('test_sysctl_sysctl2'), SRC.lkml('memfd: do not -EACCES old memfd_create() users with vm.memfd_noexec=2'), SRC.observed('6.18: succeeds')],
    docNote:
      'Documentation/userspace-api/mfd_noexec.rst as written for 6.3 says memfd_create without MFD_NOEXEC_SEAL is refused at 2; from 6.6 (6.4.16, 6.5.3) the kernel creates it as MFD_NOEXEC_SEAL instead, and that is what this case expects there',
    expect: [
      { since: '6.3', before: '6.6', outcome: [`write=ok plain=${NOEXEC_SHAPE}`, 'write=ok plain=EINVAL'], note: 'unfixed 6.3-6.5: EINVAL; fixed (6.4.16, 6.5.3): NOEXEC_SEAL' },
      { since: '6.6', outcome: `write=ok plain=${NOEXEC_SHAPE}` },
    ],
    run: () => `write=${writeNoexec('2')} plain=${memfdShape(0)}`,
  }),
  sysctlCase({
    id: 'exec.sysctl.value-2-exec',
    title: 'at 2 MFD_EXEC fails with EACCES, with or without MFD_HUGETLB',
    source: [SYSCTL_SRC('test_sysctl_sysctl2'), MEMFD_C('check_sysctl_memfd_noexec'), SRC.lkml('mm/memfd: sysctl: fix MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED')],
    expect: [
      { since: '6.3', before: '6.6', outcome: ['write=ok exec=EACCES exec-hugetlb=EACCES', 'write=ok exec=mode=0777 seals=0x1 exec-hugetlb=mode=0777 seals=0x1'], note: 'unfixed 6.3-6.5 kernels let MFD_EXEC through' },
      { since: '6.6', outcome: 'write=ok exec=EACCES exec-hugetlb=EACCES' },
    ],
    run: (ctx) => {
      const { c } = ctx;
      const write = writeNoexec('2');
      return `write=${write} exec=${memfdShape(c.MFD_EXEC!)} exec-hugetlb=${memfdShape(c.MFD_EXEC! | c.MFD_HUGETLB!)}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.invalid-values',
    title: 'writing 3, -1 or a word fails with EINVAL',
    source: [PIDSYS, SRC.observed('range 0..2')],
    expect: [{ since: '6.3', outcome: '3=EINVAL -1=EINVAL abc=EINVAL' }],
    run: () => ['3', '-1', 'abc'].map((v) => `${v}=${writeNoexec(v)}`).join(' '),
  }),
  sysctlCase({
    id: 'exec.sysctl.lower-to-parent',
    title: 'a namespace can raise its value and lower it again, but not below its parent\'s',
    source: [PIDSYS, SRC.lkml('memfd: replace ratcheting feature from vm.memfd_noexec with hierarchy (6.6)'), SRC.observed('write 1 then 0')],
    expect: [
      { since: '6.3', before: '6.6', noexec: [0], outcome: ['raise=ok lower=EINVAL', 'raise=ok lower=ok'], note: 'before the 6.6 hierarchy rework the value only ratcheted up' },
      { since: '6.6', noexec: [0], outcome: 'raise=ok lower=ok' },
      { since: '6.6', noexec: [1], outcome: 'raise=ok lower=EINVAL' },
      { since: '6.6', noexec: [2], outcome: 'raise=EINVAL lower=EINVAL' },
    ],
    run: () => `raise=${writeNoexec('1')} lower=${writeNoexec('0')}`,
  }),
  sysctlCase({
    id: 'exec.sysctl.child-inherits',
    title: 'a child namespace created at 1 starts at 1, cannot go to 0, and makes noexec memfds',
    source: [SYSCTL_SRC('test_sysctl_nested'), DOC('vm.memfd_noexec: child namespaces inherit')],
    expect: [
      { since: '6.6', noexec: [0, 1], outcome: `set=ok child=1 child-lower=EINVAL child-plain=${NOEXEC_SHAPE}` },
      { since: '6.6', noexec: [2], outcome: `set=EINVAL child=2 child-lower=EINVAL child-plain=${NOEXEC_SHAPE}` },
    ],
    run: async (ctx) => {
      const set = writeNoexec('1');
      const agent = await nsAgent(ctx);
      const child = await ask(agent, { op: 'read' });
      const lower = await ask(agent, { op: 'write', value: '0' });
      const plain = await ask(agent, { op: 'memfd', flags: 0 });
      await finish(agent);
      return `set=${set} child=${child} child-lower=${lower} child-plain=${plain}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.parent-raises-later',
    title: 'raising the parent to 2 after a child namespace exists binds the child too (the maximum over ancestors applies)',
    source: [SYSCTL_SRC('test_sysctl_nested: 0 -> 2 after fork'), PIDSYS],
    expect: [{ since: '6.6', outcome: `set=ok child=2 child-lower=EINVAL child-plain=${NOEXEC_SHAPE} child-exec=EACCES` }],
    run: async (ctx) => {
      const agent = await nsAgent(ctx);
      const set = writeNoexec('2');
      const child = await ask(agent, { op: 'read' });
      const lower = await ask(agent, { op: 'write', value: '1' });
      const plain = await ask(agent, { op: 'memfd', flags: 0 });
      const exec = await ask(agent, { op: 'memfd', flags: ctx.c.MFD_EXEC! });
      await finish(agent);
      return `set=${set} child=${child} child-lower=${lower} child-plain=${plain} child-exec=${exec}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.parent-lowers-later',
    title: 'lowering the parent after a child namespace exists leaves the child at its own value',
    source: [SYSCTL_SRC('test_sysctl_nested: 1 -> 0 after fork'), PIDSYS],
    expect: [
      { since: '6.6', noexec: [0], outcome: 'raise=ok lower=ok child=1 parent=0' },
      { since: '6.6', noexec: [1], outcome: 'raise=ok lower=EINVAL child=1 parent=1' },
      { since: '6.6', noexec: [2], outcome: 'raise=EINVAL lower=EINVAL child=2 parent=2' },
    ],
    run: async (ctx) => {
      const raise = writeNoexec('1');
      const agent = await nsAgent(ctx);
      const lower = writeNoexec('0');
      const child = await ask(agent, { op: 'read' });
      await finish(agent);
      return `raise=${raise} lower=${lower} child=${child} parent=${readNoexec()}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.child-change-isolated',
    title: 'a child namespace raising its own value leaves its parent unchanged',
    source: [SYSCTL_SRC('sysctl_nested_child'), PIDSYS],
    expect: [
      { since: '6.3', noexec: [0], outcome: 'child-write=ok child=2 parent=0' },
      { since: '6.3', noexec: [1], outcome: 'child-write=ok child=2 parent=1' },
      { since: '6.3', noexec: [2], outcome: 'child-write=ok child=2 parent=2' },
    ],
    run: async (ctx) => {
      const agent = await nsAgent(ctx);
      const write = await ask(agent, { op: 'write', value: '2' });
      const child = await ask(agent, { op: 'read' });
      await finish(agent);
      return `child-write=${write} child=${child} parent=${readNoexec()}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.unprivileged-write',
    extraRequires: ['otherUser'],
    title: 'a process without privilege cannot write vm.memfd_noexec (EACCES: only root may open it for writing)',
    source: [PIDSYS, SRC.code('fs/proc/proc_sysctl.c', 'test_perm: mode 0644')],
    expect: [{ since: '6.3', outcome: 'write=EACCES value-unchanged=true' }],
    run: async (ctx) => {
      const before = readNoexec();
      const agent = await ctx.step('ns-agent', {}, { uid: 65534 });
      await agent.receive();
      const write = await ask(agent, { op: 'write', value: before === '2' ? '1' : '2' });
      await finish(agent);
      return `write=${write} value-unchanged=${readNoexec() === before}`;
    },
  }),
];

type Agent = Awaited<ReturnType<CaseContext['step']>>;

/** A helper process as pid 1 of a child pid namespace of this one. */
async function nsAgent(ctx: CaseContext): Promise<Agent> {
  const agent = await ctx.step('ns-agent', {}, { newPidns: true });
  await agent.receive(); // ready
  return agent;
}

async function ask(agent: Agent, command: unknown): Promise<string> {
  agent.send(command);
  const answer = await agent.receive();
  if (typeof answer !== 'string') throw new Error(`the namespace agent ended early: ${JSON.stringify(answer)}`);
  return answer;
}

async function finish(agent: Agent): Promise<void> {
  agent.send({ op: 'exit' });
  await agent.done();
}

export const cases: readonly Case[] = [...execCases, ...sysctlCases];
