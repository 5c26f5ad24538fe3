/* mlp.c — the "mlp" model: a 784-256-128-10 ReLU multi-layer perceptron on
 * Fashion-MNIST (He init for the hidden layers, Glorot for the output),
 * cross-entropy, Adam lr 1e-3, batch 64. PyTorch with the same network
 * reaches 0.848 test accuracy after 1 epoch and 0.873 after 5; this is the
 * reference workload of the README and of the benchmarks. */
#include "models/trainer.h"

enum { MLP_IN = 784, MLP_H1 = 256, MLP_H2 = 128, MLP_CLASSES = 10, MLP_EVAL_BATCH = 500 };

extern const gc_model gc_model_mlp;

static gc_status mlp_build(gc_graph *g, int batch, int train, const gc_train_options *opt) {
  if (batch <= 0) batch = gc_model_mlp.default_batch;
  /* The images are [28, 28] samples; a batch of them is the same memory as
   * [batch, 784], which is what the first layer wants. */
  gc_value x = gc_input(g, "x", GC_F32, gc_shape2(batch, MLP_IN));
  gc_value h = gc_relu(g, gc_linear(g, x, MLP_H1, GC_HE, "fc1"));
  h = gc_relu(g, gc_linear(g, h, MLP_H2, GC_HE, "fc2"));
  gc_value logits = gc_linear(g, h, MLP_CLASSES, GC_GLOROT, "fc3");
  return mt_classifier_head(g, logits, batch, train, opt, &gc_model_mlp);
}

static gc_status mlp_train(const gc_train_options *opt, gc_train_result *out) {
  return mt_train_mnist(opt, &gc_model_mlp, mlp_build, MLP_EVAL_BATCH, out);
}

const gc_model gc_model_mlp = {
    .name = "mlp",
    .description = "MLP 784-256-128-10 (ReLU) on Fashion-MNIST, cross-entropy + Adam",
    .build = mlp_build,
    .train = mlp_train,
    .default_epochs = 1,
    .default_batch = 64,
    .default_lr = 1e-3f,
};
