/**
 * The `ns-nest` step: a vm.memfd_noexec agent that can start another agent
 * as pid 1 of a pid namespace one level deeper, and from then on relays
 * every command to it. Nested `nest` commands reach any depth, which is how
 * a case observes a grandchild namespace (memfd_test.c's
 * sysctl_nested_child, which runs the simple sequence one level further
 * down).
 *
 * Commands: read, write (value), probe, nest, exit. `probe` creates the
 * three memfds memfd_test.c's test_sysctl_sysctl0/1/2 look at and reports
 * each as mode/seals/chmod.
 */
import { binding } from '../binding.js';
import { SyscallError } from '../errors.js';
import { startStep } from './context.js';
import { readNoexec, writeNoexec } from './noexec-sysctl.js';
import type { StepFn, StepHandle } from './types.js';

/**
 * A memfd made with `flags | MFD_ALLOW_SEALING` as `mode/seals/target=result`:
 * the fchmod tried is to 0644 when the mode has x bits (it must work) and
 * to 0777 when not (F_SEAL_EXEC must refuse it). The errno name when the
 * memfd cannot be made.
 */
export function memfdChmodShape(flags: number): string {
  const b = binding();
  const c = b.constants;
  let fd: number;
  try {
    fd = b.memfdCreate('conform-nest', flags | c.MFD_ALLOW_SEALING! | c.MFD_CLOEXEC!);
  } catch (err) {
    if (err instanceof SyscallError) return err.code;
    throw err;
  }
  try {
    const mode = b.fstat(fd).mode & 0o777;
    const seals = b.getSeals(fd);
    const target = (mode & 0o111) !== 0 ? 0o644 : 0o777;
    let result = 'ok';
    try {
      b.fchmod(fd, target);
    } catch (err) {
      if (!(err instanceof SyscallError)) throw err;
      result = err.code;
    }
    return `0${mode.toString(8)}/0x${seals.toString(16)}/0${target.toString(8)}=${result}`;
  } finally {
    b.close(fd);
  }
}

/** This namespace's value and the three memfds of test_sysctl_sysctlN: `v=1 dfl=... exec=... noexec=...`. */
export function noexecProbe(): string {
  const c = binding().constants;
  return `v=${readNoexec()} dfl=${memfdChmodShape(0)} exec=${memfdChmodShape(c.MFD_EXEC!)} noexec=${memfdChmodShape(c.MFD_NOEXEC_SEAL!)}`;
}

interface Command {
  op?: 'read' | 'write' | 'probe' | 'nest' | 'exit';
  value?: string;
  closed?: boolean;
}

async function nsNest(_args: unknown, io: { send(m: unknown): void; receive(): Promise<unknown> }): Promise<void> {
  io.send({ ready: true });
  let inner: StepHandle | undefined;
  for (;;) {
    const cmd = (await io.receive()) as Command;
    if (inner !== undefined) {
      if (cmd.closed === true || cmd.op === 'exit') {
        inner.send({ op: 'exit' });
        await inner.done();
        return;
      }
      inner.send(cmd);
      io.send(await inner.receive());
      continue;
    }
    if (cmd.closed === true || cmd.op === 'exit') return;
    if (cmd.op === 'read') io.send(readNoexec());
    else if (cmd.op === 'write') io.send(writeNoexec(cmd.value ?? ''));
    else if (cmd.op === 'probe') io.send(noexecProbe());
    else if (cmd.op === 'nest') {
      inner = await startStep('ns-nest', {}, { newPidns: true });
      await inner.receive(); // ready
      io.send('ok');
    } else io.send(`unknown command ${JSON.stringify(cmd)}`);
  }
}

export const NESTED_STEPS: Readonly<Record<string, StepFn>> = {
  'ns-nest': nsNest,
};
