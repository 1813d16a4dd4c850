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

const out = mkdtempSync(join(tmpdir(), 'memseal-vitest-'));
const json = join(out, 'results.json');
const vitest = join(root, 'node_modules/vitest/vitest.mjs');
const status = step('vitest', process.execPath, [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${json}`, ...vitestArgs]);

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const results = JSON.parse(readFileSync(json, 'utf8'));
  passed = results.numPassedTests;
  failed = results.numFailedTests;
  skipped = results.numPendingTests + results.numTodoTests;
  // A file that failed to load has no tests but still failed.
  failed += results.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
} catch {
  failed += 1;
}
rmSync(out, { recursive: true, force: true });
if (!glibcOk) failed += 1;
if (status !== 0 && failed === 0) failed = 1;
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 && status === 0 ? 0 : 1);
