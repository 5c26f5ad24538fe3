/* onnx_random.c — checks of the outputs of ONNX nodes that are random by
 * specification (Dropout in training mode), recorded by the importer in
 * gc_onnx_info.random. A reference drawn with another generator (the ONNX
 * test data's come from numpy's) cannot be matched value for value, so
 * the outputs are checked by the op's defining properties instead. */
#include <math.h>
#include <string.h>

#include "frontend/onnx_internal.h"

/* Dropout: every element of y is 0 or x / (1 - ratio); the mask, when
 * given, is true exactly where y keeps x; and the kept count k of the n
 * elements whose fate is known lies within 4 standard deviations of the
 * binomial mean n (1 - ratio) (a false failure about once in 16,000
 * draws; tight enough to catch keeping with probability ratio instead of
 * 1 - ratio). Without a mask an element with x = 0 tells nothing. y or
 * mask may be NULL. Values compare as the conformance runner's do
 * (|d| <= 1e-5 + 1e-3 |want|). */
static gc_status check_dropout(const gc_tensor *x, float ratio, const gc_tensor *y,
                               const gc_tensor *mask) {
  int64_t cnt = gc_shape_numel(x->shape), kept = 0, known = 0;
  if ((y && gc_shape_numel(y->shape) != cnt) || (mask && gc_shape_numel(mask->shape) != cnt))
    return gc_fail(GC_ERR_SHAPE, "Dropout: x, the output and the mask differ in size");
  gc_tensor *xf = NULL, *yf = NULL, *mb = NULL;
  gc_status st = gc_tensor_convert(x, GC_F32, &xf);
  if (!st && y) st = gc_tensor_convert(y, GC_F32, &yf);
  if (!st && mask) st = gc_tensor_convert(mask, GC_BOOL, &mb);
  double scale = 1.0 / (1.0 - (double)ratio);
  for (int64_t i = 0; !st && i < cnt; i++) {
    double xv = ((const float *)xf->data)[i], want = xv * scale;
    double yv = yf ? ((const float *)yf->data)[i] : 0;
    bool close = fabs(yv - want) <= 1e-5 + 1e-3 * fabs(want);
    if (mb) {
      bool m = ((const uint8_t *)mb->data)[i] != 0;
      if (yf && (m ? !close : yv != 0))
        st = gc_fail(GC_ERR_INVALID,
                     "Dropout: element %lld is %g where the mask is %d and x / (1 - ratio) is %g",
                     (long long)i, yv, m, want);
      kept += m, known++;
    } else {
      if (yv != 0 && !close)
        st = gc_fail(GC_ERR_INVALID,
                     "Dropout: element %lld is %g, neither 0 nor x / (1 - ratio) = %g",
                     (long long)i, yv, want);
      if (xv != 0) kept += yv != 0, known++;
    }
  }
  double p = 1.0 - (double)ratio, mean = (double)known * p;
  double sd = sqrt((double)known * p * (1 - p));
  if (!st && fabs((double)kept - mean) > 4 * sd + 0.5)
    st = gc_fail(GC_ERR_INVALID,
                 "Dropout: %lld of %lld elements kept, %.1f +- %.1f expected at ratio %g",
                 (long long)kept, (long long)known, mean, sd, ratio);
  gc_tensor_free(xf);
  gc_tensor_free(yf);
  gc_tensor_free(mb);
  return st;
}

gc_status gc_onnx_check_random(const gc_onnx_info *info, const gc_tensor *const *inputs,
                               int ninputs, const gc_tensor *const *outputs, int noutputs) {
  if (!info || (ninputs && !inputs) || (noutputs && !outputs))
    return gc_fail(GC_ERR_INVALID, "onnx_check_random: null argument");
  const gc_onnx_random *r = &info->random;
  if (!r->op[0]) return GC_OK;
  if (strcmp(r->op, "Dropout"))
    return gc_fail(GC_ERR_UNSUPPORTED, "the outputs of %s are random and have no check", r->op);
  const gc_tensor *x = NULL;
  for (int k = 0; r->x >= 0 && r->x < info->ninputs && k < ninputs; k++)
    if (inputs[k] &&
        (inputs[k]->name ? !strcmp(inputs[k]->name, info->inputs[r->x].name) : k == r->x))
      x = inputs[k];
  if (!x) return gc_fail(GC_ERR_NOT_FOUND, "Dropout: its data input is not among the inputs given");
  const gc_tensor *y = r->y >= 0 && r->y < noutputs ? outputs[r->y] : NULL;
  const gc_tensor *m = r->mask >= 0 && r->mask < noutputs ? outputs[r->mask] : NULL;
  if (!y && !m) return gc_fail(GC_ERR_NOT_FOUND, "Dropout: neither of its outputs is given");
  return check_dropout(x, r->ratio, y, m);
}
