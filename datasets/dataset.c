/* dataset.c — gc_dataset, a labelled set of samples in host memory, and
 * what training loops do with one: subsets, seeded splits and shuffles,
 * standardization and batch gathering. The loaders live in idx.c (MNIST),
 * csv.c and iris_data.c. */
#include "datasets/dataset.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir/status.h"

/* ------------------------------------------------------------ allocation */

gc_status ds_alloc(int64_t n, gc_shape shape, const char *what, gc_dataset **out) {
  if (!out) return gc_fail(GC_ERR_INVALID, "%s: out is NULL", what);
  *out = NULL;
  if (n < 0) return gc_fail(GC_ERR_INVALID, "%s: negative sample count %lld", what, (long long)n);
  if (shape.ndim < 0 || shape.ndim > GC_MAX_DIMS)
    return gc_fail(GC_ERR_INVALID, "%s: sample shape has %d dims (0..%d allowed)", what, shape.ndim,
                   GC_MAX_DIMS);
  /* Every product below is checked against the largest array we could ever
   * index, so a corrupt header fails here rather than in malloc or memcpy. */
  const int64_t limit = (int64_t)((SIZE_MAX < INT64_MAX ? SIZE_MAX : INT64_MAX) / sizeof(float));
  int64_t numel = 1;
  for (int i = 0; i < shape.ndim; i++) {
    int64_t d = shape.dim[i];
    if (d < 1)
      return gc_fail(GC_ERR_INVALID, "%s: sample dim %d is %lld (must be >= 1)", what, i,
                     (long long)d);
    if (numel > limit / d) return gc_fail(GC_ERR_INVALID, "%s: sample shape too large", what);
    numel *= d;
  }
  if (n > 0 && numel > limit / n)
    return gc_fail(GC_ERR_NOMEM, "%s: %lld samples of %lld floats do not fit in memory", what,
                   (long long)n, (long long)numel);
  gc_dataset *d = calloc(1, sizeof *d);
  if (!d) return gc_fail(GC_ERR_NOMEM, "%s: out of memory", what);
  d->n = n;
  d->shape = shape;
  d->numel = numel;
  /* At least one element each, so that an empty dataset still has valid
   * pointers and malloc(0)'s NULL is never mistaken for failure. */
  size_t xbytes = (size_t)(n > 0 ? n * numel : 1) * sizeof(float);
  size_t ybytes = (size_t)(n > 0 ? n : 1) * sizeof(int32_t);
  d->x = malloc(xbytes);
  d->y = malloc(ybytes);
  if (!d->x || !d->y) {
    gc_dataset_free(d);
    return gc_fail(GC_ERR_NOMEM, "%s: out of memory allocating %zu bytes for %lld samples", what,
                   xbytes + ybytes, (long long)n);
  }
  *out = d;
  return GC_OK;
}

gc_status ds_finish(gc_dataset *d, const char *what) {
  int32_t max = -1;
  for (int64_t i = 0; i < d->n; i++) {
    if (d->y[i] < 0)
      return gc_fail(GC_ERR_INVALID, "%s: label %d of sample %lld out of range (must be >= 0)",
                     what, (int)d->y[i], (long long)i);
    if (d->y[i] > max) max = d->y[i];
  }
  /* num_classes is an int; a label of INT32_MAX would overflow max + 1. */
  if (max == INT32_MAX) return gc_fail(GC_ERR_INVALID, "%s: label %d out of range", what, (int)max);
  d->num_classes = max + 1;
  return GC_OK;
}

gc_status gc_dataset_from_arrays(int64_t n, gc_shape sample_shape, const float *features,
                                 const int32_t *labels, gc_dataset **out) {
  if (out) *out = NULL;
  if (n > 0 && (!features || !labels))
    return gc_fail(GC_ERR_INVALID, "gc_dataset_from_arrays: features or labels is NULL");
  gc_dataset *d;
  gc_status s = ds_alloc(n, sample_shape, "gc_dataset_from_arrays", &d);
  if (s) return s;
  if (n > 0) {
    memcpy(d->x, features, (size_t)(n * d->numel) * sizeof(float));
    memcpy(d->y, labels, (size_t)n * sizeof(int32_t));
  }
  s = ds_finish(d, "gc_dataset_from_arrays");
  if (s) {
    gc_dataset_free(d);
    return s;
  }
  *out = d;
  return GC_OK;
}

void gc_dataset_free(gc_dataset *d) {
  if (!d) return;
  free(d->x);
  free(d->y);
  free(d);
}

/* ------------------------------------------------------------- accessors */

int64_t gc_dataset_size(const gc_dataset *d) { return d ? d->n : 0; }

gc_shape gc_dataset_sample_shape(const gc_dataset *d) {
  gc_shape none = {0};
  return d ? d->shape : none;
}

int64_t gc_dataset_sample_numel(const gc_dataset *d) { return d ? d->numel : 0; }

int gc_dataset_num_classes(const gc_dataset *d) { return d ? d->num_classes : 0; }

/* -------------------------------------------------------- sample copies */

/* Checks every index before anything is written, so a failed gather leaves
 * the caller's buffers untouched. */
static gc_status check_indices(const gc_dataset *d, const int64_t *idx, int64_t n,
                               const char *what) {
  if (!d) return gc_fail(GC_ERR_INVALID, "%s: dataset is NULL", what);
  if (n < 0) return gc_fail(GC_ERR_INVALID, "%s: negative count %lld", what, (long long)n);
  if (n > 0 && !idx) return gc_fail(GC_ERR_INVALID, "%s: idx is NULL", what);
  for (int64_t i = 0; i < n; i++)
    if (idx[i] < 0 || idx[i] >= d->n)
      return gc_fail(GC_ERR_INVALID, "%s: idx[%lld] = %lld out of range [0, %lld)", what,
                     (long long)i, (long long)idx[i], (long long)d->n);
  return GC_OK;
}

gc_status gc_dataset_gather(const gc_dataset *d, const int64_t *idx, int64_t n, float *x,
                            int32_t *y) {
  gc_status s = check_indices(d, idx, n, "gc_dataset_gather");
  if (s) return s;
  size_t row = (size_t)d->numel * sizeof(float);
  for (int64_t i = 0; i < n; i++) {
    if (x) memcpy(x + i * d->numel, d->x + idx[i] * d->numel, row);
    if (y) y[i] = d->y[idx[i]];
  }
  return GC_OK;
}

gc_status gc_dataset_subset(const gc_dataset *d, const int64_t *idx, int64_t n, gc_dataset **out) {
  if (out) *out = NULL;
  gc_status s = check_indices(d, idx, n, "gc_dataset_subset");
  if (s) return s;
  gc_dataset *r;
  s = ds_alloc(n, d->shape, "gc_dataset_subset", &r);
  if (s) return s;
  gc_dataset_gather(d, idx, n, r->x, r->y);
  ds_finish(r, "gc_dataset_subset"); /* labels came from d: already valid */
  *out = r;
  return GC_OK;
}

gc_status gc_dataset_split(const gc_dataset *d, double frac, uint64_t seed, gc_dataset **a,
                           gc_dataset **b) {
  if (a) *a = NULL;
  if (b) *b = NULL;
  if (!d || !a || !b) return gc_fail(GC_ERR_INVALID, "gc_dataset_split: NULL argument");
  if (!(frac >= 0.0 && frac <= 1.0))
    return gc_fail(GC_ERR_INVALID, "gc_dataset_split: fraction %g not in [0, 1]", frac);
  int64_t na = (int64_t)floor(frac * (double)d->n + 0.5);
  if (na > d->n) na = d->n;
  int64_t *perm = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof *perm);
  if (!perm) return gc_fail(GC_ERR_NOMEM, "gc_dataset_split: out of memory");
  gc_permutation(seed, d->n, perm);
  gc_status s = gc_dataset_subset(d, perm, na, a);
  if (!s) s = gc_dataset_subset(d, perm + na, d->n - na, b);
  free(perm);
  if (s) {
    gc_dataset_free(*a);
    *a = NULL;
  }
  return s;
}

/* ---------------------------------------------------------- standardize */

gc_status gc_dataset_standardize(gc_dataset *d, gc_dataset *other) {
  if (!d) return gc_fail(GC_ERR_INVALID, "gc_dataset_standardize: dataset is NULL");
  if (d->n == 0)
    return gc_fail(GC_ERR_INVALID, "gc_dataset_standardize: cannot measure an empty dataset");
  if (other && other->numel != d->numel)
    return gc_fail(GC_ERR_SHAPE,
                   "gc_dataset_standardize: other has %lld features per sample, dataset has %lld",
                   (long long)other->numel, (long long)d->numel);
  int64_t f = d->numel;
  double *mean = calloc((size_t)f, sizeof *mean);
  double *var = calloc((size_t)f, sizeof *var);
  if (!mean || !var) {
    free(mean);
    free(var);
    return gc_fail(GC_ERR_NOMEM, "gc_dataset_standardize: out of memory");
  }
  /* Two passes in double: one-pass sum-of-squares loses all precision on
   * features whose mean is large against their spread. Rows outer so the
   * walk over the features is sequential in memory. */
  for (int64_t i = 0; i < d->n; i++)
    for (int64_t j = 0; j < f; j++) mean[j] += d->x[i * f + j];
  for (int64_t j = 0; j < f; j++) mean[j] /= (double)d->n;
  for (int64_t i = 0; i < d->n; i++)
    for (int64_t j = 0; j < f; j++) {
      double t = d->x[i * f + j] - mean[j];
      var[j] += t * t;
    }
  /* var now holds 1/std, or 1 where the feature is constant: such a
   * feature is only centered, rather than divided by zero. */
  for (int64_t j = 0; j < f; j++) {
    double sd = sqrt(var[j] / (double)d->n);
    var[j] = sd > 0 ? 1.0 / sd : 1.0;
  }
  gc_dataset *sets[2] = {d, other};
  for (int k = 0; k < 2; k++) {
    gc_dataset *s = sets[k];
    if (!s) continue;
    for (int64_t i = 0; i < s->n; i++)
      for (int64_t j = 0; j < f; j++)
        s->x[i * f + j] = (float)((s->x[i * f + j] - mean[j]) * var[j]);
  }
  free(mean);
  free(var);
  return GC_OK;
}

/* ---------------------------------------------------------- permutation */

/* splitmix64 expands the one 64-bit seed into xoshiro256**'s state (as its
 * authors recommend); both use only 64-bit integer arithmetic, so a seed
 * gives the same permutation on every platform and compiler. */
static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro256ss(uint64_t s[4]) {
  uint64_t r = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return r;
}

/* Uniform in [0, bound): rejecting the low 2^64 mod bound values removes
 * the modulo bias that a bare r % bound would have. */
static uint64_t uniform_below(uint64_t s[4], uint64_t bound) {
  uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    uint64_t r = xoshiro256ss(s);
    if (r >= threshold) return r % bound;
  }
}

void gc_permutation(uint64_t seed, int64_t n, int64_t *perm) {
  if (!perm || n <= 0) return;
  uint64_t sm = seed, s[4];
  for (int i = 0; i < 4; i++) s[i] = splitmix64(&sm);
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)uniform_below(s, (uint64_t)i + 1);
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}
