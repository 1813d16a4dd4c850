/** spawnSealed: running a clone as a child process. */
import { spawn, type ChildProcess, type IOType, type SpawnOptions, type StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import { binding } from '../binding.js';
import { kernelAtLeast } from '../kernel.js';
import { Memfd } from '../memfd.js';
import type { SealName } from '../seals.js';
import { invalidArgType, invalidArgValue, ownOptions, validateOneOf, validateString } from '../validate.js';
import { ExecError, ExecRefusedError } from './errors.js';
import { TmpfileExecutable, type Executable } from './tmpfile.js';

/** Options for {@link spawnSealed}: those of child_process.spawn, less `shell`. */
export interface SpawnSealedOptions extends Omit<SpawnOptions, 'shell' | 'windowsVerbatimArguments'> {
  /** argv[0] of the program. Default: the clone's name. Ignored for `#!` scripts (the kernel passes the script's path). */
  argv0?: string;
  /**
   * A `#!` script cannot run from a close-on-exec descriptor (its
   * interpreter could not open it: ENOENT). `'run'` (default): the
   * interpreter gets the script as one extra, read-only descriptor (the
   * first after stdio), opened as /proc/self/fd/N. `'refuse'`: throw
   * ERR_MEMSEAL_SCRIPT instead.
   */
  script?: 'run' | 'refuse';
}

const EACCES = -osConstants.errno.EACCES;

/** Seals a memfd must carry before spawnSealed runs it. */
function requiredSeals(): SealName[] {
  return kernelAtLeast('6.3') ? ['exec', 'shrink', 'grow', 'write', 'seal'] : ['shrink', 'grow', 'write', 'seal'];
}

function checkRunnable(exe: Executable): void {
  const fd = exe.fd;
  const st = binding().fstat(fd);
  const kind = exe instanceof Memfd ? 'memfd' : 'tmpfile';
  if ((st.mode & 0o111) === 0) {
    if (exe instanceof Memfd && exe.seals.has('exec')) {
      throw new ExecRefusedError('execve', EACCES, {
        reason: 'noexec-seal',
        message: `EACCES: the memfd '${exe.name}' was created with MFD_NOEXEC_SEAL (mode 0o${(st.mode & 0o7777).toString(8)}, sealed against exec): chmod can never make it executable`,
        hint: 'clone the program with cloneExecutable() instead',
      });
    }
    throw new ExecError('ERR_MEMSEAL_NOT_EXECUTABLE', `The ${kind} '${exe.name}' has no execute permission (mode 0o${(st.mode & 0o7777).toString(8)})`);
  }
  if (st.size === 0) throw new ExecError('ERR_MEMSEAL_EMPTY_SOURCE', `The ${kind} '${exe.name}' is empty: there is nothing to execute`);
  if (exe instanceof Memfd) exe.requireSeals(...requiredSeals());
}

function isScript(fd: number): boolean {
  const head = Buffer.alloc(2);
  return binding().read(fd, head, 0, 2, 0) === 2 && head[0] === 0x23 && head[1] === 0x21; // "#!"
}

type StdioEntry = IOType | 'ipc' | number | null | undefined | import('node:stream').Stream;

function stdioArray(stdio: StdioOptions | undefined): StdioEntry[] {
  if (stdio === undefined) return ['pipe', 'pipe', 'pipe'];
  if (typeof stdio === 'string') return [stdio, stdio, stdio];
  if (!Array.isArray(stdio)) throw invalidArgType('options.stdio', 'a string or an array', stdio);
  const out: StdioEntry[] = [...(stdio as StdioEntry[])];
  while (out.length < 3) out.push('pipe');
  return out;
}

/**
 * Runs a clone made by {@link cloneExecutable} as a child process: a real
 * Node ChildProcess, as child_process.spawn returns (stdio, env, cwd,
 * events, kill). The program is executed through /proc/self/fd/N of the
 * forked child; the descriptor is close-on-exec, so the program sees no
 * extra open descriptors, and /proc/PID/exe names the memfd.
 *
 * Before running a memfd it checks its seals (`requireSeals`: exec on 6.3+,
 * shrink, grow, write, seal), so a memfd received from elsewhere cannot be
 * changed under the child. A `#!` script runs with its interpreter (which is
 * read from disk, unsealed) reading the sealed script from one extra
 * read-only descriptor, unless `script: 'refuse'`.
 *
 * @throws ExecRefusedError `reason: 'noexec-seal'` for an MFD_NOEXEC_SEAL memfd.
 * @throws MemsealError ERR_MEMSEAL_MISSING_SEALS for a memfd lacking seals;
 *   ERR_MEMSEAL_CLOSED (or an error with that code) for a closed clone.
 * @throws ExecError ERR_MEMSEAL_NOT_EXECUTABLE, ERR_MEMSEAL_EMPTY_SOURCE,
 *   ERR_MEMSEAL_SCRIPT.
 * Exec failures after the fork (ENOEXEC, EACCES from an LSM) arrive, as
 * with child_process.spawn, as an 'error' event or a thrown error.
 */
export function spawnSealed(exe: Executable, args: readonly string[] = [], options?: SpawnSealedOptions): ChildProcess {
  if (!(exe instanceof Memfd) && !(exe instanceof TmpfileExecutable)) {
    throw invalidArgType('exe', 'a Memfd or TmpfileExecutable (from cloneExecutable)', exe);
  }
  if (!Array.isArray(args)) throw invalidArgType('args', 'an array of strings', args);
  args.forEach((a, i) => {
    if (typeof a !== 'string') throw invalidArgType(`args[${i}]`, 'of type string', a);
  });
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw invalidArgType('options', 'of type object', options);
  }
  // Own properties only, and no prototype: neither memseal nor spawn sees an inherited option.
  const { script, argv0, ...rest } = ownOptions(options ?? {}) as SpawnSealedOptions;
  const spawnOptions = Object.assign(Object.create(null) as SpawnOptions, rest);
  const shell = (spawnOptions as { shell?: unknown }).shell;
  if (shell !== undefined && shell !== false) {
    throw invalidArgValue('options.shell', 'is not supported: the program runs directly from its clone');
  }
  const scriptMode = script === undefined ? 'run' : validateOneOf(script, 'options.script', ['run', 'refuse'] as const);
  if (argv0 !== undefined) validateString(argv0, 'options.argv0');
  checkRunnable(exe);
  const fd = exe.fd;
  if (!isScript(fd)) {
    return spawn(`/proc/self/fd/${fd}`, args, { ...spawnOptions, argv0: argv0 ?? exe.name });
  }
  if (scriptMode === 'refuse') {
    throw new ExecError(
      'ERR_MEMSEAL_SCRIPT',
      `'${exe.name}' is a #! script: its interpreter would have to open it through a close-on-exec descriptor (ENOENT); pass { script: 'run' } to hand it the script as an extra read-only descriptor`,
    );
  }
  // The interpreter opens the script by the path the kernel passes it,
  // /proc/self/fd/N: give the child a read-only, inheritable copy at N.
  const stdio = stdioArray(spawnOptions.stdio);
  const readOnly = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY);
  try {
    return spawn(`/proc/self/fd/${stdio.length}`, args, { ...spawnOptions, stdio: [...stdio, readOnly] as StdioOptions });
  } finally {
    fs.closeSync(readOnly);
  }
}
