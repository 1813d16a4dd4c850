/**
 * Helpers the seals family's modules share (seals.ts, seals-write.ts,
 * seals-size.ts, seals-states.ts) and hugetlb-seals.ts: a sealed memfd, a
 * reopen through /proc/self/fd, a second process that holds a memfd, and
 * F_SEAL_WRITE against pages a pipe still holds.
 */
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { nodeCommand } from '../node-self.js';
import { addSeals, attempt, errno, inPages, kv, mapFd, sealsNoExec, sized, SRC } from './helpers.js';
import type { CaseContext, Deviation, Expectation, Source } from './types.js';

export const RW = (ctx: CaseContext): number => ctx.c.PROT_READ! | ctx.c.PROT_WRITE!;

export function since(version: string, outcome: string, note?: string): Expectation[] {
  return [{ since: version, outcome, ...(note === undefined ? {} : { note }) }];
}

/** A sealable memfd of `pages` pages with `seals` added. */
export function sealed(ctx: CaseContext, seals: number, pages = 4): number {
  const fd = sized(ctx, pages * ctx.page);
  if (seals !== 0) ctx.b.addSeals(fd, seals);
  return fd;
}

/** open(/proc/self/fd/N, flags): the new fd, closed when the case ends. */
export function reopen(ctx: CaseContext, fd: number, flags: number): number {
  return ctx.fd(openSync(`/proc/self/fd/${fd}`, flags));
}

/** fallocate flags that punch a hole and keep the size. */
export const PUNCH = (ctx: CaseContext): number => ctx.pc.FALLOC_FL_PUNCH_HOLE! | ctx.pc.FALLOC_FL_KEEP_SIZE!;

/**
 * A new read-only shared mapping of `length` bytes of `fd`, then mprotect to
 * read-write: `ro=ok mprotect=EACCES` under a write seal, or `ro=<errno>`
 * when even the read-only mapping is refused.
 */
export function readOnlyThenWritable(ctx: CaseContext, fd: number, length: number): string {
  const addr = mapFd(ctx, fd, length, ctx.c.PROT_READ!, ctx.c.MAP_SHARED!);
  if (typeof addr === 'string') return kv({ ro: addr });
  return kv({ ro: 'ok', mprotect: errno(() => ctx.b.mprotect(addr, length, ctx.c.PROT_READ! | ctx.c.PROT_WRITE!)) });
}

/** open(/proc/self/fd/N, flags): the new fd (closed when the case ends) or the errno name. */
export function reopenOrErrno(ctx: CaseContext, fd: number, flags: number): number | string {
  try {
    return ctx.fd(openSync(`/proc/self/fd/${fd}`, flags));
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    throw err;
  }
}

/**
 * A read-only shared mapping of a write-sealed memfd (shmem or hugetlb):
 * refused before 6.7, allowed from 6.7 (and in 6.1 from the 6.1.149
 * backport; Debian's changelog lists it there), refused again by mistake
 * in 6.12.0 to 6.12.8 (a deviation: fixed in 6.12.9). 6.6.y took the
 * backport at a patch level not known here: no expectation. `from: '6.7'`
 * for cases measured only on kernels with the 6.7 code.
 */
export function readOnlySharedRanges(allowed: string, refused: string, from: '6.1' | '6.7' = '6.1'): Expectation[] {
  const regression: Deviation = {
    observed: refused,
    reason: 'a 6.12 mmap rework refused read-only shared mappings of write-sealed memfds again (6.12.0 to 6.12.8, 6.13-rc1 to rc5)',
    source: SRC.lkml('mm: reinstate ability to map write-sealed memfd mappings read-only (6.12.9, 6.13-rc6)'),
  };
  const before67: Expectation[] = [
    { since: '6.1', before: '6.1.149', outcome: refused, note: 'before the 6.1.149 backport of the 6.7 change' },
    { since: '6.1.149', before: '6.2', outcome: allowed, note: 'the 6.7 change, backported in 6.1.149' },
    { since: '6.2', before: '6.6', outcome: refused, note: 'refused before 6.7 (these series ended before the 2025 backports)' },
  ];
  return [
    ...(from === '6.1' ? before67 : []),
    { since: '6.7', before: '6.12', outcome: allowed },
    { since: '6.12', before: '6.12.9', outcome: allowed, deviations: [regression] },
    { since: '6.12.9', outcome: allowed },
  ];
}

/** fuse_test.c pins the pages with a FUSE direct-IO read; the cases that cite it hold them with vmsplice, which needs no FUSE helper. */
export const FUSE_TEST = (test: string): Source => ({ kind: 'selftest', path: 'torvalds/linux tools/testing/selftests/memfd/fuse_test.c', test });

/** A second process holding a memfd as its fd 3. */
export interface Holder {
  /** Whether the process saw a memfd at its fd 3. */
  held: boolean;
  /** Lets it exit; resolves with its exit code ('signal' when killed). */
  release(): Promise<number | string>;
}

/** Starts a Node process that keeps `fd` (as its fd 3) until released. */
export async function holdInAnotherProcess(fd: number): Promise<Holder> {
  const script = "process.stdout.write(require('fs').readlinkSync('/proc/self/fd/3').startsWith('/memfd:') ? 'held\\n' : 'other\\n');process.stdin.resume();process.stdin.on('end',()=>process.exit(0))";
  const node = nodeCommand(['-e', script]);
  const child = spawn(node.file, node.args, { stdio: ['pipe', 'pipe', 'ignore', fd] });
  const exited = new Promise<number | string>((resolve) => child.on('close', (code) => resolve(code ?? 'signal')));
  const held = await new Promise<boolean>((resolve) => {
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().startsWith('held')));
    child.once('close', () => resolve(false));
  });
  return {
    held,
    release: () => {
      child.stdin!.end();
      return exited;
    },
  };
}

/**
 * Maps `fd` shared, vmsplices the first page of it into a pipe that stays
 * open, unmaps it (no writable mapping is left to explain an EBUSY), and
 * seals: the pipe's page references must make F_SEAL_WRITE wait and fail;
 * after the pipe is closed the seal must go through. With `writeFirst` the
 * page is written through the fd first; hugetlbfs has no write(), so there
 * the splice faults the page in.
 */
export function splicedPagesBusy(ctx: CaseContext, fd: number, length: number, writeFirst = true): string {
  const { b, c } = ctx;
  if (writeFirst) b.write(fd, Buffer.from([0x55]), 0, 1, 0);
  const addr = b.mmap(0n, length, c.PROT_READ! | c.PROT_WRITE!, c.MAP_SHARED!, fd, 0);
  let pipe: [number, number, number] | string;
  try {
    pipe = attempt(() => b.vmspliceHold(addr, ctx.page));
  } finally {
    b.munmap(addr, length);
  }
  if (typeof pipe === 'string') return kv({ spliced: pipe });
  const [r, w, spliced] = pipe;
  ctx.fd(r);
  ctx.fd(w);
  const write = addSeals(ctx, fd, c.F_SEAL_WRITE!);
  const held = sealsNoExec(ctx, fd);
  ctx.close(r);
  ctx.close(w);
  return `${kv({ spliced: inPages(ctx, spliced), write, seals: held })} ${kv({ 'released-write': addSeals(ctx, fd, c.F_SEAL_WRITE!), seals: sealsNoExec(ctx, fd) })}`;
}
