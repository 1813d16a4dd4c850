/**
 * `memseal exec [--fallback tmpfile] [--argv0 NAME] PATH [-- ARGS...]`:
 * clones PATH into a sealed memfd and runs it with this process's stdio,
 * then exits as it did: with its exit code, or killed by the same signal.
 */
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { cloneExecutable, ExecError, ExecRefusedError, spawnSealed, TmpfileExecutable, type Executable } from '../exec/index.js';
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

export const EXEC_HELP = `Usage: memseal ${EXEC_USAGE}

Clones PATH into a sealed, executable memfd and runs it with this terminal's
stdio, then exits as it did. A PATH without a slash is looked up in $PATH
as execvp(3) does: each directory in order (an empty entry is the current
directory; with PATH unset, /bin:/usr/bin), skipping entries that are not
executable regular files; not found anywhere is ENOENT (status 127), found
only without execute permission is EACCES (status 126).

  --fallback tmpfile  where executable memfds are refused, run an unsealed
                      O_TMPFILE copy instead
  --argv0 NAME        argv[0] of the program (default: its memfd name)
  -h, --help          this help (options come before PATH; everything after
                      PATH goes to the program)

Exit status: the program's own; 128+N when it died by signal N and this
process could not die by it too; 126 when it cannot run; 127 when it is not
found; 2 for a usage error.
`;

/** PATH when the environment has none, as glibc's execvp uses. */
const DEFAULT_PATH = '/bin:/usr/bin';

function pathError(code: 'ENOENT' | 'EACCES', message: string): SyscallError {
  return new SyscallError('execvp', -osConstants.errno[code], { message: `${code}: ${message}` });
}

/**
 * Where execvp(3) would find `name`: `name` itself when it contains a slash;
 * otherwise the first executable regular file `DIR/name` for DIR in `path`
 * (':'-separated; an empty entry is the current directory).
 * @throws SyscallError ENOENT when no entry holds it, EACCES when entries
 *   hold it but none may be executed (as execvp reports).
 */
export function resolveCommand(name: string, path: string | undefined = process.env.PATH, cwd: string = process.cwd()): string {
  if (name === '') throw pathError('ENOENT', "an empty program name names no file");
  if (name.includes('/')) return name;
  let denied = false;
  for (const dir of (path ?? DEFAULT_PATH).split(':')) {
    const candidate = join(dir === '' ? cwd : dir, name);
    let st;
    try {
      st = statSync(candidate);
    } catch {
      continue;
    }
    if (!st.isFile()) {
      denied ||= st.isDirectory();
      continue;
    }
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      denied = true;
    }
  }
  if (denied) throw pathError('EACCES', `'${name}' is in $PATH but not executable`);
  throw pathError('ENOENT', `'${name}' not found in $PATH`);
}

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
    process.stdout.write(EXEC_HELP);
    return 0;
  }
  let path: string;
  try {
    path = resolveCommand(command.path);
  } catch (err) {
    return fail(err);
  }
  const relay = new SignalRelay();
  let exe: Executable;
  try {
    exe = await cloneExecutable(path, { fallback: command.fallback });
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
