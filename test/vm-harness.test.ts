/**
 * The VM harness's parts, without booting: the cpio writer (read back by
 * GNU cpio), the initramfs contents and its cache, ldd parsing, the console
 * reader's framing, and the kernel command line.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCpio } from '../lib/vm/cpio.js';
import { ConsoleReader, type ConsoleEvent } from '../lib/vm/console.js';
import { buildInitramfs, defaultInputs, findBusybox, GUEST, hashEntries, INIT_SCRIPT, initramfsEntries, runtimeModules, which } from '../lib/vm/initramfs.js';
import { initrdWithConfig } from '../lib/vm/initrd.js';
import { findPackageRoot } from '../lib/package-root.js';
import { compareReleases, configBeside, isKernelSpec, newestPackage, parseKernelSpec, resolveKernel, searchPattern, type Flavour, type KernelPackage } from '../lib/vm/kernels.js';
import { parseLdd, sharedLibraries } from '../lib/vm/ldd.js';
import type { VmArch } from '../lib/vm/arch.js';
import { kernelCommandLine, VmError } from '../lib/vm/qemu.js';
import { runPool } from '../lib/vm/run.js';
import { createProgress } from '../lib/cli/progress.js';
import { failureJson, hasFailures, readReportFile } from '../lib/reports.js';
import { itIf } from './helpers/caps.js';
import { BACKPORTS_SEARCH, BOOKWORM_SEARCH, calls, fakeApt } from './helpers/fake-apt.js';

const work = mkdtempSync(join(tmpdir(), 'memseal-harness-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const hasCpio = which('cpio') !== undefined;
const hasBusybox = ((): boolean => {
  try {
    findBusybox();
    return true;
  } catch {
    return false;
  }
})();

describe('cpio writer', () => {
  itIf(hasCpio, 'cpio is missing (apt-get install cpio)')('writes a newc archive that GNU cpio lists and extracts', () => {
    const src = join(work, 'payload.bin');
    const payload = Buffer.from(Array.from({ length: 5001 }, (_, i) => i % 251));
    writeFileSync(src, payload);
    const archive = join(work, 'a.cpio');
    const size = writeCpio(
      archive,
      [
        { type: 'file', path: '/bin/tool', mode: 0o755, source: src },
        { type: 'data', path: '/etc/motd', mode: 0o644, data: Buffer.from('hello\n') },
        { type: 'symlink', path: '/bin/sh', target: 'busybox' },
        { type: 'dir', path: '/tmp', mode: 0o1777 },
      ],
      (s) => statSync(s).size,
    );
    expect(statSync(archive).size).toBe(size);
    expect(size % 4).toBe(0);
    const listing = execFileSync('cpio', ['-t', '--quiet', '-F', archive], { encoding: 'utf8' }).trim().split('\n');
    // Parents were added and come before their children.
    expect(listing).toEqual(['bin', 'bin/sh', 'bin/tool', 'etc', 'etc/motd', 'tmp']);
    const out = join(work, 'x');
    execFileSync('sh', ['-c', `mkdir -p ${out} && cd ${out} && cpio -i -d --quiet --no-absolute-filenames -F ${archive}`]);
    expect(readFileSync(join(out, 'bin/tool')).equals(payload)).toBe(true);
    expect(statSync(join(out, 'bin/tool')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(out, 'etc/motd'), 'utf8')).toBe('hello\n');
    expect(lstatSync(join(out, 'bin/sh')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(out, 'bin/sh'))).toBe('busybox');
    // Same entries, same bytes: nothing of the host (owner, time) leaks in.
    const again = join(work, 'b.cpio');
    writeCpio(again, [{ type: 'data', path: '/etc/motd', mode: 0o644, data: Buffer.from('hello\n') }], () => 0);
    const third = join(work, 'c.cpio');
    writeCpio(third, [{ type: 'data', path: '/etc/motd', mode: 0o644, data: Buffer.from('hello\n') }], () => 0);
    expect(readFileSync(again).equals(readFileSync(third))).toBe(true);
  });
});

describe('ldd', () => {
  it('parses libraries, the loader, and skips the vDSO', () => {
    const text = [
      '\tlinux-vdso.so.1 (0x00007ffd5c9f2000)',
      '\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f0a1c200000)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0a1c01e000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f0a1c5f6000)',
    ].join('\n');
    expect(parseLdd(text)).toEqual(['/lib/x86_64-linux-gnu/libstdc++.so.6', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
    expect(parseLdd('\tnot a dynamic executable\n')).toEqual([]);
  });

  it('names a library ldd cannot find', () => {
    expect(() => parseLdd('\tlibgone.so.1 => not found\n', 'node')).toThrow('node needs libgone.so.1, which ldd cannot find');
  });

  it("lists node's own libraries, every one an existing file", () => {
    const libs = sharedLibraries(process.execPath);
    expect(libs.some((l) => /\/libc\.so\.6$/.test(l))).toBe(true);
    for (const l of libs) expect(statSync(l).isFile(), l).toBe(true);
  });
});

describe('initramfs', () => {
  itIf(hasBusybox, 'busybox is missing (apt-get install busybox-static)')('holds init, busybox, node with its libraries, and the package', () => {
    const inputs = defaultInputs();
    const entries = initramfsEntries(inputs);
    const paths = new Set(entries.map((e) => e.path));
    for (const p of ['/init', GUEST.busybox, GUEST.node, GUEST.cli, '/memseal/package.json', '/memseal/prebuilds/linux-x64/memseal.node', '/dev/console', '/proc', '/sys', '/tmp', '/run', '/boot', '/etc/hosts']) {
      expect(paths, p).toContain(p);
    }
    const etc = (p: string): string => (entries.find((e) => e.path === p) as { data: Buffer }).data.toString();
    expect(etc('/etc/passwd')).toMatch(/^root:x:0:0:/m);
    expect(etc('/etc/passwd')).toMatch(/^nobody:x:65534:65534:/m);
    expect(etc('/etc/group')).toMatch(/^nogroup:x:65534:/m);
    for (const lib of sharedLibraries(process.execPath)) expect(paths, lib).toContain(lib);
    // The runtime dependencies (memseal has none), and nothing from devDependencies.
    expect([...runtimeModules(inputs.packageRoot).keys()]).toEqual([]);
    expect([...paths].some((p) => p.startsWith('/memseal/node_modules/'))).toBe(false);
    expect([...paths].some((p) => p.includes('/node_modules/typescript/'))).toBe(false);
    expect([...paths].some((p) => p.endsWith('.map'))).toBe(false);
    // Parents precede children, as the kernel needs.
    const index = new Map(entries.map((e, i) => [e.path, i]));
    for (const e of entries) {
      const parent = e.path.slice(0, e.path.lastIndexOf('/'));
      if (parent !== '') expect(index.get(parent)!, e.path).toBeLessThan(index.get(e.path)!);
    }
  });

  it('hashes content: same entries, same hash; one byte changed, another', () => {
    const a = [{ type: 'data' as const, path: '/init', mode: 0o755, data: Buffer.from('#!/bin/sh\n') }];
    const b = [{ type: 'data' as const, path: '/init', mode: 0o755, data: Buffer.from('#!/bin/sh \n') }];
    expect(hashEntries(a)).toBe(hashEntries(a));
    expect(hashEntries(a)).not.toBe(hashEntries(b));
    expect(hashEntries(a)).not.toBe(hashEntries([{ ...a[0]!, mode: 0o644 }]));
  });

  itIf(hasBusybox && hasCpio, 'busybox or cpio is missing')('builds once, then reuses the cached image; another node gives another image', () => {
    const cache = join(work, 'cache');
    const inputs = defaultInputs();
    const first = buildInitramfs(inputs, { cacheDir: cache });
    expect(first.cached).toBe(false);
    const second = buildInitramfs(inputs, { cacheDir: cache });
    expect(second.cached).toBe(true);
    expect(second.path).toBe(first.path);
    expect(second.hash).toBe(first.hash);
    const listing = execFileSync('cpio', ['-t', '--quiet', '-F', first.path], { encoding: 'utf8', maxBuffer: 1 << 24 }).split('\n');
    expect(listing).toContain('init');
    expect(listing).toContain('memseal/dist/cli/main.js');
    // A copy of node with one byte appended is another input.
    const node = join(work, 'node');
    writeFileSync(node, Buffer.concat([readFileSync(process.execPath), Buffer.from([0])]), { mode: 0o755 });
    const other = buildInitramfs({ ...inputs, node }, { cacheDir: cache });
    expect(other.cached).toBe(false);
    expect(other.hash).not.toBe(first.hash);
    console.log(`[timing] initramfs ${(first.bytes / 1048576).toFixed(1)} MiB built in ${first.seconds.toFixed(2)} s, reused in ${second.seconds.toFixed(2)} s`);
  });

  itIf(hasBusybox && hasCpio, 'busybox or cpio is missing')("appends a kernel's configuration as a second archive, cached", () => {
    const cache = join(work, 'cache-config');
    const image = buildInitramfs(defaultInputs(), { cacheDir: cache });
    const config = join(work, 'config-6.1.0-57-cloud-amd64');
    writeFileSync(config, 'CONFIG_SECRETMEM=y\n');
    expect(initrdWithConfig(image, undefined, { cacheDir: cache })).toBe(image.path);
    const initrd = initrdWithConfig(image, config, { cacheDir: cache });
    expect(initrd).not.toBe(image.path);
    expect(initrdWithConfig(image, config, { cacheDir: cache })).toBe(initrd);
    const [base, all] = [readFileSync(image.path), readFileSync(initrd)];
    expect(all.subarray(0, base.length).equals(base)).toBe(true);
    const tail = join(work, 'tail.cpio');
    writeFileSync(tail, all.subarray(base.length));
    expect(execFileSync('cpio', ['-t', '--quiet', '-F', tail], { encoding: 'utf8' }).trim().split('\n')).toEqual(['boot', GUEST.kernelConfig.slice(1)]);
    expect(INIT_SCRIPT).toContain(`ln -sf ${GUEST.kernelConfig.slice('/boot/'.length)} /boot/config-$(uname -r)`);
  });

  itIf(hasBusybox, 'busybox is missing (apt-get install busybox-static)')('its init script parses under busybox sh and runs the commands of the @memseal word', () => {
    const busybox = findBusybox();
    const init = join(work, 'init.sh');
    // Run the command loop alone: everything after `seen=` with mount and run replaced.
    const loop = INIT_SCRIPT.slice(INIT_SCRIPT.indexOf('set -f'), INIT_SCRIPT.indexOf('echo "===MEMSEAL-DONE==="'));
    writeFileSync(init, `run() { echo "RUN[$*]"; }\n${loop.replace(/^run\(\) \{[\s\S]*?^\}\n/m, '')}`);
    const word = `@memseal=${Buffer.from('probe --json\nconform --filter mseal.*\nexec /bin/busybox -- -la').toString('base64')}`;
    const out = execFileSync(busybox, ['sh', init, 'quiet', 'x=y', word], { encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual(['RUN[probe --json]', 'RUN[conform --filter mseal.*]', 'RUN[exec /bin/busybox -- -la]']);
    expect(execFileSync(busybox, ['sh', init, '@memseal='], { encoding: 'utf8' })).toBe('');
    expect(spawnSync(busybox, ['sh', '-n', '-c', INIT_SCRIPT]).status).toBe(0);
  });
});

function frame(index: number, stream: string, data: Buffer, rc = 0): string[] {
  const b64 = gzipSync(data).toString('base64');
  const lines = b64.match(/.{1,76}/g) ?? [];
  const sha = createHash('sha256').update(data).digest('hex');
  return [`===MEMSEAL-BEGIN ${index} ${stream}===`, ...lines, `===MEMSEAL-END ${index} ${stream} rc=${rc} bytes=${data.length} sha256=${sha}===`];
}

describe('console reader', () => {
  it('reassembles framed output split across chunks, through escapes and CRLF', () => {
    const events: ConsoleEvent[] = [];
    const reader = new ConsoleReader((e) => events.push(e));
    const json = Buffer.from(JSON.stringify({ kernel: { release: '6.1.0' }, big: 'x'.repeat(3000) }));
    const text = [
      '\u001bc\u001b[?7l\u001b[2JSeaBIOS (version 1.16.2)',
      '[    0.000000] Linux version 6.1.0-56-cloud-amd64 (gcc-12)',
      '===MEMSEAL-INIT 6.1.0-56-cloud-amd64===',
      '===MEMSEAL-RUN 1===',
      ...frame(1, 'stdout', json),
      ...frame(1, 'stderr', Buffer.alloc(0), 0),
      '===MEMSEAL-DONE===',
    ].join('\r\n');
    for (let i = 0; i < text.length; i += 97) reader.feed(Buffer.from(text.slice(i, i + 97), 'latin1'));
    reader.end();
    expect(events.map((e) => e.type)).toEqual(['kernel', 'init', 'run', 'output', 'output', 'done']);
    expect(reader.outputs[0]!.data.equals(json)).toBe(true);
    expect(reader.outputs[1]!.data.length).toBe(0);
    // Base64 stays out of the tail; escapes and CRs are gone.
    expect(reader.tail()).toEqual(['SeaBIOS (version 1.16.2)', '[    0.000000] Linux version 6.1.0-56-cloud-amd64 (gcc-12)', '===MEMSEAL-INIT 6.1.0-56-cloud-amd64===', '===MEMSEAL-RUN 1===', '===MEMSEAL-DONE===']);
  });

  it('reports output that a kernel message broke, and a panic', () => {
    const events: ConsoleEvent[] = [];
    const reader = new ConsoleReader((e) => events.push(e));
    let seed = 7;
    const noise = Buffer.from(Array.from({ length: 4000 }, () => 65 + ((seed = (seed * 1103515245 + 12345) % 2147483648) % 26)));
    const lines = frame(2, 'stdout', noise);
    // A kernel line lands in the middle of a base64 line.
    const mid = lines[2]!;
    lines[2] = `${mid.slice(0, 30)}[   3.1] BUG: something`;
    lines.splice(3, 0, mid.slice(30));
    reader.feed(`${lines.join('\n')}\n[    1.2] Initramfs unpacking failed: write error\n[    4.2] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n`);
    expect(events.map((e) => e.type)).toEqual(['corrupt', 'unpack-failed', 'panic']);
    expect(reader.outputs).toEqual([]);
    expect(events[1]).toEqual({ type: 'unpack-failed', line: 'Initramfs unpacking failed: write error' });
    expect(events[2]).toEqual({ type: 'panic', line: 'Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100' });
  });
});

describe('kernel command line', () => {
  const decode = (line: string): string => Buffer.from(/ -- @memseal=(\S*)$/.exec(line)![1]!, 'base64').toString();

  it('puts the console, panic=-1, no_timer_check, the user arguments, then the commands after -- as one word', () => {
    const line = kernelCommandLine(' secretmem.enable=1  quiet ', [['probe', '--json'], ['conform', '--json']]);
    expect(line).toMatch(/^console=ttyS0 panic=-1 no_timer_check secretmem\.enable=1 quiet -- @memseal=[A-Za-z0-9+/=]+$/);
    expect(decode(line)).toBe('probe --json\nconform --json');
    expect(kernelCommandLine('', [])).toBe('console=ttyS0 panic=-1 no_timer_check -- @memseal=');
    // Many words, and a -- of their own: the kernel would panic past 32 init arguments and stop at a second --.
    const many = [['exec', '--argv0', 'ls', '/bin/busybox', '--', ...Array.from({ length: 40 }, (_, i) => `/p${i}`)]];
    expect(decode(kernelCommandLine('', many))).toBe(many[0]!.join(' '));
  });

  it('refuses what cannot travel on it', () => {
    expect(() => kernelCommandLine('a -- b', [['probe']])).toThrow(VmError);
    expect(() => kernelCommandLine('@memseal=x', [['probe']])).toThrow(/must not contain @memseal=/);
    expect(() => kernelCommandLine('', [['conform', '--filter', 'a b']])).toThrow(/no empty arguments, no spaces/);
    expect(() => kernelCommandLine('', [['conform', '']])).toThrow(/cannot travel/);
    expect(() => kernelCommandLine('', [[]])).toThrow(/an empty guest command/);
    expect(() => kernelCommandLine('x'.repeat(3000), [['probe']])).toThrow(/the limit is 2047/);
  });
});

describe('debian: kernel specs', () => {
  it('parses a series and its archive; refuses what is not one', () => {
    expect(parseKernelSpec('debian:6.12')).toEqual({ series: '6.12', flavour: 'cloud', archive: 'bookworm', arch: 'x86_64' });
    expect(parseKernelSpec('debian:6.1', 'generic')).toEqual({ series: '6.1', flavour: 'generic', archive: 'bookworm', arch: 'x86_64' });
    expect(parseKernelSpec('debian:7')).toEqual({ series: '7', flavour: 'cloud', archive: 'trixie-backports', arch: 'x86_64' });
    expect(parseKernelSpec('debian:7.3').archive).toBe('trixie-backports');
    for (const bad of ['debian:', 'debian:latest', 'debian:6.1.0', 'debian:6.x', 'ubuntu:6.8']) {
      expect(() => parseKernelSpec(bad), bad).toThrow(/is not a kernel spec: write debian:SERIES/);
    }
    expect(() => parseKernelSpec('debian:5.10')).toThrow(/pass an older kernel's image path/);
    expect(() => parseKernelSpec('debian:6.1', 'rt' as Flavour)).toThrow(/--flavour is cloud, generic, 16k/);
    expect(() => parseKernelSpec('debian:7', '16k')).toThrow(/--flavour 16k does not exist for x86_64 \(Debian builds cloud, generic kernels for it\)/);
    expect(isKernelSpec('debian:6.1')).toBe(true);
    expect(isKernelSpec('/boot/vmlinuz-6.1')).toBe(false);
  });

  it('picks the newest kernel of a series and flavour, numerically, from apt-cache search output', () => {
    const pick = (spec: string, out: string, flavour: Flavour = 'cloud'): KernelPackage | undefined => newestPackage(parseKernelSpec(spec, flavour), out);
    expect(pick('debian:6.1', BOOKWORM_SEARCH)).toEqual({ package: 'linux-image-6.1.0-57-cloud-amd64-unsigned', release: '6.1.0-57-cloud-amd64', configPackage: undefined });
    expect(pick('debian:6.1', BOOKWORM_SEARCH, 'generic')?.package).toBe('linux-image-6.1.0-57-amd64-unsigned');
    // 6.1 is not a prefix of 6.12; 117 > 48 > 9.
    expect(pick('debian:6.12', BOOKWORM_SEARCH)).toEqual({ package: 'linux-image-6.12.117+deb12-cloud-amd64-unsigned', release: '6.12.117+deb12-cloud-amd64', configPackage: undefined });
    expect(pick('debian:6.12', BOOKWORM_SEARCH, 'generic')?.release).toBe('6.12.117+deb12-amd64');
    expect(pick('debian:6', BOOKWORM_SEARCH)?.package).toBe('linux-image-6.12.117+deb12-cloud-amd64-unsigned');
    // 7.x: the other packaging; its configuration is in linux-base-<release>.
    expect(pick('debian:7.3', BACKPORTS_SEARCH)).toEqual({
      package: 'linux-binary-unsigned-7.3.10+deb13-cloud-amd64',
      release: '7.3.10+deb13-cloud-amd64',
      configPackage: 'linux-base-7.3.10+deb13-cloud-amd64',
    });
    expect(pick('debian:7', BACKPORTS_SEARCH)?.release).toBe('7.10.1+deb13-cloud-amd64');
    expect(pick('debian:7.3', BACKPORTS_SEARCH, 'generic')?.package).toBe('linux-binary-unsigned-7.3.4+deb13-amd64');
    expect(pick('debian:7.2', BACKPORTS_SEARCH, 'generic')).toBeUndefined();
    expect(pick('debian:6.1', '')).toBeUndefined();
    expect(compareReleases('6.12.9+deb12-cloud-amd64', '6.12.117+deb12-cloud-amd64')).toBeLessThan(0);
    expect(searchPattern(parseKernelSpec('debian:6.1'))).toBe('^linux-image-6\\.1[.]');
    expect(searchPattern(parseKernelSpec('debian:7'))).toBe('^linux-binary-unsigned-7[.]');
  });

  it("finds the config Debian keeps beside an image", () => {
    const dir = join(work, 'beside');
    mkdirSync(join(dir, 'boot'), { recursive: true });
    mkdirSync(join(dir, 'mod'), { recursive: true });
    for (const f of ['boot/vmlinuz-6.1.0-57-cloud-amd64', 'boot/config-6.1.0-57-cloud-amd64', 'mod/vmlinuz.unsigned', 'mod/config', 'boot/vmlinuz-other']) writeFileSync(join(dir, f), f);
    expect(configBeside(join(dir, 'boot/vmlinuz-6.1.0-57-cloud-amd64'))).toBe(join(dir, 'boot/config-6.1.0-57-cloud-amd64'));
    expect(configBeside(join(dir, 'mod/vmlinuz.unsigned'))).toBe(join(dir, 'mod/config'));
    expect(configBeside(join(dir, 'boot/vmlinuz-other'))).toBeUndefined();
  });
});

describe('debian: kernels, fetched through a private apt configuration', () => {
  const keyring = join(work, 'keyring.gpg');
  writeFileSync(keyring, 'not really a keyring');
  let n = 0;
  const fresh = (): string => join(work, `kcache-${++n}`);

  it('fetches the newest 6.12: apt only ever sees its own sources.list, lists and cache under the cache dir', async () => {
    const cacheDir = fresh();
    const apt = fakeApt();
    const lines: string[] = [];
    const k = await resolveKernel('debian:6.12', { cacheDir, keyring, exec: apt.run, progress: (l) => lines.push(l) });
    expect(k).toMatchObject({ package: 'linux-image-6.12.117+deb12-cloud-amd64-unsigned', release: '6.12.117+deb12-cloud-amd64', version: '1.0-1', cached: false });
    expect(readFileSync(k.image, 'utf8')).toBe('image 6.12.117+deb12-cloud-amd64');
    expect(readFileSync(k.config!, 'utf8')).toBe('CONFIG 6.12.117+deb12-cloud-amd64');
    expect(k.image.startsWith(join(cacheDir, 'kernels'))).toBe(true);
    expect(calls(apt)).toEqual(['apt-get update', 'apt-cache search', 'apt-get download', 'dpkg-deb -x']);
    for (const c of apt.calls.filter((x) => x.cmd !== 'dpkg-deb')) {
      const opts = c.args.filter((_, i) => c.args[i - 1] === '-o');
      expect(opts).toContain(`Dir::Etc::sourcelist=${join(cacheDir, 'apt', 'bookworm', 'sources.list')}`);
      expect(opts).toContain('Dir::Etc::sourceparts=-');
      expect(opts).toContain(`Dir::State::Lists=${join(cacheDir, 'apt', 'bookworm', 'lists')}`);
      expect(opts).toContain(`Dir::Cache=${join(cacheDir, 'apt', 'bookworm', 'cache')}`);
      expect(c.args.join(' ')).not.toMatch(/\/etc\/apt|\/var\/lib\/apt|\/var\/cache\/apt/);
    }
    const sources = readFileSync(join(cacheDir, 'apt', 'bookworm', 'sources.list'), 'utf8');
    expect(sources).toContain(`deb [arch=amd64 signed-by=${keyring}] http://deb.debian.org/debian-security bookworm-security main`);
    // The download ran in a temporary directory of the cache, which is gone.
    const dl = apt.calls.find((c) => c.args.includes('download'))!;
    expect(dl.cwd!.startsWith(join(cacheDir, 'kernels'))).toBe(true);
    expect(existsSync(dl.cwd!)).toBe(false);
    expect(lines.some((l) => /downloading linux-image-6\.12\.117\+deb12-cloud-amd64-unsigned \(apt-get download\)/.test(l))).toBe(true);

    // Again: fresh lists, cached kernel: no update, no download.
    const again = fakeApt();
    const k2 = await resolveKernel('debian:6.12', { cacheDir, keyring, exec: again.run });
    expect(k2).toMatchObject({ image: k.image, config: k.config, cached: true });
    expect(calls(again)).toEqual(['apt-cache search']);
    // Old lists are refreshed first.
    const old = fakeApt();
    await resolveKernel('debian:6.12', { cacheDir, keyring, exec: old.run, listsMaxAgeSeconds: 0 });
    expect(calls(old)).toEqual(['apt-get update', 'apt-cache search']);
  });

  it('fetches 7.x from trixie-backports: the image from linux-binary-unsigned, the config from linux-base', async () => {
    const cacheDir = fresh();
    const apt = fakeApt();
    const k = await resolveKernel('debian:7.3', { cacheDir, keyring, exec: apt.run });
    expect(k).toMatchObject({ package: 'linux-binary-unsigned-7.3.10+deb13-cloud-amd64', release: '7.3.10+deb13-cloud-amd64' });
    expect(readFileSync(k.config!, 'utf8')).toBe('CONFIG 7.3.10+deb13-cloud-amd64');
    const dl = apt.calls.find((c) => c.args.includes('download'))!;
    expect(dl.args.slice(-2)).toEqual(['linux-binary-unsigned-7.3.10+deb13-cloud-amd64', 'linux-base-7.3.10+deb13-cloud-amd64']);
    expect(readFileSync(join(cacheDir, 'apt', 'trixie-backports', 'sources.list'), 'utf8')).toBe(`deb [arch=amd64 signed-by=${keyring}] http://deb.debian.org/debian trixie-backports main\n`);
    expect(existsSync(join(cacheDir, 'apt', 'bookworm'))).toBe(false);
  });

  it('two kernels of one archive at once share one apt-get update', async () => {
    const cacheDir = fresh();
    const apt = fakeApt();
    const [a, b] = await Promise.all([
      resolveKernel('debian:6.1', { cacheDir, keyring, exec: apt.run }),
      resolveKernel('debian:6.12', { cacheDir, keyring, exec: apt.run }),
    ]);
    expect([a.release, b.release]).toEqual(['6.1.0-57-cloud-amd64', '6.12.117+deb12-cloud-amd64']);
    expect(calls(apt).filter((c) => c === 'apt-get update')).toHaveLength(1);
  });

  it('offline: with nothing cached, a typed error that says so and how to pass an image', async () => {
    const err = await resolveKernel('debian:6.1', { cacheDir: fresh(), keyring, exec: fakeApt({ update: 'offline' }).run }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VmError);
    expect((err as VmError).code).toBe('offline');
    expect((err as VmError).message).toMatch(/apt could not update its package lists \(W: Failed to fetch .*\)\. Offline\? Pass an image you have with --kernel PATH\/TO\/vmlinuz/);
  });

  it('offline: with a kernel cached, uses the newest cached one and says so', async () => {
    const cacheDir = fresh();
    await resolveKernel('debian:6.12', { cacheDir, keyring, exec: fakeApt().run });
    const lines: string[] = [];
    const k = await resolveKernel('debian:6.12', { cacheDir, keyring, exec: fakeApt({ update: 'offline' }).run, listsMaxAgeSeconds: 0, progress: (l) => lines.push(l) });
    expect(k).toMatchObject({ release: '6.12.117+deb12-cloud-amd64', cached: true });
    expect(lines.join('\n')).toMatch(/apt could not update its package lists .*; going by the lists apt has/);
    // Lists gone too: the cached kernel, said so.
    rmSync(join(cacheDir, 'apt'), { recursive: true });
    const lines2: string[] = [];
    const k2 = await resolveKernel('debian:6.12', { cacheDir, keyring, exec: fakeApt({ update: 'offline' }).run, progress: (l) => lines2.push(l) });
    expect(k2.image).toBe(k.image);
    expect(lines2.join('\n')).toMatch(/using the newest cached debian:6\.12 kernel, linux-image-6\.12\.117\+deb12-cloud-amd64-unsigned 1\.0-1/);
  });

  it('a failed download is a typed error; without apt or its keyring, the error says what to install or pass', async () => {
    const dl = await resolveKernel('debian:6.1', { cacheDir: fresh(), keyring, exec: fakeApt({ download: 'fail' }).run }).catch((e: unknown) => e);
    expect((dl as VmError).code).toBe('download-failed');
    expect((dl as VmError).message).toMatch(/apt-get download linux-image-6\.1\.0-57-cloud-amd64-unsigned failed \(E: Failed to fetch.*\): offline\? Pass an image/);
    const noApt = await resolveKernel('debian:6.1', { cacheDir: fresh(), keyring, exec: fakeApt({ update: 'ENOENT' }).run }).catch((e: unknown) => e);
    expect((noApt as VmError).code).toBe('no-apt');
    expect((noApt as VmError).message).toMatch(/apt-get is not installed.*--kernel PATH\/TO\/vmlinuz/);
    const noKeyring = await resolveKernel('debian:6.1', { cacheDir: fresh(), keyring: join(work, 'none.gpg'), exec: fakeApt().run }).catch((e: unknown) => e);
    expect((noKeyring as VmError).code).toBe('no-apt');
    expect((noKeyring as VmError).message).toMatch(/none\.gpg is missing: apt needs Debian's archive keyring \(apt-get install debian-archive-keyring\)/);
  });

  it('waits for another apt-get that holds the lists', async () => {
    const apt = fakeApt({ update: 'locked-once' });
    const lines: string[] = [];
    const k = await resolveKernel('debian:6.1', { cacheDir: fresh(), keyring, exec: apt.run, progress: (l) => lines.push(l) });
    expect(k.release).toBe('6.1.0-57-cloud-amd64');
    expect(calls(apt).filter((c) => c === 'apt-get update')).toHaveLength(2);
    expect(lines.join('\n')).toMatch(/another apt-get holds the lock on .*; waiting/);
  });

  it('a series Debian does not have is named', async () => {
    const err = await resolveKernel('debian:6.6', { cacheDir: fresh(), keyring, exec: fakeApt().run }).catch((e: unknown) => e);
    expect((err as VmError).code).toBe('no-such-kernel');
    expect((err as VmError).message).toMatch(/cannot fetch debian:6\.6: apt knows no .* in bookworm/);
  });
});


// --- several kernels at once: the pool, the progress lines, a column without a report ---

describe('runPool', () => {
  it('runs at most `jobs` tasks at once and returns results in order', async () => {
    for (const jobs of [1, 2, 3, 10]) {
      let inFlight = 0;
      let most = 0;
      const started: number[] = [];
      const results = await runPool([50, 10, 30, 5, 20], jobs, async (ms, i) => {
        started.push(i);
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, ms));
        inFlight--;
        return `#${i}`;
      });
      expect(results).toEqual(['#0', '#1', '#2', '#3', '#4']);
      expect(most, `jobs ${jobs}`).toBe(Math.min(jobs, 5));
      expect(started).toEqual([0, 1, 2, 3, 4]);
    }
    expect(await runPool([], 4, async () => 1)).toEqual([]);
    await expect(runPool([1], 0, async () => 1)).rejects.toThrow(RangeError);
  });
});

/** A terminal just good enough for the progress board: text, newlines, cursor up, clear line. */
function fakeTerminal(columns = 60): { stream: NodeJS.WritableStream; screen: () => string[] } {
  const rows: string[] = [''];
  let row = 0;
  // eslint-disable-next-line no-control-regex
  const [split, up, clear] = [/(\u001b\[\d*[AK]|\n)/, /^\u001b\[\d*A$/, /^\u001b\[\d*K$/];
  const write = (chunk: string): boolean => {
    for (const part of chunk.split(split)) {
      if (part === '\n') {
        row++;
        if (rows.length <= row) rows.push('');
      } else if (up.test(part)) row -= Number(part.slice(2, -1) || 1);
      else if (clear.test(part)) rows[row] = '';
      else rows[row] += part;
    }
    return true;
  };
  return { stream: { write, isTTY: true, columns } as unknown as NodeJS.WritableStream, screen: () => rows.slice(0, -1) };
}

describe('progress of several boots', () => {
  it('elsewhere than a terminal: one prefixed line per event; one kernel: no prefix', () => {
    let out = '';
    const stream = { write: (s: string): boolean => ((out += s), true) } as unknown as NodeJS.WritableStream;
    const p = createProgress({ stream, prefix: 'memseal vm:', titles: ['debian:6.1', 'debian:6.1 secretmem.enable=1'] });
    p.of(0)('booting');
    p.of(1)('booting');
    p.log('an error\n');
    p.of(0)('done');
    expect(out).toBe(['memseal vm: [1] debian:6.1: booting', 'memseal vm: [2] debian:6.1 secretmem.enable=1: booting', 'an error', 'memseal vm: [1] debian:6.1: done', ''].join('\n'));
    out = '';
    createProgress({ stream, prefix: 'memseal vm:', titles: ['debian:7'] }).of(0)('booting');
    expect(out).toBe('memseal vm: booting\n');
  });

  it('on a terminal: one line per kernel, rewritten in place; messages go above them', () => {
    const t = fakeTerminal(44);
    const p = createProgress({ stream: t.stream, prefix: 'vm:', titles: ['debian:6.1', 'debian:6.12', 'debian:7'] });
    expect(t.screen()).toEqual(['vm: [1] debian:6.1: waiting', 'vm: [2] debian:6.12: waiting', 'vm: [3] debian:7: waiting']);
    p.of(1)('booting');
    p.of(0)('booting');
    p.of(1)('12.0 s: init is running on 6.12.117+deb12-cloud-amd64');
    p.log('vm: debian:7: the guest kernel panicked');
    p.of(2)('no report (panic)');
    p.done();
    expect(t.screen()).toEqual([
      'vm: debian:7: the guest kernel panicked',
      'vm: [1] debian:6.1: booting',
      'vm: [2] debian:6.12: 12.0 s: init is runni…',
      'vm: [3] debian:7: no report (panic)',
    ]);
    // Each line fits the terminal's width, less one column.
    for (const l of t.screen()) expect(l.length).toBeLessThanOrEqual(43);
  });
});

describe('a kernel that gave no report', () => {
  it('is a column of errors in the matrix, with the reason below; the run fails; diff refuses it', () => {
    const root = findPackageRoot();
    const ok = join(root, 'test', 'fixtures', 'reports', 'conform-6.1-vm.json');
    const failed = join(work, 'failed.json');
    writeFileSync(failed, JSON.stringify(failureJson({ code: 'panic', message: 'the guest kernel panicked: Kernel panic - not syncing: VFS\n--- the console ---' }, { kernel: 'debian:7.3', append: '' }, ['conform', '--json'])));
    const r = readReportFile(failed)[0]!;
    expect(r.failure).toEqual({ code: 'panic', message: expect.stringMatching(/^the guest kernel panicked/) });
    expect(r.label).toBe('debian:7.3');
    expect(hasFailures(r)).toBe(true);
    const cli = join(root, 'dist', 'cli', 'main.js');
    const run = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
      spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const m = run(['vm', '--report', ok, '--report', failed]);
    expect(m.status).toBe(1);
    const good = readReportFile(ok)[0]!;
    for (const e of good.entries) {
      const row = m.stdout.split('\n').find((l) => l.trim().startsWith(`${e.id} `));
      // Not starred: a column without a report says nothing about a row.
      expect(row, e.id).toMatch(new RegExp(`^ +${e.id.replace(/\./g, '\\.')}\\s+${e.status}\\s+error$`));
    }
    expect(m.stdout).toMatch(/^\[2\] debian:7\.3: no report \(panic\): the guest kernel panicked: Kernel panic - not syncing: VFS$/m);
    const d = run(['diff', ok, failed]);
    expect(d.status).toBe(2);
    expect(d.stderr).toMatch(/debian:7\.3 gave no report \(panic\): the guest kernel panicked/);
  });
});

describe('docs/kernel-matrix.yml, the GitHub Actions matrix the README points to', () => {
  const root = findPackageRoot();
  const yml = readFileSync(join(root, 'docs', 'kernel-matrix.yml'), 'utf8');
  const lines = yml.split('\n');
  const cli = join(root, 'dist', 'cli', 'main.js');
  const help = (args: string[]): string => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' }).stdout;

  it('is YAML-shaped: spaces only, even indentation, the jobs and actions it needs', () => {
    expect(yml).not.toMatch(/\t/);
    for (const l of lines) expect(l.length - l.trimStart().length, l).toSatisfy((n: number) => n % 2 === 0);
    for (const needed of [/^jobs:$/m, /^ {2}boot:$/m, /^ {4}strategy:$/m, /^ {6}matrix:$/m, /^ {2}matrix:$/m, /^ {4}needs: boot$/m]) expect(yml).toMatch(needed);
    for (const action of ['actions/checkout@v4', 'actions/setup-node@v4', 'actions/upload-artifact@v4', 'actions/download-artifact@v4']) expect(yml).toContain(`uses: ${action}`);
    expect(yml).toMatch(/apt-get install -y .*qemu-system-x86 .*busybox-static .*cpio .*debian-archive-keyring/);
    expect(yml).toMatch(/npm ci/);
  });

  it('runs only memseal commands and flags that exist, on kernel specs memseal takes', () => {
    const commands = help(['--help']);
    const vmHelp = help(['vm', '--help']);
    const calls = lines.map((l) => l.trim().replace(/^run: /, '')).filter((l) => /^(npx )?memseal /.test(l));
    expect(calls.length).toBeGreaterThanOrEqual(3);
    for (const call of calls) {
      const words = call.replace(/^npx /, '').split(/\s+/);
      expect(commands, call).toContain(`memseal ${words[1]} `);
      if (words[1] === 'vm') for (const flag of words.filter((w) => w.startsWith('--'))) expect(vmHelp, `${flag} in: ${call}`).toContain(flag);
    }
    // One `memseal vm --kernel debian:... --json` per job, merged by --report and compared by diff.
    expect(calls.some((c) => /^memseal vm --kernel debian:\$\{\{ matrix\.kernel \}\} .*--json > report\.json$/.test(c))).toBe(true);
    expect(calls.some((c) => /^memseal vm "\$\{args\[@\]\}"$/.test(c))).toBe(true);
    expect(yml).toContain('args+=(--report "$f")');
    expect(calls.some((c) => c.startsWith('memseal diff '))).toBe(true);
    // Every kernel in the matrix is a spec memseal accepts, and the diff reads artifacts the matrix makes.
    const entries = [...yml.matchAll(/- \{ name: '([^']+)', kernel: '([^']+)', append: '([^']*)'(?:, flavour: (\w+))?(?:, arch: (\w+))? \}/g)];
    expect(entries.length).toBeGreaterThanOrEqual(4);
    for (const [, , kernel, , flavour, arch] of entries) expect(() => parseKernelSpec(`debian:${kernel}`, (flavour ?? 'cloud') as Flavour, (arch ?? 'x86_64') as VmArch)).not.toThrow();
    // The arm64 kernels CI boots, as jobs of their own.
    expect(entries.filter((e) => e[5] === 'arm64').map((e) => `${e[2]} ${e[4]}`)).toEqual(['6.1 cloud', '6.12 cloud', '7 cloud', '7 16k']);
    const names = entries.map((e) => e[1]);
    expect(names).toContain('6.1-secretmem');
    for (const [, name] of yml.matchAll(/reports\/report-([^/*]+)\/report\.json/g)) expect(names).toContain(name);
    expect(yml).toContain('name: report-${{ matrix.name }}');
    expect(yml).toContain('pattern: report-*');
  });
});
