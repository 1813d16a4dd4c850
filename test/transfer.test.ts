/**
 * Sealed memfds reaching other processes: a worker thread (same descriptor
 * table), a child (stdio inheritance), and any process over a Unix socket
 * (SCM_RIGHTS), with the receiver's checks and every refusal typed. No
 * descriptor may be left behind on any path.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants as fsConstants, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { binding } from '../lib/binding.js';
import { Memfd, MemfdListener, memfdSocketPair, MemsealError, receiveMemfd, sendMemfd, SyscallError, TransferError } from '../lib/index.js';
import { itIf } from './helpers/caps.js';
import { fixtures, root } from './helpers/child.js';
import { unlessEmulated } from './helpers/emulation.js';
import { section } from './helpers/readme.js';

const dir = mkdtempSync(join(tmpdir(), 'memseal-transfer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let sockets = 0;
const socketPath = (): string => join(dir, `s${++sockets}`);

const fdList = (): string[] => readdirSync('/proc/self/fd').sort();
const MAGIC = Buffer.from('MSL1');
const frame = (json: string): Buffer => Buffer.concat([MAGIC, Buffer.from(json)]);

/** Runs `fn` with a fresh socket pair and checks that no descriptor is left once both ends are closed. */
async function withPair(fn: (send: number, recv: number) => Promise<void>): Promise<void> {
  const before = fdList();
  const [a, b] = memfdSocketPair();
  try {
    await fn(a, b);
  } finally {
    binding().close(a);
    binding().close(b);
  }
  // A poll slice may still hold its duplicate for up to 250 ms.
  for (let i = 0; i < 20 && fdList().length !== before.length; i++) await new Promise((r) => setTimeout(r, 50));
  expect(fdList()).toEqual(before);
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

function lines(child: ReturnType<typeof spawn>): { next(): Promise<Record<string, unknown>> } {
  let buf = '';
  const queue: Record<string, unknown>[] = [];
  const waiting: ((v: Record<string, unknown>) => void)[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const obj = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(obj);
      else queue.push(obj);
    }
  });
  // A child that ends without its line gives this instead: a mismatch, not a test timeout.
  child.stdout!.on('end', () => {
    for (const w of waiting.splice(0)) w({ ended: 'the child closed its stdout without this line' });
  });
  let ended = false;
  child.stdout!.on('end', () => (ended = true));
  const next = (): Promise<Record<string, unknown>> => {
    if (queue.length > 0) return Promise.resolve(queue.shift()!);
    if (ended) return Promise.resolve({ ended: 'the child closed its stdout without this line' });
    return new Promise((r) => waiting.push(r));
  };
  return { next };
}

// 'close', not 'exit': its stdio pipes are closed by then, so a count of this process's descriptors that follows sees none of them.
const exited = (child: ReturnType<typeof spawn>): Promise<number | null> => new Promise((r) => child.once('close', (code) => r(code)));

describe('between two unrelated Node processes (SCM_RIGHTS over a socket path)', () => {
  it('the receiver gets the sender’s memfd with its seals and message', async () => {
    const path = socketPath();
    const receiver = spawn(process.execPath, [join(fixtures, 'transfer-receiver.cjs'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const out = lines(receiver);
    expect(await out.next()).toEqual({ listening: true });
    const sender = spawnSync(process.execPath, [join(fixtures, 'transfer-sender.cjs'), path, 'sealed config'], { encoding: 'utf8' });
    expect(sender.status).toBe(0);
    const sent = JSON.parse(sender.stdout.trim()) as { pid: number };
    const got = await out.next();
    expect(await exited(receiver)).toBe(0);
    expect(got.text).toBe('sealed config');
    expect(got.message).toEqual({ from: sent.pid });
    expect(got.seals).toEqual(expect.arrayContaining(['grow', 'seal', 'shrink', 'write']));
    expect(got.pid).not.toBe(sent.pid);
  });

  it('a memfd lacking the required seals is refused on the receiving side', async () => {
    const path = socketPath();
    const receiver = spawn(process.execPath, [join(fixtures, 'transfer-receiver.cjs'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const out = lines(receiver);
    await out.next();
    using unsealed = Memfd.create('unsealed');
    unsealed.write('changeable');
    await sendMemfd(path, unsealed, 'hi');
    expect(await out.next()).toEqual({ error: 'ERR_MEMSEAL_MISSING_SEALS', name: 'MemsealError' });
    await exited(receiver);
  });
});

describe('to a worker thread and to a child process', () => {
  it('a worker opens the same descriptor by number and checks the seals', async () => {
    using config = Memfd.from(JSON.stringify({ mode: 'strict' }), { name: 'config' });
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      const { Memfd } = require(${JSON.stringify(join(root, 'dist', 'index.js'))});
      const m = Memfd.fromFd(workerData.fd);
      m.requireSeals('write', 'grow', 'shrink', 'seal');
      parentPort.postMessage(JSON.parse(m.read().toString()));
      m.close();`;
    const worker = new Worker(code, { eval: true, workerData: { fd: config.fd } });
    const message = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    expect(message).toEqual({ mode: 'strict' });
    await worker.terminate();
  });

  it('a child inherits one memfd through stdio and receives another over a socket pair', async () => {
    using first = Memfd.from('inherited', { name: 'first' });
    using second = Memfd.from('sent', { name: 'second' });
    const [mine, theirs] = memfdSocketPair();
    try {
      const child = spawn(process.execPath, [join(fixtures, 'transfer-child.cjs')], { stdio: ['ignore', 'pipe', 'inherit', first.fd, theirs] });
      binding().close(theirs);
      const out = lines(child);
      await sendMemfd(mine, second, { n: 2 });
      expect(await out.next()).toEqual({ first: 'inherited', second: 'sent', message: { n: 2 } });
      expect(await exited(child)).toBe(0);
    } finally {
      binding().close(mine);
    }
  });
});

const PEER = join(fixtures, 'memfd-peer.py');
/** The header as the README's message format gives it: the peer is written from the README, not from lib/transfer.ts. */
const README_HEADER = /^\| header \| the 4 bytes `([^`]+)`/m.exec(section(/^The message format$/))?.[1];
const hasPython = spawnSync('python3', ['-c', 'import socket, sys; sys.exit(0 if hasattr(socket, "send_fds") else 1)'], { stdio: 'ignore' }).status === 0;
const SEALED = ['grow', 'seal', 'shrink', 'write'];

/** The Python peer's one result line, once it exits 0. */
function python(args: string[], stdio: (number | 'ignore' | 'pipe' | 'inherit')[] = ['ignore', 'pipe', 'inherit']): { child: ReturnType<typeof spawn>; out: ReturnType<typeof lines> } {
  const child = spawn('python3', [PEER, ...args], { stdio, env: { ...process.env, MEMSEAL_FRAME_HEADER: README_HEADER ?? '' } });
  return { child, out: lines(child) };
}

describe("with a peer written with Python's standard library (socket.send_fds / recv_fds), from the README's message format", () => {
  it('the README specifies the header', () => {
    expect(README_HEADER).toMatch(/^[ -~]{4}$/);
  });

  itIf(hasPython, 'needs python3 3.9+ (scripts/setup-test-env.mjs installs it)')('Python sends to a MemfdListener at a path; memseal receives its sealed memfd and message', async () => {
    const before = fdList();
    const path = socketPath();
    const listener = MemfdListener.listen(path);
    try {
      const received = listener.receive({ timeout: 20_000, requireSeals: ['write', 'shrink', 'grow', 'seal'] });
      const { child, out } = python(['send', `path:${path}`, 'frame', 'made in Python', JSON.stringify({ from: 'python', n: [1, 2], text: 'é ✓' })]);
      const { memfd, message } = await received;
      expect(message).toEqual({ from: 'python', n: [1, 2], text: 'é ✓' });
      expect(memfd.read().toString()).toBe('made in Python');
      expect([...memfd.seals].sort()).toEqual(SEALED);
      expect(memfd.name).toBe('python-peer');
      memfd.close();
      expect(await out.next()).toMatchObject({ sent: 'frame', fds: 1 });
      expect(await exited(child)).toBe(0);
    } finally {
      listener.close();
    }
    expect(fdList()).toEqual(before);
  });

  itIf(hasPython, 'needs python3 3.9+ (scripts/setup-test-env.mjs installs it)')('memseal sends to a Python listener at a path; Python reads the header, the JSON, the bytes and the seals', async () => {
    const path = socketPath();
    const { child, out } = python(['receive', `path:${path}`]);
    expect(await out.next()).toEqual({ listening: true });
    using m = Memfd.from('made in Node', { name: 'node-sender' });
    await sendMemfd(path, m, { from: 'node', list: [true, null], text: 'é ✓' });
    expect(await out.next()).toEqual({
      header: 'MSL1',
      message: { from: 'node', list: [true, null], text: 'é ✓' },
      text: 'made in Node',
      seals: [...m.seals].sort(),
      mode: m.mode,
      link: '/memfd:node-sender (deleted)',
    });
    expect(await exited(child)).toBe(0);
  });

  itIf(hasPython, 'needs python3 3.9+ (scripts/setup-test-env.mjs installs it)')('both ways over one socket pair: a Python child receives a memfd and sends one back', () =>
    withPair(async (mine, theirs) => {
      const { child, out } = python(['echo', 'fd:3'], ['ignore', 'pipe', 'inherit', theirs]);
      using m = Memfd.from('round trip', { name: 'pair' });
      await sendMemfd(mine, m, ['first', 1]);
      expect(await out.next()).toMatchObject({ header: 'MSL1', message: ['first', 1], text: 'round trip', seals: [...m.seals].sort() });
      const back = await receiveMemfd(mine, { timeout: 20_000, requireSeals: ['write', 'seal'] });
      expect(back.message).toEqual({ echo: ['first', 1] });
      expect(back.memfd.read().toString()).toBe('ROUND TRIP');
      back.memfd.close();
      expect(await out.next()).toMatchObject({ sent: 'frame' });
      expect(await exited(child)).toBe(0);
    }));

  itIf(hasPython, 'needs python3 3.9+ (scripts/setup-test-env.mjs installs it)')(
    "Python's refused records get the documented errors, and their descriptors are closed",
    () =>
      withPair(async (mine, theirs) => {
        const cases: [string, string, RegExp][] = [
          ['no-header', 'ERR_MEMSEAL_BAD_MESSAGE', /not a memseal frame \(wrong header\)/],
          ['bad-utf8', 'ERR_MEMSEAL_BAD_MESSAGE', /not UTF-8/],
          ['no-fd', 'ERR_MEMSEAL_FD_COUNT', /no descriptor/],
          ['two-fds', 'ERR_MEMSEAL_FD_COUNT', /more than one/],
        ];
        for (const [kind, code, message] of cases) {
          const before = fdList();
          const { child, out } = python(['send', 'fd:3', kind, 'refused', '{"kind": "refused"}'], ['ignore', 'pipe', 'inherit', theirs]);
          expect(await out.next()).toMatchObject({ sent: kind });
          expect(await exited(child)).toBe(0);
          const err = await rejection(receiveMemfd(mine, { timeout: 5000 }));
          expect(err, kind).toBeInstanceOf(TransferError);
          expect(err.code, kind).toBe(code);
          expect(err.message, kind).toMatch(message);
          expect(fdList(), kind).toEqual(before);
        }
      }),
  );
});

describe('the receiving side refuses, with a typed error, and leaks nothing', () => {
  it('garbage bytes from a peer: ERR_MEMSEAL_BAD_MESSAGE, the descriptor closed', () =>
    withPair(async (a, b) => {
      using m = Memfd.from('x');
      binding().sendFds(a, Buffer.from('GET / HTTP/1.1\r\n\r\n'), [m.fd]);
      const err = await rejection(receiveMemfd(b, { timeout: 1000 }));
      expect(err).toBeInstanceOf(TransferError);
      expect(err.code).toBe('ERR_MEMSEAL_BAD_MESSAGE');
    }));

  it('a malformed message (the header, then no JSON; or too long): ERR_MEMSEAL_BAD_MESSAGE', () =>
    withPair(async (a, b) => {
      using m = Memfd.from('x');
      binding().sendFds(a, frame('{"unterminated'), [m.fd]);
      expect((await rejection(receiveMemfd(b, { timeout: 1000 }))).code).toBe('ERR_MEMSEAL_BAD_MESSAGE');
      binding().sendFds(a, frame(JSON.stringify('y'.repeat(100))), [m.fd]);
      expect((await rejection(receiveMemfd(b, { timeout: 1000, maxMessageBytes: 16 }))).code).toBe('ERR_MEMSEAL_BAD_MESSAGE');
    }));

  unlessEmulated('scmRightsTruncated')('no descriptor, or more than one (every one closed, MSG_CTRUNC included): ERR_MEMSEAL_FD_COUNT', () =>
    withPair(async (a, b) => {
      using m = Memfd.from('x');
      binding().sendFds(a, frame('null'), []);
      expect((await rejection(receiveMemfd(b, { timeout: 1000 }))).code).toBe('ERR_MEMSEAL_FD_COUNT');
      binding().sendFds(a, frame('null'), [m.fd, m.fd, m.fd]);
      expect((await rejection(receiveMemfd(b, { timeout: 1000 }))).code).toBe('ERR_MEMSEAL_FD_COUNT');
      binding().sendFds(a, frame('null'), Array.from({ length: 40 }, () => m.fd));
      const err = await rejection(receiveMemfd(b, { timeout: 1000 }));
      expect(err.code).toBe('ERR_MEMSEAL_FD_COUNT');
      expect(err.message).toMatch(/more than one/);
    }));

  it('a descriptor that is not a memfd (a regular file, a FIFO, a socket): ERR_MEMSEAL_NOT_MEMFD', () =>
    withPair(async (a, b) => {
      const file = openSync(join(root, 'package.json'), 'r');
      const fifoPath = join(dir, `fifo${++sockets}`);
      expect(spawnSync('mkfifo', [fifoPath]).status).toBe(0);
      const fifo = openSync(fifoPath, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
      try {
        for (const fd of [file, fifo, a]) {
          binding().sendFds(a, frame('{}'), [fd]);
          const err = await rejection(receiveMemfd(b, { timeout: 1000 }));
          expect(err).toBeInstanceOf(MemsealError);
          expect(err.code).toBe('ERR_MEMSEAL_NOT_MEMFD');
        }
      } finally {
        closeSync(file);
        closeSync(fifo);
      }
    }));

  it('a memfd without the required seals: ERR_MEMSEAL_MISSING_SEALS, closed', () =>
    withPair(async (a, b) => {
      using m = Memfd.create('open');
      await sendMemfd(a, m, null);
      expect((await rejection(receiveMemfd(b, { timeout: 1000, requireSeals: ['write'] }))).code).toBe('ERR_MEMSEAL_MISSING_SEALS');
    }));

  it('a closed socket: ERR_MEMSEAL_PEER_CLOSED on either side', async () => {
    const before = fdList();
    let [a, b] = memfdSocketPair();
    binding().close(a);
    expect((await rejection(receiveMemfd(b, { timeout: 1000 }))).code).toBe('ERR_MEMSEAL_PEER_CLOSED');
    binding().close(b);
    [a, b] = memfdSocketPair();
    binding().close(b);
    using m = Memfd.from('x');
    const err = await rejection(sendMemfd(a, m, null));
    expect(err).toBeInstanceOf(TransferError);
    expect(err.code).toBe('ERR_MEMSEAL_PEER_CLOSED');
    binding().close(a);
    m.close();
    expect(fdList()).toEqual(before);
  });

  it('nothing arrives in time: ERR_MEMSEAL_TIMEOUT', () =>
    withPair(async (_a, b) => {
      const started = Date.now();
      expect((await rejection(receiveMemfd(b, { timeout: 300 }))).code).toBe('ERR_MEMSEAL_TIMEOUT');
      // It waited for the timeout (the upper bound is the test's own timeout).
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    }));

  it('a listener: garbage and timeouts leave it usable; close() ends a pending receive', async () => {
    const before = fdList();
    const path = socketPath();
    const listener = MemfdListener.listen(path);
    const garbage = binding().unixSocket();
    binding().unixConnect(garbage, path);
    binding().sendFds(garbage, Buffer.from('hello'), []);
    expect((await rejection(listener.receive({ timeout: 1000 }))).code).toBe('ERR_MEMSEAL_BAD_MESSAGE');
    binding().close(garbage);
    expect((await rejection(listener.receive({ timeout: 200 }))).code).toBe('ERR_MEMSEAL_TIMEOUT');
    using m = Memfd.from('ok');
    const [got] = await Promise.all([listener.receive({ requireSeals: ['write'] }), sendMemfd(path, m, 1)]);
    expect(got.memfd.read().toString()).toBe('ok');
    got.memfd.close();
    const pending = listener.receive({ timeout: 10_000 });
    setTimeout(() => listener.close(), 50);
    expect((await rejection(pending)).code).toBe('ERR_MEMSEAL_CLOSED');
    m.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(fdList()).toEqual(before);
  });

  it('the sender: nothing listening is ENOENT; bad arguments are TypeErrors before any syscall', async () => {
    using m = Memfd.from('x');
    const err = await rejection(sendMemfd(join(dir, 'nobody'), m));
    expect(err).toBeInstanceOf(SyscallError);
    expect(err.code).toBe('ENOENT');
    expect((await rejection(sendMemfd({} as never, m))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((await rejection(sendMemfd(join(dir, 'x'), 'not a memfd' as never))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((await rejection(sendMemfd(join(dir, 'x'), m, { n: 1n }))).code).toBe('ERR_INVALID_ARG_VALUE');
    const file = openSync(join(root, 'package.json'), 'r');
    try {
      expect((await rejection(sendMemfd(file, m))).code).toBe('ERR_INVALID_ARG_VALUE');
    } finally {
      closeSync(file);
    }
  });
});
