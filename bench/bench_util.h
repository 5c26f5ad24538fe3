/* bench_util.h — what every bench needs: a monotonic clock, an exit
 * naming the bench (BENCH_NAME, defined before this is included) and
 * graphc's last error, and the options of the alternating-batch benches. Include after <graphc.h>,
 * with _POSIX_C_SOURCE defined first (clock_gettime). */
#ifndef GC_BENCH_UTIL_H
#define GC_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The options of the benches that time alternating batches: --device D,
 * --reps N (runs per batch, >= 1), --batches B (>= 1) and, where the bench
 * takes it (profile not NULL), --profile. Anything else prints usage and
 * exits with status 2. */
typedef struct batch_options {
  const char *device;
  int reps, batches;
} batch_options;

static inline batch_options parse_batch_options(int argc, char **argv, int *profile,
                                                const char *usage) {
  batch_options o = {NULL, 10, 3};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--device") && i + 1 < argc) {
      o.device = argv[++i];
    } else if (!strcmp(argv[i], "--reps") && i + 1 < argc && atoi(argv[i + 1]) >= 1) {
      o.reps = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--batches") && i + 1 < argc && atoi(argv[i + 1]) >= 1) {
      o.batches = atoi(argv[++i]);
    } else if (profile && !strcmp(argv[i], "--profile")) {
      *profile = 1;
    } else {
      fprintf(stderr, "usage: %s %s\n", BENCH_NAME, usage);
      exit(2);
    }
  }
  return o;
}

#endif
