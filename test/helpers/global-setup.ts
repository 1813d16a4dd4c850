/**
 * One temporary folder per vitest run, set as TMPDIR for every test file and
 * the children they start, and removed when the run ends.
 *
 * vitest ends its forked workers with a signal, so a folder a test file (or
 * the memseal code it runs) removes from a process 'exit' handler would
 * otherwise stay in /tmp after every run: the compiled C helpers, V8 compile
 * caches, scratch folders of a test that failed half-way.
 *
 * The folder is 0755: the memlock tests run helpers from it as an
 * unprivileged user. It is left in place, and said so, if anything is still
 * mounted under it (a container test that died half-way): removing it then
 * would reach into the mount.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'memseal-run-'));
  chmodSync(dir, 0o755);
  process.env.TMPDIR = dir;
  return () => {
    const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      .filter((point) => point === dir || point.startsWith(`${dir}/`));
    if (mounted.length > 0) {
      console.warn(`memseal tests: left ${dir} in place, since ${mounted.join(', ')} is still mounted under it`);
      return;
    }
    rmSync(dir, { recursive: true, force: true });
  };
}
