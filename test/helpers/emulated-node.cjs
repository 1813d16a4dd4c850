// Preloaded (NODE_OPTIONS=--require) into every node of an emulated test
// pass (scripts/emulation.mjs): the node to start for a child is the script
// that runs arm64 node under qemu, not the arm64 binary itself, which this
// x86-64 kernel cannot execute without binfmt_misc. vitest's main process
// (x86-64) gets it too, so its forks are arm64 node under qemu.
if (process.env.MEMSEAL_EMULATED_NODE) process.execPath = process.env.MEMSEAL_EMULATED_NODE;
