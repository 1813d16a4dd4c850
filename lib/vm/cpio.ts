/**
 * A writer for the "newc" cpio format (`cpio -o -H newc`), the one format
 * the kernel unpacks into its initial root filesystem. Written here rather
 * than by piping to cpio(1) so the archive is the same bytes on every run:
 * every entry is owned by root, dated 0, and numbered in order, whatever the
 * files on the host look like.
 *
 * Each entry: the magic "070701", thirteen 8-digit hex fields, the name with
 * its NUL, padding to 4 bytes, the data, padding to 4 bytes. The archive ends
 * with an entry named "TRAILER!!!".
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/** One entry of an archive. Paths are absolute inside the archive ("/bin/sh"). */
export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; mode: number; source: string }
  | { type: 'data'; path: string; mode: number; data: Buffer }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; mode: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): Buffer {
  return Buffer.alloc((4 - (n % 4)) % 4);
}

/** The header and name of one entry, padded. */
export function cpioHeader(
  name: string,
  f: { ino: number; mode: number; nlink: number; size: number; rdevMajor?: number; rdevMinor?: number },
): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const fields = [f.ino, f.mode, 0, 0, f.nlink, 0, f.size, 0, 0, f.rdevMajor ?? 0, f.rdevMinor ?? 0, nameBytes.length, 0];
  const head = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
  return Buffer.concat([head, nameBytes, pad4(head.length + nameBytes.length)]);
}

/** Archive names carry no leading slash ("bin/sh"), as cpio(1) writes them from "." */
function archiveName(path: string): string {
  return path.replace(/^\/+/, '');
}

/**
 * Adds the parent directories every entry needs (the kernel creates nothing
 * on its own) and sorts the entries so parents come first.
 */
export function withParents(entries: readonly CpioEntry[]): CpioEntry[] {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) byPath.set(archiveName(e.path), e);
  for (const name of [...byPath.keys()]) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (!byPath.has(parent)) byPath.set(parent, { type: 'dir', path: `/${parent}` });
    }
  }
  return [...byPath.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

const CHUNK = 1 << 20;

/** Writes `entries` (parents added, sorted) as a newc archive to `out`. Returns its size in bytes. */
export function writeCpio(out: string, entries: readonly CpioEntry[], sizeOf: (source: string) => number): number {
  const fd = openSync(out, 'w', 0o644);
  let written = 0;
  const put = (b: Buffer): void => {
    let off = 0;
    while (off < b.length) off += writeSync(fd, b, off);
    written += b.length;
  };
  try {
    let ino = 1;
    const buf = Buffer.allocUnsafe(CHUNK);
    for (const e of withParents(entries)) {
      const name = archiveName(e.path);
      if (e.type === 'dir') {
        put(cpioHeader(name, { ino: ino++, mode: S_IFDIR | (e.mode ?? 0o755), nlink: 2, size: 0 }));
      } else if (e.type === 'symlink') {
        const target = Buffer.from(e.target, 'utf8');
        put(cpioHeader(name, { ino: ino++, mode: S_IFLNK | 0o777, nlink: 1, size: target.length }));
        put(Buffer.concat([target, pad4(target.length)]));
      } else if (e.type === 'chardev') {
        put(cpioHeader(name, { ino: ino++, mode: S_IFCHR | e.mode, nlink: 1, size: 0, rdevMajor: e.major, rdevMinor: e.minor }));
      } else if (e.type === 'data') {
        put(cpioHeader(name, { ino: ino++, mode: S_IFREG | e.mode, nlink: 1, size: e.data.length }));
        put(Buffer.concat([e.data, pad4(e.data.length)]));
      } else {
        const size = sizeOf(e.source);
        put(cpioHeader(name, { ino: ino++, mode: S_IFREG | e.mode, nlink: 1, size }));
        const src = openSync(e.source, 'r');
        try {
          let copied = 0;
          while (copied < size) {
            const n = readSync(src, buf, 0, Math.min(CHUNK, size - copied), copied);
            if (n === 0) throw new Error(`${e.source} shrank while it was being archived`);
            put(buf.subarray(0, n));
            copied += n;
          }
        } finally {
          closeSync(src);
        }
        put(pad4(size));
      }
    }
    put(cpioHeader('TRAILER!!!', { ino: 0, mode: 0, nlink: 1, size: 0 }));
    return written;
  } finally {
    closeSync(fd);
  }
}
