/* bench_util.h — what every bench needs: a monotonic clock, and an exit
 * naming the bench (BENCH_NAME, defined before this is included) and
 * graphc's last error. Include after <graphc.h>, with _POSIX_C_SOURCE
 * defined first (clock_gettime). */
#ifndef GC_BENCH_UTIL_H
#define GC_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline void die(const char *what) {
  fprintf(stderr, "%s: %s: %s\n", BENCH_NAME, what, gc_last_error());
  exit(1);
}

#endif
