// What a kernel test lab waits for, side by side in one run:
//   1. `memseal conform --json` on this host (target under 5 s);
//   2. the kselftest collection (`memseal kselftest`) run on this host, as
//      the kernel's runner starts it (memseal/conform), against 1;
//   3. per Debian kernel (the newest 6.12 and 7.x, fetched as `memseal vm
//      --kernel debian:SERIES` does): the collection in a TCG guest of
//      busybox alone (`memseal vm --kselftest`, the run after boot) against
//      the normal `memseal vm` guest on the same kernel; target under 60 s.
//      One guest at a time, each with this machine's CPUs.
//   4. the collection's size (target under 60 MB).
// Times are medians of 3 runs on the host and single runs in the guests.
// Prints one JSON line (see bench/run.mjs). Needs `npm run build` first, and
// for 3 qemu, busybox and the kernel's runner (scripts/kernel-tools.mjs).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, root } from './lib.mjs';
import { kernelToolsDir } from '../scripts/kernel-tools.mjs';

const cli = join(root, 'dist', 'cli', 'main.js');
const log = (msg) => process.stderr.write(`  labs.bench: ${msg}\n`);
const work = mkdtempSync(join(tmpdir(), 'memseal-bench-labs-'));
const rows = [];

function timed(cmd, args, options = {}) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  return { seconds: (performance.now() - t0) / 1000, ...r };
}

function thrice(cmd, args, options) {
  const runs = [0, 1, 2].map(() => timed(cmd, args, options));
  const bad = runs.find((r) => r.status !== 0 && r.status !== 4);
  if (bad) throw new Error(`${args.join(' ')}: exit ${bad.status}: ${bad.stderr.slice(-300)}`);
  return median(runs.map((r) => r.seconds));
}

try {
  log('host: memseal conform --json, 3 runs');
  const host = thrice(process.execPath, [cli, 'conform', '--json']);
  rows.push({ name: 'host: memseal conform --json (s)', memseal: host, baseline: null, unit: 's', target: '< 5', ok: host < 5 });

  const tarball = join(work, 'memseal.tar.gz');
  const pack = timed(process.execPath, [cli, 'kselftest', '--quiet', '--output', tarball]);
  if (pack.status !== 0) throw new Error(`memseal kselftest: ${pack.stderr}`);
  const mb = statSync(tarball).size / 1e6;
  rows.push({ name: 'kselftest collection size (MB, gzip)', memseal: mb, baseline: null, unit: 'MB', target: '< 60', ok: mb < 60 });
  const unpacked = join(work, 'install');
  spawnSync('mkdir', ['-p', unpacked]);
  spawnSync('tar', ['-xzf', tarball, '-C', unpacked]);
  log('host: memseal/conform (the collection), 3 runs');
  const collection = thrice(join(unpacked, 'memseal', 'conform'), [], { cwd: '/' });
  rows.push({ name: 'host: kselftest collection memseal/conform (s)', memseal: collection, baseline: host, baselineName: 'memseal conform', unit: 's', target: '< 5', ok: collection < 5 });

  const tools = kernelToolsDir();
  for (const series of ['6.12', '7']) {
    const spec = `debian:${series}`;
    if (tools === undefined) {
      rows.push({ name: `TCG ${spec}: kselftest collection run (s)`, memseal: null, baseline: null, unit: 's', target: '< 60', ok: false, note: 'no kernel runner: node scripts/kernel-tools.mjs' });
      continue;
    }
    const vm = (extra) => {
      const r = timed(process.execPath, [cli, 'vm', '--kernel', spec, '--accel', 'tcg', '--append', 'hugepages=4', '--quiet', '--json', ...extra]);
      const j = JSON.parse(r.stdout || '{}');
      if (j.vm === undefined) throw new Error(`memseal vm ${spec} ${extra.join(' ')}: exit ${r.status}: ${r.stderr.slice(-500)}`);
      return j;
    };
    log(`${spec}: the normal guest`);
    const normal = vm([]);
    log(`${spec}: the busybox-only guest with the collection`);
    const ks = vm(['--kselftest', tarball, '--runner', join(tools, 'tools', 'testing', 'selftests')]);
    const release = normal.kernel?.release ?? spec;
    rows.push({
      name: `TCG ${release}: collection under run_kselftest.sh, run after boot (s)`,
      memseal: ks.vm.runSeconds,
      baseline: normal.vm.runSeconds,
      baselineName: 'memseal vm guest',
      unit: 's',
      target: '< 60',
      ok: ks.vm.runSeconds < 60 && ks.kselftest.passed === true,
    });
  }
} catch (err) {
  rows.push({ name: `error: ${err.message.split('\n')[0]}`, memseal: null, baseline: null, unit: '', ok: false });
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ suite: 'labs', rows })}\n`);
