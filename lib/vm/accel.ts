/**
 * KVM when it works, TCG otherwise; always TCG for a guest of another
 * architecture than the host's (KVM runs arm64 guests on arm64 hosts only,
 * x86-64 guests on x86-64 hosts only). /dev/kvm can exist and still not boot a
 * guest (nested virtualisation that lacks a CPU feature hangs the guest
 * early), so "auto" boots the guest once under KVM with nothing to run and a
 * short time limit. The verdict is kept per host boot and qemu binary, so
 * only the first run after a reboot pays for the check.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARCHES, hostArch, isHostArch, qemuBinary, type ArchDescription } from './arch.js';
import { cacheSubdir } from './cache.js';
import { which } from './initramfs.js';
import { boot, VmError, type Accel } from './qemu.js';

export type AccelChoice = Accel | 'auto';

export interface AccelVerdict {
  accel: Accel;
  /** Why: asked for, no /dev/kvm, the check's result. */
  reason: string;
}

/** Seconds the KVM check may take: a working KVM guest is at init in about a second. */
const KVM_CHECK_SECONDS = 10;

/** $MEMSEAL_VM_ACCEL (kvm, tcg or auto), else auto. */
export function accelFromEnv(): AccelChoice {
  const v = process.env.MEMSEAL_VM_ACCEL;
  if (v === 'kvm' || v === 'tcg' || v === 'auto') return v;
  return 'auto';
}

function verdictFile(cacheDir: string | undefined, arch: ArchDescription): string {
  const bootId = (() => {
    try {
      return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      return 'unknown-boot';
    }
  })();
  const qemu = qemuBinary(arch);
  const path = qemu.includes('/') ? qemu : (which(qemu) ?? qemu);
  let stamp = path;
  try {
    const st = statSync(path);
    stamp += `:${st.size}:${st.mtimeMs}`;
  } catch {
    // qemu missing: the boot will say so
  }
  const key = createHash('sha256').update(`${bootId}\n${stamp}`).digest('hex').slice(0, 16);
  return join(cacheSubdir('accel', cacheDir), `kvm-${key}.json`);
}

/** Chooses the accelerator for `kernel`, checking KVM by a real boot when asked for "auto". */
export async function chooseAccel(
  choice: AccelChoice,
  check: { kernel: string; initrd: string; arch?: ArchDescription; cacheDir?: string; progress?: (line: string) => void },
): Promise<AccelVerdict> {
  const arch = check.arch ?? ARCHES.x86_64;
  if (choice === 'tcg') return { accel: 'tcg', reason: 'asked for TCG' };
  if (!isHostArch(arch)) {
    const host = hostArch() ?? process.arch;
    if (choice === 'kvm') throw new VmError('bad-argument', `KVM cannot run an ${arch.name} guest on this ${host} machine: it runs guests of the host's own architecture; use --accel tcg or auto`);
    return { accel: 'tcg', reason: `the guest is ${arch.name}, the host ${host}: KVM runs only guests of the host's architecture` };
  }
  if (choice === 'kvm') return { accel: 'kvm', reason: 'asked for KVM' };
  try {
    accessSync('/dev/kvm', fsConstants.R_OK | fsConstants.W_OK);
  } catch {
    return { accel: 'tcg', reason: existsSync('/dev/kvm') ? '/dev/kvm is not accessible to this user' : 'no /dev/kvm' };
  }
  const file = verdictFile(check.cacheDir, arch);
  if (existsSync(file)) {
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as AccelVerdict;
      if (saved.accel === 'kvm' || saved.accel === 'tcg') return { accel: saved.accel, reason: `${saved.reason}; verdict kept since this host booted` };
    } catch {
      // damaged: check again
    }
  }
  check.progress?.(`checking whether KVM can boot a guest here (up to ${KVM_CHECK_SECONDS} s)`);
  let verdict: AccelVerdict;
  try {
    const r = await boot({ arch, kernel: check.kernel, initrd: check.initrd, accel: 'kvm', commands: [], timeoutSeconds: KVM_CHECK_SECONDS, memoryMiB: 512 });
    verdict = { accel: 'kvm', reason: `KVM booted a guest to init in ${r.bootSeconds.toFixed(1)} s` };
  } catch (err) {
    if (!(err instanceof VmError)) throw err;
    // These are not KVM's fault: say so and let the real boot report them.
    if (err.kind === 'missing-qemu' || err.kind === 'missing-kernel' || err.kind === 'panic') {
      return { accel: 'tcg', reason: `the KVM check could not run (${err.kind})` };
    }
    const why = err.kind === 'timeout' ? `a KVM guest did not reach init within ${KVM_CHECK_SECONDS} s` : err.message.split('\n')[0]!;
    verdict = { accel: 'tcg', reason: `KVM does not work here: ${why}` };
  }
  writeFileSync(file, `${JSON.stringify(verdict)}\n`);
  return verdict;
}
