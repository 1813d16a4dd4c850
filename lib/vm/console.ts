/**
 * Reads the guest's serial console as it arrives: strips terminal escapes,
 * keeps the last lines for error messages, recognises the markers the init
 * script prints, and reassembles the framed command output (gzip + base64,
 * checked against the size and SHA-256 the guest computed).
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

/** One command's stdout or stderr, as the guest framed it. */
export interface FramedOutput {
  /** 1-based position of the command in the list. */
  index: number;
  stream: 'stdout' | 'stderr';
  exitCode: number;
  data: Buffer;
}

export type ConsoleEvent =
  | { type: 'kernel'; line: string }
  | { type: 'init'; release: string }
  | { type: 'run'; index: number }
  | { type: 'output'; output: FramedOutput }
  | { type: 'corrupt'; index: number; stream: string; why: string }
  | { type: 'done' }
  | { type: 'panic'; line: string }
  | { type: 'unpack-failed'; line: string };

// CSI sequences (ESC [ ... final byte), character-set selection (ESC ( B), and
// the two-byte kind such as ESC c (reset) that firmware prints.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[()][0-9A-Za-z]|\u001b[@-~]/g;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

const BEGIN = /^===MEMSEAL-BEGIN (\d+) (stdout|stderr)===$/;
const END = /^===MEMSEAL-END (\d+) (stdout|stderr) rc=(\d+) bytes=(\d+) sha256=([0-9a-f]{64})===$/;

/** Cleans one console line: no escapes, no carriage returns or other controls. */
export function cleanLine(raw: string): string {
  return raw.replace(ESCAPES, '').replace(CONTROLS, '');
}

export class ConsoleReader {
  readonly outputs: FramedOutput[] = [];
  #partial = '';
  #tail: string[] = [];
  #frame: { index: number; stream: 'stdout' | 'stderr'; lines: string[] } | undefined;
  #sawKernel = false;
  readonly #onEvent: (e: ConsoleEvent) => void;
  readonly #keep: number;

  constructor(onEvent: (e: ConsoleEvent) => void = () => undefined, keep = 40) {
    this.#onEvent = onEvent;
    this.#keep = keep;
  }

  /** Feeds console bytes as they come. */
  feed(chunk: Buffer | string): void {
    const text = this.#partial + chunk.toString('latin1');
    const lines = text.split('\n');
    this.#partial = lines.pop()!;
    for (const l of lines) this.#line(cleanLine(l));
  }

  /** Flushes a last line that had no newline. */
  end(): void {
    if (this.#partial !== '') this.#line(cleanLine(this.#partial));
    this.#partial = '';
  }

  /** The last console lines (framed output left out). */
  tail(n = this.#keep): string[] {
    const partial = cleanLine(this.#partial);
    const lines = partial === '' ? this.#tail : [...this.#tail, partial];
    return lines.slice(-n);
  }

  #remember(line: string): void {
    this.#tail.push(line);
    if (this.#tail.length > this.#keep) this.#tail.shift();
  }

  #line(line: string): void {
    if (this.#frame !== undefined) {
      const end = END.exec(line);
      if (end === null) {
        if (/^[A-Za-z0-9+/=]+$/.test(line)) this.#frame.lines.push(line);
        else this.#remember(line); // a kernel message inside the frame: the checksum decides
        return;
      }
      this.#closeFrame(end);
      return;
    }
    const begin = BEGIN.exec(line);
    if (begin) {
      this.#frame = { index: Number(begin[1]), stream: begin[2] as 'stdout' | 'stderr', lines: [] };
      return;
    }
    this.#remember(line);
    if (!this.#sawKernel && line.includes('Linux version')) {
      this.#sawKernel = true;
      this.#onEvent({ type: 'kernel', line: line.replace(/^\[[\s\d.]+\]\s*/, '') });
    }
    let m: RegExpExecArray | null;
    if ((m = /===MEMSEAL-INIT (\S*)===/.exec(line))) this.#onEvent({ type: 'init', release: m[1]! });
    else if ((m = /===MEMSEAL-RUN (\d+)===/.exec(line))) this.#onEvent({ type: 'run', index: Number(m[1]) });
    else if (line.includes('===MEMSEAL-DONE===')) this.#onEvent({ type: 'done' });
    else if (line.includes('Kernel panic - not syncing')) this.#onEvent({ type: 'panic', line: line.replace(/^\[[\s\d.]+\]\s*/, '') });
    else if (line.includes('Initramfs unpacking failed')) this.#onEvent({ type: 'unpack-failed', line: line.replace(/^\[[\s\d.]+\]\s*/, '') });
  }

  #closeFrame(end: RegExpExecArray): void {
    const frame = this.#frame!;
    this.#frame = undefined;
    const [index, stream, rc, bytes, sha] = [Number(end[1]), end[2]!, Number(end[3]), Number(end[4]), end[5]!];
    const bad = (why: string): void => this.#onEvent({ type: 'corrupt', index, stream, why });
    if (index !== frame.index || stream !== frame.stream) return bad(`frame ${frame.index} ${frame.stream} closed as ${index} ${stream}`);
    let data: Buffer;
    try {
      data = gunzipSync(Buffer.from(frame.lines.join(''), 'base64'));
    } catch (err) {
      return bad(`the output does not decode (${(err as Error).message})`);
    }
    if (data.length !== bytes) return bad(`${data.length} bytes arrived, the guest sent ${bytes}`);
    if (createHash('sha256').update(data).digest('hex') !== sha) return bad('the SHA-256 does not match what the guest sent');
    const output: FramedOutput = { index, stream: frame.stream, exitCode: rc, data };
    this.outputs.push(output);
    this.#onEvent({ type: 'output', output });
  }
}
