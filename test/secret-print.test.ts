/**
 * A secret never prints: neither the SecretBuffer nor its Buffer, nor views
 * of that Buffer, through any conversion a program makes without asking
 * for the bytes. Asking for them (toString([encoding]), reading, copying)
 * still works.
 */
import { format, inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretBuffer, SecretPool } from '../lib/index.js';
import { caps, itIf } from './helpers/caps.js';
import { runFixture } from './helpers/child.js';

const needSecretmem = itIf(caps.secretmem, 'memfd_secret is unavailable on this machine', 'memfd_secret');
const live: Disposable[] = [];
const track = <T extends Disposable>(s: T): T => (live.push(s), s);
afterEach(() => {
  for (const s of live.splice(0)) s[Symbol.dispose]();
});

/** Every way a program turns a value into text without asking for its bytes. */
function implicit(b: Buffer): Record<string, unknown> {
  return {
    template: `${b}`,
    String: String(b),
    plus: '' + b,
    concat: 'key='.concat(b as unknown as string),
    join: [b, b].join('|'),
    arrayString: String([b]),
    toLocaleString: b.toLocaleString(),
    arrayToLocaleString: [b].toLocaleString(),
    '%s': format('%s', b),
    '%o': format('%o', b),
    '%O': format('%O', b),
    '%j': format('%j', b),
    '%d': format('%d', b),
    '%i': format('%i', b),
    'format(b)': format(b),
    inspect: inspect(b),
    inspectNested: inspect({ key: [b] }),
    legacyInspect: (b as unknown as { inspect(): string }).inspect(),
    JSON: JSON.stringify({ b }),
    number: Number(b),
    unaryPlus: +(b as unknown as number),
  };
}

function expectRedacted(b: Buffer, length: number): void {
  const label = `[secret ${length} bytes]`;
  const shown = `<Buffer (secret) ${length} bytes>`;
  expect(implicit(b)).toEqual({
    template: label,
    String: label,
    plus: label,
    concat: `key=${label}`,
    join: `${label}|${label}`,
    arrayString: label,
    toLocaleString: label,
    arrayToLocaleString: label,
    '%s': label,
    '%o': shown,
    '%O': shown,
    '%j': JSON.stringify(label),
    '%d': 'NaN',
    '%i': 'NaN',
    'format(b)': shown,
    inspect: shown,
    inspectNested: `{ key: [ ${shown} ] }`,
    legacyInspect: shown,
    JSON: JSON.stringify({ b: label }),
    number: Number.NaN,
    unaryPlus: Number.NaN,
  });
}

describe('printing', () => {
  it('a SecretBuffer never shows its bytes', () => {
    const s = track(SecretBuffer.from('do not print me', { backing: 'mlock' }));
    const label = '[SecretBuffer 15 bytes mlock]';
    expect(inspect(s)).toBe(label);
    expect(String(s)).toBe(label);
    expect(`${s}`).toBe(label);
    expect(s + '').toBe(label);
    expect(format('%s', s)).toBe(label);
    expect(JSON.stringify({ s })).toBe(JSON.stringify({ s: label }));
    expect(inspect({ nested: [s] })).not.toContain('print');
    s.dispose();
    expect(String(s)).toBe('[SecretBuffer 15 bytes mlock, disposed]');
  });

  needSecretmem('names its backing', () => {
    expect(`${track(SecretBuffer.alloc(32))}`).toBe('[SecretBuffer 32 bytes secretmem]');
  });

  it('its Buffer shows no bytes through any implicit conversion', () => {
    const s = track(SecretBuffer.from('1234567', { backing: 'mlock' })); // digits: Number() would read them
    expectRedacted(s.buffer, 7);
  });

  it('nor do views of it made with subarray() and slice(), which share its memory and are detached with it', () => {
    const s = track(SecretBuffer.from('0123456789', { backing: 'mlock' }));
    const sub = s.buffer.subarray(2, 6);
    const sliced = s.buffer.slice(5);
    const whole = s.buffer.subarray();
    expectRedacted(sub, 4);
    expectRedacted(sliced, 5);
    expectRedacted(whole, 10);
    expectRedacted(sub.subarray(1), 3);
    expect(Buffer.isBuffer(sub) && Buffer.isBuffer(sliced)).toBe(true);
    sub[0] = 0x41; // the same memory: no copy
    expect(s.buffer.toString('latin1')).toBe('01A3456789');
    s.protect('none');
    expect([sub.length, sliced.length, whole.length]).toEqual([0, 0, 0]);
  });

  it('a pooled secret, and the Buffer use() hands to its callback, are the same', () => {
    const pool = track(new SecretPool({ backing: 'mlock' }));
    const p = pool.from('pooled key');
    expectRedacted(p.buffer, 10);
    p.use((b) => expectRedacted(b, 10));
    const s = track(SecretBuffer.from('used key', { backing: 'mlock', access: 'none' }));
    s.use((b) => expectRedacted(b.subarray(0, 4), 4));
  });

  it('shows its bytes only when asked for them: toString([encoding]), reading, copying', () => {
    const s = track(SecretBuffer.from('hunter2', { backing: 'mlock' }));
    const b = s.buffer;
    expect(b.toString()).toBe('hunter2');
    expect(b.toString('hex')).toBe(Buffer.from('hunter2').toString('hex'));
    expect(b.subarray(0, 4).toString('utf8')).toBe('hunt');
    expect(Buffer.prototype.toString.call(b)).toBe('hunter2');
    expect(Buffer.from(b).toString()).toBe('hunter2'); // a copy is an ordinary Buffer
    expect(b[0]).toBe(0x68);
    expect(s.use((k) => k.toString())).toBe('hunter2');
  });

  needSecretmem('refuses structuredClone and postMessage; copying its Buffer makes an ordinary copy', () => {
    const r = runFixture('secret-transfer.cjs');
    expect(r.status, r.stderr).toBe(0);
    for (const k of ['structuredClone', 'postMessage', 'postMessageInObject']) {
      expect(r.json[k].name).toBe('DataCloneError');
      expect(r.json[k].message).toMatch(/SecretBuffer cannot be cloned or sent to another thread/);
    }
    expect(r.json.bufferClone).toEqual({ text: 'Top secret', original: 'top secret' });
    // A transfer list does not move secret memory out: Node 20 copied it, later versions refuse.
    expect(r.json.transferList).toEqual(Number(process.versions.node.split('.')[0]) >= 22 ? { name: 'DataCloneError' } : { sent: true });
    expect(r.json.afterTransferList).toEqual({ length: 10, text: 'top secret' });
    expect(r.json.received).toBe('top secret');
  });
});
