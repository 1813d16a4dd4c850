/** Where memseal's own files are: the package root, found from a module inside it. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The nearest folder at or above `from` whose package.json names memseal.
 * The same walk works from lib/ (TypeScript under vitest) and dist/ (built).
 */
export function findPackageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        if ((JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === 'memseal') return dir;
      } catch {
        // Not a readable package.json: keep walking.
      }
    }
    if (dirname(dir) === dir) throw new Error(`memseal: no memseal package.json at or above ${from}`);
  }
}
