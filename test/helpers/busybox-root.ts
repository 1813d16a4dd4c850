/**
 * A root filesystem with busybox and nothing else (no node, no glibc, no
 * perl, no coreutils timeout), as minimal lab root filesystems are, with a
 * kselftest collection unpacked under /opt/kselftests/default-in-kernel next
 * to the kernel's run_kselftest.sh. Commands run in it with chroot(8) in a
 * private mount and pid namespace (unshare(1)), with /proc, /sys and /dev
 * mounted.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBusybox } from '../../lib/vm/initramfs.js';
import { kernelTools } from './kernel-tools.js';

export const INSTALL = '/opt/kselftests/default-in-kernel';

export interface BusyboxRoot {
  dir: string;
  cleanup(): void;
}

/** Builds the root: busybox applets in /bin only, /etc/passwd, the collection and the kernel's runner under INSTALL. */
export function busyboxRoot(tarball: string): BusyboxRoot {
  const dir = mkdtempSync(join(tmpdir(), 'memseal-busybox-root-'));
  chmodSync(dir, 0o755);
  for (const d of ['bin', 'proc', 'sys', 'dev', 'etc', 'root', `.${INSTALL}`]) mkdirSync(join(dir, d), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { mode: 0o1777 });
  chmodSync(join(dir, 'tmp'), 0o1777);
  const busybox = findBusybox();
  cpSync(busybox, join(dir, 'bin', 'busybox'));
  for (const applet of execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a !== '' && a !== 'busybox')) {
    symlinkSync('busybox', join(dir, 'bin', applet));
  }
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  const install = join(dir, `.${INSTALL}`);
  const selftests = join(kernelTools!, 'tools', 'testing', 'selftests');
  cpSync(join(selftests, 'run_kselftest.sh'), join(install, 'run_kselftest.sh'));
  cpSync(join(selftests, 'kselftest'), join(install, 'kselftest'), { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', install]);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface InRootOptions {
  /** Run as this uid (and gid). */
  uid?: number;
  /** Mount /opt read-only first. */
  readOnly?: boolean;
  /** The working directory inside the root. */
  cwd?: string;
  timeoutMs?: number;
}

/** Runs `argv` inside the root; returns the status and output. */
export function inRoot(root: BusyboxRoot, argv: readonly string[], o: InRootOptions = {}): { status: number | null; stdout: string; stderr: string } {
  const ro = o.readOnly === true ? 'mount --bind "$R/opt" "$R/opt" && mount -o remount,bind,ro "$R/opt" && ' : '';
  const user = o.uid === undefined ? [] : [`--userspec=${o.uid}:${o.uid}`];
  const inner = o.cwd === undefined ? argv : ['/bin/sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', o.cwd, ...argv];
  const script = `R="$1"; shift; mount -t proc proc "$R/proc" && mount -t sysfs sysfs "$R/sys" && mount --rbind /dev "$R/dev" && ${ro}exec chroot "$@"`;
  const r = spawnSync('unshare', ['--mount', '--pid', '--fork', '--propagation', 'private', 'sh', '-c', script, 'sh', root.dir, ...user, root.dir, ...inner], {
    encoding: 'utf8',
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', TERM: 'dumb' },
    timeout: o.timeoutMs ?? 180_000,
    maxBuffer: 64 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
