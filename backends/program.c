/* program.c — the public device, compile and session API over the
 * backends: opens a device ("ref" or OpenCL), runs the pass pipeline on a
 * copy of the graph (verify, shapes, simplify, split_updates, schedule,
 * fuse, plan), hands the result to the backend, and routes session calls
 * by name. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "backends/backend.h"
#include "backends/opencl/cl_device.h"

/* ---- devices ---- */

gc_status gc_device_list(gc_device_info *infos, int max, int *count) {
  if (!count) return gc_fail(GC_ERR_INVALID, "device_list: count is NULL");
  return cl_dev_list(infos, max, count);
}

gc_status gc_device_open(const char *spec, gc_device **out) {
  if (!out) return gc_fail(GC_ERR_INVALID, "device_open: out is NULL");
  *out = NULL;
  if (!spec || !*spec) spec = getenv("GRAPHC_DEVICE");
  gc_device *d = calloc(1, sizeof *d);
  if (!d) return gc_fail(GC_ERR_NOMEM, "device_open: out of memory");
  if (spec && !strcasecmp(spec, "ref")) {
    d->be = &gc_backend_ref;
    snprintf(d->name, sizeof d->name, "ref (reference interpreter, host C)");
  } else {
    cl_dev *cd;
    gc_status st = cl_dev_open(spec, &cd);
    if (st) {
      free(d);
      return st;
    }
    d->be = &gc_backend_opencl;
    d->impl = cd;
    snprintf(d->name, sizeof d->name, "%s / %s", cd->info.platform, cd->info.name);
  }
  *out = d;
  return GC_OK;
}

void gc_device_free(gc_device *d) {
  if (!d) return;
  if (d->impl) cl_dev_close(d->impl);
  free(d);
}

const char *gc_device_name(const gc_device *d) { return d ? d->name : ""; }
int gc_device_is_reference(const gc_device *d) { return d && d->be == &gc_backend_ref; }

/* ---- the pipeline ---- */

static const char *const pass_names[] = {"verify",   "shapes", "simplify", "split_updates",
                                         "schedule", "fuse",   "plan",     NULL};

const char *const *gc_pass_names(void) { return pass_names; }

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void dump_groups(const gc_program *p, FILE *out) {
  int misses = 0;
  int *missed = malloc(sizeof *missed * (size_t)(p->fuse.ngroups ? p->fuse.ngroups : 1));
  if (missed && fuse_postdom_misses(p->g, &p->fuse, &misses, missed)) misses = 0;
  for (int i = 0; i < p->fuse.ngroups; i++) {
    const fuse_group *gr = &p->fuse.groups[i];
    if (gr->kind == FUSE_NONE) continue;
    fprintf(out, "kernel %d: %s, root %%%d, nodes", i, fuse_kind_name(gr->kind), gr->root);
    for (int k = 0; k < gr->nnodes; k++)
      fprintf(out, " %%%d%s%s", gr->nodes[k],
              p->fuse.role[gr->nodes[k]] == ROLE_ROW        ? "^"
              : p->fuse.role[gr->nodes[k]] == ROLE_AT_INDEX ? "@"
              : p->fuse.role[gr->nodes[k]] == ROLE_PIECES   ? "+"
              : p->fuse.role[gr->nodes[k]] == ROLE_SIBLING  ? "&"
                                                            : "",
              p->fuse.materialized[gr->nodes[k]] ? "*"
              : p->fuse.inlined[gr->nodes[k]]    ? "~"
                                                 : "");
    fprintf(out, "\n");
  }
  fprintf(
      out,
      "(* stored, ~ recomputed by its readers, ^ once per row of a reduction, @ evaluated "
      "at the coordinates a movement member reads, + a concat stored piece by piece, & a second "
      "result of the root's work)\n");
  for (int i = 0; missed && misses && i < p->fuse.ngroups; i++)
    if (missed[i] >= 0)
      fprintf(out, "post-dominator rule: %d could join %d, its post-dominator\n", i, missed[i]);
  free(missed);
}

static void dump_plan(const gc_program *p, FILE *out) {
  static const char *const kinds[] = {"-", "arena", "persistent"};
  for (int i = 0; i < p->g->n; i++) {
    if (p->mem.kind[i] == STORE_NONE) continue;
    fprintf(out, "%%%d: %s", i, kinds[p->mem.kind[i]]);
    if (p->mem.kind[i] == STORE_ARENA)
      fprintf(out, " @%zu +%zu", p->mem.offset[i], ir_node_bytes(&p->g->nodes[i]));
    if (p->mem.root[i] != i) fprintf(out, " (storage of %%%d)", p->mem.root[i]);
    fprintf(out, "\n");
  }
  fprintf(out, "arena %zu bytes, no-reuse %zu, live lower bound %zu, persistent %zu\n",
          p->mem.arena_bytes, p->mem.no_reuse_bytes, p->mem.live_lower_bound_bytes,
          p->mem.persistent_bytes);
}

static void maybe_dump(const gc_compile_options *o, const gc_program *p, const char *pass) {
  if (!o || !o->dump_after) return;
  if (strcmp(o->dump_after, "all") && strcmp(o->dump_after, pass)) return;
  FILE *out = o->dump_to ? o->dump_to : stderr;
  fprintf(out, "; ---- after %s ----\n", pass);
  if (!strcmp(pass, "fuse")) {
    dump_groups(p, out);
  } else if (!strcmp(pass, "plan")) {
    dump_plan(p, out);
  } else if (!strcmp(pass, "schedule")) {
    for (int i = 0; i < p->g->n; i++) fprintf(out, "%s%%%d", i ? " " : "", p->order[i]);
    fprintf(out, "\n");
  } else {
    ir_print(p->g, out);
  }
}

static gc_status lower(gc_program *p, const gc_compile_options *o, bool dump);

static gc_status run_passes(gc_program *p, const gc_compile_options *o) {
  gc_status st;
  if (o && o->dump_after && strcmp(o->dump_after, "all")) {
    bool known = false;
    for (int i = 0; pass_names[i]; i++) known |= !strcmp(pass_names[i], o->dump_after);
    if (!known)
      return gc_fail(GC_ERR_INVALID,
                     "unknown pass \"%s\" for dump-after (passes: verify, shapes, simplify, "
                     "split_updates, schedule, fuse, plan, all)",
                     o->dump_after);
  }
  if ((st = ir_verify(p->g))) return st;
  maybe_dump(o, p, "verify");
  if ((st = pass_shapes(p->g))) return st;
  maybe_dump(o, p, "shapes");
  if ((st = pass_simplify(p->g))) return st;
  maybe_dump(o, p, "simplify");
  /* Split optimizer updates (passes/split_updates.c) serve the memory plan
   * alone: both variants are scheduled, fused and planned, and the split
   * one is kept only where its arena is at least 10% smaller (it costs a
   * launch per multi-tensor kernel of parameter steps, and m and v read
   * twice: in a 400-layer MLP all 400 updates are candidates and would
   * save 256 of 409,984 bytes). Off with --no-fuse (nothing to split
   * from) and --no-plan. */
  ir_graph *whole = NULL;
  if (!(o && (o->no_fuse || o->no_plan))) {
    int candidates = pass_split_candidates(p->g);
    if (candidates < 0) return gc_fail(GC_ERR_NOMEM, "compile: out of memory");
    if (candidates > 0) {
      if (!(whole = ir_graph_clone(p->g))) return gc_fail(GC_ERR_NOMEM, "compile: out of memory");
      if ((st = pass_split_updates(p->g))) {
        gc_graph_free(whole);
        return st;
      }
    }
  }
  if (!whole) {
    maybe_dump(o, p, "split_updates");
    return lower(p, o, true);
  }
  gc_program alt = {.be = p->be, .dev = p->dev, .g = whole};
  st = lower(p, o, false);
  if (!st) st = lower(&alt, o, false);
  if (!st) {
    p->stats.updates_split = p->g->n - whole->n;
    p->stats.arena_bytes_unsplit = alt.mem.arena_bytes;
    /* the split's launches (one per multi-tensor kernel of applies) buy
     * at least a tenth of the arena, or the updates stay whole */
    if (10 * p->mem.arena_bytes > 9 * alt.mem.arena_bytes) {
      gc_program split = *p;
      p->g = alt.g;
      p->order = alt.order;
      p->fuse = alt.fuse;
      p->mem = alt.mem;
      alt = split;
      p->stats.updates_split = 0;
    }
    maybe_dump(o, p, "split_updates");
    maybe_dump(o, p, "schedule");
    maybe_dump(o, p, "fuse");
    maybe_dump(o, p, "plan");
  }
  fuse_plan_free(&alt.fuse);
  mem_plan_free(&alt.mem);
  free(alt.order);
  gc_graph_free(alt.g);
  return st;
}

/* Schedules, fuses and plans p->g into p->order, p->fuse and p->mem;
 * dump: print each pass's result as o asks. */
static gc_status lower(gc_program *p, const gc_compile_options *o, bool dump) {
  gc_status st;
  p->order = malloc(sizeof *p->order * (size_t)(p->g->n ? p->g->n : 1));
  if (!p->order) return gc_fail(GC_ERR_NOMEM, "compile: out of memory");
  if ((st = pass_schedule(p->g, p->order))) return st;
  if (dump) maybe_dump(o, p, "schedule");
  int max_buffers = 0; /* the fusion pass's default */
  if (p->dev->impl) {  /* kernel arguments are buffer handles */
    const cl_dev *cd = p->dev->impl;
    max_buffers = (int)(cd->info.max_parameter_bytes / sizeof(cl_mem));
  }
  if ((st = pass_fuse(p->g, p->order, o && o->no_fuse, max_buffers, &p->fuse))) return st;
  if (dump) maybe_dump(o, p, "fuse");
  size_t align = 64;
  if (p->dev->impl) {
    const cl_dev *cd = p->dev->impl;
    if (cd->info.mem_base_align_bits / 8 > align) align = cd->info.mem_base_align_bits / 8;
  }
  size_t max_arena = o ? o->max_arena_bytes : 0;
  if (p->dev->impl) {
    const cl_dev *cd = p->dev->impl;
    if (max_arena == 0 || max_arena > cd->info.max_alloc_bytes)
      max_arena = (size_t)cd->info.max_alloc_bytes;
  }
  if ((st = pass_plan(p->g, &p->fuse, o && o->no_plan, align, max_arena, &p->mem))) return st;
  if (dump) maybe_dump(o, p, "plan");
  return GC_OK;
}

gc_status gc_compile(gc_graph *g, gc_device *dev, const gc_compile_options *opt, gc_program **out) {
  if (!out) return gc_fail(GC_ERR_INVALID, "compile: out is NULL");
  *out = NULL;
  if (!g || !dev) return gc_fail(GC_ERR_INVALID, "compile: null graph or device");
  if (g->status) return gc_fail(g->status, "compile: the graph has an error: %s", g->err);
  double t0 = now_seconds();
  gc_program *p = calloc(1, sizeof *p);
  if (!p) return gc_fail(GC_ERR_NOMEM, "compile: out of memory");
  p->be = dev->be;
  p->dev = dev;
  p->stats.nodes_before = g->n;
  p->g = ir_graph_clone(g);
  gc_status st = p->g ? run_passes(p, opt) : gc_fail(GC_ERR_NOMEM, "compile: out of memory");
  if (!st) {
    p->stats.nodes_after = p->g->n;
    p->stats.arena_bytes = p->mem.arena_bytes;
    p->stats.arenas = p->mem.narenas;
    p->stats.no_reuse_bytes = p->mem.no_reuse_bytes;
    p->stats.live_lower_bound_bytes = p->mem.live_lower_bound_bytes;
    p->stats.persistent_bytes = p->mem.persistent_bytes;
    p->stats.postdom_joins = p->fuse.postdom_joins;
    st = fuse_postdom_misses(p->g, &p->fuse, &p->stats.postdom_misses, NULL);
    if (!st) st = p->be->program_build(p, opt);
  }
  if (st) {
    gc_program_free(p);
    return st;
  }
  p->stats.compile_seconds = now_seconds() - t0;
  *out = p;
  return GC_OK;
}

void gc_program_free(gc_program *p) {
  if (!p) return;
  if (p->impl && p->be) p->be->program_free(p);
  fuse_plan_free(&p->fuse);
  mem_plan_free(&p->mem);
  free(p->order);
  gc_graph_free(p->g);
  free(p);
}

gc_status gc_program_stats_get(const gc_program *p, gc_program_stats *out) {
  if (!p || !out) return gc_fail(GC_ERR_INVALID, "program_stats: null argument");
  *out = p->stats;
  return GC_OK;
}

/* ---- sessions ---- */

gc_status gc_session_new(gc_program *p, gc_session **out) {
  if (!p || !out) return gc_fail(GC_ERR_INVALID, "session_new: null argument");
  *out = NULL;
  gc_session *s = calloc(1, sizeof *s);
  if (!s) return gc_fail(GC_ERR_NOMEM, "session_new: out of memory");
  s->p = p;
  gc_status st = p->be->session_new(s);
  if (st) {
    free(s);
    return st;
  }
  *out = s;
  return GC_OK;
}

void gc_session_free(gc_session *s) {
  if (!s) return;
  s->p->be->session_free(s);
  free(s);
}

/* Finds the node of a name with the wanted role; the message lists what
 * the program has when it is missing. */
static int32_t lookup(const gc_session *s, const char *name, unsigned flags, const char *what) {
  const ir_graph *g = s->p->g;
  if (name)
    for (int i = 0; i < g->n; i++) {
      const ir_node *n = &g->nodes[i];
      if (!(n->flags & flags)) continue;
      const char *nm = (flags & (IR_F_OUTPUT | IR_F_LOSS)) && n->out_name ? n->out_name : n->name;
      if (nm && !strcmp(nm, name)) return i;
    }
  char list[1024] = "";
  size_t k = 0;
  for (int i = 0; i < g->n && k < sizeof list - 64; i++) {
    const ir_node *n = &g->nodes[i];
    if (!(n->flags & flags)) continue;
    const char *nm = (flags & (IR_F_OUTPUT | IR_F_LOSS)) && n->out_name ? n->out_name : n->name;
    k += (size_t)snprintf(list + k, sizeof list - k, "%s\"%s\"", k ? ", " : "", nm ? nm : "?");
  }
  gc_fail(GC_ERR_NOT_FOUND, "no %s named \"%s\" (the program has: %s)", what,
          name ? name : "(null)", k ? list : "none");
  return -1;
}

static gc_status check_bytes(const ir_graph *g, int32_t id, size_t bytes, const char *what) {
  size_t want = ir_node_bytes(&g->nodes[id]);
  char buf[160];
  if (bytes != want)
    return gc_fail(GC_ERR_INVALID, "%s \"%s\" is %s%s = %zu bytes, got %zu bytes", what,
                   g->nodes[id].out_name ? g->nodes[id].out_name : g->nodes[id].name,
                   gc_dtype_name(g->nodes[id].dtype), gc_shape_str(g->nodes[id].shape, buf, 160),
                   want, bytes);
  return GC_OK;
}

gc_status gc_session_set_input(gc_session *s, const char *name, const void *data, size_t bytes) {
  if (!s || !data) return gc_fail(GC_ERR_INVALID, "set_input: null argument");
  int32_t id = lookup(s, name, IR_F_INPUT, "input");
  if (id < 0) return GC_ERR_NOT_FOUND;
  gc_status st = check_bytes(s->p->g, id, bytes, "input");
  if (st) return st;
  return s->p->be->write(s, id, 0, data, bytes);
}

gc_status gc_session_run(gc_session *s) {
  if (!s) return gc_fail(GC_ERR_INVALID, "run: null session");
  return s->p->be->run(s);
}

gc_status gc_session_get_output(gc_session *s, const char *name, void *data, size_t bytes) {
  if (!s || !data) return gc_fail(GC_ERR_INVALID, "get_output: null argument");
  int32_t id = lookup(s, name, IR_F_OUTPUT | IR_F_LOSS, "output");
  if (id < 0) return GC_ERR_NOT_FOUND;
  gc_status st = check_bytes(s->p->g, id, bytes, "output");
  if (st) return st;
  return s->p->be->read(s, id, data, bytes);
}

gc_status gc_session_get_param(gc_session *s, const char *name, void *data, size_t bytes) {
  if (!s || !data) return gc_fail(GC_ERR_INVALID, "get_param: null argument");
  int32_t id = lookup(s, name, IR_F_PARAM | IR_F_STATE, "parameter");
  if (id < 0) return GC_ERR_NOT_FOUND;
  gc_status st = check_bytes(s->p->g, id, bytes, "parameter");
  if (st) return st;
  return s->p->be->read(s, id, data, bytes);
}

gc_status gc_session_set_param(gc_session *s, const char *name, const void *data, size_t bytes) {
  if (!s || !data) return gc_fail(GC_ERR_INVALID, "set_param: null argument");
  int32_t id = lookup(s, name, IR_F_PARAM | IR_F_STATE, "parameter");
  if (id < 0) return GC_ERR_NOT_FOUND;
  gc_status st = check_bytes(s->p->g, id, bytes, "parameter");
  if (st) return st;
  return s->p->be->write(s, id, 0, data, bytes);
}

gc_status gc_session_copy_params(gc_session *dst, gc_session *src) {
  if (!dst || !src) return gc_fail(GC_ERR_INVALID, "copy_params: null session");
  const ir_graph *dg = dst->p->g, *sg = src->p->g;
  void *buf = NULL;
  size_t cap = 0;
  gc_status st = GC_OK;
  for (int i = 0; i < dg->n && !st; i++) {
    const ir_node *n = &dg->nodes[i];
    if (n->op != IR_OP_PARAM || !n->name) continue;
    int32_t j = -1;
    for (int k = 0; k < sg->n && j < 0; k++)
      if (sg->nodes[k].op == IR_OP_PARAM && sg->nodes[k].name &&
          !strcmp(sg->nodes[k].name, n->name))
        j = k;
    if (j < 0) continue;
    size_t bytes = ir_node_bytes(n);
    if (bytes != ir_node_bytes(&sg->nodes[j])) {
      st = gc_fail(GC_ERR_SHAPE, "copy_params: \"%s\" differs in size (%zu vs %zu bytes)", n->name,
                   bytes, ir_node_bytes(&sg->nodes[j]));
      break;
    }
    if (bytes > cap) {
      void *nb = realloc(buf, bytes);
      if (!nb) {
        st = gc_fail(GC_ERR_NOMEM, "copy_params: out of memory");
        break;
      }
      buf = nb;
      cap = bytes;
    }
    st = src->p->be->read(src, j, buf, bytes);
    if (!st) st = dst->p->be->write(dst, i, 0, buf, bytes);
  }
  free(buf);
  return st;
}

gc_status gc_session_set_lr(gc_session *s, float lr) {
  if (!s) return gc_fail(GC_ERR_INVALID, "set_lr: null session");
  if (s->p->g->hyper < 0) return gc_fail(GC_ERR_INVALID, "set_lr: the program has no optimizer");
  if (!(lr > 0)) return gc_fail(GC_ERR_INVALID, "set_lr: learning rate must be > 0, got %g", lr);
  return s->p->be->write(s, s->p->g->hyper, 0, &lr, sizeof lr);
}

gc_status gc_session_finish(gc_session *s) {
  if (!s) return gc_fail(GC_ERR_INVALID, "finish: null session");
  return s->p->be->finish(s);
}

gc_status gc_session_set_profiling(gc_session *s, int on) {
  if (!s) return gc_fail(GC_ERR_INVALID, "set_profiling: null session");
  if (!s->p->be->set_profiling)
    return gc_fail(GC_ERR_UNSUPPORTED, "profiling needs an OpenCL device, not %s", s->p->be->name);
  return s->p->be->set_profiling(s, on);
}

gc_status gc_session_profile(gc_session *s, gc_kernel_profile *out, int max, int *count) {
  if (!s || !count) return gc_fail(GC_ERR_INVALID, "profile: null argument");
  if (!s->p->be->profile)
    return gc_fail(GC_ERR_UNSUPPORTED, "profiling needs an OpenCL device, not %s", s->p->be->name);
  return s->p->be->profile(s, out, max, count);
}
