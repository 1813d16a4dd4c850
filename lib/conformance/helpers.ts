/**
 * Small helpers the case modules share. Observed outcomes are short strings:
 * `ok` for success, an errno name (`EPERM`) for a failure, a value
 * (`0x20`, `0777`), or several of these as `key=value` pairs.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { SyscallError } from '../errors.js';
import type { CaseContext, Expectation, Source } from './types.js';

/** 'ok' when `fn` returns, the errno name when it throws a SyscallError; anything else propagates. */
export function errno(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof SyscallError) return err.code;
    throw err;
  }
}

/** The name of a positive errno number ('EPERM' for 1). */
export function errnoName(n: number): string {
  return new SyscallError('syscall', -n).code;
}

/** The value `fn` returns, or the errno name it failed with. */
export function attempt<T>(fn: () => T): T | string {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SyscallError) return err.code;
    throw err;
  }
}

/** `key=value` pairs in order: `write=EPERM mmap=ok`. */
export function kv(pairs: Record<string, string | number | boolean>): string {
  return Object.entries(pairs)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Permission bits as four octal digits: 0777. */
export function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/** A memfd, closed when the case ends. */
export function memfd(ctx: CaseContext, flags: number, name = 'conform'): number {
  return ctx.fd(ctx.b.memfdCreate(name, flags));
}

/** A memfd with sealing allowed and `size` bytes (zeros). */
export function sized(ctx: CaseContext, size: number, flags?: number): number {
  const fd = memfd(ctx, flags ?? ctx.c.MFD_ALLOW_SEALING!);
  ctx.b.ftruncate(fd, size);
  return fd;
}

export function modeOf(ctx: CaseContext, fd: number): string {
  return octal(ctx.b.fstat(fd).mode);
}

/** F_GET_SEALS as hex, or the errno name. */
export function sealsOf(ctx: CaseContext, fd: number): string {
  const s = attempt(() => ctx.b.getSeals(fd));
  return typeof s === 'number' ? hex(s) : s;
}

/** F_GET_SEALS without F_SEAL_EXEC, which vm.memfd_noexec 1 and 2 add to every plain memfd. */
export function sealsNoExec(ctx: CaseContext, fd: number): string {
  const s = attempt(() => ctx.b.getSeals(fd));
  return typeof s === 'number' ? hex(s & ~ctx.c.F_SEAL_EXEC!) : s;
}

export function addSeals(ctx: CaseContext, fd: number, seals: number | bigint): string {
  return errno(() => ctx.b.addSeals(fd, seals));
}

/** mmap of `fd`, unmapped when the case ends; the address or the errno name. */
export function mapFd(ctx: CaseContext, fd: number, length: number, prot: number, flags: number, offset = 0): bigint | string {
  const addr = attempt(() => ctx.b.mmap(0n, length, prot, flags, fd, offset));
  return typeof addr === 'bigint' ? ctx.mapped(addr, length) : addr;
}

/** As mapFd, but only 'ok' or the errno name. */
export function mapResult(ctx: CaseContext, fd: number, length: number, prot: number, flags: number): string {
  const r = mapFd(ctx, fd, length, prot, flags);
  return typeof r === 'bigint' ? 'ok' : r;
}

/**
 * The next free range for anon(), or 0n (let the kernel choose). Where the
 * kernel chooses, a page a case unmaps to make a hole is the first place the
 * next small mmap of any thread of this process goes (V8's, a sanitizer's
 * allocator): a case that then used the hole (mprotect, mremap into it,
 * munmap or MAP_FIXED across it) would see, or clobber, someone else's
 * memory. So anon() maps in the middle of the largest gap of the address
 * space, a fresh range each time with unmapped pages between ranges, and
 * never reuses one: mmap without an address puts other mappings at the top
 * of the highest gap that fits (the default top-down layout) or the bottom of
 * the lowest (the legacy one), never in the middle of that gap, so nothing
 * else lands in these holes.
 */
let quiet: { next: bigint; end: bigint } | null | undefined;
const QUIET_SPAN = 1n << 32n;

function quietAddress(ctx: CaseContext, length: number): bigint {
  if (quiet === undefined) quiet = largestGapMiddle();
  if (quiet === null) return 0n;
  const address = quiet.next;
  const next = address + BigInt(length) + 16n * BigInt(ctx.page);
  if (next > quiet.end) return 0n;
  quiet.next = next;
  return address;
}

function largestGapMiddle(): { next: bigint; end: bigint } | null {
  let best = { start: 0n, size: 0n };
  let previousEnd: bigint | undefined;
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (m === null || line.endsWith('[vsyscall]')) continue; // the vsyscall page is above the user address space
    const start = BigInt(`0x${m[1]}`);
    if (previousEnd !== undefined && start - previousEnd > best.size) best = { start: previousEnd, size: start - previousEnd };
    previousEnd = BigInt(`0x${m[2]}`);
  }
  if (best.size < 4n * QUIET_SPAN) return null;
  const middle = (best.start + best.size / 2n) & ~(QUIET_SPAN - 1n);
  return { next: middle, end: middle + QUIET_SPAN };
}

/**
 * An anonymous private mapping of `pages` pages, unmapped when the case ends
 * (unless sealed), where no other mapping of this process will land in the
 * holes the case makes in it (quietAddress).
 */
export function anon(ctx: CaseContext, pages: number, prot?: number, flags?: number): bigint {
  const { c } = ctx;
  const length = pages * ctx.page;
  const addr = ctx.b.mmap(quietAddress(ctx, length), length, prot ?? c.PROT_READ! | c.PROT_WRITE!, flags ?? c.MAP_PRIVATE! | c.MAP_ANONYMOUS!, -1, 0);
  return ctx.mapped(addr, length);
}

export function pwrite(ctx: CaseContext, fd: number, data: Uint8Array, position: number): string {
  return errno(() => ctx.b.write(fd, data, 0, data.length, position));
}

/**
 * A byte count in pages of this machine (`2*page`) when it is a whole
 * number of them, else in bytes: outcomes then read the same on 4 KiB and
 * 16 KiB pages.
 */
export function inPages(ctx: CaseContext, bytes: number): string {
  return bytes !== 0 && bytes % ctx.page === 0 ? `${bytes / ctx.page}*page` : String(bytes);
}

/** The count a pwrite returned, in pages (inPages), or the errno name. */
export function pwriteCount(ctx: CaseContext, fd: number, data: Uint8Array, position: number): string {
  const n = attempt(() => ctx.b.write(fd, data, 0, data.length, position));
  return typeof n === 'number' ? inPages(ctx, n) : n;
}

/** The file's size, in pages (inPages). */
export function size(ctx: CaseContext, fd: number): string {
  return inPages(ctx, ctx.b.fstat(fd).size);
}

/** The link text of /proc/self/fd/N. */
export function fdLink(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`);
}

/** The VmFlags of the mapping that contains `addr`, from /proc/self/smaps. */
export function vmFlags(addr: bigint): string[] {
  const text = readFileSync('/proc/self/smaps', 'utf8');
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(lines[i]!);
    if (!m) continue;
    if (addr < BigInt(`0x${m[1]}`) || addr >= BigInt(`0x${m[2]}`)) continue;
    for (let j = i + 1; j < lines.length; j++) {
      const f = /^VmFlags:(.*)$/.exec(lines[j]!);
      if (f) return f[1]!.trim().split(/\s+/);
    }
  }
  return [];
}

/** The [start, end) of each mapping overlapping [addr, addr + length), from /proc/self/maps, with its permissions. */
export function mapsIn(addr: bigint, length: number): { start: bigint; end: bigint; perms: string }[] {
  const end = addr + BigInt(length);
  const out: { start: bigint; end: bigint; perms: string }[] = [];
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/.exec(line);
    if (!m) continue;
    const s = BigInt(`0x${m[1]}`);
    const e = BigInt(`0x${m[2]}`);
    if (e > addr && s < end) out.push({ start: s, end: e, perms: m[3]! });
  }
  return out;
}

/** The permissions of each page of [addr, addr + pages), '-' for an unmapped page: "rw-p|r--p|-". */
export function pagePerms(ctx: CaseContext, addr: bigint, pages: number): string {
  const maps = mapsIn(addr, pages * ctx.page);
  const out: string[] = [];
  for (let i = 0; i < pages; i++) {
    const a = addr + BigInt(i * ctx.page);
    out.push(maps.find((m) => a >= m.start && a < m.end)?.perms ?? '-');
  }
  return out.join('|');
}

/** How many separate mappings (VMAs) cover [addr, addr + length). */
export function vmaCount(addr: bigint, length: number): number {
  return mapsIn(addr, length).length;
}

/** Source shorthands: the same few files are cited again and again. */
export const SRC = {
  memfdTest: (test: string): Source => ({ kind: 'selftest', path: 'torvalds/linux tools/testing/selftests/memfd/memfd_test.c', test }),
  secretTest: (test: string): Source => ({ kind: 'selftest', path: 'torvalds/linux tools/testing/selftests/mm/memfd_secret.c', test }),
  msealTest: (test: string): Source => ({ kind: 'selftest', path: 'torvalds/linux tools/testing/selftests/mm/mseal_test.c', test }),
  /** seal_elf.c was in the selftests from 6.10 (still in 6.12.117) and is gone by 7.3.4. */
  sealElf: (test: string): Source => ({ kind: 'selftest', path: 'torvalds/linux tools/testing/selftests/mm/seal_elf.c (6.10 to 6.12; dropped upstream by 7.3)', test }),
  sysmap: (test: string): Source => ({ kind: 'selftest', path: 'torvalds/linux tools/testing/selftests/mseal_system_mappings/sysmap_is_sealed.c', test }),
  ltp: (file: string, test: string): Source => ({ kind: 'ltp', path: `linux-test-project/ltp testcases/kernel/syscalls/${file}`, test }),
  man: (page: string, section: string): Source => ({ kind: 'man', path: `man-pages ${page}`, test: section }),
  doc: (file: string, section: string): Source => ({ kind: 'doc', path: `torvalds/linux Documentation/${file}`, test: section }),
  code: (file: string, fn: string): Source => ({ kind: 'code', path: `torvalds/linux ${file}`, test: fn }),
  lkml: (subject: string): Source => ({ kind: 'lkml', path: subject }),
  observed: (what: string): Source => ({ kind: 'observed', path: 'Linux 6.18.44 x86-64 (memseal KERNEL-NOTES)', test: what }),
  /** Measured by memseal on another kernel (the VM tests boot Debian's 6.1 cloud kernel). */
  observedOn: (kernel: string, what: string): Source => ({ kind: 'observed', path: `${kernel} x86-64 (memseal vm)`, test: what }),
};

/** The same ranges for one architecture only: an outcome in its own flag bits, page sizes or mappings. */
export function byArch(ranges: readonly Expectation[], condition: 'x86_64' | 'arm64' | 'arm64-4k' | 'arm64-16k'): Expectation[] {
  return ranges.map((e) => ({ ...e, condition }));
}
