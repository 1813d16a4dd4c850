/**
 * The case modules of each family, for child processes that load only what
 * their cases need: a child started for one pid-namespace case of the exec
 * family has no use for the mseal or hugetlb modules, and under TCG every
 * module a process compiles costs it noticeable time. lib/conformance/index.ts
 * holds (and validates) the whole catalog; test/conformance-runner.test.ts
 * checks that these modules give exactly its cases, family by family.
 */
import type { Case, Family } from './types.js';

export const FAMILY_MODULES: Readonly<Record<Family, readonly string[]>> = {
  memfd: ['./memfd.js'],
  seals: ['./seals.js', './seals-write.js', './seals-size.js', './seals-states.js'],
  exec: ['./exec.js', './exec-execveat.js', './exec-sysctl.js', './exec-sysctl-nested.js', './exec-acl.js'],
  secret: ['./secret.js', './secret-mmap.js', './secret-access.js', './secret-interplay.js', './secret-more.js'],
  mseal: ['./mseal.js', './mseal-blocks.js', './mseal-scope.js', './mseal-changes.js', './mseal-sysmap.js', './mseal-vma.js', './mseal-controls.js'],
  hugetlb: ['./hugetlb.js', './hugetlb-seals.js'],
};

/** The cases of the families named by `ids` (their first word); compiled children only. */
export function casesFor(ids: readonly string[]): Case[] {
  const families = new Set(ids.map((id) => id.split('.')[0] as Family));
  const out: Case[] = [];
  for (const family of families) {
    for (const m of FAMILY_MODULES[family] ?? []) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      out.push(...(require(m) as { cases: readonly Case[] }).cases);
    }
  }
  return out;
}
