/**
 * Steps: code a case runs in another process (`child.js step NAME ARGS`),
 * typically as pid 1 of a nested pid namespace. A step talks to the case
 * over JSON lines: `send` to it, `receive` from it.
 *
 * This module stays small and imports no case module, so a step process
 * starts quickly.
 */
import { memfdShape, readNoexec, writeNoexec } from './noexec-sysctl.js';
import { NESTED_STEPS } from './steps-nested.js';
import type { StepFn, StepIO } from './types.js';

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
