/**
 * scripts/setup-test-env.mjs waits for the dpkg lock instead of failing:
 * another process holds a lock on a stand-in lock file until the wait says
 * it is waiting, and the wait ends only when it lets go.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { itIf } from './helpers/caps.js';
// @ts-expect-error: a plain .mjs script, without types
import { lockHolders, waitForDpkgLock } from '../scripts/setup-test-env.mjs';

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'memseal-dpkg-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Wait = (o: { lockFile: string; timeoutMs?: number; pollMs?: number; log?: (m: string) => void }) => number;

const holders = (file: string): number[] => (lockHolders as (f: string) => number[])(file);
const holding: ChildProcess[] = [];
afterAll(() => {
  for (const h of holding) release(h);
});

/**
 * Starts `argv` (which takes a lock on `file` and keeps it until killed) in
 * its own process group; resolves once the lock is in place.
 */
async function holdLock(argv: string[], file: string): Promise<ChildProcess> {
  const holder = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', detached: true });
  holding.push(holder);
  for (let i = 0; i < 200 && holders(file).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(holders(file).length).toBeGreaterThan(0);
  return holder;
}

/** Kills the holder's whole process group: the lock goes with it. */
function release(holder: ChildProcess): void {
  try {
    process.kill(-holder.pid!, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

describe('waiting for the dpkg lock', () => {
  it('returns at once when nothing holds it (or it does not exist)', () => {
    const free = join(dir, 'free');
    writeFileSync(free, '');
    // One poll would sleep a minute: returning sooner means it never polled.
    const said: string[] = [];
    expect((waitForDpkgLock as Wait)({ lockFile: free, pollMs: 60_000, log: (m) => said.push(m) })).toBeLessThan(60_000);
    expect((waitForDpkgLock as Wait)({ lockFile: join(dir, 'absent'), pollMs: 60_000, log: (m) => said.push(m) })).toBeLessThan(60_000);
    expect(said).toEqual([]);
  });

  itIf(has('flock'), 'flock(1) from util-linux')('waits, saying so, while flock(1) holds it', async () => {
    const file = join(dir, 'flocked');
    writeFileSync(file, '');
    // -o: flock itself holds the lock, not the command it runs.
    const holder = await holdLock(['flock', '-o', file, 'sleep', '600'], file);
    const said: string[] = [];
    // The holder lets go only once the wait has said it is waiting.
    (waitForDpkgLock as Wait)({ lockFile: file, pollMs: 100, log: (m) => (said.push(m), release(holder)) });
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/waiting for the dpkg lock .*held by .*\(pid \d+\)/);
    expect(holders(file)).toEqual([]);
  });

  itIf(has('python3'), 'python3, to take a POSIX lock as apt does')('waits while a POSIX (fcntl) lock, as apt and dpkg take, holds it; and gives up after the timeout', async () => {
    const file = join(dir, 'posix');
    writeFileSync(file, '');
    const py = `import fcntl, time\nf = open(${JSON.stringify(file)}, 'w')\nfcntl.lockf(f, fcntl.LOCK_EX)\ntime.sleep(600)\n`;
    const holder = await holdLock(['python3', '-c', py], file);
    expect(() => (waitForDpkgLock as Wait)({ lockFile: file, pollMs: 100, timeoutMs: 300, log: () => undefined })).toThrow(/still locked/);
    expect(holders(file)).toEqual([holder.pid]);
    const said: string[] = [];
    (waitForDpkgLock as Wait)({ lockFile: file, pollMs: 100, log: (m) => (said.push(m), release(holder)) });
    expect(said[0]).toMatch(/held by python3 \(pid \d+\)/);
    expect(holders(file)).toEqual([]);
  });
});
