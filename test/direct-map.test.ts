/**
 * Whether a kernel can change its direct map (what memfd_secret needs), and
 * how memseal names the reason memfd_secret is off: the model of
 * lib/direct-map.ts against what Debian's arm64 kernels did under qemu with
 * each rodata= value and kfence.sample_interval (measured: memfd_secret was
 * ENOSYS exactly in the rows marked false), and the three causes of an
 * ENOSYS told apart.
 */
import { describe, expect, it } from 'vitest';
import { directMap, type DirectMapFacts } from '../lib/direct-map.js';
import { secretmemDisabledHint } from '../lib/features.js';
import type { KernelConfig } from '../lib/kernel.js';

/** The options of Debian's arm64 6.12.118 and 7.3.4 configurations that decide it. */
type Config = NonNullable<DirectMapFacts['config']>;
const DEBIAN_612: Config = { options: { CONFIG_RODATA_FULL_DEFAULT_ENABLED: 'y', CONFIG_KFENCE: 'y', CONFIG_KFENCE_SAMPLE_INTERVAL: '0', CONFIG_SECRETMEM: 'y' }, unset: ['CONFIG_DEBUG_PAGEALLOC'] };
const DEBIAN_73: Config = { options: { CONFIG_KFENCE: 'y', CONFIG_KFENCE_SAMPLE_INTERVAL: '0', CONFIG_SECRETMEM: 'y' }, unset: ['CONFIG_DEBUG_PAGEALLOC'] };

const K = 'kfence.sample_interval=100';

describe("arm64's direct map, as Debian's kernels showed it", () => {
  const on = (config: Config, cmdline: string): boolean | null => directMap({ arch: 'arm64', cmdline, config }).changeable;

  it('6.12.118 (rodata=full is a keyword, on and off clear rodata_full; a late KFENCE pool keeps the map changeable)', () => {
    const measured: [string, boolean][] = [
      ['', true],
      ['rodata=on', true],
      ['rodata=off', true],
      ['rodata=full', true],
      [K, true],
      [`rodata=on ${K}`, false],
      [`rodata=off ${K}`, false],
      [`rodata=full ${K}`, true],
    ];
    for (const [cmdline, changeable] of measured) expect(on(DEBIAN_612, cmdline), cmdline).toBe(changeable);
  });

  it('7.3.4 (rodata=on means full, noalias and off clear it, full is no longer a value)', () => {
    const measured: [string, boolean][] = [
      ['', true],
      ['rodata=on', true],
      ['rodata=noalias', true],
      ['rodata=off', true],
      ['rodata=full', true],
      [K, true],
      [`rodata=on ${K}`, true],
      [`rodata=noalias ${K}`, false],
      [`rodata=off ${K}`, false],
      [`rodata=full ${K}`, true],
    ];
    for (const [cmdline, changeable] of measured) expect(on(DEBIAN_73, cmdline), cmdline).toBe(changeable);
  });

  it('debug_pagealloc, the last value of a repeated option, and what cannot be known', () => {
    const dp: Config = { options: { ...DEBIAN_73.options, CONFIG_DEBUG_PAGEALLOC: 'y' }, unset: ['CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT'] };
    expect(on(dp, `rodata=off ${K}`)).toBe(false);
    expect(on(dp, `rodata=off ${K} debug_pagealloc=on`)).toBe(true);
    expect(on(DEBIAN_73, `rodata=off kfence.sample_interval=0 ${K}`)).toBe(false);
    expect(on(DEBIAN_73, `rodata=off ${K} kfence.sample_interval=0`)).toBe(true);
    expect(directMap({ arch: 'arm64', cmdline: '', config: null })).toEqual({ changeable: null, why: expect.stringMatching(/no kernel configuration is readable/) });
    expect(directMap({ arch: 'x64', cmdline: 'rodata=off', config: null }).changeable).toBe(true);
    expect(directMap({ arch: 'riscv64', cmdline: '', config: null }).changeable).toBeNull();
    expect(directMap({ arch: 'arm64', cmdline: `rodata=noalias ${K}`, config: DEBIAN_73 }).why).toBe(
      'rodata_full off (rodata=noalias), debug_pagealloc off, KFENCE pool allocated early (kfence.sample_interval=100)',
    );
  });
});

describe('why memfd_secret is off, named', () => {
  const config = (options: Readonly<Record<string, string>>, unset: readonly string[] = []): KernelConfig => ({ source: '/boot/config-test', options: new Map(Object.entries(options)), unset: new Set(unset) });

  it('tells the boot option, the build and the direct map apart', () => {
    expect(secretmemDisabledHint('console=ttyS0 secretmem.enable=0', config(DEBIAN_73.options))).toBe('the kernel was booted with secretmem.enable=0');
    expect(secretmemDisabledHint('', config({ CONFIG_KFENCE: 'y' }))).toBe('the kernel was built without CONFIG_SECRETMEM (/boot/config-test)');
    expect(secretmemDisabledHint(`rodata=noalias ${K}`, config(DEBIAN_73.options, DEBIAN_73.unset), 'arm64')).toMatch(
      /^the kernel cannot change its direct map, which secret memory needs \(can_set_direct_map\(\) is false: rodata_full off \(rodata=noalias\), .*\); boot it with rodata=on$/,
    );
    expect(secretmemDisabledHint(`rodata=on ${K}`, config(DEBIAN_612.options, DEBIAN_612.unset), 'arm64')).toMatch(/rodata_full off \(rodata=on\).*; boot it with rodata=full$/);
    // The same boot options on x86-64 change nothing: it can always change its direct map.
    expect(secretmemDisabledHint(`rodata=noalias ${K}`, config(DEBIAN_73.options), 'x64')).toMatch(/has CONFIG_SECRETMEM and can change its direct map/);
    // Nothing readable: every cause left is named.
    expect(secretmemDisabledHint('', null, 'arm64')).toMatch(/built without CONFIG_SECRETMEM.* or was booted with secretmem\.enable=0; no configuration is readable to say which/);
  });
});
