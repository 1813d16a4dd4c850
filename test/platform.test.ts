import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addonFile, GLIBC_FLOOR, libcFromMaps, platformProblem, SUPPORTED_ARCHES } from '../lib/binding.js';
import { root } from './helpers/child.js';

const index = JSON.stringify(join(root, 'dist', 'index.js'));

/**
 * Runs `prelude` in a fresh node, then loads memseal and makes a memfd;
 * reports the error (or 'loaded') and whether the addon was ever mapped.
 */
function loadAfter(prelude: string, env: Record<string, string> = {}): { name?: string; code?: string; message?: string; cause?: string; loaded?: boolean; mapped: boolean } {
  const script = `
    ${prelude}
    const out = {};
    try { require(${index}).Memfd.create('x').close(); out.loaded = true; }
    catch (e) { Object.assign(out, { name: e.name, code: e.code, message: e.message, cause: e.cause && e.cause.message }); }
    out.mapped = require('fs').readFileSync('/proc/' + process.pid + '/maps', 'latin1').split('\\n').some((l) => l.endsWith('/memseal.node'));
    console.log(JSON.stringify(out));
  `;
  // The addon the loader picks, not the one a test pass names.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (env.MEMSEAL_ADDON_PATH === undefined) delete childEnv.MEMSEAL_ADDON_PATH;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: childEnv });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout.trim());
}

// What /proc/self/maps shows for the C library in a musl process (node on Alpine 3.21) and a glibc one.
const MUSL_MAPS = [
  '7f3a1c2e1000-7f3a1c2f5000 r--p 00000000 00:2a 1311 /lib/ld-musl-x86_64.so.1',
  '7f3a1c2f5000-7f3a1c341000 r-xp 00014000 00:2a 1311 /lib/ld-musl-x86_64.so.1',
  '7ffd8e5d1000-7ffd8e5f2000 rw-p 00000000 00:00 0 [stack]',
].join('\n');
const GLIBC_MAPS = '7f16a3a00000-7f16a3a28000 r--p 00000000 fe:01 1049 /usr/lib/x86_64-linux-gnu/libc.so.6\n';

describe('platforms', () => {
  it('loading on another OS throws ERR_MEMSEAL_UNSUPPORTED_PLATFORM before touching the addon', () => {
    const out = loadAfter("Object.defineProperty(process, 'platform', { value: 'darwin' });");
    expect(out.code).toBe('ERR_MEMSEAL_UNSUPPORTED_PLATFORM');
    expect(out.name).toBe('MemsealError');
    expect(out.message).toMatch(/Linux.*darwin/);
    expect(out.mapped).toBe(false);
  });

  it('on an architecture with no addon, the error names it and the supported ones, before any dlopen', () => {
    const out = loadAfter("Object.defineProperty(process, 'arch', { value: 'riscv64' });");
    expect(out.code).toBe('ERR_MEMSEAL_UNSUPPORTED_PLATFORM');
    expect(out.message).toBe(`memseal's addon is built for Linux on x64 and arm64 with glibc ${GLIBC_FLOOR} or later; this is linux-riscv64`);
    expect(out.mapped).toBe(false);
  });

  it('on musl the error says so before any dlopen (the maps of this process show musl as its C library)', () => {
    const out = loadAfter(`
      const fs = require('fs'), read = fs.readFileSync;
      fs.readFileSync = (p, ...rest) => (p === '/proc/self/maps' ? ${JSON.stringify(MUSL_MAPS)} : read(p, ...rest));
    `);
    expect(out.code).toBe('ERR_MEMSEAL_UNSUPPORTED_PLATFORM');
    expect(out.message).toMatch(/built for Linux on x64 and arm64 with glibc .*; this Node\.js runs on musl, which memseal does not support$/);
    expect(out.mapped).toBe(false);
  });

  it('without /proc, the diagnostic report tells glibc (loads) from musl (refused)', () => {
    const noProc = `
      const fs = require('fs'), read = fs.readFileSync;
      fs.readFileSync = (p, ...rest) => { if (p === '/proc/self/maps') throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' }); return read(p, ...rest); };
    `;
    expect(loadAfter(noProc)).toEqual({ loaded: true, mapped: true });
    const musl = loadAfter(`${noProc}
      process.report.getReport = () => ({ header: {}, sharedObjects: ['/usr/bin/node', '/lib/ld-musl-x86_64.so.1'] });
    `);
    expect(musl.message).toMatch(/this Node\.js runs on musl/);
    expect(musl.mapped).toBe(false);
  });

  it('an addon the system cannot load (here: the other architecture\'s) gives the same error, naming the system, with the loader\'s error as cause', () => {
    const other = SUPPORTED_ARCHES.find((a) => a !== process.arch)!;
    const out = loadAfter(`Object.defineProperty(process, 'arch', { value: '${other}' });`);
    expect(out.code).toBe('ERR_MEMSEAL_UNSUPPORTED_PLATFORM');
    expect(out.message).toMatch(new RegExp(`^memseal's addon for linux-${other} cannot be loaded on this system \\(linux-${other}, glibc \\d+\\.\\d+\\); memseal's addon is built for .* The loader said: .+`));
    expect(out.cause).toMatch(/memseal\.node/);
    const missing = loadAfter('', { MEMSEAL_ADDON_PATH: join(root, 'no-such-dir', 'memseal.node') });
    expect(missing.code).toBe('ERR_MEMSEAL_UNSUPPORTED_PLATFORM');
    expect(missing.message).toMatch(new RegExp(`^memseal's addon for linux-${process.arch} is missing from this copy`));
  });

  it('reads the C library from the maps, and says what is wrong with each platform', () => {
    expect(libcFromMaps(readFileSync('/proc/self/maps', 'latin1'))).toBe('glibc');
    expect(libcFromMaps(GLIBC_MAPS)).toBe('glibc');
    expect(libcFromMaps(GLIBC_MAPS.replace('\n', ' (deleted)\n'))).toBe('glibc');
    expect(libcFromMaps(MUSL_MAPS)).toBe('musl');
    expect(libcFromMaps('')).toBe('unknown');
    expect(platformProblem({ platform: 'linux', arch: 'x64', libc: 'glibc' })).toBeUndefined();
    expect(platformProblem({ platform: 'linux', arch: 'arm64', libc: 'glibc' })).toBeUndefined();
    expect(platformProblem({ platform: 'linux', arch: 'arm', libc: 'glibc' })).toMatch(/this is linux-arm$/);
    expect(platformProblem({ platform: 'linux', arch: 'arm64', libc: 'musl' })).toMatch(/musl/);
    expect(platformProblem({ platform: 'linux', arch: 'x64', libc: 'unknown' })).toMatch(/other than glibc or musl/);
    expect(platformProblem({ platform: 'win32', arch: 'x64', libc: 'unknown' })).toMatch(/this is win32$/);
    expect(addonFile('arm64')).toBe('prebuilds/linux-arm64/memseal.node');
  });

  it('Node.js older than 22 still loads, with one MEMSEAL_UNSUPPORTED_NODE warning; 22 and later say nothing', () => {
    const script = `
      const { warnIfUnsupportedNode } = require(${JSON.stringify(join(root, 'dist', 'binding.js'))});
      console.log(JSON.stringify([warnIfUnsupportedNode('20.20.2'), warnIfUnsupportedNode('22.0.0'), warnIfUnsupportedNode('26.12.1')]));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(JSON.parse(r.stdout.trim())).toEqual([true, false, false]);
    expect(r.stderr).toMatch(/MemsealWarning: memseal supports Node.js 22 and later; Node.js 20.20.2 is past its end of life/);
    const current = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(join(root, 'dist', 'index.js'))}).Memfd.create('x').close()`], { encoding: 'utf8' });
    expect(current.stderr.includes('MEMSEAL_UNSUPPORTED_NODE') || current.stderr.includes('MemsealWarning')).toBe(Number(process.versions.node.split('.')[0]) < 22);
  });
});
