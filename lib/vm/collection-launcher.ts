/**
 * The texts of a kselftest collection: the `conform` launcher (POSIX sh, as
 * busybox runs it), the `settings` file, the kernel `config` fragment and
 * `kselftest-list.txt`.
 */

/** How the launcher and the node entry tell a status of the suite from the runtime's own failure: the entry exits with 100 + status. */
export const STATUS_OFFSET = 100;

/** Seconds the kernel's runner gives the test (its default is 45): a TCG guest of a slow architecture takes minutes. */
export const RUNNER_TIMEOUT_SECONDS = 900;

/** `uname -m` for a Node.js architecture name. */
export function unameMachine(arch: string): string {
  const names: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'armv7l', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return names[arch] ?? arch;
}

/**
 * The launcher, `memseal/conform`. It checks the machine's architecture
 * and that the payload is there, then runs the node it carries through the
 * dynamic loader it carries (so the system needs neither node nor glibc),
 * telling memseal how to start that node again ($MEMSEAL_NODE_LAUNCHER).
 * Whatever keeps the runtime from finishing (a damaged file, a loader
 * error, a crash) becomes one KTAP `not ok` line with `# ERROR`, exit 1,
 * naming the files that no longer match MANIFEST.
 */
export function launcherScript(o: { machine: string; loader: string }): string {
  return `#!/bin/sh
# memseal's kernel conformance suite as a kselftest test (made by
# \`memseal kselftest\`): prints KTAP version 1, one block per family, and
# exits as kselftest tests do: 0 nothing failed, 1 a case failed or broke,
# 4 every case was skipped. Arguments go to \`memseal conform --ktap\`
# (--filter PATTERN, --strict); the kernel's runner passes
# $KSELFTEST_CONFORM_ARGS.
#
# It runs the node it carries through the dynamic loader it carries, so
# this system needs neither node nor glibc.
ARCH='${o.machine}'
LOADER='${o.loader}'
error() {
	printf 'KTAP version 1\\n1..1\\nnot ok 1 memseal # ERROR %s\\n' "$*"
	exit 1
}
here=$(cd "$(dirname "$0")" 2>/dev/null && pwd -P) || error "cannot find the folder of $0"
machine=$(uname -m 2>/dev/null)
[ "$machine" = "$ARCH" ] || error "this collection carries an $ARCH runtime and this machine is \${machine:-of unknown architecture}: pack one there with memseal kselftest"
case $here in *'"'* | *'\\'*) error "its folder $here holds a quote or a backslash: unpack it elsewhere" ;; esac
rt=$here/runtime
for f in "$rt/lib/$LOADER" "$rt/node" "$here/package/dist/cli/kselftest-entry.js"; do
	[ -f "$f" ] || error "the payload is incomplete ($f is missing): unpack the tarball again"
done
MEMSEAL_NODE_LAUNCHER="[\\"$rt/lib/$LOADER\\",\\"--library-path\\",\\"$rt/lib\\",\\"$rt/node\\"]"
export MEMSEAL_NODE_LAUNCHER
"$rt/lib/$LOADER" --library-path "$rt/lib" "$rt/node" "$here/package/dist/cli/kselftest-entry.js" "$@"
rc=$?
if [ "$rc" -ge ${STATUS_OFFSET} ] && [ "$rc" -lt 128 ]; then exit $((rc - ${STATUS_OFFSET})); fi
damaged=
if command -v sha256sum >/dev/null 2>&1; then
	damaged=$(cd "$here" && sha256sum -c MANIFEST 2>/dev/null | grep -v ': OK$' | head -n 3 | tr '\\n' ' ')
fi
error "the bundled node did not run to the end (exit status $rc)\${damaged:+; files that do not match MANIFEST: $damaged}; the payload may be damaged: unpack the tarball again"
`;
}

/** The `settings` file the kernel's runner reads (timeout=N seconds). */
export function settingsFile(): string {
  return `timeout=${RUNNER_TIMEOUT_SECONDS}\n`;
}

/**
 * The configuration fragment (as tools/testing/selftests/<collection>/config):
 * what a kernel needs for every case to run rather than skip.
 */
export function configFragment(arch: string): string {
  const lines = [
    '# memseal conformance suite: the options that let every case run (a kernel',
    '# without one skips the cases that need it, naming it).',
    'CONFIG_MEMFD_CREATE=y',
    'CONFIG_SHMEM=y',
    'CONFIG_TMPFS=y',
    'CONFIG_SECRETMEM=y',
    'CONFIG_HUGETLBFS=y',
    'CONFIG_HUGETLB_PAGE=y',
    'CONFIG_TRANSPARENT_HUGEPAGE=y',
    'CONFIG_NAMESPACES=y',
    'CONFIG_PID_NS=y',
    'CONFIG_CROSS_MEMORY_ATTACH=y',
    'CONFIG_PROC_FS=y',
    'CONFIG_PROC_MEM_ALWAYS_FORCE=y',
    'CONFIG_HIBERNATION=y',
    '# the suite reads the configuration to explain skips (/proc/config.gz)',
    'CONFIG_IKCONFIG=y',
    'CONFIG_IKCONFIG_PROC=y',
    '# sealed system mappings (6.15+); the kernel offers it only without',
    '# CONFIG_CHECKPOINT_RESTORE',
    'CONFIG_MSEAL_SYSTEM_MAPPINGS=y',
  ];
  if (arch === 'x64') lines.push('CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS=y');
  return `${lines.join('\n')}\n`;
}

/** The collection's line in kselftest-list.txt. */
export const LIST_LINE = 'memseal:conform';
