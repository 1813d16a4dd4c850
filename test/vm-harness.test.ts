/**
 * The VM harness's parts, without booting: the cpio writer (read back by
 * GNU cpio), the initramfs contents and its cache, ldd parsing, the console
 * reader's framing, and the kernel command line.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCpio } from '../lib/vm/cpio.js';
import { ConsoleReader, type ConsoleEvent } from '../lib/vm/console.js';
import { buildInitramfs, defaultInputs, findBusybox, GUEST, hashEntries, INIT_SCRIPT, initramfsEntries, runtimeModules, which } from '../lib/vm/initramfs.js';
import { parseLdd, sharedLibraries } from '../lib/vm/ldd.js';
import { kernelCommandLine, VmError } from '../lib/vm/qemu.js';
import { itIf } from './helpers/caps.js';

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
    for (const p of ['/init', GUEST.busybox, GUEST.node, GUEST.cli, '/memseal/package.json', '/memseal/build/Release/memseal.node', '/dev/console', '/proc', '/sys', '/tmp']) {
      expect(paths, p).toContain(p);
    }
    for (const lib of sharedLibraries(process.execPath)) expect(paths, lib).toContain(lib);
    // The runtime dependencies, and nothing from devDependencies.
    expect([...runtimeModules(inputs.packageRoot).keys()].sort()).toEqual(['bindings', 'file-uri-to-path']);
    expect(paths).toContain('/memseal/node_modules/bindings/bindings.js');
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

  itIf(hasBusybox, 'busybox is missing (apt-get install busybox-static)')('its init script parses under busybox sh and runs only the marked commands', () => {
    const busybox = findBusybox();
    const init = join(work, 'init.sh');
    // Run the command loop alone: everything after `seen=` with mount and run replaced.
    const loop = INIT_SCRIPT.slice(INIT_SCRIPT.indexOf('set -f'), INIT_SCRIPT.indexOf('echo "===MEMSEAL-DONE==="'));
    writeFileSync(init, `run() { echo "RUN[$*]"; }\n${loop.replace(/^run\(\) \{[\s\S]*?^\}\n/m, '')}`);
    const out = execFileSync(busybox, ['sh', init, 'quiet', '@memseal', 'probe', '--json', '@@', 'conform', '--filter', 'mseal.*'], { encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual(['RUN[probe --json]', 'RUN[conform --filter mseal.*]']);
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
  it('puts the console, panic=-1, no_timer_check, the user arguments, then the commands after --', () => {
    expect(kernelCommandLine(' secretmem.enable=1  quiet ', [['probe', '--json'], ['conform', '--json']])).toBe(
      'console=ttyS0 panic=-1 no_timer_check secretmem.enable=1 quiet -- @memseal probe --json @@ conform --json',
    );
    expect(kernelCommandLine('', [])).toBe('console=ttyS0 panic=-1 no_timer_check -- @memseal');
  });

  it('refuses what cannot travel on it', () => {
    expect(() => kernelCommandLine('a -- b', [['probe']])).toThrow(VmError);
    expect(() => kernelCommandLine('', [['conform', '--filter', 'a b']])).toThrow(/no spaces, quotes/);
    expect(() => kernelCommandLine('', [['conform', '"x"']])).toThrow(/no spaces, quotes/);
    expect(() => kernelCommandLine('', [['@@']])).toThrow(/cannot travel/);
    expect(() => kernelCommandLine('x'.repeat(3000), [['probe']])).toThrow(/the limit is 2047/);
  });
});
