/**
 * runInVm(): the whole of `memseal vm` for one kernel: fetch the kernel and,
 * for a guest of another architecture, its userland; build (or reuse) the
 * initramfs, pick KVM or TCG, boot, and return what each guest command
 * printed, with the timings.
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { findPackageRoot } from '../package-root.js';
import { chooseAccel, type AccelChoice } from './accel.js';
import { archOf, isHostArch, kernelImageArch, type ArchDescription, type VmArch } from './arch.js';
import { buildInitramfs, defaultInputs, type Initramfs, type InitramfsInputs } from './initramfs.js';
import { initrdWithConfig } from './initrd.js';
import { configBeside, isKernelSpec, resolveKernel, type Flavour } from './kernels.js';
import { boot, VmError, type Accel, type GuestOutput } from './qemu.js';
import { guestUserland } from './userland.js';

/** What the guest runs by default: memseal's own report. */
export const DEFAULT_GUEST_COMMAND: readonly string[] = ['conform', '--json'];

export interface VmRunOptions {
  /** A kernel image path, or a spec such as `debian:6.12` (fetched into the cache: lib/vm/kernels.ts). */
  kernel: string;
  /** The guest's architecture (default x86_64). */
  arch?: VmArch;
  /** The flavour of a `debian:` kernel: cloud (default), generic, or (arm64) 16k. */
  flavour?: Flavour;
  /**
   * The node binary the guest runs (default: this one for a guest of the
   * host's architecture; else node-linux-<arch> of this node's major line,
   * fetched with npm: lib/vm/userland.ts).
   */
  node?: string;
  /**
   * The kernel's configuration, shown to the guest as /boot/config-$(uname -r).
   * Default: the one fetched with a `debian:` kernel, or the config file Debian
   * keeps beside an image (`boot/config-<release>`, or `config`).
   */
  config?: string;
  /** Extra kernel arguments, e.g. "secretmem.enable=1". */
  append?: string;
  memoryMiB?: number;
  /** Virtual CPUs (default 1; `memseal vm` gives each guest its share of this machine's CPUs: guestCpus()). */
  cpus?: number;
  timeoutSeconds?: number;
  accel?: AccelChoice;
  /** memseal argv lists to run in the guest, one boot for all (default: DEFAULT_GUEST_COMMAND). */
  commands?: readonly (readonly string[])[];
  inputs?: InitramfsInputs;
  /** A prebuilt image to boot instead of the memseal one (`memseal vm --kselftest`: lib/vm/kselftest-guest.ts). */
  image?: Initramfs;
  cacheDir?: string;
  /** Progress, one line at a time (the CLI prints it on stderr). */
  progress?: (line: string) => void;
}

export interface VmRun {
  /** The kernel as given: a path or a `debian:` spec. */
  kernel: string;
  arch: VmArch;
  /** The flavour of a `debian:` kernel. */
  flavour: Flavour | undefined;
  /** The image booted. */
  image: string;
  /** The Debian package it came from, for a `debian:` spec. */
  package: string | undefined;
  /** The configuration the guest saw at /boot/config-<release>, if any. */
  config: string | undefined;
  append: string;
  /** `uname -r` in the guest. */
  release: string;
  accel: Accel;
  accelReason: string;
  memoryMiB: number;
  cpus: number;
  initramfs: Initramfs;
  bootSeconds: number;
  runSeconds: number;
  totalSeconds: number;
  outputs: GuestOutput[];
}

/** The `vm` object `memseal vm --json` adds to a guest's report: how it was booted and how long it took. */
export function vmMeta(r: VmRun): Record<string, unknown> {
  return {
    kernel: r.kernel,
    arch: r.arch,
    ...(r.flavour === undefined ? {} : { flavour: r.flavour }),
    ...(r.package === undefined ? {} : { package: r.package }),
    config: r.config !== undefined,
    append: r.append,
    accel: r.accel,
    accelReason: r.accelReason,
    memoryMiB: r.memoryMiB,
    cpus: r.cpus,
    bootSeconds: Number(r.bootSeconds.toFixed(2)),
    runSeconds: Number(r.runSeconds.toFixed(2)),
    initramfs: r.initramfs.hash.slice(0, 16),
  };
}

/** How long a boot may take, conform included: TCG on a busy 2-core host needs minutes. */
export const KVM_TIMEOUT_SECONDS = 300;
export const TCG_TIMEOUT_SECONDS = 900;
/**
 * How much longer the guest's case time limits are under TCG (process
 * start-up takes seconds there), and under TCG emulating another
 * architecture than the host's, which translates every instruction.
 */
export const TCG_TIME_SCALE = 6;
export const FOREIGN_TCG_TIME_SCALE = 12;

/**
 * The kernel command line a boot gets: the caller's arguments, and under
 * TCG MEMSEAL_CONFORM_TIME_SCALE (the kernel hands an unknown NAME=VALUE to
 * init as an environment variable, and init to memseal) unless the caller
 * set it.
 */
export function guestAppend(append: string, tcg: boolean, scale: number = TCG_TIME_SCALE): string {
  if (!tcg || /(^|\s)MEMSEAL_CONFORM_TIME_SCALE=/.test(append)) return append;
  return `${append} MEMSEAL_CONFORM_TIME_SCALE=${scale}`.trim();
}

/** Throws when an image given by path is recognisably built for another architecture than `arch`. */
function checkImageArch(image: string, arch: ArchDescription): void {
  const header = Buffer.alloc(0x210);
  const fd = openSync(image, 'r');
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  const built = kernelImageArch(header);
  if (built !== undefined && built !== arch.name) {
    throw new VmError('bad-argument', `kernel image ${image} is built for ${built}, not ${arch.name}: add --arch ${built}`);
  }
}

/** The initramfs inputs for a guest of `arch`: the host's own userland, or one fetched for it. */
async function inputsFor(arch: ArchDescription, o: VmRunOptions): Promise<InitramfsInputs> {
  if (isHostArch(arch)) return { ...defaultInputs(), ...(o.node === undefined ? {} : { node: o.node }) };
  const u = await guestUserland(arch, { cacheDir: o.cacheDir, node: o.node, progress: o.progress });
  return { node: u.node, busybox: u.busybox, packageRoot: findPackageRoot(), foreign: { arch: arch.name, libraries: u.libraries, nodeVersion: u.nodeVersion } };
}

/** Boots `kernel` on the memseal initramfs and runs the commands there. Rejects with a VmError. */
export async function runInVm(o: VmRunOptions): Promise<VmRun> {
  const say = o.progress ?? ((): void => undefined);
  const arch = archOf(o.arch ?? 'x86_64');
  let image = o.kernel;
  let pkg: string | undefined;
  let config = o.config;
  if (isKernelSpec(o.kernel)) {
    const k = await resolveKernel(o.kernel, { flavour: o.flavour, arch: arch.name, cacheDir: o.cacheDir, progress: say });
    [image, pkg, config] = [k.image, k.package, config ?? k.config];
  } else if (!existsSync(o.kernel)) {
    throw new VmError('missing-kernel', `kernel image ${o.kernel} does not exist (memseal vm --kernel debian:6.1 fetches Debian's 6.1 cloud kernel)`);
  } else {
    checkImageArch(o.kernel, arch);
    config ??= configBeside(o.kernel);
  }
  const commands = o.commands ?? [DEFAULT_GUEST_COMMAND];
  const initramfs = o.image ?? buildInitramfs(o.inputs ?? (await inputsFor(arch, o)), { cacheDir: o.cacheDir, progress: say });
  const initrd = initrdWithConfig(initramfs, config, { cacheDir: o.cacheDir });
  const accel = await chooseAccel(o.accel ?? 'auto', { kernel: image, initrd, arch, cacheDir: o.cacheDir, progress: say });
  const memoryMiB = o.memoryMiB ?? 1024;
  const append = o.append ?? '';
  const tcg = accel.accel === 'tcg';
  const name = pkg ?? basename(image);
  const scale = isHostArch(arch) ? TCG_TIME_SCALE : FOREIGN_TCG_TIME_SCALE;
  say(`booting ${name}${append ? ` with ${append}` : ''} under ${accel.accel.toUpperCase()} (${accel.reason}), ${memoryMiB} MiB, ${o.cpus ?? 1} CPU${(o.cpus ?? 1) > 1 ? 's' : ''}`);
  const result = await boot({
    arch,
    kernel: image,
    initrd,
    append: guestAppend(append, tcg, scale),
    memoryMiB,
    timeoutSeconds: o.timeoutSeconds ?? (tcg ? TCG_TIMEOUT_SECONDS : KVM_TIMEOUT_SECONDS),
    accel: accel.accel,
    cpus: o.cpus,
    commands,
    onEvent: (e, s) => {
      const t = `${s.toFixed(1)} s`;
      if (e.type === 'kernel') say(`${t}: ${e.line.slice(0, 60)}...`);
      else if (e.type === 'init') say(`${t}: init is running on ${e.release}`);
      else if (e.type === 'run') say(`${t}: memseal ${commands[e.index - 1]?.join(' ') ?? '?'}`);
      else if (e.type === 'done') say(`${t}: done; powering off`);
    },
  });
  say(`${name}: boot ${result.bootSeconds.toFixed(1)} s, run ${result.runSeconds.toFixed(1)} s, total ${result.totalSeconds.toFixed(1)} s`);
  return {
    kernel: o.kernel,
    arch: arch.name,
    flavour: isKernelSpec(o.kernel) ? (o.flavour ?? 'cloud') : undefined,
    image,
    package: pkg,
    config,
    append,
    release: result.release,
    accel: accel.accel,
    accelReason: accel.reason,
    memoryMiB,
    cpus: o.cpus ?? 1,
    initramfs,
    bootSeconds: result.bootSeconds,
    runSeconds: result.runSeconds,
    totalSeconds: result.totalSeconds,
    outputs: result.outputs,
  };
}

/**
 * The virtual CPUs for each of `concurrent` guests booted at once: this
 * machine's CPUs shared out, at least 1, at most 4. Under TCG a guest with
 * two CPUs runs the suite's child processes side by side (QEMU runs each
 * vCPU in its own thread); two guests on two cores get one each.
 */
export function guestCpus(concurrent: number, hostCpus: number): number {
  return Math.min(4, Math.max(1, Math.floor(hostCpus / Math.max(1, concurrent))));
}

/**
 * Runs `task` for every item, at most `jobs` at a time, and returns the
 * results in the items' order, whenever each finished. A task that rejects
 * rejects the whole: catch inside the task to keep the others going.
 */
export async function runPool<T, R>(items: readonly T[], jobs: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(jobs) || jobs < 1) throw new RangeError(`jobs must be a whole number of at least 1 (got ${jobs})`);
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker));
  return results;
}
