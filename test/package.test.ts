/**
 * Packaging: `npm pack` yields a tarball that installs into a fresh project
 * with npm's default settings (dependency install scripts blocked) and works
 * with no compiler, because the compiled addon ships inside it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from './helpers/child.js';

const work = mkdtempSync(join(tmpdir(), 'memseal-pack-'));
let tarball = '';
let contents: string[] = [];
const consumer = join(work, 'consumer');

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(() => {
  // Pack from a copy of the sources, so the checkout's own build is untouched.
  const src = join(work, 'src');
  mkdirSync(src);
  for (const entry of ['package.json', 'binding.gyp', 'common.gypi', 'tsconfig.json', 'README.md', 'native', 'lib', 'scripts']) {
    cpSync(join(root, entry), join(src, entry), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(src, 'node_modules'));
  const out = npm(['pack', '--json', '--pack-destination', work], src);
  const info = JSON.parse(out.slice(out.indexOf('[')))[0];
  tarball = join(work, info.filename);
  contents = info.files.map((f: { path: string }) => f.path);

  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  npm(['install', tarball], consumer);
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm pack', () => {
  it('ships the compiled addon, the JavaScript and the types, and no sources or tests', () => {
    expect(contents).toContain('build/Release/memseal.node');
    expect(contents).toContain('dist/index.js');
    expect(contents).toContain('dist/index.d.ts');
    expect(contents).toContain('dist/cli/main.js');
    expect(contents.some((f) => f.startsWith('test/') || f.startsWith('native/') || f.startsWith('lib/'))).toBe(false);
    expect(contents.some((f) => f.endsWith('.map'))).toBe(false);
    expect(contents.filter((f) => f.endsWith('.node'))).toEqual(['build/Release/memseal.node']);
  });

  it('installs with npm defaults and works without a compiler', () => {
    const installed = join(consumer, 'node_modules', 'memseal');
    expect(existsSync(join(installed, 'build', 'Release', 'memseal.node'))).toBe(true);
    expect(readdirSync(join(installed, 'build'))).toEqual(['Release']); // nothing was compiled here
    const script = `
      const { Memfd, SyscallError } = require('memseal');
      const m = Memfd.create('from-tarball', { exec: 'kernel-default' });
      m.write('installed');
      m.addSeals('write');
      let code = null;
      try { m.write('x', 0); } catch (e) { code = e instanceof SyscallError ? e.code : 'wrong class'; }
      console.log(JSON.stringify({ text: m.read().toString(), seals: [...m.seals], code }));
      m.close();
    `;
    // PATH without compilers: nothing may need one at run time.
    const r = spawnSync(process.execPath, ['-e', script], { cwd: consumer, encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent' } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ text: 'installed', seals: ['write'], code: 'EPERM' });
  });

  it('is importable as ESM with named exports, and typed', () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', "import { Memfd, probe } from 'memseal'; console.log(typeof Memfd.create, typeof probe);"], { cwd: consumer, encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('function function');
    expect(existsSync(join(consumer, 'node_modules', 'memseal', 'dist', 'memfd.d.ts'))).toBe(true);
  });

  it('installs the memseal command', () => {
    const out = execFileSync(join(consumer, 'node_modules', '.bin', 'memseal'), ['probe', '--json'], { encoding: 'utf8' });
    expect(JSON.parse(out).features.memfd_create.status).toBe('supported');
  });
});
