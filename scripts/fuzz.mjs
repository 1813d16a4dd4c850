#!/usr/bin/env node
// `npm run fuzz [-- CALLS [PROCESSES]]`: a longer fuzzing run with random
// seeds (printed, so a failure can be replayed with
// `node test/fuzz/worker.mjs SEED CALLS [FAMILY ...]`). Needs a build (npm
// run build). Every other process leaves out the raw binding, whose hostile
// calls change mappings that are not its own. The small-mapping count is
// printed, not judged: the runtime's own mappings move it too.
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LIBRARY = ['conform', 'exec', 'mapping', 'memfd', 'probe', 'secret'];
const calls = Number(process.argv[2] ?? 250_000);
const processes = Number(process.argv[3] ?? 8);
let failed = 0;
for (let i = 0; i < processes; i++) {
  const seed = randomInt(2 ** 31);
  const families = i % 2 === 1 ? LIBRARY : [];
  const r = spawnSync(process.execPath, [join(root, 'test/fuzz/worker.mjs'), String(seed), String(calls), ...families], { encoding: 'utf8', maxBuffer: 64 << 20 });
  let verdict = `${families.length > 0 ? 'without raw, ' : ''}status ${r.status}, signal ${r.signal}`;
  try {
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    const bad = out.unexpected.length > 0 || out.fds[0] !== out.fds[1] || r.signal !== null;
    verdict += `; unexpected ${out.unexpected.length}, fds ${out.fds.join('->')}, maps ${out.maps.join('->')}`;
    if (bad) failed++;
    for (const u of out.unexpected) console.log(`  ${u.target}: ${u.error}`);
  } catch {
    failed++;
    verdict += `; no result\n${r.stderr.slice(-2000)}`;
  }
  console.log(`seed ${seed}: ${calls} calls: ${verdict}`);
}
console.log(`${processes - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
