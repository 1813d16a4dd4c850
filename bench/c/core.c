// The C baseline for bench/core.bench.mjs: the same four operations as the
// JS side, timed the same way (median of rounds, ns per operation).
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef SYS_mseal
#define SYS_mseal 462
#endif

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

#define ROUNDS 7
typedef void (*op_fn)(long n);

static void op_memfd(long n) {
  for (long i = 0; i < n; i++) {
    int fd = (int)syscall(SYS_memfd_create, "bench", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
    if (fd < 0) abort();
    close(fd);
  }
}

static int seal_fd = -1;
static void op_seals(long n) {
  for (long i = 0; i < n; i++) {
    if (fcntl(seal_fd, F_ADD_SEALS, F_SEAL_GROW) < 0) abort();
    if (fcntl(seal_fd, F_GET_SEALS) < 0) abort();
  }
}

static void* prot_page = NULL;
static void op_mprotect(long n) {
  for (long i = 0; i < n; i++) {
    if (mprotect(prot_page, 4096, PROT_READ) < 0) abort();
    if (mprotect(prot_page, 4096, PROT_READ | PROT_WRITE) < 0) abort();
  }
}

static void op_mseal(long n) {
  for (long i = 0; i < n; i++) {
    void* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) abort();
    if (syscall(SYS_mseal, p, 4096, 0) < 0) abort();
  }
}

static double measure(op_fn fn, long n) {
  double r[ROUNDS];
  fn(n / 10);  // warm-up
  for (int k = 0; k < ROUNDS; k++) {
    double t0 = now_ns();
    fn(n);
    r[k] = (now_ns() - t0) / (double)n;
  }
  qsort(r, ROUNDS, sizeof r[0], cmp);
  return r[ROUNDS / 2];
}

// A thread that wakes now and then, as Node's (the libuv pool, V8's platform
// threads) do: with one, the process's memory map is live on more than one
// CPU, and lowering a page's protection must flush the other CPUs' TLBs.
static void* idle_thread(void* arg) {
  (void)arg;
  struct timespec t = {0, 1000000};
  for (;;) nanosleep(&t, NULL);
  return NULL;
}

int main(int argc, char** argv) {
  const char* which = argc > 1 ? argv[1] : "";
  long n = argc > 2 ? atol(argv[2]) : 20000;
  int threads = argc > 3 ? atoi(argv[3]) : 0;
  for (int i = 0; i < threads; i++) {
    pthread_t t;
    pthread_create(&t, NULL, idle_thread, NULL);
  }
  seal_fd = (int)syscall(SYS_memfd_create, "bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  // The toggled page sits between PROT_NONE pages so that no neighbour can
  // merge with it: each mprotect changes exactly one VMA.
  char* area = mmap(NULL, 3 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  prot_page = area + 4096;
  mprotect(prot_page, 4096, PROT_READ | PROT_WRITE);
  double ns;
  if (!strcmp(which, "memfd")) ns = measure(op_memfd, n);
  else if (!strcmp(which, "seals")) ns = measure(op_seals, n);
  else if (!strcmp(which, "mprotect")) ns = measure(op_mprotect, n);
  else if (!strcmp(which, "mseal")) ns = measure(op_mseal, n);
  else return 2;
  printf("%.1f\n", ns);
  return 0;
}
