/**
 * The layers of lib/: the library modules at the bottom, then the conformance
 * catalog and the VM harness, then the CLI; lib/index.ts, the package's entry,
 * re-exports from any of them. A module imports only from its own layer or
 * those below, and no module imports itself back through others.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LIB = fileURLToPath(new URL('../lib/', import.meta.url));

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return modules(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports and re-exports of a module, resolved to .ts paths; `type`-only ones are left out (they vanish at run time). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?\sfrom\s+'(\.[^']+)';/gms)) {
    if (m[1] !== undefined) continue;
    out.push(resolve(dirname(file), m[2]!.replace(/\.js$/, '.ts')));
  }
  // A lazy require() is an import too.
  for (const m of text.matchAll(/require\('(\.[^']+)'\)/g)) out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  return out;
}

function layerOf(file: string): { rank: number; name: string } {
  const rel = relative(LIB, file);
  if (rel === 'index.ts') return { rank: 3, name: 'the entry' };
  if (rel.startsWith('cli/')) return { rank: 2, name: 'cli' };
  if (rel.startsWith('conformance/')) return { rank: 1, name: 'conformance' };
  if (rel.startsWith('vm/')) return { rank: 1, name: 'vm' };
  return { rank: 0, name: 'library' };
}

const graph = new Map(modules(LIB).map((f) => [f, imports(f)]));

describe('the layers of lib/', () => {
  it('finds the modules and their imports', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get(join(LIB, 'conformance/report.ts'))).toContain(join(LIB, 'format.ts'));
  });

  it('no module imports from a layer above its own, nor across from conformance to vm or back', () => {
    const wrong: string[] = [];
    for (const [file, deps] of graph) {
      const from = layerOf(file);
      for (const dep of deps) {
        const to = layerOf(dep);
        if (to.rank > from.rank || (to.rank === from.rank && to.name !== from.name)) wrong.push(`${relative(LIB, file)} (${from.name}) imports ${relative(LIB, dep)} (${to.name})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'open');
      path.push(file);
      for (const dep of graph.get(file) ?? []) {
        if (!graph.has(dep)) continue;
        if (state.get(dep) === 'open') cycles.push([...path.slice(path.indexOf(dep)), dep].map((f) => relative(LIB, f)).join(' -> '));
        else if (!state.has(dep)) visit(dep);
      }
      path.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });
});
