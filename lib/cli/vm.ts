/**
 * `memseal vm --kernel IMAGE|debian:SERIES [--kernel ...] [--arch x86_64|arm64]
 *  [--flavour cloud|generic|16k] [--node PATH] [--jobs N] [--append ARGS ...] [--config FILE ...] [--memory MB] [--timeout S]
 *  [--accel auto|kvm|tcg] [--host] [--report FILE ...] [--fetch] [--json]
 *  [--quiet] [-- MEMSEAL-ARGS...]`
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
import { availableParallelism } from 'node:os';
import { failureJson, hasFailures, readReport, readReportFile, type Report } from '../reports.js';
import { accelFromEnv, type AccelChoice } from '../vm/accel.js';
import { archOf, FLAVOURS, isHostArch, VM_ARCHES, type ArchDescription } from '../vm/arch.js';
import { isKernelSpec, parseKernelSpec, resolveKernel, type Flavour } from '../vm/kernels.js';
import { nodeCommand } from '../node-self.js';
import { findPackageRoot } from '../package-root.js';
import { kernelCommandLine, VmError } from '../vm/qemu.js';
import { DEFAULT_GUEST_COMMAND, guestCpus, KVM_TIMEOUT_SECONDS, runInVm, runPool, vmMeta } from '../vm/run.js';
import { buildKselftestImage } from '../vm/kselftest-guest.js';
import type { Initramfs } from '../vm/initramfs.js';
import { DEFAULT_RUNNER_ARGS, kselftestAnswer } from './vm-kselftest.js';
import { createProgress } from './progress.js';
import { painter } from '../format.js';
import { useColour } from './format.js';
import { renderMatrix, renderReport } from './matrix.js';
import { renderProbe } from './probe.js';
import type { ProbeReport } from '../probe.js';

import { VM_HELP, VM_USAGE } from './vm-help.js';

export { VM_HELP, VM_USAGE };

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

/** One value per kernel: none, one for all, or one each in order. */
function perKernel<T>(option: string, kernels: readonly string[], values: readonly T[], none: T): T[] {
  if (values.length === 0) return kernels.map(() => none);
  if (values.length === 1) return kernels.map(() => values[0]!);
  if (values.length === kernels.length) return [...values];
  throw new UsageError(`give --${option} once (for every kernel) or once per --kernel, in order (${kernels.length} kernels, ${values.length} --${option})`);
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
  const node = nodeCommand([cli, ...command]);
  const r = spawnSync(node.file, node.args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.stderr) process.stderr.write(r.stderr);
  return column('host', r.stdout, r.status ?? 1, undefined);
}

interface Plan {
  command: readonly string[];
  /** --kselftest: the busybox-only image to boot, and the runner's arguments in `command`. */
  image: Initramfs | undefined;
  kernels: string[];
  appends: string[];
  configs: (string | undefined)[];
  arch: ArchDescription;
  node: string | undefined;
  flavours: Flavour[];
  fetchOnly: boolean;
  jobs: number;
  memory: number;
  timeout: number | undefined;
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
  const command0 = cut === -1 ? undefined : argv.slice(cut + 1);
  const { values } = parseArgs({
    args: cut === -1 ? argv : argv.slice(0, cut),
    options: {
      kernel: { type: 'string', multiple: true, default: [] },
      append: { type: 'string', multiple: true, default: [] },
      config: { type: 'string', multiple: true, default: [] },
      flavour: { type: 'string', multiple: true, default: [] },
      arch: { type: 'string', default: 'x86_64' },
      node: { type: 'string' },
      fetch: { type: 'boolean', default: false },
      jobs: { type: 'string', short: 'j' },
      memory: { type: 'string' },
      timeout: { type: 'string' },
      accel: { type: 'string' },
      host: { type: 'boolean', default: false },
      report: { type: 'string', multiple: true, default: [] },
      kselftest: { type: 'string' },
      runner: { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const command = command0 ?? (values.kselftest !== undefined ? DEFAULT_RUNNER_ARGS : DEFAULT_GUEST_COMMAND);
  if (!(VM_ARCHES as readonly string[]).includes(values.arch)) throw new UsageError(`--arch is ${VM_ARCHES.join(' or ')} (got ${JSON.stringify(values.arch)})`);
  const arch = archOf(values.arch);
  // The kselftest guest is this machine's busybox and a collection built here.
  if (values.kselftest !== undefined && !isHostArch(arch)) throw new UsageError(`--kselftest boots guests of this machine's architecture only (its busybox and collection), not --arch ${arch.name}`);
  const image = values.kselftest === undefined ? undefined : kselftestImage(values.kselftest, values.runner, values);
  if (values.kselftest === undefined && values.runner !== undefined) throw new UsageError('--runner goes with --kselftest FILE');
  if (values.kernel.length + values.report.length === 0 && !values.host) throw new UsageError('name a kernel image with --kernel');
  if (command.length === 0) throw new UsageError("nothing to run after '--'");
  const accel = values.accel ?? accelFromEnv();
  if (accel !== 'auto' && accel !== 'kvm' && accel !== 'tcg') throw new UsageError(`--accel is auto, kvm or tcg (got ${JSON.stringify(accel)})`);
  const appends = perKernel('append', values.kernel, values.append, '');
  const configs = perKernel<string | undefined>('config', values.kernel, values.config, undefined);
  const flavours = perKernel('flavour', values.kernel, values.flavour, 'cloud') as Flavour[];
  for (const f of values.flavour) if (!(FLAVOURS as readonly string[]).includes(f)) throw new UsageError(`--flavour is ${FLAVOURS.join(', ')} (got ${JSON.stringify(f)})`);
  // A malformed debian: spec (or a flavour the architecture lacks) is a usage error, found before any download.
  values.kernel.forEach((k, i) => {
    if (isKernelSpec(k)) parseKernelSpec(k, flavours[i], arch.name);
  });
  if (values.node !== undefined && !isFile(values.node)) throw new UsageError(`--node ${values.node} does not exist`);
  if (values.fetch && values.kernel.length === 0) throw new UsageError('--fetch needs a --kernel');
  // Arguments that cannot travel on a kernel command line are usage errors, found before any boot.
  for (const append of new Set(appends)) kernelCommandLine(append, [command], arch);
  // Numbers first, so each usage error names the option at fault.
  const jobs = Math.floor(positiveNumber('jobs', values.jobs, availableParallelism(), 1));
  const memory = positiveNumber('memory', values.memory, 1024, 128);
  const timeout = values.timeout === undefined ? undefined : positiveNumber('timeout', values.timeout, KVM_TIMEOUT_SECONDS, 1);
  for (const kernel of values.kernel) {
    if (!isKernelSpec(kernel) && !isFile(kernel)) throw new UsageError(`kernel image ${kernel} does not exist (memseal vm --kernel debian:6.1 fetches Debian's 6.1 cloud kernel)`);
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
    image,
    kernels: values.kernel,
    appends,
    configs,
    arch,
    node: values.node,
    flavours,
    fetchOnly: values.fetch,
    jobs,
    memory,
    timeout,
    accel,
    host: values.host,
    saved,
    json: values.json,
    quiet: values.quiet,
  };
}

/** --kselftest: the image, built before any boot; a file that is not a collection is a usage error. */
function kselftestImage(file: string, runner: string | undefined, values: { host: boolean; report: string[]; fetch: boolean }): Initramfs | undefined {
  if (values.host || values.report.length > 0) throw new UsageError('--kselftest boots kernels only: no --host or --report columns');
  if (!isFile(file)) throw new UsageError(`--kselftest ${file}: no such file (memseal kselftest writes one)`);
  if (values.fetch) return undefined;
  try {
    return buildKselftestImage({ tarball: file, runner });
  } catch (err) {
    throw new UsageError(`--kselftest ${file}: ${(err as Error).message}`);
  }
}

/** A kernel's column title: the kernel as given, its architecture when not x86-64, and its boot arguments. */
function kernelTitle(kernel: string, append: string, arch: ArchDescription, flavour: Flavour): string {
  const what = [...(arch.name === 'x86_64' ? [] : [arch.name]), ...(flavour === 'cloud' || !isKernelSpec(kernel) ? [] : [flavour])];
  return `${kernel}${what.length > 0 ? ` (${what.join(', ')})` : ''}${append ? ` ${append}` : ''}`;
}

/**
 * Runs the plan: the host, the saved reports, then the kernels, up to
 * `plan.jobs` boots at a time. A kernel that gives no report is a column
 * with its error. `failed` when a boot or a report failed.
 */
async function gather(plan: Plan): Promise<{ columns: Column[]; failed: boolean }> {
  const paintErr = painter(useColour(process.stderr));
  const titles = plan.kernels.map((k, i) => kernelTitle(k, plan.appends[i]!, plan.arch, plan.flavours[i]!));
  const board = plan.quiet ? undefined : createProgress({ prefix: paintErr('dim', 'memseal vm:'), titles });
  const columns: Column[] = [];
  if (plan.host) columns.push(hostColumn(plan.command));
  columns.push(...plan.saved);
  const booted = await runPool(plan.kernels, plan.jobs, async (kernel, i): Promise<Column> => {
    const append = plan.appends[i]!;
    try {
      const run = await runInVm({
        kernel,
        arch: plan.arch.name,
        node: plan.node,
        flavour: plan.flavours[i],
        config: plan.configs[i],
        append,
        memoryMiB: plan.memory,
        cpus: guestCpus(Math.min(plan.jobs, plan.kernels.length), availableParallelism()),
        timeoutSeconds: plan.timeout,
        accel: plan.accel,
        commands: [plan.command],
        image: plan.image,
        progress: board?.of(i),
      });
      const out = run.outputs[0]!;
      if (plan.image !== undefined) {
        const answer = kselftestAnswer(plan.command, out, vmMeta(run));
        return { title: titles[i]!, report: undefined, raw: answer as unknown as Record<string, unknown>, stdout: out.stdout, exitCode: answer.kselftest.passed ? 0 : 1 };
      }
      if (out.stderr.trim() !== '') (board?.log ?? ((t: string): void => void process.stderr.write(t)))(`memseal vm: ${titles[i]}: the guest's stderr:\n${out.stderr}`);
      return column(titles[i]!, out.stdout, out.exitCode, vmMeta(run));
    } catch (err) {
      if (!(err instanceof VmError)) throw err;
      const text = `${paintErr('red', 'memseal vm:')} ${titles[i]}: ${err.message}\n`;
      if (board) board.log(text);
      else process.stderr.write(text);
      board?.of(i)(paintErr('red', `no report (${err.kind})`));
      const raw = failureJson({ code: err.kind, message: err.message }, { kernel, append }, plan.command);
      return { title: titles[i]!, report: readReport(raw), raw, stdout: '', exitCode: 1 };
    }
  });
  board?.done();
  columns.push(...booted);
  let failed = false;
  for (const c of columns) if (c.exitCode !== 0 || (c.report !== undefined && hasFailures(c.report))) failed = true;
  return { columns, failed };
}

/** `--fetch`: resolves each kernel and prints its image path (a path given as such is printed as it is). */
async function fetchOnly(plan: Plan): Promise<number> {
  const progress = plan.quiet ? undefined : (line: string): void => void process.stderr.write(`memseal vm: ${line}\n`);
  let status = 0;
  const seen = new Set<string>();
  for (const [i, kernel] of plan.kernels.entries()) {
    const flavour = plan.flavours[i]!;
    if (seen.has(`${kernel} ${flavour}`)) continue;
    seen.add(`${kernel} ${flavour}`);
    try {
      const image = isKernelSpec(kernel) ? (await resolveKernel(kernel, { flavour, arch: plan.arch.name, progress })).image : kernel;
      process.stdout.write(`${image}\n`);
    } catch (err) {
      if (!(err instanceof VmError)) throw err;
      process.stderr.write(`memseal vm: ${kernel}: ${err.message}\n`);
      status = 1;
    }
  }
  return status;
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
  // One kernel that gave no report: its error on stderr says it all.
  if (reports.length === 1 && reports[0]!.failure !== null) return 0;
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
  if (plan.fetchOnly) return fetchOnly(plan);
  const { columns, failed } = await gather(plan);
  const printed = print(columns, plan.json);
  return printed !== 0 ? printed : failed ? 1 : 0;
}
