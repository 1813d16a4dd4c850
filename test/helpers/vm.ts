/**
 * What the VM tests need on the host, asked once: qemu-system-x86_64 and a
 * static busybox for the guest.
 */
import { findBusybox, which } from '../../lib/vm/initramfs.js';
import { qemuBinary } from '../../lib/vm/qemu.js';

export function hasBusybox(): boolean {
  try {
    findBusybox();
    return true;
  } catch {
    return false;
  }
}

export function hasQemu(): boolean {
  return which(qemuBinary()) !== undefined || qemuBinary().startsWith('/');
}

/** Why the VM tests cannot boot here, or '' when they can. */
export function vmToolsMissing(): string {
  return hasQemu() && hasBusybox() ? '' : 'qemu-system-x86_64 or busybox is missing (apt-get install qemu-system-x86 busybox-static)';
}
