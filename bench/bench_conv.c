/* bench_conv.c — GFLOP/s of graphc's conv2d kernels on LeNet-style shapes
 * (64x1x28x28 -> 32 3x3, 64x32x13x13 -> 64 3x3): forward, input gradient
 * and weight gradient (each as many FLOPs as the forward), from the device
 * time of each kernel (OpenCL profiling events) in a program computing all
 * three. Each shape is compiled three times in this one process: the
 * direct kernels (GRAPHC_CONV_DIRECT=1 while compiling), the implicit
 * GEMMs in the im2col form only (GRAPHC_CONV_IM2COL=1) and the default
 * (im2row where it applies, backends/opencl/cl_conv.c); the sessions run
 * in alternating batches (the machine is shared), each kernel keeps its
 * best batch, and the ratios are printed.
 *
 *   bench_conv [--device D] [--reps N] [--batches B] [--profile]
 *
 * --profile also prints every kernel of the programs. Timings are printed,
 * never asserted. Uses only the public API. */
#define _POSIX_C_SOURCE 200809L
#include <graphc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_NAME "bench_conv"
#include "bench_util.h"

static int profile; /* --profile */

/* A program over x [n,c,h,w] and w [o,c,3,3] computing y = conv2d(x, w)
 * and the gradients of loss = sum(y) with respect to x and w. */
static gc_session *build(gc_device *dev, int64_t n, int64_t c, int64_t hw, int64_t o,
                         gc_program **prog) {
  gc_graph *g = gc_graph_new();
  gc_init u = {GC_INIT_UNIFORM, -1, 1, 0, 0};
  gc_value x = gc_param(g, "x", gc_shape4(n, c, hw, hw), u);
  gc_value w = gc_param(g, "w", gc_shape4(o, c, 3, 3), u);
  gc_value y = gc_conv2d(g, x, w, NULL);
  gc_set_loss(g, gc_sum(g, y, NULL, 0, 0));
  if (gc_differentiate(g)) die("differentiate");
  gc_output(g, y, "y");
  gc_output(g, gc_grad(g, x), "dx");
  gc_output(g, gc_grad(g, w), "dw");
  if (gc_graph_status(g)) die(gc_graph_errmsg(g));
  if (gc_compile(g, dev, NULL, prog)) die("compile");
  gc_graph_free(g);
  gc_session *s;
  if (gc_session_new(*prog, &s)) die("session");
  gc_session_run(s); /* the first launch compiles the work-group functions */
  if (gc_session_finish(s)) die("run");
  return s;
}

/* The kernel computing op ("conv2d", "conv2d_grad_input", ...) in a profile. */
static int find_kernel(const gc_kernel_profile *kp, int cnt, const char *op) {
  char want[64];
  snprintf(want, sizeof want, ": %s", op);
  for (int i = 0; i < cnt; i++) {
    const char *at = strstr(kp[i].what, want);
    if (at && (at[strlen(want)] == ',' || at[strlen(want)] == ' ')) return i;
  }
  return -1;
}

/* One batch of reps runs with profiling on: seconds per run of each of the
 * three conv kernels (t[0..2]) and of the whole step (t[3]), each lowered
 * to the minimum seen. */
static void batch(gc_session *s, int reps, double t[4]) {
  gc_kernel_profile kp[32];
  int cnt = 0;
  static const char *const ops[3] = {"conv2d", "conv2d_grad_input", "conv2d_grad_weight"};
  gc_session_set_profiling(s, 1);
  double t0 = now();
  for (int i = 0; i < reps; i++) gc_session_run(s);
  if (gc_session_finish(s)) die("run");
  double step = (now() - t0) / reps;
  if (gc_session_profile(s, kp, 32, &cnt)) die("profile");
  gc_session_set_profiling(s, 0);
  for (int k = 0; k < 3; k++) {
    int i = find_kernel(kp, cnt < 32 ? cnt : 32, ops[k]);
    if (i < 0) die("no conv kernel in the profile");
    double v = kp[i].seconds / (double)reps;
    if (v < t[k]) t[k] = v;
  }
  if (step < t[3]) t[3] = step;
  if (profile)
    for (int i = 0; i < cnt && i < 32; i++)
      printf("    %-4s %8.3f ms  %s\n", kp[i].name, kp[i].seconds * 1e3 / (double)reps, kp[i].what);
}

int main(int argc, char **argv) {
  const batch_options opt = parse_batch_options(
      argc, argv, &profile, "[--device D] [--reps N] [--batches B] [--profile]");
  gc_device *dev;
  if (gc_device_open(opt.device, &dev)) die("device");
  printf("device: %s\n", gc_device_name(dev));
  const int64_t shapes[2][4] = {{64, 1, 28, 32}, {64, 32, 13, 64}};
  /* the environment each mode compiles under (read by gc_compile) */
  enum { MODES = 3 };
  static const char *const mode[MODES] = {"direct", "im2col", "im2row"};
  static const char *const env[MODES] = {"GRAPHC_CONV_DIRECT", "GRAPHC_CONV_IM2COL", NULL};
  for (int k = 0; k < 2; k++) {
    int64_t n = shapes[k][0], c = shapes[k][1], hw = shapes[k][2], o = shapes[k][3];
    int64_t oh = hw - 2;
    double flops = 2.0 * (double)(n * o * oh * oh * c * 9);
    gc_program *prog[MODES];
    gc_session *sess[MODES];
    for (int m = 0; m < MODES; m++) {
      if (env[m]) setenv(env[m], "1", 1);
      sess[m] = build(dev, n, c, hw, o, &prog[m]);
      if (env[m]) unsetenv(env[m]);
    }
    double t[MODES][4];
    for (int m = 0; m < MODES; m++)
      for (int q = 0; q < 4; q++) t[m][q] = 1e30;
    for (int b = 0; b < opt.batches; b++)
      for (int m = 0; m < MODES; m++) batch(sess[m], opt.reps, t[m]);
    for (int m = 0; m < MODES; m++) {
      printf(
          "conv2d %lldx%lldx%lldx%lld -> %lld 3x3 %-6s: forward %7.3f ms %6.1f GFLOP/s; "
          "dx %7.3f ms %6.1f GFLOP/s; dw %7.3f ms %6.1f GFLOP/s; step %7.3f ms\n",
          (long long)n, (long long)c, (long long)hw, (long long)hw, (long long)o, mode[m],
          t[m][0] * 1e3, flops / t[m][0] * 1e-9, t[m][1] * 1e3, flops / t[m][1] * 1e-9,
          t[m][2] * 1e3, flops / t[m][2] * 1e-9, t[m][3] * 1e3);
      gc_session_free(sess[m]);
      gc_program_free(prog[m]);
    }
    for (int m = 1; m < MODES; m++)
      printf("  %s / direct speed-up: forward %.2fx, dx %.2fx, dw %.2fx, step %.2fx\n", mode[m],
             t[0][0] / t[m][0], t[0][1] / t[m][1], t[0][2] / t[m][2], t[0][3] / t[m][3]);
    printf("  im2row / im2col: forward %.2fx, dx %.2fx, dw %.2fx, step %.2fx\n", t[1][0] / t[2][0],
           t[1][1] / t[2][1], t[1][2] / t[2][2], t[1][3] / t[2][3]);
  }
  gc_device_free(dev);
  return 0;
}
