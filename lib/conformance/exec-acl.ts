/**
 * F_SEAL_EXEC and POSIX access ACLs (Linux 6.3+): setting
 * system.posix_acl_access changes a file's mode without chmod, so the exec
 * seal must guard that path too. F_SEAL_EXEC came in 6.3 (the series "mm/memfd:
 * introduce MFD_NOEXEC_SEAL and MFD_EXEC", 6fd7353829ca) with a check in
 * shmem_setattr() only, while tmpfs set ACLs through simple_set_acl(), which
 * rewrites the mode unchecked (still so in 7.3.4), until "mm/shmem: honour
 * F_SEAL_EXEC when an ACL is set" gave tmpfs its own shmem_set_acl() (stable
 * 6.12.118; the mainline commit was not found). Kernels without that fix let
 * an ACL add or remove the x bits of an exec-sealed memfd: a deviation.
 */
import { ACCESS_ACL, accessAcl } from './acl.js';
import { attempt, errno, hex, kv, memfd, modeOf, SRC } from './helpers.js';
import type { Case, CaseContext, Deviation, Expectation, Source } from './types.js';

const NOEXEC_DOC = SRC.doc('userspace-api/mfd_noexec.rst', "MFD_NOEXEC_SEAL: F_SEAL_EXEC is set and the memfd can't be modified to add X later");
const FCNTL_MAN = SRC.man('fcntl(2)', 'F_SEAL_EXEC: the execute bits of the mode cannot be changed');
const FIX_SUBJECT = 'mm/shmem: honour F_SEAL_EXEC when an ACL is set';
const FIX: Source = SRC.lkml(
  `${FIX_SUBJECT} (upstream stable 6.12.118, in Debian's 6.12.118-1 changelog; the mainline commit was not found; not in Debian's 7.3.4)`,
);
const FIXED_CODE: Source = SRC.code(
  'mm/shmem.c',
  'shmem_set_acl: memfd_check_seals_mode() (include/linux/memfd.h) refuses an access ACL changing the 0111 bits under F_SEAL_EXEC (Debian 6.12.118); 7.3.4 sets .set_acl = simple_set_acl with no check',
);
const MEASURED: readonly Source[] = [
  SRC.observed('fsetxattr(system.posix_acl_access) changing the x bits of an exec-sealed memfd: taken'),
  SRC.observedOn('Debian 7.3.4 (7.3.4+deb13-cloud-amd64)', 'the same ACLs: taken'),
  SRC.observedOn('Debian 6.12.118 (6.12.118+deb12-cloud-amd64)', 'the same ACLs: EPERM, the mode unchanged'),
];

/** A kernel without the fix: `observed` is what the ACL did to the mode. */
function unfixed(observed: string): Deviation {
  return {
    observed,
    reason: `kernel without "${FIX_SUBJECT}": tmpfs sets an access ACL through simple_set_acl(), which rewrites the mode without the F_SEAL_EXEC check shmem_setattr() makes (measured on 6.18.44 and Debian 7.3.4)`,
    source: FIX,
  };
}

/**
 * The ranges of a case whose ACL the exec seal must refuse: `fixed` where
 * the kernel has the fix (6.12.118 and later 6.12 releases), else `fixed`
 * still expected and `bypassed` a deviation (6.3 to 6.12.117, 6.13 on,
 * measured up to 6.18.44 and 7.3.4).
 */
function sealedAclRanges(fixed: string, bypassed: string, noexec?: readonly number[]): Expectation[] {
  const deviation = unfixed(bypassed);
  const only = noexec === undefined ? {} : { noexec };
  return [
    { since: '6.3', before: '6.12.118', ...only, outcome: fixed, deviations: [deviation] },
    { since: '6.12.118', before: '6.13', ...only, outcome: fixed, note: `${FIX_SUBJECT}: in stable 6.12.118` },
    { since: '6.13', ...only, outcome: fixed, deviations: [deviation] },
  ];
}

/** MFD_EXEC at vm.memfd_noexec=2 (6.6+; 6.3 to 6.5 let it through, so those kernels run the case only at 0 and 1). */
const EXEC_REFUSED: Expectation = { since: '6.6', noexec: [2], outcome: 'create=EACCES', note: 'vm.memfd_noexec=2 refuses MFD_EXEC' };

/** fsetxattr of the minimal access ACL for `mode`: 'ok' or the errno name. */
function setAcl(ctx: CaseContext, fd: number, mode: number): string {
  return errno(() => ctx.b.fsetxattr(fd, ACCESS_ACL, accessAcl(mode), 0));
}

/** The access ACL for `mode` on a MFD_NOEXEC_SEAL memfd (0666): the answer and the mode after. */
function aclOnNoexecSeal(ctx: CaseContext, mode: number): string {
  const fd = memfd(ctx, ctx.c.MFD_NOEXEC_SEAL!, 'conform-acl');
  return kv({ acl: setAcl(ctx, fd, mode), mode: modeOf(ctx, fd) });
}

/**
 * The access ACL for `mode` on an executable memfd (MFD_EXEC |
 * MFD_ALLOW_SEALING, mode 0777) sealed with F_SEAL_EXEC, which on an
 * executable mode also sets the write seals (0x3e): the seals, the answer and
 * the mode after. Refused at vm.memfd_noexec=2 (6.6+): 'create=EACCES'.
 */
function aclOnSealedExecutable(ctx: CaseContext, mode: number): string {
  const { b, c } = ctx;
  const fd = attempt(() => memfd(ctx, c.MFD_EXEC! | c.MFD_ALLOW_SEALING!, 'conform-acl'));
  if (typeof fd === 'string') return kv({ create: fd });
  b.addSeals(fd, c.F_SEAL_EXEC!);
  const acl = setAcl(ctx, fd, mode);
  return kv({ seals: hex(b.getSeals(fd)), acl, mode: modeOf(ctx, fd) });
}

export const cases: Case[] = [
  {
    id: 'exec.noexec-seal.acl-exec-bits',
    title: 'MFD_NOEXEC_SEAL: an access ACL granting execute (user::rwx, group::rwx, other::rwx) fails with EPERM; the mode stays 0666',
    family: 'exec',
    source: [NOEXEC_DOC, FCNTL_MAN, FIXED_CODE, FIX, ...MEASURED],
    requires: ['tmpfsPosixAcl'],
    expect: sealedAclRanges('acl=EPERM mode=0666', 'acl=ok mode=0777'),
    run: (ctx) => aclOnNoexecSeal(ctx, 0o777),
  },
  {
    id: 'exec.seal-exec.acl-clear-exec-bits',
    title: 'F_SEAL_EXEC on an executable memfd (0777): an access ACL taking execute away (rw- for all) fails with EPERM; the mode stays 0777',
    family: 'exec',
    source: [FCNTL_MAN, FIXED_CODE, FIX, ...MEASURED],
    requires: ['tmpfsPosixAcl'],
    expect: [EXEC_REFUSED, ...sealedAclRanges('seals=0x3e acl=EPERM mode=0777', 'seals=0x3e acl=ok mode=0666', [0, 1])],
    run: (ctx) => aclOnSealedExecutable(ctx, 0o666),
  },
  {
    id: 'exec.noexec-seal.acl-other-bits',
    title: 'MFD_NOEXEC_SEAL: an access ACL that leaves the execute bits clear (rw-, r--, r--) is taken: the mode becomes 0644',
    family: 'exec',
    source: [FIXED_CODE, SRC.observed('an ACL of 0644 on a MFD_NOEXEC_SEAL memfd')],
    requires: ['tmpfsPosixAcl'],
    expect: [{ since: '6.3', outcome: 'acl=ok mode=0644' }],
    run: (ctx) => aclOnNoexecSeal(ctx, 0o644),
  },
  {
    id: 'exec.seal-exec.acl-other-bits',
    title: 'F_SEAL_EXEC on an executable memfd (0777): an access ACL that keeps every execute bit (rwx, r-x, r-x) is taken: the mode becomes 0755',
    family: 'exec',
    source: [FIXED_CODE, SRC.observed('an ACL of 0755 on an exec-sealed 0777 memfd')],
    requires: ['tmpfsPosixAcl'],
    expect: [EXEC_REFUSED, { since: '6.3', noexec: [0, 1], outcome: 'seals=0x3e acl=ok mode=0755' }],
    run: (ctx) => aclOnSealedExecutable(ctx, 0o755),
  },
];
