/* graphc.c — the `graphc` command line: list devices and models, train a
 * model with a live progress bar, compile a model's graph and print what
 * the compiler made of it; run ONNX models and ONNX backend test cases.
 * Uses only the public API (include/graphc.h).
 *
 * Exit status: 0 success, 1 a runtime failure (device, data, library),
 * 2 a usage error. Every error is one line on stderr, "graphc: error: ...". */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graphc.h"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: graphc COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  devices                    list OpenCL devices (and the \"ref\" interpreter)\n"
    "  list                       list the models\n"
    "  train MODEL [options]      train a model and report its test accuracy\n"
    "      --epochs N  --batch B  --lr X  --seed S  --device D  --data DIR\n"
    "      --limit N (train on N samples)  --json (one JSON object on stdout)\n"
    "  compile MODEL [options]    compile a model's graph and print its stats;\n"
    "      MODEL is a registry name or FILE.onnx (imported, its own batch dims)\n"
    "      --train (the training step)  --batch B  --device D  --stats  --json\n"
    "      --dump-after=PASS|all  --emit-cl DIR  --no-fuse  --no-plan\n"
    "  run MODEL.onnx [options]   run an ONNX model; print or write its outputs\n"
    "      --input NAME=FILE.pb (or FILE.pb, by its tensor name; repeatable)\n"
    "      --output-dir DIR (outputs as DIR/NAME.pb)  --device D (default pocl)\n"
    "  onnx-test CASE_DIR...      run ONNX backend test cases (model.onnx +\n"
    "      test_data_set_*/); PASS/FAIL/SKIP per case  --device D (default pocl);\n"
    "      random outputs (training Dropout) PASS by the op's properties;\n"
    "      --compare-unfused (also run each case unfused: outputs must agree\n"
    "      within 1e-5 (1 + |unfused|), ints and bools exactly)\n"
    "  help, --help               this text\n"
    "  --version                  the version\n"
    "\n"
    "A device is \"ref\" (the reference interpreter), a number from `graphc devices`,\n"
    "or a substring of \"platform / device\" (e.g. pocl); default $GRAPHC_DEVICE.\n"
    "GRAPHC_GEMM=own|clblast|auto (default auto) picks graphc's GEMM kernel, CLBlast,\n"
    "or the faster of the two per shape, timed once and cached.\n";

/* ------------------------------------------------------------- messages */

static int fail(int code, const char *fmt, ...) {
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = 0;
  fflush(stdout);
  fprintf(stderr, "graphc: error: %s\n", msg);
  return code;
}

/* The library's message for a failed call, or the status name if it left
 * none. */
static const char *lib_error(gc_status st) {
  const char *m = gc_last_error();
  return m && *m ? m : gc_status_name(st);
}

/* ------------------------------------------------------------ arguments */

typedef struct args {
  const char *model;
  int epochs, batch;
  float lr;
  uint64_t seed;
  int64_t limit;
  const char *device, *data;
  int json, train, stats, no_fuse, no_plan;
  const char *dump_after, *emit_cl;
} args;

enum { FOR_TRAIN = 1, FOR_COMPILE = 2 };

typedef struct flag {
  const char *name;
  int takes_value;
  int commands; /* FOR_TRAIN | FOR_COMPILE */
} flag;

static const flag flags[] = {
    {"epochs", 1, FOR_TRAIN},
    {"batch", 1, FOR_TRAIN | FOR_COMPILE},
    {"lr", 1, FOR_TRAIN},
    {"seed", 1, FOR_TRAIN | FOR_COMPILE},
    {"device", 1, FOR_TRAIN | FOR_COMPILE},
    {"data", 1, FOR_TRAIN},
    {"limit", 1, FOR_TRAIN},
    {"json", 0, FOR_TRAIN | FOR_COMPILE},
    {"train", 0, FOR_COMPILE},
    {"stats", 0, FOR_COMPILE},
    {"no-fuse", 0, FOR_COMPILE},
    {"no-plan", 0, FOR_COMPILE},
    {"dump-after", 1, FOR_COMPILE},
    {"emit-cl", 1, FOR_COMPILE},
};

/* Integers must be whole, in range and nothing but digits (with a sign). */
static int parse_int(const char *opt, const char *s, long long lo, long long hi, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno == ERANGE)
    return fail(EXIT_USAGE, "--%s expects an integer, got '%s'", opt, s);
  if (v < lo || v > hi)
    return fail(EXIT_USAGE, "--%s must be between %lld and %lld, got %s", opt, lo, hi, s);
  *out = v;
  return 0;
}

static int set_value(args *a, const char *name, const char *v) {
  long long n;
  int rc;
  if (!strcmp(name, "epochs")) {
    if ((rc = parse_int(name, v, 1, 1000000, &n))) return rc;
    a->epochs = (int)n;
  } else if (!strcmp(name, "batch")) {
    if ((rc = parse_int(name, v, 1, 1 << 20, &n))) return rc;
    a->batch = (int)n;
  } else if (!strcmp(name, "limit")) {
    if ((rc = parse_int(name, v, 1, INT64_MAX, &n))) return rc;
    a->limit = n;
  } else if (!strcmp(name, "seed")) {
    char *end;
    errno = 0;
    unsigned long long s = strtoull(v, &end, 10);
    if (!*v || *end || errno == ERANGE || *v == '-' || *v == '+')
      return fail(EXIT_USAGE, "--seed expects a non-negative integer, got '%s'", v);
    a->seed = s;
  } else if (!strcmp(name, "lr")) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno == ERANGE || !isfinite(x))
      return fail(EXIT_USAGE, "--lr expects a number, got '%s'", v);
    if (!(x > 0) || x > 100) return fail(EXIT_USAGE, "--lr must be in (0, 100], got %s", v);
    a->lr = (float)x;
  } else if (!strcmp(name, "device")) {
    if (!*v) return fail(EXIT_USAGE, "--device needs a non-empty value");
    a->device = v;
  } else if (!strcmp(name, "data")) {
    if (!*v) return fail(EXIT_USAGE, "--data needs a non-empty value");
    a->data = v;
  } else if (!strcmp(name, "dump-after")) {
    a->dump_after = v;
  } else if (!strcmp(name, "emit-cl")) {
    if (!*v) return fail(EXIT_USAGE, "--emit-cl needs a non-empty value");
    a->emit_cl = v;
  }
  return 0;
}

static void set_switch(args *a, const char *name) {
  if (!strcmp(name, "json")) a->json = 1;
  if (!strcmp(name, "train")) a->train = 1;
  if (!strcmp(name, "stats")) a->stats = 1;
  if (!strcmp(name, "no-fuse")) a->no_fuse = 1;
  if (!strcmp(name, "no-plan")) a->no_plan = 1;
}

/* Parses argv[i..] of command cmd ("train" or "compile"): one model name
 * and flags, as "--flag value" or "--flag=value". */
static int parse_args(int argc, char **argv, int i, int which, const char *cmd, args *a) {
  memset(a, 0, sizeof *a);
  for (; i < argc; i++) {
    const char *s = argv[i];
    if (strncmp(s, "--", 2) != 0 || !s[2]) {
      if (s[0] == '-' && s[1]) return fail(EXIT_USAGE, "%s: unknown option '%s'", cmd, s);
      if (a->model) return fail(EXIT_USAGE, "%s: unexpected argument '%s'", cmd, s);
      a->model = s;
      continue;
    }
    char name[64];
    const char *eq = strchr(s + 2, '=');
    size_t len = eq ? (size_t)(eq - s - 2) : strlen(s + 2);
    if (len >= sizeof name) return fail(EXIT_USAGE, "%s: unknown option '%s'", cmd, s);
    memcpy(name, s + 2, len);
    name[len] = 0;
    const flag *f = NULL;
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
      if (!strcmp(flags[k].name, name) && (flags[k].commands & which)) f = &flags[k];
    if (!f) return fail(EXIT_USAGE, "%s: unknown option '--%s'", cmd, name);
    if (!f->takes_value) {
      if (eq) return fail(EXIT_USAGE, "%s: option '--%s' takes no value", cmd, name);
      set_switch(a, name);
      continue;
    }
    const char *v = eq ? eq + 1 : NULL;
    if (!v) {
      if (i + 1 >= argc) return fail(EXIT_USAGE, "%s: option '--%s' needs a value", cmd, name);
      v = argv[++i];
    }
    int rc = set_value(a, name, v);
    if (rc) return rc;
  }
  return 0;
}

/* The model named in a, or a usage error that lists the models. */
static int find_model(const args *a, const char *cmd, const gc_model **out) {
  if (!a->model) return fail(EXIT_USAGE, "%s: which model? (see `graphc list`)", cmd);
  *out = gc_model_find(a->model);
  if (*out) return 0;
  char names[512] = "";
  for (int i = 0; i < gc_model_count(); i++) {
    if (i) strncat(names, ", ", sizeof names - strlen(names) - 1);
    strncat(names, gc_model_at(i)->name, sizeof names - strlen(names) - 1);
  }
  return fail(EXIT_USAGE, "unknown model '%s' (models: %s)", a->model, names);
}

/* Opens the device up front so that a bad --device fails with a clear
 * message before any data is loaded. */
static int open_device(const char *spec, gc_device **out) {
  gc_status st = gc_device_open(spec, out);
  if (st) {
    *out = NULL;
    return fail(EXIT_RUNTIME, "device '%s': %s", spec ? spec : "(default)", lib_error(st));
  }
  return 0;
}

/* ------------------------------------------------------------- devices */

static void print_bytes(uint64_t b) {
  if (b >= (1ull << 30))
    printf("%.1f GiB", (double)b / (1ull << 30));
  else if (b >= (1ull << 20))
    printf("%.1f MiB", (double)b / (1ull << 20));
  else
    printf("%.1f KiB", (double)b / 1024);
}

static int cmd_devices(int argc, char **argv) {
  if (argc > 2) return fail(EXIT_USAGE, "devices: unexpected argument '%s'", argv[2]);
  enum { MAX_DEVICES = 64 };
  static gc_device_info info[MAX_DEVICES];
  int count = 0;
  gc_status st = gc_device_list(info, MAX_DEVICES, &count);
  if (count > MAX_DEVICES) count = MAX_DEVICES;
  for (int i = 0; !st && i < count; i++) {
    const gc_device_info *d = &info[i];
    printf("%d  %s / %s  (%s)\n", d->index, d->platform, d->name,
           d->is_gpu   ? "GPU"
           : d->is_cpu ? "CPU"
                       : "other");
    printf("     vendor %s; %s; driver %s\n", d->vendor, d->version, d->driver_version);
    printf("     %u compute units, max work-group %zu, local mem ", d->compute_units,
           d->max_work_group_size);
    print_bytes(d->local_mem_bytes);
    printf(", global mem ");
    print_bytes(d->global_mem_bytes);
    printf(", max alloc ");
    print_bytes(d->max_alloc_bytes);
    printf(",\n     base alignment %u bits, max kernel arguments %zu bytes\n",
           d->mem_base_align_bits, d->max_parameter_bytes);
  }
  printf("ref  graphc reference interpreter (host C, the test oracle)\n");
  if (st) {
    fflush(stdout);
    fprintf(stderr, "graphc: warning: no OpenCL devices: %s\n", lib_error(st));
  }
  return 0;
}

/* ---------------------------------------------------------------- list */

static int cmd_list(int argc, char **argv) {
  if (argc > 2) return fail(EXIT_USAGE, "list: unexpected argument '%s'", argv[2]);
  for (int i = 0; i < gc_model_count(); i++) {
    const gc_model *m = gc_model_at(i);
    printf("%-12s %s (default: %d epoch(s), batch %d, lr %g)\n", m->name, m->description,
           m->default_epochs, m->default_batch, m->default_lr);
  }
  return 0;
}

/* ---------------------------------------------------------------- train */

typedef struct bar {
  const char *model;
  int tty;
  double last_print; /* elapsed seconds at the last plain line */
  double last_frac;  /* progress at the last plain line */
  int drawn;         /* a \r line is on screen */
} bar;

static void fmt_eta(double s, char *buf, size_t n) {
  if (!isfinite(s) || s < 0)
    snprintf(buf, n, "?");
  else if (s >= 3600)
    snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
  else if (s >= 60)
    snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  else
    snprintf(buf, n, "%.0fs", s);
}

/* Redrawn in place on a terminal; on a pipe or file, a plain line every
 * ~2 s or 10% so that logs stay short. */
static void on_progress(const gc_progress *p, void *user) {
  bar *b = user;
  double frac = p->steps > 0 ? (double)p->step / (double)p->steps : 0;
  char eta[32], loss[32];
  fmt_eta(p->eta_seconds, eta, sizeof eta);
  if (isfinite(p->loss))
    snprintf(loss, sizeof loss, "%.4f", p->loss);
  else
    snprintf(loss, sizeof loss, "-");
  int eval = p->phase && !strcmp(p->phase, "eval");
  if (b->tty) {
    enum { WIDTH = 24 };
    char cells[WIDTH + 1];
    int fill = (int)(frac * WIDTH + 0.5);
    for (int i = 0; i < WIDTH; i++) cells[i] = i < fill ? '#' : '.';
    cells[WIDTH] = 0;
    if (eval)
      fprintf(stderr, "\r%s: [%s] evaluating...\033[K", b->model, cells);
    else
      fprintf(stderr,
              "\r%s: [%s] %3.0f%% step %lld/%lld epoch %d/%d loss %s %.0f samples/s ETA %s\033[K",
              b->model, cells, 100 * frac, (long long)p->step, (long long)p->steps, p->epoch,
              p->epochs, loss, p->samples_per_second, eta);
    b->drawn = 1;
  } else {
    /* Short runs print nothing: a line needs 2 s, or 10% and 0.5 s. */
    double since = p->elapsed_seconds - b->last_print;
    if (!eval && (since >= 2.0 || (frac - b->last_frac >= 0.1 && since >= 0.5))) {
      fprintf(stderr, "%s: step %lld/%lld (%.0f%%) epoch %d/%d loss %s %.0f samples/s ETA %s\n",
              b->model, (long long)p->step, (long long)p->steps, 100 * frac, p->epoch, p->epochs,
              loss, p->samples_per_second, eta);
      b->last_print = p->elapsed_seconds;
      b->last_frac = frac;
    }
  }
  fflush(stderr);
}

/* JSON has no NaN or Infinity. */
static void json_num(const char *key, double v, const char *fmt) {
  printf(",\"%s\":", key);
  if (isfinite(v))
    printf(fmt, v);
  else
    printf("null");
}

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static int cmd_train(int argc, char **argv) {
  args a;
  const gc_model *m;
  int rc = parse_args(argc, argv, 2, FOR_TRAIN, "train", &a);
  if (!rc) rc = find_model(&a, "train", &m);
  if (rc) return rc;
  struct stat sb;
  if (a.data && (stat(a.data, &sb) != 0 || !S_ISDIR(sb.st_mode)))
    return fail(EXIT_RUNTIME, "data directory '%s' not found", a.data);
  gc_device *dev;
  if ((rc = open_device(a.device, &dev))) return rc;
  char devname[256];
  snprintf(devname, sizeof devname, "%s", gc_device_name(dev));

  bar b = {m->name, isatty(STDERR_FILENO), 0, 0, 0};
  gc_train_options opt = {0};
  opt.epochs = a.epochs;
  opt.batch = a.batch;
  opt.lr = a.lr;
  opt.seed = a.seed;
  /* The model opens the device again from the same spec: the check above
   * only makes a bad --device fail before any data is loaded. */
  opt.device = a.device;
  opt.data_dir = a.data;
  opt.train_limit = a.limit;
  opt.progress = on_progress;
  opt.user = &b;
  opt.report = a.json ? stderr : stdout;
  gc_device_free(dev);

  gc_train_result r;
  gc_status st = m->train(&opt, &r);
  if (b.drawn) fprintf(stderr, "\r\033[K");
  if (st) return fail(EXIT_RUNTIME, "training %s failed: %s", m->name, lib_error(st));

  int batch = a.batch > 0 ? a.batch : m->default_batch;
  double lr = a.lr > 0 ? a.lr : m->default_lr;
  if (a.json) {
    printf("{\"model\":");
    json_str(m->name);
    printf(",\"epochs\":%d", r.epochs);
    json_num("test_accuracy", r.test_accuracy, "%.6f");
    json_num("train_seconds", r.train_seconds, "%.6f");
    json_num("samples_per_second", r.samples_per_second, "%.3f");
    json_num("final_loss", r.final_loss, "%.6g");
    json_num("first_loss", r.first_loss, "%.6g");
    printf(",\"device\":");
    json_str(devname);
    printf(",\"batch\":%d", batch);
    json_num("lr", lr, "%g");
    printf(",\"seed\":%llu,\"steps\":%lld,\"train_samples\":%lld}\n", (unsigned long long)a.seed,
           (long long)r.steps, (long long)r.train_samples);
  } else {
    printf("%s: test accuracy %.4f after %d epoch(s), %.1f s, %.0f samples/s\n", m->name,
           r.test_accuracy, r.epochs, r.train_seconds, r.samples_per_second);
  }
  return fflush(stdout) == 0 ? 0 : fail(EXIT_RUNTIME, "cannot write the result");
}

/* -------------------------------------------------------------- compile */

static int check_pass(const char *name) {
  if (!strcmp(name, "all")) return 0;
  const char *const *p = gc_pass_names();
  char valid[512] = "all";
  for (int i = 0; p && p[i]; i++) {
    if (!strcmp(p[i], name)) return 0;
    strncat(valid, ", ", sizeof valid - strlen(valid) - 1);
    strncat(valid, p[i], sizeof valid - strlen(valid) - 1);
  }
  return fail(EXIT_USAGE, "compile: unknown pass '%s' for --dump-after (passes: %s)", name, valid);
}

static void print_size(const char *what, size_t b) {
  printf("  %-22s %zu bytes (%.2f MiB)\n", what, b, (double)b / (1 << 20));
}

static int cmd_compile(int argc, char **argv) {
  args a;
  const gc_model *m = NULL;
  int rc = parse_args(argc, argv, 2, FOR_COMPILE, "compile", &a);
  /* MODEL is a registry name, or an ONNX file (batch dims as in the file) */
  size_t mlen = !rc && a.model ? strlen(a.model) : 0;
  bool onnx = mlen > 5 && !strcmp(a.model + mlen - 5, ".onnx");
  if (!rc && onnx && a.train) rc = fail(EXIT_USAGE, "compile: --train needs a registry model");
  if (!rc && onnx && a.batch)
    rc = fail(EXIT_USAGE,
              "compile: --batch needs a registry model (an ONNX model's is in the file)");
  if (!rc && !onnx) rc = find_model(&a, "compile", &m);
  if (!rc && a.dump_after) rc = check_pass(a.dump_after);
  if (rc) return rc;
  struct stat sb;
  if (a.emit_cl && stat(a.emit_cl, &sb) != 0 && mkdir(a.emit_cl, 0777) != 0)
    return fail(EXIT_RUNTIME, "cannot create --emit-cl directory '%s': %s", a.emit_cl,
                strerror(errno));
  if (a.emit_cl && (stat(a.emit_cl, &sb) != 0 || !S_ISDIR(sb.st_mode)))
    return fail(EXIT_RUNTIME, "--emit-cl '%s' is not a directory", a.emit_cl);
  gc_device *dev;
  if ((rc = open_device(a.device, &dev))) return rc;

  const char *name = onnx ? a.model : m->name;
  int batch = 0;
  gc_graph *g = NULL;
  gc_program *p = NULL;
  gc_status st = GC_OK;
  if (onnx) {
    /* the batch reported is the leading dim of the first graph input */
    gc_onnx_info *info = NULL;
    st = gc_onnx_load(a.model, &g, &info);
    if (st) rc = fail(EXIT_RUNTIME, "%s", lib_error(st)); /* it names the file */
    for (int i = 0; !st && i < info->ninputs && !batch; i++)
      if (info->inputs[i].in_graph && info->inputs[i].shape.ndim > 0)
        batch = (int)info->inputs[i].shape.dim[0];
    if (!batch) batch = 1;
    if (!st) gc_graph_set_seed(g, a.seed);
    gc_onnx_info_free(info);
  } else {
    batch = a.batch > 0 ? a.batch : m->default_batch;
    gc_train_options opt = {0};
    opt.seed = a.seed;
    opt.device = a.device;
    g = gc_graph_new();
    st = g ? GC_OK : GC_ERR_NOMEM;
    if (!st) {
      gc_graph_set_seed(g, a.seed);
      st = m->build(g, batch, a.train, &opt);
      if (st || gc_graph_status(g)) {
        rc = fail(EXIT_RUNTIME, "building %s: %s", m->name,
                  *gc_graph_errmsg(g) ? gc_graph_errmsg(g) : lib_error(st));
        st = st ? st : gc_graph_status(g);
      }
    }
  }
  if (!st) {
    gc_compile_options co = {0};
    co.no_fuse = a.no_fuse;
    co.no_plan = a.no_plan;
    co.dump_after = a.dump_after;
    co.dump_to = a.json ? stderr : stdout;
    co.emit_cl_dir = a.emit_cl;
    st = gc_compile(g, dev, &co, &p);
    if (st) rc = fail(EXIT_RUNTIME, "compiling %s: %s", name, lib_error(st));
  }
  gc_program_stats s = {0}, again = {0}, cold = {0};
  if (!st && (st = gc_program_stats_get(p, &s)))
    rc = fail(EXIT_RUNTIME, "compile stats: %s", lib_error(st));
  /* The stats show the compile time cold (the compile above, unless a
   * cache had its program: then once more, built as no cache had it) and
   * cached (again, which the binary cache serves). */
  cold = s;
  for (int k = s.cache_hit ? 0 : 1; !st && (a.stats || a.json) && k < 2; k++) {
    gc_compile_options co = {0};
    co.no_fuse = a.no_fuse;
    co.no_plan = a.no_plan;
    co.cold = k == 0;
    gc_program *p2 = NULL;
    st = gc_compile(g, dev, &co, &p2);
    if (!st) st = gc_program_stats_get(p2, k == 0 ? &cold : &again);
    if (st) rc = fail(EXIT_RUNTIME, "compiling %s again: %s", name, lib_error(st));
    gc_program_free(p2);
  }
  if (!st && a.json) {
    printf("{\"model\":");
    json_str(name);
    printf(",\"train\":%s,\"batch\":%d,\"device\":", a.train ? "true" : "false", batch);
    json_str(gc_device_name(dev));
    printf(",\"nodes_before\":%d,\"nodes_after\":%d,\"kernels\":%d,\"launches_per_step\":%d",
           s.nodes_before, s.nodes_after, s.kernels, s.launches_per_run);
    printf(",\"arena_bytes\":%zu,\"no_reuse_bytes\":%zu,\"live_lower_bound_bytes\":%zu",
           s.arena_bytes, s.no_reuse_bytes, s.live_lower_bound_bytes);
    printf(",\"persistent_bytes\":%zu,\"arenas\":%d", s.persistent_bytes, s.arenas);
    printf(",\"postdom_joins\":%d,\"postdom_misses\":%d", s.postdom_joins, s.postdom_misses);
    printf(",\"gemm_own\":%d,\"gemm_clblast\":%d,\"gemm_measured\":%d", s.gemm_own, s.gemm_clblast,
           s.gemm_measured);
    printf(",\"scratch_bytes\":%zu", s.scratch_bytes);
    printf(",\"updates_split\":%d,\"arena_bytes_unsplit\":%zu", s.updates_split,
           s.arena_bytes_unsplit);
    json_num("compile_seconds", s.compile_seconds, "%.6f");
    printf(",\"cache_hit\":%s", s.cache_hit ? "true" : "false");
    json_num("compile_cached_seconds", again.compile_seconds, "%.6f");
    json_num("compile_cold_seconds", cold.compile_seconds, "%.6f");
    printf("}\n");
  } else if (!st && a.stats) {
    printf("%s (%s graph, batch %d) on %s\n", name, a.train ? "training" : "inference", batch,
           gc_device_name(dev));
    printf("  %-22s %d -> %d\n", "nodes", s.nodes_before, s.nodes_after);
    printf("  %-22s %d\n", "kernels", s.kernels);
    printf("  %-22s %d\n", "launches per step", s.launches_per_run);
    print_size(s.arenas > 1 ? "arena (split)" : "arena", s.arena_bytes);
    if (s.arenas > 1) printf("  %-22s %d\n", "arena buffers", s.arenas);
    print_size("no-reuse sum", s.no_reuse_bytes);
    print_size("live-set lower bound", s.live_lower_bound_bytes);
    print_size("persistent", s.persistent_bytes);
    if (s.scratch_bytes) print_size("GEMM scratch (split K)", s.scratch_bytes);
    if (s.updates_split)
      printf("  %-22s %d (arena %zu bytes with them whole)\n", "updates split", s.updates_split,
             s.arena_bytes_unsplit);
    else if (s.arena_bytes_unsplit)
      printf("  %-22s 0 (splitting would not shrink the arena by 10%%)\n", "updates split");
    printf("  %-22s %d joined, %d missed\n", "post-dominator rule", s.postdom_joins,
           s.postdom_misses);
    printf("  %-22s %d own kernel, %d CLBlast (%d shape(s) timed by this compile)\n", "GEMMs",
           s.gemm_own, s.gemm_clblast, s.gemm_measured);
    printf("  %-22s %.3f s cold, %.3f s %s\n", "compile time", cold.compile_seconds,
           again.compile_seconds, again.cache_hit ? "from the binary cache" : "again (no cache)");
  } else if (!st) {
    printf(
        "%s (%s, batch %d): %d nodes -> %d, %d kernels, %d launches/step, arena %zu bytes, "
        "%.3f s%s\n",
        name, a.train ? "training" : "inference", batch, s.nodes_before, s.nodes_after, s.kernels,
        s.launches_per_run, s.arena_bytes, s.compile_seconds, s.cache_hit ? " (cache hit)" : "");
  }
  gc_program_free(p);
  gc_graph_free(g);
  gc_device_free(dev);
  return rc;
}

/* ----------------------------------------------------------------- onnx */

/* Data-set files of a test case, input_0.pb, input_1.pb, ... in order. */
enum { MAX_TENSORS = 64 };

typedef struct tensor_list {
  gc_tensor *t[MAX_TENSORS];
  int n;
} tensor_list;

static void tensor_list_free(tensor_list *l) {
  for (int i = 0; i < l->n; i++) gc_tensor_free(l->t[i]);
  l->n = 0;
}

/* Reads DIR/PREFIX_0.pb, DIR/PREFIX_1.pb, ... until one is missing. */
static gc_status read_numbered(const char *dir, const char *prefix, tensor_list *l) {
  l->n = 0;
  for (int i = 0; i < MAX_TENSORS; i++) {
    char path[4096];
    int w = snprintf(path, sizeof path, "%s/%s_%d.pb", dir, prefix, i);
    if (w < 0 || (size_t)w >= sizeof path)
      return gc_error(GC_ERR_INVALID, "%s: path too long", dir);
    if (access(path, F_OK) != 0) break;
    gc_status st = gc_tensor_read(path, &l->t[l->n]);
    if (st) return st;
    l->n++;
  }
  return GC_OK;
}

/* Imports, compiles and runs a model on inputs (bound at import so that
 * shape inputs fold); outs receives one tensor per graph output, with the
 * ONNX dtype of the model (int64 outputs come back from i32). */
static gc_status run_model(const char *path, gc_device *dev, int no_fuse, tensor_list *ins,
                           tensor_list *outs, gc_onnx_info **info_out) {
  gc_graph *g = NULL;
  gc_onnx_info *info = NULL;
  gc_program *p = NULL;
  gc_session *s = NULL;
  gc_onnx_options opt = {(const gc_tensor *const *)ins->t, ins->n};
  outs->n = 0;
  gc_status st = gc_onnx_load_with(path, &opt, &g, &info);
  gc_compile_options co = {0};
  co.no_fuse = no_fuse;
  if (!st) st = gc_compile(g, dev, &co, &p);
  if (!st) st = gc_session_new(p, &s);
  for (int i = 0; !st && i < info->ninputs; i++) {
    const gc_onnx_io *io = &info->inputs[i];
    if (!io->in_graph) continue;
    const gc_tensor *t = NULL;
    for (int k = 0; k < ins->n; k++)
      if (ins->t[k]->name ? !strcmp(ins->t[k]->name, io->name) : k == i) t = ins->t[k];
    if (!t) {
      fprintf(stderr, "graphc: error: no value given for input '%s'\n", io->name);
      st = GC_ERR_NOT_FOUND;
      break;
    }
    gc_tensor *cv = NULL;
    st = gc_tensor_convert(t, io->dtype, &cv);
    if (!st)
      st = gc_session_set_input(s, io->name, cv->data,
                                (size_t)gc_shape_numel(cv->shape) * gc_dtype_size(cv->dtype));
    gc_tensor_free(cv);
  }
  if (!st) st = gc_session_run(s);
  for (int i = 0; !st && i < info->noutputs && i < MAX_TENSORS; i++) {
    const gc_onnx_io *io = &info->outputs[i];
    gc_tensor *t = NULL;
    st = gc_tensor_new(io->name, io->dtype, io->shape, NULL, &t);
    /* an empty output (in_graph 0) is all there: no elements to read */
    if (!st && io->in_graph)
      st = gc_session_get_output(s, io->name, t->data,
                                 (size_t)gc_shape_numel(t->shape) * gc_dtype_size(t->dtype));
    /* the dtype gc_tensor_read gives the reference data: int64 and
     * uint32 as i64, narrower ints as i32 */
    int ot = io->onnx_type;
    gc_dtype want = ot == 7 || ot == 12               ? GC_I64
                    : ot == 9                         ? GC_BOOL
                    : ot == 6 || (ot >= 2 && ot <= 5) ? GC_I32
                    : ot == 1                         ? GC_F32
                                                      : io->dtype;
    if (!st && want != t->dtype) {
      gc_tensor *cv = NULL;
      st = gc_tensor_convert(t, want, &cv);
      gc_tensor_free(t);
      t = cv;
    }
    if (st) {
      gc_tensor_free(t);
      break;
    }
    outs->t[outs->n++] = t;
  }
  gc_session_free(s);
  gc_program_free(p);
  gc_graph_free(g);
  if (info_out)
    *info_out = info;
  else
    gc_onnx_info_free(info);
  return st;
}

static int cmd_run(int argc, char **argv) {
  const char *model = NULL, *outdir = NULL, *device = NULL;
  tensor_list ins = {{0}, 0}, outs = {{0}, 0};
  int rc = 0;
  for (int i = 2; i < argc && !rc; i++) {
    const char *a = argv[i];
    const char *v = NULL;
    if (!strncmp(a, "--input=", 8) || !strncmp(a, "--output-dir=", 13) ||
        !strncmp(a, "--device=", 9)) {
      v = strchr(a, '=') + 1;
    } else if (!strcmp(a, "--input") || !strcmp(a, "--output-dir") || !strcmp(a, "--device")) {
      if (i + 1 >= argc)
        rc = fail(EXIT_USAGE, "run: option '%s' needs a value", a);
      else
        v = argv[++i];
    } else if (a[0] == '-' && a[1]) {
      rc = fail(EXIT_USAGE, "run: unknown option '%s'", a);
    } else if (model) {
      rc = fail(EXIT_USAGE, "run: unexpected argument '%s'", a);
    } else {
      model = a;
    }
    if (rc || !v) continue;
    if (!strncmp(a, "--device", 8)) {
      device = v;
    } else if (!strncmp(a, "--output-dir", 12)) {
      outdir = v;
    } else {
      /* NAME=FILE.pb, or FILE.pb named by the tensor's own name */
      const char *eq = strchr(v, '=');
      const char *file = eq ? eq + 1 : v;
      if (ins.n == MAX_TENSORS) {
        rc = fail(EXIT_USAGE, "run: too many inputs");
        break;
      }
      gc_tensor *t;
      gc_status st = gc_tensor_read(file, &t);
      if (st) {
        rc = fail(EXIT_RUNTIME, "input '%s': %s", file, lib_error(st));
        break;
      }
      if (eq) {
        free(t->name);
        t->name = strndup(v, (size_t)(eq - v));
      }
      ins.t[ins.n++] = t;
    }
  }
  if (!rc && !model) rc = fail(EXIT_USAGE, "run: which model? (graphc run MODEL.onnx ...)");
  struct stat sb;
  if (!rc && outdir && stat(outdir, &sb) != 0 && mkdir(outdir, 0777) != 0)
    rc = fail(EXIT_RUNTIME, "cannot create --output-dir '%s': %s", outdir, strerror(errno));
  gc_device *dev = NULL;
  if (!rc) rc = open_device(device ? device : "pocl", &dev);
  if (!rc) {
    gc_status st = run_model(model, dev, 0, &ins, &outs, NULL);
    if (st) rc = fail(EXIT_RUNTIME, "%s", lib_error(st));
  }
  for (int i = 0; !rc && i < outs.n; i++) {
    gc_tensor *t = outs.t[i];
    char shp[160];
    gc_shape_str(t->shape, shp, sizeof shp);
    if (outdir) {
      char path[4096], name[256];
      snprintf(name, sizeof name, "%s", t->name);
      for (char *q = name; *q; q++)
        if (*q == '/' || *q == '\\') *q = '_';
      snprintf(path, sizeof path, "%s/%s.pb", outdir, name);
      gc_status st = gc_tensor_write(path, t);
      if (st)
        rc = fail(EXIT_RUNTIME, "%s", lib_error(st));
      else
        printf("%s: %s%s -> %s\n", t->name, gc_dtype_name(t->dtype), shp, path);
    } else {
      printf("%s: %s%s", t->name, gc_dtype_name(t->dtype), shp);
      int64_t n = gc_shape_numel(t->shape);
      gc_tensor *f = NULL;
      if (!gc_tensor_convert(t, GC_F32, &f))
        for (int64_t k = 0; k < n && k < 8; k++) printf(" %g", ((float *)f->data)[k]);
      gc_tensor_free(f);
      printf("%s\n", n > 8 ? " ..." : "");
    }
  }
  tensor_list_free(&ins);
  tensor_list_free(&outs);
  gc_device_free(dev);
  return rc;
}

/* Compares got with want: exact for ints and bools, |d| <= atol + rtol |w|
 * for floats (NaN matches NaN). *err is the largest absolute error. */
static int tensors_match(const gc_tensor *got, const gc_tensor *want, double *err, char *why,
                         size_t n) {
  *err = 0;
  char a[160], b[160];
  if (got->dtype != want->dtype || got->shape.ndim != want->shape.ndim ||
      gc_shape_numel(got->shape) != gc_shape_numel(want->shape)) {
    snprintf(why, n, "got %s%s, want %s%s", gc_dtype_name(got->dtype),
             gc_shape_str(got->shape, a, sizeof a), gc_dtype_name(want->dtype),
             gc_shape_str(want->shape, b, sizeof b));
    return 0;
  }
  for (int i = 0; i < got->shape.ndim; i++)
    if (got->shape.dim[i] != want->shape.dim[i]) {
      snprintf(why, n, "got shape %s, want %s", gc_shape_str(got->shape, a, sizeof a),
               gc_shape_str(want->shape, b, sizeof b));
      return 0;
    }
  int ok = 1;
  int64_t cnt = gc_shape_numel(got->shape);
  for (int64_t i = 0; i < cnt; i++) {
    double g, w;
    switch (got->dtype) {
      case GC_F32:
        g = ((const float *)got->data)[i];
        w = ((const float *)want->data)[i];
        if (isnan(g) && isnan(w)) continue;
        if (isinf(w) && g == w) continue;
        if (!(fabs(g - w) <= 1e-5 + 1e-3 * fabs(w))) ok = 0;
        break;
      case GC_I32:
        g = ((const int32_t *)got->data)[i], w = ((const int32_t *)want->data)[i];
        break;
      case GC_I64:
        g = (double)((const int64_t *)got->data)[i];
        w = (double)((const int64_t *)want->data)[i];
        break;
      default:
        g = ((const uint8_t *)got->data)[i], w = ((const uint8_t *)want->data)[i];
        break;
    }
    if (got->dtype != GC_F32 && g != w) ok = 0;
    double d = fabs(g - w);
    if (isnan(d)) d = INFINITY;
    if (d > *err) *err = d;
  }
  if (!ok) snprintf(why, n, "max abs err %g", *err);
  return ok;
}

/* Compares output idx of the fused program (f) with the unfused one's (u):
 * |f - u| <= 1e-5 (1 + |u|) for floats (NaN matches NaN, an infinity
 * itself), exact for ints and bools; why gets the first difference. */
static int fused_matches_unfused(const gc_tensor *f, const gc_tensor *u, int idx, char *why,
                                 size_t n) {
  char a[160], b[160];
  bool same = f->dtype == u->dtype && f->shape.ndim == u->shape.ndim;
  for (int d = 0; same && d < f->shape.ndim; d++) same = f->shape.dim[d] == u->shape.dim[d];
  if (!same) {
    snprintf(why, n, "fused vs unfused: output %d is %s%s vs %s%s", idx, gc_dtype_name(f->dtype),
             gc_shape_str(f->shape, a, sizeof a), gc_dtype_name(u->dtype),
             gc_shape_str(u->shape, b, sizeof b));
    return 0;
  }
  int64_t cnt = gc_shape_numel(f->shape);
  for (int64_t i = 0; i < cnt; i++) {
    double x, y;
    bool ok;
    switch (f->dtype) {
      case GC_F32:
        x = ((const float *)f->data)[i];
        y = ((const float *)u->data)[i];
        ok = (isnan(x) && isnan(y)) || (isinf(y) && x == y) || fabs(x - y) <= 1e-5 * (1 + fabs(y));
        break;
      case GC_I32:
        x = ((const int32_t *)f->data)[i], y = ((const int32_t *)u->data)[i];
        ok = x == y;
        break;
      case GC_I64:
        ok = ((const int64_t *)f->data)[i] == ((const int64_t *)u->data)[i];
        x = (double)((const int64_t *)f->data)[i], y = (double)((const int64_t *)u->data)[i];
        break;
      default:
        x = ((const uint8_t *)f->data)[i], y = ((const uint8_t *)u->data)[i];
        ok = x == y;
        break;
    }
    if (!ok) {
      snprintf(why, n, "fused vs unfused: output %d [%lld] %.9g vs %.9g", idx, (long long)i, x, y);
      return 0;
    }
  }
  return 1;
}

typedef struct skip_count {
  char what[64];
  int n;
} skip_count;

static int by_count(const void *a, const void *b) {
  const skip_count *x = a, *y = b;
  return x->n != y->n ? y->n - x->n : strcmp(x->what, y->what);
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

enum { CASE_PASS, CASE_FAIL, CASE_SKIP, CASE_PASS_PROPERTY };

/* Runs every test_data_set_* of one case directory; why gets the reason
 * of a FAIL or SKIP. */
/* With compare, every data set that passes also runs the unfused program
 * on the same inputs and the two must agree (fused_matches_unfused);
 * *compared is then set. */
static int run_case(const char *dir, gc_device *dev, bool compare, bool *compared, char *why,
                    size_t n) {
  *compared = false;
  char model[4096];
  snprintf(model, sizeof model, "%s/model.onnx", dir);
  if (access(model, R_OK) != 0) {
    snprintf(why, n, "no model.onnx");
    return CASE_FAIL;
  }
  DIR *d = opendir(dir);
  if (!d) {
    snprintf(why, n, "cannot open directory");
    return CASE_FAIL;
  }
  char *sets[256];
  int nsets = 0;
  struct dirent *de;
  while ((de = readdir(d)) && nsets < 256)
    if (!strncmp(de->d_name, "test_data_set_", 14)) sets[nsets++] = strdup(de->d_name);
  closedir(d);
  qsort(sets, (size_t)nsets, sizeof sets[0], by_name);
  int result = nsets ? CASE_PASS : CASE_FAIL;
  bool by_property = false; /* a random op's outputs were checked by its properties */
  if (!nsets) snprintf(why, n, "no test_data_set_*");
  double worst = 0;
  for (int k = 0; k < nsets && result == CASE_PASS; k++) {
    char sdir[4096];
    snprintf(sdir, sizeof sdir, "%s/%s", dir, sets[k]);
    tensor_list ins = {{0}, 0}, want = {{0}, 0}, got = {{0}, 0};
    gc_onnx_info *info = NULL;
    gc_status st = read_numbered(sdir, "input", &ins);
    if (!st) st = read_numbered(sdir, "output", &want);
    if (st) {
      /* Sequence or optional test data: the model says why it is not a
       * tensor (a SKIP), if it does. */
      gc_status data_st = st;
      char data_msg[900];
      snprintf(data_msg, sizeof data_msg, "%s", lib_error(st));
      gc_graph *g = NULL;
      if (gc_onnx_load(model, &g, &info) == GC_ERR_UNSUPPORTED && info && info->unsupported[0]) {
        snprintf(why, n, "unsupported: %s", info->unsupported);
        result = CASE_SKIP;
      } else if (data_st == GC_ERR_UNSUPPORTED) {
        const char *p = strstr(data_msg, "dtype ");
        int len = p ? 6 + (int)strcspn(p + 6, " ,") : 9;
        snprintf(why, n, "unsupported: %.*s", len, p ? p : "test data");
        result = CASE_SKIP;
      } else {
        snprintf(why, n, "test data: %s", data_msg);
        result = CASE_FAIL;
      }
      gc_graph_free(g);
    } else {
      st = run_model(model, dev, 0, &ins, &got, &info);
      if (st == GC_ERR_UNSUPPORTED && info && info->unsupported[0]) {
        snprintf(why, n, "unsupported: %s", info->unsupported);
        result = CASE_SKIP;
      } else if (st) {
        snprintf(why, n, "%s", lib_error(st));
        result = CASE_FAIL;
      } else if (got.n != want.n) {
        snprintf(why, n, "%d outputs, want %d", got.n, want.n);
        result = CASE_FAIL;
      }
      bool random = info && info->random.op[0] && (info->random.y >= 0 || info->random.mask >= 0);
      for (int i = 0; result == CASE_PASS && i < got.n; i++) {
        double err;
        char w[256];
        if (random && (i == info->random.y || i == info->random.mask)) {
          /* values by property, after the loop; dtype and shape here */
          const gc_tensor *a = got.t[i], *b = want.t[i];
          bool same = a->dtype == b->dtype && a->shape.ndim == b->shape.ndim;
          for (int d = 0; same && d < a->shape.ndim; d++) same = a->shape.dim[d] == b->shape.dim[d];
          if (!same) {
            snprintf(why, n, "output %d '%s': dtype or shape differs from the reference", i,
                     a->name);
            result = CASE_FAIL;
          }
          continue;
        }
        if (!tensors_match(got.t[i], want.t[i], &err, w, sizeof w)) {
          snprintf(why, n, "output %d '%s': %s", i, got.t[i]->name, w);
          result = CASE_FAIL;
        }
        if (err > worst) worst = err;
      }
      if (result == CASE_PASS && random) {
        by_property = true;
        if (gc_onnx_check_random(info, (const gc_tensor *const *)ins.t, ins.n,
                                 (const gc_tensor *const *)got.t, got.n)) {
          snprintf(why, n, "%s", lib_error(GC_ERR_INVALID));
          result = CASE_FAIL;
        }
      }
      /* The same graph without fusion, on the same inputs. Random outputs
       * are compared too: the counter-based RNG draws by element index and
       * the node's seed, whichever kernel computes them. */
      if (result == CASE_PASS && compare) {
        tensor_list un = {{0}, 0};
        st = run_model(model, dev, 1, &ins, &un, NULL);
        if (st) {
          snprintf(why, n, "unfused: %s", lib_error(st));
          result = CASE_FAIL;
        } else if (un.n != got.n) {
          snprintf(why, n, "fused vs unfused: %d outputs vs %d", got.n, un.n);
          result = CASE_FAIL;
        }
        for (int i = 0; result == CASE_PASS && i < got.n; i++)
          if (!fused_matches_unfused(got.t[i], un.t[i], i, why, n)) result = CASE_FAIL;
        if (result == CASE_PASS) *compared = true;
        tensor_list_free(&un);
      }
    }
    gc_onnx_info_free(info);
    tensor_list_free(&ins);
    tensor_list_free(&want);
    tensor_list_free(&got);
  }
  for (int k = 0; k < nsets; k++) free(sets[k]);
  return result == CASE_PASS && by_property ? CASE_PASS_PROPERTY : result;
}

static int cmd_onnx_test(int argc, char **argv) {
  const char *device = "pocl";
  int ncases = 0;
  bool compare = false;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--compare-unfused")) {
      compare = true;
    } else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
      device = argv[++i];
    } else if (!strncmp(argv[i], "--device=", 9)) {
      device = argv[i] + 9;
    } else if (argv[i][0] == '-') {
      return fail(EXIT_USAGE, "onnx-test: unknown option '%s'", argv[i]);
    } else {
      ncases++;
    }
  }
  if (!ncases)
    return fail(EXIT_USAGE, "onnx-test: which case directories? (each holds model.onnx)");
  gc_device *dev;
  int rc = open_device(device, &dev);
  if (rc) return rc;
  int pass = 0, failed = 0, skipped = 0, nskip = 0, nprop = 0, ncompared = 0;
  static skip_count skips[1024];
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--device")) {
      i++;
      continue;
    }
    if (argv[i][0] == '-') continue;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", argv[i]);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') dir[--len] = 0;
    const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    char why[1024] = "";
    bool compared = false;
    int r = run_case(dir, dev, compare, &compared, why, sizeof why);
    ncompared += compared;
    if (r == CASE_PASS || r == CASE_PASS_PROPERTY) {
      pass++;
      nprop += r == CASE_PASS_PROPERTY;
      printf("%-60s PASS%s\n", name, r == CASE_PASS_PROPERTY ? " (by property: random op)" : "");
    } else if (r == CASE_FAIL) {
      failed++;
      for (char *q = why; *q; q++)
        if (*q == '\n') *q = ' ';
      printf("%-60s FAIL (%s)\n", name, why);
    } else {
      skipped++;
      printf("%-60s SKIP (%s)\n", name, why);
      const char *what = why + strlen("unsupported: ");
      int k = 0;
      while (k < nskip && strcmp(skips[k].what, what)) k++;
      if (k == nskip && nskip < 1024)
        snprintf(skips[nskip++].what, sizeof skips[0].what, "%.63s", what);
      if (k < nskip) skips[k].n++;
    }
    fflush(stdout);
  }
  gc_device_free(dev);
  char cmp[96] = "";
  if (compare) snprintf(cmp, sizeof cmp, "; %d compared fused vs unfused", ncompared);
  if (nprop)
    printf("%d passed (%d by property: random op), %d failed, %d skipped%s\n", pass, nprop, failed,
           skipped, cmp);
  else
    printf("%d passed, %d failed, %d skipped%s\n", pass, failed, skipped, cmp);
  if (nskip) {
    qsort(skips, (size_t)nskip, sizeof skips[0], by_count);
    printf("skipped (first unsupported op type or feature):\n");
    for (int k = 0; k < nskip; k++) printf("  %-40s %d\n", skips[k].what, skips[k].n);
  }
  return failed ? EXIT_RUNTIME : 0;
}

/* ----------------------------------------------------------------- main */

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage_text, stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    printf("graphc %s\n", GC_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "devices")) return cmd_devices(argc, argv);
  if (!strcmp(cmd, "list")) return cmd_list(argc, argv);
  if (!strcmp(cmd, "train")) return cmd_train(argc, argv);
  if (!strcmp(cmd, "compile")) return cmd_compile(argc, argv);
  if (!strcmp(cmd, "run")) return cmd_run(argc, argv);
  if (!strcmp(cmd, "onnx-test")) return cmd_onnx_test(argc, argv);
  return fail(EXIT_USAGE, "unknown command '%s' (try `graphc help`)", cmd);
}
