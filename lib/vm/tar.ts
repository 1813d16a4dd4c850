/**
 * A writer for gzip-compressed ustar archives (POSIX.1-1988 `tar`), the
 * format every lab's `tar -xzf` unpacks. Written here so the archive is the
 * same bytes on every run: every entry is owned by root (0:0), dated 0, with
 * the mode given, in the order given.
 *
 * Each entry: a 512-byte header (name split into prefix/name when longer
 * than 100 bytes, octal numbers, a checksum), the data padded to 512 bytes;
 * the archive ends with two zero blocks.
 */
import { closeSync, createWriteStream, openSync, readSync } from 'node:fs';
import { once } from 'node:events';
import { constants as zlibConstants, createGzip } from 'node:zlib';

export type TarEntry =
  | { type: 'dir'; path: string; mode: number }
  | { type: 'file'; path: string; mode: number; source: string; size: number }
  | { type: 'data'; path: string; mode: number; data: Buffer };

const BLOCK = 512;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

/** Splits a path into ustar's prefix (155 bytes) and name (100 bytes); throws when it cannot. */
export function splitName(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    const [prefix, name] = [path.slice(0, i), path.slice(i + 1)];
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return { prefix, name };
  }
  throw new RangeError(`${path}: too long for a ustar header`);
}

/** The 512-byte header of one entry. */
export function tarHeader(e: TarEntry): Buffer {
  const h = Buffer.alloc(BLOCK);
  const path = e.type === 'dir' ? `${e.path.replace(/\/$/, '')}/` : e.path;
  const { prefix, name } = splitName(path);
  const size = e.type === 'file' ? e.size : e.type === 'data' ? e.data.length : 0;
  h.write(name, 0, 100, 'utf8');
  h.write(octal(e.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii'); // mtime
  h.write('        ', 148, 'ascii'); // checksum, counted as spaces
  h.write(e.type === 'dir' ? '5' : '0', 156, 'ascii');
  h.write('ustar\u000000', 257, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/**
 * Writes the entries as a .tar.gz to `path`. A file whose size changed
 * since it was listed is an error (the archive would be corrupt).
 */
export async function writeTarGz(path: string, entries: readonly TarEntry[], level = 6): Promise<void> {
  const gzip = createGzip({ level, memLevel: 9, chunkSize: 1 << 20, flush: zlibConstants.Z_NO_FLUSH });
  const out = createWriteStream(path, { mode: 0o644 });
  const done = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
    gzip.on('error', reject);
  });
  done.catch(() => undefined); // awaited below, or abandoned after a failure reported by the throw
  gzip.pipe(out);
  const write = async (chunk: Buffer): Promise<void> => {
    if (!gzip.write(chunk)) await once(gzip, 'drain');
  };
  try {
    await writeEntries(entries, write);
  } catch (err) {
    gzip.destroy();
    out.destroy();
    throw err;
  }
  gzip.end();
  await done;
}

async function writeEntries(entries: readonly TarEntry[], write: (chunk: Buffer) => Promise<void>): Promise<void> {
  for (const e of entries) {
    await write(tarHeader(e));
    if (e.type === 'data') {
      await write(e.data);
      await write(padding(e.data.length));
    } else if (e.type === 'file') {
      const fd = openSync(e.source, 'r');
      try {
        let total = 0;
        for (;;) {
          const buf = Buffer.allocUnsafe(1 << 20);
          const n = readSync(fd, buf, 0, buf.length, null);
          if (n === 0) break;
          total += n;
          await write(buf.subarray(0, n));
        }
        if (total !== e.size) throw new Error(`${e.source} changed size while it was packed (${e.size} -> ${total} bytes)`);
      } finally {
        closeSync(fd);
      }
      await write(padding(e.size));
    }
  }
  await write(Buffer.alloc(2 * BLOCK));
}
