/**
 * The Buffer a SecretBuffer hands out: zero copies over the secret memory
 * (an external ArrayBuffer the region detaches when the memory goes), which
 * never shows its bytes where Node would print a Buffer.
 */
import { MemsealError } from '../errors.js';
import { type Ticket } from './home.js';

let externalBuffers = true;

/**
 * The Buffer a SecretBuffer hands out: a Buffer in every respect (its
 * prototype chain holds Buffer.prototype, as Node's own Buffers do), except
 * that it never shows its bytes by itself: util.inspect, JSON.stringify and
 * every implicit conversion to a string (String(), template strings, `+`,
 * `%s`, an array joined) give a label with its length. Its bytes come out
 * only when code asks for them by name: toString([encoding]), the
 * explicit decoding Buffer has always had, or reading them (indexing,
 * iteration, copying). Views made with subarray() and slice() are
 * SecretViews too.
 */
export class SecretView extends Uint8Array {
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `<Buffer (secret) ${this.length} bytes>`;
  }

  /** Buffer's legacy inspect(), as util.inspect. */
  inspect(): string {
    return `<Buffer (secret) ${this.length} bytes>`;
  }

  toJSON(): string {
    return `[secret ${this.length} bytes]`;
  }

  /** The label: Array#toLocaleString calls it on each element without being asked to. */
  override toLocaleString(): string {
    return `[secret ${this.length} bytes]`;
  }

  /** `+buffer` is NaN, never the bytes read as a number; a string conversion is the label. */
  [Symbol.toPrimitive](hint: string): string | number {
    return hint === 'number' ? Number.NaN : `[secret ${this.length} bytes]`;
  }

  /** A SecretView over the same memory, as Buffer#subarray. */
  override subarray(start?: number, end?: number): this {
    return Uint8Array.prototype.subarray.call(this, start, end) as this;
  }

  /** The same as subarray(), as for a Buffer (no copy). */
  override slice(start?: number, end?: number): this {
    return Uint8Array.prototype.subarray.call(this, start, end) as this;
  }
}
Object.setPrototypeOf(SecretView.prototype, Buffer.prototype);

export function noExternalBuffers(): MemsealError {
  return new MemsealError(
    'ERR_MEMSEAL_NO_EXTERNAL_BUFFERS',
    'This runtime (or memseal build) cannot expose secret memory as a Buffer (external ArrayBuffers are not allowed, as in a V8 sandbox): use read(), write() or use(), which copy through a temporary that is wiped',
  );
}

/**
 * @internal A new zero-copy Buffer over a ticket's bytes; the ticket keeps
 * its ArrayBuffer, which the home detaches when the slot is released.
 * @throws MemsealError ERR_MEMSEAL_NO_EXTERNAL_BUFFERS.
 */
export function secretView(t: Ticket): Buffer {
  if (!externalBuffers) throw noExternalBuffers();
  let ab: ArrayBuffer;
  try {
    ab = t.home.region.view(t.offset, t.length);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_MEMSEAL_NO_EXTERNAL_BUFFERS') {
      externalBuffers = false;
      throw noExternalBuffers();
    }
    throw err;
  }
  t.view = ab;
  return new SecretView(ab) as unknown as Buffer;
}

/** `view()`, or undefined in a runtime without external buffers (use() then works on a copy). */
export function zeroCopy(view: () => Buffer): Buffer | undefined {
  if (!externalBuffers) return undefined;
  try {
    return view();
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_MEMSEAL_NO_EXTERNAL_BUFFERS') throw err;
    return undefined;
  }
}
