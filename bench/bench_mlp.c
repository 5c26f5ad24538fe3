/* bench_mlp.c — what one training epoch costs on a device, and where the
 * time goes. Trains a registry model (default `mlp`: 784-256-128-10, Adam,
 * batch 64; `--model cnn` for the CNN) for one epoch of Fashion-MNIST (or
 * --limit samples of it) and prints seconds per epoch,
 * samples/s, launches per step and arena bytes; then splits a step into
 * host work (batch gathering + input upload), enqueueing, and device time
 * (steps replayed on fixed inputs); then the same with fusion off, as a
 * ratio measured in this one process; and the per-kernel device time of
 * the fused step (OpenCL profiling events). Last, the device steps of the
 * fused and unfused programs — and, where the compile split optimizer
 * updates to shrink the arena, of the program with them whole (--no-plan)
 * — timed in alternating blocks: the ratios to quote.
 *
 *   bench_mlp [--model NAME] [--device D] [--data DIR] [--batch B] [--steps N]
 *             [--limit SAMPLES]
 *
 * Uses only the public API. Timings are printed, never asserted. */
#include <graphc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_NAME "bench_mlp"
#include "bench_util.h"

typedef struct run_result {
  double epoch_s, host_s, enqueue_s, device_step_s, compile_s;
  gc_program_stats stats;
  float loss;
} run_result;

static const char *model_name = "mlp";

static run_result run(gc_device *dev, const gc_dataset *train, int batch, int no_fuse,
                      int replay_steps, int print_profile) {
  run_result r = {0};
  const gc_model *m = gc_model_find(model_name);
  gc_train_options opt = {0};
  gc_graph *g = gc_graph_new();
  gc_graph_set_seed(g, 0);
  if (m->build(g, batch, 1, &opt) || gc_graph_status(g)) die("build");
  gc_compile_options co = {0};
  co.no_fuse = no_fuse;
  gc_program *p;
  if (gc_compile(g, dev, &co, &p)) die("compile");
  gc_program_stats_get(p, &r.stats);
  gc_session *s;
  if (gc_session_new(p, &s)) die("session");
  int64_t n = gc_dataset_size(train), feat = gc_dataset_sample_numel(train);
  int64_t steps = n / batch;
  int64_t *perm = malloc(sizeof *perm * (size_t)n);
  float *x = malloc(sizeof *x * (size_t)(batch * feat));
  int32_t *y = malloc(sizeof *y * (size_t)batch);
  gc_permutation(1, n, perm);
  /* one warm-up step: the first launch of each kernel compiles it */
  gc_dataset_gather(train, perm, batch, x, y);
  gc_session_set_input(s, "x", x, sizeof *x * (size_t)(batch * feat));
  gc_session_set_input(s, "y", y, sizeof *y * (size_t)batch);
  gc_session_run(s);
  gc_session_finish(s);

  double t0 = now();
  for (int64_t st = 0; st < steps; st++) {
    double h0 = now();
    gc_dataset_gather(train, perm + st * batch, batch, x, y);
    double h1 = now();
    /* set_input waits when the device is 3 steps behind (the staging ring),
     * so this part also absorbs device time */
    if (gc_session_set_input(s, "x", x, sizeof *x * (size_t)(batch * feat)) ||
        gc_session_set_input(s, "y", y, sizeof *y * (size_t)batch) || gc_session_run(s))
      die("set_input/run");
    r.host_s += h1 - h0;
    r.enqueue_s += now() - h1;
  }
  if (gc_session_get_output(s, "loss", &r.loss, sizeof r.loss)) die("loss");
  r.epoch_s = now() - t0;

  double t1 = now();
  for (int i = 0; i < replay_steps; i++)
    if (gc_session_run(s)) die("run");
  gc_session_finish(s);
  r.device_step_s = (now() - t1) / replay_steps;

  /* Where the device time goes: per-kernel times from profiling events. */
  if (print_profile && !gc_session_set_profiling(s, 1)) {
    for (int i = 0; i < replay_steps; i++)
      if (gc_session_run(s)) die("run");
    gc_kernel_profile prof[256];
    int nk = 0;
    if (gc_session_profile(s, prof, 256, &nk)) die("profile");
    double total = 0;
    for (int i = 0; i < nk && i < 256; i++) total += prof[i].seconds;
    printf(
        "kernel time per step %.1f us of %.1f us device-only step (the rest is launch "
        "overhead and gaps between kernels):\n",
        1e6 * total / replay_steps, 1e6 * r.device_step_s);
    for (int i = 0; i < nk && i < 256; i++)
      printf("  %-4s %7.1f us  %5.1f%%  %s\n", prof[i].name, 1e6 * prof[i].seconds / replay_steps,
             total > 0 ? 100 * prof[i].seconds / total : 0, prof[i].what);
    gc_session_set_profiling(s, 0);
  }
  free(perm);
  free(x);
  free(y);
  gc_session_free(s);
  gc_program_free(p);
  gc_graph_free(g);
  return r;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Device-only steps of n compiles of the model (opts[i]) on one batch,
 * timed in alternating blocks of `steps` runs, the order rotating each
 * round, so that the machine's drift (other jobs, clocks) lands on all of
 * them alike: median[i] gets each one's median seconds per step. One
 * after the other, the later runs of this bench read up to 1.3x apart
 * on this 2-core machine for programs within 5% of each other. */
static void alternate(gc_device *dev, const gc_dataset *train, int batch,
                      const gc_compile_options *opts, int n, int rounds, int steps,
                      double *median) {
  const gc_model *m = gc_model_find(model_name);
  gc_program *p[4];
  gc_session *s[4];
  double *t = malloc(sizeof *t * (size_t)(n * rounds));
  int64_t feat = gc_dataset_sample_numel(train);
  float *x = malloc(sizeof *x * (size_t)(batch * feat));
  int32_t *y = malloc(sizeof *y * (size_t)batch);
  int64_t *first = malloc(sizeof *first * (size_t)batch);
  if (n > 4) die("alternate: at most 4 programs");
  if (!t || !x || !y || !first) die("alternate: out of memory");
  for (int i = 0; i < batch; i++) first[i] = i;
  gc_dataset_gather(train, first, batch, x, y);
  for (int k = 0; k < n; k++) {
    gc_train_options opt = {0};
    gc_graph *g = gc_graph_new();
    gc_graph_set_seed(g, 0);
    if (m->build(g, batch, 1, &opt) || gc_graph_status(g)) die("build");
    if (gc_compile(g, dev, &opts[k], &p[k]) || gc_session_new(p[k], &s[k])) die("compile");
    gc_graph_free(g);
    if (gc_session_set_input(s[k], "x", x, sizeof *x * (size_t)(batch * feat)) ||
        gc_session_set_input(s[k], "y", y, sizeof *y * (size_t)batch) || gc_session_run(s[k]) ||
        gc_session_finish(s[k]))
      die("warm-up");
  }
  for (int r = 0; r < rounds; r++)
    for (int j = 0; j < n; j++) {
      int k = (j + r) % n;
      double t0 = now();
      for (int i = 0; i < steps; i++)
        if (gc_session_run(s[k])) die("run");
      gc_session_finish(s[k]);
      t[k * rounds + r] = (now() - t0) / steps;
    }
  for (int k = 0; k < n; k++) {
    qsort(t + k * rounds, (size_t)rounds, sizeof *t, by_value);
    median[k] = t[k * rounds + rounds / 2];
    gc_session_free(s[k]);
    gc_program_free(p[k]);
  }
  free(t);
  free(x);
  free(y);
  free(first);
}

int main(int argc, char **argv) {
  const char *device = "pocl", *data = NULL;
  int batch = 64, replay = 200;
  long long limit = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--device") && i + 1 < argc)
      device = argv[++i];
    else if (!strcmp(argv[i], "--data") && i + 1 < argc)
      data = argv[++i];
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
      batch = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
      replay = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--model") && i + 1 < argc)
      model_name = argv[++i];
    else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
      limit = atoll(argv[++i]);
    else {
      fprintf(stderr,
              "usage: bench_mlp [--model NAME] [--device D] [--data DIR] [--batch B] "
              "[--steps N] [--limit SAMPLES]\n");
      return 2;
    }
  }
  if (batch < 1 || replay < 1) {
    fprintf(stderr, "bench_mlp: --batch and --steps must be >= 1\n");
    return 2;
  }
  gc_device *dev;
  if (gc_device_open(device, &dev)) die("device");
  gc_dataset *train;
  if (!gc_model_find(model_name)) {
    fprintf(stderr, "bench_mlp: no model \"%s\"\n", model_name);
    return 2;
  }
  if (gc_dataset_load_mnist(data, 1, &train)) die("data");
  if (limit > 0 && limit < gc_dataset_size(train)) {
    int64_t *idx = malloc(sizeof *idx * (size_t)limit);
    gc_dataset *sub;
    for (long long i = 0; i < limit; i++) idx[i] = i;
    if (gc_dataset_subset(train, idx, limit, &sub)) die("subset");
    free(idx);
    gc_dataset_free(train);
    train = sub;
  }
  printf("device: %s\n", gc_device_name(dev));
  run_result f = run(dev, train, batch, 0, replay, 1);
  run_result u = run(dev, train, batch, 1, replay, 1);
  int64_t steps = gc_dataset_size(train) / batch;
  double sps = (double)(steps * batch) / f.epoch_s;
  printf("%s epoch (batch %d, %lld steps): %.2f s, %.0f samples/s, final loss %.4f\n", model_name,
         batch, (long long)steps, f.epoch_s, sps, f.loss);
  printf(
      "launches per step: %d (kernels %d), arena %zu bytes (no-reuse %zu, live lower bound "
      "%zu), persistent %zu bytes\n",
      f.stats.launches_per_run, f.stats.kernels, f.stats.arena_bytes, f.stats.no_reuse_bytes,
      f.stats.live_lower_bound_bytes, f.stats.persistent_bytes);
  printf(
      "per step: %.1f us = host batch gathering %.1f us + upload/enqueue/back-pressure %.1f "
      "us; device-only replay %.1f us/step\n",
      1e6 * f.epoch_s / steps, 1e6 * f.host_s / steps, 1e6 * f.enqueue_s / steps,
      1e6 * f.device_step_s);
  printf(
      "no-fuse: %d launches, epoch %.2f s, device step %.1f us; fusion speed-up %.2fx "
      "(epoch), %.2fx (device step)\n",
      u.stats.launches_per_run, u.epoch_s, 1e6 * u.device_step_s, u.epoch_s / f.epoch_s,
      u.device_step_s / f.device_step_s);
  /* the ratios to quote: alternating blocks; --no-plan also keeps every
   * optimizer update whole (backends/program.c), which shows what
   * splitting some of them for memory costs in time */
  gc_compile_options opts[3] = {{0}, {0}, {0}};
  opts[1].no_fuse = 1;
  opts[2].no_plan = 1;
  int nv = f.stats.updates_split ? 3 : 2, rounds = 15, block = replay / 4 > 0 ? replay / 4 : 1;
  double med[3];
  alternate(dev, train, batch, opts, nv, rounds, block, med);
  printf(
      "alternating blocks (%d rounds of %d steps, medians): fused %.1f us, no-fuse %.1f us: "
      "fusion speed-up %.2fx (device step)",
      rounds, block, 1e6 * med[0], 1e6 * med[1], med[1] / med[0]);
  if (nv == 3)
    printf("; updates whole (--no-plan) %.1f us: %d split for an arena of %zu bytes cost %.2fx",
           1e6 * med[2], f.stats.updates_split, f.stats.arena_bytes, med[0] / med[2]);
  printf("\n");
  gc_dataset_free(train);
  gc_device_free(dev);
  return 0;
}
