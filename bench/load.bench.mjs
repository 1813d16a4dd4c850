// What loading memseal costs, each in a fresh process (the addon is loaded
// once per process, at require):
//   1. require('memseal') (the JavaScript, the loader's platform check, the
//      dlopen of prebuilds/linux-<arch>/memseal.node), against process.dlopen
//      of the same addon alone: what memseal adds to loading its addon.
//   2. the loader's platform check alone: which C library this process runs
//      on, read from /proc/self/maps before any dlopen.
// Timed inside each child (hrtime around the call), so process start-up is
// out of both figures. Prints one JSON line (see bench/run.mjs), which
// reports nothing under emulation (arm64 under qemu): timings there mean
// nothing.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { median, paired, root } from './lib.mjs';

const RUNS = 21;
const addon = join(root, 'prebuilds', `linux-${process.arch}`, 'memseal.node');
const timed = (code) => `const t0 = process.hrtime.bigint(); ${code}; console.log(Number(process.hrtime.bigint() - t0) / 1e6);`;
const child = (code) => () => Number(execFileSync(process.execPath, ['-e', timed(code)], { encoding: 'utf8' }).trim());

const requireIt = child(`require(${JSON.stringify(join(root, 'dist', 'index.js'))})`);
const dlopen = child(`process.dlopen({ exports: {} }, ${JSON.stringify(addon)})`);
const check = child(`require(${JSON.stringify(join(root, 'dist', 'binding.js'))}).libcFromMaps(require('node:fs').readFileSync('/proc/self/maps', 'latin1'))`);

const load = paired(requireIt, dlopen, RUNS);
const checks = [];
for (let i = 0; i < RUNS; i++) checks.push(check());
// The check's child requires dist/binding.js as well: time that alone and take it off.
const bindingOnly = [];
const requireBinding = child(`require(${JSON.stringify(join(root, 'dist', 'binding.js'))})`);
for (let i = 0; i < RUNS; i++) bindingOnly.push(requireBinding());

process.stdout.write(
  `${JSON.stringify({
    suite: 'load',
    rows: [
      { name: "require('memseal'), the addon loaded", memseal: load.a, baseline: load.b, unit: 'ms', baselineName: 'process.dlopen of the addon alone' },
      { name: 'the platform check (C library from /proc/self/maps)', memseal: Math.max(0, median(checks) - median(bindingOnly)), baseline: null, unit: 'ms' },
    ],
  })}\n`,
);
