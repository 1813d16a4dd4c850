/**
 * What each sealing feature needs, and how a failure to use it is explained:
 * a kernel too old, a feature switched off, or a filter that blocks it.
 */
import { arch } from 'node:os';
import { directMap } from './direct-map.js';
import { SyscallError, UnsupportedError, type UnsupportedReason } from './errors.js';
import { kernelAtLeast, kernelConfig, kernelRelease, readSmallFile, seccompMode, type KernelConfig } from './kernel.js';

/** A feature probe() reports on. */
export type FeatureName =
  | 'memfd_create'
  | 'MFD_EXEC'
  | 'MFD_NOEXEC_SEAL'
  | 'F_SEAL_EXEC'
  | 'F_SEAL_FUTURE_WRITE'
  | 'memfd_secret'
  | 'mseal'
  | 'hugetlb';

/** The first mainline kernel with each feature. */
export const FEATURE_SINCE: Readonly<Record<FeatureName, string>> = Object.freeze({
  memfd_create: '3.17',
  MFD_EXEC: '6.3',
  MFD_NOEXEC_SEAL: '6.3',
  F_SEAL_EXEC: '6.3',
  F_SEAL_FUTURE_WRITE: '5.1',
  memfd_secret: '5.14',
  mseal: '6.10',
  hugetlb: '4.14',
});

/** Features that are flags to an older syscall: an old kernel answers EINVAL. */
const FLAG_FEATURES: ReadonlySet<FeatureName> = new Set(['MFD_EXEC', 'MFD_NOEXEC_SEAL', 'F_SEAL_EXEC', 'F_SEAL_FUTURE_WRITE']);

/** Features that are syscalls of their own: only a filter or LSM answers EPERM. */
const SYSCALL_FEATURES: ReadonlySet<FeatureName> = new Set(['memfd_secret', 'mseal']);

function blockedHint(feature: FeatureName, code: string): string {
  const mode = seccompMode();
  const filter = mode === 2 ? 'this process runs under a seccomp filter' : 'no seccomp filter is active, so an LSM may be refusing it';
  return `${filter}; ${code} here means the call never reached the kernel's ${feature}. In a container, allow the syscall in the seccomp profile (try --security-opt seccomp=unconfined to confirm)`;
}

/**
 * Why memfd_secret answers ENOSYS on a kernel that has it: booted with
 * secretmem.enable=0 (or, 5.14 to 6.4, without secretmem.enable=1), built
 * without CONFIG_SECRETMEM, or (arm64) unable to change its direct map
 * (lib/direct-map.ts). What the boot options and the configuration show
 * decides; without a readable configuration every cause left is named.
 */
export function secretmemDisabledHint(cmdline: string = readSmallFile('/proc/cmdline') ?? '', config: KernelConfig | null = kernelConfig() ?? null, machine: string = arch()): string {
  const words = cmdline.split(/\s+/);
  const enable = words.filter((w) => w.startsWith('secretmem.enable=')).pop()?.slice('secretmem.enable='.length);
  if (enable !== undefined && /^[0nNfF]|^[oO][fF]/.test(enable)) return `the kernel was booted with secretmem.enable=${enable}`;
  if (!kernelAtLeast('6.5') && enable === undefined) return 'on Linux 5.14 to 6.4 secret memory is off by default: boot with secretmem.enable=1';
  if (config !== null && config.options.get('CONFIG_SECRETMEM') !== 'y') return `the kernel was built without CONFIG_SECRETMEM (${config.source})`;
  const map = directMap({
    arch: machine,
    cmdline,
    config: config === null ? null : { options: Object.fromEntries(config.options), unset: [...config.unset] },
  });
  if (map.changeable === false) {
    return `the kernel cannot change its direct map, which secret memory needs (can_set_direct_map() is false: ${map.why}); boot it with rodata=${config?.unset.has('CONFIG_RODATA_FULL_DEFAULT_ENABLED') || config?.options.has('CONFIG_RODATA_FULL_DEFAULT_ENABLED') ? 'full' : 'on'}`;
  }
  if (config === null) {
    return `the kernel was built without CONFIG_SECRETMEM${machine === 'arm64' ? ', cannot change its direct map (arm64: rodata, debug_pagealloc, KFENCE)' : ''} or was booted with secretmem.enable=0; no configuration is readable to say which`;
  }
  return `the kernel has CONFIG_SECRETMEM and can change its direct map (${map.why}), yet answers ENOSYS`;
}

function disabledHint(feature: FeatureName): string {
  if (feature === 'memfd_secret') return secretmemDisabledHint();
  return 'the kernel was built without it';
}

/**
 * Classifies `err`, raised while using `feature`: returns an
 * UnsupportedError when the feature is missing, disabled or blocked, and
 * `err` itself otherwise (a genuine failure of an available feature).
 */
export function explainUnavailable(err: unknown, feature: FeatureName): unknown {
  if (!(err instanceof SyscallError) || err instanceof UnsupportedError) return err;
  const since = FEATURE_SINCE[feature];
  const old = !kernelAtLeast(since);
  let reason: UnsupportedReason | undefined;
  let hint: string | undefined;
  if (err.code === 'ENOSYS') {
    if (old) reason = 'kernel';
    else if (seccompMode() === 2) [reason, hint] = ['blocked', blockedHint(feature, err.code)];
    else [reason, hint] = ['disabled', disabledHint(feature)];
  } else if (err.code === 'EPERM' && SYSCALL_FEATURES.has(feature)) {
    [reason, hint] = ['blocked', blockedHint(feature, err.code)];
  } else if (err.code === 'EINVAL' && FLAG_FEATURES.has(feature) && old) {
    reason = 'kernel';
  }
  if (reason === undefined) return err;
  return new UnsupportedError(err.syscall, err.errno, { feature, since, kernel: kernelRelease(), reason, hint, cause: err });
}
