// The C anchor for bench/secret.bench.mjs: N times, memfd_secret +
// ftruncate + mmap(MAP_SHARED) + close, write 32 bytes (the first touch,
// where the kernel removes the page from its direct map), then munmap.
// Prints the mean microseconds per secret. With a second argument "guards",
// it also does what SecretBuffer adds: a PROT_NONE reservation with a guard
// page on each side (the secret mapped MAP_FIXED in the middle), and
// MADV_DONTFORK.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
  long page = sysconf(_SC_PAGESIZE);
  int guards = argc > 2 && strcmp(argv[2], "guards") == 0;
  size_t total = (size_t)page * 3;
  unsigned char key[32];
  memset(key, 7, sizeof key);
  double start = now_us();
  for (long i = 0; i < n; i++) {
    int fd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, page) < 0) return perror("memfd_secret"), 1;
    unsigned char* base = NULL;
    if (guards) {
      base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (base == MAP_FAILED) return perror("mmap"), 1;
    }
    unsigned char* p = mmap(guards ? base + page : NULL, (size_t)page, PROT_READ | PROT_WRITE,
                            MAP_SHARED | (guards ? MAP_FIXED : 0), fd, 0);
    if (p == MAP_FAILED) return perror("mmap"), 1;
    close(fd);
    if (guards) madvise(p, (size_t)page, MADV_DONTFORK);
    memcpy(p, key, sizeof key);
    if (guards) explicit_bzero(p, sizeof key);
    munmap(guards ? base : p, guards ? total : (size_t)page);
  }
  printf("%.3f\n", (now_us() - start) / (double)n);
  return 0;
}
