# memseal in a container: `docker run --rm memseal` prints the conformance
# report for the kernel as this container sees it.
#
# What a container changes:
# - Nothing about the kernel: it is the host's. To test another kernel, boot
#   it with `memseal vm --kernel IMAGE` instead.
# - The engine's seccomp profile sits between memseal and that kernel.
#   Docker's and podman's default profiles deny mseal(2) (runc answers ENOSYS,
#   as for any syscall newer than the profile; crun answers EPERM), although a
#   6.10+ kernel has it. memseal reports such a syscall `blocked`, not
#   `unsupported`: /proc/self/status says "Seccomp: 2", and a control syscall
#   the kernel answers EBADF from 6.5 on (cachestat on a bad fd) comes back
#   otherwise. memfd_create with MFD_EXEC / MFD_NOEXEC_SEAL, the F_SEAL_*
#   seals and memfd_secret pass the default profiles.
# - `--security-opt seccomp=unconfined` removes the profile: mseal works.
# - vm.memfd_noexec is per pid namespace: the container has its own, which
#   starts at its parent's value and can only be raised. /proc/sys is
#   read-only inside unless run with `--security-opt systempaths=unconfined`
#   and CAP_SYS_ADMIN.
#
#   docker build -t memseal .
#   docker run --rm memseal                                     # memseal conform
#   docker run --rm memseal conform --json
#   docker run --rm --security-opt seccomp=unconfined memseal   # without the profile
#   docker run --rm memseal probe
#
# BASE and RUNTIME_BASE default to the official Node images. A machine with no
# registry imports its own (test/container.test.ts builds one from
# debootstrap and the host's node) and passes --build-arg BASE=...
# --build-arg RUNTIME_BASE=...; the build needs the npm registry
# (docker build --network host where the default network has no route).
ARG BASE=node:26-bookworm
ARG RUNTIME_BASE=node:26-bookworm-slim

FROM ${BASE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# node:26-bookworm has the toolchain node-gyp needs; a slim base gets it here.
# The image runs on the architecture it was built on: its addon alone (--host-only).
RUN (command -v g++ && command -v make && command -v python3 || \
      (apt-get update && apt-get install -y --no-install-recommends g++ make python3 && rm -rf /var/lib/apt/lists/*)) \
 && node scripts/build.mjs --release --host-only \
 && cp -r package.json package-lock.json dist prebuilds /out/ \
 && find /out/dist -name '*.map' -delete \
 && cd /out && npm ci --omit=dev --ignore-scripts --no-audit --no-fund && rm package-lock.json

FROM ${RUNTIME_BASE}
COPY --from=build /out /opt/memseal
ENTRYPOINT ["node", "/opt/memseal/dist/cli/main.js"]
CMD ["conform"]
