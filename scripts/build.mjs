#!/usr/bin/env node
// Builds the addon (node-gyp) and the TypeScript (tsc).
//
//   node scripts/build.mjs              native (Release) + TypeScript
//   node scripts/build.mjs --native     native only
//   node scripts/build.mjs --ts         TypeScript only
//   node scripts/build.mjs --release    clean Release build (what npm pack ships)
//   node scripts/build.mjs --debug      Debug build
//   node scripts/build.mjs --werror     warnings are errors
//   node scripts/build.mjs --native --variant=no-external-buffers|sanitize
//                                       builds only build-<variant>/Release/memseal.node
//
// node-gyp needs Node's headers. Without network access to nodejs.org they
// must come from the running Node's own install prefix (Debian's and the
// official tarballs both ship include/node), so point node-gyp there unless
// the user configured a nodedir already.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = new Set(process.argv.slice(2));
const variantArg = [...args].find((a) => a.startsWith('--variant='));
const variant = variantArg ? variantArg.slice('--variant='.length) : '';
const only = args.has('--native') ? 'native' : args.has('--ts') ? 'ts' : 'both';

function run(cmd, argv, env = process.env) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', env });
  if (r.error) throw r.error;
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function nodedir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

const VARIANT_DEFINES = { 'no-external-buffers': 'no_external_buffers', sanitize: 'sanitize' };

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
  const defines = [];
  if (args.has('--werror')) defines.push('-Dwerror=1');
  if (!variant) {
    if (args.has('--release')) rmSync(join(root, 'build'), { recursive: true, force: true });
    run(process.execPath, defines.length ? [...argv, '--', ...defines] : argv);
    return;
  }
  // A variant is built in a scratch copy of the sources, and only its .node
  // is copied to build-<variant>/Release/, so the default build stays as is.
  if (!VARIANT_DEFINES[variant]) throw new Error(`unknown variant ${variant}`);
  defines.push(`-D${VARIANT_DEFINES[variant]}=1`);
  const scratch = mkdtempSync(join(tmpdir(), `memseal-${variant}-`));
  try {
    for (const entry of ['binding.gyp', 'common.gypi', 'native']) cpSync(join(root, entry), join(scratch, entry), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
    const r = spawnSync(process.execPath, [...argv, '--', ...defines], { cwd: scratch, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
    const out = join(root, `build-${variant}`, 'Release');
    mkdirSync(out, { recursive: true });
    cpSync(join(scratch, 'build', 'Release', 'memseal.node'), join(out, 'memseal.node'));
    console.log(`memseal: built build-${variant}/Release/memseal.node`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function buildTs() {
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
}

if (only !== 'ts') buildNative();
if (only !== 'native') buildTs();
