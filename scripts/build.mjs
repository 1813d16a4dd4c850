#!/usr/bin/env node
// Builds the addon (node-gyp) and the TypeScript (tsc).
//
//   node scripts/build.mjs              native (Release) + TypeScript
//   node scripts/build.mjs --native     native only
//   node scripts/build.mjs --ts         TypeScript only
//   node scripts/build.mjs --release    clean Release build (what npm pack ships)
//   node scripts/build.mjs --debug      Debug build
//   node scripts/build.mjs --werror     warnings are errors
//   node scripts/build.mjs --variant=no-external-buffers|sanitize  into build-<variant>/build/Release/
//
// node-gyp needs Node's headers. Without network access to nodejs.org they
// must come from the running Node's own install prefix (Debian's and the
// official tarballs both ship include/node), so point node-gyp there unless
// the user configured a nodedir already.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = new Set(process.argv.slice(2));
const variantArg = [...args].find((a) => a.startsWith('--variant='));
const variant = variantArg ? variantArg.slice('--variant='.length) : '';
const only = args.has('--native') ? 'native' : args.has('--ts') ? 'ts' : 'both';

function run(cmd, argv, env = process.env, cwd = root) {
  const r = spawnSync(cmd, argv, { cwd, stdio: 'inherit', env });
  if (r.error) throw r.error;
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function nodedir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function buildNative() {
  if (process.platform !== 'linux') {
    console.log('memseal: skipping the native build (Linux only)');
    return;
  }
  const gyp = require.resolve('node-gyp/bin/node-gyp.js');
  const argv = [gyp, 'rebuild', '--jobs', 'max'];
  const dir = nodedir();
  if (dir) argv.push(`--nodedir=${dir}`);
  if (args.has('--debug')) argv.push('--debug');
  if (args.has('--werror')) argv.push('--', '-Dwerror=1');
  const env = { ...process.env };
  let cwd = root;
  if (variant) {
    const defines = { 'no-external-buffers': 'no_external_buffers', sanitize: 'sanitize' };
    if (!defines[variant]) throw new Error(`unknown variant ${variant}`);
    if (!argv.includes('--')) argv.push('--');
    argv.push(`-D${defines[variant]}=1`);
    // node-gyp always builds into ./build, so a variant is built from a
    // staging folder of its own (build-<variant>/, with the .gyp files and a
    // link to native/): the result is build-<variant>/build/Release/memseal.node
    // and the default build stays in place.
    cwd = join(root, `build-${variant}`);
    mkdirSync(cwd, { recursive: true });
    for (const f of ['binding.gyp', 'common.gypi']) copyFileSync(join(root, f), join(cwd, f));
    if (!existsSync(join(cwd, 'native'))) symlinkSync('../native', join(cwd, 'native'));
  }
  if (args.has('--release')) rmSync(join(root, 'build'), { recursive: true, force: true });
  run(process.execPath, argv, env, cwd);
}

function buildTs() {
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
}

if (only !== 'ts') buildNative();
if (only !== 'native') buildTs();
