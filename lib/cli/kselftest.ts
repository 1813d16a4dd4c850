/**
 * `memseal kselftest [--output FILE] [--force] [--quiet]`: writes the
 * kselftest collection (packed by the collection module of lib/vm) as a .tar.gz. The
 * output is checked before any work (its folder exists and is writable; an
 * existing file needs --force), written beside itself under a temporary
 * name and renamed into place, so a failure leaves nothing half-written.
 */
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { collectionEntries, defaultCollectionInputs, packageVersion } from '../vm/collection.js';
import { LIST_LINE, unameMachine } from '../vm/collection-launcher.js';
import { writeTarGz } from '../vm/tar.js';
import { checkOutputFile } from './conform.js';
import { EXIT, KSELFTEST_EXIT_HELP, UsageError } from './exit.js';

export const KSELFTEST_HELP = `Usage: memseal kselftest [--output FILE] [--force] [--quiet]

Writes a kselftest collection: a .tar.gz that unpacks into the layout of a
kselftest install (make -C tools/testing/selftests install), with a memseal/
folder holding the executable test 'conform' (KTAP on stdout, kselftest's
exit statuses), 'settings', a kernel 'config' fragment, and a
kselftest-list.txt naming ${LIST_LINE}. It carries this node binary, the
shared libraries and dynamic loader it links, and memseal with its addon,
so it runs on a root filesystem with no node and no glibc (busybox, musl)
of the same architecture, from any folder, read-only or not, as root or
not. Run it with the kernel's runner:

  tar -xzf memseal-kselftest.tar.gz -C /opt/kselftests/default-in-kernel
  /opt/kselftests/default-in-kernel/run_kselftest.sh -c memseal

or alone: ./memseal/conform. Unpacked over an install, its
kselftest-list.txt replaces the install's list: add the line to it
instead to keep the other collections listed.

  --output FILE   where to write (default:
                  memseal-kselftest-VERSION-ARCH.tar.gz here); its folder
                  must exist and be writable
  --force         replace FILE when it exists
  --quiet         no progress on stderr
  -h, --help      this help

${KSELFTEST_EXIT_HELP}`;

export async function runKselftest(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      output: { type: 'string', short: 'o' },
      force: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(KSELFTEST_HELP);
    return EXIT.ok;
  }
  const inputs = defaultCollectionInputs();
  const output = resolve(values.output ?? `memseal-kselftest-${packageVersion(inputs.packageRoot)}-${unameMachine(inputs.arch)}.tar.gz`);
  checkOutputFile(output, '--output');
  if (existsSync(output) && !values.force) throw new UsageError(`--output ${output}: the file exists (--force replaces it)`);
  const say = values.quiet ? (): void => undefined : (line: string): void => void process.stderr.write(`memseal kselftest: ${line}\n`);
  const started = performance.now();
  const entries = collectionEntries(inputs);
  say(`packing node ${process.version}, its libraries and memseal (${entries.length} entries) into ${output}`);
  const tmp = join(dirname(output), `.${basename(output)}.${process.pid}.tmp`);
  try {
    await writeTarGz(tmp, entries);
    renameSync(tmp, output);
  } finally {
    rmSync(tmp, { force: true });
  }
  const bytes = statSync(output).size;
  say(`wrote ${output}: ${(bytes / 1048576).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  process.stdout.write(`${output}\n`);
  return EXIT.ok;
}
