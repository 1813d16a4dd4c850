/**
 * scripts/setup-test-env.mjs waits for the dpkg lock instead of failing:
 * another process holds a lock on a stand-in lock file for a moment, and
 * the wait ends only when it lets go, with a message meanwhile.
 */
import { spawn, spawnSync } from 'node:child_process';
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

/** Holds `file` locked for `seconds` in a child; resolves once the lock is in place. */
async function holdLock(argv: string[], file: string): Promise<void> {
  spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' }).unref();
  for (let i = 0; i < 100 && (lockHolders as (f: string) => number[])(file).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect((lockHolders as (f: string) => number[])(file).length).toBeGreaterThan(0);
}

describe('waiting for the dpkg lock', () => {
  it('returns at once when nothing holds it (or it does not exist)', () => {
    const free = join(dir, 'free');
    writeFileSync(free, '');
    expect((waitForDpkgLock as Wait)({ lockFile: free, pollMs: 50 })).toBeLessThan(1000);
    expect((waitForDpkgLock as Wait)({ lockFile: join(dir, 'absent'), pollMs: 50 })).toBeLessThan(1000);
  });

  itIf(has('flock'), 'flock(1) from util-linux')('waits, saying so, while flock(1) holds it', async () => {
    const file = join(dir, 'flocked');
    writeFileSync(file, '');
    await holdLock(['flock', file, 'sleep', '2'], file);
    const said: string[] = [];
    const waited = (waitForDpkgLock as Wait)({ lockFile: file, pollMs: 100, log: (m) => said.push(m) });
    expect(waited).toBeGreaterThan(1000);
    expect(said[0]).toMatch(/waiting for the dpkg lock .*held by .*\(pid \d+\)/);
    expect((lockHolders as (f: string) => number[])(file)).toEqual([]);
  });

  itIf(has('python3'), 'python3, to take a POSIX lock as apt does')('waits while a POSIX (fcntl) lock, as apt and dpkg take, holds it; and gives up after the timeout', async () => {
    const file = join(dir, 'posix');
    writeFileSync(file, '');
    const py = `import fcntl, time\nf = open(${JSON.stringify(file)}, 'w')\nfcntl.lockf(f, fcntl.LOCK_EX)\ntime.sleep(2)\n`;
    await holdLock(['python3', '-c', py], file);
    expect(() => (waitForDpkgLock as Wait)({ lockFile: file, pollMs: 100, timeoutMs: 300, log: () => undefined })).toThrow(/still locked/);
    const waited = (waitForDpkgLock as Wait)({ lockFile: file, pollMs: 100, log: () => undefined });
    expect(waited).toBeGreaterThan(500);
  });
});
