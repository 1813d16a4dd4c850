/**
 * The context a case runs with: the raw binding, the constants, the
 * environment, and the resources to release when the case ends. Also the
 * parent side of "steps": helper processes a case starts, optionally as pid
 * 1 of a new pid namespace, and talks to over a line-based JSON channel.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { binding } from '../binding.js';
import { nodeCommand } from '../node-self.js';
import { findPackageRoot } from '../package-root.js';
import { PAGE_SIZE } from '../constants.js';
import type { CaseContext, ConformanceEnv, StepHandle, StepOptions } from './types.js';

/**
 * The compiled child entry. Children always run compiled JavaScript, also
 * when the catalog itself runs from TypeScript source (under vitest): the
 * build puts it in dist/ before the tests run.
 */
export function childScript(): string {
  const file = join(findPackageRoot(), 'dist', 'conformance', 'child.js');
  if (!existsSync(file)) throw new Error(`memseal: ${file} is missing; build the package first (npm run build)`);
  return file;
}

let pidnsUsed = false;

/** Starts `child.js step NAME ARGS` and returns its message channel. */
export async function startStep(name: string, args: unknown, options: StepOptions = {}): Promise<StepHandle> {
  const b = binding();
  if (options.newPidns === true) {
    // unshare(CLONE_NEWPID) works once per process: the next child is pid 1
    // of the new namespace, and once it exits no other child can enter it.
    if (pidnsUsed) throw new Error('only one new-pid-namespace step per process');
    b.unshare(b.procConstants.CLONE_NEWPID!);
    pidnsUsed = true;
  }
  const ids = options.uid === undefined ? {} : { uid: options.uid, gid: options.uid };
  const node = nodeCommand([childScript(), 'step', name, JSON.stringify(args)]);
  const child = spawn(node.file, node.args, { stdio: ['pipe', 'pipe', 'pipe'], ...ids });
  const queue: unknown[] = [];
  const waiters: ((m: unknown) => void)[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const w of waiters.splice(0)) w({ closed: true, code, signal });
      if (code === 0) resolve();
      else reject(new Error(`step ${name} ended with ${signal ?? `code ${code}`}: ${stderr.trim().slice(-500)}`));
    });
  });
  exited.catch(() => undefined); // observed through done()
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message: unknown = JSON.parse(line);
    const w = waiters.shift();
    if (w) w(message);
    else queue.push(message);
  });
  return {
    send: (message) => child.stdin.write(`${JSON.stringify(message)}\n`),
    receive: () => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiters.push(resolve))),
    done: () => {
      child.stdin.end();
      return exited;
    },
  };
}

/** The context of one case run; `release()` frees what the case left. */
export class Context implements CaseContext {
  readonly b = binding();
  readonly c = binding().constants;
  readonly pc = binding().procConstants;
  readonly page = PAGE_SIZE;
  readonly #fds = new Set<number>();
  readonly #deferred: (() => void)[] = [];

  constructor(readonly env: ConformanceEnv) {}

  fd(fd: number): number {
    this.#fds.add(fd);
    return fd;
  }

  close(fd: number): void {
    this.#fds.delete(fd);
    this.b.close(fd);
  }

  mapped(addr: bigint, length: number): bigint {
    this.defer(() => this.b.munmap(addr, length));
    return addr;
  }

  defer(fn: () => void): void {
    this.#deferred.push(fn);
  }

  step(name: string, args: unknown, options?: StepOptions): Promise<StepHandle> {
    return startStep(name, args, options);
  }

  /** Runs the deferred work (last first) and closes the remaining descriptors. */
  release(): void {
    for (const fn of this.#deferred.splice(0).reverse()) {
      try {
        fn();
      } catch {
        // A sealed mapping cannot be unmapped; it goes with the process.
      }
    }
    for (const fd of this.#fds) {
      try {
        this.b.close(fd);
      } catch {
        // Already gone.
      }
    }
    this.#fds.clear();
  }
}
