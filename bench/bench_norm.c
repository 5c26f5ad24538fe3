/* bench_norm.c — layer norm and batch norm (training mode) forward and
 * backward, fused (row kernels: passes/fuse_reduce.c) against --no-fuse,
 * on the shapes the catalogue uses them at: layer norm over 256 features
 * of 2048 tokens (a batch of 64 sequences of 32), batch norm over the 32
 * channels of a 64x32x26x26 conv output. The loss is sum(y * w) for a
 * fixed w, so the backward sees a non-uniform gradient; dx, dgamma and
 * dbeta are outputs. Both programs run in alternating batches in this one
 * process (the machine is shared); each keeps its best batch, and the
 * ratio is printed.
 *
 *   bench_norm [--device D] [--reps N] [--batches B]
 *
 * Timings are printed, never asserted. Uses only the public API. */
#define _POSIX_C_SOURCE 200809L
#include <graphc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_NAME "bench_norm"
#include "bench_util.h"

static gc_value sum_all(gc_graph *g, gc_value x) {
  int axes[GC_MAX_DIMS], n = gc_value_shape(g, x).ndim;
  for (int i = 0; i < n; i++) axes[i] = i;
  return gc_sum(g, x, axes, n, 0);
}

/* batch_norm != 0: batch norm of [64, 32, 26, 26]; else layer norm of
 * [2048, 256] over its last axis. */
static gc_session *build(gc_device *dev, int batch_norm, int no_fuse, gc_program **prog,
                         int *launches) {
  gc_graph *g = gc_graph_new();
  gc_init u = {GC_INIT_UNIFORM, -1, 1, 0, 0}, ones = {GC_INIT_ONES, 0, 0, 0, 0};
  gc_shape xs = batch_norm ? gc_shape4(64, 32, 26, 26) : gc_shape2(2048, 256);
  int64_t c = batch_norm ? 32 : 256;
  gc_value x = gc_param(g, "x", xs, u), w = gc_param(g, "w", xs, u);
  gc_value gamma = gc_param(g, "gamma", gc_shape1(c), ones);
  gc_value beta = gc_param(g, "beta", gc_shape1(c), GC_ZEROS);
  gc_value y;
  if (batch_norm) {
    gc_value rm = gc_param(g, "rm", gc_shape1(c), GC_ZEROS);
    gc_value rv = gc_param(g, "rv", gc_shape1(c), ones);
    y = gc_batch_norm(g, x, gamma, beta, rm, rv, 1, 0.1f, 1e-5f);
  } else {
    y = gc_layer_norm(g, x, 1, gamma, beta, 1e-5f);
  }
  gc_set_loss(g, sum_all(g, gc_mul(g, y, w)));
  if (gc_differentiate(g)) die("differentiate");
  gc_output(g, gc_grad(g, x), "dx");
  gc_output(g, gc_grad(g, gamma), "dgamma");
  gc_output(g, gc_grad(g, beta), "dbeta");
  if (gc_graph_status(g)) die(gc_graph_errmsg(g));
  gc_compile_options o = {0};
  o.no_fuse = no_fuse;
  if (gc_compile(g, dev, &o, prog)) die("compile");
  gc_graph_free(g);
  gc_program_stats st;
  if (gc_program_stats_get(*prog, &st)) die("stats");
  *launches = st.launches_per_run;
  gc_session *s;
  if (gc_session_new(*prog, &s)) die("session");
  gc_session_run(s); /* the first launch compiles the work-group functions */
  if (gc_session_finish(s)) die("run");
  return s;
}

static double batch_seconds(gc_session *s, int reps) {
  double t0 = now();
  for (int r = 0; r < reps; r++)
    if (gc_session_run(s)) die("run");
  if (gc_session_finish(s)) die("finish");
  return (now() - t0) / reps;
}

int main(int argc, char **argv) {
  const batch_options opt =
      parse_batch_options(argc, argv, NULL, "[--device D] [--reps N] [--batches B]");
  gc_device *dev;
  if (gc_device_open(opt.device, &dev)) die("device");
  printf("device: %s\n", gc_device_name(dev));
  static const char *const names[2] = {"layer norm [2048, 256]", "batch norm [64, 32, 26, 26]"};
  for (int bn = 0; bn < 2; bn++) {
    gc_program *prog[2];
    gc_session *sess[2];
    int launches[2];
    for (int nf = 0; nf < 2; nf++) sess[nf] = build(dev, bn, nf, &prog[nf], &launches[nf]);
    double best[2] = {1e30, 1e30};
    for (int b = 0; b < opt.batches; b++)
      for (int nf = 0; nf < 2; nf++) {
        double t = batch_seconds(sess[nf], opt.reps);
        if (t < best[nf]) best[nf] = t;
      }
    printf(
        "%s, forward + backward: fused %d launches %.3f ms, --no-fuse %d launches %.3f ms, "
        "fusion %.2fx\n",
        names[bn], launches[0], 1e3 * best[0], launches[1], 1e3 * best[1], best[1] / best[0]);
    for (int nf = 0; nf < 2; nf++) {
      gc_session_free(sess[nf]);
      gc_program_free(prog[nf]);
    }
  }
  gc_device_free(dev);
  return 0;
}
