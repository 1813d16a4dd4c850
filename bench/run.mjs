#!/usr/bin/env node
// `npm run bench`: runs every bench/*.bench.mjs in turn, each in its own
// process, and prints one table of ratios against the baseline measured in
// the same run (these machines are noisy: only ratios are compared).
//
// Contract for a bench file: a standalone script that prints, as its last
// line of stdout, one JSON object:
//   { "suite": "core", "rows": [ { "name": "memfd_create+close",
//       "memseal": 1.52, "baseline": 1.41, "unit": "us/op",
//       "baselineName": "C loop", "target": "<= 1.15", "ok": true } ] }
// where ratio = memseal / baseline (lower is better) unless the row sets
// "higherIsBetter": true (then ratio = memseal / baseline and the target is a
// floor). Rows without a baseline (counts) may leave it null.
//
//   node bench/run.mjs [--filter SUBSTRING] [--json FILE]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const filter = args.includes('--filter') ? args[args.indexOf('--filter') + 1] : '';
const jsonOut = args.includes('--json') ? resolve(args[args.indexOf('--json') + 1]) : join(here, 'results', 'latest.json');

// Under qemu's user-mode emulation (npm test's arm64 passes set MEMSEAL_EMULATOR) a timing measures the emulator.
if (process.env.MEMSEAL_EMULATOR) {
  console.log(`bench: nothing to report under ${process.env.MEMSEAL_EMULATOR}: emulated timings mean nothing`);
  process.exit(0);
}

const files = readdirSync(here).filter((f) => f.endsWith('.bench.mjs') && f.includes(filter)).sort();
const suites = [];
for (const file of files) {
  process.stderr.write(`bench: ${file} ...\n`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    suites.push({ file, ...JSON.parse(last) });
  } catch {
    suites.push({ file, suite: file, error: `exit ${r.status}; no JSON result`, rows: [] });
  }
}

const fmt = (n) => (n === null || n === undefined ? '-' : typeof n === 'number' ? (Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(3)) : String(n));
const lines = [['suite', 'case', 'memseal', 'baseline', 'unit', 'ratio', 'target', 'ok']];
for (const s of suites) {
  if (s.error) lines.push([s.suite, s.error, '', '', '', '', '', 'ERROR']);
  for (const row of s.rows) {
    const ratio = row.baseline ? row.memseal / row.baseline : null;
    row.ratio = ratio;
    lines.push([s.suite, row.name, fmt(row.memseal), row.baseline === null || row.baseline === undefined ? '-' : `${fmt(row.baseline)} (${row.baselineName ?? 'baseline'})`, row.unit ?? '', ratio === null ? '-' : `${ratio.toFixed(2)}x`, row.target ?? '', row.ok === undefined ? '' : row.ok ? 'yes' : 'NO']);
  }
}
const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => String(l[i]).length)));
for (const l of lines) console.log(l.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd());
mkdirSync(dirname(jsonOut), { recursive: true });
writeFileSync(jsonOut, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, suites }, null, 2)}\n`);
console.log(`\nresults: ${jsonOut}`);
