/**
 * memfd_create(2): names, flags, the descriptor it returns, and sharing
 * through fork, exec and reopening /proc/self/fd.
 */
import { openSync, constants as fsConstants } from 'node:fs';
import { nodeCommand } from '../node-self.js';
import { attempt, byArch, errno, errnoName, fdLink, hex, kv, mapFd, memfd, modeOf, SRC } from './helpers.js';
import type { Case, Expectation } from './types.js';

const MT = SRC.memfdTest;
const LTP1 = (test: string): ReturnType<typeof SRC.ltp> => SRC.ltp('memfd_create/memfd_create01.c', test);
const LTP2 = (test: string): ReturnType<typeof SRC.ltp> => SRC.ltp('memfd_create/memfd_create02.c', test);
const MAN = (section: string): ReturnType<typeof SRC.man> => SRC.man('man2/memfd_create.2', section);
const MEMFD_C = (fn: string): ReturnType<typeof SRC.code> => SRC.code('mm/memfd.c', fn);

/** On 6.3 to 6.5 without the 2023 fixes, vm.memfd_noexec=2 refused memfd_create without an exec flag. */
const UNFIXED_NOEXEC2: Expectation = {
  since: '6.3',
  before: '6.6',
  noexec: [2],
  outcome: [],
  note: 'vm.memfd_noexec=2 on 6.3-6.5: kernels without the 2023 fixes (6.4.16, 6.5.3) refuse a plain memfd_create with EINVAL',
};

function invalidFlags(id: string, title: string, flags: number, test: string): Case {
  return {
    id: `memfd.flags.${id}`,
    title,
    family: 'memfd',
    source: [LTP2(test), MT('test_create')],
    expect: [{ since: '3.17', outcome: 'EINVAL' }],
    run: (ctx) => errno(() => memfd(ctx, flags >>> 0)),
  };
}

function nameCase(id: string, title: string, name: () => string | Uint8Array | null, outcome: string, source: Case['source']): Case {
  return {
    id: `memfd.name.${id}`,
    title,
    family: 'memfd',
    source,
    expect: [{ since: '3.17', outcome }],
    run: (ctx) => errno(() => ctx.fd(ctx.b.memfdCreate(name(), 0))),
  };
}

function withPlainCreate(outcome: string): Expectation[] {
  return [{ ...UNFIXED_NOEXEC2, outcome: [outcome, 'EINVAL'] }, { since: '3.17', outcome }];
}

export const cases: readonly Case[] = [
  nameCase('null', 'a NULL name is refused with EFAULT', () => null, 'EFAULT', [LTP2('invalid name fail 1'), MT('test_create')]),
  nameCase('max-length', 'a name of 249 bytes (the limit) is accepted', () => 'n'.repeat(249), 'ok', [
    MAN('DESCRIPTION: names are limited to 249 bytes'),
    MEMFD_C('MFD_NAME_MAX_LEN'),
  ]),
  nameCase('too-long', 'a name of 250 bytes is refused with EINVAL', () => 'n'.repeat(250), 'EINVAL', [MAN('ERRORS: EINVAL'), MEMFD_C('MFD_NAME_MAX_LEN')]),
  nameCase('unterminated', 'a 2048-byte name of 0xff bytes is refused with EINVAL', () => new Uint8Array(2048).fill(0xff), 'EINVAL', [
    LTP2('invalid name fail 2'),
    MT('test_create'),
  ]),
  nameCase(
    'long-terminated',
    'a 2047-byte name of 0xff bytes, NUL-terminated, is refused with EINVAL',
    () => new Uint8Array(2047).fill(0xff),
    'EINVAL',
    [LTP2('invalid name fail 3'), MT('test_create')],
  ),
  {
    id: 'memfd.name.empty-link',
    title: 'an empty name is accepted; /proc/self/fd shows "/memfd: (deleted)"',
    family: 'memfd',
    source: [LTP2('valid flags 5 pass'), MT('test_create'), MAN('DESCRIPTION: the name is prefixed with memfd:')],
    expect: [{ since: '3.17', outcome: '/memfd: (deleted)' }],
    run: (ctx) => fdLink(ctx.fd(ctx.b.memfdCreate('', 0))),
  },
  {
    id: 'memfd.name.not-validated',
    title: 'names are not paths: "a/b" is accepted and shows as "/memfd:a/b (deleted)"',
    family: 'memfd',
    source: [MAN('DESCRIPTION: multiple files can have the same name without side effects'), SRC.observed('name a/b')],
    expect: [{ since: '3.17', outcome: '/memfd:a/b (deleted)' }],
    run: (ctx) => fdLink(ctx.fd(ctx.b.memfdCreate('a/b', 0))),
  },
  invalidFlags('unknown-bit', 'flag 0x100 (unknown) is refused with EINVAL', 0x100, 'invalid flags fail 2'),
  invalidFlags('not-cloexec', '~MFD_CLOEXEC is refused with EINVAL', ~0x1, 'invalid flags fail 3'),
  invalidFlags('not-allow-sealing', '~MFD_ALLOW_SEALING is refused with EINVAL', ~0x2, 'invalid flags fail 4'),
  invalidFlags('all-ones', '~0 is refused with EINVAL', ~0, 'invalid flags fail 5'),
  invalidFlags('high-bit', '0x80000000 is refused with EINVAL', 0x80000000, 'invalid flags fail 6'),
  invalidFlags('minus-500', '(unsigned)-500 is refused with EINVAL', -500, 'invalid flags fail 1'),
  {
    id: 'memfd.flags.valid',
    title: 'flags 0, MFD_CLOEXEC, MFD_ALLOW_SEALING and both are accepted',
    family: 'memfd',
    source: [LTP2('valid flags 1-4 pass'), MT('test_create')],
    expect: withPlainCreate('none=ok cloexec=ok sealing=ok both=ok'),
    run: (ctx) => {
      const { c } = ctx;
      const create = (flags: number): string => errno(() => memfd(ctx, flags));
      return kv({
        none: create(0),
        cloexec: create(c.MFD_CLOEXEC!),
        sealing: create(c.MFD_ALLOW_SEALING!),
        both: create(c.MFD_CLOEXEC! | c.MFD_ALLOW_SEALING!),
      });
    },
  },
  {
    id: 'memfd.flags.exec-and-noexec',
    title: 'MFD_EXEC | MFD_NOEXEC_SEAL together are refused with EINVAL',
    family: 'memfd',
    source: [MT('test_create'), MEMFD_C('sanitize_flags')],
    expect: [{ since: '3.17', outcome: 'EINVAL', note: 'before 6.3 both bits are unknown, which is EINVAL too' }],
    run: (ctx) => errno(() => memfd(ctx, ctx.c.MFD_EXEC! | ctx.c.MFD_NOEXEC_SEAL!)),
  },
  {
    id: 'memfd.flags.noexec-seal',
    title: 'MFD_NOEXEC_SEAL is accepted from 6.3 (EINVAL before: an unknown bit)',
    family: 'memfd',
    source: [MT('test_noexec_seal'), MAN('MFD_NOEXEC_SEAL (since Linux 6.3)'), SRC.observed('Debian 6.1: EINVAL')],
    expect: [
      { before: '6.3', outcome: 'EINVAL' },
      { since: '6.3', outcome: 'ok' },
    ],
    run: (ctx) => errno(() => memfd(ctx, ctx.c.MFD_NOEXEC_SEAL!)),
  },
  {
    id: 'memfd.flags.exec',
    title: 'MFD_EXEC is accepted from 6.3, except where vm.memfd_noexec=2 (EACCES)',
    family: 'memfd',
    source: [MT('test_exec_no_seal'), MT('test_sysctl_sysctl2'), MEMFD_C('check_sysctl_memfd_noexec')],
    expect: [
      { before: '6.3', outcome: 'EINVAL' },
      { since: '6.3', noexec: [0, 1], outcome: 'ok' },
      {
        since: '6.3',
        before: '6.6',
        noexec: [2],
        outcome: ['ok', 'EACCES'],
        note: 'unfixed 6.3-6.5 kernels let MFD_EXEC through at 2; the fix (6.4.16, 6.5.3, 6.6) made it EACCES',
      },
      { since: '6.6', noexec: [2], outcome: 'EACCES' },
    ],
    run: (ctx) => errno(() => memfd(ctx, ctx.c.MFD_EXEC!)),
  },
  {
    id: 'memfd.fd.cloexec',
    title: 'FD_CLOEXEC is set exactly when MFD_CLOEXEC is given',
    family: 'memfd',
    source: [MAN('MFD_CLOEXEC'), SRC.observed('F_GETFD')],
    expect: withPlainCreate('cloexec=1 plain=0'),
    run: (ctx) => {
      const { b, c } = ctx;
      const flag = (fd: number): number => b.fcntl(fd, c.F_GETFD!, 0) & c.FD_CLOEXEC!;
      return kv({ cloexec: flag(memfd(ctx, c.MFD_CLOEXEC!)), plain: flag(memfd(ctx, 0)) });
    },
  },
  {
    id: 'memfd.fd.status-flags',
    title: "the descriptor is O_RDWR | O_LARGEFILE, in the architecture's own bits (F_GETFL 0x8002 on x86-64, 0x20002 on arm64)",
    family: 'memfd',
    source: [
      MAN('DESCRIPTION: the file is opened for both reading and writing (O_RDWR)'),
      MEMFD_C('memfd_create: f_flags |= O_LARGEFILE'),
      SRC.code('include/uapi/asm-generic/fcntl.h, arch/arm64/include/uapi/asm/fcntl.h', 'O_LARGEFILE: 00100000 (generic, x86-64) and 1 << 17 (arm64)'),
    ],
    // glibc defines O_LARGEFILE as 0 on 64-bit machines, so the addon cannot
    // say it: the kernel's bit is 0x8000 on x86-64 and 0x20000 on arm64.
    expect: [...byArch(withPlainCreate('0x8002'), 'x86_64'), ...byArch(withPlainCreate('0x20002'), 'arm64')],
    run: (ctx) => hex(ctx.b.fcntl(memfd(ctx, 0), ctx.c.F_GETFL!, 0)),
  },
  {
    id: 'memfd.fd.initial-size',
    title: 'a new memfd is an empty regular file',
    family: 'memfd',
    source: [MAN('DESCRIPTION: the initial size of the file is set to 0'), SRC.observed('fstat')],
    expect: withPlainCreate('size=0 regular=true'),
    run: (ctx) => {
      const st = ctx.b.fstat(memfd(ctx, 0));
      return kv({ size: st.size, regular: (st.mode & 0o170000) === 0o100000 });
    },
  },
  {
    id: 'memfd.fd.plain-mode',
    title: 'a memfd created without exec flags is 0777, or 0666 where vm.memfd_noexec is 1 or 2',
    family: 'memfd',
    source: [MT('test_sysctl_sysctl0'), MT('test_sysctl_sysctl1'), SRC.doc('userspace-api/mfd_noexec.rst', 'sysctl vm.memfd_noexec')],
    expect: [
      { before: '6.3', outcome: '0777' },
      { ...UNFIXED_NOEXEC2, outcome: ['0666', 'EINVAL'] },
      { since: '6.3', noexec: [1, 2], outcome: '0666' },
      { since: '6.3', outcome: '0777' },
    ],
    run: (ctx) => {
      const fd = attempt(() => memfd(ctx, 0));
      return typeof fd === 'number' ? modeOf(ctx, fd) : fd;
    },
  },
  {
    id: 'memfd.io.round-trip',
    title: 'write() then pread() returns the bytes; the size follows the write',
    family: 'memfd',
    source: [MT('mfd_assert_read'), LTP1('CHECK_MFD_READABLE')],
    expect: withPlainCreate('size=11 data=hello world'),
    run: (ctx) => {
      const { b } = ctx;
      const fd = memfd(ctx, 0);
      const data = Buffer.from('hello world');
      b.write(fd, data, 0, data.length, -1);
      const back = Buffer.alloc(data.length);
      b.read(fd, back, 0, back.length, 0);
      return kv({ size: b.fstat(fd).size, data: back.toString() });
    },
  },
  {
    id: 'memfd.share.reopen',
    title: 'reopening /proc/self/fd/N opens the same inode with its own file offset',
    family: 'memfd',
    source: [MT('test_share_open'), LTP1('test_share_open')],
    expect: withPlainCreate('sameInode=true readFd=0 readReopened=5'),
    run: (ctx) => {
      const { b } = ctx;
      const fd = memfd(ctx, 0);
      const again = ctx.fd(openSync(`/proc/self/fd/${fd}`, fsConstants.O_RDWR));
      b.write(fd, Buffer.from('12345'), 0, 5, -1);
      // read() at each file offset: fd's is past the 5 bytes written, the reopened one's is at 0.
      const readAtOffset = (f: number): number => b.read(f, Buffer.alloc(16), 0, 16, -1);
      return kv({ sameInode: b.fstat(fd).ino === b.fstat(again).ino, readFd: readAtOffset(fd), readReopened: readAtOffset(again) });
    },
  },
  {
    id: 'memfd.share.reopen-truncate',
    title: 'reopening an unsealed memfd with O_TRUNC truncates it to 0',
    family: 'memfd',
    source: [MT('mfd_assert_shrink'), SRC.observed('O_RDWR|O_CREAT|O_TRUNC reopen')],
    expect: withPlainCreate('before=4096 after=0'),
    run: (ctx) => {
      const { b } = ctx;
      const fd = memfd(ctx, ctx.c.MFD_ALLOW_SEALING!);
      b.ftruncate(fd, 4096);
      const before = b.fstat(fd).size;
      ctx.fd(openSync(`/proc/self/fd/${fd}`, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_TRUNC));
      return kv({ before, after: b.fstat(fd).size });
    },
  },
  {
    id: 'memfd.share.fork-mapping',
    title: 'a forked child writes through an inherited shared mapping; the parent reads it from the file',
    family: 'memfd',
    isolation: 'child',
    requires: ['secondProcess'],
    source: [MAN('NOTES: the file descriptor is inherited across fork'), SRC.observed('a forked child writes through the shared mapping; the parent reads the byte with pread')],
    expect: withPlainCreate('child=exited file=0x2a'),
    run: (ctx) => {
      const { b, c, pc } = ctx;
      const fd = memfd(ctx, 0);
      b.ftruncate(fd, ctx.page);
      const addr = mapFd(ctx, fd, ctx.page, c.PROT_READ! | c.PROT_WRITE!, c.MAP_SHARED!);
      if (typeof addr === 'string') return `mmap=${addr}`;
      const r = b.forkProbe(pc.FORK_WRITE!, addr, 1, 42, 5);
      const byte = Buffer.alloc(1);
      b.read(fd, byte, 0, 1, 0);
      return kv({ child: r.errno === 0 ? 'exited' : `signal ${r.signal}`, file: hex(byte[0]!) });
    },
  },
  {
    id: 'memfd.share.exec-inherit',
    title: 'a memfd without MFD_CLOEXEC survives execve; one with it does not',
    family: 'memfd',
    isolation: 'child',
    syscalls: ['execveat'],
    requires: ['secondProcess'],
    source: [MAN('NOTES: the descriptor is preserved across execve unless MFD_CLOEXEC'), SRC.observed('the descriptor in a child after execve')],
    expect: withPlainCreate('plain=open cloexec=closed'),
    run: (ctx) => {
      const { b, c, pc } = ctx;
      const look = (fd: number): string => {
        const script = `process.exit(require('fs').readlinkSync('/proc/self/fd/${fd}').startsWith('/memfd:conform-inherit') ? 0 : 3)`;
        const node = nodeCommand(['-e', script]);
        const r = b.forkExecveat(pc.AT_FDCWD!, node.file, [node.file, ...node.args], [], 0, 10);
        if (r.execErrno !== 0) return `exec-${errnoName(r.execErrno)}`;
        return r.exitCode === 0 ? 'open' : r.exitCode === 1 ? 'closed' : `exit ${r.exitCode ?? r.signal}`;
      };
      const plain = ctx.fd(b.memfdCreate('conform-inherit', 0));
      const cloexec = ctx.fd(b.memfdCreate('conform-inherit', c.MFD_CLOEXEC!));
      return kv({ plain: look(plain), cloexec: look(cloexec) });
    },
  },
];
