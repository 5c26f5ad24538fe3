/* ffnn.c — the "ffnn" model: a feed-forward net with one hidden layer
 * (4-16-3, tanh) on the Iris data set, trained with cross-entropy and Adam
 * on a fixed 80/20 split with features standardized by the training set's
 * statistics. The smallest real classifier: it checks the whole pipeline
 * (data, autodiff, optimizer, trainer) in well under a second. */
#include "models/trainer.h"

enum { FFNN_HIDDEN = 16, FFNN_FEATURES = 4, FFNN_CLASSES = 3, FFNN_EVAL_BATCH = 30 };

/* The split is fixed whatever --seed says, so that runs with different
 * seeds (which change initialization and shuffles) are scored on the same
 * test set. */
#define FFNN_SPLIT_SEED 20240601u

extern const gc_model gc_model_ffnn;

static gc_status ffnn_build(gc_graph *g, int batch, int train, const gc_train_options *opt) {
  if (batch <= 0) batch = gc_model_ffnn.default_batch;
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(batch, FFNN_FEATURES));
  gc_value h = gc_tanh(g, gc_linear(g, x, FFNN_HIDDEN, GC_GLOROT, "fc1"));
  gc_value logits = gc_linear(g, h, FFNN_CLASSES, GC_GLOROT, "fc2");
  return mt_classifier_head(g, logits, batch, train, opt, &gc_model_ffnn);
}

static gc_status ffnn_train(const gc_train_options *opt, gc_train_result *out) {
  gc_train_options o;
  mt_resolve(opt, &gc_model_ffnn, &o);
  gc_dataset *all = NULL, *train = NULL, *test = NULL;
  gc_status st = gc_dataset_load_iris(&all);
  if (!st) st = gc_dataset_split(all, 0.8, FFNN_SPLIT_SEED, &train, &test);
  if (!st) st = gc_dataset_standardize(train, test);
  mt_recipe r = {ffnn_build, FFNN_EVAL_BATCH, "train"};
  if (!st) st = mt_train_classifier(&r, &o, train, test, out);
  gc_dataset_free(all);
  gc_dataset_free(train);
  gc_dataset_free(test);
  return st;
}

const gc_model gc_model_ffnn = {
    .name = "ffnn",
    .description = "feed-forward net 4-16-3 (tanh) on Iris, cross-entropy + Adam",
    .build = ffnn_build,
    .train = ffnn_train,
    .default_epochs = 100,
    .default_batch = 16,
    .default_lr = 0.01f,
};
