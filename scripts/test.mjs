#!/usr/bin/env node
// `npm test`: everything CI runs, in order, and a closing line
// "N passed, N failed, N skipped".
//
//   1. system packages the tests need (scripts/setup-test-env.mjs)
//   2. lint: eslint, tsc --noEmit, clang-format
//   3. build: the addon with warnings as errors, and the TypeScript; then the
//      addon again without external buffers (build-no-external-buffers/,
//      as in Electron's V8 sandbox), which test/secret.test.ts loads
//   4. the shipped .node needs no glibc newer than Debian 12's (2.36)
//   5. vitest, every file under test/
//   6. vitest again on the addon built with -fsanitize=address,undefined
//      (its runtimes preloaded, every report fatal), leaving out the files
//      that never load the addon in this process (VM, container, packaging)
//   7. vitest again with a hostile value on Object.prototype for every
//      option name memseal reads (MEMSEAL_POLLUTE_PROTOTYPE=1, see
//      test/helpers/pollute.ts), on the same files less the CLI fuzz run:
//      an option read through the prototype chain shows up as a failure
//
// Arguments after `--` go to vitest (e.g. `npm test -- test/memfd.test.ts`),
// and then steps 1, 2 and 4 are skipped.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const vitestArgs = process.argv.slice(2);
const focused = vitestArgs.length > 0;
const GLIBC_FLOOR = [2, 36];

function step(title, cmd, args, options = {}) {
  console.log(`\n== ${title}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function must(title, cmd, args) {
  const status = step(title, cmd, args);
  if (status !== 0) {
    console.log(`\n0 passed, 1 failed\n(step failed: ${title})`);
    process.exit(1);
  }
}

function checkGlibc() {
  console.log('\n== glibc floor');
  const r = spawnSync('objdump', ['-T', join(root, 'build/Release/memseal.node')], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`objdump failed: ${r.stderr}`);
    return false;
  }
  const versions = [...r.stdout.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  const newest = versions.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a), [0, 0]);
  const ok = newest[0] < GLIBC_FLOOR[0] || (newest[0] === GLIBC_FLOOR[0] && newest[1] <= GLIBC_FLOOR[1]);
  console.log(`newest glibc symbol version: ${newest.join('.')} (floor ${GLIBC_FLOOR.join('.')}): ${ok ? 'ok' : 'too new'}`);
  return ok;
}

if (!focused) must('system packages', process.execPath, ['scripts/setup-test-env.mjs']);
if (!focused) must('lint', process.execPath, ['scripts/lint.mjs']);
must('build (warnings are errors)', process.execPath, ['scripts/build.mjs', '--werror']);
const noExternal = join(root, 'build-no-external-buffers/build/Release/memseal.node');
if (!focused || !existsSync(noExternal)) {
  must('build without external buffers', process.execPath, ['scripts/build.mjs', '--native', '--werror', '--variant=no-external-buffers']);
}
const glibcOk = focused ? true : checkGlibc();

function vitestRun(title, extraArgs, env) {
  const out = mkdtempSync(join(tmpdir(), 'memseal-vitest-'));
  const json = join(out, 'results.json');
  const vitest = join(root, 'node_modules/vitest/vitest.mjs');
  const status = step(title, process.execPath, [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${json}`, ...extraArgs], { env: { ...process.env, ...env } });
  const counts = { passed: 0, failed: 0, skipped: 0 };
  try {
    const results = JSON.parse(readFileSync(json, 'utf8'));
    counts.passed = results.numPassedTests;
    counts.failed = results.numFailedTests;
    counts.skipped = results.numPendingTests + results.numTodoTests;
    // A file that failed to load has no tests but still failed.
    counts.failed += results.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
  } catch {
    counts.failed += 1;
  }
  rmSync(out, { recursive: true, force: true });
  if (status !== 0 && counts.failed === 0) counts.failed = 1;
  return counts;
}

function sanitizerEnv() {
  const lib = (name) => spawnSync('gcc', [`-print-file-name=${name}`], { encoding: 'utf8' }).stdout.trim();
  return {
    LD_PRELOAD: [lib('libasan.so'), lib('libubsan.so')].join(':'),
    // V8 and Node keep memory until exit by design: leak checking would only report them.
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:halt_on_error=1',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
    MEMSEAL_ADDON_PATH: join(root, 'build-sanitize', 'build', 'Release', 'memseal.node'),
    MEMSEAL_SANITIZER: '1',
  };
}

const totals = vitestRun('vitest', vitestArgs, {});
if (!focused) {
  must('build with sanitizers', process.execPath, ['scripts/build.mjs', '--native', '--variant=sanitize']);
  const s = vitestRun('vitest under AddressSanitizer and UndefinedBehaviorSanitizer', ['--exclude', 'test/vm*.test.ts', '--exclude', 'test/container*.test.ts', '--exclude', 'test/package.test.ts'], sanitizerEnv());
  console.log(`sanitizer run: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
  totals.passed += s.passed;
  totals.failed += s.failed;
  totals.skipped += s.skipped;
  const p = vitestRun(
    'vitest with a polluted Object.prototype',
    ['--exclude', 'test/vm*.test.ts', '--exclude', 'test/container*.test.ts', '--exclude', 'test/package.test.ts', '--exclude', 'test/cli-fuzz.test.ts'],
    { MEMSEAL_POLLUTE_PROTOTYPE: '1' },
  );
  console.log(`polluted-prototype run: ${p.passed} passed, ${p.failed} failed, ${p.skipped} skipped`);
  totals.passed += p.passed;
  totals.failed += p.failed;
  totals.skipped += p.skipped;
}
if (!glibcOk) totals.failed += 1;
console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed === 0 ? 0 : 1);
