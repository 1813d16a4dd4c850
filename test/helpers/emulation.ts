/**
 * The arm64 passes of npm test run these tests on the official arm64 Node
 * under qemu's user-mode emulator (scripts/emulation.mjs), where qemu, not
 * the kernel, answers every system call. Where qemu 7.2 (Debian 12's
 * qemu-user-static, 7.2.22) does not do what the kernel would, a test that
 * depends on it cannot mean anything there: it skips, under emulation only,
 * naming the gap. Each gap was read in that qemu's source (Debian's
 * 7.2+dfsg-7+deb12u18, file and function named) and seen in a run. The
 * syscalls themselves are checked on booted arm64 kernels by the VM runs.
 */
import { it, test } from 'vitest';

/** The emulator this process runs under ("qemu-aarch64 7.2.22 (user mode)"), or undefined on real hardware. */
export const emulator: string | undefined = process.env.MEMSEAL_EMULATOR || undefined;

const UNKNOWN = 'linux-user/syscall.c do_syscall1 answers ENOSYS ("Unsupported syscall") for a number it has no case for';

export const GAPS = {
  memfd_secret: `qemu 7.2 has no memfd_secret (447): ${UNKNOWN}`,
  mseal: `qemu 7.2 has no mseal (462, Linux 6.10): ${UNKNOWN}`,
  execveat: `qemu 7.2 has no execveat (281): ${UNKNOWN}`,
  processVm: `qemu 7.2 has no process_vm_readv or process_vm_writev (270, 271): ${UNKNOWN}`,
  madvise:
    'qemu 7.2 does not pass madvise to the kernel (linux-user/mmap.c target_madvise: "This is a hint, so ignoring and returning success is ok"; ' +
    'only MADV_DONTNEED on some mappings goes through): MADV_DONTDUMP, MADV_DONTFORK and MADV_WIPEONFORK have no effect',
  scmRightsTruncated:
    'qemu 7.2 gives the host recvmsg twice the guest\'s control buffer (linux-user/syscall.c do_sendrecvmsg_locked) and copies only the ' +
    'SCM_RIGHTS descriptors that fit the guest\'s (host_to_target_cmsg): the others stay open in the process, unseen',
  rangeAtTop:
    'qemu 7.2 aborts on an mprotect whose range ends at the top of the address space (start 0xfffffffffffff000, length 4096), ' +
    'which the kernel refuses with ENOMEM: linux-user/mmap.c target_mprotect lets it through (GUEST_ADDR_MAX is ~0 for a 64-bit guest) ' +
    'and accel/tcg/translate-all.c page_set_flags asserts start < end; the raw binding\'s hostile calls make such ranges',
  hugetlbMap:
    'qemu 7.2 chooses the address of a guest mapping itself (linux-user/mmap.c target_mmap, aligned to the host\'s 4 KiB pages) and maps ' +
    'the file there with MAP_FIXED: every shared mapping of a 2 MiB hugetlb memfd fails with EINVAL (seen), where the kernel answers ' +
    'EPERM under F_SEAL_WRITE, or ENOMEM with no free huge pages',
  sharedMmapReserve:
    'qemu 7.2 first reserves a mapping\'s range as anonymous memory with the same sharing and protection (linux-user/mmap.c target_mmap, ' +
    'before mapping the file over it), so a 64 GiB MAP_SHARED file mapping is charged as 64 GiB of shared memory, which the ' +
    'overcommit heuristic refuses with ENOMEM on a machine with less',
} as const;

export type Gap = keyof typeof GAPS;

/** Why `gaps` make a test meaningless here, or undefined when this is not emulation. */
export function emulationGap(...gaps: Gap[]): string | undefined {
  if (emulator === undefined || gaps.length === 0) return undefined;
  return `under ${emulator}: ${gaps.map((g) => GAPS[g]).join('; ')}`;
}

/** A test that skips with `note` as its reason (vitest prints it beside the name). */
export function skippedWith(note: string): typeof it {
  return ((name: string) => test(name, (ctx) => ctx.skip(note))) as unknown as typeof it;
}

/** `it`, or under emulation a test that skips naming the gaps it depends on. */
export function unlessEmulated(...gaps: Gap[]): typeof it {
  const note = emulationGap(...gaps);
  return note === undefined ? it : skippedWith(note);
}
