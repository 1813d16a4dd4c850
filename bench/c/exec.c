// The C baselines for bench/exec.bench.mjs.
//
//   exec clone PATH N   clones PATH into a sealed, executable memfd the plain
//                       way (open, fstat, memfd_create(MFD_EXEC), sendfile
//                       until done, fchmod, F_ADD_SEALS), N times; prints the
//                       median milliseconds per clone. Closing the memfd
//                       (which frees its pages) is not timed, as on the JS side.
//   exec stall PATH N   the same clone on a second thread while the main
//                       thread sleeps 1 ms at a time and notes how late it
//                       wakes, N times; prints the median and the largest of
//                       the per-clone worst lateness, in milliseconds: what
//                       the scheduler alone costs a waiting thread here.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static int clone_once(const char* path) {
  int src = open(path, O_RDONLY | O_CLOEXEC);
  if (src < 0) return -1;
  struct stat st;
  if (fstat(src, &st) < 0) return -1;
  int fd = (int)syscall(SYS_memfd_create, "bench", MFD_EXEC | MFD_ALLOW_SEALING | MFD_CLOEXEC);
  if (fd < 0) return -1;
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t n = sendfile(fd, src, &off, (size_t)(st.st_size - off));
    if (n <= 0) return -1;
  }
  if (fchmod(fd, st.st_mode & 0555) < 0) return -1;
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) return -1;
  close(src);
  return fd;
}

static const char* g_path;
static volatile int g_done;

static void* clone_thread(void* arg) {
  (void)arg;
  int fd = clone_once(g_path);
  g_done = 1;
  return (void*)(long)fd;
}

// The worst lateness of 1 ms sleeps while one clone runs on another thread.
static double stall_once(void) {
  pthread_t t;
  g_done = 0;
  if (pthread_create(&t, NULL, clone_thread, NULL) != 0) return -1;
  double worst = 0, expected = now_ms() + 1;
  while (!g_done) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
    double n = now_ms();
    if (n - expected > worst) worst = n - expected;
    expected = n + 1;
  }
  void* fd;
  pthread_join(t, &fd);
  if ((long)fd < 0) return -1;
  close((int)(long)fd);
  return worst;
}

int main(int argc, char** argv) {
  if (argc != 4 || (strcmp(argv[1], "clone") != 0 && strcmp(argv[1], "stall") != 0)) {
    fprintf(stderr, "usage: exec clone|stall PATH N\n");
    return 2;
  }
  int stall = strcmp(argv[1], "stall") == 0;
  g_path = argv[2];
  int n = atoi(argv[3]);
  if (n < 1) n = 1;
  double* t = calloc((size_t)n, sizeof *t);
  for (int i = 0; i < n; i++) {
    if (stall) {
      t[i] = stall_once();
    } else {
      double t0 = now_ms();
      int fd = clone_once(g_path);
      t[i] = now_ms() - t0;
      if (fd >= 0) close(fd);
      else t[i] = -1;
    }
    if (t[i] < 0) {
      perror("clone");
      return 1;
    }
  }
  qsort(t, (size_t)n, sizeof *t, cmp);
  if (stall) printf("%.4f %.4f\n", t[n / 2], t[n - 1]);
  else printf("%.4f\n", t[n / 2]);
  return 0;
}
