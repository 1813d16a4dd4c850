/**
 * Copying a secret's bytes in and out, and comparing them in constant time:
 * read(), write() and equals(), which work in every runtime (no external
 * buffer needed).
 */
import { invalidArgType, outOfRange, validateInteger, validateLiveView } from '../validate.js';
import { checkAccess, type Ticket } from './home.js';

/** read(target, offset): `check` gives the live ticket (or throws ERR_MEMSEAL_DISPOSED) once `target` is known good. */
export function readSecret(check: () => Ticket, target: ArrayBufferView, offset: number): number {
  if (!ArrayBuffer.isView(target)) throw invalidArgType('target', 'a Buffer, TypedArray or DataView', target);
  validateLiveView(target, 'target');
  const t = check();
  validateInteger(offset, 'offset', 0, t.length);
  checkAccess(t, false);
  const n = Math.min(target.byteLength, t.length - offset);
  return t.home.region.read(t.offset + offset, target, 0, n);
}

/** write(source, offset), as {@link readSecret}. */
export function writeSecret(check: () => Ticket, source: ArrayBufferView, offset: number): number {
  if (!ArrayBuffer.isView(source)) throw invalidArgType('source', 'a Buffer, TypedArray or DataView', source);
  validateLiveView(source, 'source');
  const t = check();
  validateInteger(offset, 'offset', 0, t.length);
  if (source.byteLength > t.length - offset) {
    throw outOfRange('source.byteLength', `<= ${t.length - offset} (the room from offset ${offset})`, source.byteLength);
  }
  checkAccess(t, true);
  return t.home.region.write(t.offset + offset, source, 0, source.byteLength);
}

/** equals() of two secrets: false at once for different lengths (lengths are not secret). */
export function equalSecrets(t: Ticket, u: Ticket): boolean {
  if (u.length !== t.length) return false;
  checkAccess(t, false);
  checkAccess(u, false);
  return t.home.region.compare(t.offset, u.home.region, u.offset, t.length);
}

/** equals() of a secret and bytes. */
export function equalBytes(t: Ticket, other: unknown): boolean {
  if (!ArrayBuffer.isView(other)) throw invalidArgType('other', 'a SecretBuffer, Buffer, TypedArray or DataView', other);
  validateLiveView(other, 'other');
  if (other.byteLength !== t.length) return false;
  checkAccess(t, false);
  return t.home.region.compare(t.offset, other, 0, t.length);
}
