/**
 * What the VM tests need on the host, asked once: the qemu of the guest's
 * architecture, and for a guest of the host's own architecture a static
 * busybox (a foreign guest's userland comes from Debian's packages and npm,
 * lib/vm/userland.ts, which these checks leave to the boot).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { addonFile } from '../../lib/binding.js';
import type { ConformanceReport } from '../../lib/conformance/types.js';
import { findPackageRoot } from '../../lib/package-root.js';
import { ARCHES, isHostArch, qemuBinary, type ArchDescription } from '../../lib/vm/arch.js';
import { findBusybox, which } from '../../lib/vm/initramfs.js';

export function hasBusybox(): boolean {
  try {
    findBusybox();
    return true;
  } catch {
    return false;
  }
}

export function hasQemu(arch: ArchDescription = ARCHES.x86_64): boolean {
  return which(qemuBinary(arch)) !== undefined || qemuBinary(arch).startsWith('/');
}

/** Why the VM tests cannot boot here, or '' when they can. */
export function vmToolsMissing(): string {
  return hasQemu() && hasBusybox() ? '' : 'qemu-system-x86_64 or busybox is missing (apt-get install qemu-system-x86 busybox-static)';
}

/** Why a guest of `arch` cannot boot here, or '' when it can: its qemu, and the package's addon for it. */
export function vmToolsMissingFor(arch: ArchDescription): string {
  if (isHostArch(arch)) return vmToolsMissing();
  if (!hasQemu(arch)) return `${arch.qemu.binary} is missing (apt-get install ${arch.qemu.debianPackage})`;
  const addon = join(findPackageRoot(), addonFile(arch.node));
  if (!existsSync(addon)) return `the package has no ${arch.name} addon (${addon}): npm run build cross-compiles it`;
  if (which('npm') === undefined) return `npm is missing: it fetches ${arch.nodePackage} for the guest`;
  return '';
}

/** Every skip names what the machine lacks, every deviation a kernel source. */
export function expectNamedSkipsAndDeviations(reports: readonly ConformanceReport[]): void {
  for (const r of reports) {
    for (const c of r.cases) {
      if (c.status === 'skip') expect(c.reason, `${r.kernel.release} ${c.id}`).toMatch(/^([a-zA-Z]+: .+|no expectation for this kernel: .+)$/);
      if (c.status === 'deviation') expect(c.reason, `${r.kernel.release} ${c.id}`).toMatch(/ \[[^\]]+\]$/);
    }
  }
}

/** `memseal vm --host --report ...` over saved reports: printed, and it must name the host and every kernel. */
export function expectMatrixPrinted(cli: string, files: readonly string[], reports: readonly ConformanceReport[]): void {
  const args = [cli, 'vm', '--host', ...files.flatMap((f) => ['--report', f])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 300_000, maxBuffer: 64 << 20 });
  console.log(r.stdout);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^\[1\] .*\(host\)/m);
  for (const rep of reports) expect(r.stdout).toContain(rep.kernel.release);
}
