/**
 * Facts about the running kernel that decide what memseal expects: its
 * version, and whether a seccomp filter sits in front of it.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';

/** A kernel version as [major, minor, patch]. */
export type KernelVersion = readonly [number, number, number];

/** Parses "6.18.44-fc-v669" into [6, 18, 44]. */
export function parseKernelVersion(text: string): KernelVersion {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return [0, 0, 0];
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/** Compares two versions: negative, zero or positive. */
export function compareVersions(a: KernelVersion, b: KernelVersion): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** The running kernel's release string, e.g. "6.18.44-fc-v669". */
export function kernelRelease(): string {
  return release();
}

/** The running kernel's version. */
export function kernelVersion(): KernelVersion {
  return parseKernelVersion(kernelRelease());
}

/** True when the running kernel is at least `since` ("6.10"). */
export function kernelAtLeast(since: string): boolean {
  return compareVersions(kernelVersion(), parseKernelVersion(since)) >= 0;
}

/** Reads one field of /proc/self/status, or undefined. */
export function procStatusField(name: string): string | undefined {
  try {
    const text = readFileSync('/proc/self/status', 'utf8');
    const line = text.split('\n').find((l) => l.startsWith(`${name}:`));
    return line?.slice(name.length + 1).trim();
  } catch {
    return undefined;
  }
}

/** The seccomp mode of this process: 0 none, 1 strict, 2 filter; undefined if unknown. */
export function seccompMode(): number | undefined {
  const v = procStatusField('Seccomp');
  return v === undefined ? undefined : Number(v);
}

/** Reads a small procfs/sysfs file, trimmed, or undefined when it cannot be read. */
export function readSmallFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** vm.memfd_noexec as this pid namespace sees it (0, 1, 2), or undefined before 6.3. */
export function memfdNoexecSysctl(): number | undefined {
  const v = readSmallFile('/proc/sys/vm/memfd_noexec');
  return v === undefined ? undefined : Number(v);
}
