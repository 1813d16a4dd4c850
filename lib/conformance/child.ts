/**
 * Entry of the conformance suite's child processes (always run compiled,
 * from dist/conformance/child.js):
 *
 *   child.js run JOB          runs the cases named in JOB, reporting on fd 3
 *   child.js pidns JOB        unshare(CLONE_NEWPID), then `run JOB` as pid 1
 *                             of the new pid namespace
 *   child.js step NAME ARGS   runs a registered step; JSON lines on stdin/stdout
 *
 * JOB is JSON: { ids, env, modules }. Each case yields a "start" line and then
 * a "result" or "error" line, so the runner knows which case was running if
 * the process dies.
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { binding } from '../binding.js';
import { SyscallError } from '../errors.js';
import { nodeCommand } from '../node-self.js';
import { casesFor } from './catalog-modules.js';
import { Context, childScript } from './context.js';
import type { Case, ConformanceEnv } from './types.js';

/** What the runner sends a child. */
export interface ChildJob {
  ids: string[];
  env: ConformanceEnv;
  /** Extra modules (absolute paths) whose `cases` export adds to the catalog. */
  modules: string[];
}

/** A line on fd 3. */
export type ChildMessage =
  | { t: 'start'; id: string }
  | { t: 'result'; id: string; observed: string; ms: number }
  | { t: 'error'; id: string; message: string; failedSyscall?: { syscall: string; code: string }; ms: number };

const REPORT_FD = 3;

function report(message: ChildMessage): void {
  writeSync(REPORT_FD, `${JSON.stringify(message)}\n`);
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}${err.stack ? `\n${err.stack.split('\n').slice(1, 4).join('\n')}` : ''}`;
  return String(err);
}

/** The syscall and errno name of a SyscallError, for the runner to tell a filter's denial from a broken case. */
export function failedSyscall(err: unknown): { syscall: string; code: string } | undefined {
  return err instanceof SyscallError ? { syscall: err.syscall, code: err.code } : undefined;
}

/**
 * The cases a job names: from the catalog modules of their families only
 * (lib/conformance/catalog-modules.ts), plus the cases of extra modules
 * (CommonJS or ES modules exporting `cases`).
 */
export async function loadCases(modules: readonly string[], ids: readonly string[]): Promise<Map<string, Case>> {
  const all = casesFor(ids);
  for (const m of modules) all.push(...((await import(pathToFileURL(m).href)) as { cases: readonly Case[] }).cases);
  return new Map(all.map((c) => [c.id, c]));
}

function noCoreFiles(): void {
  const b = binding();
  const core = b.procConstants.RLIMIT_CORE!;
  try {
    b.setrlimit(core, 0, b.getrlimit(core)[1]);
  } catch {
    // Core files only cost disk space.
  }
}

async function runJob(job: ChildJob): Promise<void> {
  noCoreFiles();
  const cases = await loadCases(job.modules, job.ids);
  for (const id of job.ids) {
    report({ t: 'start', id });
    const started = performance.now();
    const ctx = new Context(job.env);
    try {
      const c = cases.get(id);
      if (c === undefined) throw new Error(`no case ${id} in this build`);
      const observed = await c.run(ctx);
      report({ t: 'result', id, observed: String(observed), ms: performance.now() - started });
    } catch (err) {
      report({ t: 'error', id, message: describe(err), failedSyscall: failedSyscall(err), ms: performance.now() - started });
    } finally {
      ctx.release();
    }
  }
}

async function runInNewPidns(raw: string): Promise<number> {
  const job = JSON.parse(raw) as ChildJob;
  const b = binding();
  try {
    b.unshare(b.procConstants.CLONE_NEWPID!);
  } catch (err) {
    for (const id of job.ids) report({ t: 'error', id, message: `unshare(CLONE_NEWPID): ${describe(err)}`, failedSyscall: failedSyscall(err), ms: 0 });
    return 0;
  }
  const node = nodeCommand([childScript(), 'run', raw]);
  const child = spawn(node.file, node.args, { stdio: ['ignore', 'inherit', 'inherit', REPORT_FD] });
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`memseal conform: cannot start the pid-namespace child: ${err.message}\n`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      if (signal !== null) process.stderr.write(`memseal conform: the pid-namespace child died of ${signal}\n`);
      resolve(code ?? 1);
    });
  });
}

async function runStep(name: string, raw: string): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { STEPS } = require('./steps.js') as typeof import('./steps.js');
  const step = STEPS[name];
  if (step === undefined) throw new Error(`no step ${name}`);
  const queue: unknown[] = [];
  const waiters: ((m: unknown) => void)[] = [];
  let closed = false;
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const message: unknown = JSON.parse(line);
    const w = waiters.shift();
    if (w) w(message);
    else queue.push(message);
  });
  rl.on('close', () => {
    closed = true;
    for (const w of waiters.splice(0)) w({ closed: true });
  });
  await step(JSON.parse(raw), {
    send: (message) => void writeSync(1, `${JSON.stringify(message)}\n`),
    receive: () => {
      if (queue.length > 0) return Promise.resolve(queue.shift());
      if (closed) return Promise.resolve({ closed: true });
      return new Promise((resolve) => waiters.push(resolve));
    },
  });
}

async function main(argv: string[]): Promise<number> {
  const [mode, a, b] = argv;
  if (mode === 'run' && a !== undefined) {
    await runJob(JSON.parse(a) as ChildJob);
    return 0;
  }
  if (mode === 'pidns' && a !== undefined) return runInNewPidns(a);
  if (mode === 'step' && a !== undefined && b !== undefined) {
    await runStep(a, b);
    return 0;
  }
  process.stderr.write('usage: child.js run JOB | pidns JOB | step NAME ARGS\n');
  return 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`memseal conform child: ${describe(err)}\n`);
      process.exit(1);
    },
  );
}
