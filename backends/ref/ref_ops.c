/* ref_ops.c — the reference kernels: one plain C function per op (the
 * "reference kernel" column of ir/ops.def) and the table that maps ops to
 * them. This is the oracle every OpenCL result is tested against, so each
 * kernel favours the obvious loop over speed: multi-indices are decoded
 * from linear indices, accumulations (reductions, matmul, softmax) run in
 * double, and only the stored result is rounded to the node's dtype.
 *
 * Conventions the OpenCL backend must match (see each kernel):
 * - integer add/sub/mul wrap around; integer division truncates toward zero
 *   and x / 0 gives 0 (C and OpenCL leave it undefined; the oracle must not
 *   trap);
 * - cast f32 -> i32 truncates toward zero, saturates out-of-range values
 *   and maps NaN to 0 (like OpenCL's convert_int_sat);
 * - max propagates NaN (a NaN must never be hidden from the NaN checks);
 * - cross-entropy rows whose label is outside [0, C) contribute 0 to the
 *   loss and 0 to the gradient, while still counting in the mean's N: the
 *   session layer validates labels on upload, this only keeps a bad label
 *   from reading out of bounds. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "backends/ref/ref.h"
#include "ir/op_rules.h"

#define IN(k) (&g->nodes[n->in[k]])

/* ---------------------------------------------------------- helpers */

static double load_f(const void *p, gc_dtype t, int64_t i) {
  switch (t) {
    case GC_F32:
      return ((const float *)p)[i];
    case GC_I32:
      return ((const int32_t *)p)[i];
    case GC_I64:
      return (double)((const int64_t *)p)[i];
    case GC_BOOL:
      return ((const uint8_t *)p)[i];
    default:
      return 0;
  }
}

static int64_t load_i(const void *p, gc_dtype t, int64_t i) {
  switch (t) {
    case GC_F32:
      return (int64_t)((const float *)p)[i];
    case GC_I32:
      return ((const int32_t *)p)[i];
    case GC_I64:
      return ((const int64_t *)p)[i];
    case GC_BOOL:
      return ((const uint8_t *)p)[i];
    default:
      return 0;
  }
}

/* Integers narrow by wrapping (two's complement), as OpenCL's do. */
static void store_i(void *p, gc_dtype t, int64_t i, int64_t v) {
  switch (t) {
    case GC_I32:
      ((int32_t *)p)[i] = (int32_t)(uint32_t)(uint64_t)v;
      break;
    case GC_I64:
      ((int64_t *)p)[i] = v;
      break;
    case GC_BOOL:
      ((uint8_t *)p)[i] = (uint8_t)(uint64_t)v;
      break;
    case GC_F32:
      ((float *)p)[i] = (float)v;
      break;
    default:
      break;
  }
}

int64_t ref_bcast_index(int64_t lin, const gc_shape *out, const gc_shape *in) {
  int64_t off = 0, stride = 1;
  for (int i = out->ndim - 1, j = in->ndim - 1; i >= 0; i--, j--) {
    int64_t c = lin % out->dim[i];
    lin /= out->dim[i];
    if (j >= 0) {
      if (in->dim[j] != 1) off += c * stride;
      stride *= in->dim[j];
    }
  }
  return off;
}

static void row_major_strides(const gc_shape *s, int64_t *st) {
  int64_t acc = 1;
  for (int i = s->ndim - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s->dim[i];
  }
}

/* Wrapping integer arithmetic done in uint64 so that overflow is defined. */
static int64_t int_binary(ir_op op, int64_t a, int64_t b) {
  switch (op) {
    case IR_OP_ADD:
      return (int64_t)((uint64_t)a + (uint64_t)b);
    case IR_OP_SUB:
      return (int64_t)((uint64_t)a - (uint64_t)b);
    case IR_OP_MUL:
      return (int64_t)((uint64_t)a * (uint64_t)b);
    case IR_OP_DIV:
      if (b == 0) return 0;
      if (b == -1) return (int64_t)(0 - (uint64_t)a); /* INT64_MIN / -1 wraps */
      return a / b;
    default:
      return 0;
  }
}

/* f32 -> i32 as convert_int_sat: truncate toward zero, clamp, NaN -> 0. */
static int32_t f32_to_i32(double x) {
  if (isnan(x)) return 0;
  if (x >= 2147483647.0) return INT32_MAX;
  if (x <= -2147483648.0) return INT32_MIN;
  return (int32_t)x;
}

/* f32 -> i64 as convert_long_sat_rtz. */
static int64_t f32_to_i64(double x) {
  if (isnan(x)) return 0;
  if (x >= 9223372036854775807.0) return INT64_MAX;
  if (x <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)x;
}

/* ---------------------------------------------------------- kernels */

/* Leaves own persistent storage that already holds their value. */
void ref_leaf(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  (void)g, (void)n, (void)in, (void)out;
}

/* Every elementwise and broadcast op. Float math is done in double and
 * rounded once on store: for + - * / that is exactly IEEE float
 * arithmetic, for exp/log/tanh it is the correctly rounded result that an
 * OpenCL implementation approximates within its ulp bounds. */
void ref_elementwise(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const ir_node *x = IN(0), *y = n->nin > 1 ? IN(1) : NULL;
  int64_t count = gc_shape_numel(n->shape);
  size_t esz = gc_dtype_size(x->dtype);
  for (int64_t i = 0; i < count; i++) {
    int64_t ia = ref_bcast_index(i, &n->shape, &x->shape);
    int64_t ib = y ? ref_bcast_index(i, &n->shape, &y->shape) : 0;
    if (n->op == IR_OP_EXPAND) {
      memcpy((char *)out + (size_t)i * esz, (const char *)in[0] + (size_t)ia * esz, esz);
      continue;
    }
    if (n->op == IR_OP_CAST) {
      if (n->dtype == GC_BOOL) /* nonzero is true (NaN too) */
        ((uint8_t *)out)[i] = x->dtype == GC_F32 ? load_f(in[0], x->dtype, ia) != 0
                                                 : load_i(in[0], x->dtype, ia) != 0;
      else if (n->dtype == GC_I32 && x->dtype == GC_F32)
        ((int32_t *)out)[i] = f32_to_i32(load_f(in[0], x->dtype, ia));
      else if (n->dtype == GC_I64 && x->dtype == GC_F32)
        ((int64_t *)out)[i] = f32_to_i64(load_f(in[0], x->dtype, ia));
      else if (n->dtype == GC_F32 && x->dtype == GC_I64) /* one rounding, as OpenCL's */
        ((float *)out)[i] = (float)((const int64_t *)in[0])[ia];
      else if (n->dtype == GC_F32)
        ((float *)out)[i] = (float)load_f(in[0], x->dtype, ia);
      else
        store_i(out, n->dtype, i, load_i(in[0], x->dtype, ia));
      continue;
    }
    if (n->op == IR_OP_EQUAL) {
      bool eq = x->dtype == GC_F32 ? load_f(in[0], x->dtype, ia) == load_f(in[1], y->dtype, ib)
                                   : load_i(in[0], x->dtype, ia) == load_i(in[1], y->dtype, ib);
      ((float *)out)[i] = eq ? 1.0f : 0.0f;
      continue;
    }
    if (n->dtype != GC_F32) { /* integer add/sub/mul/div */
      int64_t r = int_binary(n->op, load_i(in[0], x->dtype, ia), load_i(in[1], y->dtype, ib));
      store_i(out, n->dtype, i, r);
      continue;
    }
    double a = ((const float *)in[0])[ia], b = y ? ((const float *)in[1])[ib] : 0, r;
    switch (n->op) {
      case IR_OP_ADD:
        r = a + b;
        break;
      case IR_OP_SUB:
        r = a - b;
        break;
      case IR_OP_MUL:
        r = a * b;
        break;
      case IR_OP_DIV:
        r = a / b;
        break;
      case IR_OP_NEG:
        r = -a;
        break;
      case IR_OP_EXP:
        r = exp(a);
        break;
      case IR_OP_LOG:
        r = log(a);
        break;
      case IR_OP_SQRT:
        r = sqrt(a);
        break;
      case IR_OP_RELU:
        r = fmax(a, 0.0);
        break; /* fmax: relu(NaN) = 0, as in OpenCL */
      case IR_OP_SIGMOID:
        r = 1.0 / (1.0 + exp(-a));
        break;
      case IR_OP_TANH:
        r = tanh(a);
        break;
      case IR_OP_STEP:
        r = a > 0 ? 1.0 : 0.0;
        break;
      default:
        r = NAN;
        break; /* an op routed here by mistake shows up as NaN */
    }
    ((float *)out)[i] = (float)r;
  }
}

/* A view: the backend normally aliases the storage, so this only copies
 * when it was given separate buffers. */
void ref_reshape(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  (void)g;
  if (out != in[0]) memmove(out, in[0], ir_node_bytes(n));
}

/* out dim i = in dim perm[i]: output multi-index c reads input element
 * sum_i c[i] * in_stride[perm[i]]. */
void ref_transpose(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const ir_node *x = IN(0);
  int64_t st[GC_MAX_DIMS];
  row_major_strides(&x->shape, st);
  int64_t count = gc_shape_numel(n->shape);
  size_t esz = gc_dtype_size(n->dtype);
  for (int64_t i = 0; i < count; i++) {
    int64_t lin = i, off = 0;
    for (int d = n->shape.ndim - 1; d >= 0; d--) {
      off += (lin % n->shape.dim[d]) * st[n->attr.perm[d]];
      lin /= n->shape.dim[d];
    }
    memcpy((char *)out + (size_t)i * esz, (const char *)in[0] + (size_t)off * esz, esz);
  }
}

/* sum / mean / max / min / prod / logsumexp over the axes in attr.axes. The output's element order
 * is the input's with reduced axes dropped, whether or not they are kept
 * as size 1, so keepdims changes nothing here. Each output element walks
 * its reduced sub-space with an odometer (no scratch memory). */
void ref_reduce(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const ir_node *x = IN(0);
  const gc_shape *s = &x->shape;
  int64_t st[GC_MAX_DIMS];
  row_major_strides(s, st);
  int kept[GC_MAX_DIMS], red[GC_MAX_DIMS], nk = 0, nr = 0;
  for (int i = 0; i < s->ndim; i++) {
    if (n->attr.axes & (1u << i))
      red[nr++] = i;
    else
      kept[nk++] = i;
  }
  int64_t nout = gc_shape_numel(n->shape);
  int64_t nred = gc_shape_numel(*s) / (nout ? nout : 1);
  const float *src = in[0];
  for (int64_t o = 0; o < nout; o++) {
    int64_t lin = o, base = 0;
    for (int k = nk - 1; k >= 0; k--) {
      base += (lin % s->dim[kept[k]]) * st[kept[k]];
      lin /= s->dim[kept[k]];
    }
    int64_t idx[GC_MAX_DIMS] = {0};
    double acc = n->op == IR_OP_MAX    ? -INFINITY
                 : n->op == IR_OP_MIN  ? INFINITY
                 : n->op == IR_OP_PROD ? 1.0
                                       : 0.0;
    double lse_max = -INFINITY; /* logsumexp: acc = sum exp(v - lse_max), rescaled online */
    for (int64_t r = 0; r < nred; r++) {
      int64_t off = base;
      for (int k = 0; k < nr; k++) off += idx[k] * st[red[k]];
      double v = src[off];
      if (n->op == IR_OP_MAX) {
        if (v > acc || isnan(v)) acc = isnan(acc) ? acc : v;
      } else if (n->op == IR_OP_MIN) {
        if (v < acc || isnan(v)) acc = isnan(acc) ? acc : v;
      } else if (n->op == IR_OP_PROD) {
        acc *= v;
      } else if (n->op == IR_OP_LOGSUMEXP) {
        if (v > lse_max) {
          acc = acc * exp(lse_max - v) + 1.0;
          lse_max = v;
        } else if (lse_max > -INFINITY) {
          acc += exp(v - lse_max);
        } else if (isnan(v)) {
          acc = v;
        }
      } else {
        acc += v;
      }
      for (int k = nr - 1; k >= 0; k--) { /* odometer over the reduced axes */
        if (++idx[k] < s->dim[red[k]]) break;
        idx[k] = 0;
      }
    }
    if (n->op == IR_OP_MEAN) acc /= (double)nred;
    if (n->op == IR_OP_LOGSUMEXP) acc = lse_max + log(acc);
    ((float *)out)[o] = (float)acc;
  }
}

/* C [.., M, N] = op(A) op(B); trans_a means A is stored [.., K, M],
 * trans_b that B is stored [.., N, K]. A 2-D operand of a batched product
 * is shared by every batch. */
void ref_matmul(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const ir_node *a = IN(0), *b = IN(1);
  int ta = n->attr.trans_a, tb = n->attr.trans_b;
  int nd = n->shape.ndim;
  int64_t m = n->shape.dim[nd - 2], nn = n->shape.dim[nd - 1];
  int64_t k = ta ? a->shape.dim[a->shape.ndim - 2] : a->shape.dim[a->shape.ndim - 1];
  int64_t batch = gc_shape_numel(n->shape) / (m * nn);
  int64_t sa = a->shape.ndim > 2 ? m * k : 0, sb = b->shape.ndim > 2 ? k * nn : 0;
  for (int64_t bi = 0; bi < batch; bi++) {
    const float *A = (const float *)in[0] + bi * sa, *B = (const float *)in[1] + bi * sb;
    float *C = (float *)out + bi * m * nn;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < nn; j++) {
        double acc = 0;
        for (int64_t p = 0; p < k; p++) {
          double av = ta ? A[p * m + i] : A[i * k + p];
          double bv = tb ? B[j * k + p] : B[p * nn + j];
          acc += av * bv;
        }
        C[i * nn + j] = (float)acc;
      }
  }
}

/* softmax and log_softmax along attr.axis, shifted by the row maximum so
 * exp never overflows. The shape splits into outer x len x inner. */
void ref_softmax(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const gc_shape *s = &n->shape;
  int ax = n->attr.axis;
  int64_t outer = 1, inner = 1, len = s->dim[ax];
  for (int i = 0; i < ax; i++) outer *= s->dim[i];
  for (int i = ax + 1; i < s->ndim; i++) inner *= s->dim[i];
  const float *x = in[0];
  float *y = out;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t q = 0; q < inner; q++) {
      int64_t base = o * len * inner + q;
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < len; j++) mx = fmax(mx, (double)x[base + j * inner]);
      for (int64_t j = 0; j < len; j++) sum += exp((double)x[base + j * inner] - mx);
      double lse = mx + log(sum);
      for (int64_t j = 0; j < len; j++) {
        double v = (double)x[base + j * inner];
        y[base + j * inner] = (float)(n->op == IR_OP_LOG_SOFTMAX ? v - lse : exp(v - mx) / sum);
      }
    }
  (void)g;
}

/* log-sum-exp of one row of c logits, shifted by its maximum. */
static double row_lse(const float *row, int64_t c, double *mx_out) {
  double mx = -INFINITY, sum = 0;
  for (int64_t j = 0; j < c; j++) mx = fmax(mx, (double)row[j]);
  for (int64_t j = 0; j < c; j++) sum += exp((double)row[j] - mx);
  if (mx_out) *mx_out = mx;
  return mx + log(sum);
}

/* mean over rows of logsumexp(row) - row[label]; see the file comment for
 * labels out of range. */
void ref_cross_entropy(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const ir_node *l = IN(0);
  int64_t rows = l->shape.dim[0], c = l->shape.dim[1];
  const float *x = in[0];
  const int32_t *lab = in[1];
  double total = 0;
  for (int64_t r = 0; r < rows; r++) {
    if (lab[r] < 0 || lab[r] >= c) continue;
    const float *row = x + r * c;
    total += row_lse(row, c, NULL) - (double)row[lab[r]];
  }
  *(float *)out = (float)(total / (double)rows);
}

/* dloss * (softmax(row) - onehot(label)) / N; rows with a label out of
 * range get a zero gradient, matching their zero loss. */
void ref_cross_entropy_grad(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const ir_node *l = IN(0);
  int64_t rows = l->shape.dim[0], c = l->shape.dim[1];
  const float *x = in[0];
  const int32_t *lab = in[1];
  double scale = (double)*(const float *)in[2] / (double)rows;
  float *dx = out;
  for (int64_t r = 0; r < rows; r++) {
    const float *row = x + r * c;
    float *drow = dx + r * c;
    if (lab[r] < 0 || lab[r] >= c) {
      for (int64_t j = 0; j < c; j++) drow[j] = 0.0f;
      continue;
    }
    double lse = row_lse(row, c, NULL);
    for (int64_t j = 0; j < c; j++) {
      double p = exp((double)row[j] - lse) - (j == lab[r] ? 1.0 : 0.0);
      drow[j] = (float)(scale * p);
    }
  }
}

/* The in-place writers read input 0 and write out; the backend passes
 * out == in[0], but reading before writing each element keeps them right
 * with separate buffers too. */

/* param += delta */
void ref_assign_add(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  int64_t count = gc_shape_numel(n->shape);
  if (n->dtype == GC_F32) {
    const float *p = in[0], *d = in[1];
    for (int64_t i = 0; i < count; i++) ((float *)out)[i] = (float)((double)p[i] + d[i]);
  } else {
    for (int64_t i = 0; i < count; i++)
      store_i(out, n->dtype, i,
              int_binary(IR_OP_ADD, load_i(in[0], n->dtype, i), load_i(in[1], n->dtype, i)));
  }
  (void)g;
}

/* hyper = [lr, beta1^t, beta2^t, t]: advance t by one step. */
void ref_opt_tick(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  const float *h = in[0];
  float *o = out;
  float lr = h[0], b1t = h[1], b2t = h[2], t = h[3];
  o[0] = lr;
  o[1] = b1t * n->attr.f[0];
  o[2] = b2t * n->attr.f[1];
  o[3] = t + 1.0f;
  (void)g;
}

static void sgd_velocity(const ir_node *n, int64_t count, const float *gr, const float *p,
                         float *v) {
  double mom = n->attr.f[0], wd = n->attr.f[1];
  for (int64_t i = 0; i < count; i++)
    v[i] = (float)(mom * (double)v[i] + ((double)gr[i] + wd * (double)p[i]));
}

static void sgd_step(int64_t count, const float *p, const float *v, const float *h, float *po) {
  double lr = h[0];
  for (int64_t i = 0; i < count; i++) po[i] = (float)((double)p[i] - lr * (double)v[i]);
}

/* SGD with momentum and (coupled) weight decay, as torch.optim.SGD with
 * dampening 0: g' = g + wd p; v = momentum v + g'; p -= lr v. The velocity
 * in[2] is state this node owns and updates in place. */
void ref_sgd_update(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  int64_t count = gc_shape_numel(n->shape);
  sgd_velocity(n, count, in[1], in[0], in[2]);
  sgd_step(count, in[0], in[2], in[3], out);
  (void)g;
}

/* The two halves of sgd_update (passes/split_updates.c): the velocity
 * in[0] from the gradient in[1] and the parameter in[2], in place; then
 * the parameter in[0] from the velocity in[1] (the velocity node's
 * storage). */
void ref_sgd_velocity(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  sgd_velocity(n, gc_shape_numel(n->shape), in[1], in[2], out);
  (void)g;
}

void ref_sgd_apply(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  sgd_step(gc_shape_numel(n->shape), in[0], in[1], in[2], out);
  (void)g;
}

static void adam_moments(const ir_node *n, int64_t count, const float *gr, float *m, float *v) {
  double b1 = n->attr.f[0], b2 = n->attr.f[1];
  for (int64_t i = 0; i < count; i++) {
    double gv = gr[i];
    m[i] = (float)(b1 * (double)m[i] + (1.0 - b1) * gv);
    v[i] = (float)(b2 * (double)v[i] + (1.0 - b2) * gv * gv);
  }
}

static void adam_step(const ir_node *n, int64_t count, const float *p, const float *m,
                      const float *v, const float *h, float *po) {
  double eps = n->attr.f[2], wd = n->attr.f[3];
  double lr = h[0], bias1 = 1.0 - (double)h[1], bias2 = 1.0 - (double)h[2];
  for (int64_t i = 0; i < count; i++) {
    double pv = p[i];
    if (wd > 0) pv *= 1.0 - lr * wd;
    pv -= lr * ((double)m[i] / bias1) / (sqrt((double)v[i] / bias2) + eps);
    po[i] = (float)pv;
  }
}

/* Adam as torch.optim.Adam, or AdamW (decoupled decay) when wd > 0. The
 * hyper input has already been ticked this step, so hyper[1] = beta1^t and
 * hyper[2] = beta2^t. m in[2] and v in[3] are owned state, updated in place. */
void ref_adam_update(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  int64_t count = gc_shape_numel(n->shape);
  adam_moments(n, count, in[1], in[2], in[3]);
  adam_step(n, count, in[0], in[2], in[3], in[4], out);
  (void)g;
}

/* The two halves of adam_update (passes/split_updates.c): m in[0] and v
 * in[2] updated in place from the gradient in[1]; then the parameter in[0]
 * from m (in[1], the moments node's storage) and v in[2]. */
void ref_adam_moments(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  adam_moments(n, gc_shape_numel(n->shape), in[1], out, in[2]);
  (void)g;
}

void ref_adam_apply(const ir_graph *g, const ir_node *n, void *const *in, void *out) {
  adam_step(n, gc_shape_numel(n->shape), in[0], in[1], in[2], in[3], out);
  (void)g;
}

/* ---------------------------------------------------------- the table */

const ref_kernel ref_kernels[IR_OP_COUNT] = {
#define OP(E, name, imin, imax, fuse, props, shape, grad, ref, expr) [IR_OP_##E] = ref,
#include "ir/ops.def"
#undef OP
};
static_assert(sizeof ref_kernels / sizeof ref_kernels[0] == IR_OP_COUNT,
              "one reference kernel per op");

void ref_eval(const ir_graph *g, int32_t id, void *const *in, void *out) {
  const ir_node *n = &g->nodes[id];
  ref_kernels[n->op](g, n, in, out);
}
