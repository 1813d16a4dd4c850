/**
 * The exit statuses of the memseal command line, the "Exit status:" block of
 * each help text (each subcommand lists only the statuses it can return),
 * and the usage error that gives status 2.
 */

export const EXIT = {
  /** Done; nothing failed (diff: the reports agree). */
  ok: 0,
  /** A conformance case failed or broke (or deviated, under --strict); diff: the reports differ. */
  failed: 1,
  /** The command line cannot be acted on; found before any work is done. */
  usage: 2,
  /** The run itself broke: an unexpected error, or its output could not be written. */
  broken: 3,
} as const;

/** What each status means for one subcommand; only the statuses it can return. */
export type ExitMeanings = Readonly<Partial<Record<(typeof EXIT)[keyof typeof EXIT] | typeof KSFT_SKIP, string>>>;

/** kselftest's KSFT_SKIP: `memseal conform --ktap` when every case was skipped. */
export const KSFT_SKIP = 4;

/** An "Exit status:" block: one row per status, the text wrapped at 76 columns under its first line. */
export function exitStatusHelp(meanings: ExitMeanings): string {
  const rows = (Object.entries(meanings) as [string, string][]).sort(([a], [b]) => Number(a) - Number(b));
  const out = ['Exit status:'];
  for (const [status, text] of rows) {
    let line = `  ${status}  `;
    for (const word of text.split(' ')) {
      if (line.length + word.length > 76 && line.trim() !== status) {
        out.push(line.trimEnd());
        line = '     ';
      }
      line += `${word} `;
    }
    out.push(line.trimEnd());
  }
  return `${out.join('\n')}\n`;
}

/** A run that broke, as every subcommand but exec can. */
const BROKEN = 'the run broke: an unexpected error, or the output could not be written';

/** `memseal probe`. */
export const PROBE_EXIT_HELP = exitStatusHelp({
  [EXIT.ok]: 'the features were probed (whatever they are)',
  [EXIT.usage]: 'usage error: an unknown option',
  [EXIT.broken]: BROKEN,
});

/** `memseal conform`. */
export const CONFORM_EXIT_HELP = exitStatusHelp({
  [EXIT.ok]: 'no case failed or broke (deviations only fail under --strict); with --list, the cases were listed',
  [EXIT.failed]: 'a case failed or broke, or deviated under --strict; with --ktap also a run that broke (one # ERROR line)',
  [EXIT.usage]:
    'usage error, found before any case runs: an unknown option or a bad value, two output formats, a --filter entry that matches no case or a --filter without entries, a --junit FILE whose directory is missing or not writable, a --kcidb ORIGIN KCIDB would refuse',
  [EXIT.broken]: `${BROKEN} (or the --junit FILE)`,
  [KSFT_SKIP]: "with --ktap: every case was skipped (kselftest's KSFT_SKIP)",
});

/** `memseal kselftest`. */
export const KSELFTEST_EXIT_HELP = exitStatusHelp({
  [EXIT.ok]: 'the collection was written',
  [EXIT.usage]: 'usage error, before any work: an unknown option, an --output whose folder is missing or not writable, an existing --output without --force',
  [EXIT.broken]: `${BROKEN} (nothing half-written is left)`,
});

/** `memseal diff`. */
export const DIFF_EXIT_HELP = exitStatusHelp({
  [EXIT.ok]: 'the reports agree',
  [EXIT.failed]: 'the reports differ',
  [EXIT.usage]: 'usage error: an unknown option, not two file names, a report that cannot be read (as diff(1) gives for trouble)',
  [EXIT.broken]: BROKEN,
});

/** `memseal vm`. */
export const VM_EXIT_HELP = exitStatusHelp({
  [EXIT.ok]: 'every kernel gave its report and no case failed (--fetch: every kernel was fetched)',
  [EXIT.failed]: 'a kernel did not boot or gave no report, a case failed or broke, (--kselftest) the runner reported a test not ok, or (--fetch) a kernel could not be fetched',
  [EXIT.usage]: 'usage error: an unknown option or a bad value, a kernel image or report that cannot be read, reports of two kinds in one matrix, a --kselftest FILE that is not a collection',
  [EXIT.broken]: BROKEN,
});

/** The table of `memseal --help`: every status of every subcommand (the README's CLI section repeats it). */
export const EXIT_CODES_HELP = `Exit status:
  0  success (diff: the reports agree)
  1  a case failed or broke, or deviated under --strict (diff: the reports
     differ; vm: a kernel gave no report); never from probe
  2  usage error, found before any work: an unknown option, a bad value, a
     --filter entry that matches no case or a --filter without entries, an
     input file that cannot be read, an output file whose directory is
     missing or not writable
  3  the run broke: an unexpected error, or the output could not be written
  4  conform --ktap: every case was skipped (kselftest's KSFT_SKIP)
  memseal exec exits as the program did; 126 when it cannot run, 127 when
  it is not found. Each COMMAND --help lists the statuses it can return.
`;

/** The command line is wrong: the CLI prints the message and exits 2. */
export class UsageError extends Error {}
