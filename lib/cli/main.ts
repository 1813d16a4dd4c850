#!/usr/bin/env node
/** The memseal command line: one subcommand per module in lib/cli/. */
import { runConform } from './conform.js';
import { runExec } from './exec.js';
import { runDiff } from './diff.js';
import { runProbe } from './probe.js';
import { runVm } from './vm.js';

type Command = (argv: string[]) => number | Promise<number>;

const COMMANDS: Readonly<Record<string, { run: Command; summary: string }>> = {
  conform: {
    run: runConform,
    summary: 'conform [--json | --junit FILE | --tap] [--filter PATTERN] [--list] [--strict] [--verbose]\n                                 check this kernel against its documented behaviour',
  },
  probe: { run: runProbe, summary: 'probe [--json]                 what this kernel/container supports' },
  exec: { run: runExec, summary: 'exec PATH [-- ARGS...]         run a program from a sealed memfd copy (see exec --help)' },
  vm: { run: runVm, summary: 'vm --kernel IMAGE|debian:SERIES [--json]\n                                 the report from a VM on each kernel; several: a matrix (vm --help)' },
  diff: { run: runDiff, summary: 'diff A.json B.json [--json]    the cases whose status or outcome differ between two reports' },
};

function usage(): string {
  const lines = Object.values(COMMANDS).map((c) => `  memseal ${c.summary}`);
  return `Usage:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`memseal: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      process.stderr.write(`memseal ${name}: ${e.message}\n${usage()}`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as { code?: string; message?: string };
    process.stderr.write(`memseal: ${e.message ?? String(err)}${e.code ? ` [${e.code}]` : ''}\n`);
    process.exitCode = 1;
  },
);
