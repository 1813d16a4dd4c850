#!/usr/bin/env node
// eslint, tsc --noEmit over lib/ and test/, and clang-format over native/.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let failed = false;

function run(title, cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error || r.status !== 0) {
    console.log(`lint: ${title} failed`);
    failed = true;
  }
}

run('eslint', process.execPath, [join(root, 'node_modules/eslint/bin/eslint.js'), '--max-warnings=0', 'lib', 'test', 'scripts', 'bench']);
run('tsc', process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.test.json', '--noEmit']);
const native = readdirSync(join(root, 'native')).filter((f) => /\.(cc|h)$/.test(f)).map((f) => join('native', f));
if (spawnSync('sh', ['-c', 'command -v clang-format'], { stdio: 'ignore' }).status === 0) {
  run('clang-format', 'clang-format', ['--dry-run', '--Werror', ...native]);
} else {
  console.log('lint: clang-format not installed; skipped (scripts/setup-test-env.mjs installs it)');
}
process.exit(failed ? 1 : 0);
