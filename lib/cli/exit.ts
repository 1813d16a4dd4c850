/** The exit statuses of the memseal command line, and the usage error that gives status 2. */

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

/** The table every help text ends with (and the README's CLI section repeats). */
export const EXIT_CODES_HELP = `Exit status:
  0  success (diff: the reports agree)
  1  a case failed or broke, or deviated under --strict (diff: the reports differ)
  2  usage error, found before any work: an unknown option, a bad value, a
     filter that matches no case, an input file that cannot be read, an
     output file whose directory is missing or not writable
  3  the run broke: an unexpected error, or the output could not be written
  memseal exec exits as the program did; 126 when it cannot run, 127 when
  it is not found.
`;

/** The command line is wrong: the CLI prints the message and exits 2. */
export class UsageError extends Error {}
