/* ref_backend.c — the reference backend (device "ref"): host storage for
 * every node and a run that evaluates the schedule node by node with the
 * reference kernels. No fusion, no memory planning: every intermediate gets
 * its own zeroed array, so a wrong result here is a wrong kernel or a wrong
 * graph, never a storage bug. */
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/ref/ref.h"

typedef struct ref_session {
  int n;
  void **buf;  /* per node: its storage (aliases for views and in-place ops) */
  bool *owned; /* buf[i] was allocated for node i (freed with the session) */
} ref_session;

static gc_status ref_program_build(gc_program *p, const gc_compile_options *opt) {
  (void)opt;
  if (!p || !p->g) return gc_fail(GC_ERR_INVALID, "ref: program has no graph");
  p->impl = NULL; /* nothing to compile: the kernels are the interpreter */
  return GC_OK;
}

static void ref_program_free(gc_program *p) { (void)p; }

static void ref_session_free(gc_session *s) {
  if (!s || !s->impl) return;
  ref_session *rs = s->impl;
  for (int i = 0; i < rs->n; i++)
    if (rs->owned && rs->owned[i]) free(rs->buf[i]);
  free(rs->buf);
  free(rs->owned);
  free(rs);
  s->impl = NULL;
}

/* Node ids are a topological order, so input 0 of a view or in-place op
 * already has its storage when the op is reached. */
static gc_status ref_session_new(gc_session *s) {
  const ir_graph *g = s->p->g;
  ref_session *rs = calloc(1, sizeof *rs);
  if (!rs) return gc_fail(GC_ERR_NOMEM, "ref: out of memory for a session");
  s->impl = rs;
  rs->n = g->n;
  rs->buf = calloc((size_t)(g->n ? g->n : 1), sizeof *rs->buf);
  rs->owned = calloc((size_t)(g->n ? g->n : 1), sizeof *rs->owned);
  if (!rs->buf || !rs->owned) goto nomem;
  for (int i = 0; i < g->n; i++) {
    const ir_node *nd = &g->nodes[i];
    if (ir_ops[nd->op].props & (IR_P_VIEW | IR_P_INPLACE)) {
      rs->buf[i] = rs->buf[nd->in[0]];
      continue;
    }
    size_t bytes = ir_node_bytes(nd);
    if (!(rs->buf[i] = calloc(1, bytes ? bytes : 1))) goto nomem;
    rs->owned[i] = true;
    if (nd->data && (ir_ops[nd->op].props & IR_P_LEAF)) memcpy(rs->buf[i], nd->data, bytes);
  }
  return GC_OK;
nomem:
  ref_session_free(s);
  return gc_fail(GC_ERR_NOMEM, "ref: out of memory allocating session storage");
}

static gc_status check_node(const gc_session *s, int32_t node, const char *what) {
  const ref_session *rs = s->impl;
  if (!rs || node < 0 || node >= rs->n)
    return gc_fail(GC_ERR_INVALID, "ref %s: node %d is not in the program", what, node);
  return GC_OK;
}

static gc_status ref_write(gc_session *s, int32_t node, size_t offset, const void *data,
                           size_t bytes) {
  gc_status st = check_node(s, node, "write");
  if (st) return st;
  const ir_graph *g = s->p->g;
  size_t size = ir_node_bytes(&g->nodes[node]);
  if (offset > size || bytes > size - offset)
    return gc_fail(GC_ERR_INVALID,
                   "ref write: %s holds %zu bytes, cannot write %zu bytes at offset %zu",
                   ir_node_label(g, node), size, bytes, offset);
  if (bytes && !data) return gc_fail(GC_ERR_INVALID, "ref write: data is NULL");
  ref_session *rs = s->impl;
  if (bytes) memcpy((char *)rs->buf[node] + offset, data, bytes);
  return GC_OK;
}

static gc_status ref_read(gc_session *s, int32_t node, void *data, size_t bytes) {
  gc_status st = check_node(s, node, "read");
  if (st) return st;
  const ir_graph *g = s->p->g;
  size_t size = ir_node_bytes(&g->nodes[node]);
  if (bytes != size)
    return gc_fail(GC_ERR_INVALID, "ref read: %s holds %zu bytes, asked for %zu",
                   ir_node_label(g, node), size, bytes);
  if (bytes && !data) return gc_fail(GC_ERR_INVALID, "ref read: data is NULL");
  ref_session *rs = s->impl;
  if (bytes) memcpy(data, rs->buf[node], bytes);
  return GC_OK;
}

/* Evaluates the schedule (or id order when there is none) in sequence. */
static gc_status ref_run(gc_session *s) {
  const gc_program *p = s->p;
  const ir_graph *g = p->g;
  ref_session *rs = s->impl;
  if (!rs) return gc_fail(GC_ERR_INVALID, "ref run: session has no storage");
  for (int k = 0; k < g->n; k++) {
    int32_t id = p->order ? p->order[k] : k;
    if (id < 0 || id >= g->n)
      return gc_fail(GC_ERR_INTERNAL, "ref run: schedule entry %d is node %d of %d", k, id, g->n);
    const ir_node *nd = &g->nodes[id];
    if (ir_ops[nd->op].props & IR_P_LEAF) continue;
    void *in[IR_MAX_INPUTS];
    for (int i = 0; i < nd->nin; i++) in[i] = rs->buf[nd->in[i]];
    ref_eval(g, id, in, rs->buf[id]);
  }
  return GC_OK;
}

static gc_status ref_finish(gc_session *s) {
  (void)s;
  return GC_OK; /* every run completes before it returns */
}

const gc_backend gc_backend_ref = {
    .name = "ref",
    .program_build = ref_program_build,
    .program_free = ref_program_free,
    .session_new = ref_session_new,
    .session_free = ref_session_free,
    .write = ref_write,
    .read = ref_read,
    .run = ref_run,
    .finish = ref_finish,
};
