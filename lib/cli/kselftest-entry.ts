/**
 * The node entry of a kselftest collection (dist/cli/kselftest-entry.js, run by
 * the `conform` launcher): `memseal conform --ktap ARGS`, exiting with 100 +
 * the status, so the launcher can tell the suite's own 0, 1 or 4 from a
 * runtime that died (a crash, a loader error, node's own status 1 for an
 * error it could not report). Anything that breaks before or outside the
 * CLI (a damaged module that does not load) is one KTAP `not ok` line with
 * `# ERROR`, status 1.
 *
 * Self-contained on purpose: it must work when the rest of the package
 * does not load.
 */
const STATUS_OFFSET = 100;

let reported = false;

function broken(err: unknown): void {
  if (reported) return;
  reported = true;
  const what = (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).replace(/\s*\n\s*/g, ' ').replace(/#/g, 'no.').slice(0, 400);
  process.stdout.write(`KTAP version 1\n1..1\nnot ok 1 memseal # ERROR the suite could not run: ${what}\n`);
  process.exitCode = 1;
}

process.on('exit', (code) => {
  process.exitCode = STATUS_OFFSET + (code >= 0 && code < 28 ? code : 1);
});
process.on('uncaughtException', (err) => {
  broken(err);
  process.exit(1);
});

process.argv.splice(2, 0, 'conform', '--ktap');
try {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('./main.js');
} catch (err) {
  broken(err);
}
