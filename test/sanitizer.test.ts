/**
 * The sanitizer pass of `npm test` (MEMSEAL_SANITIZER=1) really runs the
 * instrumented addon, and the normal pass the normal one.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Memfd } from '../lib/index.js';

describe('addon build under test', () => {
  it('is the ASan/UBSan build with its runtimes in the sanitizer pass, the normal build otherwise', () => {
    Memfd.create('which-build').close();
    const maps = readFileSync('/proc/self/maps', 'utf8');
    if (process.env.MEMSEAL_SANITIZER === '1') {
      expect(maps).toMatch(/libasan\.so/);
      expect(maps).toMatch(/libubsan\.so/);
      expect(maps).toMatch(/build-sanitize\/build\/Release\/memseal\.node/);
    } else {
      expect(maps).not.toMatch(/build-sanitize/);
      expect(maps).toMatch(/\/memseal\.node/);
    }
  });
});
