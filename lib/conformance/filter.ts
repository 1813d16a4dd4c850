/**
 * The case filter of `memseal conform --filter` and `runConformance({ filter })`:
 * a comma-separated list of entries, each a substring of the ids it selects
 * (`mseal.munmap`) or, with `*`, a glob over the whole id (`seals.*.busy-*`).
 * A filter must have an entry, and every entry must select a case: a typo
 * never quietly runs less than was asked for.
 */
import { MemsealError } from '../errors.js';
import { invalidArgValue } from '../validate.js';
import type { Case } from './types.js';

/** The entries of a filter: split at commas, trimmed, empty ones left out. */
export function filterEntries(filter: string): string[] {
  return filter
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** True when the filter entry `entry` selects the case `id`. */
export function entryMatches(entry: string, id: string): boolean {
  return entry.includes('*') ? globToRegExp(entry).test(id) : id.includes(entry);
}

/** True when `id` matches the filter: no filter selects every id, a filter without entries none. */
export function matchesFilter(id: string, filter: string | undefined): boolean {
  if (filter === undefined) return true;
  return filterEntries(filter).some((e) => entryMatches(e, id));
}

/**
 * The cases `filter` selects, in catalog order; every case without one.
 * @param name How to name the filter in errors (`options.filter`, `--filter`).
 * @throws TypeError ERR_INVALID_ARG_VALUE when the filter has no entry (an
 *   empty string, or only commas and spaces).
 * @throws MemsealError ERR_MEMSEAL_FILTER_NO_MATCH naming the entries that
 *   select no case.
 */
export function selectCases(cases: readonly Case[], filter: string | undefined, name = 'options.filter'): Case[] {
  if (filter === undefined) return [...cases];
  const entries = filterEntries(filter);
  if (entries.length === 0) throw invalidArgValue(name, `must name at least one case pattern (it is ${JSON.stringify(filter)}); leave it out to select every case`);
  const unmatched = entries.filter((e) => !cases.some((c) => entryMatches(e, c.id)));
  if (unmatched.length > 0) {
    const list = unmatched.map((e) => `'${e}'`).join(', ');
    throw new MemsealError('ERR_MEMSEAL_FILTER_NO_MATCH', `The ${name} ${unmatched.length === 1 ? 'entry' : 'entries'} ${list} ${unmatched.length === 1 ? 'matches' : 'match'} no case`);
  }
  return cases.filter((c) => entries.some((e) => entryMatches(e, c.id)));
}
