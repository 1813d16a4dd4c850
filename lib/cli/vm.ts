/**
 * `memseal vm --kernel IMAGE [--kernel IMAGE ...] [--append ARGS ...]
 *  [--memory MB] [--timeout S] [--accel auto|kvm|tcg] [--host] [--report FILE ...]
 *  [--json] [--quiet] [-- MEMSEAL-ARGS...]`
 *
 * Boots each kernel on the memseal initramfs and runs memseal there (by
 * default the report DEFAULT_GUEST_COMMAND names). One kernel: its report.
 * Several (or --host, or saved --report files): a matrix, cases as rows and
 * kernels as columns. Progress goes to stderr.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hasFailures, readReport, readReportFile, type Report } from '../reports.js';
import { accelFromEnv, type AccelChoice } from '../vm/accel.js';
import { findPackageRoot } from '../vm/initramfs.js';
import { kernelCommandLine, VmError } from '../vm/qemu.js';
import { DEFAULT_GUEST_COMMAND, runInVm, vmMeta } from '../vm/run.js';
import { EXIT_CODES_HELP } from './exit.js';
import { painter, useColour } from './format.js';
import { renderMatrix, renderReport } from './matrix.js';
import { renderProbe } from './probe.js';
import type { ProbeReport } from '../probe.js';

export const VM_USAGE =
  'vm --kernel IMAGE [--kernel IMAGE ...] [--append ARGS ...] [--memory MB] [--timeout S] [--accel auto|kvm|tcg] [--host] [--report FILE ...] [--json] [--quiet] [-- MEMSEAL-ARGS]';

export const VM_HELP = `Usage: memseal ${VM_USAGE}

Boots each kernel image with qemu-system-x86_64 (KVM when it works, TCG
otherwise) on an initramfs holding busybox, this node and the memseal
package, runs memseal there and reads its JSON report back from the serial
console. Several kernels (or --host, or --report files) make a matrix: cases
as rows, kernels as columns.

  --kernel IMAGE   a bzImage/vmlinuz to boot; repeat for a matrix
  --append ARGS    extra kernel arguments (e.g. secretmem.enable=1): once for
                   every kernel, or once per --kernel in the same order
  --memory MB      guest memory (default 1024)
  --timeout S      seconds a boot may take before qemu is killed (default 300)
  --accel A        auto (default; $MEMSEAL_VM_ACCEL), kvm or tcg
  --host           add a column for this machine
  --report FILE    add a column from a saved report (memseal ... --json)
  --json           print the report (several: an array) with a "vm" object
  --quiet          no progress on stderr
  -- ARGS          the memseal command to run in the guest (default: ${DEFAULT_GUEST_COMMAND.join(' ')})

The image is cached under $MEMSEAL_CACHE_DIR or $XDG_CACHE_HOME/memseal.
Debian's 6.1 cloud kernel: node scripts/fetch-kernel.mjs prints its path.

${EXIT_CODES_HELP}`;

class UsageError extends Error {}

/** One column: a parsed report, or the raw output of a command that printed no report. */
interface Column {
  title: string;
  report: Report | undefined;
  raw: Record<string, unknown> | undefined;
  stdout: string;
  exitCode: number;
}

function positiveNumber(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number of at least ${min} (got ${JSON.stringify(text)})`);
  return n;
}

function pairAppends(kernels: readonly string[], appends: readonly string[]): string[] {
  if (appends.length === 0) return kernels.map(() => '');
  if (appends.length === 1) return kernels.map(() => appends[0]!);
  if (appends.length === kernels.length) return [...appends];
  throw new UsageError(`give --append once (for every kernel) or once per --kernel, in order (${kernels.length} kernels, ${appends.length} --append)`);
}

function column(title: string, stdout: string, exitCode: number, vm: Record<string, unknown> | undefined): Column {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    return { title, report: undefined, raw: undefined, stdout, exitCode };
  }
  const raw = vm !== undefined && typeof json === 'object' && json !== null && !Array.isArray(json) ? { ...(json as object), vm } : (json as Record<string, unknown>);
  let report: Report | undefined;
  try {
    report = readReport(raw);
  } catch {
    report = undefined;
  }
  return { title, report, raw, stdout, exitCode };
}

function hostColumn(command: readonly string[]): Column {
  const cli = join(findPackageRoot(), 'dist', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [cli, ...command], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.stderr) process.stderr.write(r.stderr);
  return column('host', r.stdout, r.status ?? 1, undefined);
}

interface Plan {
  command: readonly string[];
  kernels: string[];
  appends: string[];
  memory: number;
  timeout: number;
  accel: AccelChoice;
  host: boolean;
  saved: Column[];
  json: boolean;
  quiet: boolean;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The plan from the command line; a UsageError (or a bad-argument VmError) when it makes no sense. */
function parsePlan(argv: string[]): Plan | 'help' {
  const cut = argv.indexOf('--');
  const command = cut === -1 ? DEFAULT_GUEST_COMMAND : argv.slice(cut + 1);
  const { values } = parseArgs({
    args: cut === -1 ? argv : argv.slice(0, cut),
    options: {
      kernel: { type: 'string', multiple: true, default: [] },
      append: { type: 'string', multiple: true, default: [] },
      memory: { type: 'string' },
      timeout: { type: 'string' },
      accel: { type: 'string' },
      host: { type: 'boolean', default: false },
      report: { type: 'string', multiple: true, default: [] },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  if (values.kernel.length + values.report.length === 0 && !values.host) throw new UsageError('name a kernel image with --kernel');
  if (command.length === 0) throw new UsageError("nothing to run after '--'");
  const accel = values.accel ?? accelFromEnv();
  if (accel !== 'auto' && accel !== 'kvm' && accel !== 'tcg') throw new UsageError(`--accel is auto, kvm or tcg (got ${JSON.stringify(accel)})`);
  const appends = pairAppends(values.kernel, values.append);
  // Arguments that cannot travel on a kernel command line are usage errors, found before any boot.
  for (const append of new Set(appends)) kernelCommandLine(append, [command]);
  for (const kernel of values.kernel) {
    if (!isFile(kernel)) throw new UsageError(`kernel image ${kernel} does not exist (scripts/fetch-kernel.mjs fetches Debian's 6.1 cloud kernel)`);
  }
  const saved: Column[] = [];
  for (const file of values.report) {
    try {
      for (const r of readReportFile(file)) saved.push({ title: file, report: r, raw: r.raw, stdout: '', exitCode: 0 });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return {
    command,
    kernels: values.kernel,
    appends,
    memory: positiveNumber('memory', values.memory, 1024, 128),
    timeout: positiveNumber('timeout', values.timeout, 300, 1),
    accel,
    host: values.host,
    saved,
    json: values.json,
    quiet: values.quiet,
  };
}

/** Runs the plan: the host, the saved reports, then each kernel in turn. `failed` when a boot or a report failed. */
async function gather(plan: Plan): Promise<{ columns: Column[]; failed: boolean }> {
  const paintErr = painter(useColour(process.stderr));
  const progress = plan.quiet ? undefined : (line: string): void => void process.stderr.write(`${paintErr('dim', 'memseal vm:')} ${line}\n`);
  const columns: Column[] = [];
  let failed = false;
  if (plan.host) columns.push(hostColumn(plan.command));
  columns.push(...plan.saved);
  for (const [i, kernel] of plan.kernels.entries()) {
    const append = plan.appends[i]!;
    try {
      const run = await runInVm({ kernel, append, memoryMiB: plan.memory, timeoutSeconds: plan.timeout, accel: plan.accel, commands: [plan.command], progress });
      const out = run.outputs[0]!;
      if (out.stderr.trim() !== '') process.stderr.write(`memseal vm: ${kernel}: the guest's stderr:\n${out.stderr}`);
      columns.push(column(kernel, out.stdout, out.exitCode, vmMeta(run)));
    } catch (err) {
      if (!(err instanceof VmError)) throw err;
      process.stderr.write(`${paintErr('red', 'memseal vm:')} ${kernel}${append ? ` (${append})` : ''}: ${err.message}\n`);
      failed = true;
    }
  }
  for (const c of columns) if (c.exitCode !== 0 || (c.report !== undefined && hasFailures(c.report))) failed = true;
  return { columns, failed };
}

/** Prints the columns: JSON, one report, or a matrix. Returns 2 when reports of two kinds cannot share a matrix. */
function print(columns: readonly Column[], json: boolean): number {
  if (json) {
    const raws = columns.map((c) => c.raw ?? { title: c.title, stdout: c.stdout, exitCode: c.exitCode });
    if (raws.length > 0) process.stdout.write(`${JSON.stringify(raws.length === 1 ? raws[0] : raws, null, 2)}\n`);
    return 0;
  }
  const colour = useColour();
  for (const c of columns.filter((x) => x.report === undefined)) process.stdout.write(`== ${c.title}\n${c.stdout}`);
  const reports = columns.filter((c) => c.report !== undefined).map((c) => c.report!);
  if (reports.length === 1) {
    const r = reports[0]!;
    process.stdout.write(r.kind === 'probe' ? renderProbe(r.raw as unknown as ProbeReport, colour) : renderReport(r, colour));
    if (r.kind === 'probe' && r.vm !== null) {
      process.stdout.write(`\nvm: ${r.vm.kernel}${r.vm.append ? ` ${r.vm.append}` : ''}; ${r.vm.accel.toUpperCase()}, boot ${r.vm.bootSeconds.toFixed(1)} s, run ${r.vm.runSeconds.toFixed(1)} s\n`);
    }
  } else if (reports.length > 1) {
    try {
      process.stdout.write(renderMatrix(reports, colour));
    } catch (err) {
      process.stderr.write(`memseal vm: ${(err as Error).message}\n`);
      return 2;
    }
  }
  return 0;
}

export async function runVm(argv: string[]): Promise<number> {
  let plan: Plan | 'help';
  try {
    plan = parsePlan(argv);
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof VmError && err.kind === 'bad-argument')) throw err;
    process.stderr.write(`memseal vm: ${(err as Error).message}\nUsage: memseal ${VM_USAGE}\n`);
    return 2;
  }
  if (plan === 'help') {
    process.stdout.write(VM_HELP);
    return 0;
  }
  const { columns, failed } = await gather(plan);
  const printed = print(columns, plan.json);
  return printed !== 0 ? printed : failed ? 1 : 0;
}
