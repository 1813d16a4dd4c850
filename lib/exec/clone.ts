/** cloneExecutable and cloneExecutableSync. */
import * as fs from 'node:fs';
import { binding, type RawCopyResult } from '../binding.js';
import type { Memfd } from '../memfd.js';
import { ExecError, fsError } from './errors.js';
import { planClone, type CloneExecutableOptions } from './options.js';
import { checkSource, checkUnchanged, classifySource, describeSource, OPEN_FLAGS, openAsync, snapshot, type ExecSource, type ExecSourceSync } from './source.js';
import { cloneMode, createTarget, discard, finish } from './target.js';
import type { Executable } from './tmpfile.js';
import { writeAll, writeAllSync, writeStream } from './write.js';

/**
 * Clones a program into a sealed, executable memfd, copying inside the
 * kernel on the libuv thread pool (copy_file_range, or sendfile where the
 * filesystems refuse it, as from ext4 into a memfd), so even a large binary
 * never blocks the event loop. The memfd is created with MFD_EXEC,
 * MFD_ALLOW_SEALING and MFD_CLOEXEC (without MFD_EXEC before Linux 6.3),
 * made read+execute only, and sealed: its `seals` then include `exec`
 * (6.3+), `shrink`, `grow`, `write` and `seal`, so neither this process nor
 * anyone it hands the descriptor to can change it.
 *
 * A file source is checked with fstat before and after the copy; a file
 * that changed meanwhile (size, contents' mtime, ctime) is refused. An fd
 * source is read at explicit offsets: its file position does not move.
 *
 * @param source A path or file: URL, an open file descriptor (not closed by
 *   this call), a Buffer/TypedArray/DataView, or an async iterable of
 *   chunks (a Readable).
 * @throws ExecRefusedError `reason: 'noexec-sysctl'` (EACCES: vm.memfd_noexec
 *   is 2 in this pid namespace) or `'blocked'` (EPERM/EACCES from a seccomp
 *   filter or LSM), unless `fallback: 'tmpfile'` finds a usable directory.
 * @throws ExecError ERR_MEMSEAL_NOT_REGULAR_FILE, ERR_MEMSEAL_EMPTY_SOURCE,
 *   ERR_MEMSEAL_NOT_EXECUTABLE (no x bit on the source file),
 *   ERR_MEMSEAL_SOURCE_CHANGED.
 * @throws SyscallError ENOENT/EACCES opening the path, EBADF for a closed fd.
 */
export function cloneExecutable(source: ExecSource, options?: CloneExecutableOptions & { fallback?: 'none' }): Promise<Memfd>;
export function cloneExecutable(source: ExecSource, options: CloneExecutableOptions & { fallback: 'tmpfile' }): Promise<Executable>;
export function cloneExecutable(source: ExecSource, options?: CloneExecutableOptions): Promise<Executable>;
export async function cloneExecutable(source: ExecSource, options?: CloneExecutableOptions): Promise<Executable> {
  const src = classifySource(source, true);
  const plan = planClone(src, options);
  let srcFd: number | undefined;
  let owned = false;
  if (src.kind === 'path') {
    try {
      srcFd = await openAsync(src.path, OPEN_FLAGS);
    } catch (err) {
      throw fsError(err);
    }
    owned = true;
    binding().ownFd(srcFd); // closed with this thread if it ends during the copy
  } else if (src.kind === 'fd') {
    srcFd = src.fd;
  }
  try {
    const before = srcFd === undefined ? undefined : snapshot(srcFd);
    if (before !== undefined) checkSource(before, describeSource(src));
    const target = createTarget(plan);
    try {
      if (srcFd !== undefined && before !== undefined) {
        const result: RawCopyResult = await binding().copyFdAsync(srcFd, target.fd, Number(before.size) + 1);
        checkUnchanged(before, snapshot(srcFd), result.copied, describeSource(src));
      } else {
        const n = src.kind === 'bytes' ? await writeAll(target.fd, src.bytes, 0) : await writeStream(target.fd, (src as { stream: AsyncIterable<unknown> }).stream);
        if (n === 0) throw new ExecError('ERR_MEMSEAL_EMPTY_SOURCE', `${describeSource(src)} is empty: there is nothing to execute`);
      }
      return finish(target, plan, cloneMode(before?.mode));
    } catch (err) {
      discard(target);
      throw err;
    }
  } finally {
    if (owned && srcFd !== undefined) binding().close(srcFd);
  }
}

/**
 * {@link cloneExecutable} on the calling thread: the copy blocks the event
 * loop for its duration (about 40 ms per 100 MB here). Streams are not
 * accepted.
 * @throws as {@link cloneExecutable}.
 */
export function cloneExecutableSync(source: ExecSourceSync, options?: CloneExecutableOptions & { fallback?: 'none' }): Memfd;
export function cloneExecutableSync(source: ExecSourceSync, options: CloneExecutableOptions & { fallback: 'tmpfile' }): Executable;
export function cloneExecutableSync(source: ExecSourceSync, options?: CloneExecutableOptions): Executable;
export function cloneExecutableSync(source: ExecSourceSync, options?: CloneExecutableOptions): Executable {
  const src = classifySource(source, false);
  const plan = planClone(src, options);
  let srcFd: number | undefined;
  let owned = false;
  if (src.kind === 'path') {
    try {
      srcFd = fs.openSync(src.path, OPEN_FLAGS);
    } catch (err) {
      throw fsError(err);
    }
    owned = true;
    binding().ownFd(srcFd); // closed with this thread if it is terminated during the copy
  } else if (src.kind === 'fd') {
    srcFd = src.fd;
  }
  try {
    const before = srcFd === undefined ? undefined : snapshot(srcFd);
    if (before !== undefined) checkSource(before, describeSource(src));
    const target = createTarget(plan);
    try {
      if (srcFd !== undefined && before !== undefined) {
        const result = binding().copyFd(srcFd, target.fd, Number(before.size) + 1);
        checkUnchanged(before, snapshot(srcFd), result.copied, describeSource(src));
      } else if (writeAllSync(target.fd, (src as { bytes: Uint8Array }).bytes) === 0) {
        throw new ExecError('ERR_MEMSEAL_EMPTY_SOURCE', `${describeSource(src)} is empty: there is nothing to execute`);
      }
      return finish(target, plan, cloneMode(before?.mode));
    } catch (err) {
      discard(target);
      throw err;
    }
  } finally {
    if (owned && srcFd !== undefined) binding().close(srcFd);
  }
}
