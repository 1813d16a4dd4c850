/** Child-process helpers for the exec tests. */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';

/** Resolves when the child has exited and its stdio closed. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

/** Everything the child writes to stdout, once it has exited. */
export async function output(child: ChildProcess): Promise<{ stdout: string; stderr: string; code: number | null; signal: NodeJS.Signals | null }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const { code, signal } = await exited(child);
  return { stdout, stderr, code, signal };
}

/** Resolves once `text` has appeared on the child's stdout. */
export function waitFor(child: ChildProcess, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer): void => {
      seen += d.toString('utf8');
      if (seen.includes(text)) {
        child.stdout!.off('data', onData);
        resolve(seen);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before printing ${JSON.stringify(text)}; saw ${JSON.stringify(seen)}`)));
  });
}

/** The open descriptors of a process as "N -> target", sorted (entries that vanish while listed are left out). */
export function openFds(pid: number | 'self' = 'self'): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(`${fd} -> ${readlinkSync(`/proc/${pid}/fd/${fd}`)}`);
    } catch {
      // The directory's own descriptor, closed by the time it is read.
    }
  }
  return out.sort();
}
