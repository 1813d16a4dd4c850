/**
 * Whether the CLI colours its output: only on a TTY (NO_COLOR and
 * FORCE_COLOR are honoured). The painting itself is lib/format.ts.
 */
import type { WriteStream } from 'node:tty';

/** Whether to colour output written to `stream`. */
export function useColour(stream: NodeJS.WritableStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return (stream as WriteStream).isTTY === true;
}
