/* onnx_ops.c — the ONNX op mapping table: op type -> a small function that
 * emits builder calls for one node (opset-dependent attribute handling
 * inside), plus host folding for shape computations (Shape, Gather, Concat,
 * Slice, Unsqueeze, Cast, small integer arithmetic...) so that
 * Shape -> Gather -> Concat -> Reshape chains end as static shapes.
 * Mapping an op later is one function and one table row; mappings whose
 * The neural-network mappings (Gemm, norms, recurrent layers) are in
 * onnx_nn.c, data movement on runtime tensors in onnx_movement.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx_nn.h"

/* ------------------------------------------------------------- helpers */

gc_value ox_sc(ox_ctx *c, float f) { return gc_scalar(c->g, f); }
gc_value ox_abs(ox_ctx *c, gc_value x) { return gc_abs(c->g, x); }

static gc_status out0(ox_ctx *c, gc_value v) { return ox_out(c, 0, v, ox_in_type(c, 0)); }

static gc_tensor *tensor_new(gc_dtype t, gc_shape s) {
  gc_tensor *x;
  return gc_tensor_new(NULL, t, s, NULL, &x) ? NULL : x;
}

static double get_f(const gc_tensor *t, int64_t i) {
  switch (t->dtype) {
    case GC_F32:
      return ((const float *)t->data)[i];
    case GC_I32:
      return ((const int32_t *)t->data)[i];
    case GC_I64:
      return (double)((const int64_t *)t->data)[i];
    default:
      return ((const uint8_t *)t->data)[i];
  }
}
static int64_t get_i(const gc_tensor *t, int64_t i) {
  switch (t->dtype) {
    case GC_F32:
      return (int64_t)((const float *)t->data)[i];
    case GC_I32:
      return ((const int32_t *)t->data)[i];
    case GC_I64:
      return ((const int64_t *)t->data)[i];
    default:
      return ((const uint8_t *)t->data)[i];
  }
}
static void set_f(gc_tensor *t, int64_t i, double v) {
  switch (t->dtype) {
    case GC_F32:
      ((float *)t->data)[i] = (float)v;
      break;
    case GC_I32:
      ((int32_t *)t->data)[i] = (int32_t)v;
      break;
    case GC_I64:
      ((int64_t *)t->data)[i] = (int64_t)v;
      break;
    default:
      ((uint8_t *)t->data)[i] = v != 0;
      break;
  }
}
static void set_i(gc_tensor *t, int64_t i, int64_t v) {
  if (t->dtype == GC_F32)
    ((float *)t->data)[i] = (float)v;
  else if (t->dtype == GC_I64)
    ((int64_t *)t->data)[i] = v;
  else
    set_f(t, i, (double)v);
}

/* Host tensors folded here stay small: shape computations, not data. */
#define FOLD_MAX ((int64_t)1 << 20)

static gc_tensor *copy_reshaped(const gc_tensor *t, gc_shape s) {
  gc_tensor *r;
  if (gc_tensor_new(NULL, t->dtype, s, t->data, &r)) return NULL;
  return r;
}

/* Row-major strides of s, in elements. */
static void strides(gc_shape s, int64_t *st) {
  int64_t k = 1;
  for (int i = s.ndim - 1; i >= 0; i--) {
    st[i] = k;
    k *= s.dim[i];
  }
}

static int norm_axis(int64_t a, int r) {
  if (a < 0) a += r;
  return a >= 0 && a < r ? (int)a : -1;
}

/* ------------------------------------------------------ elementwise ops */

#define UNARY(NAME, EXPR)                                            \
  static gc_status map_##NAME(ox_ctx *c, const Onnx__NodeProto *n) { \
    gc_graph *g = c->g;                                              \
    gc_value x = ox_in(c, 0);                                        \
    (void)g;                                                         \
    return out0(c, EXPR);                                            \
  }

UNARY(relu, gc_relu(g, x))
UNARY(sigmoid, gc_sigmoid(g, x))
UNARY(tanh, gc_tanh(g, x))
UNARY(exp, gc_exp(g, x))
UNARY(log, gc_log(g, x))
UNARY(sqrt, gc_sqrt(g, x))
UNARY(reciprocal, gc_reciprocal(g, x))
UNARY(erf, gc_erf(g, x))
UNARY(softplus, gc_softplus(g, x))
UNARY(softsign, gc_softsign(g, x))
UNARY(sin, gc_sin(g, x))
UNARY(cos, gc_cos(g, x))
UNARY(tan, gc_tan(g, x))
UNARY(asin, gc_asin(g, x))
UNARY(acos, gc_acos(g, x))
UNARY(atan, gc_atan(g, x))
UNARY(sinh, gc_sinh(g, x))
UNARY(cosh, gc_cosh(g, x))
UNARY(asinh, gc_asinh(g, x))
UNARY(acosh, gc_acosh(g, x))
UNARY(atanh, gc_atanh(g, x))

/* The f32 builders of the unary math ops reject integer data, which ONNX
 * allows for Abs, Neg and Sign: those are spelled with integer-safe ops. */
static bool is_f32(ox_ctx *c, gc_value x) { return gc_value_dtype(c->g, x) == GC_F32; }

/* A scalar constant of x's dtype. */
gc_value ox_scalar_like(ox_ctx *c, gc_value x, double v) {
  gc_dtype t = gc_value_dtype(c->g, x);
  union {
    float f;
    int32_t i;
    int64_t l;
    uint8_t b;
  } u;
  if (t == GC_F32) u.f = (float)v;
  if (t == GC_I32) u.i = (int32_t)v;
  if (t == GC_I64) u.l = (int64_t)v;
  if (t == GC_BOOL) u.b = v != 0;
  return gc_constant(c->g, t, gc_shape0(), &u);
}

static gc_value neg_any(ox_ctx *c, gc_value x) {
  if (is_f32(c, x)) return gc_neg(c->g, x);
  return gc_sub(c->g, ox_scalar_like(c, x, 0), x);
}

static gc_status map_neg(ox_ctx *c, const Onnx__NodeProto *n) {
  return out0(c, neg_any(c, ox_in(c, 0)));
}

static gc_status map_abs(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_value x = ox_in(c, 0);
  if (is_f32(c, x)) return out0(c, gc_abs(c->g, x));
  return out0(c, gc_maximum(c->g, x, neg_any(c, x)));
}

static gc_status map_sign(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_graph *g = c->g;
  gc_value x = ox_in(c, 0);
  if (is_f32(c, x)) return out0(c, gc_sign(g, x));
  gc_value z = ox_scalar_like(c, x, 0);
  gc_dtype t = gc_value_dtype(g, x);
  return out0(c, gc_sub(g, gc_cast(g, gc_greater(g, x, z), t), gc_cast(g, gc_less(g, x, z), t)));
}

/* min(x, 0) = -relu(-x) */
static gc_value neg_part(ox_ctx *c, gc_value x) {
  return gc_neg(c->g, gc_relu(c->g, gc_neg(c->g, x)));
}

static gc_status map_leaky_relu(ox_ctx *c, const Onnx__NodeProto *n) {
  return out0(c, gc_leaky_relu(c->g, ox_in(c, 0), ox_attr_float(c, "alpha", 0.01f)));
}

static gc_status map_prelu(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_graph *g = c->g;
  gc_value x = ox_in(c, 0), slope = ox_in(c, 1);
  gc_shape xs = gc_value_shape(g, x), ss = gc_value_shape(g, slope), b;
  /* Older exporters give a per-channel slope [C] for x [N, C, ...]. */
  if (ss.ndim == 1 && xs.ndim > 2 && ss.dim[0] == xs.dim[1] && !ir_broadcast_shapes(xs, ss, &b)) {
    gc_shape r = {xs.ndim - 1, {0}};
    r.dim[0] = ss.dim[0];
    for (int i = 1; i < r.ndim; i++) r.dim[i] = 1;
    slope = gc_reshape(g, slope, r);
  }
  return out0(c, gc_add(g, gc_relu(g, x), gc_mul(g, slope, neg_part(c, x))));
}

/* alpha * (exp(min(x, 0) / s) - 1): the negative branch of Elu/Selu/Celu. */
static gc_value exp_branch(ox_ctx *c, gc_value x, float alpha, float s) {
  gc_graph *g = c->g;
  gc_value m = neg_part(c, x);
  if (s != 1) m = gc_div(g, m, ox_sc(c, s));
  return gc_mul(g, ox_sc(c, alpha), gc_sub(g, gc_exp(g, m), ox_sc(c, 1)));
}

static gc_status map_elu(ox_ctx *c, const Onnx__NodeProto *n) {
  return out0(c, gc_elu(c->g, ox_in(c, 0), ox_attr_float(c, "alpha", 1)));
}

static gc_status map_celu(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_value x = ox_in(c, 0);
  float a = ox_attr_float(c, "alpha", 1);
  return out0(c, gc_add(c->g, gc_relu(c->g, x), exp_branch(c, x, a, a)));
}

/* gc_selu has the standard constants; other alpha/gamma need the spelled
 * form. */
static gc_status map_selu(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_value x = ox_in(c, 0);
  float a = ox_attr_float(c, "alpha", 1.67326319217681884765625f);
  float gm = ox_attr_float(c, "gamma", 1.05070102214813232421875f);
  if (a == 1.67326319217681884765625f && gm == 1.05070102214813232421875f)
    return out0(c, gc_selu(c->g, x));
  gc_value y = gc_add(c->g, gc_relu(c->g, x), exp_branch(c, x, a, 1));
  return out0(c, gc_mul(c->g, ox_sc(c, gm), y));
}

static gc_status map_thresholded_relu(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_value x = ox_in(c, 0);
  float a = ox_attr_float(c, "alpha", 1);
  return out0(c, gc_mul(c->g, x, gc_step(c->g, gc_sub(c->g, x, ox_sc(c, a)))));
}

static gc_status map_hard_sigmoid(ox_ctx *c, const Onnx__NodeProto *n) {
  return out0(c, gc_hard_sigmoid(c->g, ox_in(c, 0), ox_attr_float(c, "alpha", 0.2f),
                                 ox_attr_float(c, "beta", 0.5f)));
}

static gc_status map_hard_swish(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_value x = ox_in(c, 0);
  return out0(c, gc_mul(c->g, x, gc_hard_sigmoid(c->g, x, 1.0f / 6, 0.5f)));
}

static gc_status map_gelu(ox_ctx *c, const Onnx__NodeProto *n) {
  char buf[16];
  const char *a = ox_attr_str(c, "approximate", "none", buf, sizeof buf);
  if (strcmp(a, "none") && strcmp(a, "tanh"))
    return ox_err(c, GC_ERR_FORMAT, "unknown approximate \"%s\"", a);
  return out0(c, gc_gelu(c->g, ox_in(c, 0), !strcmp(a, "tanh")));
}

/* Clip: min/max are attributes before opset 11, optional inputs after.
 * Constant bounds (the usual case) use gc_clip; runtime ones, and integer
 * data, gc_maximum/gc_minimum. */
static gc_status map_clip(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_graph *g = c->g;
  gc_value x = ox_in(c, 0), lo = {-1}, hi = {-1};
  float a = -INFINITY, b = INFINITY;
  bool host = true;
  if (c->opset < 11) {
    a = ox_attr_float(c, "min", -INFINITY), b = ox_attr_float(c, "max", INFINITY);
  } else {
    for (int k = 1; k <= 2; k++) {
      if (!ox_has(c, k)) continue;
      const gc_tensor *t = ox_known(c, k);
      if (t && gc_shape_numel(t->shape) != 1)
        return ox_err(c, GC_ERR_SHAPE, "min and max must have one element");
      if (!t || t->dtype != GC_F32 || ox_in_type(c, k) != OX_FLOAT)
        host = false;
      else
        *(k == 1 ? &a : &b) = ((const float *)t->data)[0];
    }
  }
  if (host && is_f32(c, x)) {
    if (a > b) /* ONNX: every element becomes max */
      return out0(c, gc_mul(g, gc_add(g, gc_mul(g, x, ox_sc(c, 0)), ox_sc(c, 1)), ox_sc(c, b)));
    return out0(c, gc_clip(g, x, a, b));
  }
  if (c->opset < 11) {
    if (isfinite(a)) lo = ox_sc(c, a);
    if (isfinite(b)) hi = ox_sc(c, b);
  } else {
    if (ox_has(c, 1)) lo = ox_in(c, 1);
    if (ox_has(c, 2)) hi = ox_in(c, 2);
  }
  gc_value y = x;
  if (gc_value_ok(lo)) y = gc_maximum(g, y, lo);
  if (gc_value_ok(hi)) y = gc_minimum(g, y, hi);
  if (!gc_value_ok(lo) && !gc_value_ok(hi)) y = gc_expand(g, x, gc_value_shape(g, x));
  return out0(c, y);
}

/* Shrink: x + bias below -lambd, x - bias above lambd, 0 between. */
static gc_status map_shrink(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_graph *g = c->g;
  gc_value x = ox_in(c, 0);
  if (!is_f32(c, x)) return ox_unsupported(c, "Shrink (int)", "Shrink of integer data");
  float l = ox_attr_float(c, "lambd", 0.5f), b = ox_attr_float(c, "bias", 0);
  gc_value y = gc_where(g, gc_greater(g, x, ox_sc(c, l)), gc_sub(g, x, ox_sc(c, b)), ox_sc(c, 0));
  return out0(c, gc_where(g, gc_less(g, x, ox_sc(c, -l)), gc_add(g, x, ox_sc(c, b)), y));
}

static gc_status map_isnan(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_value x = ox_in(c, 0);
  return ox_out(c, 0, gc_logical_not(c->g, gc_eq(c->g, x, x)), OX_BOOL);
}

static gc_status map_isinf(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_graph *g = c->g;
  gc_value x = ox_in(c, 0);
  bool pos = ox_attr_int(c, "detect_positive", 1) != 0;
  bool neg = ox_attr_int(c, "detect_negative", 1) != 0;
  gc_value p = gc_eq(g, x, ox_sc(c, INFINITY)), m = gc_eq(g, x, ox_sc(c, -INFINITY));
  gc_value y = pos && neg ? gc_logical_or(g, p, m) : pos ? p : neg ? m : gc_logical_and(g, p, m);
  return ox_out(c, 0, y, OX_BOOL);
}

/* Floor, Ceil and Round through an i32 cast (truncation); floats of
 * magnitude >= 2^23 are integers already and pass unchanged. */
static gc_value rounding(ox_ctx *c, gc_value x, int kind) {
  gc_graph *g = c->g;
  gc_value t = gc_cast(g, gc_cast(g, x, GC_I32), GC_F32);
  gc_value one = ox_sc(c, 1), zero = ox_sc(c, 0);
  gc_value fl = gc_sub(g, t, gc_where(g, gc_greater(g, t, x), one, zero));
  gc_value y = fl;
  if (kind == 1) y = gc_add(g, t, gc_where(g, gc_less(g, t, x), one, zero));
  if (kind == 2) {
    /* half to even: up when the fraction is over 1/2, or exactly 1/2
     * with an odd floor */
    gc_value d = gc_sub(g, x, fl), half = ox_sc(c, 0.5f);
    gc_value h = gc_mul(g, fl, half);
    gc_value odd = gc_logical_not(g, gc_eq(g, gc_cast(g, gc_cast(g, h, GC_I32), GC_F32), h));
    gc_value up =
        gc_logical_or(g, gc_greater(g, d, half), gc_logical_and(g, gc_eq(g, d, half), odd));
    /* h of a negative odd floor truncates towards 0: still unequal */
    y = gc_add(g, fl, gc_where(g, up, one, zero));
  }
  gc_value big = gc_greater_equal(g, gc_abs(g, x), ox_sc(c, 8388608.0f));
  return gc_where(g, gc_logical_or(g, big, gc_logical_not(g, gc_eq(g, x, x))), x, y);
}
static gc_status map_floor(ox_ctx *c, const Onnx__NodeProto *n) {
  return out0(c, rounding(c, ox_in(c, 0), 0));
}
static gc_status map_ceil(ox_ctx *c, const Onnx__NodeProto *n) {
  return out0(c, rounding(c, ox_in(c, 0), 1));
}
static gc_status map_round(ox_ctx *c, const Onnx__NodeProto *n) {
  return out0(c, rounding(c, ox_in(c, 0), 2));
}

typedef gc_value (*binary_fn)(gc_graph *, gc_value, gc_value);

static gc_status binary(ox_ctx *c, binary_fn f) {
  gc_value a = ox_in(c, 0), b = ox_in(c, 1);
  return out0(c, f(c->g, a, b));
}
static gc_status map_add(ox_ctx *c, const Onnx__NodeProto *n) { return binary(c, gc_add); }
static gc_status map_sub(ox_ctx *c, const Onnx__NodeProto *n) { return binary(c, gc_sub); }
static gc_status map_mul(ox_ctx *c, const Onnx__NodeProto *n) { return binary(c, gc_mul); }
static gc_status map_div(ox_ctx *c, const Onnx__NodeProto *n) { return binary(c, gc_div); }

/* Comparisons and logic give real bool tensors. */
static gc_status bool_binary(ox_ctx *c, binary_fn f) {
  return ox_out(c, 0, f(c->g, ox_in(c, 0), ox_in(c, 1)), OX_BOOL);
}
static gc_status map_equal(ox_ctx *c, const Onnx__NodeProto *n) { return bool_binary(c, gc_eq); }
static gc_status map_greater(ox_ctx *c, const Onnx__NodeProto *n) {
  return bool_binary(c, gc_greater);
}
static gc_status map_greater_equal(ox_ctx *c, const Onnx__NodeProto *n) {
  return bool_binary(c, gc_greater_equal);
}
static gc_status map_less(ox_ctx *c, const Onnx__NodeProto *n) { return bool_binary(c, gc_less); }
static gc_status map_less_equal(ox_ctx *c, const Onnx__NodeProto *n) {
  return bool_binary(c, gc_less_equal);
}
static gc_status map_and(ox_ctx *c, const Onnx__NodeProto *n) {
  return bool_binary(c, gc_logical_and);
}
static gc_status map_or(ox_ctx *c, const Onnx__NodeProto *n) {
  return bool_binary(c, gc_logical_or);
}
static gc_status map_xor(ox_ctx *c, const Onnx__NodeProto *n) {
  return bool_binary(c, gc_logical_xor);
}
static gc_status map_not(ox_ctx *c, const Onnx__NodeProto *n) {
  return ox_out(c, 0, gc_logical_not(c->g, ox_in(c, 0)), OX_BOOL);
}

/* Max, Min, Sum, Mean: variadic with broadcasting, any dtype. */
static gc_status variadic(ox_ctx *c, binary_fn f, bool mean) {
  gc_graph *g = c->g;
  gc_value acc = ox_in(c, 0);
  int cnt = 1;
  for (int k = 1; k < ox_nin(c); k++) {
    if (!ox_has(c, k)) continue;
    acc = f(g, acc, ox_in(c, k));
    cnt++;
  }
  if (mean && cnt > 1) acc = gc_div(g, acc, ox_scalar_like(c, acc, cnt));
  if (cnt == 1) acc = gc_expand(g, acc, gc_value_shape(g, acc));
  return out0(c, acc);
}
static gc_status map_max(ox_ctx *c, const Onnx__NodeProto *n) {
  return variadic(c, gc_maximum, false);
}
static gc_status map_min(ox_ctx *c, const Onnx__NodeProto *n) {
  return variadic(c, gc_minimum, false);
}
static gc_status map_sum(ox_ctx *c, const Onnx__NodeProto *n) { return variadic(c, gc_add, false); }
static gc_status map_mean(ox_ctx *c, const Onnx__NodeProto *n) { return variadic(c, gc_add, true); }

/* Pow: gc_pow is f32 only, so integer bases and exponents go through f32
 * (exact for the small integers ONNX models raise), the result in the
 * base's dtype. */
static gc_status map_pow(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_graph *g = c->g;
  gc_value x = ox_in(c, 0), e = ox_in(c, 1);
  gc_dtype t = gc_value_dtype(g, x);
  if (t == GC_BOOL || gc_value_dtype(g, e) == GC_BOOL)
    return ox_unsupported(c, "Pow (bool)", "Pow of bool data");
  gc_value xf = t == GC_F32 ? x : gc_cast(g, x, GC_F32);
  gc_value ef = is_f32(c, e) ? e : gc_cast(g, e, GC_F32);
  gc_value y = gc_pow(g, xf, ef);
  return out0(c, t == GC_F32 ? y : gc_cast(g, y, t));
}

/* Mod: fmod = 1 takes the dividend's sign (C fmod), fmod = 0 the
 * divisor's (Python %). Integers: a - b * trunc(a / b) with C division,
 * then shifted by b where the signs disagree. */
static gc_status map_mod(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_graph *g = c->g;
  gc_value a = ox_in(c, 0), b = ox_in(c, 1);
  bool fmod = ox_attr_int(c, "fmod", 0) != 0;
  gc_dtype t = gc_value_dtype(g, a);
  if (t == GC_BOOL) return ox_unsupported(c, "Mod (bool)", "Mod of bool data");
  if (t == GC_F32 && !fmod) return ox_err(c, GC_ERR_FORMAT, "float Mod needs fmod = 1");
  gc_value q = gc_div(g, a, b);
  /* f32: truncate through i32 (|a / b| < 2^31 in any sane model) */
  if (t == GC_F32) q = gc_cast(g, gc_cast(g, q, GC_I32), GC_F32);
  gc_value r = gc_sub(g, a, gc_mul(g, b, q));
  if (!fmod) {
    gc_value z = ox_scalar_like(c, r, 0);
    gc_value fix = gc_logical_and(g, gc_logical_not(g, gc_eq(g, r, z)),
                                  gc_logical_xor(g, gc_less(g, r, z), gc_less(g, b, z)));
    r = gc_where(g, fix, gc_add(g, r, b), r);
  }
  return out0(c, r);
}

static gc_status map_identity(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_value x = ox_in(c, 0);
  return out0(c, gc_expand(c->g, x, gc_value_shape(c->g, x)));
}

/* The graph dtype of ONNX type t: int64 lives as i32 in the graph (most
 * integer data are indices and shapes; a constant or input that does not
 * fit fails with a message naming it), GC_DTYPE_COUNT if not supported. */
static gc_dtype graph_dtype(int t) {
  switch (t) {
    case OX_FLOAT:
      return GC_F32;
    case OX_INT32:
    case OX_INT64:
      return GC_I32;
    case OX_BOOL:
      return GC_BOOL;
    default:
      return GC_DTYPE_COUNT;
  }
}

static gc_status cast_to(ox_ctx *c, gc_value x, int to) {
  gc_dtype want = graph_dtype(to);
  if (want == GC_DTYPE_COUNT) {
    char what[64];
    snprintf(what, sizeof what, "Cast to %s", ox_type_name(to));
    return ox_unsupported(c, what, "cast to %s", ox_type_name(to));
  }
  gc_dtype have = gc_value_dtype(c->g, x);
  if (have == want) return ox_out(c, 0, gc_expand(c->g, x, gc_value_shape(c->g, x)), to);
  return ox_out(c, 0, gc_cast(c->g, x, want), to);
}

static gc_status map_cast(ox_ctx *c, const Onnx__NodeProto *n) {
  return cast_to(c, ox_in(c, 0), (int)ox_attr_int(c, "to", 0));
}

static gc_status map_cast_like(ox_ctx *c, const Onnx__NodeProto *n) {
  return cast_to(c, ox_in(c, 0), ox_in_type(c, 1));
}

static gc_status fold_cast(ox_ctx *c, const Onnx__NodeProto *n, bool *done) {
  int to = (int)ox_attr_int(c, "to", 0);
  gc_dtype dt = ox_host_dtype(to);
  if (dt == GC_DTYPE_COUNT) return GC_OK;
  gc_tensor *r;
  if (gc_tensor_convert(ox_known(c, 0), dt, &r)) return GC_OK;
  *done = true;
  return ox_out_known(c, 0, r, to);
}

/* Add/Sub/Mul/Div/Neg/Equal on host values (numpy broadcasting). */
static gc_status fold_arith(ox_ctx *c, const Onnx__NodeProto *n, bool *done) {
  const char *op = n->op_type;
  int unary = !strcmp(op, "Neg");
  const gc_tensor *a = ox_known(c, 0), *b = unary ? a : ox_known(c, 1);
  gc_shape s;
  if (!ir_broadcast_shapes(a->shape, b->shape, &s) || gc_shape_numel(s) > FOLD_MAX) return GC_OK;
  bool isf = a->dtype == GC_F32 || b->dtype == GC_F32;
  bool cmp = !strcmp(op, "Equal");
  gc_tensor *r = tensor_new(cmp ? GC_BOOL : isf ? GC_F32 : a->dtype, s);
  if (!r) return gc_fail(GC_ERR_NOMEM, "out of memory");
  int64_t sa[GC_MAX_DIMS], sb[GC_MAX_DIMS], total = gc_shape_numel(s);
  strides(a->shape, sa);
  strides(b->shape, sb);
  for (int64_t i = 0; i < total; i++) {
    int64_t rem = i, ia = 0, ib = 0;
    for (int d = s.ndim - 1; d >= 0; d--) {
      int64_t k = rem % s.dim[d];
      rem /= s.dim[d];
      int da = d - (s.ndim - a->shape.ndim), db = d - (s.ndim - b->shape.ndim);
      if (da >= 0 && a->shape.dim[da] > 1) ia += k * sa[da];
      if (db >= 0 && b->shape.dim[db] > 1) ib += k * sb[db];
    }
    if (isf || cmp) {
      double x = get_f(a, ia), y = get_f(b, ib), z = 0;
      if (!strcmp(op, "Add")) z = x + y;
      if (!strcmp(op, "Sub")) z = x - y;
      if (!strcmp(op, "Mul")) z = x * y;
      if (!strcmp(op, "Div")) z = x / y;
      if (unary) z = -x;
      if (cmp) z = x == y;
      set_f(r, i, z);
    } else {
      int64_t x = get_i(a, ia), y = get_i(b, ib), z = 0;
      if (!strcmp(op, "Add")) z = (int64_t)((uint64_t)x + (uint64_t)y);
      if (!strcmp(op, "Sub")) z = (int64_t)((uint64_t)x - (uint64_t)y);
      if (!strcmp(op, "Mul")) z = (int64_t)((uint64_t)x * (uint64_t)y);
      if (!strcmp(op, "Div")) z = y == 0 || (x == INT64_MIN && y == -1) ? 0 : x / y;
      if (unary) z = (int64_t)(0 - (uint64_t)x);
      set_i(r, i, z);
    }
  }
  *done = true;
  return ox_out_known(c, 0, r, cmp ? OX_BOOL : ox_in_type(c, isf && a->dtype != GC_F32 ? 1 : 0));
}

/* ------------------------------------------------------------ reductions */

/* Axes from the attribute (older opsets) or input 1 (ReduceSum from 13);
 * *n = 0 means all axes. */
static gc_status reduce_axes(ox_ctx *c, bool from_input, int *axes, int *n, bool *noop) {
  int64_t a[GC_MAX_DIMS + 1];
  int cnt = 0;
  *noop = false;
  if (from_input) {
    if (ox_has(c, 1)) {
      gc_status st = ox_ints_in(c, 1, a, GC_MAX_DIMS, &cnt);
      if (st) return st;
    }
    if (cnt == 0 && ox_attr_int(c, "noop_with_empty_axes", 0)) *noop = true;
  } else {
    cnt = ox_attr_ints(c, "axes", a, GC_MAX_DIMS);
    if (cnt > GC_MAX_DIMS) return ox_err(c, GC_ERR_FORMAT, "too many axes");
    if (cnt < 0) cnt = 0;
  }
  int r = ox_in_shape(c, 0).ndim;
  for (int i = 0; i < cnt; i++) {
    axes[i] = norm_axis(a[i], r);
    if (axes[i] < 0) return ox_err(c, GC_ERR_SHAPE, "axis %lld out of range", (long long)a[i]);
  }
  *n = cnt;
  return GC_OK;
}

static gc_status reduce(ox_ctx *c, const char *kind) {
  gc_graph *g = c->g;
  int axes[GC_MAX_DIMS], na = 0;
  bool noop = false;
  bool from_input = !strcmp(kind, "Sum") ? c->opset >= 13 : c->opset >= 18;
  gc_status st = reduce_axes(c, from_input, axes, &na, &noop);
  if (st) return st;
  int keep = (int)ox_attr_int(c, "keepdims", 1);
  gc_value x = ox_in(c, 0);
  if (noop) return out0(c, gc_expand(g, x, gc_value_shape(g, x)));
  if (gc_value_dtype(g, x) != GC_F32) {
    char what[64];
    snprintf(what, sizeof what, "Reduce%s (int)", kind);
    return ox_unsupported(c, what, "reduction of %s data", gc_dtype_name(gc_value_dtype(g, x)));
  }
  gc_value y;
  if (!strcmp(kind, "Sum"))
    y = gc_sum(g, x, axes, na, keep);
  else if (!strcmp(kind, "Mean"))
    y = gc_mean(g, x, axes, na, keep);
  else if (!strcmp(kind, "Max"))
    y = gc_max(g, x, axes, na, keep);
  else if (!strcmp(kind, "Min"))
    y = gc_min(g, x, axes, na, keep);
  else if (!strcmp(kind, "L1"))
    y = gc_sum(g, gc_abs(g, x), axes, na, keep);
  else if (!strcmp(kind, "L2"))
    y = gc_sqrt(g, gc_sum(g, gc_mul(g, x, x), axes, na, keep));
  else if (!strcmp(kind, "SumSquare"))
    y = gc_sum(g, gc_mul(g, x, x), axes, na, keep);
  else if (!strcmp(kind, "LogSum"))
    y = gc_log(g, gc_sum(g, x, axes, na, keep));
  else if (!strcmp(kind, "LogSumExp"))
    y = gc_logsumexp(g, x, axes, na, keep);
  else
    y = gc_prod(g, x, axes, na, keep);
  return out0(c, y);
}

#define REDUCE(NAME, KIND)                                                  \
  static gc_status map_reduce_##NAME(ox_ctx *c, const Onnx__NodeProto *n) { \
    return reduce(c, KIND);                                                 \
  }
REDUCE(sum, "Sum")
REDUCE(mean, "Mean")
REDUCE(max, "Max")
REDUCE(min, "Min")
REDUCE(l1, "L1")
REDUCE(l2, "L2")
REDUCE(sum_square, "SumSquare")
REDUCE(log_sum, "LogSum")
REDUCE(log_sum_exp, "LogSumExp")
REDUCE(prod, "Prod")

/* Softmax/LogSoftmax: before opset 13 the input is coerced to 2-D at axis
 * (default 1); from 13 it works along axis (default -1). */
static gc_status softmax(ox_ctx *c, bool log) {
  gc_graph *g = c->g;
  gc_value x = ox_in(c, 0);
  gc_shape s = gc_value_shape(g, x);
  if (c->opset >= 13) {
    int ax = norm_axis(ox_attr_int(c, "axis", -1), s.ndim);
    if (ax < 0) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
    return out0(c, log ? gc_log_softmax(g, x, ax) : gc_softmax(g, x, ax));
  }
  int ax = s.ndim ? norm_axis(ox_attr_int(c, "axis", 1), s.ndim) : 0;
  if (ax < 0) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < s.ndim; i++) *(i < ax ? &outer : &inner) *= s.dim[i];
  gc_value f = gc_reshape(g, x, gc_shape2(outer, inner));
  f = log ? gc_log_softmax(g, f, 1) : gc_softmax(g, f, 1);
  return out0(c, gc_reshape(g, f, s));
}
static gc_status map_softmax(ox_ctx *c, const Onnx__NodeProto *n) { return softmax(c, false); }
static gc_status map_log_softmax(ox_ctx *c, const Onnx__NodeProto *n) { return softmax(c, true); }

/* -------------------------------------------------- reshape-like ops */

/* The output shape of Reshape/Flatten/Squeeze/Unsqueeze for input shape s. */
static gc_status reshape_target(ox_ctx *c, const char *op, gc_shape s, gc_shape *out) {
  int64_t v[GC_MAX_DIMS + 1];
  int cnt = 0;
  gc_status st;
  gc_shape r = {0, {0}};
  if (!strcmp(op, "Reshape")) {
    if (c->opset < 5) {
      cnt = ox_attr_ints(c, "shape", v, GC_MAX_DIMS);
    } else if ((st = ox_ints_in(c, 1, v, GC_MAX_DIMS, &cnt))) {
      return st;
    }
    if (cnt < 0 || cnt > GC_MAX_DIMS) return ox_err(c, GC_ERR_SHAPE, "bad target shape");
    bool allowzero = ox_attr_int(c, "allowzero", 0) != 0;
    r.ndim = cnt;
    for (int i = 0; i < cnt; i++) {
      if (v[i] == 0 && !allowzero) {
        if (i >= s.ndim) return ox_err(c, GC_ERR_SHAPE, "0 in the target copies a missing dim");
        v[i] = s.dim[i];
      }
      if (v[i] < -1) return ox_err(c, GC_ERR_SHAPE, "bad dim %lld in the target", (long long)v[i]);
      r.dim[i] = v[i];
    }
    /* Resolve -1 here so that host folding sees the real shape. */
    int64_t known = 1, total = gc_shape_numel(s);
    int infer = -1;
    for (int i = 0; i < cnt; i++) {
      if (r.dim[i] == -1) {
        if (infer >= 0) return ox_err(c, GC_ERR_SHAPE, "two -1 dims in the target");
        infer = i;
      } else {
        known *= r.dim[i];
      }
    }
    if (infer >= 0) r.dim[infer] = known > 0 && total % known == 0 ? total / known : -2;
  } else if (!strcmp(op, "Flatten")) {
    int ax = (int)ox_attr_int(c, "axis", 1);
    if (ax < 0) ax += s.ndim;
    if (ax < 0 || ax > s.ndim) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
    int64_t a = 1, b = 1;
    for (int i = 0; i < s.ndim; i++) *(i < ax ? &a : &b) *= s.dim[i];
    r = gc_shape2(a, b);
  } else {
    bool unsq = !strcmp(op, "Unsqueeze");
    if (c->opset >= 13 && (ox_has(c, 1) || unsq)) {
      if ((st = ox_ints_in(c, 1, v, GC_MAX_DIMS, &cnt))) return st;
    } else if ((cnt = ox_attr_ints(c, "axes", v, GC_MAX_DIMS)) < 0) {
      cnt = 0;
    }
    if (cnt > GC_MAX_DIMS) return ox_err(c, GC_ERR_SHAPE, "too many axes");
    int rank = unsq ? s.ndim + cnt : s.ndim;
    if (rank > GC_MAX_DIMS)
      return ox_err(c, GC_ERR_SHAPE, "result has more than %d dims", GC_MAX_DIMS);
    unsigned mask = 0;
    for (int i = 0; i < cnt; i++) {
      int a = norm_axis(v[i], rank);
      if (a < 0 || (mask & (1u << a)))
        return ox_err(c, GC_ERR_SHAPE, "bad axis %lld", (long long)v[i]);
      mask |= 1u << a;
    }
    if (unsq) {
      for (int i = 0, k = 0; i < rank; i++) r.dim[r.ndim++] = mask & (1u << i) ? 1 : s.dim[k++];
    } else {
      for (int i = 0; i < s.ndim; i++) {
        bool drop = cnt ? (mask >> i) & 1 : s.dim[i] == 1;
        if (drop && s.dim[i] != 1)
          return ox_err(c, GC_ERR_SHAPE, "cannot squeeze dim %d of size %lld", i,
                        (long long)s.dim[i]);
        if (!drop) r.dim[r.ndim++] = s.dim[i];
      }
    }
  }
  *out = r;
  return GC_OK;
}

static gc_status map_reshape_like(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_shape r;
  gc_status st = reshape_target(c, n->op_type, ox_in_shape(c, 0), &r);
  if (st) return st;
  return out0(c, gc_reshape(c->g, ox_in(c, 0), r));
}

static gc_status fold_reshape_like(ox_ctx *c, const Onnx__NodeProto *n, bool *done) {
  gc_shape r;
  const gc_tensor *x = ox_known(c, 0);
  gc_status st = reshape_target(c, n->op_type, x->shape, &r);
  if (st) return st;
  if (gc_shape_numel(r) != gc_shape_numel(x->shape)) return GC_OK; /* map reports it */
  for (int i = 0; i < r.ndim; i++)
    if (r.dim[i] < 0) return GC_OK;
  *done = true;
  return ox_out_known(c, 0, copy_reshaped(x, r), ox_in_type(c, 0));
}

static gc_status fold_identity(ox_ctx *c, const Onnx__NodeProto *n, bool *done) {
  *done = true;
  const gc_tensor *x = ox_known(c, 0);
  return ox_out_known(c, 0, copy_reshaped(x, x->shape), ox_in_type(c, 0));
}

static gc_status map_transpose(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_value x = ox_in(c, 0);
  int r = gc_value_shape(c->g, x).ndim;
  int64_t p[GC_MAX_DIMS + 1];
  int perm[GC_MAX_DIMS];
  int cnt = ox_attr_ints(c, "perm", p, GC_MAX_DIMS);
  if (cnt >= 0 && cnt != r)
    return ox_err(c, GC_ERR_SHAPE, "perm has %d entries for rank %d", cnt, r);
  for (int i = 0; i < r; i++) perm[i] = cnt >= 0 ? (int)p[i] : r - 1 - i;
  return out0(c, gc_transpose(c->g, x, perm));
}

/* Expand broadcasts both ways: the result is broadcast(x.shape, shape). */
static gc_status map_expand(ox_ctx *c, const Onnx__NodeProto *n) {
  int64_t v[GC_MAX_DIMS + 1];
  int cnt;
  gc_status st = ox_ints_in(c, 1, v, GC_MAX_DIMS, &cnt);
  if (st) return st;
  gc_shape t = gc_shapen(cnt, v), r;
  gc_value x = ox_in(c, 0);
  if (!ir_broadcast_shapes(gc_value_shape(c->g, x), t, &r))
    return ox_err(c, GC_ERR_SHAPE, "shapes do not broadcast");
  return out0(c, gc_expand(c->g, x, r));
}

/* ------------------------------------------- shape computations (host) */

static gc_tensor *ints_tensor(const int64_t *v, int n, bool scalar) {
  gc_tensor *t = tensor_new(GC_I64, scalar ? gc_shape0() : gc_shape1(n));
  if (t && n) memcpy(t->data, v, sizeof *v * (size_t)n);
  return t;
}

static gc_status map_shape(ox_ctx *c, const Onnx__NodeProto *n) {
  gc_shape s = ox_in_shape(c, 0);
  int64_t st = ox_attr_int(c, "start", 0), en = ox_attr_int(c, "end", s.ndim);
  if (c->opset < 15) st = 0, en = s.ndim;
  if (st < 0) st += s.ndim;
  if (en < 0) en += s.ndim;
  st = st < 0 ? 0 : st > s.ndim ? s.ndim : st;
  en = en < 0 ? 0 : en > s.ndim ? s.ndim : en;
  if (en < st) en = st;
  return ox_out_known(c, 0, ints_tensor(s.dim + st, (int)(en - st), false), OX_INT64);
}

static gc_status map_size(ox_ctx *c, const Onnx__NodeProto *n) {
  int64_t k = gc_shape_numel(ox_in_shape(c, 0));
  return ox_out_known(c, 0, ints_tensor(&k, 1, true), OX_INT64);
}

static gc_status map_constant(ox_ctx *c, const Onnx__NodeProto *n) {
  const Onnx__AttributeProto *a;
  gc_tensor *t = NULL;
  gc_status st;
  if ((a = ox_attr(c, "value")) && a->t) {
    if ((st = ox_tensor_from_proto(a->t, "value", true, &t)))
      return st == GC_ERR_UNSUPPORTED ? ox_unsupported(c, "Constant (dtype)", "%s", gc_last_error())
                                      : ox_err(c, st, "%s", gc_last_error());
    return ox_out_known(c, 0, t, a->t->data_type);
  }
  if ((a = ox_attr(c, "value_float")) && a->has_f) {
    if (gc_tensor_new(NULL, GC_F32, gc_shape0(), &a->f, &t)) return GC_ERR_NOMEM;
    return ox_out_known(c, 0, t, OX_FLOAT);
  }
  if ((a = ox_attr(c, "value_floats"))) {
    if (gc_tensor_new(NULL, GC_F32, gc_shape1((int64_t)a->n_floats), a->floats, &t))
      return GC_ERR_NOMEM;
    return ox_out_known(c, 0, t, OX_FLOAT);
  }
  if ((a = ox_attr(c, "value_int")) && a->has_i)
    return ox_out_known(c, 0, ints_tensor(&a->i, 1, true), OX_INT64);
  if ((a = ox_attr(c, "value_ints"))) {
    if (a->n_ints > (size_t)FOLD_MAX) return ox_err(c, GC_ERR_FORMAT, "value_ints is too long");
    return ox_out_known(c, 0, ints_tensor(a->ints, (int)a->n_ints, false), OX_INT64);
  }
  return ox_unsupported(c, "Constant (sparse/string)", "a Constant without a dense numeric value");
}

static const gc_tensor *ox_zero_f32(void) {
  static float zero = 0;
  static const gc_tensor z = {NULL, GC_F32, {0, {0}}, &zero};
  return &z;
}

static gc_status map_constant_of_shape(ox_ctx *c, const Onnx__NodeProto *n) {
  int64_t v[GC_MAX_DIMS + 1];
  int cnt;
  gc_status st = ox_ints_in(c, 0, v, GC_MAX_DIMS, &cnt);
  if (st) return st;
  gc_shape s = gc_shapen(cnt, v);
  for (int i = 0; i < cnt; i++)
    if (v[i] < 0) return ox_err(c, GC_ERR_SHAPE, "negative dim");
  const Onnx__AttributeProto *a = ox_attr(c, "value");
  gc_tensor *val = NULL;
  int type = OX_FLOAT;
  if (a && a->t) {
    if ((st = ox_tensor_from_proto(a->t, "value", true, &val)))
      return ox_unsupported(c, "ConstantOfShape (dtype)", "%s", gc_last_error());
    type = a->t->data_type;
    if (gc_shape_numel(val->shape) != 1) {
      gc_tensor_free(val);
      return ox_err(c, GC_ERR_FORMAT, "value must have one element");
    }
  }
  if (gc_shape_numel(s) > FOLD_MAX) {
    /* Too large to hold on the host: a broadcast scalar in the graph. */
    gc_tensor *one = copy_reshaped(val ? val : ox_zero_f32(), gc_shape0());
    gc_value v = one ? ox_const_value(c, one) : (gc_value){-1};
    gc_tensor_free(one);
    gc_tensor_free(val);
    return ox_out(c, 0, gc_expand(c->g, v, s), type);
  }
  gc_tensor *r;
  if (gc_tensor_new(NULL, val ? val->dtype : GC_F32, s, NULL, &r)) {
    gc_tensor_free(val);
    return ox_err(c, GC_ERR_SHAPE, "%s", gc_last_error());
  }
  int64_t total = gc_shape_numel(s);
  for (int64_t i = 0; val && i < total; i++) set_f(r, i, get_f(val, 0));
  if (val && val->dtype == GC_I64)
    for (int64_t i = 0; i < total; i++) set_i(r, i, get_i(val, 0));
  gc_tensor_free(val);
  return ox_out_known(c, 0, r, type);
}

static gc_status map_range(ox_ctx *c, const Onnx__NodeProto *n) {
  const gc_tensor *a = ox_host_value(c, 0), *b = ox_host_value(c, 1), *d = ox_host_value(c, 2);
  if (!a || !b || !d) return ox_unsupported(c, "Range", "start, limit and delta must be constants");
  if (gc_shape_numel(a->shape) != 1 || gc_shape_numel(b->shape) != 1 ||
      gc_shape_numel(d->shape) != 1)
    return ox_err(c, GC_ERR_SHAPE, "start, limit and delta must have one element each");
  double s = get_f(a, 0), l = get_f(b, 0), dl = get_f(d, 0);
  if (dl == 0) return ox_err(c, GC_ERR_SHAPE, "delta is 0");
  double cnt = ceil((l - s) / dl);
  if (cnt < 0) cnt = 0;
  if (cnt > FOLD_MAX) return ox_err(c, GC_ERR_SHAPE, "range too long");
  gc_tensor *r = tensor_new(a->dtype, gc_shape1((int64_t)cnt));
  if (!r) return GC_ERR_NOMEM;
  for (int64_t i = 0; i < (int64_t)cnt; i++) {
    if (a->dtype == GC_F32)
      set_f(r, i, (float)s + (float)i * (float)dl);
    else
      set_i(r, i, get_i(a, 0) + i * get_i(d, 0));
  }
  return ox_out_known(c, 0, r, ox_in_type(c, 0));
}

/* Gather on host values (along axis, negative indices wrap). */
static gc_status fold_gather(ox_ctx *c, const Onnx__NodeProto *n, bool *done) {
  const gc_tensor *x = ox_known(c, 0), *idx = ox_known(c, 1);
  int r = x->shape.ndim;
  int ax = norm_axis(ox_attr_int(c, "axis", 0), r);
  if (ax < 0) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  if (r - 1 + idx->shape.ndim > GC_MAX_DIMS)
    return ox_err(c, GC_ERR_SHAPE, "result has too many dims");
  gc_shape s = {0, {0}};
  for (int i = 0; i < ax; i++) s.dim[s.ndim++] = x->shape.dim[i];
  for (int i = 0; i < idx->shape.ndim; i++) s.dim[s.ndim++] = idx->shape.dim[i];
  for (int i = ax + 1; i < r; i++) s.dim[s.ndim++] = x->shape.dim[i];
  if (gc_shape_numel(s) > FOLD_MAX) return GC_OK;
  int64_t outer = 1, inner = 1, na = x->shape.dim[ax], ni = gc_shape_numel(idx->shape);
  for (int i = 0; i < ax; i++) outer *= x->shape.dim[i];
  for (int i = ax + 1; i < r; i++) inner *= x->shape.dim[i];
  gc_tensor *o = tensor_new(x->dtype, s);
  if (!o) return GC_ERR_NOMEM;
  size_t es = gc_dtype_size(x->dtype);
  for (int64_t a = 0; a < outer; a++)
    for (int64_t j = 0; j < ni; j++) {
      int64_t k = get_i(idx, j);
      if (k < 0) k += na;
      if (k < 0 || k >= na) {
        gc_tensor_free(o);
        return ox_err(c, GC_ERR_SHAPE, "index %lld out of range [0, %lld)",
                      (long long)get_i(idx, j), (long long)na);
      }
      memcpy((char *)o->data + ((a * ni + j) * inner) * es,
             (char *)x->data + ((a * na + k) * inner) * es, (size_t)inner * es);
    }
  *done = true;
  return ox_out_known(c, 0, o, ox_in_type(c, 0));
}

static gc_status fold_concat(ox_ctx *c, const Onnx__NodeProto *n, bool *done) {
  const gc_tensor *x0 = ox_known(c, 0);
  if (!x0) return GC_OK;
  int r = x0->shape.ndim;
  int ax = norm_axis(ox_attr_int(c, "axis", 0), r);
  if (ax < 0) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  gc_shape s = x0->shape;
  s.dim[ax] = 0;
  for (int k = 0; k < ox_nin(c); k++) {
    const gc_tensor *x = ox_known(c, k);
    if (!x) continue;
    if (x->shape.ndim != r || x->dtype != x0->dtype)
      return ox_err(c, GC_ERR_SHAPE, "inputs differ in rank or dtype");
    for (int i = 0; i < r; i++)
      if (i != ax && x->shape.dim[i] != s.dim[i])
        return ox_err(c, GC_ERR_SHAPE, "inputs differ in dim %d", i);
    s.dim[ax] += x->shape.dim[ax];
    if (s.dim[ax] > FOLD_MAX) return GC_OK;
  }
  if (gc_shape_numel(s) > FOLD_MAX) return GC_OK;
  gc_tensor *o = tensor_new(x0->dtype, s);
  if (!o) return GC_ERR_NOMEM;
  int64_t outer = 1, inner = 1, off = 0;
  for (int i = 0; i < ax; i++) outer *= s.dim[i];
  for (int i = ax + 1; i < r; i++) inner *= s.dim[i];
  size_t es = gc_dtype_size(o->dtype);
  for (int k = 0; k < ox_nin(c); k++) {
    const gc_tensor *x = ox_known(c, k);
    if (!x) continue;
    int64_t w = x->shape.dim[ax] * inner;
    for (int64_t a = 0; a < outer; a++)
      memcpy((char *)o->data + (a * s.dim[ax] * inner + off) * es, (char *)x->data + a * w * es,
             (size_t)w * es);
    off += w;
  }
  *done = true;
  return ox_out_known(c, 0, o, ox_in_type(c, 0));
}

/* Host slice of x along axes: out[i] = x[start + i * step]. */
static gc_tensor *slice_host(const gc_tensor *x, const int64_t *start, const int64_t *step,
                             gc_shape s) {
  gc_tensor *o = tensor_new(x->dtype, s);
  if (!o) return NULL;
  int64_t xs[GC_MAX_DIMS], total = gc_shape_numel(s);
  strides(x->shape, xs);
  size_t es = gc_dtype_size(x->dtype);
  for (int64_t i = 0; i < total; i++) {
    int64_t rem = i, src = 0;
    for (int d = s.ndim - 1; d >= 0; d--) {
      int64_t k = rem % s.dim[d];
      rem /= s.dim[d];
      src += (start[d] + k * step[d]) * xs[d];
    }
    memcpy((char *)o->data + i * es, (char *)x->data + src * es, es);
  }
  return o;
}

/* Slice parameters (attributes before opset 10, inputs after) resolved
 * against shape xs into per-dim start, step and output shape. */
gc_status ox_slice_params(ox_ctx *c, gc_shape xs, int64_t *start, int64_t *step, gc_shape *out) {
  int64_t st[GC_MAX_DIMS + 1], en[GC_MAX_DIMS + 1], ax[GC_MAX_DIMS + 1], sp[GC_MAX_DIMS + 1];
  int ns, ne, na = -1, np = -1;
  gc_status e;
  if (c->opset < 10) {
    ns = ox_attr_ints(c, "starts", st, GC_MAX_DIMS);
    ne = ox_attr_ints(c, "ends", en, GC_MAX_DIMS);
    na = ox_attr_ints(c, "axes", ax, GC_MAX_DIMS);
  } else {
    if ((e = ox_ints_in(c, 1, st, GC_MAX_DIMS, &ns)) ||
        (e = ox_ints_in(c, 2, en, GC_MAX_DIMS, &ne)))
      return e;
    if (ox_has(c, 3) && (e = ox_ints_in(c, 3, ax, GC_MAX_DIMS, &na))) return e;
    if (ox_has(c, 4) && (e = ox_ints_in(c, 4, sp, GC_MAX_DIMS, &np))) return e;
  }
  if (ns < 0 || ns != ne || ns > GC_MAX_DIMS || (na >= 0 && na != ns) || (np >= 0 && np != ns))
    return ox_err(c, GC_ERR_SHAPE, "starts, ends, axes and steps differ in length");
  *out = xs;
  for (int d = 0; d < xs.ndim; d++) start[d] = 0, step[d] = 1;
  for (int i = 0; i < ns; i++) {
    int d = norm_axis(na >= 0 ? ax[i] : i, xs.ndim);
    int64_t k = np >= 0 ? sp[i] : 1, dim = xs.dim[d];
    if (d < 0 || k == 0) return ox_err(c, GC_ERR_SHAPE, "bad axis or zero step");
    int64_t b = st[i], f = en[i];
    if (b < 0) b += dim;
    if (f < 0 && f > INT64_MIN / 2) f += dim;
    if (k > 0) {
      b = b < 0 ? 0 : b > dim ? dim : b;
      f = f < 0 ? 0 : f > dim ? dim : f;
      out->dim[d] = f > b ? (f - b + k - 1) / k : 0;
    } else {
      b = b < 0 ? 0 : b > dim - 1 ? dim - 1 : b;
      f = f < -1 ? -1 : f > dim - 1 ? dim - 1 : f;
      out->dim[d] = b > f ? (b - f + (-k) - 1) / (-k) : 0;
    }
    start[d] = b;
    step[d] = k;
  }
  return GC_OK;
}

static gc_status fold_slice(ox_ctx *c, const Onnx__NodeProto *n, bool *done) {
  const gc_tensor *x = ox_known(c, 0);
  int64_t start[GC_MAX_DIMS], step[GC_MAX_DIMS];
  gc_shape s;
  gc_status st = ox_slice_params(c, x->shape, start, step, &s);
  if (st) return st;
  *done = true;
  return ox_out_known(c, 0, slice_host(x, start, step, s), ox_in_type(c, 0));
}

/* Split sizes along an axis of length len for the node's outputs: the
 * "split" attribute before opset 13, input 1 after; equal parts if
 * absent (opset 18's num_outputs gives the last part the remainder). */
gc_status ox_split_sizes(ox_ctx *c, int64_t len, int64_t *sz, int max) {
  int cnt = -1, no = ox_nout(c);
  if (no > max) return ox_err(c, GC_ERR_FORMAT, "too many outputs");
  gc_status st;
  if (c->opset >= 13 && ox_has(c, 1)) {
    if ((st = ox_ints_in(c, 1, sz, max, &cnt))) return st;
  } else if (c->opset < 13) {
    cnt = ox_attr_ints(c, "split", sz, max);
  }
  if (cnt < 0) {
    if (!no) return ox_err(c, GC_ERR_SHAPE, "no outputs");
    int64_t part = (len + no - 1) / no;
    if (c->opset < 18 && len % no) return ox_err(c, GC_ERR_SHAPE, "cannot split evenly");
    for (int i = 0; i < no; i++) sz[i] = part * (i + 1) <= len ? part : len - part * i;
    cnt = no;
  }
  int64_t total = 0;
  for (int i = 0; i < cnt; i++) total += sz[i] >= 0 ? sz[i] : -1;
  if (cnt != no || total != len) return ox_err(c, GC_ERR_SHAPE, "split sizes do not add up");
  return GC_OK;
}

static gc_status fold_split(ox_ctx *c, const Onnx__NodeProto *n, bool *done) {
  const gc_tensor *x = ox_known(c, 0);
  int ax = norm_axis(ox_attr_int(c, "axis", 0), x->shape.ndim);
  if (ax < 0) return ox_err(c, GC_ERR_SHAPE, "axis out of range");
  int64_t sz[64];
  gc_status st = ox_split_sizes(c, x->shape.dim[ax], sz, 64);
  if (st) return st;
  int64_t start[GC_MAX_DIMS] = {0}, step[GC_MAX_DIMS];
  for (int d = 0; d < GC_MAX_DIMS; d++) step[d] = 1;
  for (int i = 0; i < ox_nout(c); i++) {
    gc_shape s = x->shape;
    s.dim[ax] = sz[i];
    if ((st = ox_out_known(c, i, slice_host(x, start, step, s), ox_in_type(c, 0)))) return st;
    start[ax] += sz[i];
  }
  *done = true;
  return GC_OK;
}

/* ------------------------------------------------------------ the table */

static const ox_op table[] = {
    /* elementwise */
    {"Relu", map_relu, NULL},
    {"Sigmoid", map_sigmoid, NULL},
    {"Tanh", map_tanh, NULL},
    {"Exp", map_exp, NULL},
    {"Log", map_log, NULL},
    {"Sqrt", map_sqrt, NULL},
    {"Neg", map_neg, fold_arith},
    {"Abs", map_abs, NULL},
    {"Reciprocal", map_reciprocal, NULL},
    {"Sign", map_sign, NULL},
    {"Softplus", map_softplus, NULL},
    {"Softsign", map_softsign, NULL},
    {"Sin", map_sin, NULL},
    {"Cos", map_cos, NULL},
    {"Tan", map_tan, NULL},
    {"Asin", map_asin, NULL},
    {"Acos", map_acos, NULL},
    {"Atan", map_atan, NULL},
    {"Sinh", map_sinh, NULL},
    {"Cosh", map_cosh, NULL},
    {"Asinh", map_asinh, NULL},
    {"Acosh", map_acosh, NULL},
    {"Atanh", map_atanh, NULL},
    {"LeakyRelu", map_leaky_relu, NULL},
    {"PRelu", map_prelu, NULL},
    {"Elu", map_elu, NULL},
    {"Celu", map_celu, NULL},
    {"Selu", map_selu, NULL},
    {"ThresholdedRelu", map_thresholded_relu, NULL},
    {"HardSigmoid", map_hard_sigmoid, NULL},
    {"HardSwish", map_hard_swish, NULL},
    {"Clip", map_clip, NULL},
    {"Add", map_add, fold_arith},
    {"Sub", map_sub, fold_arith},
    {"Mul", map_mul, fold_arith},
    {"Div", map_div, fold_arith},
    {"Equal", map_equal, fold_arith},
    {"Greater", map_greater, NULL},
    {"GreaterOrEqual", map_greater_equal, NULL},
    {"Less", map_less, NULL},
    {"LessOrEqual", map_less_equal, NULL},
    {"And", map_and, NULL},
    {"Or", map_or, NULL},
    {"Xor", map_xor, NULL},
    {"Not", map_not, NULL},
    {"Mod", map_mod, NULL},
    {"Erf", map_erf, NULL},
    {"Gelu", map_gelu, NULL},
    {"Shrink", map_shrink, NULL},
    {"IsNaN", map_isnan, NULL},
    {"IsInf", map_isinf, NULL},
    {"Floor", map_floor, NULL},
    {"Ceil", map_ceil, NULL},
    {"Round", map_round, NULL},
    {"Max", map_max, NULL},
    {"Min", map_min, NULL},
    {"Sum", map_sum, NULL},
    {"Mean", map_mean, NULL},
    {"Pow", map_pow, NULL},
    {"Identity", map_identity, fold_identity},
    {"Dropout", ox_map_dropout, NULL},
    {"Cast", map_cast, fold_cast},
    {"CastLike", map_cast_like, NULL},
    /* reductions, softmax */
    {"ReduceSum", map_reduce_sum, NULL},
    {"ReduceMean", map_reduce_mean, NULL},
    {"ReduceMax", map_reduce_max, NULL},
    {"ReduceMin", map_reduce_min, NULL},
    {"ReduceL1", map_reduce_l1, NULL},
    {"ReduceL2", map_reduce_l2, NULL},
    {"ReduceSumSquare", map_reduce_sum_square, NULL},
    {"ReduceLogSum", map_reduce_log_sum, NULL},
    {"ReduceLogSumExp", map_reduce_log_sum_exp, NULL},
    {"ReduceProd", map_reduce_prod, NULL},
    {"Softmax", map_softmax, NULL},
    {"LogSoftmax", map_log_softmax, NULL},
    /* movement */
    {"Reshape", map_reshape_like, fold_reshape_like},
    {"Flatten", map_reshape_like, fold_reshape_like},
    {"Squeeze", map_reshape_like, fold_reshape_like},
    {"Unsqueeze", map_reshape_like, fold_reshape_like},
    {"Transpose", map_transpose, NULL},
    {"Expand", map_expand, NULL},
    /* shape computations: host values, folded; the runtime-data mappings
     * of Gather..Split are in onnx_movement.c */
    {"Shape", map_shape, NULL},
    {"Size", map_size, NULL},
    {"Constant", map_constant, NULL},
    {"ConstantOfShape", map_constant_of_shape, NULL},
    {"Range", map_range, NULL},
    {"Gather", ox_map_gather, fold_gather},
    {"Concat", ox_map_concat, fold_concat},
    {"Slice", ox_map_slice, fold_slice},
    {"Split", ox_map_split, fold_split},
    {"GatherElements", ox_map_gather_elements, NULL},
    {"GatherND", ox_map_gather_nd, NULL},
    {"ScatterElements", ox_map_scatter_elements, NULL},
    {"Scatter", ox_map_scatter_elements, NULL},
    {"Tile", ox_map_tile, NULL},
    {"OneHot", ox_map_one_hot, NULL},
    {"ArgMax", ox_map_argmax, NULL},
    {"ArgMin", ox_map_argmin, NULL},
    {"CumSum", ox_map_cumsum, NULL},
    {"Trilu", ox_map_trilu, NULL},
    {"Hardmax", ox_map_hardmax, NULL},
    {"DepthToSpace", ox_map_depth_to_space, NULL},
    {"SpaceToDepth", ox_map_space_to_depth, NULL},
    {"Compress", ox_map_compress, NULL},
    {"EyeLike", ox_map_eye_like, NULL},
    /* neural-network ops (onnx_nn.c) */
    {"MatMul", ox_map_matmul, NULL},
    {"Gemm", ox_map_gemm, NULL},
    {"BatchNormalization", ox_map_batch_norm, NULL},
    {"InstanceNormalization", ox_map_instance_norm, NULL},
    {"LayerNormalization", ox_map_layer_norm, NULL},
    {"MeanVarianceNormalization", ox_map_mvn, NULL},
    {"LpNormalization", ox_map_lp_norm, NULL},
    {"LRN", ox_map_lrn, NULL},
    {"GlobalAveragePool", ox_map_global_avg_pool, NULL},
    {"GlobalMaxPool", ox_map_global_max_pool, NULL},
    {"RNN", ox_map_rnn, NULL},
    {"GRU", ox_map_gru, NULL},
    {"LSTM", ox_map_lstm, NULL},
    {"NegativeLogLikelihoodLoss", ox_map_nll_loss, NULL},
    {"SoftmaxCrossEntropyLoss", ox_map_sce_loss, NULL},
    /* mapped against builders that land with the op branches */
    {"Conv", ox_map_conv, NULL},
    {"ConvTranspose", ox_map_conv_transpose, NULL},
    {"MaxPool", ox_map_max_pool, NULL},
    {"AveragePool", ox_map_avg_pool, NULL},
    {"Pad", ox_map_pad, NULL},
    {"Where", ox_map_where, NULL},
    {"Upsample", ox_map_resize, NULL},
    {"Resize", ox_map_resize, NULL},
};

const ox_op *ox_find_op(const char *type) {
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (!strcmp(table[i].type, type)) return &table[i];
  return NULL;
}
