/**
 * What the mseal(2) case modules share: their sources, the case shape (every
 * case runs in the mseal child), and the probes: seal a range, map pages
 * with a sealed part, tell sealed pages from unsealed ones, mremap and
 * madvise on sealed memory.
 *
 * Every case runs in one throwaway child process (sealed mappings stay until
 * the process exits) with MEMSEAL_UNSAFE_RAW=1, since cases aim at holes
 * they made and at the program's own mappings.
 */
import { anon, errno, mapFd, memfd, SRC } from './helpers.js';
import type { Case, CaseContext, Expectation, Source } from './types.js';

export const MST = SRC.msealTest;
export const LTP1 = (test: string): Source => SRC.ltp('mseal/mseal01.c', test);
export const LTP2 = (test: string): Source => SRC.ltp('mseal/mseal02.c', test);
export const DOC = (section: string): Source => SRC.doc('userspace-api/mseal.rst', section);
export const MSEAL_C = (fn: string): Source => SRC.code('mm/mseal.c', fn);
export const MADVISE_C = (fn: string): Source => SRC.code('mm/madvise.c', fn);

export function since(version: string, outcome: string, note?: string): Expectation[] {
  return [{ since: version, outcome, ...(note === undefined ? {} : { note }) }];
}

/** An mseal case, run in the mseal child; it needs mseal unless it lists its requirements itself. */
export function msealCase(c: Omit<Case, 'family' | 'isolation'>): Case {
  return { ...c, family: 'mseal', isolation: 'child', syscalls: ['mseal', ...(c.syscalls ?? [])], requires: c.requires ?? ['mseal'] };
}

export const RW = (ctx: CaseContext): number => ctx.c.PROT_READ! | ctx.c.PROT_WRITE!;
export const ANON = (ctx: CaseContext): number => ctx.c.MAP_PRIVATE! | ctx.c.MAP_ANONYMOUS!;

export function at(ctx: CaseContext, addr: bigint, page: number): bigint {
  return addr + BigInt(page * ctx.page);
}

export function seal(ctx: CaseContext, addr: bigint, pages: number): string {
  return errno(() => ctx.b.mseal(addr, pages * ctx.page, 0));
}

/** mprotect of `pages` pages at `addr`: 'ok' or the errno name. */
export function mprotect(ctx: CaseContext, addr: bigint, pages: number, prot: number): string {
  return errno(() => ctx.b.mprotect(addr, pages * ctx.page, prot));
}

/** Per page, 's' when the page is sealed (mprotect to its own protection fails EPERM), '-' when not. */
export function sealedMap(ctx: CaseContext, addr: bigint, pages: number, prot?: number): string {
  let out = '';
  for (let i = 0; i < pages; i++) out += errno(() => ctx.b.mprotect(at(ctx, addr, i), ctx.page, prot ?? RW(ctx))) === 'EPERM' ? 's' : '-';
  return out;
}

/** A mapping of `pages` pages with a sealed middle part [from, from + count). */
export function withSealed(ctx: CaseContext, pages: number, from: number, count: number, prot?: number): bigint {
  const addr = anon(ctx, pages, prot);
  ctx.b.mseal(at(ctx, addr, from), count * ctx.page, 0);
  return addr;
}

/** mremap of `oldPages` pages at `old` to `newPages` pages: 'ok' or the errno name. */
export function mremap(ctx: CaseContext, old: bigint, oldPages: number, newPages: number, flags: number, dest = 0n): string {
  return errno(() => ctx.b.mremap(old, oldPages * ctx.page, newPages * ctx.page, flags, dest));
}

/** madvise(advice) on a sealed read-only private mapping of a one-page memfd: 'ok' or the errno name. */
export function madviseSealedFilePage(ctx: CaseContext, advice: number): string {
  const { b, c } = ctx;
  const fd = memfd(ctx, c.MFD_CLOEXEC!);
  b.ftruncate(fd, ctx.page);
  const addr = mapFd(ctx, fd, ctx.page, c.PROT_READ!, c.MAP_PRIVATE!);
  if (typeof addr === 'string') return `mmap=${addr}`;
  b.mseal(addr, ctx.page, 0);
  return errno(() => b.madvise(addr, ctx.page, advice));
}

/** madvise(advice) on one fresh anonymous page mapped with `prot` and `flags`, then sealed: 'ok' or the errno name. */
export function madviseOn(ctx: CaseContext, prot: number, flags: number, advice: number): string {
  const addr = anon(ctx, 1, prot, flags);
  ctx.b.mseal(addr, ctx.page, 0);
  return errno(() => ctx.b.madvise(addr, ctx.page, advice));
}
