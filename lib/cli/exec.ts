/**
 * `memseal exec [--fallback tmpfile] [--argv0 NAME] PATH [-- ARGS...]`:
 * clones PATH into a sealed memfd and runs it with this process's stdio,
 * then exits as it did: with its exit code, or killed by the same signal.
 */
import type { ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { cloneExecutable, ExecError, ExecRefusedError, spawnSealed, TmpfileExecutable, type Executable } from '../exec.js';
import { MemsealError, SyscallError } from '../errors.js';

/** Signals passed on to the child. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2'];

/**
 * A terminal sends these to its whole foreground process group, which the
 * child shares: when stdin is a terminal the child has its own copy already,
 * and a second one would, for instance, make a REPL exit.
 */
const TERMINAL_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGQUIT']);

export const EXEC_USAGE = 'exec [--fallback tmpfile] [--argv0 NAME] PATH [-- ARGS...]';

/** The parsed command line of `memseal exec`. */
export interface ExecCommand {
  help: boolean;
  path: string;
  args: string[];
  fallback: 'none' | 'tmpfile';
  argv0: string | undefined;
}

function parseError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Options come before PATH; everything after PATH goes to the program,
 * except one leading `--`.
 */
export function parseExecArgs(argv: readonly string[]): ExecCommand {
  const out: ExecCommand = { help: false, path: '', args: [], fallback: 'none', argv0: undefined };
  let i = 0;
  const value = (name: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    const next = argv[++i];
    if (next === undefined) throw parseError('ERR_PARSE_ARGS_INVALID_OPTION_VALUE', `Option '${name}' needs a value`);
    return next;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (name === '--help' || name === '-h') out.help = true;
    else if (name === '--argv0') out.argv0 = value(name, inline);
    else if (name === '--fallback') {
      const v = value(name, inline);
      if (v !== 'tmpfile' && v !== 'none') throw parseError('ERR_PARSE_ARGS_INVALID_OPTION_VALUE', `Option '--fallback' takes 'tmpfile' or 'none', not '${v}'`);
      out.fallback = v;
    } else throw parseError('ERR_PARSE_ARGS_UNKNOWN_OPTION', `Unknown option '${arg}'`);
  }
  if (out.help) return out;
  const path = argv[i];
  if (path === undefined) throw parseError('ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL', 'memseal exec needs the PATH of a program');
  out.path = path;
  const rest = argv.slice(i + 1);
  out.args = rest[0] === '--' ? rest.slice(1) : rest;
  return out;
}

function describe(err: unknown): string {
  if (err instanceof ExecRefusedError) return `${err.message} [${err.code}, reason: ${err.reason}]`;
  if (err instanceof SyscallError || err instanceof ExecError || err instanceof MemsealError) return `${err.message} [${err.code}]`;
  return err instanceof Error ? err.message : String(err);
}

/** As a shell does: 127 when the program does not exist, 126 when it cannot run. */
function failureStatus(err: unknown): number {
  return (err as { code?: unknown }).code === 'ENOENT' ? 127 : 126;
}

function fail(err: unknown): number {
  process.stderr.write(`memseal exec: ${describe(err)}\n`);
  if (err instanceof ExecRefusedError && err.reason !== 'noexec-seal') {
    process.stderr.write('memseal exec: --fallback tmpfile runs an unsealed O_TMPFILE copy instead\n');
  }
  return failureStatus(err);
}

/** Dies by `signal`, or, where Node ignores it (SIGPIPE), exits as a shell reports a signal death: 128 + its number. */
function dieBy(signal: NodeJS.Signals): Promise<number> {
  process.kill(process.pid, signal);
  return new Promise((resolve) => setTimeout(() => resolve(128 + (osConstants.signals[signal] ?? 0)), 50));
}

/**
 * Catches the forwarded signals from before the clone until the program
 * exits: a signal that arrives before the program exists is kept, so the
 * program is not started; later ones are passed to it.
 */
class SignalRelay {
  readonly #handlers = new Map<NodeJS.Signals, () => void>();
  #child: ChildProcess | undefined;
  /** The first signal received before there was a program to pass it to. */
  early: NodeJS.Signals | undefined;

  constructor() {
    for (const signal of FORWARDED) {
      const handler = (): void => {
        if (TERMINAL_SIGNALS.has(signal) && process.stdin.isTTY === true) return;
        if (this.#child === undefined) this.early ??= signal;
        else this.#child.kill(signal);
      };
      this.#handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  attach(child: ChildProcess): void {
    this.#child = child;
  }

  release(): void {
    this.#handlers.forEach((handler, signal) => process.removeListener(signal, handler));
    this.#handlers.clear();
  }
}

/** Waits for the child; resolves to its exit status, or dies by the signal that killed it. */
function supervise(child: ChildProcess, relay: SignalRelay): Promise<number> {
  relay.attach(child);
  return new Promise((resolve) => {
    child.once('error', (err) => {
      relay.release();
      resolve(fail(err));
    });
    child.once('exit', (code, signal) => {
      relay.release();
      resolve(signal === null ? (code ?? 1) : dieBy(signal));
    });
  });
}

/** Runs `memseal exec`. */
export async function runExec(argv: string[]): Promise<number> {
  const command = parseExecArgs(argv);
  if (command.help) {
    process.stdout.write(`Usage: memseal ${EXEC_USAGE}\n\nClones PATH into a sealed, executable memfd and runs it with this terminal's stdio.\n`);
    return 0;
  }
  const relay = new SignalRelay();
  let exe: Executable;
  try {
    exe = await cloneExecutable(command.path, { fallback: command.fallback });
  } catch (err) {
    relay.release();
    return fail(err);
  }
  if (relay.early !== undefined) {
    exe.close();
    relay.release();
    return dieBy(relay.early);
  }
  if (exe instanceof TmpfileExecutable) {
    process.stderr.write(`memseal exec: executable memfds are refused here (${exe.refusal.reason}, ${exe.refusal.code}); running an unsealed O_TMPFILE copy in ${exe.dir}\n`);
  }
  let child: ChildProcess;
  try {
    child = spawnSealed(exe, command.args, { stdio: 'inherit', argv0: command.argv0 });
  } catch (err) {
    relay.release();
    return fail(err);
  } finally {
    // The exec has happened (or failed) by now: the child holds the file.
    exe.close();
  }
  return supervise(child, relay);
}
