/* graphc.h — the one public header of graphc, a compute-graph compiler for
 * deep learning: build a graph, differentiate it, compile it to OpenCL (or
 * the reference interpreter) and run it.
 *
 * Conventions (after SQLite's C API):
 * - Handles are opaque: gc_graph, gc_device, gc_program, gc_session,
 *   gc_dataset. Whoever creates destroys; every *_free(NULL) is a no-op.
 * - Builder calls (gc_add, gc_matmul, ...) return a gc_value. On error they
 *   return an invalid value (id < 0) and set a sticky error on the graph: the
 *   first error is kept, later builder calls on that graph do nothing, and
 *   gc_compile refuses the graph. Read it with gc_graph_status/errmsg.
 * - Every other call returns a gc_status and fills out-parameters. On
 *   failure the message (naming the file, op, node or shapes at fault) is
 *   available from gc_last_error() in the calling thread until its next
 *   failing call.
 * - Dimensions are int64_t, byte counts size_t. Tensors are dense and
 *   row-major. */
#ifndef GRAPHC_H
#define GRAPHC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GC_VERSION "0.1.0"

/* ---------------------------------------------------------------- status */

typedef enum gc_status {
  GC_OK = 0,
  GC_ERR_INVALID,     /* a bad argument: null handle, unknown name, bad axis */
  GC_ERR_SHAPE,       /* shapes or dtypes that do not fit the op */
  GC_ERR_NOMEM,       /* host or device allocation failed */
  GC_ERR_IO,          /* a file could not be read or written */
  GC_ERR_FORMAT,      /* a file's content is malformed */
  GC_ERR_NOT_FOUND,   /* device, model, input, output or file not found */
  GC_ERR_OPENCL,      /* an OpenCL call failed; the message names it */
  GC_ERR_BUILD,       /* an OpenCL program failed to build; message has log */
  GC_ERR_UNSUPPORTED, /* an op or feature this backend does not have */
  GC_ERR_INTERNAL     /* a broken invariant inside graphc: a bug */
} gc_status;

/* The message of the calling thread's most recent failure ("" if none). */
const char *gc_last_error(void);
/* Records a message (printf-style) for gc_last_error() and returns s: for
 * code built on this API (models, tools) to report its own failures the
 * way the library does. */
gc_status gc_error(gc_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A short constant name for a status, e.g. "GC_ERR_SHAPE". */
const char *gc_status_name(gc_status s);

/* ------------------------------------------------------- dtypes, shapes */

typedef enum gc_dtype { GC_F32 = 0, GC_I32, GC_I64, GC_BOOL, GC_DTYPE_COUNT } gc_dtype;

size_t gc_dtype_size(gc_dtype t);
const char *gc_dtype_name(gc_dtype t);

#define GC_MAX_DIMS 8

typedef struct gc_shape {
  int ndim; /* 0 for a scalar */
  int64_t dim[GC_MAX_DIMS];
} gc_shape;

gc_shape gc_shape0(void);
gc_shape gc_shape1(int64_t a);
gc_shape gc_shape2(int64_t a, int64_t b);
gc_shape gc_shape3(int64_t a, int64_t b, int64_t c);
gc_shape gc_shape4(int64_t a, int64_t b, int64_t c, int64_t d);
gc_shape gc_shapen(int ndim, const int64_t *dims);
int64_t gc_shape_numel(gc_shape s);
/* Writes e.g. "[64, 784]" into buf (always terminated); returns buf. */
char *gc_shape_str(gc_shape s, char *buf, size_t n);

/* ------------------------------------------------------------- the graph */

typedef struct gc_graph gc_graph;

/* A node's output in a graph. id < 0 means invalid (an earlier error). */
typedef struct gc_value {
  int32_t id;
} gc_value;

static inline int gc_value_ok(gc_value v) { return v.id >= 0; }

gc_graph *gc_graph_new(void);
void gc_graph_free(gc_graph *g);
gc_status gc_graph_status(const gc_graph *g);
const char *gc_graph_errmsg(const gc_graph *g); /* "" when no error */
/* Seed of the parameter initializers (default 0). Initial values are drawn
 * when the parameter is created, so set the seed first. */
void gc_graph_set_seed(gc_graph *g, uint64_t seed);
/* Text listing of the graph, one node per line (the IR printer). */
gc_status gc_graph_print(const gc_graph *g, FILE *out);
int gc_graph_node_count(const gc_graph *g);

gc_shape gc_value_shape(const gc_graph *g, gc_value v);
gc_dtype gc_value_dtype(const gc_graph *g, gc_value v);
/* Finds a named input, parameter, output or named node; invalid if none. */
gc_value gc_find(const gc_graph *g, const char *name);
/* Names a node (for error messages and --dump-after); returns v. */
gc_value gc_set_name(gc_graph *g, gc_value v, const char *name);

/* Parameter initializers. fan_in/fan_out of 0 are derived from the shape:
 * for a 2-D weight [in, out] fan_in = in, fan_out = out; for a conv weight
 * [out, in, kh, kw] fan_in = in*kh*kw, fan_out = out*kh*kw. */
typedef enum gc_init_kind {
  GC_INIT_ZEROS = 0,
  GC_INIT_ONES,
  GC_INIT_CONST,   /* every element = a */
  GC_INIT_UNIFORM, /* U[a, b) */
  GC_INIT_NORMAL,  /* N(mean a, std b) */
  GC_INIT_GLOROT,  /* U(+-sqrt(6 / (fan_in + fan_out))) */
  GC_INIT_HE       /* N(0, sqrt(2 / fan_in)) */
} gc_init_kind;

typedef struct gc_init {
  gc_init_kind kind;
  float a, b;
  int64_t fan_in, fan_out;
} gc_init;

#define GC_ZEROS ((gc_init){GC_INIT_ZEROS, 0, 0, 0, 0})
#define GC_GLOROT ((gc_init){GC_INIT_GLOROT, 0, 0, 0, 0})
#define GC_HE ((gc_init){GC_INIT_HE, 0, 0, 0, 0})

/* Leaves. Names must be unique within a graph. */
gc_value gc_input(gc_graph *g, const char *name, gc_dtype t, gc_shape s);
gc_value gc_param(gc_graph *g, const char *name, gc_shape s, gc_init init);
/* A parameter whose initial value is numel(s) floats copied from data (an
 * imported model's weights, which stay trainable). */
gc_value gc_param_from_data(gc_graph *g, const char *name, gc_shape s, const float *data);
/* A constant tensor; data (numel * dtype size bytes) is copied. */
gc_value gc_constant(gc_graph *g, gc_dtype t, gc_shape s, const void *data);
gc_value gc_scalar(gc_graph *g, float v); /* f32 constant of shape [] */

/* Elementwise, with numpy broadcasting for the binary ops. */
gc_value gc_add(gc_graph *g, gc_value a, gc_value b);
gc_value gc_sub(gc_graph *g, gc_value a, gc_value b);
gc_value gc_mul(gc_graph *g, gc_value a, gc_value b);
gc_value gc_div(gc_graph *g, gc_value a, gc_value b);
gc_value gc_neg(gc_graph *g, gc_value x);
gc_value gc_exp(gc_graph *g, gc_value x);
gc_value gc_log(gc_graph *g, gc_value x);
gc_value gc_sqrt(gc_graph *g, gc_value x);
gc_value gc_relu(gc_graph *g, gc_value x);
gc_value gc_sigmoid(gc_graph *g, gc_value x);
gc_value gc_tanh(gc_graph *g, gc_value x);
/* Heaviside: 1 where x > 0, else 0. Its gradient is zero everywhere. */
gc_value gc_step(gc_graph *g, gc_value x);
/* 1 where a == b (broadcast), else 0, as f32 (a mask to multiply with; see
 * gc_eq for the bool comparison). No gradient. */
gc_value gc_equal(gc_graph *g, gc_value a, gc_value b);
/* Converts between f32, i32, i64 and bool. Float to int truncates toward
 * zero and saturates (NaN gives 0); to bool is "!= 0"; int to int wraps.
 * No gradient through ints or bools. */
gc_value gc_cast(gc_graph *g, gc_value x, gc_dtype to);

/* Reductions over the listed axes (negative counts from the end; naxes = 0
 * means all axes). keepdims keeps reduced axes as size 1. */
gc_value gc_sum(gc_graph *g, gc_value x, const int *axes, int naxes, int keepdims);
gc_value gc_mean(gc_graph *g, gc_value x, const int *axes, int naxes, int keepdims);
gc_value gc_max(gc_graph *g, gc_value x, const int *axes, int naxes, int keepdims);

/* Movement. reshape keeps numel; one dim may be -1. perm = NULL reverses. */
gc_value gc_reshape(gc_graph *g, gc_value x, gc_shape s);
gc_value gc_transpose(gc_graph *g, gc_value x, const int *perm);
/* Broadcasts x to shape s (numpy rules). */
gc_value gc_expand(gc_graph *g, gc_value x, gc_shape s);

/* [.., M, K] x [.., K, N] -> [.., M, N]. The batch axes (all but the
 * last two) of a and b must be equal, or one operand must be 2-D (it is
 * then shared by every batch). */
gc_value gc_matmul(gc_graph *g, gc_value a, gc_value b);

gc_value gc_softmax(gc_graph *g, gc_value x, int axis);
gc_value gc_log_softmax(gc_graph *g, gc_value x, int axis);

/* Losses, each a scalar mean over the batch.
 * cross_entropy: logits [N, C] f32, labels [N] i32 in [0, C). */
gc_value gc_cross_entropy(gc_graph *g, gc_value logits, gc_value labels);
gc_value gc_mse(gc_graph *g, gc_value pred, gc_value target);

/* ---- more elementwise, movement and reduction ops ---- */

/* Unary f32 math (frontend/ops_elem.c). sign and the activations below
 * follow PyTorch's definitions; gradients are PyTorch's too (abs' = sign,
 * clip passes the gradient where lo <= x <= hi). */
gc_value gc_abs(gc_graph *g, gc_value x);
gc_value gc_sign(gc_graph *g, gc_value x); /* -1, 0 or 1; no gradient */
gc_value gc_reciprocal(gc_graph *g, gc_value x);
gc_value gc_erf(gc_graph *g, gc_value x);
/* x * Phi(x); approximate_tanh = 1 uses PyTorch's tanh approximation. */
gc_value gc_gelu(gc_graph *g, gc_value x, int approximate_tanh);
gc_value gc_leaky_relu(gc_graph *g, gc_value x, float alpha);
gc_value gc_elu(gc_graph *g, gc_value x, float alpha);
gc_value gc_selu(gc_graph *g, gc_value x);     /* alpha 1.67326..., scale 1.05070... */
gc_value gc_softplus(gc_graph *g, gc_value x); /* log(1 + exp(x)), computed stably */
gc_value gc_softsign(gc_graph *g, gc_value x); /* x / (1 + |x|) */
/* max(0, min(1, alpha x + beta)): ONNX's 0.2/0.5, PyTorch's 1/6, 0.5. */
gc_value gc_hard_sigmoid(gc_graph *g, gc_value x, float alpha, float beta);
gc_value gc_clip(gc_graph *g, gc_value x, float lo, float hi);
/* Trigonometric and hyperbolic functions and their inverses (radians).
 * Outside their domains (|x| > 1 for asin, acos; x < 1 for acosh; |x| >= 1
 * for atanh) the result is NaN or infinite, as in C. */
gc_value gc_sin(gc_graph *g, gc_value x);
gc_value gc_cos(gc_graph *g, gc_value x);
gc_value gc_tan(gc_graph *g, gc_value x);
gc_value gc_asin(gc_graph *g, gc_value x);
gc_value gc_acos(gc_graph *g, gc_value x);
gc_value gc_atan(gc_graph *g, gc_value x);
gc_value gc_sinh(gc_graph *g, gc_value x);
gc_value gc_cosh(gc_graph *g, gc_value x);
gc_value gc_asinh(gc_graph *g, gc_value x);
gc_value gc_acosh(gc_graph *g, gc_value x);
gc_value gc_atanh(gc_graph *g, gc_value x);

/* Binary with numpy broadcasting. pow: f32 only. minimum/maximum: any
 * dtype (both the same); at ties the gradient is split evenly. */
gc_value gc_pow(gc_graph *g, gc_value a, gc_value b);
gc_value gc_minimum(gc_graph *g, gc_value a, gc_value b);
gc_value gc_maximum(gc_graph *g, gc_value a, gc_value b);
/* Comparisons of two values of one dtype (broadcast), giving GC_BOOL. */
gc_value gc_eq(gc_graph *g, gc_value a, gc_value b);
gc_value gc_greater(gc_graph *g, gc_value a, gc_value b);
gc_value gc_greater_equal(gc_graph *g, gc_value a, gc_value b);
gc_value gc_less(gc_graph *g, gc_value a, gc_value b);
gc_value gc_less_equal(gc_graph *g, gc_value a, gc_value b);
/* Logical ops on GC_BOOL values (broadcast). */
gc_value gc_logical_and(gc_graph *g, gc_value a, gc_value b);
gc_value gc_logical_or(gc_graph *g, gc_value a, gc_value b);
gc_value gc_logical_xor(gc_graph *g, gc_value a, gc_value b);
gc_value gc_logical_not(gc_graph *g, gc_value x);
/* cond (GC_BOOL) ? a : b elementwise, all three broadcast; a and b share a
 * dtype. The gradient goes to a where cond holds, to b elsewhere. */
gc_value gc_where(gc_graph *g, gc_value cond, gc_value a, gc_value b);

/* Slices the listed axes as ONNX Slice does: starts/ends count from the end
 * when negative and are clamped; steps (NULL: all 1) may be negative; axes
 * NULL means 0..n-1. Axes not listed are kept whole. An empty result is an
 * error. */
gc_value gc_slice(gc_graph *g, gc_value x, const int64_t *starts, const int64_t *ends,
                  const int *axes, const int64_t *steps, int n);

typedef enum gc_pad_mode {
  GC_PAD_CONSTANT = 0, /* the value given */
  GC_PAD_REFLECT,      /* mirror without the edge (pads < the axis length) */
  GC_PAD_EDGE          /* repeat the edge element */
} gc_pad_mode;

/* pads: 2 * ndim entries, every axis' "before" then every axis' "after"
 * (ONNX's order), each >= 0. */
gc_value gc_pad(gc_graph *g, gc_value x, const int64_t *pads, gc_pad_mode mode, float value);
/* Joins n (1..16) values of one dtype along axis; other dims must match. */
gc_value gc_concat(gc_graph *g, const gc_value *xs, int n, int axis);
/* Splits x along axis into n parts of sizes[i] (NULL: n equal parts),
 * written to out[0..n). Returns the graph's status. */
gc_status gc_split(gc_graph *g, gc_value x, int axis, const int64_t *sizes, int n, gc_value *out);
/* Removes the listed size-1 axes (naxes = 0: every size-1 axis). */
gc_value gc_squeeze(gc_graph *g, gc_value x, const int *axes, int naxes);
/* Inserts size-1 axes at the listed positions of the result. */
gc_value gc_unsqueeze(gc_graph *g, gc_value x, const int *axes, int naxes);
/* [d0 * .. * d(axis-1), d(axis) * .. * d(n-1)], as ONNX Flatten. */
gc_value gc_flatten(gc_graph *g, gc_value x, int axis);
/* reps[i] copies along axis i (ndim entries, each >= 1). */
gc_value gc_tile(gc_graph *g, gc_value x, const int64_t *reps);
/* Picks slices of data along axis by indices (i32 or i64, any shape): the
 * result is data.shape[:axis] + indices.shape + data.shape[axis+1:].
 * Negative indices count from the end; others out of range give 0. The
 * gradient scatter-adds into data (an embedding's). */
gc_value gc_gather(gc_graph *g, gc_value data, gc_value indices, int axis);
/* indices (i32/i64) -> f32 one-hot rows of depth classes on a new last
 * axis (out-of-range rows are all zero). No gradient. */
gc_value gc_one_hot(gc_graph *g, gc_value indices, int64_t depth);

/* More reductions, with the axes convention of gc_sum. prod's gradient
 * assumes nonzero inputs (product / x). */
gc_value gc_min(gc_graph *g, gc_value x, const int *axes, int naxes, int keepdims);
gc_value gc_prod(gc_graph *g, gc_value x, const int *axes, int naxes, int keepdims);
gc_value gc_logsumexp(gc_graph *g, gc_value x, const int *axes, int naxes, int keepdims);
/* The i64 index of the max / min along axis; ties give the first index,
 * or the last with select_last_index. No gradient. */
gc_value gc_argmax(gc_graph *g, gc_value x, int axis, int keepdims, int select_last_index);
gc_value gc_argmin(gc_graph *g, gc_value x, int axis, int keepdims, int select_last_index);
/* Running sum along axis; exclusive leaves out the element itself,
 * reverse sums from the end. */
gc_value gc_cumsum(gc_graph *g, gc_value x, int axis, int exclusive, int reverse);

/* ---- neural-network ops ---- */

/* Images are NCHW f32. Zero fields mean the defaults (stride 1, no
 * padding, dilation 1, groups 1); a NULL options pointer means all
 * defaults. Output sizes follow PyTorch:
 * OH = floor((H + pad_top + pad_bottom - dilation (kh - 1) - 1) / stride) + 1. */
typedef struct gc_conv2d_opts {
  int stride[2];         /* h, w */
  int padding[4];        /* top, left, bottom, right */
  int dilation[2];       /* h, w */
  int groups;            /* C and O divisible by it; groups = C is depthwise */
  int output_padding[2]; /* conv_transpose2d only: added at the bottom/right, < stride */
} gc_conv2d_opts;

/* x [N, C, H, W], w [O, C/groups, kh, kw] -> [N, O, OH, OW]. */
gc_value gc_conv2d(gc_graph *g, gc_value x, gc_value w, const gc_conv2d_opts *o);
/* x [N, C, L], w [O, C/groups, k] -> [N, O, OL]: conv2d with H = 1 (uses
 * the w entries of stride, dilation and left/right padding). */
gc_value gc_conv1d(gc_graph *g, gc_value x, gc_value w, const gc_conv2d_opts *o);
/* The adjoint of conv2d (PyTorch's ConvTranspose2d): x [N, C, H, W],
 * w [C, O/groups, kh, kw] -> [N, O, (H - 1) stride - pad_top - pad_bottom +
 * dilation (kh - 1) + output_padding + 1, ...]. */
gc_value gc_conv_transpose2d(gc_graph *g, gc_value x, gc_value w, const gc_conv2d_opts *o);

typedef struct gc_pool2d_opts {
  int kernel[2];         /* required: kh, kw */
  int stride[2];         /* 0: the kernel size */
  int padding[4];        /* top, left, bottom, right; every window must keep an input element */
  int dilation[2];       /* max pooling only */
  int ceil_mode;         /* round the output size up (PyTorch's ceil_mode) */
  int count_include_pad; /* average pooling: divide by the padded window size */
} gc_pool2d_opts;

gc_value gc_maxpool2d(gc_graph *g, gc_value x, const gc_pool2d_opts *o);
gc_value gc_avgpool2d(gc_graph *g, gc_value x, const gc_pool2d_opts *o);
/* The flat indices (i32) into x of the maxima gc_maxpool2d(g, x, o) picks,
 * the first maximum of each window in row-major order: (n C + c) H W +
 * h W + w, or with column_major the spatial axes reversed, (n C + c) H W +
 * h + H w (ONNX MaxPool's Indices, storage_order 0 / 1). Not
 * differentiable. */
gc_value gc_maxpool2d_indices(gc_graph *g, gc_value x, const gc_pool2d_opts *o, int column_major);

/* 3-D images are NCDHW f32; each option gains a depth entry in front of
 * the height's, with the conventions of the 2-D ones. */
typedef struct gc_conv3d_opts {
  int stride[3];         /* d, h, w */
  int padding[6];        /* front, top, left, back, bottom, right */
  int dilation[3];       /* d, h, w */
  int groups;            /* C and O divisible by it */
  int output_padding[3]; /* conv_transpose3d only: added at the back/bottom/right, < stride */
} gc_conv3d_opts;

/* x [N, C, D, H, W], w [O, C/groups, kd, kh, kw] -> [N, O, OD, OH, OW]. */
gc_value gc_conv3d(gc_graph *g, gc_value x, gc_value w, const gc_conv3d_opts *o);
/* The adjoint of conv3d (PyTorch's ConvTranspose3d): x [N, C, D, H, W],
 * w [C, O/groups, kd, kh, kw] -> [N, O, (D - 1) stride - pad_front -
 * pad_back + dilation (kd - 1) + output_padding + 1, ...]. */
gc_value gc_conv_transpose3d(gc_graph *g, gc_value x, gc_value w, const gc_conv3d_opts *o);

typedef struct gc_pool3d_opts {
  int kernel[3];         /* required: kd, kh, kw */
  int stride[3];         /* 0: the kernel size */
  int padding[6];        /* front, top, left, back, bottom, right */
  int dilation[3];       /* max pooling only */
  int ceil_mode;         /* round the output size up (PyTorch's ceil_mode) */
  int count_include_pad; /* average pooling: divide by the padded window size */
} gc_pool3d_opts;

gc_value gc_maxpool3d(gc_graph *g, gc_value x, const gc_pool3d_opts *o);
gc_value gc_avgpool3d(gc_graph *g, gc_value x, const gc_pool3d_opts *o);
/* As gc_maxpool2d_indices: (n C + c) D H W + (d H + h) W + w, or with
 * column_major d + D (h + H w) for the position in the plane. */
gc_value gc_maxpool3d_indices(gc_graph *g, gc_value x, const gc_pool3d_opts *o, int column_major);

/* [N, C, H, W] -> [N, C, 1, 1]. */
gc_value gc_global_avgpool2d(gc_graph *g, gc_value x);
gc_value gc_global_maxpool2d(gc_graph *g, gc_value x);
/* Nearest upsampling by integer factors: [N, C, H, W] -> [N, C, H sh, W sw]. */
gc_value gc_upsample_nearest2d(gc_graph *g, gc_value x, int sh, int sw);
/* Bilinear resize to [N, C, oh, ow]; align_corners = 0 is PyTorch's
 * default (half-pixel centres, clamped at the border). */
gc_value gc_resize_bilinear2d(gc_graph *g, gc_value x, int64_t oh, int64_t ow, int align_corners);
/* Bilinear upsampling by integer factors. */
gc_value gc_upsample_bilinear2d(gc_graph *g, gc_value x, int sh, int sw, int align_corners);

/* Batch normalization of x [N, C, ...] over every axis but 1, with
 * gamma, beta, running_mean, running_var [C]. training = 1 normalizes with
 * the batch statistics and updates the running ones in place at the end of
 * each run (running = (1 - momentum) running + momentum batch, the
 * variance unbiased, as PyTorch); training = 0 uses the running ones. The
 * running statistics must be parameters (or state) that no loss reaches. */
gc_value gc_batch_norm(gc_graph *g, gc_value x, gc_value gamma, gc_value beta,
                       gc_value running_mean, gc_value running_var, int training, float momentum,
                       float eps);
/* Layer normalization over the last k axes of x; gamma and beta have
 * the shape of those axes. */
gc_value gc_layer_norm(gc_graph *g, gc_value x, int k, gc_value gamma, gc_value beta, float eps);
/* Instance normalization of x [N, C, ...] over the axes after C, per (n, c),
 * then gamma, beta [C]. */
gc_value gc_instance_norm(gc_graph *g, gc_value x, gc_value gamma, gc_value beta, float eps);

/* Counter-based random numbers: each run draws new numbers (a step
 * counter in device state, "rng.step", advances by one per run), and the
 * same seed gives the same sequence on every backend (uniform draws are
 * bit-identical between OpenCL and the reference). Calls with the same
 * seed in one graph still get different streams. */
gc_value gc_random_uniform(gc_graph *g, gc_shape s, float lo, float hi, uint64_t seed);
gc_value gc_random_normal(gc_graph *g, gc_shape s, float mean, float std, uint64_t seed);
/* Inverted dropout for training: each element is zeroed with probability
 * p and the rest scaled by 1 / (1 - p). Leave it out of inference graphs. */
gc_value gc_dropout(gc_graph *g, gc_value x, float p, uint64_t seed);

/* More losses, each a scalar mean over the batch (axis 0).
 * cross_entropy_soft: logits and target probabilities [N, C]. */
gc_value gc_cross_entropy_soft(gc_graph *g, gc_value logits, gc_value probs);
/* mean of max(x, 0) - x t + log(1 + exp(-|x|)) over every element. */
gc_value gc_bce_with_logits(gc_graph *g, gc_value logits, gc_value targets);
/* mean |pred - target| over every element. */
gc_value gc_l1_loss(gc_graph *g, gc_value pred, gc_value target);
/* KL(N(mu, exp(logvar)) || N(0, 1)) of a VAE's latent [N, D]: summed over
 * D, averaged over N. */
gc_value gc_kl_normal(gc_graph *g, gc_value mu, gc_value logvar);

/* Layers (frontend/layers_nn.c), parameters named after the layer.
 * conv2d_layer: weight "<name>.w" [out, C/groups, kh, kw] (w_init), bias
 * "<name>.b" [out] (zeros). */
gc_value gc_conv2d_layer(gc_graph *g, gc_value x, int64_t out, int kh, int kw,
                         const gc_conv2d_opts *o, gc_init w_init, const char *name);
/* batch_norm_layer: "<name>.gamma" (ones), "<name>.beta" (zeros),
 * "<name>.running_mean" (zeros), "<name>.running_var" (ones), all [C]. */
gc_value gc_batch_norm_layer(gc_graph *g, gc_value x, int training, float momentum, float eps,
                             const char *name);
/* layer_norm_layer: "<name>.gamma" (ones), "<name>.beta" (zeros) over the last k axes. */
gc_value gc_layer_norm_layer(gc_graph *g, gc_value x, int k, float eps, const char *name);

/* Layers (frontend/layers.c), built from the primitives above.
 * linear: x [N, in] -> x W + b, W "<name>.w" [in, out], b "<name>.b" [out]. */
gc_value gc_linear(gc_graph *g, gc_value x, int64_t out, gc_init w_init, const char *name);

/* Marks v as an output readable after a run, under name. */
gc_value gc_output(gc_graph *g, gc_value v, const char *name);
/* Marks v (a scalar) as the loss; also an output named "loss". */
gc_value gc_set_loss(gc_graph *g, gc_value v);

/* In-place update param += delta, run at the end of every step, after every
 * read of param. The building block of hand-written learning rules (the
 * perceptron's) and of running statistics. */
gc_value gc_assign_add(gc_graph *g, gc_value param, gc_value delta);

/* --------------------------------------------------- autodiff, optimizers */

/* Reverse-mode gradients of the loss with respect to every parameter, as
 * ordinary nodes of the graph. Called by the optimizers; call it yourself to
 * read gradients (mark gc_grad(g, p) as an output). Idempotent. */
gc_status gc_differentiate(gc_graph *g);
/* d loss / d v after gc_differentiate; invalid if v does not reach the loss. */
gc_value gc_grad(const gc_graph *g, gc_value v);

typedef struct gc_sgd {
  float lr;
  float momentum; /* 0: plain SGD */
  float weight_decay;
} gc_sgd;

typedef struct gc_adam {
  float lr;
  float beta1, beta2, eps; /* 0 means the defaults 0.9, 0.999, 1e-8 */
  float weight_decay;      /* decoupled (AdamW) when > 0 */
} gc_adam;

/* Differentiate, then add update nodes that change every parameter in place
 * at the end of each run. The learning rate lives in a device scalar:
 * gc_session_set_lr changes it without recompiling. */
gc_status gc_optimize_sgd(gc_graph *g, const gc_sgd *opt);
gc_status gc_optimize_adam(gc_graph *g, const gc_adam *opt);

/* ---------------------------------------------------------------- devices */

typedef struct gc_device gc_device;

typedef struct gc_device_info {
  int index; /* the global index accepted by gc_device_open */
  char platform[128];
  char name[128];
  char vendor[128];
  char version[128];        /* CL_DEVICE_VERSION */
  char driver_version[128]; /* CL_DRIVER_VERSION */
  int is_gpu, is_cpu;
  unsigned compute_units;
  size_t max_work_group_size;
  uint64_t local_mem_bytes;
  uint64_t global_mem_bytes;
  uint64_t max_alloc_bytes;
  unsigned mem_base_align_bits;
  size_t max_parameter_bytes;
} gc_device_info;

/* Lists every OpenCL device of every platform. *count is set to the number
 * found; at most max are written. */
gc_status gc_device_list(gc_device_info *infos, int max, int *count);

/* Opens a device. spec: NULL or "" uses $GRAPHC_DEVICE, else the first
 * device; "ref" is the reference interpreter (host C, the oracle); a
 * number is a global index from gc_device_list; anything else is a
 * case-insensitive substring of "platform name / device name" ("pocl"). */
gc_status gc_device_open(const char *spec, gc_device **out);
void gc_device_free(gc_device *d);
const char *gc_device_name(const gc_device *d);
int gc_device_is_reference(const gc_device *d);

/* -------------------------------------------------------------- compiling */

typedef struct gc_program gc_program;

/* Which GEMM runs a matrix product whose result is stored as it is (no
 * fused epilogue: bias, activation or optimizer update; those always run in
 * graphc's own kernel, the epilogue fused). OpenCL devices only.
 * GC_GEMM_DEFAULT: $GRAPHC_GEMM ("own", "clblast" or "auto"; an unknown
 *   value fails the compile with GC_ERR_INVALID), else auto.
 * GC_GEMM_OWN: graphc's kernel (kernels/gemm.cl) always.
 * GC_GEMM_CLBLAST: CLBlast for every such product; GC_ERR_UNSUPPORTED
 *   ("graphc was built without CLBlast") when the library lacks it.
 * GC_GEMM_AUTO: both are timed on the product's exact shape at compile
 *   time and the faster runs; the decision is kept in the cache directory
 *   (see gc_program_stats.gemm_measured), per device, driver and shape.
 *   Without CLBlast it is GC_GEMM_OWN. */
typedef enum gc_gemm_policy {
  GC_GEMM_DEFAULT = 0,
  GC_GEMM_OWN,
  GC_GEMM_CLBLAST,
  GC_GEMM_AUTO
} gc_gemm_policy;

typedef struct gc_compile_options {
  int no_fuse;             /* one kernel per node */
  int no_plan;             /* every intermediate gets its own arena slot */
  const char *dump_after;  /* a pass name, or "all": print IR after it */
  FILE *dump_to;           /* where dumps go (default stderr) */
  const char *emit_cl_dir; /* write each kernel's source into this dir */
  gc_gemm_policy gemm;     /* GEMM implementation (see gc_gemm_policy) */
  /* Largest arena buffer in bytes; intermediates that would pass it are
   * split over several arenas. 0: the device's largest allocation (no
   * limit on "ref"). */
  size_t max_arena_bytes;
  /* Build the OpenCL program as if no cache had it: past graphc's binary
   * cache (storing nothing) and the driver's (PoCL's is keyed by the
   * preprocessed source, which gets a last line of its own), so compile_seconds is
   * what a compile costs on a fresh machine (graphc compile --stats). */
  int cold;
} gc_compile_options;

/* Runs the pass pipeline on a copy of g and builds it for dev. The program
 * stands alone: g may be freed or changed afterwards. */
gc_status gc_compile(gc_graph *g, gc_device *dev, const gc_compile_options *opt, gc_program **out);
void gc_program_free(gc_program *p);

/* Names of the passes in pipeline order, NULL-terminated. */
const char *const *gc_pass_names(void);

typedef struct gc_program_stats {
  int nodes_before;              /* nodes in the graph handed to gc_compile */
  int nodes_after;               /* nodes after simplification */
  int kernels;                   /* distinct kernels in the program */
  int launches_per_run;          /* kernel launches of one gc_session_run */
  size_t arena_bytes;            /* planned arena for intermediates (all arenas) */
  int arenas;                    /* arena buffers: 1 unless one would pass the
                                    device's largest allocation */
  size_t no_reuse_bytes;         /* sum of all intermediates, no reuse */
  size_t live_lower_bound_bytes; /* largest live set at any kernel */
  size_t persistent_bytes;       /* params, optimizer state, inputs, outputs */
  int postdom_misses;            /* kernels TVM's rule (fuse an elementwise or complex
                                    kernel into its immediate post-dominator through
                                    elementwise kernels) would still fuse: what no
                                    kernel form could hold (passes/postdom.c) */
  double compile_seconds;        /* passes + OpenCL build */
  int cache_hit;                 /* the OpenCL binary came from the cache */
  /* Matrix products (matmul ops; convolutions are not counted) by the
   * implementation that runs them, and how many distinct shapes
   * GC_GEMM_AUTO timed in this compile (0 when every decision came from
   * the cache directory or the policy measured nothing). A CLBlast call is
   * one launch of launches_per_run but no kernel of kernels. */
  int gemm_own, gemm_clblast, gemm_measured;
  /* Device memory a session takes besides the arenas and the persistent
   * tensors: the scratch of the GEMMs that split K in the GPU form (their
   * partial tiles; 0 in the CPU forms and on the reference device). */
  size_t scratch_bytes;
  /* Optimizer updates (Adam, SGD) split into their state's update (in
   * the gradient's product: Adam's moments, SGD's velocity) and a later
   * parameter step, so that activations die sooner; compile keeps
   * the split only where the arena shrinks by at least 10%: the arena
   * with every update whole is arena_bytes_unsplit (0 when no update was
   * a candidate). */
  int updates_split;
  size_t arena_bytes_unsplit;
  /* Groups the fusion pass joined to their immediate post-dominator by
   * TVM's rule (passes/fuse_postdom.c), after its walk and merges over
   * direct readers: producers evaluated inside movement ops or per row of
   * a broadcast. */
  int postdom_joins;
} gc_program_stats;

gc_status gc_program_stats_get(const gc_program *p, gc_program_stats *out);

/* --------------------------------------------------------------- sessions */

typedef struct gc_session gc_session;

/* Allocates device memory and uploads initial parameter values. */
gc_status gc_session_new(gc_program *p, gc_session **out);
void gc_session_free(gc_session *s);

/* Copies bytes of host data into an input (bytes must equal its size).
 * Returns at once; the data is copied before the call returns. */
gc_status gc_session_set_input(gc_session *s, const char *name, const void *data, size_t bytes);
/* Enqueues one run (a training step when the graph has optimizer nodes).
 * Does not wait for the device. */
gc_status gc_session_run(gc_session *s);
/* Waits for queued runs and copies an output (or gradient marked as one). */
gc_status gc_session_get_output(gc_session *s, const char *name, void *data, size_t bytes);
/* Parameters by name: read or overwrite their current values. */
gc_status gc_session_get_param(gc_session *s, const char *name, void *data, size_t bytes);
gc_status gc_session_set_param(gc_session *s, const char *name, const void *data, size_t bytes);
/* Copies every parameter that dst has from src (same names and shapes). */
gc_status gc_session_copy_params(gc_session *dst, gc_session *src);
/* Changes the learning rate of the program's optimizer. */
gc_status gc_session_set_lr(gc_session *s, float lr);
/* Waits for everything queued. */
gc_status gc_session_finish(gc_session *s);

/* Per-kernel device time, for finding where a step's time goes. While
 * profiling is on, every launch records OpenCL profiling events (which
 * costs a little); gc_session_profile waits for the queue and reports the
 * time summed over the runs since profiling was switched on. OpenCL
 * devices only (GC_ERR_UNSUPPORTED on "ref"). */
typedef struct gc_kernel_profile {
  char name[32];  /* kernel name in the program, e.g. "k3" */
  char what[128]; /* its kind and the IR nodes it fuses, shortened */
  double seconds; /* device time summed over its launches */
  int64_t launches;
} gc_kernel_profile;

gc_status gc_session_set_profiling(gc_session *s, int on);
/* Writes at most max entries (one per kernel, in launch order); *count is
 * the number of kernels. */
gc_status gc_session_profile(gc_session *s, gc_kernel_profile *out, int max, int *count);

/* ---------------------------------------------------------------- datasets */

/* A labelled dataset in host memory: n samples of sample_shape f32 features
 * and one i32 label each. */
typedef struct gc_dataset gc_dataset;

/* MNIST-format IDX files (gzipped or not) in dir: train = 1 reads
 * train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz], train = 0
 * the t10k-* pair. Pixels are scaled to [0, 1]. dir NULL means
 * /usr/share/datasets/fashion-mnist. */
gc_status gc_dataset_load_mnist(const char *dir, int train, gc_dataset **out);
/* A numeric CSV with a header line; label_column (negative counts from the
 * end) holds integer class labels, every other column is a feature. */
gc_status gc_dataset_load_csv(const char *path, int label_column, gc_dataset **out);
/* The 150-sample Iris set, built into the library. */
gc_status gc_dataset_load_iris(gc_dataset **out);
/* A dataset made from memory (copied). */
gc_status gc_dataset_from_arrays(int64_t n, gc_shape sample_shape, const float *features,
                                 const int32_t *labels, gc_dataset **out);
void gc_dataset_free(gc_dataset *d);

int64_t gc_dataset_size(const gc_dataset *d);
gc_shape gc_dataset_sample_shape(const gc_dataset *d);
int64_t gc_dataset_sample_numel(const gc_dataset *d);
int gc_dataset_num_classes(const gc_dataset *d); /* max label + 1 */

/* A new dataset of the samples idx[0..n) (each in range). */
gc_status gc_dataset_subset(const gc_dataset *d, const int64_t *idx, int64_t n, gc_dataset **out);
/* Splits after a seeded shuffle: the first round(frac * n) go to *a. */
gc_status gc_dataset_split(const gc_dataset *d, double frac, uint64_t seed, gc_dataset **a,
                           gc_dataset **b);
/* Standardizes every feature of d and of other (may be NULL) with the mean
 * and standard deviation measured on d. */
gc_status gc_dataset_standardize(gc_dataset *d, gc_dataset *other);
/* Copies samples idx[0..n) into x (n * sample_numel floats) and y (n). */
gc_status gc_dataset_gather(const gc_dataset *d, const int64_t *idx, int64_t n, float *x,
                            int32_t *y);
/* Writes a seeded random permutation of 0..n-1 into perm. */
void gc_permutation(uint64_t seed, int64_t n, int64_t *perm);

/* ------------------------------------------------------------------- ONNX */

/* A dense host tensor (ONNX TensorProto files, model inputs and outputs).
 * data holds numel(shape) * gc_dtype_size(dtype) bytes, row-major, owned
 * by the tensor; name may be NULL. Freed with gc_tensor_free. */
typedef struct gc_tensor {
  char *name;
  gc_dtype dtype;
  gc_shape shape;
  void *data;
} gc_tensor;

/* A new tensor; data (may be NULL: zeros) is copied, name may be NULL. */
gc_status gc_tensor_new(const char *name, gc_dtype t, gc_shape s, const void *data,
                        gc_tensor **out);
void gc_tensor_free(gc_tensor *t);
/* Reads a serialized onnx.TensorProto (a test_data_set_N/input_K.pb).
 * float, int64, int32, bool and the smaller int types (widened to i32) are
 * read; double, float16, strings and others fail with GC_ERR_UNSUPPORTED. */
gc_status gc_tensor_read(const char *path, gc_tensor **out);
/* Writes t as a serialized onnx.TensorProto (raw_data, little-endian),
 * through a temporary file renamed into place. */
gc_status gc_tensor_write(const char *path, const gc_tensor *t);
/* A copy of t converted to dtype to (ints to f32 and back, f32 -> i32
 * truncates, anything -> bool is != 0, i64 -> i32 fails on overflow). */
gc_status gc_tensor_convert(const gc_tensor *t, gc_dtype to, gc_tensor **out);

/* One graph input or output of an imported model. */
typedef struct gc_onnx_io {
  char *name;
  int onnx_type;  /* ONNX TensorProto.DataType (1 float, 6 int32, 7 int64, 9 bool) */
  gc_dtype dtype; /* its dtype in the graph (ONNX int64 data becomes i32) */
  gc_shape shape;
  /* inputs: 0 when no node reads it as data (constant-bound, empty or
   * unused). outputs: 0 for an empty output (a zero dim): it has no
   * elements, so no node computes it and the graph has no output of
   * that name; dtype and shape are its whole value. */
  int in_graph;
} gc_onnx_io;

/* A node whose outputs are random by specification (Dropout in training
 * mode). Its draws cannot match another implementation's, so reference
 * outputs can only be checked by the op's defining properties. */
typedef struct gc_onnx_random {
  char op[32]; /* the op type, "" when the model has no such node */
  int x;       /* index into inputs of its data input, -1 if not a graph input */
  int y, mask; /* indices into outputs of its output and mask, -1 if not outputs */
  float ratio; /* Dropout's drop probability */
} gc_onnx_random;

typedef struct gc_onnx_info {
  int64_t ir_version, opset; /* opset of the default domain */
  char *producer;
  int ninputs, noutputs; /* graph inputs exclude initializers */
  gc_onnx_io *inputs, *outputs;
  gc_onnx_random random; /* the first such node */
  /* After a failed import, the first ONNX op type (or feature, e.g.
   * "dtype double") that graphc cannot map; "" otherwise. */
  char unsupported[64];
} gc_onnx_info;

typedef struct gc_onnx_options {
  /* Values of graph inputs known at import time, matched by name (an
   * unnamed value binds the input at its own position in values): the
   * importer folds them like constants (ONNX feeds shapes, axes and pads as
   * inputs in newer opsets; our shapes are static). An input so bound that
   * no node reads as data has in_graph = 0 and needs no set_input. */
  const gc_tensor *const *values;
  int nvalues;
} gc_onnx_options;

/* Imports an ONNX model (opsets 7-17) into a new graph: graph inputs
 * become gc_input of the same name (symbolic dims are an error), float
 * initializers gc_param_from_data (so the model can be fine-tuned), shape
 * computations are folded into static shapes, graph outputs are gc_output
 * under their ONNX names. *info (optional; free with gc_onnx_info_free)
 * describes inputs and outputs; it is also set when the file parsed but an
 * op is unsupported (GC_ERR_UNSUPPORTED), naming the op. Errors name the
 * file, the node and its op. */
gc_status gc_onnx_load(const char *path, gc_graph **out, gc_onnx_info **info);
gc_status gc_onnx_load_with(const char *path, const gc_onnx_options *opt, gc_graph **out,
                            gc_onnx_info **info);
/* The same from a serialized ModelProto in memory (name is for messages). */
gc_status gc_onnx_load_buffer(const void *data, size_t size, const char *name,
                              const gc_onnx_options *opt, gc_graph **out, gc_onnx_info **info);
void gc_onnx_info_free(gc_onnx_info *info);
/* Checks the outputs of the model's random node (info->random; GC_OK when
 * there is none) by the op's defining properties, given the graph inputs'
 * values (matched to info->inputs by name, by position when unnamed) and
 * the graph outputs' (outputs[i] for info->outputs[i]). For Dropout:
 * every element of the output is 0 or x / (1 - ratio), the mask is true
 * exactly where x is kept, and the kept count lies within 4 standard
 * deviations of its binomial mean. GC_ERR_INVALID names the violation. */
gc_status gc_onnx_check_random(const gc_onnx_info *info, const gc_tensor *const *inputs,
                               int ninputs, const gc_tensor *const *outputs, int noutputs);

/* ------------------------------------------------------------------ models */

/* Progress of a training run, reported through gc_train_options.progress. */
typedef struct gc_progress {
  int epoch, epochs;   /* 1-based */
  int64_t step, steps; /* step within the whole run, total steps */
  float loss;          /* latest loss read back (NaN if none yet) */
  double samples_per_second;
  double elapsed_seconds;
  double eta_seconds;
  const char *phase; /* "train", "eval", or a model-specific word */
} gc_progress;

typedef struct gc_train_options {
  int epochs; /* 0: the model's default */
  int batch;  /* 0: default */
  float lr;   /* 0: default */
  uint64_t seed;
  const char *device;   /* gc_device_open spec */
  const char *data_dir; /* NULL: the model's default */
  int64_t train_limit;  /* > 0: use only this many training samples */
  void (*progress)(const gc_progress *p, void *user);
  void *user;
  FILE *report; /* model-specific tables (e.g. per-gate results); may be NULL */
} gc_train_options;

typedef struct gc_train_result {
  int epochs;
  double test_accuracy;
  double final_loss;
  double first_loss; /* mean loss of the first epoch's first reported steps */
  double train_seconds;
  double samples_per_second;
  int64_t train_samples;
  int64_t steps;
} gc_train_result;

typedef struct gc_model {
  const char *name;
  const char *description;
  /* Builds the model's training graph (train = 1, with loss and optimizer)
   * or inference graph (train = 0, output "logits") for a batch size. */
  gc_status (*build)(gc_graph *g, int batch, int train, const gc_train_options *opt);
  /* The model's whole training recipe: data, loop, evaluation. */
  gc_status (*train)(const gc_train_options *opt, gc_train_result *out);
  /* What 0 in gc_train_options.epochs / batch / lr stands for (build also
   * takes batch <= 0 to mean default_batch). */
  int default_epochs;
  int default_batch;
  float default_lr;
} gc_model;

/* The perceptron demo (models/perceptron.c), per gate: out[0..2] are the
 * single-layer perceptron on AND, OR and XOR, out[3] a two-layer net on XOR.
 * Its train() runs this and prints the table to opt->report. */
typedef struct gc_gate_result {
  const char *gate;     /* "AND", "OR", "XOR", "XOR (2-layer)" */
  double accuracy;      /* on the 4 rows of the truth table after the last epoch */
  double best_accuracy; /* the best seen after any epoch */
  int epochs;           /* epochs run: the first with 100% accuracy, or the max */
  int solved;           /* reached 100% */
} gc_gate_result;

gc_status gc_perceptron_run(const gc_train_options *opt, gc_gate_result out[4]);

/* The registry of models (models/registry.c). */
int gc_model_count(void);
const gc_model *gc_model_at(int i);
const gc_model *gc_model_find(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* GRAPHC_H */
