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
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from './helpers/child.js';
import { emulator, type Gap, unlessEmulated } from './helpers/emulation.js';
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

// Under emulation (test/helpers/emulation.ts) the examples run on the emulated
// node, and the tools around them (tsc, npx) on this machine's own, the one
// vitest runs on: emulated, each would take many seconds.
const toolNode = process.env.MEMSEAL_HOST_NODE || process.execPath;

function run(cmd: string, args: string[], cwd: string, timeout = 60_000): { status: number | null; out: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`, NO_COLOR: '1' };
  // An example's node children are emulated too (the preload); nothing else of the test's options.
  if (emulator !== undefined) env.NODE_OPTIONS = `--require ${join(root, 'test', 'helpers', 'emulated-node.cjs')}`;
  else delete env.NODE_OPTIONS;
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

beforeAll(() => {
  // `memseal` as npm installs it, run by this node.
  mkdirSync(bin);
  writeFileSync(join(bin, 'memseal'), `#!/bin/sh\nexec "${process.execPath}" "${join(root, 'dist', 'cli', 'main.js')}" "$@"\n`);
  chmodSync(join(bin, 'memseal'), 0o755);
  symlinkSync(process.execPath, join(bin, 'node'));
  if (toolNode !== process.execPath) {
    // npx is a node script: the first node on PATH (the emulated one) would run it.
    const npx = realpathSync(execFileSync('sh', ['-c', 'command -v npx'], { encoding: 'utf8' }).trim());
    writeFileSync(join(bin, 'npx'), `#!/bin/sh\nexec "${toolNode}" "${npx}" "$@"\n`);
    chmodSync(join(bin, 'npx'), 0o755);
  }
});

const label = (b: CodeBlock): string => `${b.lang || '(none)'} block at README.md:${b.line}`;

/** What an example needs that an emulator can lack: secret memory (a secret without a fallback), mseal (a seal() call), hugetlb mappings (a conformance run). */
function needs(b: CodeBlock): Gap[] {
  const gaps: Gap[] = [];
  if (/\bSecret(Buffer|Pool)\b/.test(b.code) && !/\bfallback:/.test(b.code)) gaps.push('memfd_secret');
  if (/\.seal\(\)/.test(b.code)) gaps.push('mseal');
  // The catalog itself (not its --list): its hugetlb cases map hugetlb memfds.
  if (/memseal conform(?![^\n]*--list)/.test(b.code)) gaps.push('hugetlbMap');
  return gaps;
}

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
  for (const b of js) {
    unlessEmulated(...needs(b))(`${label(b)} runs on this node`, () => {
      const dir = sandbox(`js-${b.line}`);
      const esm = b.lang === 'mjs' || (b.lang === 'js' && /^import\s/m.test(b.code));
      const file = join(dir, `example.${esm ? 'mjs' : 'cjs'}`);
      writeFileSync(file, b.code);
      const r = run(process.execPath, [file], dir);
      expect(r.out, r.out).not.toMatch(/MemsealWarning/);
      expect(r.status, r.out).toBe(0);
    });
  }

  // Compiled together, once; each then runs as a test of its own.
  const ts = blocks.filter((b) => b.lang === 'ts');
  const tsDir = join(work, 'ts');
  let compiled: { status: number | null; out: string } | undefined;
  const compile = (): { status: number | null; out: string } => {
    if (compiled !== undefined) return compiled;
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
    compiled = run(toolNode, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], dir, 120_000);
    return compiled;
  };
  it('ts blocks compile with tsc (strict)', () => {
    const tsc = compile();
    expect(tsc.status, tsc.out).toBe(0);
  }, 180_000);
  for (const b of ts) {
    unlessEmulated(...needs(b))(`${label(b)} runs on this node`, () => {
      expect(compile().status, 'compiled').toBe(0);
      const r = run(process.execPath, [join(tsDir, 'out', `example-${b.line}.js`)], tsDir);
      expect(r.status, `${label(b)}:\n${r.out}`).toBe(0);
    }, 180_000);
  }

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
  for (const b of sh) {
    unlessEmulated(...needs(b))(`${label(b)} runs with bash, or says why not`, () => {
      const skip = NOT_RUN.exec(b.code);
      if (skip) {
        expect(skip[1]!.trim().length, 'a reason').toBeGreaterThan(10);
        return;
      }
      const dir = sandbox(`sh-${b.line}`);
      const r = run('bash', ['-euo', 'pipefail', '-c', b.code], dir);
      expect(r.status, r.out).toBe(0);
    });
  }
});
