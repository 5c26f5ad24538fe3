/* onnx_nn.c — ONNX mappings of the neural-network ops that existing
 * builders can express: MatMul/Gemm, inference-mode normalizations, LRN, global
 * pooling, RNN/GRU/LSTM unrolled over their static sequence length, and
 * Dropout.
 *
 * Recurrent layers pick time steps, directions and gates out of runtime
 * tensors with slices and assemble their outputs with concats, so W, R
 * and B may be parameters (fine-tunable) or runtime inputs alike. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx_nn.h"

static gc_status out0(ox_ctx *c, gc_value v) { return ox_out(c, 0, v, ox_in_type(c, 0)); }

static bool need_f32(ox_ctx *c, gc_value v) { return gc_value_dtype(c->g, v) == GC_F32; }

/* ---------------------------------------------------------------- matmul */

/* MatMul with numpy semantics: 1-D operands are promoted and squeezed; a
 * batched A against a 2-D B is one matmul on A's rows; otherwise the batch
 * axes broadcast (gc_expand) to a common shape, which gc_matmul then
 * batches over (a 2-D A is shared by every batch as it is). */
OX_MAP(matmul) {
  gc_graph *g = c->g;
  gc_value a = ox_in(c, 0), b = ox_in(c, 1);
  gc_shape sa = gc_value_shape(g, a), sb = gc_value_shape(g, b);
  if (!gc_value_ok(a) || !gc_value_ok(b)) return gc_graph_status(g);
  if (!need_f32(c, a) || !need_f32(c, b))
    return ox_unsupported(c, "MatMul (int)", "MatMul on integer data");
  if (sa.ndim == 0 || sb.ndim == 0) return ox_err(c, GC_ERR_SHAPE, "MatMul of a scalar");
  bool a1 = sa.ndim == 1, b1 = sb.ndim == 1;
  if (sb.ndim > 2) {
    /* promote, broadcast the batch axes, multiply, squeeze */
    if (a1) a = gc_reshape(g, a, gc_shape2(1, sa.dim[0])), sa = gc_value_shape(g, a);
    int nb = (sa.ndim > sb.ndim ? sa.ndim : sb.ndim) - 2;
    gc_shape bs = {nb, {0}};
    for (int i = 0; i < nb; i++) {
      int ia = i - (nb - (sa.ndim - 2)), ib = i - (nb - (sb.ndim - 2));
      int64_t da = ia >= 0 ? sa.dim[ia] : 1, db = ib >= 0 ? sb.dim[ib] : 1;
      if (da != db && da != 1 && db != 1)
        return ox_err(c, GC_ERR_SHAPE, "MatMul batch axes do not broadcast");
      bs.dim[i] = da == 1 ? db : da;
    }
    gc_shape ea = bs, eb = bs;
    ea.dim[ea.ndim++] = sa.dim[sa.ndim - 2], ea.dim[ea.ndim++] = sa.dim[sa.ndim - 1];
    eb.dim[eb.ndim++] = sb.dim[sb.ndim - 2], eb.dim[eb.ndim++] = sb.dim[sb.ndim - 1];
    if (sa.ndim > 2 && !ir_shape_eq(sa, ea)) a = gc_expand(g, a, ea);
    if (!ir_shape_eq(sb, eb)) b = gc_expand(g, b, eb);
    gc_value y = gc_matmul(g, a, b);
    if (a1) {
      gc_shape ys = gc_value_shape(g, y), s = {0, {0}};
      for (int i = 0; i < ys.ndim; i++)
        if (i != ys.ndim - 2) s.dim[s.ndim++] = ys.dim[i];
      y = gc_reshape(g, y, s);
    }
    return out0(c, y);
  }
  int64_t k = sa.dim[sa.ndim - 1];
  int64_t rows = gc_shape_numel(sa) / k;
  gc_value a2 = gc_reshape(g, a, gc_shape2(rows, k));
  gc_value b2 = b1 ? gc_reshape(g, b, gc_shape2(sb.dim[0], 1)) : b;
  gc_value y = gc_matmul(g, a2, b2);
  int64_t nn = b1 ? 1 : sb.dim[1];
  gc_shape s = {0, {0}};
  for (int i = 0; i < sa.ndim - 1; i++) s.dim[s.ndim++] = sa.dim[i];
  if (a1) s.ndim = 0;
  if (!b1) s.dim[s.ndim++] = nn;
  return out0(c, gc_reshape(g, y, s));
}

/* Gemm: alpha * op(A) op(B) + beta * C (C broadcast). */
OX_MAP(gemm) {
  gc_graph *g = c->g;
  gc_value a = ox_in(c, 0), b = ox_in(c, 1);
  if (ox_attr_int(c, "transA", 0)) a = gc_transpose(g, a, NULL);
  if (ox_attr_int(c, "transB", 0)) b = gc_transpose(g, b, NULL);
  gc_value y = gc_matmul(g, a, b);
  float alpha = ox_attr_float(c, "alpha", 1), beta = ox_attr_float(c, "beta", 1);
  if (alpha != 1) y = gc_mul(g, y, ox_sc(c, alpha));
  if (ox_has(c, 2) && beta != 0) {
    gc_value cc = ox_in(c, 2);
    if (beta != 1) cc = gc_mul(g, cc, ox_sc(c, beta));
    y = gc_add(g, y, cc);
  }
  return out0(c, y);
}

/* ------------------------------------------------------- normalization */

/* [C] -> [C, 1, ..., 1] to broadcast against [N, C, spatial...]. */
static gc_value per_channel(ox_ctx *c, gc_value v, int rank) {
  gc_shape s = {rank - 1, {0}};
  s.dim[0] = gc_shape_numel(gc_value_shape(c->g, v));
  for (int i = 1; i < rank - 1; i++) s.dim[i] = 1;
  return gc_reshape(c->g, v, s);
}

/* Inference uses the given statistics. training_mode = 1 (opset 14+)
 * normalizes with the batch's and returns the updated running ones as
 * outputs 1 and 2, ONNX's way: momentum weighs the old value and the
 * variance is the biased one. Nothing updates in place: an imported
 * graph is a function of its inputs. */
OX_MAP(batch_norm) {
  gc_graph *g = c->g;
  bool training = c->opset >= 14 && ox_attr_int(c, "training_mode", 0);
  if (!training &&
      (ox_out_wanted(c, 1) || ox_out_wanted(c, 2) || ox_out_wanted(c, 3) || ox_out_wanted(c, 4)))
    return ox_unsupported(c, "BatchNormalization (saved statistics)",
                          "the statistics outputs of opset < 14 batch norm");
  gc_value x = ox_in(c, 0);
  int r = gc_value_shape(g, x).ndim;
  if (r < 2) return ox_err(c, GC_ERR_SHAPE, "input must be at least 2-D");
  float eps = ox_attr_float(c, "epsilon", 1e-5f);
  gc_value scale = per_channel(c, ox_in(c, 1), r), bias = per_channel(c, ox_in(c, 2), r);
  gc_value mean = per_channel(c, ox_in(c, 3), r), var = per_channel(c, ox_in(c, 4), r);
  if (training) {
    int axes[GC_MAX_DIMS], na = 0;
    for (int i = 0; i < r; i++)
      if (i != 1) axes[na++] = i;
    gc_value bm = gc_mean(g, x, axes, na, 1), d = gc_sub(g, x, bm);
    gc_value bv = gc_mean(g, gc_mul(g, d, d), axes, na, 1);
    gc_value y = gc_div(g, d, gc_sqrt(g, gc_add(g, bv, ox_sc(c, eps))));
    gc_status st = out0(c, gc_add(g, gc_mul(g, y, scale), bias));
    float mom = ox_attr_float(c, "momentum", 0.9f);
    gc_shape cs = ox_in_shape(c, 3);
    gc_value rm = gc_add(g, gc_mul(g, ox_in(c, 3), ox_sc(c, mom)),
                         gc_mul(g, gc_reshape(g, bm, cs), ox_sc(c, 1 - mom)));
    gc_value rv = gc_add(g, gc_mul(g, ox_in(c, 4), ox_sc(c, mom)),
                         gc_mul(g, gc_reshape(g, bv, cs), ox_sc(c, 1 - mom)));
    if (!st && ox_out_wanted(c, 1)) st = ox_out(c, 1, rm, ox_in_type(c, 3));
    if (!st && ox_out_wanted(c, 2)) st = ox_out(c, 2, rv, ox_in_type(c, 4));
    return st;
  }
  gc_value k = gc_div(g, scale, gc_sqrt(g, gc_add(g, var, ox_sc(c, eps))));
  return out0(c, gc_add(g, gc_mul(g, gc_sub(g, x, mean), k), bias));
}

/* (x - mean) / sqrt(var + eps) over axes, keepdims; mean and 1/std out. */
static gc_value normalize(ox_ctx *c, gc_value x, const int *axes, int na, float eps,
                          gc_value *mean_out, gc_value *inv_out) {
  gc_graph *g = c->g;
  gc_value m = gc_mean(g, x, axes, na, 1);
  gc_value d = gc_sub(g, x, m);
  gc_value var = gc_mean(g, gc_mul(g, d, d), axes, na, 1);
  gc_value inv = gc_div(g, ox_sc(c, 1), gc_sqrt(g, gc_add(g, var, ox_sc(c, eps))));
  if (mean_out) *mean_out = m;
  if (inv_out) *inv_out = inv;
  return gc_mul(g, d, inv);
}

OX_MAP(instance_norm) {
  gc_graph *g = c->g;
  gc_value x = ox_in(c, 0);
  int r = gc_value_shape(g, x).ndim, axes[GC_MAX_DIMS], na = 0;
  if (r < 3) return ox_err(c, GC_ERR_SHAPE, "input must be at least 3-D");
  for (int i = 2; i < r; i++) axes[na++] = i;
  gc_value y = normalize(c, x, axes, na, ox_attr_float(c, "epsilon", 1e-5f), NULL, NULL);
  y = gc_add(g, gc_mul(g, y, per_channel(c, ox_in(c, 1), r)), per_channel(c, ox_in(c, 2), r));
  return out0(c, y);
}

OX_MAP(layer_norm) {
  gc_graph *g = c->g;
  gc_value x = ox_in(c, 0);
  int r = gc_value_shape(g, x).ndim, axes[GC_MAX_DIMS], na = 0;
  int64_t a = ox_attr_int(c, "axis", -1);
  if (a < 0) a += r;
  if (a < 0 || a >= r) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  if (ox_attr_int(c, "stash_type", 1) != 1)
    return ox_unsupported(c, "LayerNormalization (stash_type)", "stash_type other than float");
  for (int i = (int)a; i < r; i++) axes[na++] = i;
  gc_value m, inv;
  gc_value y = normalize(c, x, axes, na, ox_attr_float(c, "epsilon", 1e-5f), &m, &inv);
  y = gc_mul(g, y, ox_in(c, 1));
  if (ox_has(c, 2)) y = gc_add(g, y, ox_in(c, 2));
  gc_status st = out0(c, y);
  if (!st && ox_out_wanted(c, 1)) st = ox_out(c, 1, m, OX_FLOAT);
  if (!st && ox_out_wanted(c, 2)) st = ox_out(c, 2, inv, OX_FLOAT);
  return st;
}

/* ONNX's function body: (x - E[x]) / (sqrt(E[(x - E[x])^2]) + 1e-9). */
OX_MAP(mvn) {
  gc_graph *g = c->g;
  gc_value x = ox_in(c, 0);
  int r = gc_value_shape(g, x).ndim, axes[GC_MAX_DIMS];
  int64_t a[GC_MAX_DIMS + 1] = {0, 2, 3};
  int na = ox_attr_ints(c, "axes", a, GC_MAX_DIMS);
  if (na < 0) na = 3;
  for (int i = 0; i < na; i++) {
    axes[i] = (int)(a[i] < 0 ? a[i] + r : a[i]);
    if (axes[i] < 0 || axes[i] >= r) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  }
  gc_value m = gc_mean(g, x, axes, na, 1), d = gc_sub(g, x, m);
  gc_value sd = gc_sqrt(g, gc_mean(g, gc_mul(g, d, d), axes, na, 1));
  return out0(c, gc_div(g, d, gc_add(g, sd, ox_sc(c, 1e-9f))));
}

OX_MAP(lp_norm) {
  gc_graph *g = c->g;
  gc_value x = ox_in(c, 0);
  int r = gc_value_shape(g, x).ndim;
  int64_t a = ox_attr_int(c, "axis", -1), p = ox_attr_int(c, "p", 2);
  if (a < 0) a += r;
  if (a < 0 || a >= r) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  int ax = (int)a;
  gc_value nrm;
  if (p == 1)
    nrm = gc_sum(g, ox_abs(c, x), &ax, 1, 1);
  else if (p == 2)
    nrm = gc_sqrt(g, gc_sum(g, gc_mul(g, x, x), &ax, 1, 1));
  else
    return ox_err(c, GC_ERR_FORMAT, "p must be 1 or 2");
  return out0(c, gc_div(g, x, nrm));
}

/* LRN: x / (bias + alpha / size * sum of x^2 over a window of channels)^beta,
 * the window reaching floor((size-1)/2) channels down and ceil((size-1)/2)
 * up. The window sum is size shifted slices of the zero-padded squares. */
OX_MAP(lrn) {
  gc_graph *g = c->g;
  gc_value x = ox_in(c, 0);
  gc_shape xs = gc_value_shape(g, x);
  if (!gc_value_ok(x)) return gc_graph_status(g);
  if (xs.ndim < 3) return ox_err(c, GC_ERR_SHAPE, "input must be at least 3-D");
  if (!need_f32(c, x)) return ox_unsupported(c, "LRN (int)", "LRN on integer data");
  int64_t size = ox_attr_int(c, "size", 0);
  if (size < 1) return ox_err(c, GC_ERR_FORMAT, "size must be >= 1");
  float alpha = ox_attr_float(c, "alpha", 1e-4f), beta = ox_attr_float(c, "beta", 0.75f);
  float bias = ox_attr_float(c, "bias", 1.0f);
  int64_t pads[2 * GC_MAX_DIMS] = {0}, ch = xs.dim[1];
  pads[1] = (size - 1) / 2;
  pads[xs.ndim + 1] = size / 2;
  gc_value sq = gc_mul(g, x, x);
  gc_value padded = size > 1 ? gc_pad(g, sq, pads, GC_PAD_CONSTANT, 0) : sq;
  gc_value sum = sq;
  if (size > 1) {
    int ax = 1;
    for (int64_t k = 0; k < size; k++) {
      int64_t start = k, end = k + ch;
      gc_value part = gc_slice(g, padded, &start, &end, &ax, NULL, 1);
      sum = k ? gc_add(g, sum, part) : part;
    }
  }
  gc_value base = gc_add(g, gc_mul(g, sum, ox_sc(c, alpha / (float)size)), ox_sc(c, bias));
  return out0(c, gc_div(g, x, gc_pow(g, base, ox_sc(c, beta))));
}

static gc_status global_pool(ox_ctx *c, bool max) {
  gc_value x = ox_in(c, 0);
  int r = gc_value_shape(c->g, x).ndim, axes[GC_MAX_DIMS], na = 0;
  if (r < 3) return ox_err(c, GC_ERR_SHAPE, "input must be at least 3-D");
  for (int i = 2; i < r; i++) axes[na++] = i;
  return out0(c, max ? gc_max(c->g, x, axes, na, 1) : gc_mean(c->g, x, axes, na, 1));
}
OX_MAP(global_avg_pool) { return global_pool(c, false); }
OX_MAP(global_max_pool) { return global_pool(c, true); }

/* ------------------------------------------------------ recurrent layers */

/* Columns [start, start + count) of a 2-D value. */
static gc_value cols(ox_ctx *c, gc_value x, int64_t start, int64_t count) {
  int64_t n = gc_value_shape(c->g, x).dim[1], end = start + count;
  if (start == 0 && count == n) return x;
  return gc_slice(c->g, x, &start, &end, (const int[]){1}, NULL, 1);
}

/* Rows [start, start + count) of a 2-D value. */
static gc_value rows(ox_ctx *c, gc_value x, int64_t start, int64_t count) {
  int64_t n = gc_value_shape(c->g, x).dim[0], end = start + count;
  if (start == 0 && count == n) return x;
  return gc_slice(c->g, x, &start, &end, NULL, NULL, 1);
}

/* Concat of n values along axis 0, in groups the IR takes at once (xs is
 * overwritten). */
static gc_value concat_rows(ox_ctx *c, gc_value *xs, int64_t n) {
  enum { GROUP = 16 };
  while (n > 1) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; i += GROUP) {
      int k = (int)(n - i < GROUP ? n - i : GROUP);
      xs[m++] = k == 1 ? xs[i] : gc_concat(c->g, xs + i, k, 0);
    }
    n = m;
  }
  return xs[0];
}

typedef enum { ACT_SIGMOID, ACT_TANH, ACT_RELU } act_kind;

static gc_value act(ox_ctx *c, act_kind k, gc_value x) {
  return k == ACT_SIGMOID ? gc_sigmoid(c->g, x)
         : k == ACT_TANH  ? gc_tanh(c->g, x)
                          : gc_relu(c->g, x);
}

enum { RNN_PLAIN, RNN_GRU, RNN_LSTM };

typedef struct rnn_spec {
  int kind, gates, nact; /* gates per direction, activations per direction */
  int64_t seq, batch, in, hidden;
  int ndir;
  act_kind acts[6];
} rnn_spec;

static gc_status rnn_acts(ox_ctx *c, rnn_spec *s) {
  static const act_kind defaults[3][3] = {
      {ACT_TANH}, {ACT_SIGMOID, ACT_TANH}, {ACT_SIGMOID, ACT_TANH, ACT_TANH}};
  for (int d = 0; d < s->ndir; d++)
    for (int i = 0; i < s->nact; i++) s->acts[d * s->nact + i] = defaults[s->kind][i];
  const Onnx__AttributeProto *a = ox_attr(c, "activations");
  if (!a) return GC_OK;
  if (a->n_strings != (size_t)(s->nact * s->ndir))
    return ox_err(c, GC_ERR_FORMAT, "activations lists %zu names, want %d", a->n_strings,
                  s->nact * s->ndir);
  if (ox_attr(c, "activation_alpha") || ox_attr(c, "activation_beta"))
    return ox_unsupported(c, c->node->op_type, "activation_alpha/beta");
  for (size_t i = 0; i < a->n_strings; i++) {
    char nm[32];
    size_t len = a->strings[i].len < sizeof nm - 1 ? a->strings[i].len : sizeof nm - 1;
    memcpy(nm, a->strings[i].data, len);
    nm[len] = 0;
    if (!strcmp(nm, "Sigmoid"))
      s->acts[i] = ACT_SIGMOID;
    else if (!strcmp(nm, "Tanh"))
      s->acts[i] = ACT_TANH;
    else if (!strcmp(nm, "Relu"))
      s->acts[i] = ACT_RELU;
    else
      return ox_unsupported(c, c->node->op_type, "activation %s", nm);
  }
  return GC_OK;
}

/* One direction's per-gate weights: W_j^T [in, H], R_j^T [H, H], bias
 * (Wb_j + Rb_j) [1, H] or invalid, Rb_j alone for GRU's linear_before_reset. */
typedef struct gate_w {
  gc_value wt, rt, bias, rb;
} gate_w;

static void rnn_weights(ox_ctx *c, const rnn_spec *s, int d, gate_w *gw, bool split_rb) {
  gc_graph *g = c->g;
  int64_t G = s->gates, H = s->hidden, nd = s->ndir;
  gc_value w2 = gc_reshape(g, ox_in(c, 1), gc_shape2(nd * G * H, s->in));
  gc_value r2 = gc_reshape(g, ox_in(c, 2), gc_shape2(nd * G * H, H));
  gc_value b2 = {-1};
  if (ox_has(c, 3)) b2 = gc_reshape(g, ox_in(c, 3), gc_shape2(1, nd * 2 * G * H));
  for (int j = 0; j < G; j++) {
    gw[j].wt = gc_transpose(g, rows(c, w2, (d * G + j) * H, H), NULL);
    gw[j].rt = gc_transpose(g, rows(c, r2, (d * G + j) * H, H), NULL);
    gw[j].bias = gw[j].rb = (gc_value){-1};
    if (!gc_value_ok(b2)) continue;
    gc_value wb = cols(c, b2, d * 2 * G * H + j * H, H);
    gc_value rb = cols(c, b2, d * 2 * G * H + G * H + j * H, H);
    if (split_rb) {
      gw[j].bias = wb;
      gw[j].rb = rb;
    } else {
      gw[j].bias = gc_add(g, wb, rb);
    }
  }
}

static gc_value add_opt(gc_graph *g, gc_value a, gc_value b) {
  return gc_value_ok(b) ? gc_add(g, a, b) : a;
}

/* The initial state [B, H] of direction d from an optional [nd, B, H]
 * input, else zeros. */
static gc_value initial_state(ox_ctx *c, const rnn_spec *s, int k, int d) {
  gc_graph *g = c->g;
  int64_t B = s->batch, H = s->hidden;
  if (!ox_has(c, k)) {
    if (B * H > ((int64_t)1 << 24))
      return (gc_value){ir_error(g, GC_ERR_UNSUPPORTED, "state too large")};
    float *z = calloc((size_t)(B * H), sizeof *z);
    if (!z) return (gc_value){ir_error(g, GC_ERR_NOMEM, "out of memory")};
    gc_value v = gc_constant(g, GC_F32, gc_shape2(B, H), z);
    free(z);
    return v;
  }
  gc_value h = gc_reshape(g, ox_in(c, k), gc_shape2(s->ndir, B * H));
  return gc_reshape(g, rows(c, h, d, 1), gc_shape2(B, H));
}

static gc_status recurrent(ox_ctx *c, int kind) {
  gc_graph *g = c->g;
  static const int gates[] = {1, 3, 4}, nacts[] = {1, 2, 3};
  static const char *const names[] = {"RNN", "GRU", "LSTM"};
  rnn_spec s = {kind, gates[kind], nacts[kind], 0, 0, 0, 0, 1, {0}};
  char buf[32];
  const char *dir = ox_attr_str(c, "direction", "forward", buf, sizeof buf);
  if (!strcmp(dir, "bidirectional"))
    s.ndir = 2;
  else if (strcmp(dir, "forward") && strcmp(dir, "reverse"))
    return ox_err(c, GC_ERR_FORMAT, "bad direction %s", dir);
  bool reverse = !strcmp(dir, "reverse");
  if (ox_attr(c, "clip")) return ox_unsupported(c, names[kind], "%s with clip", names[kind]);
  if (kind == RNN_LSTM && ox_attr_int(c, "input_forget", 0))
    return ox_unsupported(c, names[kind], "LSTM with input_forget");
  int layout = (int)ox_attr_int(c, "layout", 0);
  gc_value x = ox_in(c, 0);
  gc_shape xs = gc_value_shape(g, x);
  if (!gc_value_ok(x)) return gc_graph_status(g);
  if (xs.ndim != 3) return ox_err(c, GC_ERR_SHAPE, "X must be 3-D");
  if (layout) x = gc_transpose(g, x, (const int[]){1, 0, 2});
  s.seq = layout ? xs.dim[1] : xs.dim[0];
  s.batch = layout ? xs.dim[0] : xs.dim[1];
  s.in = xs.dim[2];
  s.hidden = ox_attr_int(c, "hidden_size", 0);
  if (s.hidden <= 0) s.hidden = ox_in_shape(c, 2).dim[2];
  if (s.hidden <= 0 || s.hidden > 4096) return ox_err(c, GC_ERR_SHAPE, "bad hidden_size");
  if (s.seq > 4096) return ox_unsupported(c, names[kind], "sequences over 4096 steps (unrolled)");
  if (ox_has(c, 4)) {
    const gc_tensor *lens = ox_known(c, 4);
    bool full = lens != NULL;
    for (int64_t i = 0; lens && i < gc_shape_numel(lens->shape); i++) {
      int64_t v = lens->dtype == GC_I64 ? ((int64_t *)lens->data)[i] : ((int32_t *)lens->data)[i];
      if (v != s.seq) full = false;
    }
    if (!full) return ox_unsupported(c, names[kind], "sequence_lens shorter than the sequence");
  }
  gc_status st = rnn_acts(c, &s);
  if (st) return st;
  int64_t B = s.batch, H = s.hidden, T = s.seq, nd = s.ndir;
  bool lbr = kind == RNN_GRU && ox_attr_int(c, "linear_before_reset", 0);
  gc_value xf = gc_reshape(g, x, gc_shape2(T, B * s.in));
  gc_value y = {-1}, yh = {-1}, yc = {-1}, hs[2], cs[2];
  /* Y's rows [1, B * H] in (t, d) order */
  gc_value *ys = ox_out_wanted(c, 0) ? malloc(sizeof *ys * (size_t)(T * nd)) : NULL;
  if (ox_out_wanted(c, 0) && !ys) return gc_fail(GC_ERR_NOMEM, "out of memory");
  for (int d = 0; d < nd; d++) {
    gate_w w[4];
    rnn_weights(c, &s, d, w, lbr);
    const act_kind *a = &s.acts[d * s.nact];
    gc_value p[3] = {{-1}, {-1}, {-1}}; /* LSTM peepholes i, o, f */
    if (kind == RNN_LSTM && ox_has(c, 7)) {
      gc_value p2 = gc_reshape(g, ox_in(c, 7), gc_shape2(1, nd * 3 * H));
      for (int j = 0; j < 3; j++) p[j] = cols(c, p2, (d * 3 + j) * H, H);
    }
    gc_value h = initial_state(c, &s, 5, d);
    gc_value cell = kind == RNN_LSTM ? initial_state(c, &s, 6, d) : (gc_value){-1};
    bool back = reverse || d == 1;
    for (int64_t k = 0; k < T; k++) {
      int64_t t = back ? T - 1 - k : k;
      gc_value xt = gc_reshape(g, rows(c, xf, t, 1), gc_shape2(B, s.in));
      gc_value pre[4];
      for (int j = 0; j < s.gates; j++) {
        pre[j] = add_opt(g, gc_matmul(g, xt, w[j].wt), w[j].bias);
        bool skip_r = kind == RNN_GRU && j == 2; /* GRU's h gate uses r first */
        if (!skip_r) pre[j] = gc_add(g, pre[j], gc_matmul(g, h, w[j].rt));
      }
      if (kind == RNN_PLAIN) {
        h = act(c, a[0], pre[0]);
      } else if (kind == RNN_GRU) {
        gc_value z = act(c, a[0], pre[0]), r = act(c, a[0], pre[1]), hh;
        if (lbr)
          hh = gc_add(g, pre[2], gc_mul(g, r, add_opt(g, gc_matmul(g, h, w[2].rt), w[2].rb)));
        else
          hh = gc_add(g, pre[2], gc_matmul(g, gc_mul(g, r, h), w[2].rt));
        hh = act(c, a[1], hh);
        /* (1 - z) hh + z h = hh + z (h - hh) */
        h = gc_add(g, hh, gc_mul(g, z, gc_sub(g, h, hh)));
      } else {
        /* gate order i, o, f, c */
        gc_value gi = pre[0], go = pre[1], gf = pre[2];
        if (gc_value_ok(p[0])) gi = gc_add(g, gi, gc_mul(g, p[0], cell));
        if (gc_value_ok(p[2])) gf = gc_add(g, gf, gc_mul(g, p[2], cell));
        gi = act(c, a[0], gi);
        gf = act(c, a[0], gf);
        gc_value cc = act(c, a[1], pre[3]);
        cell = gc_add(g, gc_mul(g, gf, cell), gc_mul(g, gi, cc));
        if (gc_value_ok(p[1])) go = gc_add(g, go, gc_mul(g, p[1], cell));
        go = act(c, a[0], go);
        h = gc_mul(g, go, act(c, a[2], cell));
      }
      if (ys) ys[t * nd + d] = gc_reshape(g, h, gc_shape2(1, B * H));
      if (gc_graph_status(g)) {
        free(ys);
        return gc_graph_status(g);
      }
    }
    hs[d] = gc_reshape(g, h, gc_shape2(1, B * H));
    if (kind == RNN_LSTM) cs[d] = gc_reshape(g, cell, gc_shape2(1, B * H));
  }
  if (ys) y = concat_rows(c, ys, T * nd);
  free(ys);
  yh = concat_rows(c, hs, nd);
  if (kind == RNN_LSTM) yc = concat_rows(c, cs, nd);
  int type = ox_in_type(c, 0);
  if (ox_out_wanted(c, 0)) {
    y = gc_reshape(g, y, gc_shape4(T, nd, B, H));
    if (layout) y = gc_transpose(g, y, (const int[]){2, 0, 1, 3});
    if ((st = ox_out(c, 0, y, type))) return st;
  }
  if (ox_out_wanted(c, 1)) {
    yh = gc_reshape(g, yh, gc_shape3(nd, B, H));
    if (layout) yh = gc_transpose(g, yh, (const int[]){1, 0, 2});
    if ((st = ox_out(c, 1, yh, type))) return st;
  }
  if (kind == RNN_LSTM && ox_out_wanted(c, 2)) {
    yc = gc_reshape(g, yc, gc_shape3(nd, B, H));
    if (layout) yc = gc_transpose(g, yc, (const int[]){1, 0, 2});
    if ((st = ox_out(c, 2, yc, type))) return st;
  }
  return GC_OK;
}

OX_MAP(rnn) { return recurrent(c, RNN_PLAIN); }
OX_MAP(gru) { return recurrent(c, RNN_GRU); }
OX_MAP(lstm) { return recurrent(c, RNN_LSTM); }

/* ---------------------------------------------------------------- losses */

/* NegativeLogLikelihoodLoss of log-probabilities logp [N, C, d...] and
 * int targets [N, d...] (input kt), optional class weights [C] (input
 * kw), as ONNX defines it: loss = -logp[n, t, d] w[t], zero where t ==
 * ignore_index; reduction mean divides by the sum of the weights used.
 * The pick is a one-hot (equal against a class iota), so no gather is
 * needed and every target outside [0, C) simply picks nothing. */
static gc_status nll(ox_ctx *c, gc_value logp, int kt, int kw, gc_value *out) {
  gc_graph *g = c->g;
  gc_shape ls = gc_value_shape(g, logp), ts = ox_in_shape(c, kt);
  if (!gc_value_ok(logp)) return gc_graph_status(g);
  if (ls.ndim < 2 || ts.ndim != ls.ndim - 1 || ts.dim[0] != ls.dim[0])
    return ox_err(c, GC_ERR_SHAPE, "want input [N, C, d...] and target [N, d...]");
  for (int i = 1; i < ts.ndim; i++)
    if (ts.dim[i] != ls.dim[i + 1]) return ox_err(c, GC_ERR_SHAPE, "target shape mismatch");
  int64_t C = ls.dim[1];
  if (C > ((int64_t)1 << 24)) return ox_unsupported(c, c->node->op_type, "too many classes");
  char buf[16];
  const char *red = ox_attr_str(c, "reduction", "mean", buf, sizeof buf);
  int kind = !strcmp(red, "none") ? 0 : !strcmp(red, "sum") ? 1 : !strcmp(red, "mean") ? 2 : -1;
  if (kind < 0) return ox_err(c, GC_ERR_FORMAT, "unknown reduction %s", red);
  gc_value t = ox_in(c, kt);
  if (gc_value_ok(t) && gc_value_dtype(g, t) != GC_I32)
    return ox_err(c, GC_ERR_SHAPE, "target must be integers");
  /* t [N, 1, d...] against iota [C, 1, ..., 1] -> one-hot [N, C, d...] */
  gc_shape t1 = ls, is = {ls.ndim - 1, {0}};
  t1.dim[1] = 1;
  is.dim[0] = C;
  for (int i = 1; i < is.ndim; i++) is.dim[i] = 1;
  int32_t *iota = malloc(sizeof *iota * (size_t)C);
  if (!iota) return ox_err(c, GC_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; i < C; i++) iota[i] = (int32_t)i;
  gc_value onehot = gc_equal(g, gc_reshape(g, t, t1), gc_constant(g, GC_I32, is, iota));
  free(iota);
  int ax = 1;
  gc_value picked = gc_sum(g, gc_mul(g, logp, onehot), &ax, 1, 0);
  gc_value wt = {-1}; /* per-element weight, invalid for all ones */
  if (ox_has(c, kw)) wt = gc_sum(g, gc_mul(g, onehot, gc_reshape(g, ox_in(c, kw), is)), &ax, 1, 0);
  const Onnx__AttributeProto *ii = ox_attr(c, "ignore_index");
  if (ii && ii->i >= INT32_MIN && ii->i <= INT32_MAX) {
    int32_t iv = (int32_t)ii->i;
    gc_value keep =
        gc_sub(g, ox_sc(c, 1), gc_equal(g, t, gc_constant(g, GC_I32, gc_shape0(), &iv)));
    wt = gc_value_ok(wt) ? gc_mul(g, wt, keep) : keep;
  }
  gc_value loss = gc_neg(g, picked);
  if (gc_value_ok(wt)) loss = gc_mul(g, loss, wt);
  if (kind == 1) loss = gc_sum(g, loss, NULL, 0, 0);
  if (kind == 2)
    loss = gc_value_ok(wt) ? gc_div(g, gc_sum(g, loss, NULL, 0, 0), gc_sum(g, wt, NULL, 0, 0))
                           : gc_mean(g, loss, NULL, 0, 0);
  *out = loss;
  return gc_graph_status(g);
}

static gc_status need_float_in(ox_ctx *c, int k) {
  if (ox_in_type(c, k) == OX_FLOAT) return GC_OK;
  char what[64];
  snprintf(what, sizeof what, "%s (%s)", c->node->op_type, ox_type_name(ox_in_type(c, k)));
  return ox_unsupported(c, what, "%s on %s data", c->node->op_type, ox_type_name(ox_in_type(c, k)));
}

OX_MAP(nll_loss) {
  gc_value loss;
  gc_status st = need_float_in(c, 0);
  if (!st) st = nll(c, ox_in(c, 0), 1, 2, &loss);
  return st ? st : ox_out(c, 0, loss, OX_FLOAT);
}

/* SoftmaxCrossEntropyLoss: NLL of log_softmax over axis 1; output 1 is
 * the log-probabilities. */
OX_MAP(sce_loss) {
  gc_status st = need_float_in(c, 0);
  if (st) return st;
  gc_value logp = gc_log_softmax(c->g, ox_in(c, 0), 1), loss;
  if ((st = nll(c, logp, 1, 2, &loss))) return st;
  st = ox_out(c, 0, loss, OX_FLOAT);
  if (!st && ox_out_wanted(c, 1)) st = ox_out(c, 1, logp, OX_FLOAT);
  return st;
}

/* --------------------------------------------------------------- dropout */

/* Whether element 0 of a host value is nonzero. */
static bool host_nonzero(const gc_tensor *t) {
  switch (t->dtype) {
    case GC_F32:
      return ((const float *)t->data)[0] != 0;
    case GC_I32:
      return ((const int32_t *)t->data)[0] != 0;
    case GC_I64:
      return ((const int64_t *)t->data)[0] != 0;
    default:
      return ((const uint8_t *)t->data)[0] != 0;
  }
}

/* Dropout. Inference (opsets 7-11; 12 and up unless training_mode; before
 * 7 with is_test) and a ratio of 0 copy the input, with an all-true mask.
 * Training keeps x / (1 - ratio) where a uniform draw u in [0, 1) is >=
 * ratio, as the spec's reference does, but with our counter-based
 * generator (the seed attribute picks the stream, 0 when absent) instead
 * of numpy's: no implementation reproduces those draws, so the node is
 * recorded in info->random, for checking the outputs by their defining
 * properties. The ratio must be known at import (a constant or a bound
 * input). The mask is bool from opset 10, of the input's type before. */
OX_MAP(dropout) {
  gc_graph *g = c->g;
  bool training = c->opset < 7 && !ox_attr_int(c, "is_test", 0);
  if (c->opset >= 12 && ox_has(c, 2)) {
    const gc_tensor *t = ox_known(c, 2);
    if (!t)
      return ox_unsupported(c, "Dropout (runtime training_mode)",
                            "training_mode must be known at import");
    if (gc_shape_numel(t->shape) != 1)
      return ox_err(c, GC_ERR_SHAPE, "training_mode must have one element");
    training = host_nonzero(t);
  }
  float ratio = c->opset < 12 ? ox_attr_float(c, "ratio", 0.5f) : 0.5f;
  if (training && c->opset >= 12 && ox_has(c, 1)) {
    const gc_tensor *r = ox_host_value(c, 1);
    if (!r) return ox_unsupported(c, "Dropout (runtime ratio)", "ratio must be known at import");
    if (gc_shape_numel(r->shape) != 1 || r->dtype != GC_F32)
      return ox_err(c, GC_ERR_SHAPE, "ratio must be one float");
    ratio = ((const float *)r->data)[0];
  }
  if (training && !(ratio >= 0 && ratio < 1))
    return ox_err(c, GC_ERR_FORMAT, "ratio %g is not in [0, 1)", ratio);
  gc_value x = ox_in(c, 0);
  gc_shape xs = gc_value_shape(g, x);
  int mask_type = c->opset < 10 ? ox_in_type(c, 0) : OX_BOOL;
  if (!training || ratio == 0) {
    gc_status st = out0(c, gc_expand(g, x, xs));
    if (st || !ox_out_wanted(c, 1)) return st;
    gc_dtype mt = ox_host_dtype(mask_type);
    if (mt == GC_DTYPE_COUNT) return ox_unsupported(c, "Dropout (mask type)", "mask type");
    gc_tensor *mask;
    if ((st = gc_tensor_new(NULL, mt, xs, NULL, &mask))) return st;
    for (int64_t i = 0; i < gc_shape_numel(xs); i++) {
      if (mt == GC_F32)
        ((float *)mask->data)[i] = 1;
      else if (mt == GC_I64)
        ((int64_t *)mask->data)[i] = 1;
      else
        ((uint8_t *)mask->data)[i] = 1;
    }
    return ox_out_known(c, 1, mask, mask_type);
  }
  if (!need_f32(c, x)) return ox_unsupported(c, "Dropout (int)", "dropout of integer data");
  uint64_t seed = (uint64_t)ox_attr_int(c, "seed", 0);
  gc_value u = gc_random_uniform(g, xs, 0.0f, 1.0f, seed);
  gc_value keep = gc_greater_equal(g, u, ox_sc(c, ratio));
  gc_value y = gc_where(g, keep, gc_mul(g, x, ox_sc(c, 1.0f / (1.0f - ratio))), ox_sc(c, 0));
  gc_status st = out0(c, y);
  if (!st && ox_out_wanted(c, 1))
    st = ox_out(c, 1, mask_type == OX_BOOL ? keep : gc_cast(g, keep, GC_F32), mask_type);
  if (st || c->info->random.op[0]) return st;
  snprintf(c->info->random.op, sizeof c->info->random.op, "Dropout");
  ox_entry *xe = ox_input_entry(c, 0);
  c->info->random.x = xe ? xe->input : -1;
  c->info->random.ratio = ratio;
  c->random_out[0] = c->node->output[0];
  c->random_out[1] = ox_out_wanted(c, 1) ? c->node->output[1] : NULL;
  return GC_OK;
}
