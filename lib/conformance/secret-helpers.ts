/**
 * What the memfd_secret(2) case modules share (secret.ts, secret-mmap.ts,
 * secret-access.ts, secret-interplay.ts): their sources, the case shape, a
 * secret descriptor and a mapped, filled secret memfd.
 *
 * Every case but the availability check runs in a throwaway child: the
 * memory is locked, and one case lowers RLIMIT_MEMLOCK and drops
 * CAP_IPC_LOCK.
 */
import type { RawRegion } from '../binding.js';
import { SRC } from './helpers.js';
import type { Case, CaseContext, Source } from './types.js';

export const MS = SRC.secretTest;
export const MAN = (section: string): Source => SRC.man('man2/memfd_secret.2', section);
export const SECRETMEM_C = (fn: string): Source => SRC.code('mm/secretmem.c', fn);

export interface SecretMap {
  fd: number;
  region: RawRegion;
  addr: bigint;
  bytes: Uint8Array;
}

/** A secret memfd of `pages` pages, mapped shared and filled with 0x55. */
export function secretMap(ctx: CaseContext, pages: number): SecretMap {
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

export function secretFd(ctx: CaseContext): number {
  return ctx.fd(ctx.b.memfdSecret(ctx.c.O_CLOEXEC!));
}

export function secretCase(c: Omit<Case, 'family' | 'isolation' | 'requires'> & { requires?: Case['requires'] }): Case {
  return { ...c, family: 'secret', isolation: 'child', syscalls: ['memfd_secret', ...(c.syscalls ?? [])], requires: ['secretmem', ...(c.requires ?? [])] };
}
