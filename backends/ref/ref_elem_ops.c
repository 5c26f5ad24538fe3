/* ref_elem_ops.c — reference kernels of the elementwise, movement and
 * reduction extensions of ir/ops.def: the activations, pow, minimum and
 * maximum, comparisons, logic and where (ref_elem), the movement ops
 * (slice, pad, concat, tile, gather, one-hot and the gradients of slice
 * and gather), argmax/argmin and cumsum. Plain loops over output elements;
 * float math in double, rounded once on store, as in ref_ops.c. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "backends/ref/ref.h"
#include "ir/op_rules.h"

#define IN(k) (&g->nodes[n->in[k]])
#define SQRT1_2 0.70710678118654752440 /* M_SQRT1_2 is not C11 */

/* ---------------------------------------------------------- helpers */

static double load_f(const void *p, gc_dtype t, int64_t i) {
  switch (t) {
    case GC_F32:
      return ((const float *)p)[i];
    case GC_I32:
      return ((const int32_t *)p)[i];
    case GC_I64:
      return (double)((const int64_t *)p)[i];
    default:
      return ((const uint8_t *)p)[i];
  }
}

static int64_t load_i(const void *p, gc_dtype t, int64_t i) {
  switch (t) {
    case GC_I32:
      return ((const int32_t *)p)[i];
    case GC_I64:
      return ((const int64_t *)p)[i];
    case GC_BOOL:
      return ((const uint8_t *)p)[i];
    default:
      return (int64_t)((const float *)p)[i];
  }
}

static void row_major_strides(const gc_shape *s, int64_t *st) {
  int64_t acc = 1;
  for (int i = s->ndim - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s->dim[i];
  }
}

/* Multi-index of element lin of shape s. */
static void unravel(int64_t lin, const gc_shape *s, int64_t *c) {
  for (int d = s->ndim - 1; d >= 0; d--) {
    c[d] = lin % s->dim[d];
    lin /= s->dim[d];
  }
}

static void copy_elem(void *out, int64_t o, const void *in, int64_t i, size_t esz) {
  memcpy((char *)out + (size_t)o * esz, (const char *)in + (size_t)i * esz, esz);
}

/* A float stored in dtype t (pad's constant). */
static void store_value(void *out, gc_dtype t, int64_t o, double v) {
  switch (t) {
    case GC_F32:
      ((float *)out)[o] = (float)v;
      break;
    case GC_I32:
      ((int32_t *)out)[o] = (int32_t)v;
      break;
    case GC_I64:
      ((int64_t *)out)[o] = (int64_t)v;
      break;
    default:
      ((uint8_t *)out)[o] = v != 0;
      break;
  }
}

static double unary_f(const ir_node *n, double a) {
  const float *f = n->attr.f;
  switch (n->op) {
    case IR_OP_ABS:
      return fabs(a);
    case IR_OP_SIGN:
      return a > 0 ? 1.0 : a < 0 ? -1.0 : 0.0;
    case IR_OP_RECIPROCAL:
      return 1.0 / a;
    case IR_OP_ERF:
      return erf(a);
    case IR_OP_GELU:
      return 0.5 * a * (1.0 + erf(a * SQRT1_2));
    case IR_OP_GELU_TANH:
      return 0.5 * a * (1.0 + tanh(0.797884560802865356 * (a + 0.044715 * a * a * a)));
    case IR_OP_LEAKY_RELU:
      return a > 0 ? a : (double)f[0] * a;
    case IR_OP_ELU:
      return a > 0 ? a : (double)f[0] * expm1(a);
    case IR_OP_SELU:
      return (double)f[1] * (a > 0 ? a : (double)f[0] * expm1(a));
    case IR_OP_SOFTPLUS:
      return fmax(a, 0.0) + log1p(exp(-fabs(a)));
    case IR_OP_SOFTSIGN:
      return a / (1.0 + fabs(a));
    case IR_OP_HARD_SIGMOID:
      return fmax(0.0, fmin(1.0, (double)f[0] * a + (double)f[1]));
    case IR_OP_CLIP:
      return fmin(fmax(a, (double)f[0]), (double)f[1]);
    case IR_OP_SIN:
      return sin(a);
    case IR_OP_COS:
      return cos(a);
    case IR_OP_TAN:
      return tan(a);
    case IR_OP_ASIN:
      return asin(a);
    case IR_OP_ACOS:
      return acos(a);
    case IR_OP_ATAN:
      return atan(a);
    case IR_OP_SINH:
      return sinh(a);
    case IR_OP_COSH:
      return cosh(a);
    case IR_OP_ASINH:
      return asinh(a);
    case IR_OP_ACOSH:
      return acosh(a);
    case IR_OP_ATANH:
      return atanh(a);
    default:
      return NAN; /* an op routed here by mistake shows up as NaN */
  }
}

/* a op b for a comparison, in the inputs' dtype. */
static bool compare(ir_op op, const void *pa, const void *pb, gc_dtype t, int64_t ia, int64_t ib) {
  int c;
  if (t == GC_F32) {
    double a = load_f(pa, t, ia), b = load_f(pb, t, ib);
    switch (op) {
      case IR_OP_EQ:
        return a == b;
      case IR_OP_GREATER:
        return a > b;
      case IR_OP_GREATER_EQUAL:
        return a >= b;
      case IR_OP_LESS:
        return a < b;
      default:
        return a <= b;
    }
  }
  int64_t a = load_i(pa, t, ia), b = load_i(pb, t, ib);
  c = a < b ? -1 : a > b;
  switch (op) {
    case IR_OP_EQ:
      return c == 0;
    case IR_OP_GREATER:
      return c > 0;
    case IR_OP_GREATER_EQUAL:
      return c >= 0;
    case IR_OP_LESS:
      return c < 0;
    default:
      return c <= 0;
  }
}

/* ---------------------------------------------------------- kernels */

/* Every elementwise extension, with numpy broadcasting of all inputs. */
void ref_elem(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  int64_t count = gc_shape_numel(n->shape);
  gc_dtype t0 = IN(0)->dtype;
  size_t esz = gc_dtype_size(n->dtype);
  for (int64_t i = 0; i < count; i++) {
    int64_t ix[3] = {0, 0, 0};
    for (int k = 0; k < n->nin; k++) ix[k] = ref_bcast_index(i, &n->shape, &IN(k)->shape);
    switch (n->op) {
      case IR_OP_POW:
        ((float *)out)[i] = (float)pow(load_f(in[0], GC_F32, ix[0]), load_f(in[1], GC_F32, ix[1]));
        break;
      case IR_OP_MINIMUM:
      case IR_OP_MAXIMUM: {
        /* exactly the C expression of ops.def, NaN behaviour included */
        bool take_a = compare(n->op == IR_OP_MINIMUM ? IR_OP_LESS : IR_OP_GREATER, in[0], in[1], t0,
                              ix[0], ix[1]);
        if (take_a)
          copy_elem(out, i, in[0], ix[0], esz);
        else
          copy_elem(out, i, in[1], ix[1], esz);
        break;
      }
      case IR_OP_EQ:
      case IR_OP_GREATER:
      case IR_OP_GREATER_EQUAL:
      case IR_OP_LESS:
      case IR_OP_LESS_EQUAL:
        ((uint8_t *)out)[i] = compare(n->op, in[0], in[1], t0, ix[0], ix[1]);
        break;
      case IR_OP_AND:
      case IR_OP_OR:
      case IR_OP_XOR: {
        bool a = ((const uint8_t *)in[0])[ix[0]] != 0, b = ((const uint8_t *)in[1])[ix[1]] != 0;
        ((uint8_t *)out)[i] = n->op == IR_OP_AND ? a && b : n->op == IR_OP_OR ? a || b : a != b;
        break;
      }
      case IR_OP_NOT:
        ((uint8_t *)out)[i] = ((const uint8_t *)in[0])[ix[0]] == 0;
        break;
      case IR_OP_WHERE:
        if (((const uint8_t *)in[0])[ix[0]])
          copy_elem(out, i, in[1], ix[1], esz);
        else
          copy_elem(out, i, in[2], ix[2], esz);
        break;
      default:
        ((float *)out)[i] = (float)unary_f(n, ((const float *)in[0])[ix[0]]);
        break;
    }
  }
}

void ref_slice(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const gc_shape *xs = &IN(0)->shape;
  int64_t st[GC_MAX_DIMS], c[GC_MAX_DIMS];
  row_major_strides(xs, st);
  size_t esz = gc_dtype_size(n->dtype);
  for (int64_t o = 0; o < gc_shape_numel(n->shape); o++) {
    unravel(o, &n->shape, c);
    int64_t off = 0;
    for (int d = 0; d < xs->ndim; d++) off += (n->attr.starts[d] + c[d] * n->attr.steps[d]) * st[d];
    copy_elem(out, o, in[0], off, esz);
  }
}

/* Output element j is dy[q] when j = start + q * step on every axis. */
void ref_slice_grad(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const gc_shape *ds = &IN(0)->shape;
  int64_t st[GC_MAX_DIMS], c[GC_MAX_DIMS];
  row_major_strides(ds, st);
  for (int64_t o = 0; o < gc_shape_numel(n->shape); o++) {
    unravel(o, &n->shape, c);
    int64_t off = 0;
    bool hit = true;
    for (int d = 0; d < ds->ndim && hit; d++) {
      int64_t t = c[d] - n->attr.starts[d], step = n->attr.steps[d];
      hit = t % step == 0 && t / step >= 0 && t / step < ds->dim[d];
      off += (t / step) * st[d];
    }
    ((float *)out)[o] = hit ? ((const float *)in[0])[off] : 0.0f;
  }
}

void ref_pad(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const gc_shape *xs = &IN(0)->shape;
  int64_t st[GC_MAX_DIMS], c[GC_MAX_DIMS];
  row_major_strides(xs, st);
  size_t esz = gc_dtype_size(n->dtype);
  for (int64_t o = 0; o < gc_shape_numel(n->shape); o++) {
    unravel(o, &n->shape, c);
    int64_t off = 0;
    bool inside = true;
    for (int d = 0; d < xs->ndim; d++) {
      int64_t j = c[d] - n->attr.pads[d], len = xs->dim[d];
      if (j < 0 || j >= len) {
        if (n->attr.mode == GC_PAD_REFLECT)
          j = j < 0 ? -j : 2 * (len - 1) - j;
        else if (n->attr.mode == GC_PAD_EDGE)
          j = j < 0 ? 0 : len - 1;
        else
          inside = false;
      }
      off += j * st[d];
    }
    if (inside)
      copy_elem(out, o, in[0], off, esz);
    else
      store_value(out, n->dtype, o, n->attr.f[0]);
  }
}

void ref_concat(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  int ax = n->attr.axis;
  int64_t c[GC_MAX_DIMS];
  size_t esz = gc_dtype_size(n->dtype);
  for (int64_t o = 0; o < gc_shape_numel(n->shape); o++) {
    unravel(o, &n->shape, c);
    int k = 0;
    while (c[ax] >= IN(k)->shape.dim[ax]) c[ax] -= IN(k++)->shape.dim[ax];
    int64_t st[GC_MAX_DIMS], off = 0;
    row_major_strides(&IN(k)->shape, st);
    for (int d = 0; d < n->shape.ndim; d++) off += c[d] * st[d];
    copy_elem(out, o, in[k], off, esz);
  }
}

void ref_tile(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const gc_shape *xs = &IN(0)->shape;
  int64_t st[GC_MAX_DIMS], c[GC_MAX_DIMS];
  row_major_strides(xs, st);
  size_t esz = gc_dtype_size(n->dtype);
  for (int64_t o = 0; o < gc_shape_numel(n->shape); o++) {
    unravel(o, &n->shape, c);
    int64_t off = 0;
    for (int d = 0; d < xs->ndim; d++) off += (c[d] % xs->dim[d]) * st[d];
    copy_elem(out, o, in[0], off, esz);
  }
}

/* Index k of indices, normalized: negative counts from the end; -1 when
 * out of range. */
static int64_t index_at(const void *idx, gc_dtype t, int64_t k, int64_t len) {
  int64_t v = load_i(idx, t, k);
  if (v < 0) v += len;
  return v >= 0 && v < len ? v : -1;
}

/* data viewed as [outer, len, inner], indices flat [K], out [outer, K, inner]. */
static void gather_dims(const gc_shape *data, int ax, int64_t *outer, int64_t *len,
                        int64_t *inner) {
  *outer = *inner = 1;
  for (int d = 0; d < ax; d++) *outer *= data->dim[d];
  for (int d = ax + 1; d < data->ndim; d++) *inner *= data->dim[d];
  *len = data->dim[ax];
}

void ref_gather(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  int64_t outer, len, inner, kk = gc_shape_numel(IN(1)->shape);
  gather_dims(&IN(0)->shape, n->attr.axis, &outer, &len, &inner);
  size_t esz = gc_dtype_size(n->dtype);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t k = 0; k < kk; k++) {
      int64_t j = index_at(in[1], IN(1)->dtype, k, len);
      for (int64_t q = 0; q < inner; q++) {
        int64_t dst = (o * kk + k) * inner + q;
        if (j < 0)
          memset((char *)out + (size_t)dst * esz, 0, esz);
        else
          copy_elem(out, dst, in[0], (o * len + j) * inner + q, esz);
      }
    }
}

void ref_gather_grad(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  int64_t outer, len, inner, kk = gc_shape_numel(IN(1)->shape);
  gather_dims(&n->shape, n->attr.axis, &outer, &len, &inner);
  const float *dy = in[0];
  float *dx = out;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < len; j++)
      for (int64_t q = 0; q < inner; q++) {
        double acc = 0;
        for (int64_t k = 0; k < kk; k++)
          if (index_at(in[1], IN(1)->dtype, k, len) == j) acc += dy[(o * kk + k) * inner + q];
        dx[(o * len + j) * inner + q] = (float)acc;
      }
}

void ref_one_hot(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  int ax = n->attr.axis;
  int64_t depth = n->attr.depth, c[GC_MAX_DIMS];
  const gc_shape *is = &IN(0)->shape;
  int64_t st[GC_MAX_DIMS];
  row_major_strides(is, st);
  for (int64_t o = 0; o < gc_shape_numel(n->shape); o++) {
    unravel(o, &n->shape, c);
    int64_t off = 0;
    for (int d = 0, k = 0; d < n->shape.ndim; d++)
      if (d != ax) off += c[d] * st[k++];
    int64_t v = index_at(in[0], IN(0)->dtype, off, depth);
    ((float *)out)[o] = v == c[ax] ? n->attr.f[1] : n->attr.f[0];
  }
}

/* Strict comparisons, so ties keep the first index (or, with mode 1, the
 * last) and a NaN never replaces the current best. */
void ref_arg(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  int64_t outer, len, inner;
  gather_dims(&IN(0)->shape, n->attr.axis, &outer, &len, &inner);
  const float *x = in[0];
  bool is_max = n->op == IR_OP_ARGMAX, last = n->attr.mode == 1;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t q = 0; q < inner; q++) {
      const float *row = x + o * len * inner + q;
      int64_t best = 0;
      for (int64_t j = 1; j < len; j++) {
        float v = row[j * inner], b = row[best * inner];
        if (is_max ? v > b : v < b)
          best = j;
        else if (last && v == b)
          best = j;
      }
      ((int64_t *)out)[o * inner + q] = best;
    }
}

void ref_cumsum(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  int64_t outer, len, inner;
  gather_dims(&n->shape, n->attr.axis, &outer, &len, &inner);
  bool exclusive = n->attr.mode & 1, reverse = n->attr.mode & 2;
  const float *x = in[0];
  float *y = out;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t q = 0; q < inner; q++) {
      double acc = 0;
      for (int64_t t = 0; t < len; t++) {
        int64_t j = reverse ? len - 1 - t : t, at = (o * len + j) * inner + q;
        if (exclusive) {
          y[at] = (float)acc;
          acc += x[at];
        } else {
          acc += x[at];
          y[at] = (float)acc;
        }
      }
    }
}
