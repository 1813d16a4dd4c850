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

  it('points only at files the package ships, or at URLs', () => {
    const pkg = require(join(root, 'package.json')) as { files: string[] };
    const shipped = (path: string): boolean => pkg.files.some((f) => !f.startsWith('!') && (path === f || (f.endsWith('/') && path.startsWith(f))));
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^(https?:|#|mailto:)/.test(l));
    expect(links.filter((l) => !shipped(l.replace(/^\.\//, '').replace(/#.*$/, '')))).toEqual([]);
    // Commands a reader would type that name a repository file the package lacks.
    expect(readme).not.toMatch(/node scripts\//);
  });
});
