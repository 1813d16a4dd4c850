/**
 * docs/conformance.md, generated from the catalog (scripts/gen-conformance-doc.mjs):
 * every case with its sources, requirements and the expected outcome per
 * kernel version range. Deterministic: nothing about the machine it runs on.
 */
import { rangeText, REQUIREMENTS } from './expect.js';
import { FAMILIES, type Case, type Expectation, type Family, type Requirement } from './types.js';

const FAMILY_TITLES: Readonly<Record<Family, string>> = {
  memfd: 'memfd_create(2)',
  seals: 'File seals (F_ADD_SEALS, F_GET_SEALS)',
  exec: 'Exec flags, F_SEAL_EXEC, execveat, and vm.memfd_noexec',
  secret: 'memfd_secret(2)',
  mseal: 'mseal(2)',
  hugetlb: 'hugetlb memfds',
};

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function outcomes(e: Expectation): string {
  const list = typeof e.outcome === 'string' ? [e.outcome] : [...e.outcome];
  return list.map((o) => `\`${o}\``).join(' or ');
}

function isolationText(c: Case): string {
  switch (c.isolation ?? 'inline') {
    case 'inline':
      return 'in the runner';
    case 'child':
      return 'in a child process';
    case 'pidns':
      return 'as pid 1 of a new pid namespace';
  }
}

function caseSection(c: Case): string {
  const out = [`#### \`${c.id}\``, '', `${c.title.charAt(0).toUpperCase()}${c.title.slice(1)}.`, ''];
  const req = (c.requires ?? []).map((r) => `\`${r}\``).join(', ');
  out.push(`Runs ${isolationText(c)}${req ? `; needs ${req}` : ''}.`, '');
  out.push('| kernel range | expected | note |', '|---|---|---|');
  for (const e of c.expect) {
    const notes = [e.note ?? '', ...(e.deviations ?? []).map((d) => `deviation if ${(typeof d.observed === 'string' ? [d.observed] : d.observed).map((o) => `\`${o}\``).join(' or ')}: ${d.reason}`)].filter(Boolean);
    out.push(`| ${cell(rangeText(e))} | ${cell(outcomes(e))} | ${cell(notes.join('; '))} |`);
  }
  out.push('');
  if (c.docNote) out.push(`**Documentation differs:** ${c.docNote}.`, '');
  out.push('Sources:', '');
  for (const s of c.source) out.push(`- ${s.kind}: ${s.path}${s.test ? ` — ${s.test}` : ''}`);
  out.push('');
  return out.join('\n');
}

/** The whole document. */
export function renderCatalogDoc(catalog: readonly Case[]): string {
  const out = [
    '# The memseal conformance catalog',
    '',
    '<!-- Generated from lib/conformance/ by scripts/gen-conformance-doc.mjs; do not edit by hand. -->',
    '',
    'Each case makes real system calls and compares what it observes with what the',
    'running kernel should answer. A case lists its expectation per kernel version range',
    '(the first range that matches the running kernel, and the `vm.memfd_noexec` value of',
    'its pid namespace, applies); a kernel outside every range skips the case as not',
    'applicable. Outcomes are short strings: `ok`, an errno name, a value, or `key=value`',
    'pairs.',
    '',
    'Statuses: **pass**; **fail** (expected vs observed); **skip** (a named requirement is',
    'missing); **blocked** (a seccomp filter or LSM denies a syscall the kernel has);',
    '**deviation** (a known, cited departure of the kernel from the documented behaviour:',
    'reported loudly, a failure only under `--strict`); **error** (the case itself broke).',
    '',
    'Run it with `memseal conform` (`--json`, `--junit FILE`, `--tap`, `--filter PATTERN`,',
    '`--list`, `--strict`), or as tests with `npm test` (`test/conformance.test.ts`).',
    '',
    '## Requirements',
    '',
    '| requirement | meaning |',
    '|---|---|',
    ...(Object.entries(REQUIREMENTS) as [Requirement, { describe: string }][]).map(([name, r]) => `| \`${name}\` | ${cell(r.describe)} |`),
    '',
    '## Cases',
    '',
    `${catalog.length} cases: ${FAMILIES.map((f) => `${catalog.filter((c) => c.family === f).length} ${f}`).join(', ')}.`,
    '',
  ];
  const disagreements = catalog.filter((c) => c.docNote);
  if (disagreements.length > 0) {
    out.push('### Where the kernel and its documentation disagree', '');
    for (const c of disagreements) out.push(`- \`${c.id}\`: ${c.docNote}.`);
    out.push('');
  }
  for (const family of FAMILIES) {
    const rows = catalog.filter((c) => c.family === family);
    if (rows.length === 0) continue;
    out.push(`### ${FAMILY_TITLES[family]}`, '');
    for (const c of rows) out.push(caseSection(c));
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
