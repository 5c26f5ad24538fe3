/* trainer.h — the classification trainer shared by the models in models/
 * (internal to models/; it uses only the public API). One call compiles a
 * training graph and an inference graph, runs the epochs and measures test
 * accuracy, so each model file is just its graph and its recipe. */
#ifndef GRAPHC_MODELS_TRAINER_H
#define GRAPHC_MODELS_TRAINER_H

#include "graphc.h"

/* Builds a model's graph; the contract of gc_model.build. */
typedef gc_status (*mt_build_fn)(gc_graph *g, int batch, int train, const gc_train_options *opt);

typedef struct mt_recipe {
  mt_build_fn build;
  int eval_batch;    /* batch of the inference graph (clamped to the test size) */
  const char *phase; /* reported in gc_progress.phase while training */
} mt_recipe;

/* Fills epochs, batch and lr of *out from opt, with the model's defaults
 * where opt leaves them 0 (opt may be NULL). */
void mt_resolve(const gc_train_options *opt, const gc_model *m, gc_train_options *out);

/* Trains r->build's graph on train and evaluates it on test.
 * opt must be resolved (epochs, batch, lr > 0). The training graph takes
 * inputs "x" [batch, features] f32 and "y" [batch] i32 and has a loss; the
 * inference graph takes "x" [eval_batch, features] and outputs "logits"
 * [eval_batch, classes]. Both are built after gc_graph_set_seed(opt->seed)
 * and must name their parameters alike (they are copied by name).
 * opt->train_limit > 0 trains on the first train_limit samples only; a batch
 * larger than the training set is clamped to it. On failure the message is
 * in gc_last_error(). */
gc_status mt_train_classifier(const mt_recipe *r, const gc_train_options *opt,
                              const gc_dataset *train, const gc_dataset *test,
                              gc_train_result *out);

/* The head every classifier here shares: in an inference graph (train 0)
 * logits become the output "logits"; in a training graph the labels input
 * "y" [batch] i32, the cross-entropy loss and Adam at opt->lr (or the
 * model's default) are added. Returns the graph's status. */
gc_status mt_classifier_head(gc_graph *g, gc_value logits, int batch, int train,
                             const gc_train_options *opt, const gc_model *m);

/* The whole recipe of a Fashion-MNIST classifier: loads the training and
 * test sets from opt->data_dir (or the default) and trains with
 * mt_train_classifier. */
gc_status mt_train_mnist(const gc_train_options *opt, const gc_model *m, mt_build_fn build,
                         int eval_batch, gc_train_result *out);

/* A well-mixed 64-bit seed from a base seed and a stream number (epoch,
 * gate...), so that nearby seeds give unrelated shuffles. */
uint64_t mt_seed(uint64_t base, uint64_t stream);

/* Monotonic wall-clock seconds. */
double mt_now(void);

#endif /* GRAPHC_MODELS_TRAINER_H */
