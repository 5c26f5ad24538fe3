/* bench_compile.c — the pass pipeline's time on big graphs: verify,
 * shapes, simplify, schedule, fusion and the memory plan, on the
 * reference device (no OpenCL build, so only graphc's own passes count):
 * - a chain of N adds (default 20,000), one elementwise kernel: fusion
 *   joins every node into one growing group;
 * - the training step of a deep MLP (default 400 tanh layers of 16, Adam):
 *   thousands of nodes and one in-place update per parameter, the
 *   schedule's ordering edges.
 * Each graph is compiled --reps times (default 3); the best time is
 * printed with the node count.
 *
 *   bench_compile [--adds N] [--layers L] [--reps R]
 *
 * Timings are printed, never asserted. Uses only the public API. */
#define _POSIX_C_SOURCE 200809L
#include <graphc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_NAME "bench_compile"
#include "bench_util.h"

static gc_graph *add_chain(int n) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(4, 8));
  gc_value acc = x;
  for (int i = 0; i < n; i++) acc = gc_add(g, acc, x);
  gc_output(g, acc, "y");
  return g;
}

static gc_graph *deep_mlp(int layers) {
  gc_graph *g = gc_graph_new();
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(8, 16));
  gc_value y = gc_input(g, "y", GC_I32, gc_shape1(8));
  gc_value h = x;
  char name[32];
  for (int i = 0; i < layers; i++) {
    snprintf(name, sizeof name, "l%d", i);
    h = gc_tanh(g, gc_linear(g, h, 16, GC_GLOROT, name));
  }
  gc_set_loss(g, gc_cross_entropy(g, gc_linear(g, h, 4, GC_GLOROT, "out"), y));
  gc_adam adam = {.lr = 1e-3f};
  if (gc_optimize_adam(g, &adam)) die("adam");
  return g;
}

static void time_compile(const char *what, gc_graph *g, gc_device *ref, int reps) {
  if (gc_graph_status(g)) die(what);
  double best = 1e30;
  gc_program_stats st = {0};
  for (int r = 0; r < reps; r++) {
    gc_program *p = NULL;
    double t0 = now();
    if (gc_compile(g, ref, NULL, &p)) die(what);
    double t = now() - t0;
    best = t < best ? t : best;
    gc_program_stats_get(p, &st);
    gc_program_free(p);
  }
  printf("%-34s %7d nodes: %.3f s (best of %d)", what, st.nodes_before, best, reps);
  if (st.arena_bytes_unsplit) /* two memory plans were made: with and without the split */
    printf("; %d optimizer updates split, arena %zu bytes (%zu whole)", st.updates_split,
           st.arena_bytes, st.arena_bytes_unsplit);
  printf("\n");
}

int main(int argc, char **argv) {
  int adds = 20000, layers = 400, reps = 3;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--adds") && i + 1 < argc && atoi(argv[i + 1]) >= 1) {
      adds = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--layers") && i + 1 < argc && atoi(argv[i + 1]) >= 1) {
      layers = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--reps") && i + 1 < argc && atoi(argv[i + 1]) >= 1) {
      reps = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: bench_compile [--adds N] [--layers L] [--reps R]\n");
      return 2;
    }
  }
  gc_device *ref = NULL;
  if (gc_device_open("ref", &ref)) die("open ref");
  char what[64];
  gc_graph *g = add_chain(adds);
  snprintf(what, sizeof what, "chain of %d adds", adds);
  time_compile(what, g, ref, reps);
  gc_graph_free(g);
  g = deep_mlp(layers);
  snprintf(what, sizeof what, "%d-layer MLP training step", layers);
  time_compile(what, g, ref, reps);
  gc_graph_free(g);
  gc_device_free(ref);
  return 0;
}
