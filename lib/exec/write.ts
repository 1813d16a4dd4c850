/** Writing bytes and streams into a clone. */
import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import { promisify } from 'node:util';
import { binding } from '../binding.js';
import { SyscallError } from '../errors.js';
import { invalidArgType, validateLiveView } from '../validate.js';
import { fsError } from './errors.js';

const writeAsync = promisify(fs.write);

export function writeAllSync(fd: number, bytes: Uint8Array): number {
  let done = 0;
  while (done < bytes.length) {
    const n = binding().write(fd, bytes, done, bytes.length - done, done);
    if (n === 0) throw new SyscallError('pwrite', -osConstants.errno.EIO, { message: 'EIO: the clone accepted no more bytes, pwrite' });
    done += n;
  }
  return done;
}

export async function writeAll(fd: number, bytes: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < bytes.length) {
    let n: number;
    try {
      n = (await writeAsync(fd, bytes, done, bytes.length - done, position + done)).bytesWritten;
    } catch (err) {
      throw fsError(err);
    }
    if (n === 0) throw new SyscallError('pwrite', -osConstants.errno.EIO, { message: 'EIO: the clone accepted no more bytes, pwrite' });
    done += n;
  }
  return done;
}

export async function writeStream(fd: number, stream: AsyncIterable<unknown>): Promise<number> {
  let total = 0;
  for await (const chunk of stream) {
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) throw invalidArgType('source chunk', 'a string or Uint8Array', chunk);
    if (typeof chunk !== 'string') validateLiveView(chunk, 'source chunk');
    total += await writeAll(fd, typeof chunk === 'string' ? Buffer.from(chunk) : chunk, total);
  }
  return total;
}
