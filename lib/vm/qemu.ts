/**
 * Boots a kernel with the qemu of its architecture (qemu-system-x86_64,
 * qemu-system-aarch64: lib/vm/arch.ts) on the memseal initramfs, feeds the
 * serial console to a ConsoleReader, and turns every way a boot can go wrong
 * into a VmError that says what happened and shows the console's last lines.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { ARCHES, missingQemu, qemuBinary, type ArchDescription } from './arch.js';
import { ConsoleReader, type ConsoleEvent, type FramedOutput } from './console.js';
import { VmError } from './errors.js';
import { ARGS_MARK } from './initramfs.js';

export type Accel = 'kvm' | 'tcg';

export { VmError, type VmErrorKind } from './errors.js';
export { qemuBinary } from './arch.js';

/** COMMAND_LINE_SIZE of x86 and of arm64. */
const CMDLINE_MAX = 2048;

/**
 * The kernel command line: the architecture's serial console, reboot (so
 * qemu exits) at once on a panic, the architecture's own arguments (x86-64:
 * no check of the timer interrupt, lib/vm/arch.ts), the user's arguments,
 * then after `--` the commands for init, as one base64 word (ARGS_MARK).
 * Guest arguments may hold no whitespace: init splits each command on spaces.
 */
export function kernelCommandLine(append: string, commands: readonly (readonly string[])[], arch: ArchDescription = ARCHES.x86_64): string {
  const words = append.trim() === '' ? [] : append.trim().split(/\s+/);
  if (words.includes('--')) throw new VmError('bad-argument', "--append must not contain '--': memseal puts the guest command after it");
  if (words.some((w) => w.startsWith(`${ARGS_MARK}=`))) throw new VmError('bad-argument', `--append must not contain ${ARGS_MARK}=: memseal passes the guest commands in it`);
  for (const argv of commands) {
    if (argv.length === 0) throw new VmError('bad-argument', 'an empty guest command');
    for (const a of argv) {
      if (a === '' || /\s/.test(a)) {
        throw new VmError('bad-argument', `guest command argument ${JSON.stringify(a)} cannot travel to the guest (no empty arguments, no spaces)`);
      }
    }
  }
  const encoded = Buffer.from(commands.map((argv) => argv.join(' ')).join('\n')).toString('base64');
  const line = [`console=${arch.console}`, 'panic=-1', ...arch.kernelArguments, ...words, '--', `${ARGS_MARK}=${encoded}`].join(' ');
  if (line.length >= CMDLINE_MAX) throw new VmError('bad-argument', `the kernel command line would be ${line.length} bytes; the limit is ${CMDLINE_MAX - 1}`);
  return line;
}

export interface BootOptions {
  /** The guest's architecture (default x86-64). */
  arch?: ArchDescription;
  kernel: string;
  initrd: string;
  append?: string;
  memoryMiB?: number;
  timeoutSeconds?: number;
  accel: Accel;
  /** Virtual CPUs (default 1). */
  cpus?: number;
  /** memseal argv lists to run in the guest, in order. */
  commands: readonly (readonly string[])[];
  /** Console events, with the seconds since qemu started. */
  onEvent?: (e: ConsoleEvent, seconds: number) => void;
}

/** One guest command's result. */
export interface GuestOutput {
  argv: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface BootResult {
  /** `uname -r` in the guest. */
  release: string;
  outputs: GuestOutput[];
  /** Seconds from qemu's start until init ran (firmware, kernel, unpacking the initramfs). */
  bootSeconds: number;
  /** Seconds init spent running the commands. */
  runSeconds: number;
  /** Seconds until qemu exited. */
  totalSeconds: number;
  consoleTail: string[];
}

function qemuArgs(o: BootOptions, arch: ArchDescription, cmdline: string): string[] {
  const accel = o.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', ...arch.qemu.tcgCpu];
  return [
    ...arch.qemu.machine[o.accel],
    ...accel,
    '-m', String(o.memoryMiB ?? 1024),
    '-smp', String(o.cpus ?? 1),
    '-nodefaults', '-no-user-config', '-no-reboot',
    '-display', 'none',
    '-serial', 'stdio',
    '-kernel', o.kernel,
    '-initrd', o.initrd,
    '-append', cmdline,
  ];
}

function group(outputs: readonly FramedOutput[], commands: readonly (readonly string[])[]): GuestOutput[] {
  return commands.map((argv, i) => {
    const of = (stream: string): FramedOutput | undefined => outputs.find((o) => o.index === i + 1 && o.stream === stream);
    const out = of('stdout');
    const err = of('stderr');
    return { argv, exitCode: out?.exitCode ?? -1, stdout: out?.data.toString('utf8') ?? '', stderr: err?.data.toString('utf8') ?? '' };
  });
}

/** Boots once and collects the framed outputs; rejects with a VmError. */
export function boot(o: BootOptions): Promise<BootResult> {
  if (!existsSync(o.kernel) || !statSync(o.kernel).isFile()) {
    return Promise.reject(new VmError('missing-kernel', `kernel image ${o.kernel} does not exist (memseal vm --kernel debian:6.1 fetches Debian's 6.1 cloud kernel)`));
  }
  const arch = o.arch ?? ARCHES.x86_64;
  let cmdline: string;
  try {
    cmdline = kernelCommandLine(o.append ?? '', o.commands, arch);
  } catch (err) {
    return Promise.reject(err);
  }
  const timeout = o.timeoutSeconds ?? 300;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const at = (): number => (performance.now() - started) / 1000;
    const times: { init?: number; done?: number } = {};
    let release = '';
    let panic: string | undefined;
    let unpackFailed: string | undefined;
    const corrupt: string[] = [];
    const reader = new ConsoleReader((e) => {
      const s = at();
      if (e.type === 'init') [times.init, release] = [s, e.release];
      else if (e.type === 'done') times.done = s;
      else if (e.type === 'panic') panic ??= e.line;
      else if (e.type === 'unpack-failed') unpackFailed ??= e.line;
      else if (e.type === 'corrupt') corrupt.push(`command ${e.index} ${e.stream}: ${e.why}`);
      o.onEvent?.(e, s);
    });
    const child = spawn(qemuBinary(arch), qemuArgs(o, arch, cmdline), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let settled = false;
    const finish = (err: VmError | undefined, result?: BootResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(result!);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reader.end();
      const where = times.init === undefined ? 'init never started' : `init started after ${times.init.toFixed(1)} s`;
      finish(
        new VmError(
          'timeout',
          `the guest did not finish within ${timeout} s (${where}; ${o.accel.toUpperCase()}); qemu was killed. A hang, or a slow machine: raise --timeout`,
          reader.tail(),
        ),
      );
    }, timeout * 1000);
    child.stdout.on('data', (b: Buffer) => reader.feed(b));
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString('utf8');
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      finish(err.code === 'ENOENT' ? new VmError('missing-qemu', missingQemu(arch)) : new VmError('qemu-failed', `qemu could not start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      reader.end();
      const tail = reader.tail();
      const total = at();
      const qemuSaid = stderr.trim().split('\n').filter(Boolean).slice(-5).join('\n');
      if (panic !== undefined) {
        const memory = o.memoryMiB ?? 1024;
        const unpack =
          unpackFailed === undefined
            ? ''
            : /write error/.test(unpackFailed)
              ? ` after it could not unpack the initramfs (${unpackFailed}: it does not fit in ${memory} MiB; raise --memory)`
              : ` after it could not unpack the initramfs (${unpackFailed})`;
        return finish(new VmError('panic', `the guest kernel panicked${unpack}: ${panic}`, tail));
      }
      if (code !== 0) {
        return finish(new VmError('qemu-failed', `qemu exited with ${signal ?? `status ${code}`}${qemuSaid ? `: ${qemuSaid}` : ''}`, tail));
      }
      if (corrupt.length > 0) return finish(new VmError('corrupt-output', `the guest's output arrived damaged (${corrupt.join('; ')})`, tail));
      if (times.done === undefined) {
        const what = times.init === undefined ? 'before init ran' : 'before init finished its commands';
        return finish(new VmError('no-answer', `the guest powered off ${what}${qemuSaid ? ` (qemu: ${qemuSaid})` : ''}`, tail));
      }
      finish(undefined, {
        release,
        outputs: group(reader.outputs, o.commands),
        bootSeconds: times.init!,
        runSeconds: times.done - times.init!,
        totalSeconds: total,
        consoleTail: tail,
      });
    });
  });
}
