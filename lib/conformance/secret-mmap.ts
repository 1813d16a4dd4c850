/**
 * memfd_secret(2): the mapping rules (shared only, never executable, left
 * out of core dumps, SIGBUS past the end of the file) and the memlock limit
 * with and without CAP_IPC_LOCK, per the kernel's accounting
 * (secret-accounting.ts).
 */
import { attempt, errno, hex, kv, SRC, vmFlags } from './helpers.js';
import { ACCOUNTING_SOURCES, byAccounting, limitProbe, UID_LOCKED, vmLockedKiB } from './secret-accounting.js';
import { MAN, MS, SECRETMEM_C, secretCase, secretFd, secretMap } from './secret-helpers.js';
import type { Case } from './types.js';

export const cases: readonly Case[] = [
  secretCase({
    id: 'secret.mmap.private',
    title: 'a private mapping is refused with EINVAL',
    source: [SECRETMEM_C('secretmem_mmap: VM_SHARED required'), MAN('DESCRIPTION: the memory is mapped with MAP_SHARED')],
    expect: [{ since: '5.14', outcome: 'EINVAL' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = secretFd(ctx);
      b.ftruncate(fd, ctx.page);
      return errno(() => ctx.mapped(b.mmap(0n, ctx.page, c.PROT_READ! | c.PROT_WRITE!, c.MAP_PRIVATE!, fd, 0), ctx.page));
    },
  }),
  secretCase({
    id: 'secret.mmap.exec',
    title: 'PROT_EXEC is refused: mmap with EPERM (noexec mount), mprotect of a mapping with EACCES',
    source: [SECRETMEM_C('secretmem_init: SB_I_NOEXEC mount'), SRC.observed('errno per call')],
    expect: [{ since: '5.14', outcome: 'mmap=EPERM mprotect=EACCES' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const m = secretMap(ctx, 1);
      const rwx = c.PROT_READ! | c.PROT_WRITE! | c.PROT_EXEC!;
      return kv({
        mmap: errno(() => ctx.mapped(b.mmap(0n, ctx.page, c.PROT_READ! | c.PROT_EXEC!, c.MAP_SHARED!, m.fd, 0), ctx.page)),
        mprotect: errno(() => b.mprotect(m.addr, ctx.page, rwx)),
      });
    },
  }),
  secretCase({
    id: 'secret.mmap.locked',
    title: 'a shared mapping is left out of core dumps (VmFlags dd); it is locked (lo, VmLck grows) only before the CVE-2026-93243 accounting fix',
    source: [...ACCOUNTING_SOURCES, MAN('DESCRIPTION: the memory is locked'), SRC.observed('smaps VmFlags, VmLck')],
    docNote: 'memfd_secret(2) says the memory is locked; kernels with the CVE-2026-93243 fix no longer mark the mapping VM_LOCKED (the pages stay unevictable and are charged to RLIMIT_MEMLOCK when faulted in)',
    expect: byAccounting('lo=true dd=true vmlck-grew=16', 'lo=false dd=true vmlck-grew=0'),
    run: (ctx) => {
      const before = vmLockedKiB();
      const m = secretMap(ctx, 4);
      const flags = vmFlags(m.addr);
      return kv({ lo: flags.includes('lo'), dd: flags.includes('dd'), 'vmlck-grew': vmLockedKiB() - before });
    },
  }),
  secretCase({
    id: 'secret.mmap.beyond-size',
    title: 'a mapping longer than the file is allowed; touching a page past the end raises SIGBUS',
    requires: ['secondProcess'],
    source: [SECRETMEM_C('secretmem_fault: past EOF -> VM_FAULT_SIGBUS'), SRC.observed('SIGBUS in a forked child')],
    expect: [{ since: '5.14', outcome: 'mmap=ok inside=0x0 past-end=signal 7' }],
    run: (ctx) => {
      const { b, c, pc } = ctx;
      const fd = secretFd(ctx);
      b.ftruncate(fd, 4 * ctx.page);
      const addr = attempt(() => ctx.mapped(b.mmap(0n, 8 * ctx.page, c.PROT_READ! | c.PROT_WRITE!, c.MAP_SHARED!, fd, 0), 8 * ctx.page));
      if (typeof addr === 'string') return `mmap=${addr}`;
      const touch = (page: number): string => {
        const r = b.forkProbe(pc.FORK_READ!, addr + BigInt(page * ctx.page), 1, 0, 5);
        return r.value !== null ? hex(r.value) : `signal ${r.signal}`;
      };
      return kv({ mmap: 'ok', inside: touch(1), 'past-end': touch(5) });
    },
  }),
  secretCase({
    id: 'secret.memlock.limit',
    title: 'without CAP_IPC_LOCK, secret memory counts against RLIMIT_MEMLOCK: under a 2-page limit, 2 pages fit; 4 are refused at mmap (EAGAIN), or, with the accounting fix, mapped and backed only up to the limit (a touch past it is SIGBUS)',
    batch: 'secret-memlock',
    alone: UID_LOCKED,
    requires: ['secondProcess'],
    source: [MS('test_mlock_limit (in the selftest until it was dropped after 6.9)'), ...ACCOUNTING_SOURCES, SRC.observed('mmap, a kernel-side fill, and a touch in a forked child')],
    expect: byAccounting('two=ok four=EAGAIN', 'two=ok four=ok backed=2/4 touch=signal 7'),
    run: (ctx) => {
      const { b, pc } = ctx;
      const fd = secretFd(ctx);
      b.ftruncate(fd, 4 * ctx.page);
      const [soft, hard] = b.getrlimit(pc.RLIMIT_MEMLOCK!);
      b.capDrop(pc.CAP_IPC_LOCK!); // root ignores the limit otherwise; this process is throwaway
      b.setrlimit(pc.RLIMIT_MEMLOCK!, 2 * ctx.page, hard);
      ctx.defer(() => b.setrlimit(pc.RLIMIT_MEMLOCK!, soft, hard));
      return limitProbe(ctx, fd);
    },
  }),
  secretCase({
    id: 'secret.memlock.cap-ipc-lock',
    title: 'with CAP_IPC_LOCK (root), RLIMIT_MEMLOCK does not limit secret memory before the accounting fix; with it, it does',
    batch: 'secret-memlock-root', // its own child: secret.memlock.limit drops CAP_IPC_LOCK in its
    alone: UID_LOCKED,
    requires: ['ipcLock', 'secondProcess'],
    source: [...ACCOUNTING_SOURCES, SRC.code('mm/mlock.c', 'mlock_future_ok: capable(CAP_IPC_LOCK)'), SRC.observed('mmap and a kernel-side fill under a 2-page limit, as root')],
    expect: byAccounting('two=ok four=ok backed=4/4 touch=0x0', 'two=ok four=ok backed=2/4 touch=signal 7'),
    run: (ctx) => {
      const { b, pc } = ctx;
      const fd = secretFd(ctx);
      b.ftruncate(fd, 4 * ctx.page);
      const [soft, hard] = b.getrlimit(pc.RLIMIT_MEMLOCK!);
      b.setrlimit(pc.RLIMIT_MEMLOCK!, 2 * ctx.page, hard);
      ctx.defer(() => b.setrlimit(pc.RLIMIT_MEMLOCK!, soft, hard));
      return limitProbe(ctx, fd);
    },
  }),
];
