/* dataset.h — internal to datasets/: the layout of gc_dataset, shared so
 * that the loaders (idx.c, csv.c) can allocate a dataset once and fill it in
 * place instead of building a temporary array and copying 188 MB of
 * Fashion-MNIST pixels through gc_dataset_from_arrays. */
#ifndef GC_DATASETS_DATASET_H
#define GC_DATASETS_DATASET_H

#include "graphc.h"

struct gc_dataset {
  int64_t n;       /* samples */
  gc_shape shape;  /* of one sample */
  int64_t numel;   /* elements of one sample (product of shape, >= 1) */
  float *x;        /* n * numel features, row-major, owned */
  int32_t *y;      /* n labels, owned, each >= 0 */
  int num_classes; /* max label + 1 (0 when n == 0) */
};

/* Allocates a dataset of n samples of the given shape with uninitialized
 * features and labels. Fails with GC_ERR_INVALID for a bad shape or count
 * and GC_ERR_NOMEM when the arrays do not fit. `what` names the source (a
 * file, "from_arrays") for the message. */
gc_status ds_alloc(int64_t n, gc_shape shape, const char *what, gc_dataset **out);
/* Checks every label is >= 0 and sets num_classes; call once filled. */
gc_status ds_finish(gc_dataset *d, const char *what);

#endif
