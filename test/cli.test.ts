/**
 * The memseal command line as a Unix tool: help and --version, usage errors
 * (status 2) before any work, a closed pipe ends it quietly, --list honours
 * --json, and exec looks a name without a slash up in $PATH as execvp does.
 * Runs dist/cli/main.js (npm run build first).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveCommand } from '../lib/cli/exec.js';
import { root } from './helpers/child.js';

const cli = join(root, 'dist', 'cli', 'main.js');
const STACK = /\n\s+at .+:\d+:\d+\)?\n/;

function memseal(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const scratch = mkdtempSync(join(tmpdir(), 'memseal-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('help and version', () => {
  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const r = memseal(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
  });

  it.each(['conform', 'probe', 'diff', 'exec', 'vm', 'kselftest'])('%s -h and --help print usage on stdout and exit 0', (cmd) => {
    for (const flag of ['-h', '--help']) {
      const r = memseal([cmd, flag]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: memseal ${cmd}`));
      if (cmd !== 'exec') expect(r.stdout).toContain('Exit status:');
    }
  });

  it('the top-level help documents the exit statuses; no command is a usage error', () => {
    const r = memseal(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Exit status:[\s\S]*2 {2}usage error[\s\S]*3 {2}the run broke/);
    expect(memseal([]).status).toBe(2);
    expect(memseal(['bogus']).status).toBe(2);
  });
});

describe("each subcommand's help lists the exit statuses it can return, and only those", () => {
  const statuses = (help: string): number[] => [...(/^Exit status:\n([\s\S]*)$/m.exec(help)?.[1] ?? '').matchAll(/^ {2}(\d+) {2}/gm)].map((m) => Number(m[1]));
  it.each([
    ['probe', [0, 2, 3]],
    ['conform', [0, 1, 2, 3, 4]],
    ['diff', [0, 1, 2, 3]],
    ['vm', [0, 1, 2, 3]],
    ['kselftest', [0, 2, 3]],
  ] as const)('%s: %j', (cmd, expected) => {
    const help = memseal([cmd, '--help']).stdout;
    expect(statuses(help)).toEqual(expected);
    // Nothing of another subcommand's statuses.
    const block = help.slice(help.indexOf('Exit status:'));
    if (cmd !== 'diff') expect(block).not.toMatch(/\bdiff:|reports agree/);
    if (cmd !== 'conform') expect(block).not.toMatch(/--strict|--filter|--junit/);
    expect(block).not.toMatch(/memseal exec|126|127/);
  });

  it('probe returns what its help says: 0, and 2 for an unknown option', () => {
    expect(memseal(['probe', '--json']).status).toBe(0);
    expect(memseal(['probe', '--bogus']).status).toBe(2);
  });

  it('memseal --help still gives the whole table', () => {
    expect(statuses(memseal(['--help']).stdout)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('usage errors exit 2 before any work', () => {
  it('a filter entry that matches no case, even beside entries that do, is named', () => {
    for (const args of [['conform'], ['conform', '--list'], ['conform', '--json']]) {
      const r = memseal([...args, '--filter', 'memfd.name,seal.write']);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--filter entry 'seal\.write' matches no case/);
      expect(r.stdout).toBe('');
    }
    const two = memseal(['conform', '--filter', 'zzz, memfd.name ,yyy']);
    expect(two.status).toBe(2);
    expect(two.stderr).toMatch(/entries 'zzz', 'yyy' match no case/);
    expect(memseal(['conform', '--list', '--filter', 'memfd.name,seals.write']).status).toBe(0);
  });

  it("the examples of conform --help's filter syntax each select a case", () => {
    const help = memseal(['conform', '--help']).stdout;
    const syntax = help.slice(help.indexOf('PATTERN is'));
    const examples = [...syntax.matchAll(/'([^']+)'/g)].map((m) => m[1]!).filter((e) => e !== '*');
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const e of examples) expect(memseal(['conform', '--list', '--filter', e]).status, e).toBe(0);
  });

  it('a filter without entries', () => {
    for (const filter of ['', ' ', ',', ' , ,']) {
      const r = memseal(['conform', '--list', '--filter', filter]);
      expect(r.status, `--filter ${JSON.stringify(filter)}`).toBe(2);
      expect(r.stderr).toMatch(/names no case pattern/);
      expect(r.stdout).toBe('');
    }
  });

  it('a filter that matches nothing', () => {
    const r = memseal(['conform', '--filter', 'zzz-no-such-case']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/matches no case/);
    expect(r.stdout).toBe('');
    expect(memseal(['conform', '--list', '--filter', 'zzz-no-such-case']).status).toBe(2);
  });

  it('--junit into a missing or unwritable directory, or onto a directory', () => {
    const missing = memseal(['conform', '--junit', join(scratch, 'missing-dir', 'out.xml')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/does not exist/);
    expect(missing.stdout).toBe(''); // nothing ran: a run prints its summary line
    expect(memseal(['conform', '--junit', scratch]).status).toBe(2);
    if (process.getuid?.() !== 0) {
      const ro = join(scratch, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      expect(memseal(['conform', '--junit', join(ro, 'out.xml')]).status).toBe(2);
    }
  });

  it('unknown options and missing arguments, with a pointer to --help and no stack trace', () => {
    for (const args of [['conform', '--bogus'], ['probe', 'extra'], ['diff', 'only-one.json'], ['exec'], ['exec', '--bogus', 'true'], ['conform', '--list', '--tap']]) {
      const r = memseal(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).not.toMatch(STACK);
    }
  });
});

describe('output', () => {
  it('--list honours --json', () => {
    const r = memseal(['conform', '--list', '--json', '--filter', 'mseal.munmap']);
    expect(r.status).toBe(0);
    const list = JSON.parse(r.stdout) as { id: string; family: string }[];
    expect(list.length).toBe(3);
    expect(list.every((c) => c.id.startsWith('mseal.munmap') && c.family === 'mseal')).toBe(true);
  });

  it('a closed pipe on stdout ends it quietly', () => {
    for (const cmd of ['conform --list', 'conform --list --json', 'probe --json', '--help']) {
      const r = spawnSync('sh', ['-c', `"${process.execPath}" "${cli}" ${cmd} | true`], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr, cmd).toBe('');
      expect(r.status).toBe(0);
    }
    const head = spawnSync('sh', ['-c', `"${process.execPath}" "${cli}" conform --json --filter memfd.name | head -c 1`], { encoding: 'utf8', timeout: 60_000 });
    expect(head.stderr).toBe('');
  });
});

describe('exec resolves a name without a slash through $PATH, as execvp does', () => {
  const a = join(scratch, 'a');
  const b = join(scratch, 'b');
  mkdirSync(a, { recursive: true });
  mkdirSync(b, { recursive: true });
  writeFileSync(join(a, 'tool'), '#!/bin/sh\necho from-a\n', { mode: 0o644 }); // not executable: skipped
  writeFileSync(join(b, 'tool'), '#!/bin/sh\necho from-b\n', { mode: 0o755 });
  mkdirSync(join(a, 'dironly'));
  writeFileSync(join(a, 'plain'), 'x', { mode: 0o644 });

  it('takes the first executable regular file, skipping others', () => {
    expect(resolveCommand('tool', `${a}:${b}`)).toBe(join(b, 'tool'));
    expect(resolveCommand('./tool', `${a}:${b}`)).toBe('./tool');
  });

  it('an empty PATH element is the current directory', () => {
    expect(resolveCommand('tool', `:${a}`, b)).toBe(join(b, 'tool'));
    expect(resolveCommand('tool', `${a}::`, b)).toBe(join(b, 'tool'));
  });

  it('ENOENT when no entry has it, EACCES when entries have it but none is executable', () => {
    expect(() => resolveCommand('nope', `${a}:${b}`)).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'execvp' }));
    expect(() => resolveCommand('plain', `${a}:${b}`)).toThrow(expect.objectContaining({ code: 'EACCES' }));
    expect(() => resolveCommand('dironly', a)).toThrow(expect.objectContaining({ code: 'EACCES' }));
  });

  it('memseal exec runs a name from $PATH; 127 when not found, 126 when not executable', () => {
    const r = memseal(['exec', 'tool'], { PATH: `${a}:${b}:/usr/bin:/bin` });
    expect(r.stdout).toBe('from-b\n');
    expect(r.status).toBe(0);
    expect(memseal(['exec', 'echo', 'hi']).stdout).toBe('hi\n');
    expect(memseal(['exec', 'no-such-program-zz']).status).toBe(127);
    expect(memseal(['exec', 'plain'], { PATH: a }).status).toBe(126);
  });
});
