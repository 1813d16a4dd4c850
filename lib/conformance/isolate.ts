/**
 * Runs cases in child processes: batches in throwaway children, pid
 * namespace cases alone as pid 1 of a fresh namespace. A child that crashes
 * or runs past a case's time limit costs that one case (an `error`); the
 * cases it had not started run again in a new child. The runner itself
 * never seals memory, crashes or waits forever.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { childNodeEnv, nodeCommand } from '../node-self.js';
import { childScript } from './context.js';
import type { ChildJob, ChildMessage } from './child.js';
import type { Case, ConformanceEnv } from './types.js';

/** What a child reported for one case. */
export interface IsolatedOutcome {
  observed?: string;
  error?: string;
  /** When the case broke on a failed syscall: its name and errno name (a filter may explain it). */
  failedSyscall?: { syscall: string; code: string };
  durationMs: number;
}

export const DEFAULT_TIMEOUT_SECONDS = 10;
/** Time a child gets to start (load node, the addon and the catalog) on top of the first case's limit. */
const STARTUP_SECONDS = 20;

/**
 * How much slower than a normal machine this one runs: every time limit is
 * multiplied by it. $MEMSEAL_CONFORM_TIME_SCALE (a number from 1 to 100;
 * `memseal vm` sets it in a guest under TCG, where starting a process can
 * take seconds). A limit is a limit, not a measure: no case's outcome
 * depends on it.
 */
export function timeScale(): number {
  const n = Number(process.env.MEMSEAL_CONFORM_TIME_SCALE);
  return Number.isFinite(n) && n >= 1 && n <= 100 ? n : 1;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL'); // the child leads its own group (detached)
  } catch {
    child.kill('SIGKILL');
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) killGroup(child);
  });
}

interface Attempt {
  outcomes: Map<string, IsolatedOutcome>;
  /** The case that was running when the child ended, if any. */
  running: string | null;
  exit: string;
  stderr: string;
  timedOut: boolean;
}

function tail(text: string): string {
  const t = text.trim();
  return t.length > 1500 ? `...${t.slice(-1500)}` : t;
}

/** One child process over `cases`, until it ends. */
function attempt(cases: readonly Case[], mode: 'run' | 'pidns', env: ConformanceEnv, modules: readonly string[]): Promise<Attempt> {
  const job: ChildJob = { ids: cases.map((c) => c.id), env, modules: [...modules] };
  const scale = timeScale();
  const timeouts = new Map(cases.map((c) => [c.id, (c.timeout ?? DEFAULT_TIMEOUT_SECONDS) * 1000 * scale]));
  installExitHook();
  const node = nodeCommand([childScript(), mode, JSON.stringify(job)]);
  const child = spawn(node.file, node.args, {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    detached: true,
    // Cases aim raw calls at holes and system mappings: throwaway processes only.
    env: { ...process.env, ...childNodeEnv(), MEMSEAL_UNSAFE_RAW: '1' },
  });
  live.add(child);
  const result: Attempt = { outcomes: new Map(), running: null, exit: '', stderr: '', timedOut: false };
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      result.timedOut = true;
      killGroup(child);
    }, ms);
  };
  arm(STARTUP_SECONDS * 1000 * scale + (timeouts.get(cases[0]!.id) ?? 0));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (result.stderr += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (result.stderr += d));
  createInterface({ input: child.stdio[3] as Readable }).on('line', (line) => {
    let m: ChildMessage;
    try {
      m = JSON.parse(line) as ChildMessage;
    } catch {
      return;
    }
    if (m.t === 'start') {
      result.running = m.id;
      arm(timeouts.get(m.id) ?? DEFAULT_TIMEOUT_SECONDS * 1000 * scale);
      return;
    }
    result.outcomes.set(
      m.id,
      m.t === 'result' ? { observed: m.observed, durationMs: m.ms } : { error: m.message, failedSyscall: m.failedSyscall, durationMs: m.ms },
    );
    if (result.running === m.id) result.running = null;
  });
  return new Promise((resolve) => {
    child.on('error', (err) => {
      result.exit = `could not start: ${err.message}`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      if (result.exit === '') result.exit = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
      resolve(result);
    });
  });
}

/**
 * Runs `cases` in children (`run`: as few as possible; `pidns`: the caller
 * passes one case) and returns an outcome for every case.
 */
export async function runIsolated(
  cases: readonly Case[],
  mode: 'run' | 'pidns',
  env: ConformanceEnv,
  modules: readonly string[] = [],
): Promise<Map<string, IsolatedOutcome>> {
  const outcomes = new Map<string, IsolatedOutcome>();
  let remaining = [...cases];
  while (remaining.length > 0) {
    const started = performance.now();
    const a = await attempt(remaining, mode, env, modules);
    for (const [id, o] of a.outcomes) outcomes.set(id, o);
    const culprit = a.running ?? (a.outcomes.size === 0 ? remaining[0]!.id : null);
    if (culprit !== null && !outcomes.has(culprit)) {
      const limit = (remaining.find((c) => c.id === culprit)?.timeout ?? DEFAULT_TIMEOUT_SECONDS) * timeScale();
      const why = a.timedOut
        ? `timed out after ${limit} s (the child process was killed)`
        : `the child process died during this case (${a.exit})`;
      outcomes.set(culprit, { error: `${why}${a.stderr.trim() ? `; its output: ${tail(a.stderr)}` : ''}`, durationMs: performance.now() - started });
    }
    remaining = remaining.filter((c) => !outcomes.has(c.id));
  }
  return outcomes;
}

/** Runs tasks with at most `limit` in flight. */
export async function pool<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
