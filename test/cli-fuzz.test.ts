/**
 * Random command lines for every subcommand (seeded: MEMSEAL_CLI_FUZZ_SEED,
 * MEMSEAL_CLI_FUZZ_RUNS), each run in a child process: none may print a
 * stack trace, die by a signal, or exit with a status the help does not
 * document. The vocabulary never names a bootable kernel or the whole
 * catalog, so every run is short. Runs dist/cli/main.js (npm run build first).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { root } from './helpers/child.js';

const cli = join(root, 'dist', 'cli', 'main.js');
const SEED = Number(process.env.MEMSEAL_CLI_FUZZ_SEED ?? 0x5eed11);
const RUNS = Number(process.env.MEMSEAL_CLI_FUZZ_RUNS ?? 150);
const STACK = /^\s+at .+(:\d+:\d+\)?|<anonymous>\)?)$/m;

const scratch = mkdtempSync(join(tmpdir(), 'memseal-cli-fuzz-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const garbage = join(scratch, 'garbage.json');
writeFileSync(garbage, '{"not": "a report"');
const report = join(root, 'test', 'fixtures', 'reports', 'conform-6.18-host.json');
const report2 = join(root, 'test', 'fixtures', 'reports', 'conform-6.1-vm.json');

/** mulberry32: small, seeded, good enough to pick tokens. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMMON = ['-h', '--help', '--bogus', '-x', '--', 'extra', '', '-', '--=', '\u00e9\u0000'.slice(0, 1), '--json', '-V', '--version'];
const VOCABULARY: Readonly<Record<string, readonly string[]>> = {
  conform: [
    '--json', '--tap', '--junit', join(scratch, 'out.xml'), '/nonexistent-dir/out.xml', scratch, '--filter', 'memfd.name',
    'zzz', 'mseal.munmap.eperm', 'memfd.name.too-long', '--filter=memfd.name', '--filter=zzz', '--list', '--strict', '-v',
    '--verbose', '--json=1', '--junit=', '-hv', '--ktap', '--kcidb', 'lab_1', 'Lab-1', '--kcidb=x',
  ],
  probe: ['--json', '--json=false', 'x'],
  diff: [report, report2, garbage, '/nonexistent.json', scratch, '--json'],
  exec: ['--fallback', 'tmpfile', 'none', 'bogus', '--argv0', 'name', 'true', 'false', '/bin/true', 'echo', 'no-such-program-zz', '/', '.', '/nonexistent/prog'],
  vm: ['--kernel', '/nonexistent/vmlinuz', '', '--append', 'quiet', '--memory', 'abc', '64', '--timeout', '0', '--accel', 'bogus', 'tcg', '--report', report, garbage, '--json', '--quiet', 'probe'],
  '': ['--version', '-V', '--help', 'help', 'bogus', '-h'],
};

/** The statuses the help documents; exec also passes on its program's (true, false, echo: 0 or 1). */
const ALLOWED: Readonly<Record<string, readonly number[]>> = {
  conform: [0, 1, 2],
  probe: [0, 2],
  diff: [0, 1, 2],
  exec: [0, 1, 2, 126, 127],
  vm: [0, 1, 2],
  '': [0, 2],
};

function argvFor(cmd: string, rand: () => number): string[] {
  const words = [...VOCABULARY[cmd]!, ...COMMON];
  const n = Math.floor(rand() * 6);
  const args = Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]!);
  // Keep conform runs short: a few cases at most, never the whole catalog.
  if (cmd === 'conform' && !args.some((a) => a.startsWith('--filter'))) args.push('--filter', 'memfd.name.too-long');
  if (cmd === '' && Object.hasOwn(ALLOWED, args[0] ?? '')) args.unshift('--version');
  return cmd === '' ? args : [cmd, ...args];
}

interface Outcome {
  argv: string[];
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function run(argv: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...argv], { env: { ...process.env, NO_COLOR: '1', PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (status, signal) => resolve({ argv, status, signal, stderr }));
  });
}

it(`${RUNS} random command lines (seed ${SEED}): no stack trace, no undocumented status`, async () => {
  const rand = prng(SEED);
  const commands = Object.keys(VOCABULARY);
  const plans = Array.from({ length: RUNS }, (_, i) => {
    const cmd = commands[i % commands.length]!;
    return { cmd, argv: argvFor(cmd, rand) };
  });
  const bad: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < plans.length) {
      const { cmd, argv } = plans[next++]!;
      const o = await run(argv);
      const problems = [
        o.signal !== null ? `killed by ${o.signal}` : '',
        o.status !== null && !ALLOWED[cmd]!.includes(o.status) ? `status ${o.status}` : '',
        STACK.test(o.stderr) ? 'a stack trace' : '',
      ].filter(Boolean);
      if (problems.length > 0) bad.push(`memseal ${JSON.stringify(argv)}: ${problems.join(', ')}\n${o.stderr.slice(0, 400)}`);
    }
  };
  await Promise.all([worker(), worker()]); // two at a time: the machine is shared
  expect(bad, `seed ${SEED}`).toEqual([]);
}, 180_000);
