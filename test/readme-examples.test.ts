/**
 * Every code block of the README runs as written, against the built package:
 * each in a fresh folder whose node_modules/memseal links to this checkout,
 * with the node running this test (npm test runs it once per supported Node).
 *
 * - js/cjs/mjs: run with node (a block using `import` runs as a module);
 * - ts: type-checked and compiled with tsc (strict, NodeNext), then run;
 * - sh: run with bash, `memseal` and `node` on PATH; a block that cannot run
 *   here starts with `# not run by the README test: <reason>`;
 * - python: run with python3 (standard library only), `node` on PATH;
 * - text: command synopses and output, not code.
 * Any other language, or a fence without one, fails.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from './helpers/child.js';
import { codeBlocks, type CodeBlock } from './helpers/readme.js';

const NOT_RUN = /^# not run by the README test: (.+)$/m;
const blocks = codeBlocks();
const work = mkdtempSync(join(tmpdir(), 'memseal-readme-'));
const bin = join(work, 'bin');
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sandbox(name: string): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(root, join(dir, 'node_modules', 'memseal'));
  symlinkSync(join(root, 'node_modules', '@types'), join(dir, 'node_modules', '@types'));
  mkdirSync(join(dir, 'node_modules', '.bin'));
  symlinkSync(join(bin, 'memseal'), join(dir, 'node_modules', '.bin', 'memseal'));
  return dir;
}

function run(cmd: string, args: string[], cwd: string, timeout = 60_000): { status: number | null; out: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`, NO_COLOR: '1' };
  delete env.NODE_OPTIONS;
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

beforeAll(() => {
  // `memseal` as npm installs it, run by this node.
  mkdirSync(bin);
  writeFileSync(join(bin, 'memseal'), `#!/bin/sh\nexec "${process.execPath}" "${join(root, 'dist', 'cli', 'main.js')}" "$@"\n`);
  chmodSync(join(bin, 'memseal'), 0o755);
  symlinkSync(process.execPath, join(bin, 'node'));
});

const label = (b: CodeBlock): string => `${b.lang || '(none)'} block at README.md:${b.line}`;

describe('README code blocks', () => {
  it('each has a known language', () => {
    expect(blocks.length).toBeGreaterThan(10);
    expect(blocks.filter((b) => !['js', 'cjs', 'mjs', 'ts', 'sh', 'python', 'text'].includes(b.lang)).map(label)).toEqual([]);
  });

  it('placeholders are visibly placeholders: no undefined helper stands in for real code', () => {
    const code = blocks.filter((b) => b.lang !== 'text').map((b) => b.code).join('\n');
    expect(code).not.toMatch(/sendFdToWorker|\/\* \.\.\. \*\/|\.\.\.\)/);
  });

  const js = blocks.filter((b) => ['js', 'cjs', 'mjs'].includes(b.lang));
  it.each(js.map((b) => [label(b), b] as const))('%s runs on this node', (_l, b) => {
    const dir = sandbox(`js-${b.line}`);
    const esm = b.lang === 'mjs' || (b.lang === 'js' && /^import\s/m.test(b.code));
    const file = join(dir, `example.${esm ? 'mjs' : 'cjs'}`);
    writeFileSync(file, b.code);
    const r = run(process.execPath, [file], dir);
    expect(r.out, r.out).not.toMatch(/MemsealWarning/);
    expect(r.status, r.out).toBe(0);
  });

  const ts = blocks.filter((b) => b.lang === 'ts');
  it('ts blocks compile with tsc (strict) and run', () => {
    const dir = sandbox('ts');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023', 'ESNext.Disposable'], types: ['node'], strict: true, skipLibCheck: true, outDir: 'out' },
        include: ['*.ts'],
      }),
    );
    ts.forEach((b) => writeFileSync(join(dir, `example-${b.line}.ts`), b.code));
    const tsc = run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], dir, 120_000);
    expect(tsc.status, tsc.out).toBe(0);
    for (const b of ts) {
      const r = run(process.execPath, [join(dir, 'out', `example-${b.line}.js`)], dir);
      expect(r.status, `${label(b)}:\n${r.out}`).toBe(0);
    }
  }, 180_000);

  const python = blocks.filter((b) => b.lang === 'python');
  it.each(python.map((b) => [label(b), b] as const))('%s runs with python3', (_l, b) => {
    const dir = sandbox(`python-${b.line}`);
    const file = join(dir, 'example.py');
    writeFileSync(file, b.code);
    const r = run('python3', [file], dir);
    expect(r.out, r.out).not.toMatch(/MemsealWarning|Traceback/);
    expect(r.status, r.out).toBe(0);
  });

  const sh = blocks.filter((b) => b.lang === 'sh');
  it.each(sh.map((b) => [label(b), b] as const))('%s runs with bash, or says why not', (_l, b) => {
    const skip = NOT_RUN.exec(b.code);
    if (skip) {
      expect(skip[1]!.trim().length, 'a reason').toBeGreaterThan(10);
      return;
    }
    const dir = sandbox(`sh-${b.line}`);
    const r = run('bash', ['-euo', 'pipefail', '-c', b.code], dir);
    expect(r.status, r.out).toBe(0);
  });
});
