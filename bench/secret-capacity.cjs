// Run by bench/secret.bench.mjs under `ulimit -l 8192` as an unprivileged
// user: how many 32-byte secrets fit? argv[2]: 'pool' | 'buffer' | 'sodium'.
// SecretPool and SecretBuffer: allocate until the limit refuses one.
// sodium_malloc never fails at the limit (it ignores mlock's error and goes
// on with unlocked memory): count the buffers allocated while VmLck still grew.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const kind = process.argv[2];
const vmLck = () => Number(/VmLck:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
const held = [];
let count = 0;
let note = '';
if (kind === 'sodium') {
  const sodium = require('sodium-native');
  let last = vmLck();
  let flat = 0;
  // Stop well before vm.max_map_count, where sodium-native aborts the process.
  while (held.length < 8000 && flat < 256) {
    held.push(sodium.sodium_malloc(32));
    const now = vmLck();
    if (now > last) {
      count = held.length;
      flat = 0;
    } else {
      flat++;
    }
    last = now;
  }
  note = `allocations went on unlocked after ${count}`;
} else {
  const { SecretBuffer, SecretPool } = require(join(__dirname, '..', 'dist', 'index.js'));
  const pool = kind === 'pool' ? new SecretPool() : undefined;
  for (;;) {
    try {
      held.push(pool ? pool.alloc(32) : SecretBuffer.alloc(32));
    } catch (err) {
      note = `${err.name} ${err.code}`;
      break;
    }
  }
  count = held.length;
}
console.log(JSON.stringify({ kind, count, vmLckKiB: vmLck(), note }));
