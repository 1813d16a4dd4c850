/**
 * The kernel's own test tools (scripts/kernel-tools.mjs extracts them from
 * Debian's linux-source-6.12 during the test setup): kunit.py parse, and
 * run_kselftest.sh with its kselftest/ helpers.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: a plain .mjs script, without types
import { kernelToolsDir } from '../../scripts/kernel-tools.mjs';

export const kernelTools = (kernelToolsDir as () => string | undefined)();

/** Why the kernel's tools cannot be used here, or ''. */
export function kernelToolsMissing(): string {
  if (kernelTools === undefined) return "the kernel's kselftest runner and kunit.py are not extracted (node scripts/kernel-tools.mjs, which npm test's setup runs)";
  if (spawnSync('python3', ['--version']).status !== 0) return 'python3 is missing (kunit.py needs it)';
  return '';
}

/** What the kernel's KTAP parser made of a document: its closing line, and each leaf test's status by name. */
export interface KunitParse {
  status: number | null;
  summary: string;
  cases: Map<string, string>;
  output: string;
}

interface KunitGroup {
  name: string;
  sub_groups: KunitGroup[];
  test_cases: { name: string; status: string }[];
}

/** Runs `kunit.py parse --json` over `text`. */
export function kunitParse(text: string): KunitParse {
  const dir = mkdtempSync(join(tmpdir(), 'memseal-kunit-'));
  try {
    const input = join(dir, 'ktap.txt');
    const json = join(dir, 'out.json');
    writeFileSync(input, text);
    const r = spawnSync('python3', [join(kernelTools!, 'tools', 'testing', 'kunit', 'kunit.py'), 'parse', `--json=${json}`, input], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const output = `${r.stdout}${r.stderr}`;
    const summary = /Testing complete\.[^\n]*/.exec(output)?.[0] ?? '';
    const cases = new Map<string, string>();
    const walk = (g: KunitGroup): void => {
      for (const t of g.test_cases) cases.set(t.name, t.status);
      for (const s of g.sub_groups) walk(s);
    };
    try {
      walk(JSON.parse(readFileSync(json, 'utf8')) as KunitGroup);
    } catch {
      // no JSON: the summary and output say why
    }
    return { status: r.status, summary, cases, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** kunit's counts from its closing line ("Ran N tests: passed: X, failed: Y, skipped: Z"; zero counts left out). */
export function kunitCounts(summary: string): { ran: number; passed: number; failed: number; skipped: number } {
  const n = (word: string): number => Number(new RegExp(`${word}: (\\d+)`).exec(summary)?.[1] ?? 0);
  return { ran: Number(/Ran (\d+) tests/.exec(summary)?.[1] ?? -1), passed: n('passed'), failed: n('failed'), skipped: n('skipped') };
}

/** The kunit status a memseal status must become. */
export function kunitStatusOf(status: string, strict = false): string {
  if (status === 'pass') return 'PASS';
  if (status === 'deviation') return strict ? 'FAIL' : 'PASS';
  if (status === 'skip' || status === 'blocked') return 'SKIP';
  return 'FAIL';
}

/** A kselftest install in a fresh folder: the kernel's run_kselftest.sh and kselftest/ helpers. Returns it and a cleanup. */
export function kselftestInstall(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'memseal-kselftest-install-'));
  const selftests = join(kernelTools!, 'tools', 'testing', 'selftests');
  cpSync(join(selftests, 'run_kselftest.sh'), join(dir, 'run_kselftest.sh'));
  cpSync(join(selftests, 'kselftest'), join(dir, 'kselftest'), { recursive: true });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
