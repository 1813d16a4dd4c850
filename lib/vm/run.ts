/**
 * runInVm(): the whole of `memseal vm` for one kernel: build (or reuse) the
 * initramfs, pick KVM or TCG, boot, and return what each guest command
 * printed, with the timings.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { chooseAccel, type AccelChoice } from './accel.js';
import { buildInitramfs, defaultInputs, type Initramfs, type InitramfsInputs } from './initramfs.js';
import { boot, VmError, type Accel, type GuestOutput } from './qemu.js';

/** What the guest runs by default: memseal's own report. */
export const DEFAULT_GUEST_COMMAND: readonly string[] = ['conform', '--json'];

export interface VmRunOptions {
  kernel: string;
  /** Extra kernel arguments, e.g. "secretmem.enable=1". */
  append?: string;
  memoryMiB?: number;
  timeoutSeconds?: number;
  accel?: AccelChoice;
  /** memseal argv lists to run in the guest, one boot for all (default: DEFAULT_GUEST_COMMAND). */
  commands?: readonly (readonly string[])[];
  inputs?: InitramfsInputs;
  cacheDir?: string;
  /** Progress, one line at a time (the CLI prints it on stderr). */
  progress?: (line: string) => void;
}

export interface VmRun {
  kernel: string;
  append: string;
  /** `uname -r` in the guest. */
  release: string;
  accel: Accel;
  accelReason: string;
  memoryMiB: number;
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
    append: r.append,
    accel: r.accel,
    accelReason: r.accelReason,
    memoryMiB: r.memoryMiB,
    bootSeconds: Number(r.bootSeconds.toFixed(2)),
    runSeconds: Number(r.runSeconds.toFixed(2)),
    initramfs: r.initramfs.hash.slice(0, 16),
  };
}

/** Boots `kernel` on the memseal initramfs and runs the commands there. Rejects with a VmError. */
export async function runInVm(o: VmRunOptions): Promise<VmRun> {
  const say = o.progress ?? ((): void => undefined);
  if (!existsSync(o.kernel)) {
    throw new VmError('missing-kernel', `kernel image ${o.kernel} does not exist (scripts/fetch-kernel.mjs fetches Debian's 6.1 cloud kernel)`);
  }
  const commands = o.commands ?? [DEFAULT_GUEST_COMMAND];
  const initramfs = buildInitramfs(o.inputs ?? defaultInputs(), { cacheDir: o.cacheDir, progress: say });
  const accel = await chooseAccel(o.accel ?? 'auto', { kernel: o.kernel, initrd: initramfs.path, cacheDir: o.cacheDir, progress: say });
  const memoryMiB = o.memoryMiB ?? 1024;
  const append = o.append ?? '';
  const name = basename(o.kernel);
  say(`booting ${name}${append ? ` with ${append}` : ''} under ${accel.accel.toUpperCase()} (${accel.reason}), ${memoryMiB} MiB`);
  const result = await boot({
    kernel: o.kernel,
    initrd: initramfs.path,
    append,
    memoryMiB,
    timeoutSeconds: o.timeoutSeconds,
    accel: accel.accel,
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
    append,
    release: result.release,
    accel: accel.accel,
    accelReason: accel.reason,
    memoryMiB,
    initramfs,
    bootSeconds: result.bootSeconds,
    runSeconds: result.runSeconds,
    totalSeconds: result.totalSeconds,
    outputs: result.outputs,
  };
}
