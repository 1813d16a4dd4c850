/**
 * memfd_secret(2): who can reach the memory. Other processes cannot
 * (process_vm_readv, ptrace, /proc/pid/mem), nor can page pinning (GUP: the
 * owner's own process_vm_readv/writev, vmsplice); ordinary copies by the
 * owner's syscalls work, and a forked child inherits the mapping.
 */
import { closeSync, openSync, readSync, constants as fsConstants } from 'node:fs';
import { errno, errnoName, hex, kv, SRC } from './helpers.js';
import { MAN, MS, secretCase, secretMap } from './secret-helpers.js';
import type { Case } from './types.js';

export const cases: readonly Case[] = [
  secretCase({
    id: 'secret.remote.process-vm-readv',
    title: 'another process (a forked child) reading the secret page with process_vm_readv gets EFAULT',
    requires: ['secondProcess', 'ptrace'],
    syscalls: ['process_vm_readv'],
    source: [MS('test_process_vm_read'), MAN('DESCRIPTION: inaccessible to other processes')],
    expect: [{ since: '5.14', outcome: 'control=0x55 secret=EFAULT' }],
    run: (ctx) => {
      const { b, c, pc } = ctx;
      const m = secretMap(ctx, 1);
      const plain = b.mmap(0n, ctx.page, c.PROT_READ! | c.PROT_WRITE!, c.MAP_PRIVATE! | c.MAP_ANONYMOUS!, -1, 0);
      ctx.mapped(plain, ctx.page);
      b.poke(plain, Buffer.from([0x55]));
      const read = (addr: bigint): string => {
        const r = b.forkProbe(pc.FORK_VM_READ_PARENT!, addr, 8, 0, 5);
        if (r.errno === null) return `signal ${r.signal}`;
        return r.errno === 0 ? hex(r.value ?? -1) : errnoName(r.errno);
      };
      return kv({ control: read(plain), secret: read(m.addr) });
    },
  }),
  secretCase({
    id: 'secret.remote.ptrace-peek',
    title: 'a tracer (a forked child) reading the secret page with PTRACE_PEEKDATA gets EIO',
    requires: ['secondProcess', 'ptrace'],
    syscalls: ['ptrace'],
    source: [MS('test_ptrace'), MAN('DESCRIPTION: inaccessible to other processes, including ptrace')],
    expect: [{ since: '5.14', outcome: 'control=0x55 secret=EIO' }],
    run: (ctx) => {
      const { b, c, pc } = ctx;
      const m = secretMap(ctx, 1);
      const plain = ctx.mapped(b.mmap(0n, ctx.page, c.PROT_READ! | c.PROT_WRITE!, c.MAP_PRIVATE! | c.MAP_ANONYMOUS!, -1, 0), ctx.page);
      b.poke(plain, Buffer.from([0x55]));
      const peek = (addr: bigint): string => {
        const r = b.forkProbe(pc.FORK_PEEK_PARENT!, addr, 8, 0, 5);
        if (r.errno === null) return `signal ${r.signal}`;
        return r.errno === 0 ? hex(r.value ?? -1) : errnoName(r.errno);
      };
      return kv({ control: peek(plain), secret: peek(m.addr) });
    },
  }),
  secretCase({
    id: 'secret.remote.proc-mem',
    title: 'reading the secret page through /proc/self/mem fails with EIO',
    source: [SRC.observed('pread of /proc/self/mem'), MAN('DESCRIPTION: inaccessible even to the kernel')],
    expect: [{ since: '5.14', outcome: 'EIO' }],
    run: (ctx) => {
      const m = secretMap(ctx, 1);
      const fd = openSync('/proc/self/mem', fsConstants.O_RDONLY);
      try {
        readSync(fd, Buffer.alloc(8), 0, 8, m.addr);
        return 'ok';
      } catch (err) {
        return (err as { code?: string }).code ?? String(err);
      } finally {
        closeSync(fd);
      }
    },
  }),
  secretCase({
    id: 'secret.gup.self-process-vm',
    title: 'even the owner cannot reach the page through process_vm_readv/writev on itself (EFAULT)',
    syscalls: ['process_vm_readv'],
    source: [SRC.code('mm/gup.c', 'check_vma_flags: secretmem mappings refuse GUP'), SRC.observed('process_vm_readv on self')],
    expect: [{ since: '5.14', outcome: 'readv=EFAULT writev=EFAULT' }],
    run: (ctx) => {
      const m = secretMap(ctx, 1);
      return kv({ readv: errno(() => ctx.b.peek(m.addr, 8)), writev: errno(() => ctx.b.poke(m.addr, Buffer.from([1]))) });
    },
  }),
  secretCase({
    id: 'secret.gup.vmsplice',
    title: 'vmsplice of a faulted-in secret page into a pipe fails with EFAULT (no page pinning)',
    source: [SRC.lkml('mm/secretmem: fix GUP-fast succeeding on secretmem folios (6.9-rc3; 6.8.5, 6.6.26, 6.1.85)'), SRC.observed('vmsplice EFAULT')],
    // Only where the fix is known present: before it, GUP-fast could take the page and a later splice could oops the kernel.
    expect: [
      { since: '6.1.85', before: '6.2', outcome: 'EFAULT' },
      { since: '6.6.26', before: '6.7', outcome: 'EFAULT' },
      { since: '6.8.5', before: '6.9', outcome: 'EFAULT' },
      { since: '6.9', outcome: 'EFAULT' },
    ],
    run: (ctx) => errno(() => ctx.b.vmsplice(secretMap(ctx, 1).addr, ctx.page)),
  }),
  secretCase({
    id: 'secret.syscall.copies-work',
    title: 'ordinary copies to and from the owner\'s secret mapping work: write() from it, read() into it, through a pipe',
    source: [SRC.observed('write/read with a secret buffer'), MAN('NOTES: the memory cannot be accessed by the kernel')],
    docNote:
      'memfd_secret(2) says the memory is not accessible to the kernel and cannot be passed to syscalls that access it; on 6.18 copy_to_user/copy_from_user from the owner\'s own mapping work, only page pinning (GUP) and remote access are refused',
    expect: [{ since: '5.14', outcome: 'pipe=16/16 write-from=ok read-into=0x55' }],
    run: (ctx) => {
      const { b } = ctx;
      const m = secretMap(ctx, 1);
      const [w, r] = b.pipeRoundTrip(m.addr, 16);
      const plain = ctx.fd(b.memfdCreate('conform-copy', b.constants.MFD_CLOEXEC!));
      const writeFrom = errno(() => b.write(plain, m.bytes, 0, 16, 0));
      m.bytes.fill(0);
      b.read(plain, m.bytes, 0, 16, 0);
      return kv({ pipe: `${w}/${r}`, 'write-from': writeFrom, 'read-into': hex(m.bytes[0]!) });
    },
  }),
  secretCase({
    id: 'secret.fork.inherited',
    title: 'a forked child inherits the shared secret mapping and reads its contents',
    requires: ['secondProcess'],
    source: [MAN('NOTES: the mapping is inherited across fork'), SRC.observed('forked child reads 0x55')],
    expect: [{ since: '5.14', outcome: '0x55' }],
    run: (ctx) => {
      const m = secretMap(ctx, 1);
      const r = ctx.b.forkProbe(ctx.pc.FORK_READ!, m.addr, 1, 0, 5);
      return r.value !== null ? hex(r.value) : `signal ${r.signal}`;
    },
  }),
];
