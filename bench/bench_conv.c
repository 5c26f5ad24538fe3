/* bench_conv.c — GFLOP/s of graphc's conv2d kernels on LeNet-style shapes
 * (64x1x28x28 -> 32 3x3, 64x32x13x13 -> 64 3x3): the forward program
 * alone, and forward + backward (input and weight gradients, each as many
 * FLOPs as the forward), the backward figure being the difference.
 *
 *   bench_conv [--device D] [--reps N]
 *
 * Uses only the public API. Timings are printed, never asserted. */
#include <graphc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "bench_conv: %s: %s\n", what, gc_last_error());
  exit(1);
}

/* Seconds per run of a program over x [n,c,h,w] and w [o,c,3,3]; backward
 * adds the gradients of loss = sum(conv) with respect to x and w. */
static double time_conv(gc_device *dev, int64_t n, int64_t c, int64_t hw, int64_t o, int backward,
                        int reps) {
  gc_graph *g = gc_graph_new();
  gc_init u = {GC_INIT_UNIFORM, -1, 1, 0, 0};
  gc_value x = gc_param(g, "x", gc_shape4(n, c, hw, hw), u);
  gc_value w = gc_param(g, "w", gc_shape4(o, c, 3, 3), u);
  gc_value y = gc_conv2d(g, x, w, NULL);
  if (backward) {
    gc_set_loss(g, gc_sum(g, y, NULL, 0, 0));
    if (gc_differentiate(g)) die("differentiate");
    gc_output(g, gc_grad(g, x), "dx");
    gc_output(g, gc_grad(g, w), "dw");
  } else {
    gc_output(g, y, "y");
  }
  if (gc_graph_status(g)) die(gc_graph_errmsg(g));
  gc_program *p;
  if (gc_compile(g, dev, NULL, &p)) die("compile");
  gc_session *s;
  if (gc_session_new(p, &s)) die("session");
  gc_session_run(s); /* the first launch compiles the work-group functions */
  gc_session_finish(s);
  double t0 = now();
  for (int i = 0; i < reps; i++) gc_session_run(s);
  if (gc_session_finish(s)) die("run");
  double t = (now() - t0) / reps;
  gc_session_free(s);
  gc_program_free(p);
  gc_graph_free(g);
  return t;
}

int main(int argc, char **argv) {
  const char *device = NULL;
  int reps = 20;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--device") && i + 1 < argc)
      device = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_conv [--device D] [--reps N]\n");
      return 2;
    }
  }
  gc_device *dev;
  if (gc_device_open(device, &dev)) die("device");
  printf("device: %s\n", gc_device_name(dev));
  const int64_t shapes[2][4] = {{64, 1, 28, 32}, {64, 32, 13, 64}};
  for (int k = 0; k < 2; k++) {
    int64_t n = shapes[k][0], c = shapes[k][1], hw = shapes[k][2], o = shapes[k][3];
    int64_t oh = hw - 2;
    double flops = 2.0 * (double)(n * o * oh * oh * c * 9);
    double tf = time_conv(dev, n, c, hw, o, 0, reps);
    double tfb = time_conv(dev, n, c, hw, o, 1, reps);
    double tb = tfb - tf;
    printf(
        "conv2d %lldx%lldx%lldx%lld -> %lld 3x3: forward %.3f ms %.1f GFLOP/s; "
        "backward (dx + dw) %.3f ms %.1f GFLOP/s; fwd+bwd %.3f ms\n",
        (long long)n, (long long)c, (long long)hw, (long long)hw, (long long)o, tf * 1e3,
        flops / tf * 1e-9, tb * 1e3, tb > 0 ? 2 * flops / tb * 1e-9 : 0.0, tfb * 1e3);
  }
  gc_device_free(dev);
  return 0;
}
