/**
 * POSIX access ACLs as the kernel takes them through
 * setxattr("system.posix_acl_access") (include/uapi/linux/posix_acl_xattr.h):
 * a little-endian header (version 2), then one 8-byte entry per tag in
 * order, each {tag: u16, perm: u16, id: u32}.
 */

/** The xattr name of a file's access ACL. */
export const ACCESS_ACL = 'system.posix_acl_access';

const VERSION = 2;
const USER_OBJ = 0x01;
const GROUP_OBJ = 0x04;
const OTHER = 0x20;
const UNDEFINED_ID = 0xffffffff;

/**
 * The minimal access ACL equivalent to the permission bits of `mode`
 * (user::, group::, other::): setting it changes the mode as chmod would,
 * without chmod's path through setattr.
 */
export function accessAcl(mode: number): Buffer {
  const entries: [number, number][] = [
    [USER_OBJ, (mode >> 6) & 7],
    [GROUP_OBJ, (mode >> 3) & 7],
    [OTHER, mode & 7],
  ];
  const out = Buffer.alloc(4 + entries.length * 8);
  out.writeUInt32LE(VERSION, 0);
  entries.forEach(([tag, perm], i) => {
    out.writeUInt16LE(tag, 4 + i * 8);
    out.writeUInt16LE(perm, 6 + i * 8);
    out.writeUInt32LE(UNDEFINED_ID, 8 + i * 8);
  });
  return out;
}
