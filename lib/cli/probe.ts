/** `memseal probe [--json]`: what this kernel and container support. */
import { parseArgs } from 'node:util';
import { probe, type FeatureStatus, type ProbeReport } from '../probe.js';
import { EXIT, PROBE_EXIT_HELP } from './exit.js';
import { painter, table, type Colour } from '../format.js';
import { useColour } from './format.js';

export const PROBE_HELP = `Usage: memseal probe [--json]

What this kernel, and the container and seccomp policy around it, support:
each feature supported, unsupported, disabled, blocked or refused, with why.

  --json      the report as JSON
  -h, --help  this help

${PROBE_EXIT_HELP}`;

const STATUS_COLOUR: Readonly<Record<FeatureStatus, Colour>> = {
  supported: 'green',
  unsupported: 'yellow',
  disabled: 'yellow',
  blocked: 'red',
  refused: 'magenta',
};

function bytes(n: number | 'unlimited'): string {
  if (n === 'unlimited') return 'unlimited';
  return n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`;
}

/** The human-readable probe report. */
export function renderProbe(r: ProbeReport, colour: boolean): string {
  const paint = painter(colour);
  const seccomp =
    r.seccomp.mode === 2
      ? `filter (${r.seccomp.filters ?? '?'} filters${r.seccomp.deniesUnknownSyscalls ? `; unknown syscalls get ${r.seccomp.controlErrno}` : ''})`
      : r.seccomp.mode === 0
        ? 'none'
        : String(r.seccomp.mode ?? 'unknown');
  const facts: string[][] = [
    ['kernel', `${r.kernel.release} (${r.kernel.arch})`],
    ['node', r.node],
    ['uid', String(r.uid)],
    ['container', r.container.detected ? `yes: ${r.container.engine ?? 'a pid namespace'}` : `no (${r.container.pidNamespace} pid namespace)`],
    ['seccomp', seccomp],
    ['vm.memfd_noexec', r.memfdNoexec === null ? 'absent (kernel before 6.3)' : String(r.memfdNoexec)],
    ['RLIMIT_MEMLOCK', `${bytes(r.limits.memlock.soft)} (hard ${bytes(r.limits.memlock.hard)})${r.limits.capIpcLock ? '; CAP_IPC_LOCK ignores it' : ''}`],
    ['vm.max_map_count', String(r.limits.maxMapCount ?? 'unknown')],
    ['page size', `${r.limits.pageSize} B`],
  ];
  const features = Object.entries(r.features).map(([name, f]) => [
    paint('bold', name),
    paint(STATUS_COLOUR[f.status], f.status),
    f.errno ?? '',
    `since ${f.since}`,
    paint('dim', f.why),
  ]);
  return `${paint('bold', 'memseal probe')}\n${table(facts.map(([k, v]) => [paint('cyan', k!), v!]))}\n\n${table(features)}\n`;
}

export function runProbe(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } }, strict: true });
  if (values.help) {
    process.stdout.write(PROBE_HELP);
    return EXIT.ok;
  }
  const report = probe();
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderProbe(report, useColour()));
  return EXIT.ok;
}
