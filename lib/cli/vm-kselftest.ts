/**
 * `memseal vm --kselftest FILE [--runner DIR]`: boots each kernel on a
 * busybox-only guest holding the collection (the kselftest guest of lib/vm)
 * and runs the kernel's run_kselftest.sh there (by default `-c memseal`).
 * This module turns what the runner printed into the command's answer: the
 * runner's output as it is, or with --json an object per kernel with the
 * runner's result line and each case's KTAP verdict.
 */
import { ktapVerdicts, type KtapVerdict } from '../vm/kselftest-guest.js';

/** What the runner's arguments are when none follow `--`. */
export const DEFAULT_RUNNER_ARGS: readonly string[] = ['-c', 'memseal'];

export interface KselftestAnswer {
  kselftest: {
    /** The runner's arguments. */
    args: string[];
    exitCode: number;
    /** The runner's own result lines for the tests it ran (`ok 1 selftests: memseal: conform`). */
    results: string[];
    /** True when every test the runner ran is `ok` (a SKIP included). */
    passed: boolean;
    output: string;
    stderr: string;
  };
  cases: KtapVerdict[];
  summary: Record<string, number> & { total: number };
  vm: Record<string, unknown>;
}

/** The answer for one kernel from the runner's output. */
export function kselftestAnswer(args: readonly string[], out: { exitCode: number; stdout: string; stderr: string }, vm: Record<string, unknown>): KselftestAnswer {
  const results = [...out.stdout.matchAll(/^(?:not )?ok \d+ selftests: .*$/gm)].map((m) => m[0]);
  const cases = ktapVerdicts(out.stdout);
  const summary: Record<string, number> & { total: number } = { total: cases.length };
  for (const c of cases) summary[c.verdict] = (summary[c.verdict] ?? 0) + 1;
  const passed = out.exitCode === 0 && results.length > 0 && results.every((r) => r.startsWith('ok '));
  return { kselftest: { args: [...args], exitCode: out.exitCode, results, passed, output: out.stdout, stderr: out.stderr }, cases, summary, vm };
}
