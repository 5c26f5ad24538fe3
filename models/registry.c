/* registry.c — the catalogue of models: `graphc list`, `graphc train NAME`
 * and the tests find models here. Adding a model is adding its file and
 * one line to the table. */
#include <string.h>

#include "graphc.h"

extern const gc_model gc_model_perceptron;
extern const gc_model gc_model_ffnn;
extern const gc_model gc_model_mlp;
extern const gc_model gc_model_cnn;

static const gc_model *const models[] = {&gc_model_perceptron, &gc_model_ffnn, &gc_model_mlp,
                                         &gc_model_cnn};

int gc_model_count(void) { return (int)(sizeof models / sizeof models[0]); }

const gc_model *gc_model_at(int i) { return i >= 0 && i < gc_model_count() ? models[i] : NULL; }

const gc_model *gc_model_find(const char *name) {
  for (int i = 0; name && i < gc_model_count(); i++)
    if (strcmp(models[i]->name, name) == 0) return models[i];
  return NULL;
}
