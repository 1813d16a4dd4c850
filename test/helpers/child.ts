/**
 * Runs a fixture script in a child Node process and reports how it ended.
 * Fixtures load the compiled package (dist/), which `npm test` builds before
 * vitest starts, so a crash in them can never take the test worker down.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runFixture(name: string, args: string[] = [], options: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv; timeout?: number } = {}): ChildResult {
  const r = spawnSync(process.execPath, [...(options.nodeArgs ?? []), join(root, 'test', 'fixtures', name), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    timeout: options.timeout ?? 60_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** The last line of stdout parsed as JSON. */
export function lastJson<T = unknown>(r: ChildResult): T {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`child printed no JSON (status ${r.status}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
}
