/**
 * The `lowAddress` requirement: whether this process may map page 0
 * (mseal_test.c's test_seal_zero_address, mremap to address 0). Below
 * vm.mmap_min_addr that takes CAP_SYS_RAWIO (security/commoncap.c
 * cap_mmap_addr), so both are read when the requirement is checked:
 * /proc/sys/vm/mmap_min_addr and the effective capability set in
 * /proc/self/status. An LSM with its own minimum (SELinux mmap_zero) can
 * still refuse; the case then observes that errno.
 */
import { readFileSync } from 'node:fs';

const CAP_SYS_RAWIO = 17n;

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Whether a mapping at address 0 should be allowed here, and if not why. */
export function lowAddressCheck(): { ok: boolean; reason?: string } {
  const min = read('/proc/sys/vm/mmap_min_addr')?.trim();
  if (min === undefined) return { ok: false, reason: 'cannot read /proc/sys/vm/mmap_min_addr' };
  if (min === '0') return { ok: true };
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(read('/proc/self/status') ?? '')?.[1];
  if (capEff !== undefined && ((BigInt(`0x${capEff}`) >> CAP_SYS_RAWIO) & 1n) === 1n) return { ok: true };
  return { ok: false, reason: `mapping address 0 needs CAP_SYS_RAWIO while vm.mmap_min_addr=${min}` };
}
