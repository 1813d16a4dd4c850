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
 * that util.inspect and JSON.stringify show its length, not its bytes.
 */
export class SecretView extends Uint8Array {
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `<Buffer (secret) ${this.length} bytes>`;
  }

  toJSON(): string {
    return `[secret ${this.length} bytes]`;
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
