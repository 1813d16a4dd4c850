/**
 * memfd_secret(2) (5.14+, on by default from 6.5): whether the call exists
 * (boot parameter, default, the direct map), its flags, the descriptor it
 * returns (no file I/O, no seals), and the size, set once. The mapping
 * rules and the memlock limit are in secret-mmap.ts, access from other
 * processes and syscalls in secret-access.ts, mlock, hibernation and mseal
 * in secret-interplay.ts.
 *
 * Everything but the availability check runs in a throwaway child (see
 * secret-helpers.ts).
 */
import { readlinkSync } from 'node:fs';
import { attempt, byArch, errno, hex, kv, octal, SRC } from './helpers.js';
import { MAN, MS, SECRETMEM_C, secretCase, secretFd } from './secret-helpers.js';
import type { Case, Expectation } from './types.js';

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
];
