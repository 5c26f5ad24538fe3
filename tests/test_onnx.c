/* test_onnx.c — Check suite for the ONNX importer (frontend/onnx*.c): real
 * backend cases of libonnx-testdata imported and run on the reference
 * interpreter against their expected outputs; truncated and bit-flipped
 * copies of real models, and hand-made hostile models (absurd, negative or
 * huge dims, wrong data sizes, dangling names), must fail with a message
 * naming the file or import cleanly — never crash. Also the TensorProto
 * file round trip. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graphc.h"
#include "onnx.pb-c.h"

#define DATA "/usr/share/libonnx-testdata/data"

static int have_data(void) { return access(DATA "/node/test_relu/model.onnx", R_OK) == 0; }

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)len + 1);
  ck_assert(b != NULL);
  ck_assert(fread(b, 1, (size_t)len, f) == (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return b;
}

/* Runs case DIR's test_data_set_0 on ref and compares every output. */
static void run_case_ref(const char *dir) {
  char path[1024];
  gc_tensor *ins[16] = {0}, *want[16] = {0};
  int nin = 0, nout = 0;
  for (; nin < 16; nin++) {
    snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, nin);
    if (access(path, R_OK)) break;
    ck_assert_msg(gc_tensor_read(path, &ins[nin]) == GC_OK, "%s", gc_last_error());
  }
  for (; nout < 16; nout++) {
    snprintf(path, sizeof path, "%s/test_data_set_0/output_%d.pb", dir, nout);
    if (access(path, R_OK)) break;
    ck_assert_msg(gc_tensor_read(path, &want[nout]) == GC_OK, "%s", gc_last_error());
  }
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  gc_onnx_options opt = {(const gc_tensor *const *)ins, nin};
  gc_graph *g;
  gc_onnx_info *info;
  ck_assert_msg(gc_onnx_load_with(path, &opt, &g, &info) == GC_OK, "%s", gc_last_error());
  ck_assert_int_eq(info->noutputs, nout);
  gc_device *dev;
  gc_program *p;
  gc_session *s;
  ck_assert(gc_device_open("ref", &dev) == GC_OK);
  ck_assert_msg(gc_compile(g, dev, NULL, &p) == GC_OK, "%s", gc_last_error());
  ck_assert(gc_session_new(p, &s) == GC_OK);
  for (int i = 0; i < info->ninputs; i++) {
    if (!info->inputs[i].in_graph) continue;
    gc_tensor *cv;
    ck_assert(gc_tensor_convert(ins[i], info->inputs[i].dtype, &cv) == GC_OK);
    size_t bytes = (size_t)gc_shape_numel(cv->shape) * gc_dtype_size(cv->dtype);
    ck_assert_msg(gc_session_set_input(s, info->inputs[i].name, cv->data, bytes) == GC_OK, "%s",
                  gc_last_error());
    gc_tensor_free(cv);
  }
  ck_assert(gc_session_run(s) == GC_OK);
  for (int i = 0; i < nout; i++) {
    const gc_onnx_io *io = &info->outputs[i];
    gc_tensor *got, *f, *w;
    ck_assert(gc_tensor_new(io->name, io->dtype, io->shape, NULL, &got) == GC_OK);
    size_t bytes = (size_t)gc_shape_numel(got->shape) * gc_dtype_size(got->dtype);
    /* an empty output is not in the graph: its shape is all there is */
    ck_assert_int_eq(io->in_graph, bytes > 0);
    if (io->in_graph)
      ck_assert_msg(gc_session_get_output(s, io->name, got->data, bytes) == GC_OK, "%s",
                    gc_last_error());
    ck_assert_int_eq(got->shape.ndim, want[i]->shape.ndim);
    for (int d = 0; d < got->shape.ndim; d++)
      ck_assert_int_eq(got->shape.dim[d], want[i]->shape.dim[d]);
    ck_assert(gc_tensor_convert(got, GC_F32, &f) == GC_OK);
    ck_assert(gc_tensor_convert(want[i], GC_F32, &w) == GC_OK);
    for (int64_t k = 0; k < gc_shape_numel(f->shape); k++) {
      float a = ((float *)f->data)[k], b = ((float *)w->data)[k];
      ck_assert_msg(fabsf(a - b) <= 1e-5f + 1e-3f * fabsf(b), "%s output %d[%lld]: %g vs %g", dir,
                    i, (long long)k, a, b);
    }
    gc_tensor_free(got);
    gc_tensor_free(f);
    gc_tensor_free(w);
  }
  gc_session_free(s);
  gc_program_free(p);
  gc_device_free(dev);
  gc_graph_free(g);
  gc_onnx_info_free(info);
  for (int i = 0; i < nin; i++) gc_tensor_free(ins[i]);
  for (int i = 0; i < nout; i++) gc_tensor_free(want[i]);
}

static const char *const ref_cases[] = {
    DATA "/node/test_relu",
    DATA "/node/test_gemm_default_matrix_bias",
    DATA "/node/test_softmax_axis_1",
    DATA "/node/test_reshape_reduced_dims",
    DATA "/node/test_lstm_defaults",
    DATA "/node/test_gru_defaults",
    DATA "/node/test_batchnorm_example",
    DATA "/node/test_layer_normalization_2d_axis0",
    DATA "/node/test_reduce_sum_keepdims_random",
    DATA "/pytorch-converted/test_Linear",
    DATA "/pytorch-operator/test_operator_view",
    DATA "/simple/test_single_relu_model",
    DATA "/pytorch-converted/test_Conv2d_depthwise_padded",
    DATA "/node/test_convtranspose_output_shape",
    DATA "/node/test_averagepool_2d_pads_count_include_pad",
    DATA "/node/test_resize_upsample_scales_linear",
    /* Resize through per-axis gathers: cubic, extrapolation, nearest */
    DATA "/node/test_resize_downsample_scales_cubic_A_n0p5_exclude_outside",
    DATA "/node/test_resize_tf_crop_and_resize",
    DATA "/node/test_resize_upsample_sizes_nearest_ceil_half_pixel",
    DATA "/node/test_resize_downsample_scales_linear_align_corners",
    DATA "/node/test_sce_mean_weight_ii_3d_log_prob",
    DATA "/node/test_batchnorm_example_training_mode",
    /* ops on the elementwise/movement builders: bool outputs, int data */
    DATA "/node/test_where_long_example",
    DATA "/node/test_mod_mixed_sign_int32",
    DATA "/node/test_argmax_keepdims_example_select_last_index",
    DATA "/node/test_gather_elements_negative_indices",
    DATA "/node/test_slice_neg_steps",
    DATA "/node/test_reflect_pad",
    DATA "/node/test_onehot_with_axis",
    DATA "/node/test_round",
    /* empty tensors: an empty axes input; empty results kept on the host */
    DATA "/node/test_reduce_sum_default_axes_keepdims_example",
    DATA "/node/test_reduce_sum_empty_axes_input_noop_example",
    DATA "/node/test_slice_start_out_of_bounds",
    DATA "/node/test_split_zero_size_splits",
    DATA "/node/test_reshape_allowzero_reordered",
};

START_TEST(test_ref_cases) {
  if (!have_data()) return;
  for (size_t i = 0; i < sizeof ref_cases / sizeof ref_cases[0]; i++)
    if (access(ref_cases[i], R_OK) == 0) run_case_ref(ref_cases[i]);
}
END_TEST

START_TEST(test_info_and_params) {
  if (!have_data()) return;
  gc_graph *g;
  gc_onnx_info *info;
  ck_assert_msg(gc_onnx_load(DATA "/pytorch-converted/test_Linear/model.onnx", &g, &info) == GC_OK,
                "%s", gc_last_error());
  ck_assert_int_eq(info->ninputs, 1);
  ck_assert_int_eq(info->noutputs, 1);
  ck_assert_int_eq(info->inputs[0].dtype, GC_F32);
  ck_assert(info->opset >= 1);
  /* initializers are parameters: the model can be fine-tuned */
  int params = 0;

  gc_device *dev;
  gc_program *p;
  gc_session *s;
  ck_assert(gc_device_open("ref", &dev) == GC_OK);
  ck_assert(gc_compile(g, dev, NULL, &p) == GC_OK);
  ck_assert(gc_session_new(p, &s) == GC_OK);
  float buf[4096];
  const char *names[] = {"weight", "bias", "1", "2", "fc.weight", "fc.bias"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    gc_value v = gc_find(g, names[k]);
    if (!gc_value_ok(v)) continue;
    size_t bytes = (size_t)gc_shape_numel(gc_value_shape(g, v)) * 4;
    if (bytes <= sizeof buf && gc_session_get_param(s, names[k], buf, bytes) == GC_OK) params++;
  }
  ck_assert_msg(params > 0, "no initializer became a parameter");
  gc_session_free(s);
  gc_program_free(p);
  gc_device_free(dev);
  gc_graph_free(g);
  gc_onnx_info_free(info);
}
END_TEST

START_TEST(test_unsupported_names_op) {
  if (!have_data()) return;
  gc_graph *g;
  gc_onnx_info *info;
  gc_status st = gc_onnx_load(DATA "/node/test_det_2d/model.onnx", &g, &info);
  ck_assert_int_eq(st, GC_ERR_UNSUPPORTED);
  ck_assert(g == NULL);
  ck_assert_str_eq(info->unsupported, "Det");
  ck_assert(strstr(gc_last_error(), "model.onnx") != NULL);
  gc_onnx_info_free(info);
  ck_assert_int_eq(gc_onnx_load("/nonexistent/model.onnx", &g, NULL), GC_ERR_NOT_FOUND);
  ck_assert(strstr(gc_last_error(), "/nonexistent/model.onnx") != NULL);
}
END_TEST

/* Loads a damaged buffer: either a clean error naming it or a valid graph. */
static void load_damaged(const uint8_t *b, size_t n) {
  gc_graph *g = NULL;
  gc_onnx_info *info = NULL;
  gc_status st = gc_onnx_load_buffer(b, n, "damaged.onnx", NULL, &g, &info);
  if (st == GC_OK) {
    ck_assert(g != NULL);
    ck_assert_int_eq(gc_graph_status(g), GC_OK);
  } else {
    ck_assert(g == NULL);
    ck_assert_msg(strstr(gc_last_error(), "damaged.onnx") != NULL, "message without the name: %s",
                  gc_last_error());
  }
  gc_graph_free(g);
  gc_onnx_info_free(info);
}

static const char *const fuzz_models[] = {
    DATA "/node/test_lstm_defaults/model.onnx",
    DATA "/node/test_reshape_extended_dims/model.onnx",
    DATA "/pytorch-converted/test_Linear/model.onnx",
    DATA "/node/test_constantofshape_float_ones/model.onnx",
    DATA "/node/test_layer_normalization_4d_axis1/model.onnx",
    DATA "/pytorch-operator/test_operator_view/model.onnx",
    /* windowed ops: flipped bits land in kernel/stride/pad/group attributes */
    DATA "/pytorch-converted/test_Conv2d_depthwise_padded/model.onnx",
    DATA "/node/test_conv_with_strides_and_asymmetric_padding/model.onnx",
    DATA "/node/test_convtranspose_output_shape/model.onnx",
    DATA "/node/test_maxpool_2d_ceil/model.onnx",
    DATA "/node/test_resize_upsample_scales_nearest/model.onnx",
};

START_TEST(test_truncated_and_flipped) {
  if (!have_data()) return;
  uint64_t rng = 12345;
  for (size_t m = 0; m < sizeof fuzz_models / sizeof fuzz_models[0]; m++) {
    if (access(fuzz_models[m], R_OK)) continue;
    size_t n;
    uint8_t *orig = slurp(fuzz_models[m], &n);
    /* GRAPHC_FUZZ_FLIPS raises the count for a longer hunt. */
    enum { TRUNCATIONS = 40 };
    int FLIPS = getenv("GRAPHC_FUZZ_FLIPS") ? atoi(getenv("GRAPHC_FUZZ_FLIPS")) : 150;
    for (int t = 0; t < TRUNCATIONS; t++) load_damaged(orig, n * (size_t)t / TRUNCATIONS);
    uint8_t *copy = malloc(n);
    for (int f = 0; f < FLIPS; f++) {
      memcpy(copy, orig, n);
      for (int k = 0; k < 1 + f % 3; k++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t bit = (size_t)(rng >> 33) % (n * 8);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      }
      load_damaged(copy, n);
    }
    free(copy);
    free(orig);
  }
}
END_TEST

/* ---- hand-made models: X [2, 3] -> Reshape(X, shape) -> Y ---- */

typedef struct mini {
  Onnx__ModelProto m;
  Onnx__OperatorSetIdProto op;
  Onnx__OperatorSetIdProto *ops[1];
  Onnx__GraphProto g;
  Onnx__NodeProto node;
  Onnx__NodeProto *nodes[1];
  char *node_in[2], *node_out[1];
  Onnx__TensorProto init;
  Onnx__TensorProto *inits[1];
  int64_t init_dims[2], init_data[2];
  Onnx__ValueInfoProto in, out;
  Onnx__ValueInfoProto *ins[1], *outs[1];
  Onnx__TypeProto in_t;
  Onnx__TypeProto__Tensor in_tt;
  Onnx__TensorShapeProto in_shape;
  Onnx__TensorShapeProto__Dimension d0, d1;
  Onnx__TensorShapeProto__Dimension *dims[2];
} mini;

static void mini_init(mini *x) {
  memset(x, 0, sizeof *x);
  x->m = (Onnx__ModelProto)ONNX__MODEL_PROTO__INIT;
  x->op = (Onnx__OperatorSetIdProto)ONNX__OPERATOR_SET_ID_PROTO__INIT;
  x->op.has_version = 1;
  x->op.version = 13;
  x->ops[0] = &x->op;
  x->m.has_ir_version = 1;
  x->m.ir_version = 7;
  x->m.n_opset_import = 1;
  x->m.opset_import = x->ops;
  x->m.graph = &x->g;
  x->g = (Onnx__GraphProto)ONNX__GRAPH_PROTO__INIT;
  x->node = (Onnx__NodeProto)ONNX__NODE_PROTO__INIT;
  x->node.op_type = "Reshape";
  x->node_in[0] = "X";
  x->node_in[1] = "shape";
  x->node_out[0] = "Y";
  x->node.n_input = 2;
  x->node.input = x->node_in;
  x->node.n_output = 1;
  x->node.output = x->node_out;
  x->nodes[0] = &x->node;
  x->g.n_node = 1;
  x->g.node = x->nodes;
  x->init = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
  x->init.name = "shape";
  x->init.has_data_type = 1;
  x->init.data_type = 7;
  x->init_dims[0] = 2;
  x->init.n_dims = 1;
  x->init.dims = x->init_dims;
  x->init_data[0] = 3;
  x->init_data[1] = 2;
  x->init.n_int64_data = 2;
  x->init.int64_data = x->init_data;
  x->inits[0] = &x->init;
  x->g.n_initializer = 1;
  x->g.initializer = x->inits;
  x->d0 = (Onnx__TensorShapeProto__Dimension)ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
  x->d1 = x->d0;
  x->d0.value_case = x->d1.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
  x->d0.dim_value = 2;
  x->d1.dim_value = 3;
  x->dims[0] = &x->d0;
  x->dims[1] = &x->d1;
  x->in_shape = (Onnx__TensorShapeProto)ONNX__TENSOR_SHAPE_PROTO__INIT;
  x->in_shape.n_dim = 2;
  x->in_shape.dim = x->dims;
  x->in_tt = (Onnx__TypeProto__Tensor)ONNX__TYPE_PROTO__TENSOR__INIT;
  x->in_tt.has_elem_type = 1;
  x->in_tt.elem_type = 1;
  x->in_tt.shape = &x->in_shape;
  x->in_t = (Onnx__TypeProto)ONNX__TYPE_PROTO__INIT;
  x->in_t.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  x->in_t.tensor_type = &x->in_tt;
  x->in = (Onnx__ValueInfoProto)ONNX__VALUE_INFO_PROTO__INIT;
  x->in.name = "X";
  x->in.type = &x->in_t;
  x->out = (Onnx__ValueInfoProto)ONNX__VALUE_INFO_PROTO__INIT;
  x->out.name = "Y";
  x->ins[0] = &x->in;
  x->outs[0] = &x->out;
  x->g.n_input = 1;
  x->g.input = x->ins;
  x->g.n_output = 1;
  x->g.output = x->outs;
}

/* Packs and loads x; returns the status (and checks the message names it). */
static gc_status mini_load(mini *x, gc_graph **g) {
  size_t n = onnx__model_proto__get_packed_size(&x->m);
  uint8_t *b = malloc(n);
  onnx__model_proto__pack(&x->m, b);
  gc_status st = gc_onnx_load_buffer(b, n, "hostile.onnx", NULL, g, NULL);
  if (st) ck_assert_msg(strstr(gc_last_error(), "hostile.onnx"), "%s", gc_last_error());
  free(b);
  return st;
}

/* Runs x's graph on ref with X = 1..6 and returns Y converted to f32. */
static void mini_run(mini *x, float *y, int ny) {
  gc_graph *g;
  ck_assert_msg(mini_load(x, &g) == GC_OK, "%s", gc_last_error());
  gc_device *dev;
  gc_program *p;
  gc_session *s;
  ck_assert(gc_device_open("ref", &dev) == GC_OK);
  ck_assert_msg(gc_compile(g, dev, NULL, &p) == GC_OK, "%s", gc_last_error());
  ck_assert(gc_session_new(p, &s) == GC_OK);
  float in[6] = {-3, -1, 0, 0.5f, 1, 2};
  ck_assert(gc_session_set_input(s, "X", in, sizeof in) == GC_OK);
  ck_assert(gc_session_run(s) == GC_OK);
  gc_value v = gc_find(g, "Y");
  gc_tensor *t, *f;
  ck_assert(gc_tensor_new("Y", gc_value_dtype(g, v), gc_value_shape(g, v), NULL, &t) == GC_OK);
  ck_assert_int_eq(gc_shape_numel(t->shape), ny);
  ck_assert(gc_session_get_output(s, "Y", t->data, (size_t)ny * gc_dtype_size(t->dtype)) == GC_OK);
  ck_assert(gc_tensor_convert(t, GC_F32, &f) == GC_OK);
  memcpy(y, f->data, sizeof *y * (size_t)ny);
  gc_tensor_free(t);
  gc_tensor_free(f);
  gc_session_free(s);
  gc_program_free(p);
  gc_device_free(dev);
  gc_graph_free(g);
}

/* Ops the conformance data only has in double: CumSum (exclusive,
 * reverse) and Cast to bool. (Gelu is mapped but needs opset 20, which
 * the importer does not accept yet.) */
START_TEST(test_new_op_mappings) {
  mini x;
  float y[6];
  Onnx__AttributeProto a[2] = {ONNX__ATTRIBUTE_PROTO__INIT, ONNX__ATTRIBUTE_PROTO__INIT};
  Onnx__AttributeProto *as[2] = {&a[0], &a[1]};
  mini_init(&x);
  x.node.op_type = "CumSum";
  x.init.n_dims = 0; /* axis: a scalar 1 */
  x.init_data[0] = 1;
  x.init.n_int64_data = 1;
  a[0].name = "reverse";
  a[1].name = "exclusive";
  a[0].has_i = a[1].has_i = 1;
  a[0].i = a[1].i = 1;
  a[0].has_type = a[1].has_type = 1;
  a[0].type = a[1].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  x.node.n_attribute = 2;
  x.node.attribute = as;
  mini_run(&x, y, 6);
  const float cum[6] = {-1, 0, 0, 3, 2, 0}; /* rows -3 -1 0 | 0.5 1 2 */
  for (int i = 0; i < 6; i++) ck_assert_msg(fabsf(y[i] - cum[i]) < 1e-6f, "cumsum %d: %g", i, y[i]);

  const float in[6] = {-3, -1, 0, 0.5f, 1, 2};
  mini_init(&x);
  x.node.op_type = "Cast";
  x.node.n_input = 1;
  a[0].name = "to";
  a[0].i = 9;
  x.node.n_attribute = 1;
  x.node.attribute = as;
  mini_run(&x, y, 6);
  for (int i = 0; i < 6; i++) ck_assert_msg(y[i] == (in[i] != 0), "cast %d: %g", i, y[i]);
}
END_TEST

/* x as Resize(X, [roi,] scales) with float scales sc[n] (opset 10: no
 * roi input; 11 and up: an empty roi name). */
static void mini_resize(mini *x, int opset, const char *mode, float *sc, int n, char **in) {
  static Onnx__AttributeProto a;
  static Onnx__AttributeProto *as[1];
  mini_init(x);
  x->op.version = opset;
  x->node.op_type = "Resize";
  in[0] = "X";
  in[1] = opset < 11 ? "shape" : "";
  in[2] = "shape";
  x->node.input = in;
  x->node.n_input = opset < 11 ? 2 : 3;
  x->init.data_type = 1;
  x->init_dims[0] = n;
  x->init.n_int64_data = 0;
  x->init.n_float_data = (size_t)n;
  x->init.float_data = sc;
  a = (Onnx__AttributeProto)ONNX__ATTRIBUTE_PROTO__INIT;
  a.name = "mode";
  a.has_s = 1;
  a.s.data = (uint8_t *)mode;
  a.s.len = strlen(mode);
  a.has_type = 1;
  a.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
  as[0] = &a;
  x->node.n_attribute = 1;
  x->node.attribute = as;
}

/* Resize-10 (asymmetric coordinates): linear through the per-axis gather
 * form, nearest rounding down when upsampling and up when downsampling
 * (ONNX Runtime's rule; the spec is silent), and malformed nodes failing
 * with a message that names the input and X's shape. X is [[-3, -1, 0],
 * [0.5, 1, 2]]. */
START_TEST(test_resize_mappings) {
  mini x;
  char *in[4];
  float y[12];
  float up[2] = {1, 2};
  mini_resize(&x, 10, "linear", up, 2, in);
  mini_run(&x, y, 12);
  const float lin[12] = {-3, -2, -1, -0.5f, 0, 0, 0.5f, 0.75f, 1, 1.5f, 2, 2};
  for (int i = 0; i < 12; i++)
    ck_assert_msg(fabsf(y[i] - lin[i]) < 1e-6f, "linear %d: %g", i, y[i]);

  float down[2] = {1, 0.7f}; /* 3 -> 2: sources 0 and 1 / 0.7 = 1.43, rounded up */
  mini_resize(&x, 10, "nearest", down, 2, in);
  mini_run(&x, y, 4);
  const float near[4] = {-3, 0, 0.5f, 2};
  for (int i = 0; i < 4; i++) ck_assert_msg(y[i] == near[i], "nearest %d: %g", i, y[i]);

  gc_graph *g;
  float three[3] = {1, 1, 2};
  mini_resize(&x, 13, "linear", three, 3, in);
  ck_assert_int_eq(mini_load(&x, &g), GC_ERR_FORMAT);
  ck_assert_msg(strstr(gc_last_error(), "Resize") && strstr(gc_last_error(), "scales") &&
                    strstr(gc_last_error(), "[2, 3]"),
                "%s", gc_last_error());
  mini_resize(&x, 13, "bicubic", up, 2, in);
  ck_assert_int_eq(mini_load(&x, &g), GC_ERR_FORMAT);
  ck_assert_msg(strstr(gc_last_error(), "bicubic"), "%s", gc_last_error());
  mini_resize(&x, 10, "cubic", up, 2, in); /* cubic came with Resize-11 */
  ck_assert_int_eq(mini_load(&x, &g), GC_ERR_FORMAT);
  float zero[2] = {1, 0};
  mini_resize(&x, 13, "nearest", zero, 2, in);
  ck_assert_int_eq(mini_load(&x, &g), GC_ERR_FORMAT);
  ck_assert_msg(strstr(gc_last_error(), "scale 0"), "%s", gc_last_error());
  /* resized to length 0: an empty output, reported rather than computed */
  float tiny[2] = {1, 0.2f};
  mini_resize(&x, 13, "linear", tiny, 2, in);
  size_t n = onnx__model_proto__get_packed_size(&x.m);
  uint8_t *b = malloc(n);
  onnx__model_proto__pack(&x.m, b);
  gc_onnx_info *info;
  ck_assert_msg(gc_onnx_load_buffer(b, n, "r.onnx", NULL, &g, &info) == GC_OK, "%s",
                gc_last_error());
  ck_assert_int_eq(info->outputs[0].in_graph, 0);
  ck_assert_int_eq(info->outputs[0].shape.ndim, 2);
  ck_assert_int_eq(info->outputs[0].shape.dim[0], 2);
  ck_assert_int_eq(info->outputs[0].shape.dim[1], 0);
  ck_assert(!gc_value_ok(gc_find(g, "Y")));
  gc_graph_free(g);
  gc_onnx_info_free(info);
  free(b);
  /* scales and sizes both given (the same initializer twice, so the
   * sizes are floats as well: either way an error) */
  mini_resize(&x, 13, "nearest", up, 2, in);
  in[3] = "shape";
  x.node.n_input = 4;
  ck_assert_int_eq(mini_load(&x, &g), GC_ERR_FORMAT);
}
END_TEST

/* An empty tensor read as data next to run-time values cannot enter the
 * graph (no zero dims there): a clean SKIP naming "empty tensors", not a
 * crash. Here Add(X, e) with e an empty float initializer. */
START_TEST(test_empty_in_graph) {
  mini x;
  mini_init(&x);
  x.node.op_type = "Add";
  x.init.data_type = 1;
  x.init_dims[0] = 0;
  x.init.n_int64_data = 0;
  size_t n = onnx__model_proto__get_packed_size(&x.m);
  uint8_t *b = malloc(n);
  onnx__model_proto__pack(&x.m, b);
  gc_graph *g;
  gc_onnx_info *info = NULL;
  gc_status st = gc_onnx_load_buffer(b, n, "empty.onnx", NULL, &g, &info);
  ck_assert_msg(st == GC_ERR_UNSUPPORTED && info, "%s", gc_last_error());
  ck_assert_str_eq(info->unsupported, "empty tensors");
  ck_assert_msg(
      strstr(gc_last_error(), "empty.onnx") && strstr(gc_last_error(), "\"shape\" is empty ([0])"),
      "%s", gc_last_error());
  gc_onnx_info_free(info);
  free(b);
}
END_TEST

/* Training-mode Dropout draws with our generator, so its outputs are
 * checked by Dropout's properties (gc_onnx_check_random): the reference
 * outputs (numpy's draws) pass, ours pass, and tampered ones fail. */
START_TEST(test_dropout_by_property) {
  const char *dir = DATA "/node/test_training_dropout_mask";
  if (access(dir, R_OK)) return;
  char path[1024];
  gc_tensor *ins[3], *want[2], *got[2];
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, i);
    ck_assert_msg(gc_tensor_read(path, &ins[i]) == GC_OK, "%s", gc_last_error());
  }
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/test_data_set_0/output_%d.pb", dir, i);
    ck_assert_msg(gc_tensor_read(path, &want[i]) == GC_OK, "%s", gc_last_error());
  }
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  gc_onnx_options opt = {(const gc_tensor *const *)ins, 3};
  gc_graph *g;
  gc_onnx_info *info;
  ck_assert_msg(gc_onnx_load_with(path, &opt, &g, &info) == GC_OK, "%s", gc_last_error());
  ck_assert_str_eq(info->random.op, "Dropout");
  ck_assert_int_eq(info->random.x, 0);
  ck_assert_int_eq(info->random.y, 0);
  ck_assert_int_eq(info->random.mask, 1);
  ck_assert(info->random.ratio == 0.75f);
  const gc_tensor *const *in = (const gc_tensor *const *)ins;
  ck_assert_msg(gc_onnx_check_random(info, in, 3, (const gc_tensor *const *)want, 2) == GC_OK, "%s",
                gc_last_error());
  gc_device *dev;
  gc_program *p;
  gc_session *s;
  ck_assert(gc_device_open("ref", &dev) == GC_OK);
  ck_assert_msg(gc_compile(g, dev, NULL, &p) == GC_OK, "%s", gc_last_error());
  ck_assert(gc_session_new(p, &s) == GC_OK);
  ck_assert(info->inputs[0].in_graph && !info->inputs[1].in_graph && !info->inputs[2].in_graph);
  ck_assert(gc_session_set_input(s, "x", ins[0]->data, 60 * sizeof(float)) == GC_OK);
  ck_assert(gc_session_run(s) == GC_OK);
  for (int i = 0; i < 2; i++) {
    const gc_onnx_io *io = &info->outputs[i];
    ck_assert(gc_tensor_new(io->name, io->dtype, io->shape, NULL, &got[i]) == GC_OK);
    ck_assert(gc_session_get_output(s, io->name, got[i]->data, 60 * gc_dtype_size(io->dtype)) ==
              GC_OK);
  }
  const gc_tensor *const *out = (const gc_tensor *const *)got;
  ck_assert_msg(gc_onnx_check_random(info, in, 3, out, 2) == GC_OK, "%s", gc_last_error());
  float *y = got[0]->data, *x = ins[0]->data;
  uint8_t *m = got[1]->data;
  int k = 0;
  while (k < 60 && !(m[k] && x[k] != 0)) k++;
  ck_assert(k < 60);
  float keep = y[k];
  y[k] = x[k]; /* kept but not scaled */
  ck_assert_int_eq(gc_onnx_check_random(info, in, 3, out, 2), GC_ERR_INVALID);
  y[k] = keep;
  m[k] = 0; /* the mask disagrees with y */
  ck_assert_int_eq(gc_onnx_check_random(info, in, 3, out, 2), GC_ERR_INVALID);
  for (int i = 0; i < 60; i++) y[i] = 0, m[i] = 0; /* everything dropped at ratio 0.75 */
  ck_assert_int_eq(gc_onnx_check_random(info, in, 3, out, 2), GC_ERR_INVALID);
  ck_assert(strstr(gc_last_error(), "0 of 60"));
  for (int i = 0; i < 60; i++) y[i] = x[i] * 4, m[i] = 1; /* everything kept */
  ck_assert_int_eq(gc_onnx_check_random(info, in, 3, out, 2), GC_ERR_INVALID);
  for (int i = 0; i < 2; i++) gc_tensor_free(got[i]), gc_tensor_free(want[i]);
  for (int i = 0; i < 3; i++) gc_tensor_free(ins[i]);
  gc_session_free(s);
  gc_program_free(p);
  gc_device_free(dev);
  gc_graph_free(g);
  gc_onnx_info_free(info);
}
END_TEST

START_TEST(test_hostile_models) {
  mini x;
  gc_graph *g;
  mini_init(&x);
  ck_assert_msg(mini_load(&x, &g) == GC_OK, "%s", gc_last_error());
  gc_shape s = gc_value_shape(g, gc_find(g, "Y"));
  ck_assert_int_eq(s.ndim, 2);
  ck_assert_int_eq(s.dim[0], 3);
  gc_graph_free(g);

  /* absurd initializer dims */
  mini_init(&x);
  x.init_dims[0] = (int64_t)1 << 40;
  ck_assert_int_ne(mini_load(&x, &g), GC_OK);
  /* negative dims */
  mini_init(&x);
  x.init_dims[0] = -2;
  ck_assert_int_ne(mini_load(&x, &g), GC_OK);
  /* too many dims */
  mini_init(&x);
  int64_t many[20];
  for (int i = 0; i < 20; i++) many[i] = 1;
  x.init.dims = many;
  x.init.n_dims = 20;
  ck_assert_int_ne(mini_load(&x, &g), GC_OK);
  /* huge input dims */
  mini_init(&x);
  x.d0.dim_value = (int64_t)1 << 40;
  ck_assert_int_ne(mini_load(&x, &g), GC_OK);
  /* negative input dim */
  mini_init(&x);
  x.d1.dim_value = -3;
  ck_assert_int_ne(mini_load(&x, &g), GC_OK);
  /* data count does not match the dims */
  mini_init(&x);
  x.init_dims[0] = 3;
  ck_assert_int_ne(mini_load(&x, &g), GC_OK);
  /* wrong raw data size */
  mini_init(&x);
  uint8_t raw[5] = {0};
  x.init.n_int64_data = 0;
  x.init.has_raw_data = 1;
  x.init.raw_data.len = 5;
  x.init.raw_data.data = raw;
  ck_assert_int_ne(mini_load(&x, &g), GC_OK);
  /* missing initializer: the node reads a name nobody defines */
  mini_init(&x);
  x.g.n_initializer = 0;
  ck_assert_int_ne(mini_load(&x, &g), GC_OK);
  /* a shape that does not fit the data */
  mini_init(&x);
  x.init_data[0] = 4;
  ck_assert_int_ne(mini_load(&x, &g), GC_OK);
  /* unknown op type */
  mini_init(&x);
  x.node.op_type = "NoSuchOp";
  ck_assert_int_eq(mini_load(&x, &g), GC_ERR_UNSUPPORTED);
  /* no graph */
  mini_init(&x);
  x.m.graph = NULL;
  ck_assert_int_ne(mini_load(&x, &g), GC_OK);
  /* an output nobody computes */
  mini_init(&x);
  x.out.name = "Z";
  ck_assert_int_ne(mini_load(&x, &g), GC_OK);
  /* not protobuf at all */
  ck_assert_int_eq(gc_onnx_load_buffer("\xff\xff\xff\xff", 4, "hostile.onnx", NULL, &g, NULL),
                   GC_ERR_FORMAT);
  ck_assert(strstr(gc_last_error(), "hostile.onnx") != NULL);
}
END_TEST

START_TEST(test_tensor_roundtrip) {
  char path[] = "/tmp/graphc_test_tensor_XXXXXX";
  int fd = mkstemp(path);
  ck_assert(fd >= 0);
  close(fd);
  int64_t v[6] = {1, -2, 3, 1LL << 40, 5, 6};
  gc_tensor *t, *r;
  ck_assert(gc_tensor_new("x", GC_I64, gc_shape2(2, 3), v, &t) == GC_OK);
  ck_assert(gc_tensor_write(path, t) == GC_OK);
  ck_assert(gc_tensor_read(path, &r) == GC_OK);
  ck_assert_int_eq(r->dtype, GC_I64);
  ck_assert_int_eq(r->shape.ndim, 2);
  ck_assert_str_eq(r->name, "x");
  ck_assert(memcmp(r->data, v, sizeof v) == 0);
  gc_tensor *i32;
  ck_assert_int_eq(gc_tensor_convert(r, GC_I32, &i32), GC_ERR_UNSUPPORTED); /* 2^40 */
  gc_tensor_free(r);
  gc_tensor_free(t);
  /* a truncated tensor file fails cleanly */
  FILE *f = fopen(path, "r+b");
  ck_assert(ftruncate(fileno(f), 7) == 0);
  fclose(f);
  ck_assert_int_ne(gc_tensor_read(path, &r), GC_OK);
  remove(path);
}
END_TEST

int main(void) {
  Suite *s = suite_create("onnx");
  TCase *tc = tcase_create("onnx");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_ref_cases);
  tcase_add_test(tc, test_info_and_params);
  tcase_add_test(tc, test_unsupported_names_op);
  tcase_add_test(tc, test_truncated_and_flipped);
  tcase_add_test(tc, test_hostile_models);
  tcase_add_test(tc, test_new_op_mappings);
  tcase_add_test(tc, test_resize_mappings);
  tcase_add_test(tc, test_empty_in_graph);
  tcase_add_test(tc, test_dropout_by_property);
  tcase_add_test(tc, test_tensor_roundtrip);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
