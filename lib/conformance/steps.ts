/**
 * Steps: code a case runs in another process (`child.js step NAME ARGS`),
 * typically as pid 1 of a nested pid namespace. A step talks to the case
 * over JSON lines: `send` to it, `receive` from it.
 *
 * This module stays small and imports no case module, so a step process
 * starts quickly.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { binding } from '../binding.js';
import { SyscallError } from '../errors.js';
// steps-nested imports this module back; it reads these exports only when a step runs.
import { NESTED_STEPS } from './steps-nested.js';

export interface StepIO {
  send(message: unknown): void;
  receive(): Promise<unknown>;
}

export type StepFn = (args: unknown, io: StepIO) => Promise<void>;

const SYSCTL = '/proc/sys/vm/memfd_noexec';

function errnoOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof SyscallError) return err.code;
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    throw err;
  }
}

/** Reads this pid namespace's vm.memfd_noexec. */
export function readNoexec(): string {
  return readFileSync(SYSCTL, 'utf8').trim();
}

/** Writes vm.memfd_noexec for this pid namespace: 'ok' or the errno name. */
export function writeNoexec(value: string): string {
  return errnoOf(() => writeFileSync(SYSCTL, value));
}

/** What a memfd created with `flags` looks like here: `mode=0666 seals=0x20`, or the errno name. */
export function memfdShape(flags: number): string {
  const b = binding();
  let fd: number;
  try {
    fd = b.memfdCreate('conform-step', flags | b.constants.MFD_CLOEXEC!);
  } catch (err) {
    if (err instanceof SyscallError) return err.code;
    throw err;
  }
  try {
    return `mode=0${(b.fstat(fd).mode & 0o777).toString(8)} seals=0x${b.getSeals(fd).toString(16)}`;
  } finally {
    b.close(fd);
  }
}

interface Command {
  op: 'read' | 'write' | 'memfd' | 'exit';
  value?: string;
  flags?: number;
}

/**
 * A process in a nested pid namespace that obeys commands: read or write
 * vm.memfd_noexec, or create a memfd and describe it; each answer is sent
 * back. Ends on `exit` or when stdin closes.
 */
async function nsAgent(_args: unknown, io: StepIO): Promise<void> {
  io.send({ ready: true });
  for (;;) {
    const cmd = (await io.receive()) as Command & { closed?: boolean };
    if (cmd.closed === true || cmd.op === 'exit') return;
    if (cmd.op === 'read') io.send(readNoexec());
    else if (cmd.op === 'write') io.send(writeNoexec(cmd.value ?? ''));
    else io.send(memfdShape(cmd.flags ?? 0));
  }
}

/** Creates one memfd with `args.flags` and sends its shape (as another user, when started with a uid). */
async function memfdShapeStep(args: unknown, io: StepIO): Promise<void> {
  io.send(memfdShape((args as { flags?: number }).flags ?? 0));
}

export const STEPS: Readonly<Record<string, StepFn>> = {
  'ns-agent': nsAgent,
  'memfd-shape': memfdShapeStep,
  ...NESTED_STEPS,
};
