/**
 * mseal(2), the parts the modules before it leave out: how sealing merges
 * with the next VMA and across a whole range, seals that split two VMAs at
 * once, ranges with holes sealed piece by piece afterwards, a length beyond
 * the address space, page 0, discarding madvise under a write-disabled
 * protection key, the system mappings besides [vdso], and the historical
 * seal_elf check on an unsealed page. mseal-controls.ts follows with the
 * seal=false controls.
 *
 * Like the other mseal modules, every case runs in the mseal child (with
 * MEMSEAL_UNSAFE_RAW=1): sealed mappings stay until the process exits.
 */
import { readFileSync } from 'node:fs';
import { nodeBinary } from '../node-self.js';
import { anon, errno, hex, kv, mapsIn, SRC, vmaCount } from './helpers.js';
import { ANON, at, DOC, mprotect, msealCase, MST, RW, seal, since } from './mseal-helpers.js';
import type { Case, CaseContext, Source } from './types.js';

const MERGE = (test: string): Source => ({ kind: 'selftest', path: 'torvalds/linux tools/testing/selftests/mm/merge.c', test });

/** The VMA holding `addr`: its size in pages and permissions ("22r--p"), or "none". */
function vmaAt(ctx: CaseContext, addr: bigint): string {
  const m = mapsIn(addr, 1)[0];
  return m === undefined ? 'none' : `${Number(m.end - m.start) / ctx.page}${m.perms}`;
}

/** Whether the VMA holding `addr` carries the smaps "sl" (sealed) flag. */
function sealedFlag(addr: bigint): boolean {
  const text = readFileSync('/proc/self/smaps', 'utf8');
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(lines[i]!);
    if (!m || addr < BigInt(`0x${m[1]}`) || addr >= BigInt(`0x${m[2]}`)) continue;
    for (let j = i + 1; j < lines.length; j++) {
      const f = /^VmFlags:(.*)$/.exec(lines[j]!);
      if (f) return f[1]!.trim().split(/\s+/).includes('sl');
    }
  }
  return false;
}

/** A 24-page read-only mapping fenced as (1 NONE) (22 RO) (1 NONE), as test_seal_merge_and_split sets it up. */
function fenced(ctx: CaseContext): bigint {
  const { c } = ctx;
  const addr = anon(ctx, 24, c.PROT_READ!);
  ctx.b.mprotect(addr, ctx.page, c.PROT_NONE!);
  ctx.b.mprotect(at(ctx, addr, 23), ctx.page, c.PROT_NONE!);
  return addr;
}

/** The system mapping named `name` in /proc/self/smaps: 'sealed', 'unsealed', or 'absent'. */
function systemMapping(name: string): string {
  const text = readFileSync('/proc/self/smaps', 'utf8');
  const start = text.split('\n').findIndex((l) => /^[0-9a-f]+-[0-9a-f]+ /.test(l) && l.trimEnd().endsWith(name));
  if (start < 0) return 'absent';
  const lines = text.split('\n');
  for (let j = start + 1; j < lines.length; j++) {
    const f = /^VmFlags:(.*)$/.exec(lines[j]!);
    if (f) return f[1]!.trim().split(/\s+/).includes('sl') ? 'sealed' : 'unsealed';
  }
  return 'unsealed';
}

/**
 * The system mappings each architecture gives every process, and where that
 * is written: [vdso] and [vvar] on both (arch/x86/entry/vdso/vma.c,
 * arch/arm64/kernel/vdso.c, and lib/vdso/datastore.c from 6.15); x86-64 has
 * had [vvar_vclock] besides since "x86/vdso: Split virtual clock pages into
 * dedicated mapping" (6.13: in 7.3.4's vma.c, not in 6.12.118's); arm64 has
 * none ([sigpage] and [vectors] are for 32-bit processes only). Left out:
 * x86-64's [vsyscall], which depends on CONFIG_LEGACY_VSYSCALL_* and the
 * vsyscall= boot option, and [uprobes], which appears after a uprobe hit.
 */
const SYSMAP_SOURCES: readonly Source[] = [
  SRC.code('arch/x86/entry/vdso/vma.c', 'vdso_mapping, vvar_mapping, vvar_vclock_mapping'),
  SRC.code('arch/arm64/kernel/vdso.c, lib/vdso/datastore.c', 'vdso_install_special_mapping: [vvar], [vdso]'),
  SRC.lkml('x86/vdso: Split virtual clock pages into dedicated mapping (6.13)'),
];

/**
 * A system mapping sealed by CONFIG_MSEAL_SYSTEM_MAPPINGS (6.15): `sealed`
 * where the architecture maps it into every process, `absent` where it does
 * not (per architecture, SYSMAP_SOURCES).
 */
function sysmapCase(name: string, idPart: string, on: { x86_64: 'sealed' | 'absent'; arm64: 'sealed' | 'absent' }, note: string): Case {
  return msealCase({
    id: `mseal.sysmap.${idPart}-sealed`,
    title: `with CONFIG_MSEAL_SYSTEM_MAPPINGS, ${name} carries the sealed flag ("sl" in smaps) where the architecture maps it (x86-64: ${on.x86_64}; arm64: ${on.arm64})`,
    requires: ['mseal', 'sysmapSealed'],
    source: [SRC.sysmap(`basic.${idPart.replace('-', '_')}`), DOC('System mappings (6.15)'), ...SYSMAP_SOURCES],
    expect: [
      { since: '6.15', condition: 'x86_64', outcome: on.x86_64, note },
      { since: '6.15', condition: 'arm64', outcome: on.arm64, note },
    ],
    run: () => systemMapping(name),
  });
}

export const cases: readonly Case[] = [
  msealCase({
    id: 'mseal.vma.merge-next',
    title: 'sealing the page before a sealed VMA merges it with that next VMA, in one step and after a split',
    source: [MST('test_seal_merge_and_split')],
    expect: since('6.10', 'end=1r--p next=2r--p split-next=3r--p rest=19r--p'),
    run: (ctx) => {
      const addr = fenced(ctx);
      seal(ctx, at(ctx, addr, 22), 1);
      const end = vmaAt(ctx, at(ctx, addr, 22));
      seal(ctx, at(ctx, addr, 21), 1);
      const next = vmaAt(ctx, at(ctx, addr, 21));
      seal(ctx, at(ctx, addr, 20), 2);
      return kv({ end, next, 'split-next': vmaAt(ctx, at(ctx, addr, 20)), rest: vmaAt(ctx, at(ctx, addr, 2)) });
    },
  }),
  msealCase({
    id: 'mseal.vma.merge-whole',
    title: 'sealing the 20 pages between two sealed 1-page VMAs merges all into one 22-page sealed VMA; munmap and mprotect of it fail',
    source: [MST('test_seal_merge_and_split')],
    expect: since(
      '6.10',
      'before=1r--p|20r--p|1r--p seal=ok after=22r--p vmas=3 sealed=true munmap=EPERM mprotect=EPERM',
      'kernels from 6.17 without "mm/mseal: update VMA end correctly on merge" (6.18.21, 7.0-rc6) may seal a wrong range after such a merge',
    ),
    run: (ctx) => {
      const { c } = ctx;
      const addr = fenced(ctx);
      seal(ctx, at(ctx, addr, 1), 1);
      seal(ctx, at(ctx, addr, 22), 1);
      const before = [1, 2, 22].map((p) => vmaAt(ctx, at(ctx, addr, p))).join('|');
      const s = seal(ctx, at(ctx, addr, 2), 20);
      return kv({
        before,
        seal: s,
        after: vmaAt(ctx, at(ctx, addr, 1)),
        vmas: vmaCount(addr, 24 * ctx.page),
        sealed: sealedFlag(at(ctx, addr, 12)),
        munmap: errno(() => ctx.b.munmap(at(ctx, addr, 1), ctx.page)),
        mprotect: mprotect(ctx, at(ctx, addr, 2), 1, c.PROT_NONE!),
      });
    },
  }),
  msealCase({
    id: 'mseal.vma.split-two',
    title: 'sealing the middle 2 pages across 2 VMAs splits both: pages 1-2 are sealed, pages 0 and 3 are not',
    source: [MST('test_seal_mprotect_two_vma_with_split')],
    expect: since('6.10', 'vmas=2 seal=ok after=4 p0=ok p1=EPERM p2=EPERM p3=ok'),
    run: (ctx) => {
      const { c } = ctx;
      const addr = anon(ctx, 4, c.PROT_READ!);
      ctx.b.mprotect(addr, 2 * ctx.page, RW(ctx));
      const vmas = vmaCount(addr, 4 * ctx.page);
      const s = seal(ctx, at(ctx, addr, 1), 2);
      const after = vmaCount(addr, 4 * ctx.page);
      const p = (i: number): string => mprotect(ctx, at(ctx, addr, i), 1, RW(ctx));
      return kv({ vmas, seal: s, after, p0: p(0), p1: p(1), p2: p(2), p3: p(3) });
    },
  }),
  msealCase({
    id: 'mseal.vma.seal-across-boundary',
    title: 'sealing the first 2 pages, which span 2 VMAs: mprotect of them fails, of the last 2 pages works',
    source: [MST('test_seal_mprotect_merge')],
    expect: since('6.10', 'seal=ok first=EPERM last=ok'),
    run: (ctx) => {
      const { c } = ctx;
      const addr = anon(ctx, 4, c.PROT_READ!);
      ctx.b.mprotect(addr, ctx.page, RW(ctx));
      const s = seal(ctx, addr, 2);
      return kv({ seal: s, first: mprotect(ctx, addr, 2, c.PROT_READ!), last: mprotect(ctx, at(ctx, addr, 2), 2, c.PROT_READ!) });
    },
  }),
  msealCase({
    id: 'mseal.range.unmapped-start-then-tail',
    title: 'over [hole hole | mapped mapped] mseal fails (ENOMEM); the mapped tail alone can then be sealed',
    source: [MST('test_seal_unmapped_start'), SRC.man('man2/mseal.2', 'ERRORS: ENOMEM')],
    expect: since('6.10', 'mprotect=ENOMEM all=ENOMEM tail=ok tail-sealed=true'),
    run: (ctx) => {
      const addr = anon(ctx, 4, ctx.c.PROT_READ!);
      ctx.b.munmap(addr, 2 * ctx.page);
      const mp = mprotect(ctx, addr, 4, RW(ctx));
      const all = seal(ctx, addr, 4);
      const tail = seal(ctx, at(ctx, addr, 2), 2);
      return kv({ mprotect: mp, all, tail, 'tail-sealed': sealedFlag(at(ctx, addr, 2)) });
    },
  }),
  msealCase({
    id: 'mseal.range.unmapped-end-then-head',
    title: 'over [mapped mapped | hole hole] mseal fails (ENOMEM); the mapped first 2 pages can then be sealed',
    source: [MST('test_seal_unmapped_end')],
    expect: since('6.10', 'all=ENOMEM head=ok head-sealed=true'),
    run: (ctx) => {
      const addr = anon(ctx, 4, ctx.c.PROT_READ!);
      ctx.b.munmap(at(ctx, addr, 2), 2 * ctx.page);
      const all = seal(ctx, addr, 4);
      return kv({ all, head: seal(ctx, addr, 2), 'head-sealed': sealedFlag(addr) });
    },
  }),
  msealCase({
    id: 'mseal.len.beyond-address-space',
    title: 'a length of UINT64_MAX / page size (a range far past the end of the address space, no wrap) is refused with ENOMEM',
    source: [MST('test_seal_invalid_input'), SRC.code('mm/mseal.c', 'do_mseal: range_contains_unmapped')],
    expect: since('6.10', 'ENOMEM'),
    run: (ctx) => {
      const addr = anon(ctx, 4, ctx.c.PROT_READ!);
      return errno(() => ctx.b.mseal(addr, 0xffffffffffffffffn / BigInt(ctx.page), 0));
    },
  }),
  msealCase({
    id: 'mseal.zero.address',
    title: 'a 4-page PROT_NONE mapping at address 0 (MAP_FIXED) can be sealed; mprotect of it then fails with EPERM',
    requires: ['mseal', 'lowAddress'],
    // Its own child: the sealed pages at 0 stay, and would stand in the way of mseal.mremap.move-to-zero.
    batch: 'mseal-zero',
    source: [MST('test_seal_zero_address')],
    expect: since('6.10', 'map=0x0 vma=4---p seal=ok mprotect=EPERM'),
    run: (ctx) => {
      const { b, c } = ctx;
      const length = 4 * ctx.page;
      let addr: bigint;
      try {
        addr = b.mmap(0n, length, c.PROT_NONE!, ANON(ctx) | c.MAP_FIXED!, -1, 0);
      } catch (err) {
        return kv({ map: errno(() => { throw err; }) });
      }
      ctx.mapped(addr, length);
      return kv({ map: hex(Number(addr)), vma: vmaAt(ctx, addr), seal: seal(ctx, addr, 4), mprotect: mprotect(ctx, addr, 4, RW(ctx)) });
    },
  }),
  msealCase({
    id: 'mseal.mremap.move-to-zero',
    title: 'mremap(MAYMOVE | FIXED) to address 0: refused with EPERM for a sealed source, done (returns 0) for an unsealed one',
    requires: ['mseal', 'lowAddress'],
    syscalls: ['mremap'],
    source: [MST('test_seal_mremap_move_fixed_zero')],
    expect: since('6.10', 'sealed=EPERM unsealed=0x0'),
    run: (ctx) => {
      const { b, c } = ctx;
      const flags = c.MREMAP_MAYMOVE! | c.MREMAP_FIXED!;
      const sealedSrc = anon(ctx, 4, c.PROT_READ!);
      b.mseal(sealedSrc, 4 * ctx.page, 0);
      const sealed = errno(() => b.mremap(sealedSrc, 4 * ctx.page, 2 * ctx.page, flags, 0n));
      const plain = anon(ctx, 4, c.PROT_READ!);
      let unsealed: string;
      try {
        const to = b.mremap(plain, 4 * ctx.page, 2 * ctx.page, flags, 0n);
        ctx.mapped(to, 2 * ctx.page);
        unsealed = hex(Number(to));
      } catch (err) {
        unsealed = errno(() => { throw err; });
      }
      return kv({ sealed, unsealed });
    },
  }),
  msealCase({
    id: 'mseal.pkey.discard-write-disabled',
    title: 'sealed RW anonymous memory with a protection key: MADV_DONTNEED works while PKRU allows writes, fails (EPERM) when PKRU denies them; munmap fails',
    requires: ['mseal', 'pku'],
    syscalls: ['pkey_mprotect'],
    source: [MST('test_seal_discard_ro_anon_on_pkey'), SRC.code('mm/mseal.c', 'can_modify_vma_madv: arch_vma_access_permitted')],
    // The selftest flips PKRU with WRPKRU; here each key gets its rights at pkey_alloc (which sets this thread's PKRU),
    // one key that allows writes and one that denies them, on two mappings.
    expect: since('6.10', 'allow=ok deny=EPERM unsealed-deny=ok munmap=EPERM'),
    run: (ctx) => {
      const { b, c } = ctx;
      const PKEY_DISABLE_WRITE = 0x2;
      const allowKey = b.pkeyAlloc(0, 0);
      const denyKey = b.pkeyAlloc(0, PKEY_DISABLE_WRITE);
      const keyed = (key: number, sealIt: boolean): bigint => {
        const addr = anon(ctx, 4, RW(ctx));
        b.pkeyMprotect(addr, 4 * ctx.page, RW(ctx), key);
        if (sealIt) b.mseal(addr, 4 * ctx.page, 0);
        return addr;
      };
      const dontneed = (addr: bigint): string => errno(() => b.madvise(addr, 4 * ctx.page, c.MADV_DONTNEED!));
      const allowed = keyed(allowKey, true);
      const denied = keyed(denyKey, true);
      const unsealed = keyed(denyKey, false);
      return kv({
        allow: dontneed(allowed),
        deny: dontneed(denied),
        'unsealed-deny': dontneed(unsealed),
        munmap: errno(() => b.munmap(denied, 4 * ctx.page)),
      });
    },
  }),
  msealCase({
    id: 'mseal.vma.merge-separate-mappings',
    title: 'three separately mapped VMAs, RWX | RWX sealed | RO: sealing all three merges the first two into one sealed VMA',
    source: [MERGE('merge_vmas_with_mseal')],
    expect: since('6.10', 'before=3 seal=ok after=2 first=2rwxp sealed=true'),
    run: (ctx) => {
      const { b, c } = ctx;
      const RWX = RW(ctx) | c.PROT_EXEC!;
      const base = anon(ctx, 3, c.PROT_NONE!);
      b.mmap(base, ctx.page, RWX, ANON(ctx) | c.MAP_FIXED!, -1, 0);
      b.mmap(at(ctx, base, 1), ctx.page, RWX, ANON(ctx) | c.MAP_FIXED!, -1, 0);
      b.mseal(at(ctx, base, 1), ctx.page, 0);
      b.mmap(at(ctx, base, 2), ctx.page, c.PROT_READ!, ANON(ctx) | c.MAP_FIXED!, -1, 0);
      const before = vmaCount(base, 3 * ctx.page);
      const s = seal(ctx, base, 3);
      return kv({ before, seal: s, after: vmaCount(base, 3 * ctx.page), first: vmaAt(ctx, base), sealed: sealedFlag(base) });
    },
  }),
  msealCase({
    id: 'mseal.elf.unsealed-page-writable',
    title: 'an unsealed read-only page of the program\'s own ELF can be made writable, written (same byte) and set back to read-only',
    // Needs mseal only as the control of mseal.elf.read-only-segment. Its own child: that case seals a read-only mapping of the same executable.
    batch: 'mseal-elf',
    syscalls: ['process_vm_writev'],
    source: [SRC.sealElf('test_seal_elf (seal=false: the unsealed .rodata page)')],
    expect: since('3.2', 'before=EFAULT mprotect=ok write=ok back=ok after=EFAULT'),
    run: (ctx) => {
      const { b, c } = ctx;
      const exe = nodeBinary();
      const line = readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .find((l) => / r--p /.test(l) && l.endsWith(exe));
      if (line === undefined) return 'no read-only mapping of the executable';
      const page = BigInt(`0x${line.split('-')[0]!}`);
      const byte = b.peek(page, 1);
      const before = errno(() => b.poke(page, byte));
      const mp = mprotect(ctx, page, 1, RW(ctx));
      const write = errno(() => b.poke(page, byte));
      const back = mprotect(ctx, page, 1, c.PROT_READ!);
      return kv({ before, mprotect: mp, write, back, after: errno(() => b.poke(page, byte)) });
    },
  }),
  sysmapCase('[vvar]', 'vvar', { x86_64: 'sealed', arm64: 'sealed' }, 'x86-64 and arm64 map [vvar] into every process'),
  sysmapCase('[vvar_vclock]', 'vvar-vclock', { x86_64: 'sealed', arm64: 'absent' }, 'x86-64 has [vvar_vclock] from 6.13; arm64 has none'),
  msealCase({
    id: 'mseal.sysmap.uprobes-sealed',
    title: 'with CONFIG_MSEAL_SYSTEM_MAPPINGS, [uprobes] carries the sealed flag where the process has one',
    requires: ['mseal', 'sysmapSealed'],
    source: [SRC.sysmap('basic.uprobes'), DOC('System mappings (6.15)'), SRC.code('kernel/events/uprobes.c', '__create_xol_area: [uprobes], VM_SEALED_SYSMAP')],
    // The one machine-dependent outcome: the area is made when a uprobe first hits in the process, on any architecture.
    expect: [{ since: '6.15', outcome: ['sealed', 'absent'], note: '[uprobes] exists only after a uprobe hit in this process: usually absent' }],
    run: () => systemMapping('[uprobes]'),
  }),
  {
    id: 'mseal.sysmap.present',
    title: "a process has exactly its architecture's system mappings: [vdso] and [vvar], and on x86-64 from 6.13 [vvar_vclock]",
    family: 'mseal',
    source: [...SYSMAP_SOURCES, SRC.sysmap('variants: vdso, vvar, vvar_vclock, sigpage, vectors, uprobes')],
    expect: [
      // From 6.1, the oldest kernel whose code was read (6.1.192: x86's vma.c and arm64's vdso.c name [vdso] and [vvar]).
      { since: '6.1', before: '6.13', condition: 'x86_64', outcome: '[vdso] [vvar]' },
      { since: '6.13', condition: 'x86_64', outcome: '[vdso] [vvar] [vvar_vclock]', note: '[vvar_vclock] split from [vvar] in 6.13' },
      { since: '6.1', condition: 'arm64', outcome: '[vdso] [vvar]' },
    ],
    run: () =>
      ['[vdso]', '[vvar]', '[vvar_vclock]', '[sigpage]', '[vectors]']
        .filter((n) => systemMapping(n) !== 'absent')
        .join(' ') || 'none',
  },
];
