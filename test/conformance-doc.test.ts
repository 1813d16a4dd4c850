/** docs/conformance.md is generated from the catalog; it must match it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { renderCatalogDoc } from '../lib/conformance/doc.js';
import { CATALOG } from '../lib/conformance/index.js';

it('docs/conformance.md is current (regenerate with node scripts/gen-conformance-doc.mjs)', () => {
  const file = readFileSync(join(__dirname, '..', 'docs', 'conformance.md'), 'utf8');
  expect(file === renderCatalogDoc(CATALOG), 'docs/conformance.md is stale: run `npm run build && node scripts/gen-conformance-doc.mjs`').toBe(true);
});

it('the document names every case with its sources and version ranges', () => {
  const text = renderCatalogDoc(CATALOG);
  for (const c of CATALOG) {
    expect(text).toContain(`#### \`${c.id}\``);
    for (const s of c.source) expect(text).toContain(s.path);
  }
  expect(text).toContain('| >= 6.12 | `mprotect=EPERM first-page=r--p` |');
});
