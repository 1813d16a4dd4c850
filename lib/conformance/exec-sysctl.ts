/**
 * The pid-namespaced sysctl vm.memfd_noexec (Linux 6.3+): each case runs as
 * pid 1 of a fresh pid namespace whose value starts at this one's (the
 * ambient value: 0 on a normal host); the cases about a child namespace ask
 * an `ns-agent` step below it. exec-sysctl-nested.ts has the longer
 * sequences and the hugetlb memfds.
 */
import { existsSync } from 'node:fs';
import { readNoexec, writeNoexec, memfdShape } from './noexec-sysctl.js';
import { errno, memfd, SRC } from './helpers.js';
import type { Case, CaseContext, Source, StepHandle } from './types.js';

const MT = SRC.memfdTest;
const DOC = (section: string): Source => SRC.doc('userspace-api/mfd_noexec.rst', section);
const MEMFD_C = (fn: string): Source => SRC.code('mm/memfd.c', fn);

const SYSCTL_SRC = (test: string): Source => MT(test);
const PIDSYS = SRC.code('kernel/pid_sysctl.h', 'pid_mfd_noexec_dointvec_minmax');

function sysctlCase(c: Omit<Case, 'family' | 'isolation' | 'requires'> & { extraRequires?: Case['requires'] }): Case {
  const { extraRequires, ...rest } = c;
  return { ...rest, family: 'exec', isolation: 'pidns', requires: ['pidns', ...(extraRequires ?? [])], timeout: 15 };
}

const NOEXEC_SHAPE = 'mode=0666 seals=0x20';

/** A helper process as pid 1 of a child pid namespace of this one. */
async function nsAgent(ctx: CaseContext): Promise<StepHandle> {
  const agent = await ctx.step('ns-agent', {}, { newPidns: true });
  await agent.receive(); // ready
  return agent;
}

/** Sends a namespace agent (`ns-agent`, `ns-nest`) one command and returns its answer. */
export async function ask(agent: StepHandle, command: unknown): Promise<string> {
  agent.send(command);
  const answer = await agent.receive();
  if (typeof answer !== 'string') throw new Error(`the namespace agent ended early: ${JSON.stringify(answer)}`);
  return answer;
}

/** Tells a namespace agent to exit and waits for it. */
export async function finish(agent: StepHandle): Promise<void> {
  agent.send({ op: 'exit' });
  await agent.done();
}

export const cases: readonly Case[] = [
  {
    id: 'exec.sysctl.present',
    title: 'vm.memfd_noexec exists from 6.3 and reads 0, 1 or 2',
    family: 'exec',
    source: [DOC('sysctl vm.memfd_noexec'), SRC.observed('/proc/sys/vm/memfd_noexec')],
    expect: [
      { before: '6.3', outcome: 'absent' },
      { since: '6.3', outcome: ['0', '1', '2'] },
    ],
    run: () => (existsSync('/proc/sys/vm/memfd_noexec') ? readNoexec() : 'absent'),
  },
  sysctlCase({
    id: 'exec.sysctl.fresh-namespace',
    title: 'a new pid namespace starts with its parent namespace\'s value',
    source: [DOC('sysctl vm.memfd_noexec: the value is inherited by child namespaces'), SYSCTL_SRC('test_sysctl_nested')],
    expect: [
      { since: '6.3', noexec: [0], outcome: '0' },
      { since: '6.3', noexec: [1], outcome: '1' },
      { since: '6.3', noexec: [2], outcome: '2' },
    ],
    run: () => readNoexec(),
  }),
  sysctlCase({
    id: 'exec.sysctl.value-0',
    title: 'at 0 a memfd made without exec flags is executable: 0777, F_SEAL_SEAL unless MFD_ALLOW_SEALING',
    source: [SYSCTL_SRC('test_sysctl_sysctl0'), DOC('vm.memfd_noexec = 0')],
    expect: [
      { since: '6.3', noexec: [0], outcome: 'write=ok plain=mode=0777 seals=0x1 sealing=mode=0777 seals=0x0' },
      {
        since: '6.3',
        noexec: [1, 2],
        outcome: `write=EINVAL plain=${NOEXEC_SHAPE} sealing=${NOEXEC_SHAPE}`,
        note: 'a namespace cannot go below its parent\'s value: the ambient 1 or 2 stays in force',
      },
    ],
    run: (ctx) => {
      const write = writeNoexec('0');
      return `write=${write} plain=${memfdShape(0)} sealing=${memfdShape(ctx.c.MFD_ALLOW_SEALING!)}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.value-1',
    title: 'at 1 a memfd made without exec flags acts as MFD_NOEXEC_SEAL: 0666, F_SEAL_EXEC, fchmod +x fails',
    source: [SYSCTL_SRC('test_sysctl_sysctl1'), DOC('vm.memfd_noexec = 1')],
    expect: [
      { since: '6.3', noexec: [0, 1], outcome: `write=ok plain=${NOEXEC_SHAPE} sealing=${NOEXEC_SHAPE} chmod=EPERM` },
      { since: '6.6', noexec: [2], outcome: `write=EINVAL plain=${NOEXEC_SHAPE} sealing=${NOEXEC_SHAPE} chmod=EPERM` },
    ],
    run: (ctx) => {
      const write = writeNoexec('1');
      const fd = memfd(ctx, 0);
      return `write=${write} plain=${memfdShape(0)} sealing=${memfdShape(ctx.c.MFD_ALLOW_SEALING!)} chmod=${errno(() => ctx.b.fchmod(fd, 0o777))}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.value-1-exec',
    title: 'at 1 MFD_EXEC is still honoured: 0777 (F_SEAL_SEAL, or none with MFD_ALLOW_SEALING)',
    source: [SYSCTL_SRC('test_sysctl_sysctl1'), DOC('vm.memfd_noexec = 1')],
    expect: [
      { since: '6.3', noexec: [0, 1], outcome: 'write=ok exec=mode=0777 seals=0x1 exec-sealing=mode=0777 seals=0x0' },
      { since: '6.6', noexec: [2], outcome: 'write=EINVAL exec=EACCES exec-sealing=EACCES' },
    ],
    run: (ctx) => {
      const { c } = ctx;
      const write = writeNoexec('1');
      return `write=${write} exec=${memfdShape(c.MFD_EXEC!)} exec-sealing=${memfdShape(c.MFD_EXEC! | c.MFD_ALLOW_SEALING!)}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.value-2-plain',
    title: 'at 2 a memfd made without exec flags succeeds as MFD_NOEXEC_SEAL (0666, F_SEAL_EXEC)',
    source: [SYSCTL_SRC('test_sysctl_sysctl2'), SRC.lkml('memfd: do not -EACCES old memfd_create() users with vm.memfd_noexec=2'), SRC.observed('6.18: succeeds')],
    docNote:
      'Documentation/userspace-api/mfd_noexec.rst as written for 6.3 says memfd_create without MFD_NOEXEC_SEAL is refused at 2; from 6.6 (6.4.16, 6.5.3) the kernel creates it as MFD_NOEXEC_SEAL instead, and that is what this case expects there',
    expect: [
      { since: '6.3', before: '6.6', outcome: [`write=ok plain=${NOEXEC_SHAPE}`, 'write=ok plain=EINVAL'], note: 'unfixed 6.3-6.5: EINVAL; fixed (6.4.16, 6.5.3): NOEXEC_SEAL' },
      { since: '6.6', outcome: `write=ok plain=${NOEXEC_SHAPE}` },
    ],
    run: () => `write=${writeNoexec('2')} plain=${memfdShape(0)}`,
  }),
  sysctlCase({
    id: 'exec.sysctl.value-2-exec',
    title: 'at 2 MFD_EXEC fails with EACCES, with or without MFD_HUGETLB',
    source: [SYSCTL_SRC('test_sysctl_sysctl2'), MEMFD_C('check_sysctl_memfd_noexec'), SRC.lkml('mm/memfd: sysctl: fix MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED')],
    expect: [
      { since: '6.3', before: '6.6', outcome: ['write=ok exec=EACCES exec-hugetlb=EACCES', 'write=ok exec=mode=0777 seals=0x1 exec-hugetlb=mode=0777 seals=0x1'], note: 'unfixed 6.3-6.5 kernels let MFD_EXEC through' },
      { since: '6.6', outcome: 'write=ok exec=EACCES exec-hugetlb=EACCES' },
    ],
    run: (ctx) => {
      const { c } = ctx;
      const write = writeNoexec('2');
      return `write=${write} exec=${memfdShape(c.MFD_EXEC!)} exec-hugetlb=${memfdShape(c.MFD_EXEC! | c.MFD_HUGETLB!)}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.invalid-values',
    title: 'writing 3, -1 or a word fails with EINVAL',
    source: [PIDSYS, SRC.observed('range 0..2')],
    expect: [{ since: '6.3', outcome: '3=EINVAL -1=EINVAL abc=EINVAL' }],
    run: () => ['3', '-1', 'abc'].map((v) => `${v}=${writeNoexec(v)}`).join(' '),
  }),
  sysctlCase({
    id: 'exec.sysctl.lower-to-parent',
    title: 'a namespace can raise its value and lower it again, but not below its parent\'s',
    source: [PIDSYS, SRC.lkml('memfd: replace ratcheting feature from vm.memfd_noexec with hierarchy (6.6)'), SRC.observed('write 1 then 0')],
    expect: [
      { since: '6.3', before: '6.6', noexec: [0], outcome: ['raise=ok lower=EINVAL', 'raise=ok lower=ok'], note: 'before the 6.6 hierarchy rework the value only ratcheted up' },
      { since: '6.6', noexec: [0], outcome: 'raise=ok lower=ok' },
      { since: '6.6', noexec: [1], outcome: 'raise=ok lower=EINVAL' },
      { since: '6.6', noexec: [2], outcome: 'raise=EINVAL lower=EINVAL' },
    ],
    run: () => `raise=${writeNoexec('1')} lower=${writeNoexec('0')}`,
  }),
  sysctlCase({
    id: 'exec.sysctl.child-inherits',
    title: 'a child namespace created at 1 starts at 1, cannot go to 0, and makes noexec memfds',
    source: [SYSCTL_SRC('test_sysctl_nested'), DOC('vm.memfd_noexec: child namespaces inherit')],
    expect: [
      { since: '6.6', noexec: [0, 1], outcome: `set=ok child=1 child-lower=EINVAL child-plain=${NOEXEC_SHAPE}` },
      { since: '6.6', noexec: [2], outcome: `set=EINVAL child=2 child-lower=EINVAL child-plain=${NOEXEC_SHAPE}` },
    ],
    run: async (ctx) => {
      const set = writeNoexec('1');
      const agent = await nsAgent(ctx);
      const child = await ask(agent, { op: 'read' });
      const lower = await ask(agent, { op: 'write', value: '0' });
      const plain = await ask(agent, { op: 'memfd', flags: 0 });
      await finish(agent);
      return `set=${set} child=${child} child-lower=${lower} child-plain=${plain}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.parent-raises-later',
    title: 'raising the parent to 2 after a child namespace exists binds the child too (the maximum over ancestors applies)',
    source: [SYSCTL_SRC('test_sysctl_nested: 0 -> 2 after fork'), PIDSYS],
    expect: [{ since: '6.6', outcome: `set=ok child=2 child-lower=EINVAL child-plain=${NOEXEC_SHAPE} child-exec=EACCES` }],
    run: async (ctx) => {
      const agent = await nsAgent(ctx);
      const set = writeNoexec('2');
      const child = await ask(agent, { op: 'read' });
      const lower = await ask(agent, { op: 'write', value: '1' });
      const plain = await ask(agent, { op: 'memfd', flags: 0 });
      const exec = await ask(agent, { op: 'memfd', flags: ctx.c.MFD_EXEC! });
      await finish(agent);
      return `set=${set} child=${child} child-lower=${lower} child-plain=${plain} child-exec=${exec}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.parent-lowers-later',
    title: 'lowering the parent after a child namespace exists leaves the child at its own value',
    source: [SYSCTL_SRC('test_sysctl_nested: 1 -> 0 after fork'), PIDSYS],
    expect: [
      { since: '6.6', noexec: [0], outcome: 'raise=ok lower=ok child=1 parent=0' },
      { since: '6.6', noexec: [1], outcome: 'raise=ok lower=EINVAL child=1 parent=1' },
      { since: '6.6', noexec: [2], outcome: 'raise=EINVAL lower=EINVAL child=2 parent=2' },
    ],
    run: async (ctx) => {
      const raise = writeNoexec('1');
      const agent = await nsAgent(ctx);
      const lower = writeNoexec('0');
      const child = await ask(agent, { op: 'read' });
      await finish(agent);
      return `raise=${raise} lower=${lower} child=${child} parent=${readNoexec()}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.child-change-isolated',
    title: 'a child namespace raising its own value leaves its parent unchanged',
    source: [SYSCTL_SRC('sysctl_nested_child'), PIDSYS],
    expect: [
      { since: '6.3', noexec: [0], outcome: 'child-write=ok child=2 parent=0' },
      { since: '6.3', noexec: [1], outcome: 'child-write=ok child=2 parent=1' },
      { since: '6.3', noexec: [2], outcome: 'child-write=ok child=2 parent=2' },
    ],
    run: async (ctx) => {
      const agent = await nsAgent(ctx);
      const write = await ask(agent, { op: 'write', value: '2' });
      const child = await ask(agent, { op: 'read' });
      await finish(agent);
      return `child-write=${write} child=${child} parent=${readNoexec()}`;
    },
  }),
  sysctlCase({
    id: 'exec.sysctl.unprivileged-write',
    extraRequires: ['otherUser'],
    title: 'a process without privilege cannot write vm.memfd_noexec (EACCES: only root may open it for writing)',
    source: [PIDSYS, SRC.code('fs/proc/proc_sysctl.c', 'test_perm: mode 0644')],
    expect: [{ since: '6.3', outcome: 'write=EACCES value-unchanged=true' }],
    run: async (ctx) => {
      const before = readNoexec();
      const agent = await ctx.step('ns-agent', {}, { uid: 65534 });
      await agent.receive();
      const write = await ask(agent, { op: 'write', value: before === '2' ? '1' : '2' });
      await finish(agent);
      return `write=${write} value-unchanged=${readNoexec() === before}`;
    },
  }),
];
