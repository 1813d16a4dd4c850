/**
 * `memseal kselftest`: the collection a kernel test lab runs. Packed once,
 * then checked the way labs use it: its layout and size; the kernel's own
 * run_kselftest.sh (from Debian's linux-source-6.12) runs it to the end as
 * one passing test with every case's line in its output; kunit.py parse
 * reads what memseal/conform prints and finds the counts `conform --json`
 * gives; it runs in a root filesystem of busybox alone (no node, no glibc),
 * from a read-only folder, as root and as an ordinary user; and a damaged
 * payload or another architecture is one KTAP `# ERROR` line, exit 1.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceReport } from '../lib/conformance/types.js';
import { busyboxRoot, INSTALL, inRoot, type BusyboxRoot } from './helpers/busybox-root.js';
import { itIf } from './helpers/caps.js';
import { root } from './helpers/child.js';
import { kernelToolsMissing, kselftestInstall, kunitCounts, kunitParse } from './helpers/kernel-tools.js';
import { hasBusybox } from './helpers/vm.js';

const cli = join(root, 'dist', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'memseal-kselftest-'));
chmodSync(work, 0o755);
const tarball = join(work, 'memseal.tar.gz');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const toolsWhy = kernelToolsMissing();
const itTools = itIf(toolsWhy === '', toolsWhy);
const rootWhy = toolsWhy || (process.getuid?.() !== 0 ? 'a chroot needs root' : !hasBusybox() ? 'busybox is missing (apt-get install busybox-static)' : '');
const itRoot = itIf(rootWhy === '', rootWhy);

let reference: ConformanceReport;
let packStatus: number | null = null;
let packErr = '';

beforeAll(() => {
  const r = spawnSync(process.execPath, [cli, 'kselftest', '--output', tarball], { encoding: 'utf8' });
  packStatus = r.status;
  packErr = r.stderr;
  // The reference: `conform --json` from the unpacked collection's own
  // package and runtime (where the install sits decides a few requirements,
  // such as whether uid 65534 can reach the files).
  const dir = join(work, 'plain');
  unpackInto(dir);
  const rt = join(dir, 'memseal', 'runtime');
  const launcher = [join(rt, 'lib', readdirSync(join(rt, 'lib')).find((f) => f.startsWith('ld-'))!), '--library-path', join(rt, 'lib'), join(rt, 'node')];
  const json = spawnSync(launcher[0]!, [...launcher.slice(1), join(dir, 'memseal', 'package', 'dist', 'cli', 'main.js'), 'conform', '--json'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, MEMSEAL_NODE_LAUNCHER: JSON.stringify(launcher) },
  });
  reference = JSON.parse(json.stdout) as ConformanceReport;
}, 180_000);

/**
 * Runs the kernel's runner with its stdout on a pipe, as a console or a
 * lab's log collector gives it: the runner writes to /dev/stdout, which
 * cannot be opened when stdout is a socket (node's own stdio pipes).
 */
function runRunner(runner: string): { stdout: string; stderr: string } {
  const r = spawnSync('sh', ['-c', '"$0" -c memseal | cat', runner], { cwd: tmpdir(), encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 });
  return { stdout: r.stdout, stderr: r.stderr };
}

/** The case lines of a KTAP document at any depth and prefix: id -> "ok" / "not ok" with directive. */
function caseLines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^[# ]*((?:not )?ok) \d+ ([a-z0-9]+\.[a-z0-9.-]+)(?: # (\w+))?/gm)) out.set(m[2]!, `${m[1]}${m[3] ? ` ${m[3]}` : ''}`);
  return out;
}

function unpackInto(dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dir]);
}

describe('memseal kselftest: the tarball', () => {
  it('unpacks into a kselftest install layout: kselftest-list.txt, memseal/conform (executable), settings, config, the runtime; under 60 MB', () => {
    expect(packStatus, packErr).toBe(0);
    const listing = execFileSync('tar', ['-tzvf', tarball], { encoding: 'utf8', maxBuffer: 16 << 20 });
    const dir = join(work, 'layout');
    unpackInto(dir);
    expect(readFileSync(join(dir, 'kselftest-list.txt'), 'utf8')).toBe('memseal:conform\n');
    expect(statSync(join(dir, 'memseal', 'conform')).mode & 0o777).toBe(0o755);
    expect(listing).toMatch(/^-rwxr-xr-x root\/root .* memseal\/conform$/m);
    expect(readFileSync(join(dir, 'memseal', 'settings'), 'utf8')).toMatch(/^timeout=\d{3,}$/m);
    const config = readFileSync(join(dir, 'memseal', 'config'), 'utf8');
    for (const option of ['CONFIG_SECRETMEM=y', 'CONFIG_MEMFD_CREATE=y', 'CONFIG_HUGETLBFS=y', 'CONFIG_PID_NS=y']) expect(config).toContain(option);
    expect(readdirSync(join(dir, 'memseal', 'runtime', 'lib'))).toEqual(expect.arrayContaining([expect.stringMatching(/^ld-linux.*\.so/), 'libc.so.6']));
    expect(existsSync(join(dir, 'memseal', 'package', 'prebuilds', `linux-${process.arch}`, 'memseal.node'))).toBe(true);
    // Every directory and file is open to every user (cases run steps as uid 65534).
    expect(listing.split('\n').filter((l) => l !== '' && !/^(d|-)r[w-][x-]r-[x-]r-[x-] root\/root /.test(l))).toEqual([]);
    const mb = statSync(tarball).size / 1e6;
    console.log(`[kselftest] tarball ${mb.toFixed(1)} MB (${(statSync(tarball).size / 1048576).toFixed(1)} MiB)`);
    expect(mb).toBeLessThan(60);
  });

  it('--output into a missing folder, or over a file without --force: usage error (2), nothing written', () => {
    const missing = spawnSync(process.execPath, [cli, 'kselftest', '--output', join(work, 'nope', 'x.tar.gz')], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/does not exist/);
    expect(existsSync(join(work, 'nope'))).toBe(false);
    const existing = join(work, 'existing.tar.gz');
    writeFileSync(existing, 'keep me');
    const over = spawnSync(process.execPath, [cli, 'kselftest', '--output', existing], { encoding: 'utf8' });
    expect(over.status).toBe(2);
    expect(over.stderr).toMatch(/exists \(--force replaces it\)/);
    expect(readFileSync(existing, 'utf8')).toBe('keep me');
    expect(readdirSync(work).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  itRoot('--output into a folder this user cannot write: usage error (2) before any work', () => {
    const closed = join(work, 'closed');
    mkdirSync(closed, { mode: 0o755 });
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cli, 'kselftest', '--output', join(closed, 'x.tar.gz')], { encoding: 'utf8' });
    // The checkout may itself be closed to uid 65534: then node cannot even load the CLI, which is no answer.
    if (/Cannot find module|EACCES: permission denied, open/.test(r.stderr)) return;
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/not writable/);
    expect(readdirSync(closed)).toEqual([]);
  });
});

describe("the kernel's tools accept it", () => {
  itTools("run_kselftest.sh -c memseal runs it to the end as one passing test, every case's result line in its prefixed output", () => {
    const install = kselftestInstall();
    try {
      execFileSync('tar', ['-xzf', tarball, '-C', install.dir]);
      const r = runRunner(join(install.dir, 'run_kselftest.sh'));
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^# selftests: memseal: conform$/m);
      expect(r.stdout).toMatch(/^ok 1 selftests: memseal: conform$/m);
      expect(r.stdout).toMatch(/^# timeout set to \d{3,}$/m);
      const lines = caseLines(r.stdout);
      for (const c of reference.cases) expect(lines.has(c.id), c.id).toBe(true);
      expect(r.stdout).toMatch(/^# +KTAP version 1$/m);
    } finally {
      install.cleanup();
    }
  }, 300_000);

  itTools("kunit.py parse reads memseal/conform's output: every case, the same pass/fail/skip counts as conform --json", () => {
    const r = spawnSync(join(work, 'plain', 'memseal', 'conform'), [], { cwd: '/', encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 });
    expect([0, 4], r.stderr).toContain(r.status);
    const parsed = kunitParse(r.stdout);
    const s = reference.summary;
    expect(parsed.cases.size).toBe(s.total);
    expect(kunitCounts(parsed.summary)).toEqual({ ran: s.total, passed: s.pass + s.deviation, failed: s.fail + s.error, skipped: s.skip + s.blocked });
    console.log(`[kselftest] host: kunit.py "${parsed.summary}"; conform --json ${JSON.stringify(s)}`);
  }, 300_000);
});

describe('on a root filesystem of busybox alone', () => {
  let bb: BusyboxRoot | undefined;
  beforeAll(() => {
    if (rootWhy === '') bb = busyboxRoot(tarball);
  });
  afterAll(() => bb?.cleanup());

  itRoot("the kernel's runner in a read-only install, as root: one passing test, 0 fail, 0 error, every case", () => {
    const r = inRoot(bb!, ['/bin/sh', '-c', `${INSTALL}/run_kselftest.sh -c memseal | cat`], { readOnly: true, cwd: '/' });
    expect(r.status, `${r.stdout.slice(-3000)}\n${r.stderr}`).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^ok 1 selftests: memseal: conform$/m);
    const lines = caseLines(r.stdout);
    expect([...lines.keys()].sort()).toEqual(reference.cases.map((c) => c.id).sort());
    expect([...lines].filter(([, v]) => v.startsWith('not ok'))).toEqual([]);
    const parsed = kunitParse(r.stdout.replace(/^# /gm, ''));
    console.log(`[kselftest] busybox root, read-only, root: kunit.py "${parsed.summary}"`);
  }, 300_000);

  itRoot('memseal/conform as uid 65534 from another folder: every case, nothing failed (the root-only cases skip, naming why)', () => {
    const r = inRoot(bb!, [`${INSTALL}/memseal/conform`], { uid: 65534, readOnly: true, cwd: '/tmp' });
    expect([0, 4], `${r.stdout.slice(-3000)}\n${r.stderr}`).toContain(r.status);
    const lines = caseLines(r.stdout);
    expect(lines.size).toBe(reference.cases.length);
    expect([...lines].filter(([, v]) => v.startsWith('not ok'))).toEqual([]);
    expect(r.stdout).toMatch(/# SKIP skip: pidns: needs root/);
  }, 300_000);
});

describe('bad input: a damaged payload, another architecture', () => {
  function damagedCopy(name: string, damage: (dir: string) => void): string {
    const dir = join(work, name);
    unpackInto(dir);
    damage(join(dir, 'memseal'));
    return join(dir, 'memseal', 'conform');
  }

  function expectOneError(r: { status: number | null; stdout: string }, pattern: RegExp): void {
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^KTAP version 1\n1\.\.1\nnot ok 1 memseal # ERROR .+\n$/);
    expect(r.stdout).toMatch(pattern);
  }

  it('a truncated node: one not ok line with # ERROR naming the file that does not match MANIFEST, exit 1', () => {
    const conform = damagedCopy('truncated', (m) => truncateSync(join(m, 'runtime', 'node'), 4096));
    const r = spawnSync(conform, [], { encoding: 'utf8', timeout: 120_000 });
    expectOneError(r, /did not run to the end .*runtime\/node: FAILED/);
  });

  it('a missing loader, or a JavaScript file that no longer parses: one # ERROR line, exit 1', () => {
    const noLoader = damagedCopy('no-loader', (m) => {
      for (const f of readdirSync(join(m, 'runtime', 'lib'))) if (f.startsWith('ld-')) rmSync(join(m, 'runtime', 'lib', f));
    });
    expectOneError(spawnSync(noLoader, [], { encoding: 'utf8' }), /payload is incomplete/);
    const badJs = damagedCopy('bad-js', (m) => writeFileSync(join(m, 'package', 'dist', 'cli', 'main.js'), '}{ not JavaScript'));
    expectOneError(spawnSync(badJs, [], { encoding: 'utf8', timeout: 120_000 }), /could not run: SyntaxError/);
  });

  it('on another architecture (setarch i686): one # ERROR line saying so, exit 1', () => {
    const dir = join(work, 'arch');
    unpackInto(dir);
    const r = spawnSync('setarch', ['i686', join(dir, 'memseal', 'conform')], { encoding: 'utf8' });
    expectOneError(r, /carries an x86_64 runtime and this machine is i686/);
  });

  it('copying the collection elsewhere keeps it working (no absolute path is baked in)', () => {
    const dir = join(work, 'moved');
    unpackInto(join(work, 'before-move'));
    cpSync(join(work, 'before-move'), dir, { recursive: true });
    rmSync(join(work, 'before-move'), { recursive: true, force: true });
    const r = spawnSync(join(dir, 'memseal', 'conform'), ['--filter', 'memfd.name'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}ok 1 memfd\.name\./m);
  });
});
