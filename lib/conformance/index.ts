/**
 * The conformance catalog: every case of every family, checked once at
 * load (unique ids, a source for every case, well-formed version ranges).
 */
import { compareVersions, parseKernelVersion } from '../kernel.js';
import { cases as exec } from './exec.js';
import { cases as execExecveat } from './exec-execveat.js';
import { cases as execSysctl } from './exec-sysctl.js';
import { cases as execAcl } from './exec-acl.js';
import { cases as execNested } from './exec-sysctl-nested.js';
import { cases as hugetlb } from './hugetlb.js';
import { cases as hugetlbSeals } from './hugetlb-seals.js';
import { cases as memfd } from './memfd.js';
import { cases as mseal } from './mseal.js';
import { cases as msealBlocks } from './mseal-blocks.js';
import { cases as msealChanges } from './mseal-changes.js';
import { cases as msealControls } from './mseal-controls.js';
import { cases as msealScope } from './mseal-scope.js';
import { cases as msealSysmap } from './mseal-sysmap.js';
import { cases as msealVma } from './mseal-vma.js';
import { cases as seals } from './seals.js';
import { cases as sealsSize } from './seals-size.js';
import { cases as sealsStates } from './seals-states.js';
import { cases as sealsWrite } from './seals-write.js';
import { cases as secret } from './secret.js';
import { cases as secretAccess } from './secret-access.js';
import { cases as secretInterplay } from './secret-interplay.js';
import { cases as secretMmap } from './secret-mmap.js';
import { cases as secretMore } from './secret-more.js';
import { FAMILIES, type Case } from './types.js';

const ID = /^[a-z0-9]+(\.[a-z0-9-]+)+$/;
const VERSION = /^\d+\.\d+(\.\d+)?$/;

/** Throws when a case is malformed: the catalog is data, and bad data should fail loudly at load. */
export function validateCatalog(list: readonly Case[]): readonly Case[] {
  const seen = new Set<string>();
  for (const c of list) {
    const where = `conformance case ${c.id}`;
    if (!ID.test(c.id)) throw new Error(`${where}: ids are lower-case dotted words`);
    if (!c.id.startsWith(`${c.family}.`)) throw new Error(`${where}: the id must start with its family (${c.family})`);
    if (!FAMILIES.includes(c.family)) throw new Error(`${where}: unknown family ${c.family}`);
    if (seen.has(c.id)) throw new Error(`${where}: duplicate id`);
    seen.add(c.id);
    if (c.source.length === 0) throw new Error(`${where}: every expectation needs a source`);
    if (c.expect.length === 0) throw new Error(`${where}: no expectation`);
    for (const e of c.expect) {
      for (const v of [e.since, e.before]) {
        if (v !== undefined && !VERSION.test(v)) throw new Error(`${where}: bad version ${v}`);
      }
      if (e.since !== undefined && e.before !== undefined && compareVersions(parseKernelVersion(e.since), parseKernelVersion(e.before)) >= 0) {
        throw new Error(`${where}: empty range ${e.since} - ${e.before}`);
      }
      const outcomes = typeof e.outcome === 'string' ? [e.outcome] : e.outcome;
      if (outcomes.length === 0) throw new Error(`${where}: a range accepts no outcome`);
    }
  }
  return list;
}

/** Every case, family by family. */
export const CATALOG: readonly Case[] = validateCatalog([...memfd, ...seals, ...sealsWrite, ...sealsSize, ...sealsStates, ...exec, ...execExecveat, ...execSysctl, ...execNested, ...execAcl, ...secret, ...secretMmap, ...secretAccess, ...secretInterplay, ...secretMore, ...mseal, ...msealBlocks, ...msealScope, ...msealChanges, ...msealSysmap, ...msealVma, ...msealControls, ...hugetlb, ...hugetlbSeals]);

export { FAMILIES } from './types.js';
export type * from './types.js';
