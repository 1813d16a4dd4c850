/**
 * Whether the running kernel can change its direct map, which memfd_secret
 * needs (it takes each secret page out of the kernel's linear mapping):
 * `can_set_direct_map()` in the kernel. Since "secretmem: disable
 * memfd_secret() if arch cannot set direct map" (532b53cebe58, 6.12; stable
 * 6.1.113, 6.6.57, 6.11.4) memfd_secret answers ENOSYS where it is false,
 * the same errno as a kernel built without CONFIG_SECRETMEM or booted with
 * secretmem.enable=0; this module tells the three apart from the boot
 * options and the kernel's configuration.
 *
 * x86-64 (and every architecture without its own can_set_direct_map()) can
 * always change it (include/linux/set_memory.h). arm64 can only when its
 * linear map is mapped page by page (arch/arm64/mm/pageattr.c of 6.1.192,
 * 6.12.118 and 7.3.4): `rodata_full || debug_pagealloc_enabled() ||
 * arm64_kfence_can_set_direct_map() || is_realm_world()`, where
 *
 * - rodata_full: until "arm64: refactor the rodata=xxx" (in 7.3.4, not in
 *   6.12.118) the default is CONFIG_RODATA_FULL_DEFAULT_ENABLED,
 *   `rodata=full` sets it, `rodata=on` and `rodata=off` clear it; from that
 *   change the default is on, `rodata=on` sets it, `rodata=noalias` and
 *   `rodata=off` clear it, and `rodata=full` is an invalid value that changes
 *   nothing (arch/arm64/include/asm/setup.h). The two are told apart by the
 *   configuration: only the first has the option RODATA_FULL_DEFAULT_ENABLED;
 * - debug_pagealloc: CONFIG_DEBUG_PAGEALLOC, on with `debug_pagealloc=on` or
 *   CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT;
 * - KFENCE: with CONFIG_KFENCE and a sample interval of 0 (Debian's
 *   CONFIG_KFENCE_SAMPLE_INTERVAL=0, or `kfence.sample_interval=0`) its pool
 *   is set up late and needs a page-granular linear map, so the map is
 *   changeable; a non-zero interval allocates the pool early and does not
 *   (arch/arm64/mm/mmu.c, kfence_early_init);
 * - a Realm (Arm CCA) guest: not detected here.
 *
 * Measured on Debian's arm64 6.12.118 and 7.3.4 under qemu with each rodata=
 * value, with and without kfence.sample_interval=100: memfd_secret is ENOSYS
 * exactly where this model says the map cannot change.
 */

/** What the verdict is read from. */
export interface DirectMapFacts {
  /** `process.arch` (the kernel's, for a native process). */
  arch: string;
  /** /proc/cmdline. */
  cmdline: string;
  /** The kernel's configuration, or null when none could be read. */
  config: { options: Readonly<Record<string, string>>; unset: readonly string[] } | null;
}

export interface DirectMapVerdict {
  /** Whether the kernel can change its direct map; null when the facts do not say. */
  changeable: boolean | null;
  /** One line: why, naming the boot options and configuration it went by. */
  why: string;
}

/** The configuration options this module reads. */
export const DIRECT_MAP_OPTIONS: readonly string[] = [
  'CONFIG_RODATA_FULL_DEFAULT_ENABLED',
  'CONFIG_DEBUG_PAGEALLOC',
  'CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT',
  'CONFIG_KFENCE',
  'CONFIG_KFENCE_SAMPLE_INTERVAL',
];

/** The values of a boot option, in command-line order. */
function bootValues(cmdline: string, name: string): string[] {
  return cmdline
    .split(/\s+/)
    .filter((w) => w.startsWith(`${name}=`))
    .map((w) => w.slice(name.length + 1));
}

/** kstrtobool's reading of a boot value (y/t/1/on, n/f/0/off, by their first letters); undefined for anything else. */
function bootBool(v: string): boolean | undefined {
  const c = v.slice(0, 1).toLowerCase();
  if (c === 'o') return { n: true, f: false }[v.slice(1, 2).toLowerCase()];
  return 'yt1'.includes(c) && c !== '' ? true : 'nf0'.includes(c) && c !== '' ? false : undefined;
}

/** rodata_full as arch_parse_debug_rodata() leaves it. */
function rodataFull(cmdline: string, options: Readonly<Record<string, string>>, unset: readonly string[]): { full: boolean; why: string } {
  const oldKeywords = 'CONFIG_RODATA_FULL_DEFAULT_ENABLED' in options || unset.includes('CONFIG_RODATA_FULL_DEFAULT_ENABLED');
  let full = oldKeywords ? options.CONFIG_RODATA_FULL_DEFAULT_ENABLED === 'y' : true;
  let from = oldKeywords ? `CONFIG_RODATA_FULL_DEFAULT_ENABLED${full ? '=y' : ' not set'}` : 'on by default (rodata=on means full since "arm64: refactor the rodata=xxx")';
  for (const v of bootValues(cmdline, 'rodata')) {
    const set = oldKeywords ? { full: true, on: false, off: false }[v] : { on: true, noalias: false, off: false }[v];
    if (set !== undefined) [full, from] = [set, `rodata=${v}`];
  }
  return { full, why: `rodata_full ${full ? 'on' : 'off'} (${from})` };
}

/** The verdict for the running kernel described by `f`. */
export function directMap(f: DirectMapFacts): DirectMapVerdict {
  if (f.arch !== 'arm64') {
    return f.arch === 'x64'
      ? { changeable: true, why: 'x86-64 can always change its direct map' }
      : { changeable: null, why: `memseal does not know when ${f.arch} can change its direct map` };
  }
  if (f.config === null) return { changeable: null, why: 'on arm64 that depends on rodata, debug_pagealloc and KFENCE, and no kernel configuration is readable' };
  const o = f.config.options;
  const rodata = rodataFull(f.cmdline, o, f.config.unset);
  const dpBoot = bootValues(f.cmdline, 'debug_pagealloc').map(bootBool).filter((b) => b !== undefined).pop();
  const debugPagealloc = o.CONFIG_DEBUG_PAGEALLOC === 'y' && (dpBoot ?? o.CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT === 'y');
  const intervalBoot = bootValues(f.cmdline, 'kfence.sample_interval')
    .map((v) => Number.parseInt(v, 10))
    .filter((n) => Number.isFinite(n))
    .pop();
  const interval = intervalBoot ?? Number(o.CONFIG_KFENCE_SAMPLE_INTERVAL ?? 0);
  const kfenceLate = o.CONFIG_KFENCE === 'y' && interval === 0;
  const kfence =
    o.CONFIG_KFENCE !== 'y'
      ? 'no KFENCE'
      : `KFENCE pool ${kfenceLate ? 'set up late' : 'allocated early'} (${intervalBoot !== undefined ? `kfence.sample_interval=${intervalBoot}` : `CONFIG_KFENCE_SAMPLE_INTERVAL=${interval}`})`;
  const changeable = rodata.full || debugPagealloc || kfenceLate;
  return { changeable, why: `${rodata.why}, debug_pagealloc ${debugPagealloc ? 'on' : 'off'}, ${kfence}` };
}
