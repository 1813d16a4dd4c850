/**
 * What use() and useAsync() need besides the gate: telling a promise from a
 * value, and the temporary copy a runtime without external buffers works on.
 */
import { MemsealError } from '../errors.js';
import { checkAccess, type Ticket } from './home.js';
import { SecretView } from './view.js';

/** A promise or any object with a then() method. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function asyncCallbackError(): MemsealError {
  return new MemsealError(
    'ERR_MEMSEAL_ASYNC_CALLBACK',
    "The callback given to use() returned a promise: after its first await the secret's Buffer would read as 0 bytes. Use useAsync() for an async callback (the access was restored)",
  );
}

/**
 * A temporary copy of the secret, for a runtime without external buffers
 * (the caller wipes it); it prints as the zero-copy Buffer would not.
 */
function copyOut(t: Ticket): Buffer {
  const temp = new SecretView(t.length) as unknown as Buffer;
  t.home.region.read(t.offset, temp, 0, t.length);
  return temp;
}

/** Writes a temporary copy back after an 'rw' use, unless the secret was disposed meanwhile. */
function copyBack(t: Ticket, temp: Buffer, access: 'r' | 'rw', disposed: boolean): void {
  if (access === 'rw' && !disposed) t.home.region.write(t.offset, temp, 0, t.length);
}

/** use() on a temporary copy: `fn` gets the copy, which is written back (for 'rw') and wiped. */
function useCopy<T>(t: Ticket, fn: (bytes: Buffer) => T, access: 'r' | 'rw', disposed: () => boolean): T {
  const temp = copyOut(t);
  try {
    const result = fn(temp);
    if (isThenable(result)) return result; // use() refuses it; nothing to write back
    copyBack(t, temp, access, disposed());
    return result;
  } finally {
    temp.fill(0);
  }
}

/** useAsync() on a temporary copy, as {@link useCopy}. */
async function useCopyAsync<T>(t: Ticket, fn: (bytes: Buffer) => T | PromiseLike<T>, access: 'r' | 'rw', disposed: () => boolean): Promise<Awaited<T>> {
  const temp = copyOut(t);
  try {
    const result = await fn(temp);
    copyBack(t, temp, access, disposed());
    return result;
  } finally {
    temp.fill(0);
  }
}

/** What use() needs of its SecretBuffer. */
export interface UseHooks {
  /** The zero-copy Buffer, or undefined in a runtime without external buffers. */
  view(): Buffer | undefined;
  disposed(): boolean;
  /** Runs once the access is restored. */
  after(): void;
}

/** use(): `fn` runs with the home opened for `access`, which is restored afterwards, also when `fn` throws. */
export function useSecret<T>(t: Ticket, access: 'r' | 'rw', fn: (bytes: Buffer) => T, hooks: UseHooks): T {
  const close = t.home.open(access);
  try {
    checkAccess(t, access === 'rw');
    const view = hooks.view();
    const result = view === undefined ? useCopy(t, fn, access, hooks.disposed) : fn(view);
    if (isThenable(result)) {
      // Its rejection would otherwise surface as an unhandled rejection.
      if (result instanceof Promise) result.catch(() => undefined);
      throw asyncCallbackError(); // the finally below restores the access first
    }
    return result;
  } finally {
    close();
    hooks.after();
  }
}

/** useAsync(): as {@link useSecret}, the access open until the promise `fn` returns settles. */
export async function useSecretAsync<T>(t: Ticket, access: 'r' | 'rw', fn: (bytes: Buffer) => T | PromiseLike<T>, hooks: UseHooks): Promise<Awaited<T>> {
  const close = t.home.open(access);
  try {
    checkAccess(t, access === 'rw');
    const view = hooks.view();
    return view === undefined ? await useCopyAsync(t, fn, access, hooks.disposed) : await fn(view);
  } finally {
    close();
    hooks.after();
  }
}
