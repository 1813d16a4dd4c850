#!/usr/bin/env node
/** The memseal command line: one subcommand per module in lib/cli/. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFORM_HELP, runConform } from './conform.js';
import { EXEC_HELP, runExec } from './exec.js';
import { DIFF_HELP, runDiff } from './diff.js';
import { EXIT, EXIT_CODES_HELP, UsageError } from './exit.js';
import { KSELFTEST_HELP, runKselftest } from './kselftest.js';
import { PROBE_HELP, runProbe } from './probe.js';
import { runVm, VM_HELP } from './vm.js';

type Command = (argv: string[]) => number | Promise<number>;

const COMMANDS: Readonly<Record<string, { run: Command; summary: string; help: string }>> = {
  conform: {
    run: runConform,
    summary: 'conform [--json | --junit FILE | --tap | --ktap | --kcidb ORIGIN] [--filter PATTERN] [--list] [--strict] [--verbose]\n                                 check this kernel against its documented behaviour',
    help: CONFORM_HELP,
  },
  probe: { run: runProbe, summary: 'probe [--json]                 what this kernel/container supports', help: PROBE_HELP },
  exec: { run: runExec, summary: 'exec PATH [-- ARGS...]         run a program from a sealed memfd copy (see exec --help)', help: EXEC_HELP },
  vm: { run: runVm, summary: 'vm --kernel IMAGE|debian:SERIES [--json]\n                                 the report from a VM on each kernel; several: a matrix (vm --help)', help: VM_HELP },
  kselftest: { run: runKselftest, summary: 'kselftest [--output FILE] [--force]\n                                 a kselftest collection (.tar.gz) that runs the suite with no node on the target', help: KSELFTEST_HELP },
  diff: { run: runDiff, summary: 'diff A.json B.json [--json]    the cases whose status or outcome differ between two reports', help: DIFF_HELP },
};

function usage(): string {
  const lines = Object.values(COMMANDS).map((c) => `  memseal ${c.summary}`);
  return `Usage:\n${lines.join('\n')}\n  memseal --version\n  memseal COMMAND --help\n\n${EXIT_CODES_HELP}`;
}

function version(): string {
  // dist/cli/main.js -> package.json two folders up.
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: unknown };
  return String(pkg.version);
}

/** Options of Node's parseArgs that mean the command line is wrong. */
const PARSE_ERRORS = new Set(['ERR_PARSE_ARGS_UNKNOWN_OPTION', 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE', 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL']);

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(usage());
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`memseal: unknown command '${name}'\n${usage()}`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (err instanceof UsageError || (typeof e.code === 'string' && PARSE_ERRORS.has(e.code))) {
      process.stderr.write(`memseal ${name}: ${e.message}\nTry 'memseal ${name} --help'.\n`);
      return EXIT.usage;
    }
    throw err;
  }
}

/**
 * A reader that went away (`memseal conform --json | head -1`) is no error:
 * stop quietly, as a Unix tool killed by SIGPIPE would, with the status the
 * run had so far.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
    process.exit(EXIT.broken); // an output that fails otherwise (EIO, ENOSPC): nowhere left to say so

  });
}
quietOnClosedPipe(process.stdout);
quietOnClosedPipe(process.stderr);

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as { code?: string; message?: string };
    try {
      process.stderr.write(`memseal: ${e.message ?? String(err)}${e.code ? ` [${e.code}]` : ''}\n`);
    } catch {
      // stderr is gone too: the status says it.
    }
    process.exitCode = EXIT.broken;
  },
);
