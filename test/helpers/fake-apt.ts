/**
 * A stand-in for apt-get, apt-cache and dpkg-deb, for the tests of the VM
 * harness's private apt configurations (lib/vm/apt.ts, kernels.ts,
 * userland.ts) without a network: `update` succeeds or fails, `search` and
 * `show` print fixed output once the lists exist, `download` writes a .deb
 * named as apt names them, and `dpkg-deb -x` lays out the packaging.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ToolResult, ToolRunner } from '../../lib/vm/kernels.js';

const amd64Search = (arch: 'amd64' | 'arm64'): string =>
  [
    `linux-image-6.1.0-9-cloud-${arch}-unsigned - Linux 6.1 cloud`,
    `linux-image-6.1.0-57-cloud-${arch}-unsigned - Linux 6.1 cloud`,
    `linux-image-6.1.0-57-${arch}-unsigned - Linux 6.1 generic`,
    `linux-image-6.1.0-57-rt-${arch}-unsigned - Linux 6.1, PREEMPT_RT`,
    `linux-image-6.1.0-57-cloud-${arch}-dbg - Linux 6.1 cloud (debug symbols)`,
    `linux-image-6.1.0-58-cloud-${arch} - Linux 6.1 cloud (signed)`,
    `linux-image-6.12.9+deb12-cloud-${arch}-unsigned - Linux 6.12.9 cloud`,
    `linux-image-6.12.117+deb12-cloud-${arch}-unsigned - Linux 6.12.117 cloud`,
    `linux-image-6.12.117+deb12-${arch}-unsigned - Linux 6.12.117 generic`,
    `linux-image-6.12.48+deb12-cloud-${arch}-unsigned - Linux 6.12.48 cloud`,
    ...(arch === 'arm64' ? ['linux-image-6.12.117+deb12-arm64-16k-unsigned - Linux 6.12.117 for 64-bit ARMv8 machines with 16k pages'] : []),
  ].join('\n');

const backportsSearch = (arch: 'amd64' | 'arm64'): string =>
  [
    `linux-binary-unsigned-7.2.12+deb13-cloud-${arch} - Linux 7.2.12 cloud (unsigned kernel image)`,
    `linux-binary-unsigned-7.3.4+deb13-cloud-${arch} - Linux 7.3.4 cloud (unsigned kernel image)`,
    `linux-binary-unsigned-7.3.4+deb13-${arch} - Linux 7.3.4 generic (unsigned kernel image)`,
    `linux-binary-unsigned-7.3.4+deb13-rt-${arch} - Linux 7.3.4 PREEMPT_RT (unsigned kernel image)`,
    `linux-binary-unsigned-7.3.10+deb13-cloud-${arch} - Linux 7.3.10 cloud (unsigned kernel image)`,
    `linux-binary-unsigned-7.10.1+deb13-cloud-${arch} - Linux 7.10.1 cloud (unsigned kernel image)`,
    `linux-image-7.3.4+deb13-cloud-${arch}-dbg - Linux 7.3.4 cloud (debug symbols)`,
    ...(arch === 'arm64' ? ['linux-binary-unsigned-7.3.10+deb13-arm64-16k - Linux 7.3.10 for 64-bit ARMv8 machines with 16k pages (unsigned kernel image)'] : []),
  ].join('\n');

/** apt-cache search output of bookworm and trixie-backports, for amd64 and arm64. */
export const BOOKWORM_SEARCH = amd64Search('amd64');
export const BACKPORTS_SEARCH = backportsSearch('amd64');

/** The versions `apt-cache show` names for the userland packages. */
export const USERLAND_VERSIONS: Readonly<Record<string, string>> = {
  'busybox-static': '1:1.35.0-4+deb12u1+b1',
  libc6: '2.36-9+deb12u14',
  'libstdc++6': '12.2.0-14+deb12u1',
  'libgcc-s1': '12.2.0-14+deb12u1',
  libatomic1: '12.2.0-14+deb12u1',
};

export interface FakeApt {
  calls: { cmd: string; args: readonly string[]; cwd?: string }[];
  run: ToolRunner;
}

/** The -o options of a call, and its other words. */
export function aptWords(args: readonly string[]): { options: string[]; words: string[] } {
  return { options: args.filter((_, i) => args[i - 1] === '-o'), words: args.filter((a, i) => a !== '-o' && args[i - 1] !== '-o') };
}

/** Lays out what each fake package holds. */
function unpackFake(name: string, root: string): void {
  let m: RegExpExecArray | null;
  if ((m = /^linux-image-(.*)-unsigned$/.exec(name))) {
    mkdirSync(join(root, 'boot'), { recursive: true });
    writeFileSync(join(root, 'boot', `vmlinuz-${m[1]}`), `image ${m[1]}`);
    writeFileSync(join(root, 'boot', `config-${m[1]}`), `CONFIG ${m[1]}`);
  } else if ((m = /^linux-binary-unsigned-(.*)$/.exec(name))) {
    mkdirSync(join(root, 'usr/lib/modules', m[1]!), { recursive: true });
    writeFileSync(join(root, 'usr/lib/modules', m[1]!, 'vmlinuz.unsigned'), `image ${m[1]}`);
  } else if ((m = /^linux-base-(.*)$/.exec(name))) {
    mkdirSync(join(root, 'usr/lib/modules', m[1]!), { recursive: true });
    writeFileSync(join(root, 'usr/lib/modules', m[1]!, 'config'), `CONFIG ${m[1]}`);
  } else if (name === 'busybox-static') {
    mkdirSync(join(root, 'bin'), { recursive: true });
    writeFileSync(join(root, 'bin', 'busybox'), 'busybox');
  } else if (name === 'libc6') {
    mkdirSync(join(root, 'lib/aarch64-linux-gnu/gconv'), { recursive: true });
    mkdirSync(join(root, 'usr/share/doc/libc6'), { recursive: true });
    for (const f of ['ld-linux-aarch64.so.1', 'libc.so.6', 'libm.so.6', 'gconv/UTF-16.so']) writeFileSync(join(root, 'lib/aarch64-linux-gnu', f), f);
    writeFileSync(join(root, 'usr/share/doc/libc6/copyright'), 'c');
  } else if (name === 'libstdc++6') {
    mkdirSync(join(root, 'usr/lib/aarch64-linux-gnu'), { recursive: true });
    writeFileSync(join(root, 'usr/lib/aarch64-linux-gnu', 'libstdc++.so.6.0.30'), 'stdc++');
  }
}

export function fakeApt(o: { update?: 'ok' | 'offline' | 'ENOENT' | 'locked-once'; download?: 'ok' | 'fail' } = {}): FakeApt {
  const calls: FakeApt['calls'] = [];
  let locked = o.update === 'locked-once';
  const ok = (stdout = ''): ToolResult => ({ status: 0, stdout, stderr: '' });
  const run: ToolRunner = async (cmd, args, options) => {
    calls.push({ cmd, args, cwd: options.cwd });
    if (cmd !== 'dpkg-deb' && o.update === 'ENOENT') return { status: null, stdout: '', stderr: '', failure: 'ENOENT' };
    const { options: opts, words } = aptWords(args);
    const lists = opts.find((a) => a.startsWith('Dir::State::Lists='))?.slice('Dir::State::Lists='.length);
    const arch = opts.find((a) => a.startsWith('APT::Architectures='))?.slice('APT::Architectures='.length) === 'arm64' ? 'arm64' : 'amd64';
    if (cmd === 'apt-get' && words.includes('update')) {
      if (locked) {
        locked = false;
        return { status: 100, stdout: '', stderr: `E: Could not get lock ${lists}/lock. It is held by process 4242 (apt-get)\n` };
      }
      if (o.update === 'offline') return { status: 0, stdout: '', stderr: 'W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving deb.debian.org\n' };
      writeFileSync(join(lists!, 'fake_Packages'), 'x');
      return ok('Hit:1 http://deb.debian.org/debian bookworm InRelease\n');
    }
    if (cmd === 'apt-cache') {
      if (!existsSync(join(lists!, 'fake_Packages'))) return ok('');
      if (words.includes('show')) {
        const names = words.slice(words.indexOf('show') + 1).filter((w) => !w.startsWith('--'));
        return ok(names.map((n) => `Package: ${n.split(':')[0]}\nArchitecture: ${n.split(':')[1]}\nVersion: ${USERLAND_VERSIONS[n.split(':')[0]!]}\n`).join('\n'));
      }
      return ok(words.some((w) => w.startsWith('^linux-binary-unsigned-7')) ? backportsSearch(arch) : amd64Search(arch));
    }
    if (cmd === 'apt-get' && words.includes('download')) {
      if (o.download === 'fail') return { status: 100, stdout: '', stderr: 'E: Failed to fetch http://deb.debian.org/... Could not resolve host\n' };
      for (const spec of words.slice(words.indexOf('download') + 1)) {
        const name = spec.replace(/[:=].*$/, '');
        writeFileSync(join(options.cwd!, `${name}_1.0-1_${arch}.deb`), name);
      }
      return ok();
    }
    if (cmd === 'dpkg-deb' && args[0] === '-x') {
      unpackFake(readFileSync(args[1]!, 'utf8'), args[2]!);
      return ok();
    }
    return { status: 1, stdout: '', stderr: `unexpected ${cmd} ${args.join(' ')}` };
  };
  return { calls, run };
}

/** Each call as "command first-word" ("apt-get update", "apt-cache search"). */
export function calls(apt: FakeApt): string[] {
  return apt.calls.map((c) => {
    const words = c.args.filter((a, i) => a !== '-o' && c.args[i - 1] !== '-o' && !a.startsWith('-q'));
    return `${c.cmd} ${words[0]}`;
  });
}
