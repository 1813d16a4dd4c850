/**
 * memfd_secret(2) (5.14+, on by default from 6.5): flags, the descriptor,
 * size set once, mapping rules, the memlock limit, access from other
 * processes (process_vm_readv, ptrace, /proc/pid/mem), fork, and which
 * syscalls accept a pointer into secret memory.
 *
 * Everything but the availability check runs in a throwaway child: the
 * memory is locked, and one case lowers RLIMIT_MEMLOCK and drops
 * CAP_IPC_LOCK.
 */
import { closeSync, openSync, readFileSync, readlinkSync, readSync, constants as fsConstants } from 'node:fs';
import type { RawRegion } from '../binding.js';
import { attempt, byArch, errno, errnoName, hex, kv, octal, SRC, vmFlags } from './helpers.js';
import { ACCOUNTING_SOURCES, byAccounting, limitProbe, UID_LOCKED, vmLockedKiB } from './secret-accounting.js';
import type { Case, CaseContext, Expectation, Source } from './types.js';

const MS = SRC.secretTest;
const MAN = (section: string): Source => SRC.man('man2/memfd_secret.2', section);
const SECRETMEM_C = (fn: string): Source => SRC.code('mm/secretmem.c', fn);

interface SecretMap {
  fd: number;
  region: RawRegion;
  addr: bigint;
  bytes: Uint8Array;
}

/** A secret memfd of `pages` pages, mapped shared and filled with 0x55. */
function secretMap(ctx: CaseContext, pages: number): SecretMap {
  const { b, c } = ctx;
  const fd = ctx.fd(b.memfdSecret(c.O_CLOEXEC!));
  const length = pages * ctx.page;
  b.ftruncate(fd, length);
  const region = new b.Region(length, c.PROT_READ! | c.PROT_WRITE!, c.MAP_SHARED!, fd, 0, 0, ctx.page, false);
  ctx.defer(() => region.unmap());
  const bytes = new Uint8Array(region.view());
  bytes.fill(0x55);
  return { fd, region, addr: region.address, bytes };
}

function secretFd(ctx: CaseContext): number {
  return ctx.fd(ctx.b.memfdSecret(ctx.c.O_CLOEXEC!));
}

function secretCase(c: Omit<Case, 'family' | 'isolation' | 'requires'> & { requires?: Case['requires'] }): Case {
  return { ...c, family: 'secret', isolation: 'child', syscalls: ['memfd_secret', ...(c.syscalls ?? [])], requires: ['secretmem', ...(c.requires ?? [])] };
}

/**
 * Where memfd_secret refuses a kernel that cannot change its direct map
 * (ENOSYS): "secretmem: disable memfd_secret() if arch cannot set direct
 * map" (532b53cebe58, CVE-2024-50182) in 6.12 and the stable updates 6.1.113,
 * 6.6.57 and 6.11.4. Before it, such a kernel (arm64 without rodata_full, a
 * late KFENCE pool or debug_pagealloc) handed out secret memory it had not
 * taken out of its direct map.
 */
const DIRECT_MAP_FIXED: readonly Pick<Expectation, 'since' | 'before'>[] = [
  { since: '6.1.113', before: '6.2' },
  { since: '6.6.57', before: '6.7' },
  { since: '6.11.4', before: '6.12' },
  { since: '6.12' },
];
const NO_DIRECT_MAP = 'this kernel cannot change its direct map (arm64: can_set_direct_map() false, read from rodata=, kfence.sample_interval=, debug_pagealloc and the configuration), so memfd_secret is off';

export const cases: readonly Case[] = [
  {
    id: 'secret.syscall.available',
    title: 'memfd_secret exists from 5.14; off by default until 6.4 (secretmem.enable=1), on by default from 6.5',
    family: 'secret',
    syscalls: ['memfd_secret'],
    source: [
      MAN('VERSIONS / NOTES: disabled by default, secretmem.enable'),
      SRC.lkml('mm/secretmem: make it on by default (b758fe6df50d, 6.5)'),
      SRC.observed('Debian 6.1: ENOSYS without secretmem.enable=1'),
      SRC.lkml('secretmem: disable memfd_secret() if arch cannot set direct map (532b53cebe58, 6.12; stable 6.1.113, 6.6.57, 6.11.4)'),
      SRC.code('arch/arm64/mm/pageattr.c, arch/arm64/mm/mmu.c, arch/arm64/include/asm/setup.h', 'can_set_direct_map: rodata_full || debug_pagealloc_enabled() || arm64_kfence_can_set_direct_map()'),
      SRC.observedOn('Debian arm64 6.12.118 and 7.3.4 with each rodata= value and kfence.sample_interval=100', 'memfd_secret ENOSYS exactly where the direct map cannot change'),
    ],
    expect: [
      { before: '5.14', outcome: 'ENOSYS' },
      ...DIRECT_MAP_FIXED.map((r) => ({ ...r, condition: 'direct-map-fixed' as const, outcome: 'ENOSYS', note: NO_DIRECT_MAP })),
      { since: '5.14', before: '6.5', condition: 'secretmem-boot-enabled', outcome: 'ok' },
      { since: '5.14', before: '6.5', outcome: 'ENOSYS', note: 'off unless the kernel is booted with secretmem.enable=1' },
      { since: '6.5', condition: 'secretmem-boot-disabled', outcome: 'ENOSYS' },
      { since: '6.5', outcome: 'ok' },
    ],
    run: (ctx) => errno(() => ctx.close(ctx.fd(ctx.b.memfdSecret(ctx.c.O_CLOEXEC!)))),
  },
  secretCase({
    id: 'secret.flags.cloexec',
    title: 'O_CLOEXEC is the one flag accepted, and sets FD_CLOEXEC',
    source: [SECRETMEM_C('memfd_secret: flags & ~O_CLOEXEC'), MAN('DESCRIPTION: FD_CLOEXEC')],
    docNote: 'memfd_secret(2) names the flag FD_CLOEXEC; the kernel checks for O_CLOEXEC (a different value), which is what works',
    expect: [{ since: '5.14', outcome: 'ok cloexec=1' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = attempt(() => ctx.fd(b.memfdSecret(c.O_CLOEXEC!)));
      return typeof fd === 'string' ? fd : `ok cloexec=${b.fcntl(fd, c.F_GETFD!, 0) & c.FD_CLOEXEC!}`;
    },
  }),
  secretCase({
    id: 'secret.flags.invalid',
    title: 'any other flag (1, O_NONBLOCK, bit 31) is refused with EINVAL',
    source: [SECRETMEM_C('memfd_secret: flags & ~O_CLOEXEC -> EINVAL'), MAN('ERRORS: EINVAL')],
    expect: [{ since: '5.14', outcome: '1=EINVAL nonblock=EINVAL bit31=EINVAL' }],
    run: (ctx) => {
      const { b, c } = ctx;
      const create = (flags: number): string => errno(() => ctx.fd(b.memfdSecret(flags)));
      return kv({ 1: create(1), nonblock: create(c.O_NONBLOCK!), bit31: create(0x80000000) });
    },
  }),
  secretCase({
    id: 'secret.fd.shape',
    title: 'the descriptor is an empty regular file, mode 0600, O_RDWR | O_LARGEFILE (in the architecture\'s bits), shown as "/secretmem (deleted)"',
    source: [
      SRC.observed('fstat, F_GETFL, readlink'),
      SECRETMEM_C('secretmem_file_create'),
      SRC.code('include/uapi/asm-generic/fcntl.h, arch/arm64/include/uapi/asm/fcntl.h', 'O_LARGEFILE: 0x8000 on x86-64, 0x20000 on arm64'),
    ],
    expect: [
      ...byArch([{ since: '5.14', outcome: 'regular=true mode=0600 size=0 flags=0x8002 link=/secretmem (deleted)' }], 'x86_64'),
      ...byArch([{ since: '5.14', outcome: 'regular=true mode=0600 size=0 flags=0x20002 link=/secretmem (deleted)' }], 'arm64'),
    ],
    run: (ctx) => {
      const { b, c } = ctx;
      const fd = secretFd(ctx);
      const st = b.fstat(fd);
      return kv({
        regular: (st.mode & 0o170000) === 0o100000,
        mode: octal(st.mode),
        size: st.size,
        flags: hex(b.fcntl(fd, c.F_GETFL!, 0)),
        link: readlinkSync(`/proc/self/fd/${fd}`),
      });
    },
  }),
  secretCase({
    id: 'secret.fd.no-file-io',
    title: 'read() and write() fail with EINVAL, pread() and pwrite() with ESPIPE: the file has no I/O path',
    source: [MS('test_file_apis'), SRC.observed('errno per call')],
    expect: [{ since: '5.14', outcome: 'read=EINVAL write=EINVAL pread=ESPIPE pwrite=ESPIPE' }],
    run: (ctx) => {
      const { b } = ctx;
      const fd = secretFd(ctx);
      b.ftruncate(fd, ctx.page);
      const buf = Buffer.alloc(64);
      return kv({
        read: errno(() => b.read(fd, buf, 0, 64, -1)),
        write: errno(() => b.write(fd, buf, 0, 64, -1)),
        pread: errno(() => b.read(fd, buf, 0, 64, 0)),
        pwrite: errno(() => b.write(fd, buf, 0, 64, 0)),
      });
    },
  }),
  secretCase({
    id: 'secret.fd.no-seals',
    title: 'F_GET_SEALS on a secret memfd fails with EINVAL (not a shmem file)',
    source: [SRC.code('mm/memfd.c', 'memfd_file_seals_ptr'), SRC.observed('F_GET_SEALS')],
    expect: [{ since: '5.14', outcome: 'EINVAL' }],
    run: (ctx) => errno(() => ctx.b.getSeals(secretFd(ctx))),
  }),
  secretCase({
    id: 'secret.size.set-once',
    title: 'the size can be set once: a second ftruncate (same size or larger) fails with EINVAL',
    source: [SECRETMEM_C('secretmem_setattr'), SRC.lkml('mm/secretmem: fix panic when growing a memfd_secret (5.18, sent to stable)')],
    expect: [
      { since: '5.14', before: '5.18', outcome: ['first=ok same=EINVAL larger=EINVAL', 'first=ok same=ok larger=ok'], note: 'the set-once rule came with a 5.18 fix that stable trees took' },
      { since: '5.18', outcome: 'first=ok same=EINVAL larger=EINVAL' },
    ],
    run: (ctx) => {
      const { b } = ctx;
      const fd = secretFd(ctx);
      return kv({ first: errno(() => b.ftruncate(fd, 4 * ctx.page)), same: errno(() => b.ftruncate(fd, 4 * ctx.page)), larger: errno(() => b.ftruncate(fd, 8 * ctx.page)) });
    },
  }),
  secretCase({
    id: 'secret.size.fallocate',
    title: 'fallocate on a secret memfd is not supported (EOPNOTSUPP)',
    source: [SRC.observed('fallocate'), SECRETMEM_C('secretmem_fops (no fallocate)')],
    expect: [{ since: '5.14', outcome: 'ENOTSUP' }],
    run: (ctx) => errno(() => ctx.b.fallocate(secretFd(ctx), 0, 0, ctx.page)),
  }),
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
  secretCase({
    id: 'secret.mlock.refused',
    title: 'mlock over a secret mapping fails with ENOMEM and munlock is a no-op; MADV_DONTNEED fails with EINVAL while the mapping is VM_LOCKED (before the accounting fix)',
    source: [SRC.code('mm/gup.c', 'populate refuses secretmem'), SRC.code('mm/madvise.c', 'madvise_dontneed_free_valid_vma: VM_LOCKED'), ...ACCOUNTING_SOURCES, SRC.observed('6.18.44, Debian 7.3.4')],
    expect: byAccounting('mlock=ENOMEM munlock=ok dontneed=EINVAL still-locked=true', 'mlock=ENOMEM munlock=ok dontneed=ok still-locked=false'),
    run: (ctx) => {
      const { b, c } = ctx;
      const m = secretMap(ctx, 1);
      return kv({
        mlock: errno(() => b.mlock(m.addr, ctx.page)),
        munlock: errno(() => b.munlock(m.addr, ctx.page)),
        dontneed: errno(() => b.madvise(m.addr, ctx.page, c.MADV_DONTNEED!)),
        'still-locked': vmFlags(m.addr).includes('lo'),
      });
    },
  }),
  secretCase({
    id: 'secret.hibernation.refused',
    title: 'while a secret memory descriptor exists, hibernation is unavailable: /sys/power/state stops offering "disk", and offers it again once the descriptor is closed',
    batch: 'secret-hibernation',
    requires: ['hibernation'],
    source: [
      MAN('NOTES: hibernation is disabled while secret memory is in use'),
      SRC.code('kernel/power/hibernate.c', 'hibernation_available: !secretmem_active()'),
      SRC.observed('/sys/power/state in a VM'),
    ],
    expect: [{ since: '5.14', outcome: 'with-secret=no-disk closed=disk' }],
    run: (ctx) => {
      const disk = (): string => (readFileSync('/sys/power/state', 'utf8').split(/\s+/).includes('disk') ? 'disk' : 'no-disk');
      const fd = secretFd(ctx);
      const withSecret = disk();
      ctx.close(fd);
      return kv({ 'with-secret': withSecret, closed: disk() });
    },
  }),
  secretCase({
    id: 'secret.mseal.works',
    title: 'a secret mapping can be sealed with mseal',
    requires: ['mseal'],
    syscalls: ['mseal'],
    source: [SRC.observed('mseal on a secret mapping'), SRC.doc('userspace-api/mseal.rst', 'Use cases')],
    expect: [{ since: '6.10', outcome: 'seal=ok munmap=EPERM' }],
    run: (ctx) => {
      const m = secretMap(ctx, 1);
      const seal = errno(() => ctx.b.mseal(m.addr, ctx.page, 0));
      return kv({ seal, munmap: errno(() => ctx.b.munmap(m.addr, ctx.page)) });
    },
  }),
];
