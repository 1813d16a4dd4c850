/**
 * Where the VM harness keeps what it builds or downloads (initramfs images,
 * the KVM verdict, Debian kernels and the private apt configuration that
 * fetches them, lib/vm/kernels.ts):
 * $MEMSEAL_CACHE_DIR, else $XDG_CACHE_HOME/memseal, else ~/.cache/memseal.
 * The package itself may sit read-only in node_modules, so nothing is
 * written next to it.
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The cache directory (created on first use by `cacheSubdir`). */
export function cacheDir(): string {
  const own = process.env.MEMSEAL_CACHE_DIR;
  if (own !== undefined && own !== '') return own;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'memseal');
}

/** A subdirectory of the cache, created if missing. */
export function cacheSubdir(name: string, base: string = cacheDir()): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
