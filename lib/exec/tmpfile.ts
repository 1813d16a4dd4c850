/** The unsealed O_TMPFILE clone made by `fallback: 'tmpfile'`. */
import { binding } from '../binding.js';
import { MemsealError } from '../errors.js';
import type { Memfd } from '../memfd.js';
import type { ExecRefusedError } from './errors.js';

const TOKEN = Symbol('TmpfileExecutable');

const tmpfileFinalizer = new FinalizationRegistry<number>((fd) => {
  process.emitWarning(`Closing tmpfile executable descriptor ${fd} on garbage collection; call close() or use \`using\``, 'MemsealWarning');
  try {
    binding().close(fd);
  } catch {
    // Nothing to report to: the object is gone.
  }
});

const NOT_CLONEABLE_TMPFILE = Symbol('memseal: a TmpfileExecutable cannot be cloned or sent to another thread');

let make: (fd: number, name: string, dir: string, refusal: ExecRefusedError) => TmpfileExecutable;

/** Wraps the read-only descriptor of a finished tmpfile clone. */
export function makeTmpfile(fd: number, name: string, dir: string, refusal: ExecRefusedError): TmpfileExecutable {
  return make(fd, name, dir, refusal);
}

/**
 * A clone made by `fallback: 'tmpfile'`: an unnamed file (O_TMPFILE with
 * O_EXCL, so it can never be linked into a directory) held through a
 * read-only descriptor; no writable descriptor to it remains. Weaker than a
 * sealed memfd: files on disk take no seals, so a process able to open
 * /proc/PID/fd of this process for writing (root, or the same user with
 * ptrace access) could still change it while no child runs it.
 */
export class TmpfileExecutable {
  #fd: number;
  readonly #name: string;
  readonly #dir: string;
  readonly #refusal: ExecRefusedError;

  /** Makes structuredClone() and postMessage() throw DataCloneError instead of sending an empty object. */
  readonly notCloneable: symbol = NOT_CLONEABLE_TMPFILE;

  static {
    make = (fd, name, dir, refusal) => new TmpfileExecutable(TOKEN, fd, name, dir, refusal);
  }

  /** Made by cloneExecutable({ fallback: 'tmpfile' }). */
  private constructor(token: symbol, fd: number, name: string, dir: string, refusal: ExecRefusedError) {
    if (token !== TOKEN) throw new TypeError("Illegal constructor: use cloneExecutable(source, { fallback: 'tmpfile' })");
    this.#fd = fd;
    this.#name = name;
    this.#dir = dir;
    this.#refusal = refusal;
    binding().ownFd(fd); // closed with this thread, if not before
    tmpfileFinalizer.register(this, fd, this);
  }

  #checkClosed(): number {
    if (this.#fd < 0) throw new MemsealError('ERR_MEMSEAL_CLOSED', `The executable '${this.#name}' is closed`);
    return this.#fd;
  }

  /** The read-only file descriptor. Throws ERR_MEMSEAL_CLOSED after close(). */
  get fd(): number {
    return this.#checkClosed();
  }

  /** The name given to the clone (the default argv[0]). */
  get name(): string {
    return this.#name;
  }

  /** The directory the unnamed file was created in. */
  get dir(): string {
    return this.#dir;
  }

  /** Why no executable memfd could be made. */
  get refusal(): ExecRefusedError {
    return this.#refusal;
  }

  /** True after close(). */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Size in bytes (fstat). */
  get size(): number {
    return binding().fstat(this.#checkClosed()).size;
  }

  /** Permission bits (fstat). */
  get mode(): number {
    return binding().fstat(this.#checkClosed()).mode & 0o7777;
  }

  /** Closes the descriptor; the file is freed once no child runs it. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    tmpfileFinalizer.unregister(this);
    binding().close(fd);
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    if (this.#fd < 0) return `TmpfileExecutable <closed ${JSON.stringify(this.#name)}>`;
    return `TmpfileExecutable { fd: ${this.#fd}, name: ${JSON.stringify(this.#name)}, dir: ${JSON.stringify(this.#dir)}, reason: '${this.#refusal.reason}' }`;
  }
}

/** Anything cloneExecutable returns and spawnSealed runs. */
export type Executable = Memfd | TmpfileExecutable;
