/**
 * Facts about the running kernel that decide what memseal expects: its
 * version, and whether a seccomp filter sits in front of it.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { release, version } from 'node:os';

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

/**
 * The upstream version a distribution names in `uname -v` when its release
 * string hides the patch level: Debian's 6.1 kernels call themselves
 * "6.1.0-57-cloud-amd64" and say "Debian 6.1.192-3 (2026-11-26)" in their
 * version string. Undefined when the version string names none, or one of
 * another series than `rel`.
 */
export function distributionVersion(rel: string, ver: string): KernelVersion | undefined {
  const m = /\bDebian (\d+)\.(\d+)\.(\d+)/.exec(ver);
  if (!m) return undefined;
  const named: KernelVersion = [Number(m[1]), Number(m[2]), Number(m[3])];
  const own = parseKernelVersion(rel);
  return named[0] === own[0] && named[1] === own[1] && named[2] >= own[2] ? named : undefined;
}

/**
 * The running kernel's version: the release string's, or, where a
 * distribution keeps the patch level out of the release (Debian 6.1), the
 * one its version string names. Stable fixes are dated by patch level, so
 * ranges such as ">= 6.1.191" need it.
 */
export function kernelVersion(): KernelVersion {
  return distributionVersion(kernelRelease(), version()) ?? parseKernelVersion(kernelRelease());
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

/** True when the effective capability set of this process holds capability number `bit` (capability.h). */
export function hasCapability(bit: number): boolean {
  const eff = procStatusField('CapEff');
  return eff !== undefined && /^[0-9a-f]+$/i.test(eff) && (BigInt(`0x${eff}`) & (1n << BigInt(bit))) !== 0n;
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

/** The running kernel's build configuration, and the file it was read from. */
export interface KernelConfig {
  source: string;
  /** CONFIG_NAME -> its value ("y", "m", a number or a quoted string); options set to "n" are absent. */
  options: ReadonlyMap<string, string>;
  /**
   * The options the configuration lists as "# CONFIG_NAME is not set": they
   * exist in that kernel's Kconfig. An option in neither does not exist there.
   */
  unset: ReadonlySet<string>;
}

/** The "# CONFIG_X is not set" names of a kernel .config. */
export function parseUnsetOptions(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

/** Parses a kernel .config: `CONFIG_X=value` lines; "# CONFIG_X is not set" and comments are skipped. */
export function parseKernelConfig(text: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (m) options.set(m[1]!, m[2]!);
  }
  return options;
}

/**
 * Where a kernel's configuration can be read, in order: /proc/config.gz
 * (CONFIG_IKCONFIG_PROC), then the copies distributions install beside the
 * image (/boot/config-RELEASE; Debian's 7.x packages put it in
 * /usr/lib/modules/RELEASE/config). The memseal VM guest has the booted
 * image's config at /boot/config-RELEASE.
 */
export function kernelConfigPaths(rel: string = kernelRelease()): string[] {
  return ['/proc/config.gz', `/boot/config-${rel}`, `/usr/lib/modules/${rel}/config`, `/lib/modules/${rel}/config`];
}

/** The running kernel's configuration, or undefined when none of kernelConfigPaths() can be read. */
export function kernelConfig(paths: readonly string[] = kernelConfigPaths()): KernelConfig | undefined {
  for (const path of paths) {
    try {
      const raw = readFileSync(path);
      const text = path.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
      const options = parseKernelConfig(text);
      if (options.size > 0) return { source: path, options, unset: parseUnsetOptions(text) };
    } catch {
      // not there, or not readable: try the next
    }
  }
  return undefined;
}
