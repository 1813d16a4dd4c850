/**
 * The README documents everything a user can reach: every export of the
 * built package (in a heading of its own), every ERR_MEMSEAL_* code (in the
 * errors table), every CLI subcommand (a subsection each) and every flag the
 * CLI defines (in its subcommand's subsection). The lists come from the code,
 * so a new export, code or flag fails here until it is documented.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { entryMatches, filterEntries } from '../lib/conformance/filter.js';
import { CATALOG, FAMILIES } from '../lib/conformance/index.js';
import { root } from './helpers/child.js';
import { cliFlags, cliSubcommands, errorCodes, hasToken, headings, readme, section } from './helpers/readme.js';

const require = createRequire(import.meta.url);
const exported = Object.keys(require(join(root, 'dist', 'index.js')) as object).sort();
const api = section(/^API$/);
const cli = section(/^Command line$/);
const errors = section(/^Errors$/);

describe('README', () => {
  it('has the sections the checks below read', () => {
    expect(api.length).toBeGreaterThan(1000);
    expect(cli.length).toBeGreaterThan(500);
    expect(errors.length).toBeGreaterThan(200);
  });

  it('gives every export of dist/index.js a heading', () => {
    expect(exported.length).toBeGreaterThan(20);
    const heads = headings().filter((h) => h.includes('`'));
    const missing = exported.filter((name) => !heads.some((h) => hasToken(h.replace(/`/g, ' '), name)));
    expect(missing).toEqual([]);
  });

  it('lists every ERR_MEMSEAL_* code of lib/errors.ts in the errors table', () => {
    const codes = errorCodes();
    expect(codes.length).toBeGreaterThan(10);
    const rows = errors.split('\n').filter((l) => l.startsWith('|'));
    const missing = codes.filter((code) => !rows.some((r) => r.includes(`\`${code}\``)));
    expect(missing).toEqual([]);
  });

  it('has a subsection for every subcommand in lib/cli/main.ts', () => {
    const commands = cliSubcommands();
    expect(commands).toContain('exec');
    const missing = commands.filter((c) => !headings(cli).some((h) => h.startsWith('### ') && h.includes(`\`memseal ${c}`)));
    expect(missing).toEqual([]);
  });

  it("documents every flag in lib/cli/*.ts: a subcommand's flags in its subsection, the rest in the CLI section", () => {
    const commands = new Set(cliSubcommands());
    const missing: string[] = [];
    for (const [file, flags] of cliFlags()) {
      const where = commands.has(file) ? section(new RegExp(`^\`memseal ${file}\\b`), cli) : cli;
      if (commands.has(file)) expect(where.length, `subsection for memseal ${file}`).toBeGreaterThan(0);
      for (const flag of flags) if (!hasToken(where, flag)) missing.push(`${file}: ${flag}`);
    }
    expect(missing).toEqual([]);
  });

  it('names only conformance cases that exist: every case id, every --filter and filter it shows selects a case, entry by entry', () => {
    const ids = CATALOG.map((c) => c.id);
    const family = new RegExp(`\`((?:${FAMILIES.join('|')})\\.[a-z0-9*.-]+)\``, 'g');
    const named = [...readme.matchAll(family)].map((m) => m[1]!);
    const filters = [...readme.matchAll(/--filter\s+(?:'([^']*)'|"([^"]*)"|([^\s'"`]+))/g), ...readme.matchAll(/\bfilter: '([^']*)'/g)]
      .map((m) => m[1] ?? m[2] ?? m[3]!)
      .filter((f) => !/^[A-Z]+\]?$/.test(f)); // a placeholder of a synopsis
    expect(named.length).toBeGreaterThan(5);
    expect(filters.length).toBeGreaterThan(2);
    const entries = [...named, ...filters.flatMap(filterEntries)];
    const nothing = entries.filter((e) => !ids.some((id) => entryMatches(e, id)));
    expect(nothing).toEqual([]);
    // A name without '*' that is no id must be a prefix of some: the README means a group of cases.
    expect(named.filter((n) => !n.includes('*') && !ids.includes(n) && !ids.some((id) => id.startsWith(`${n}.`)))).toEqual([]);
  });

  it('points only at files the package ships, or at URLs', () => {
    const pkg = require(join(root, 'package.json')) as { files: string[] };
    const shipped = (path: string): boolean => pkg.files.some((f) => !f.startsWith('!') && (path === f || (f.endsWith('/') && path.startsWith(f))));
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^(https?:|#|mailto:)/.test(l));
    expect(links.filter((l) => !shipped(l.replace(/^\.\//, '').replace(/#.*$/, '')))).toEqual([]);
    // Commands a reader would type that name a repository file the package lacks.
    expect(readme).not.toMatch(/node scripts\//);
  });
});
