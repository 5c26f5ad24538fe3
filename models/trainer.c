/* trainer.c — the classification trainer shared by the models: compile a
 * training graph and an inference graph, replay the training step over
 * seeded shuffles of the data, then measure test accuracy. Public API only.
 *
 * The loop never waits for the device except where it reads the loss back:
 * a read (gc_session_get_output) drains the queue, which costs tens of
 * microseconds and stalls the pipeline, so it happens only on the first and
 * last few steps (for first_loss / final_loss) and every LOSS_EVERY steps
 * (for progress). */
#include "models/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
  LOSS_EVERY = 50, /* steps between loss read-backs for progress */
  LOSS_EDGE = 5    /* steps read at both ends: first_loss / final_loss */
};

double mt_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t mt_seed(uint64_t base, uint64_t stream) {
  /* splitmix64's finalizer over base and stream: seeds 1 and 2 (or epochs
   * 1 and 2) must not give related permutations. */
  uint64_t z = base * 0x9e3779b97f4a7c15ull + (stream + 1) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void mt_resolve(const gc_train_options *opt, const gc_model *m, gc_train_options *out) {
  gc_train_options zero = {0};
  *out = opt ? *opt : zero;
  if (out->epochs <= 0) out->epochs = m->default_epochs;
  if (out->batch <= 0) out->batch = m->default_batch;
  if (!(out->lr > 0)) out->lr = m->default_lr;
}

/* Builds and compiles one graph; *classes gets the width of "logits" when
 * asked for (the inference graph). */
static gc_status compile_one(const mt_recipe *r, const gc_train_options *opt, gc_device *dev,
                             int batch, int train, int64_t *classes, gc_program **out) {
  gc_graph *g = gc_graph_new();
  if (!g) return gc_error(GC_ERR_NOMEM, "out of memory building the graph");
  gc_graph_set_seed(g, opt->seed);
  gc_status st = r->build(g, batch, train, opt);
  if (!st && classes) {
    gc_shape s = gc_value_shape(g, gc_find(g, "logits"));
    *classes = s.ndim == 2 ? s.dim[1] : 0;
    if (*classes <= 0) /* a model bug */
      st = gc_error(GC_ERR_INVALID, "the inference graph has no [B, C] output \"logits\"");
  }
  if (!st) st = gc_compile(g, dev, NULL, out);
  gc_graph_free(g);
  return st;
}

/* Mean of the loss values kept at one end of the run. */
static double mean_of(const float *v, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += v[i];
  return n ? s / n : NAN;
}

static void report(const gc_train_options *opt, const char *phase, int epoch, int64_t step,
                   int64_t steps, float loss, int batch, double t0) {
  if (!opt->progress) return;
  double el = mt_now() - t0;
  gc_progress p = {0};
  p.epoch = epoch;
  p.epochs = opt->epochs;
  p.step = step;
  p.steps = steps;
  p.loss = loss;
  p.elapsed_seconds = el;
  p.samples_per_second = el > 0 ? (double)step * batch / el : 0;
  p.eta_seconds = step > 0 ? el / (double)step * (double)(steps - step) : NAN;
  p.phase = phase;
  opt->progress(&p, opt->user);
}

/* Test accuracy: batches of eval_batch rows; the last one is padded with
 * copies of sample 0 whose predictions are ignored. */
static gc_status evaluate(gc_session *s, const gc_dataset *test, int eval_batch, int64_t classes,
                          double *accuracy) {
  int64_t n = gc_dataset_size(test), feat = gc_dataset_sample_numel(test);
  float *x = malloc(sizeof *x * (size_t)(eval_batch * feat));
  float *logits = malloc(sizeof *logits * (size_t)(eval_batch * classes));
  int32_t *y = malloc(sizeof *y * (size_t)eval_batch);
  int64_t *idx = malloc(sizeof *idx * (size_t)eval_batch);
  gc_status st = (x && logits && y && idx) ? GC_OK : gc_error(GC_ERR_NOMEM, "out of memory");
  int64_t correct = 0;
  for (int64_t at = 0; !st && at < n; at += eval_batch) {
    int64_t rows = n - at < eval_batch ? n - at : eval_batch;
    for (int64_t i = 0; i < eval_batch; i++) idx[i] = i < rows ? at + i : 0;
    st = gc_dataset_gather(test, idx, eval_batch, x, y);
    if (!st) st = gc_session_set_input(s, "x", x, sizeof *x * (size_t)(eval_batch * feat));
    if (!st) st = gc_session_run(s);
    if (!st)
      st = gc_session_get_output(s, "logits", logits,
                                 sizeof *logits * (size_t)(eval_batch * classes));
    for (int64_t i = 0; !st && i < rows; i++) {
      const float *row = logits + i * classes;
      int64_t best = 0;
      for (int64_t c = 1; c < classes; c++)
        if (row[c] > row[best]) best = c;
      correct += best == y[i];
    }
  }
  *accuracy = n ? (double)correct / (double)n : 0;
  free(x);
  free(logits);
  free(y);
  free(idx);
  return st;
}

gc_status mt_train_classifier(const mt_recipe *r, const gc_train_options *opt,
                              const gc_dataset *train, const gc_dataset *test,
                              gc_train_result *out) {
  if (!r || !opt || !train || !test || !out)
    return gc_error(GC_ERR_INVALID, "train: null argument");
  memset(out, 0, sizeof *out);
  int64_t n = gc_dataset_size(train), feat = gc_dataset_sample_numel(train);
  if (opt->train_limit > 0 && opt->train_limit < n) n = opt->train_limit;
  int64_t ntest = gc_dataset_size(test);
  if (n <= 0 || ntest <= 0)
    return gc_error(GC_ERR_INVALID, "train: empty dataset (%lld training, %lld test samples)",
                    (long long)n, (long long)ntest);
  if (opt->epochs <= 0 || opt->batch <= 0)
    return gc_error(GC_ERR_INVALID, "train: epochs (%d) and batch (%d) must be >= 1", opt->epochs,
                    opt->batch);

  /* A small training subset (train_limit) must still make whole batches. */
  gc_train_options o = *opt;
  if (o.batch > n) o.batch = (int)n;
  int batch = o.batch;
  int eval_batch = r->eval_batch > 0 ? r->eval_batch : batch;
  if (eval_batch > ntest) eval_batch = (int)ntest;
  int64_t per_epoch = n / batch, steps = per_epoch * o.epochs;

  gc_device *dev = NULL;
  gc_program *ptrain = NULL, *peval = NULL;
  gc_session *strain = NULL, *seval = NULL;
  float *x = malloc(sizeof *x * (size_t)(batch * feat));
  int32_t *y = malloc(sizeof *y * (size_t)batch);
  int64_t *perm = malloc(sizeof *perm * (size_t)n);
  int64_t classes = 0;
  float first[LOSS_EDGE], last[LOSS_EDGE];
  int nfirst = 0, nlast = 0, last_at = 0;
  gc_status st = (x && y && perm) ? GC_OK : gc_error(GC_ERR_NOMEM, "out of memory");
  if (!st) st = gc_device_open(opt->device, &dev);
  if (!st) st = compile_one(r, &o, dev, batch, 1, NULL, &ptrain);
  if (!st) st = compile_one(r, &o, dev, eval_batch, 0, &classes, &peval);
  if (!st) st = gc_session_new(ptrain, &strain);
  if (!st) st = gc_session_new(peval, &seval);

  const char *phase = r->phase ? r->phase : "train";
  double t0 = mt_now();
  float loss = NAN;
  int64_t step = 0;
  for (int e = 0; !st && e < o.epochs; e++) {
    gc_permutation(mt_seed(o.seed, (uint64_t)e), n, perm);
    for (int64_t b = 0; !st && b < per_epoch; b++, step++) {
      st = gc_dataset_gather(train, perm + b * batch, batch, x, y);
      if (!st) st = gc_session_set_input(strain, "x", x, sizeof *x * (size_t)(batch * feat));
      if (!st) st = gc_session_set_input(strain, "y", y, sizeof *y * (size_t)batch);
      if (!st) st = gc_session_run(strain);
      int edge_first = step < LOSS_EDGE, edge_last = step >= steps - LOSS_EDGE;
      if (st || !(edge_first || edge_last || (step + 1) % LOSS_EVERY == 0)) continue;
      st = gc_session_get_output(strain, "loss", &loss, sizeof loss);
      if (st) break;
      if (edge_first) first[nfirst++] = loss;
      if (edge_last) {
        last[last_at] = loss;
        last_at = (last_at + 1) % LOSS_EDGE;
        if (nlast < LOSS_EDGE) nlast++;
      }
      if ((step + 1) % LOSS_EVERY == 0 || step == steps - 1)
        report(&o, phase, e + 1, step + 1, steps, loss, batch, t0);
    }
  }
  if (!st) st = gc_session_finish(strain);
  double t1 = mt_now();

  if (!st) {
    report(&o, "eval", o.epochs, steps, steps, loss, batch, t0);
    st = gc_session_copy_params(seval, strain);
  }
  if (!st) st = evaluate(seval, test, eval_batch, classes, &out->test_accuracy);
  if (!st) {
    out->epochs = o.epochs;
    out->first_loss = mean_of(first, nfirst);
    out->final_loss = mean_of(last, nlast);
    out->train_seconds = t1 - t0;
    out->steps = steps;
    out->train_samples = n;
    out->samples_per_second =
        out->train_seconds > 0 ? (double)steps * batch / out->train_seconds : 0;
  }
  gc_session_free(seval);
  gc_session_free(strain);
  gc_program_free(peval);
  gc_program_free(ptrain);
  gc_device_free(dev);
  free(perm);
  free(y);
  free(x);
  return st;
}

gc_status mt_classifier_head(gc_graph *g, gc_value logits, int batch, int train,
                             const gc_train_options *opt, const gc_model *m) {
  if (!train) {
    gc_output(g, logits, "logits");
    return gc_graph_status(g);
  }
  gc_value y = gc_input(g, "y", GC_I32, gc_shape1(batch));
  gc_set_loss(g, gc_cross_entropy(g, logits, y));
  if (gc_graph_status(g)) return gc_graph_status(g);
  gc_adam adam = {.lr = opt && opt->lr > 0 ? opt->lr : m->default_lr};
  return gc_optimize_adam(g, &adam);
}

gc_status mt_train_mnist(const gc_train_options *opt, const gc_model *m, mt_build_fn build,
                         int eval_batch, gc_train_result *out) {
  gc_train_options o;
  mt_resolve(opt, m, &o);
  gc_dataset *train = NULL, *test = NULL;
  gc_status st = gc_dataset_load_mnist(o.data_dir, 1, &train);
  if (!st) st = gc_dataset_load_mnist(o.data_dir, 0, &test);
  mt_recipe r = {build, eval_batch, "train"};
  if (!st) st = mt_train_classifier(&r, &o, train, test, out);
  gc_dataset_free(train);
  gc_dataset_free(test);
  return st;
}
