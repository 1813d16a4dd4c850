#!/usr/bin/env node
// Builds the addon (node-gyp) and the TypeScript (tsc).
//
//   node scripts/build.mjs              both addons (Release) + TypeScript
//   node scripts/build.mjs --native     both addons only
//   node scripts/build.mjs --ts         TypeScript only
//   node scripts/build.mjs --host-only  the addon for this machine's architecture alone
//   node scripts/build.mjs --release    clean Release build (what npm pack ships)
//   node scripts/build.mjs --debug      Debug build
//   node scripts/build.mjs --werror     warnings are errors
//   node scripts/build.mjs --variant=no-external-buffers|sanitize  into build-<variant>/build/Release/ (this machine's architecture)
//
// The package ships one addon per architecture, from the same sources:
// prebuilds/linux-x64/memseal.node and prebuilds/linux-arm64/memseal.node
// (lib/binding.ts loads the one for process.arch). The one for this machine
// is built in ./build as node-gyp does; the other with Debian's cross
// compiler (g++-aarch64-linux-gnu on x86-64, g++-x86-64-linux-gnu on arm64)
// from a staging folder build-<arch>/.
//
// node-gyp needs Node's headers. Without network access to nodejs.org they
// must come from the running Node's own install prefix (Debian's and the
// official tarballs both ship include/node), so point node-gyp there unless
// the user configured a nodedir already. The headers do not depend on the
// architecture: one set serves both builds.
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

/** The architectures the package ships an addon for, with their GNU triplet (the cross tools' prefix). */
const TARGETS = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

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

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** A folder for node-gyp to build in other than ./build: a copy of the .gyp files and a link to native/. */
function staging(name) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const f of ['binding.gyp', 'common.gypi']) copyFileSync(join(root, f), join(dir, f));
  if (!existsSync(join(dir, 'native'))) symlinkSync('../native', join(dir, 'native'));
  return dir;
}

/** node-gyp rebuild in `cwd` (extra arguments, -D defines); returns the built addon's path. */
function gyp(cwd, extra, defines, env = process.env) {
  const argv = [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', '--jobs', 'max', ...extra];
  const dir = nodedir();
  if (dir) argv.push(`--nodedir=${dir}`);
  if (args.has('--debug')) argv.push('--debug');
  const d = args.has('--werror') ? [...defines, 'werror=1'] : defines;
  if (d.length > 0) argv.push('--', ...d.map((x) => `-D${x}`));
  run(process.execPath, argv, env, cwd);
  return join(cwd, 'build', args.has('--debug') ? 'Debug' : 'Release', 'memseal.node');
}

/** Copies a built addon to where the loader looks for it: prebuilds/linux-<arch>/memseal.node. */
function ship(built, arch) {
  const dir = join(root, 'prebuilds', `linux-${arch}`);
  mkdirSync(dir, { recursive: true });
  copyFileSync(built, join(dir, 'memseal.node'));
}

function buildCross(arch) {
  const triple = TARGETS[arch];
  const cxx = `${triple}-g++`;
  if (!has(cxx)) {
    const pkg = `g++-${triple.replace(/_/g, '-')}`;
    console.error(
      `memseal: the ${arch} addon needs the cross compiler ${cxx} (Debian: apt-get install ${pkg}; ` +
        'as root, node scripts/setup-test-env.mjs installs it). `npm run build -- --host-only` builds for this machine alone.',
    );
    process.exit(1);
  }
  const env = { ...process.env, CC: `${triple}-gcc`, CXX: cxx, LINK: cxx, AR: `${triple}-ar` };
  ship(gyp(staging(`build-${arch}`), [`--arch=${arch}`], [], env), arch);
}

function buildNative() {
  if (process.platform !== 'linux') {
    console.log('memseal: skipping the native build (Linux only)');
    return;
  }
  if (variant) {
    // A variant (for the tests, loaded through MEMSEAL_ADDON_PATH) is built
    // for this machine only, from build-<variant>/: the result is
    // build-<variant>/build/Release/memseal.node and the default build stays in place.
    const defines = { 'no-external-buffers': 'no_external_buffers', sanitize: 'sanitize' };
    if (!defines[variant]) throw new Error(`unknown variant ${variant}`);
    gyp(staging(`build-${variant}`), [], [`${defines[variant]}=1`]);
    return;
  }
  if (args.has('--release')) {
    rmSync(join(root, 'build'), { recursive: true, force: true });
    rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
  }
  if (!(process.arch in TARGETS)) throw new Error(`memseal builds on ${Object.keys(TARGETS).join(' or ')}, not ${process.arch}`);
  ship(gyp(root, [], []), process.arch);
  if (!args.has('--host-only')) for (const arch of Object.keys(TARGETS).filter((a) => a !== process.arch)) buildCross(arch);
}

function buildTs() {
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
}

if (only !== 'ts') buildNative();
if (only !== 'native') buildTs();
