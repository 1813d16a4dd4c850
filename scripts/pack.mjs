// `npm pack` from a copy of the sources (so a checkout's own build is left as
// it is), and `npm install` of the tarball into a fresh project, as a user
// would: used by test/package.test.ts and by npm test's arm64 passes, which
// load the arm64 addon from the installed tarball.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a pack needs of the checkout: the sources the build reads, and node_modules (linked) for its tools. */
const SOURCES = ['package.json', 'binding.gyp', 'common.gypi', 'tsconfig.json', 'README.md', 'LICENSE', 'docs', 'native', 'lib', 'scripts'];

/** Packs `root` into `work`; returns the tarball's path and the files npm says it holds. */
export function packCopy(root, work, env = process.env) {
  const src = join(work, 'src');
  mkdirSync(src);
  for (const entry of SOURCES) cpSync(join(root, entry), join(src, entry), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(src, 'node_modules'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: src, encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  const info = JSON.parse(out.slice(out.indexOf('[')))[0];
  return { tarball: join(work, info.filename), files: info.files.map((f) => f.path) };
}

/** Installs `tarball` into a new project `dir` with npm's defaults; returns everything npm printed. */
export function installTarball(tarball, dir, env = process.env) {
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  const r = spawnSync('npm', ['install', tarball], { cwd: dir, encoding: 'utf8', env });
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`npm install failed:\n${output}`);
  return output;
}

/**
 * The tarball npm test packed once for the whole run (MEMSEAL_PACKED names a
 * JSON file with its path and files, written by `recordPack`), else a new one.
 */
export function packedOrPack(root, work, env = process.env) {
  if (process.env.MEMSEAL_PACKED) return JSON.parse(readFileSync(process.env.MEMSEAL_PACKED, 'utf8'));
  return packCopy(root, work, env);
}

/** Writes `packed` where MEMSEAL_PACKED may point; returns that path. */
export function recordPack(packed, work) {
  const file = join(work, 'packed.json');
  writeFileSync(file, JSON.stringify(packed));
  return file;
}
