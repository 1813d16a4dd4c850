#!/usr/bin/env node
// Writes docs/conformance.md from the conformance catalog (lib/conformance/,
// compiled to dist/: run `npm run build` first).
//
//   node scripts/gen-conformance-doc.mjs           write the file
//   node scripts/gen-conformance-doc.mjs --check   exit 1 if the file is stale
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const dist = join(root, 'dist', 'conformance');
if (!existsSync(join(dist, 'doc.js'))) {
  console.error('gen-conformance-doc: dist/conformance is missing; run `npm run build` first');
  process.exit(2);
}
const { CATALOG } = require(join(dist, 'index.js'));
const { renderCatalogDoc } = require(join(dist, 'doc.js'));
const file = join(root, 'docs', 'conformance.md');
const text = renderCatalogDoc(CATALOG);

if (process.argv.includes('--check')) {
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (current !== text) {
    console.error('docs/conformance.md is stale: run `node scripts/gen-conformance-doc.mjs`');
    process.exit(1);
  }
  console.log(`docs/conformance.md is current (${CATALOG.length} cases)`);
} else {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  console.log(`wrote docs/conformance.md (${CATALOG.length} cases)`);
}
