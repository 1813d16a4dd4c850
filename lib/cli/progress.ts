/**
 * Progress of several boots at once on stderr. On a terminal, one line per
 * kernel, rewritten in place as each boot moves on; elsewhere (a log, a CI
 * job), plain lines prefixed with the kernel's number and name. One kernel:
 * plain lines, as before.
 */
import type { WriteStream } from 'node:tty';

export interface Progress {
  /** The progress function for one kernel's boot. */
  of(index: number): (line: string) => void;
  /** A message that is not one kernel's progress (an error, the guest's stderr). */
  log(text: string): void;
  /** Stops redrawing; the last lines stay. */
  done(): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WritableStream;
  /** `memseal vm:` coloured, or plain. */
  prefix: string;
  /** One title per kernel. */
  titles: readonly string[];
  /** Redraw lines in place (default: the stream is a terminal and there are several kernels). */
  live?: boolean;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

export function createProgress(o: ProgressOptions): Progress {
  const stream = o.stream ?? process.stderr;
  const tty = stream as WriteStream;
  const several = o.titles.length > 1;
  const live = o.live ?? (tty.isTTY === true && several);
  const label = (i: number): string => (several ? `[${i + 1}] ${o.titles[i]}: ` : '');
  if (!live) {
    return {
      of: (i) => (line) => void stream.write(`${o.prefix} ${label(i)}${line}\n`),
      log: (text) => void stream.write(text.endsWith('\n') ? text : `${text}\n`),
      done: () => undefined,
    };
  }
  const lines = o.titles.map((_, i) => `${label(i)}waiting`);
  let drawn = 0;
  // A pseudo-terminal may report 0 columns.
  const width = (): number => Math.max(20, (tty.columns || 100) - 1);
  const fit = (text: string): string => {
    const plain = text.replace(ANSI, '');
    return plain.length <= width() ? text : `${plain.slice(0, width() - 1)}…`;
  };
  const erase = (): void => {
    if (drawn > 0) stream.write(`\u001b[${drawn}A`);
    for (let i = 0; i < drawn; i++) stream.write('\u001b[2K\n');
    if (drawn > 0) stream.write(`\u001b[${drawn}A`);
    drawn = 0;
  };
  const draw = (): void => {
    if (drawn > 0) stream.write(`\u001b[${drawn}A`);
    for (const l of lines) stream.write(`\u001b[2K${fit(`${o.prefix} ${l}`)}\n`);
    drawn = lines.length;
  };
  let stopped = false;
  draw();
  return {
    of: (i) => (line) => {
      lines[i] = `${label(i)}${line}`;
      if (!stopped) draw();
    },
    log: (text) => {
      if (!stopped) erase();
      stream.write(text.endsWith('\n') ? text : `${text}\n`);
      if (!stopped) draw();
    },
    done: () => {
      stopped = true;
    },
  };
}
