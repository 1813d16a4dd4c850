/**
 * Executing a memfd through execveat(fd, "", AT_EMPTY_PATH), what fexecve
 * does (Linux 6.3+ for the exec flags): a MFD_NOEXEC_SEAL memfd is refused,
 * a MFD_EXEC one runs, also fully sealed, a chmod that drops the x bits
 * stops it, and a #! script in a MFD_CLOEXEC memfd fails with ENOENT (the
 * interpreter cannot open it).
 */
import { attempt, errnoName, hex, kv, SRC } from './helpers.js';
import { withExec } from './exec.js';
import type { Case, CaseContext, Source } from './types.js';

const DOC = (section: string): Source => SRC.doc('userspace-api/mfd_noexec.rst', section);

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

export const cases: readonly Case[] = [
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
