/* cl_backend.c — the OpenCL backend: builds a program's generated source
 * once (through the binary cache), and runs it: a session owns the arena
 * and the persistent buffers, sets every kernel's arguments once, and a run
 * only enqueues the fixed launch list — no waiting on the device. Inputs
 * are copied into a small host staging ring and uploaded asynchronously.
 * Entries of the launch list that are CLBlast calls (cl_blas.h; chosen at
 * compile time by cl_gemm_select.h) are enqueued on the same queue, in
 * order, with a scratch buffer the session owns. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backends/backend.h"
#include "backends/opencl/cl_blas.h"
#include "backends/opencl/cl_codegen.h"
#include "backends/opencl/cl_debug.h"
#include "backends/opencl/cl_device.h"
#include "backends/opencl/cl_gemm_select.h"

#define STAGING_SLOTS 3

typedef struct cl_prog {
  cl_codegen cg;
  cl_program program;
} cl_prog;

typedef struct staging {
  void *buf[STAGING_SLOTS];
  cl_event done[STAGING_SLOTS];
  int next;
} staging;

typedef struct cl_sess {
  cl_mem *mem;        /* per buffer index */
  cl_kernel *kernels; /* per launch */
  staging *stage;     /* per buffer index (inputs only) */
  size_t *bytes;      /* per buffer index: its size without sentinels */
  bool sentinels;     /* GRAPHC_DEBUG_SENTINELS=1: CL_SENTINEL_BYTES follow each */
  cl_mem blas_temp;   /* CLBlast's scratch, shared by its calls (in order) */
  /* profiling: events of the runs not yet summed, and the sums */
  bool profiling;
  /* 2 nlaunches per pending run: each launch's event, then for a CLBlast
   * call the marker enqueued before it (NULL for kernels) */
  cl_event *events;
  int pending_runs, event_cap;
  double *seconds;
  int64_t *launches;
} cl_sess;

static cl_dev *dev_of(const gc_program *p) { return p->dev->impl; }

static gc_status write_file(const char *dir, const char *name, const char *text) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return gc_fail(GC_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
  bool ok = fputs(text, f) >= 0;
  ok &= fclose(f) == 0;
  if (!ok || rename(tmp, path)) {
    remove(tmp);
    return gc_fail(GC_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
  }
  return GC_OK;
}

static gc_status emit_sources(const cl_prog *cp, const char *dir) {
  if (mkdir(dir, 0777) && errno != EEXIST)
    return gc_fail(GC_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
  gc_status st = write_file(dir, "program.cl", cp->cg.source);
  for (int i = 0; i < cp->cg.nlaunches && !st; i++) {
    char name[64];
    snprintf(name, sizeof name, "%s.cl", cp->cg.launches[i].name);
    st = write_file(dir, name, cp->cg.launches[i].source);
  }
  return st;
}

static gc_status cl_program_build_impl(gc_program *p, const gc_compile_options *opt) {
  cl_dev *d = dev_of(p);
  cl_prog *cp = calloc(1, sizeof *cp);
  if (!cp) return gc_fail(GC_ERR_NOMEM, "compile: out of memory");
  p->impl = cp;
  gc_gemm_policy policy;
  cl_gemm_selection sel;
  gc_status st = cl_gemm_policy(opt, &policy);
  if (!st) st = cl_gemm_select(p, d, policy, &sel);
  if (st) return gc_fail_context(st, "compile");
  st = cl_codegen_run(p, d, sel.use_clblast, &cp->cg);
  p->stats.gemm_own = sel.own;
  p->stats.gemm_clblast = sel.clblast;
  p->stats.gemm_measured = sel.measured;
  p->stats.scratch_bytes = cp->cg.scratch_bytes;
  cl_gemm_selection_free(&sel);
  if (st) return st;
  if (opt && opt->emit_cl_dir && (st = emit_sources(cp, opt->emit_cl_dir))) return st;
  int hit = 0, kernels = 0;
  for (int i = 0; i < cp->cg.nlaunches; i++) kernels += !cp->cg.launches[i].blas;
  if (kernels > 0) {
    /* -w: PoCL prints "N warnings generated." on stderr for the GEMM's
     * float16 vectors on AVX2 (an ABI note, not a problem); errors and
     * the build log on failure are unaffected. */
    static const char build_options[] = "-cl-std=CL1.2 -w";
    st = opt && opt->cold ? cl_build_program_cold(d, cp->cg.source, build_options, &cp->program)
                          : cl_build_program(d, cp->cg.source, build_options, &cp->program, &hit);
    if (st) return gc_fail_context(st, "compile");
  }
  p->stats.cache_hit = hit;
  p->stats.kernels = kernels;
  p->stats.launches_per_run = cp->cg.nlaunches;
  return GC_OK;
}

static void cl_program_free_impl(gc_program *p) {
  cl_prog *cp = p->impl;
  if (!cp) return;
  if (cp->program) clReleaseProgram(cp->program);
  cl_codegen_free(&cp->cg);
  free(cp);
  p->impl = NULL;
}

static void session_release(cl_sess *cs, const cl_prog *cp) {
  if (!cs) return;
  for (int i = 0; cs->kernels && i < cp->cg.nlaunches; i++)
    if (cs->kernels[i]) clReleaseKernel(cs->kernels[i]);
  for (int b = 0; b < cp->cg.nbuffers; b++) {
    if (cs->mem && cs->mem[b]) clReleaseMemObject(cs->mem[b]);
    if (!cs->stage) continue;
    for (int k = 0; k < STAGING_SLOTS; k++) {
      if (cs->stage[b].done[k]) {
        clWaitForEvents(1, &cs->stage[b].done[k]);
        clReleaseEvent(cs->stage[b].done[k]);
      }
      free(cs->stage[b].buf[k]);
    }
  }
  for (int i = 0; cs->events && i < cs->pending_runs * 2 * cp->cg.nlaunches; i++)
    if (cs->events[i]) clReleaseEvent(cs->events[i]);
  if (cs->blas_temp) clReleaseMemObject(cs->blas_temp);
  free(cs->events);
  free(cs->seconds);
  free(cs->launches);
  free(cs->kernels);
  free(cs->mem);
  free(cs->stage);
  free(cs->bytes);
  free(cs);
}

static gc_status cl_session_new_impl(gc_session *s) {
  const gc_program *p = s->p;
  const cl_prog *cp = p->impl;
  cl_dev *d = dev_of(p);
  cl_sess *cs = calloc(1, sizeof *cs);
  if (!cs) return gc_fail(GC_ERR_NOMEM, "session: out of memory");
  int nb = cp->cg.nbuffers, nl = cp->cg.nlaunches;
  cs->mem = calloc((size_t)nb, sizeof *cs->mem);
  cs->stage = calloc((size_t)nb, sizeof *cs->stage);
  cs->kernels = calloc((size_t)(nl ? nl : 1), sizeof *cs->kernels);
  cs->bytes = calloc((size_t)nb, sizeof *cs->bytes);
  const char *dbg = getenv("GRAPHC_DEBUG_SENTINELS");
  cs->sentinels = dbg && !strcmp(dbg, "1");
  gc_status st = GC_OK;
  if (!cs->mem || !cs->stage || !cs->kernels || !cs->bytes)
    st = gc_fail(GC_ERR_NOMEM, "session: out of memory");
  cl_int err;
  for (int b = 0; b < nb && !st; b++) {
    int32_t node = cp->cg.buffer_node[b];
    size_t bytes = node == CL_SCRATCH_NODE ? cp->cg.scratch_bytes
                   : node < 0              ? p->mem.arena_sizes[-1 - node]
                                           : ir_node_bytes(&p->g->nodes[node]);
    if (bytes == 0) bytes = 4; /* OpenCL rejects empty buffers; keep one slot */
    cs->bytes[b] = bytes;
    size_t extra = cs->sentinels ? CL_SENTINEL_BYTES : 0;
    cs->mem[b] = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, bytes + extra, NULL, &err);
    if ((st = cl_check(err, "clCreateBuffer"))) break;
    if (extra) {
      unsigned char pat[CL_SENTINEL_BYTES];
      memset(pat, CL_SENTINEL_BYTE, sizeof pat);
      st = cl_check(
          clEnqueueWriteBuffer(d->queue, cs->mem[b], CL_TRUE, bytes, extra, pat, 0, NULL, NULL),
          "clEnqueueWriteBuffer");
      if (st) break;
    }
    if (node == CL_SCRATCH_NODE) { /* the split GEMMs' tile counters start at 0 */
      const cl_int zero = 0;
      st = cl_check(
          clEnqueueFillBuffer(d->queue, cs->mem[b], &zero, sizeof zero, 0, bytes, 0, NULL, NULL),
          "clEnqueueFillBuffer");
      if (st) break;
    }
    const void *init = node >= 0 ? p->g->nodes[node].data : NULL;
    if (init)
      st = cl_check(clEnqueueWriteBuffer(d->queue, cs->mem[b], CL_TRUE, 0,
                                         ir_node_bytes(&p->g->nodes[node]), init, 0, NULL, NULL),
                    "clEnqueueWriteBuffer");
  }
  size_t temp = 0;
  for (int i = 0; i < nl && !st; i++) {
    const cl_launch *L = &cp->cg.launches[i];
    if (L->blas) { /* no kernel: the scratch CLBlast wants, the largest of its calls' */
      size_t t = 0;
      st = cl_blas_temp_bytes(d->queue, L->blas, &t);
      if (st) st = gc_fail_context(st, "%s", L->name);
      temp = t > temp ? t : temp;
      continue;
    }
    cs->kernels[i] = clCreateKernel(cp->program, L->name, &err);
    if ((st = cl_check(err, "clCreateKernel"))) break;
    for (int a = 0; a < L->nargs && !st; a++)
      st =
          cl_check(clSetKernelArg(cs->kernels[i], (cl_uint)a, sizeof(cl_mem), &cs->mem[L->args[a]]),
                   "clSetKernelArg");
  }
  if (!st && temp) {
    cs->blas_temp = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, temp, NULL, &err);
    st = cl_check(err, "clCreateBuffer");
  }
  if (st) {
    session_release(cs, cp);
    return st;
  }
  s->impl = cs;
  return GC_OK;
}

static void cl_session_free_impl(gc_session *s) {
  cl_sess *cs = s->impl;
  if (!cs) return;
  clFinish(dev_of(s->p)->queue);
  session_release(cs, s->p->impl);
  s->impl = NULL;
}

/* Inputs go through a staging ring so the call returns at once and the
 * caller may reuse its memory; slot k is reused only after its previous
 * upload finished (normally long ago). Other writes are rare: blocking. */
static gc_status cl_write_impl(gc_session *s, int32_t node, size_t offset, const void *data,
                               size_t bytes) {
  cl_sess *cs = s->impl;
  const cl_prog *cp = s->p->impl;
  cl_dev *d = dev_of(s->p);
  int b = cp->cg.buffer_of[node];
  if (b < 0 || cp->cg.buffer_node[b] < 0)
    return gc_fail(GC_ERR_INVALID, "write: %s has no persistent storage",
                   ir_node_label(s->p->g, node));
  if (s->p->g->nodes[node].op != IR_OP_INPUT)
    return cl_check(
        clEnqueueWriteBuffer(d->queue, cs->mem[b], CL_TRUE, offset, bytes, data, 0, NULL, NULL),
        "clEnqueueWriteBuffer");
  staging *sg = &cs->stage[b];
  int k = sg->next;
  sg->next = (k + 1) % STAGING_SLOTS;
  gc_status st;
  if (sg->done[k]) {
    st = cl_check(clWaitForEvents(1, &sg->done[k]), "clWaitForEvents");
    clReleaseEvent(sg->done[k]);
    sg->done[k] = NULL;
    if (st) return st;
  }
  if (!sg->buf[k] && !(sg->buf[k] = malloc(ir_node_bytes(&s->p->g->nodes[node]))))
    return gc_fail(GC_ERR_NOMEM, "write: out of memory");
  memcpy(sg->buf[k], data, bytes);
  return cl_check(clEnqueueWriteBuffer(d->queue, cs->mem[b], CL_FALSE, offset, bytes, sg->buf[k], 0,
                                       NULL, &sg->done[k]),
                  "clEnqueueWriteBuffer");
}

static gc_status cl_read_impl(gc_session *s, int32_t node, void *data, size_t bytes) {
  cl_sess *cs = s->impl;
  const cl_prog *cp = s->p->impl;
  int b = cp->cg.buffer_of[node];
  if (b < 0 || cp->cg.buffer_node[b] < 0)
    return gc_fail(GC_ERR_INVALID, "read: %s has no persistent storage",
                   ir_node_label(s->p->g, node));
  return cl_check(
      clEnqueueReadBuffer(dev_of(s->p)->queue, cs->mem[b], CL_TRUE, 0, bytes, data, 0, NULL, NULL),
      "clEnqueueReadBuffer");
}

/* Sums the device time of the recorded runs' events and releases them. A
 * CLBlast call may enqueue several kernels (padding, the product,
 * unpadding) and its event is the last one's, so its time runs from the
 * end of the marker enqueued before it (in an in-order queue, the moment
 * its first kernel may start) to the end of its last kernel. Where the
 * device waits for the host in between (CLBlast's first call builds its
 * kernels), that wait counts too: it is CLBlast's cost in that step. */
static gc_status profile_collect(cl_sess *cs, const cl_prog *cp) {
  int nl = cp->cg.nlaunches;
  gc_status st = GC_OK;
  for (int r = 0; r < cs->pending_runs; r++)
    for (int i = 0; i < nl; i++) {
      cl_event *slot = &cs->events[r * 2 * nl + i], *mark = slot + nl;
      cl_event e = *slot;
      if (!e) { /* the launch failed; its marker may have been enqueued */
        if (*mark) clReleaseEvent(*mark);
        *mark = NULL;
        continue;
      }
      cl_ulong t0 = 0, t1 = 0;
      if (!st) st = cl_check(clWaitForEvents(1, &e), "clWaitForEvents");
      if (!st && *mark)
        st =
            cl_check(clGetEventProfilingInfo(*mark, CL_PROFILING_COMMAND_END, sizeof t0, &t0, NULL),
                     "clGetEventProfilingInfo");
      else if (!st)
        st = cl_check(clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL),
                      "clGetEventProfilingInfo");
      if (!st)
        st = cl_check(clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL),
                      "clGetEventProfilingInfo");
      if (!st && t1 >= t0) {
        cs->seconds[i] += 1e-9 * (double)(t1 - t0);
        cs->launches[i]++;
      }
      clReleaseEvent(e);
      *slot = NULL;
      if (*mark) clReleaseEvent(*mark);
      *mark = NULL;
    }
  cs->pending_runs = 0;
  return st;
}

static gc_status cl_set_profiling_impl(gc_session *s, int on) {
  cl_sess *cs = s->impl;
  const cl_prog *cp = s->p->impl;
  gc_status st = profile_collect(cs, cp);
  size_t nl = cp->cg.nlaunches ? (size_t)cp->cg.nlaunches : 1;
  if (on && !cs->seconds) {
    cs->seconds = calloc(nl, sizeof *cs->seconds);
    cs->launches = calloc(nl, sizeof *cs->launches);
    if (!cs->seconds || !cs->launches) return gc_fail(GC_ERR_NOMEM, "profiling: out of memory");
  }
  if (on) {
    memset(cs->seconds, 0, sizeof *cs->seconds * nl);
    memset(cs->launches, 0, sizeof *cs->launches * nl);
  }
  cs->profiling = on != 0;
  return st;
}

static gc_status cl_profile_impl(gc_session *s, gc_kernel_profile *out, int max, int *count) {
  cl_sess *cs = s->impl;
  const cl_prog *cp = s->p->impl;
  gc_status st = profile_collect(cs, cp);
  if (st) return st;
  *count = cp->cg.nlaunches;
  for (int i = 0; i < cp->cg.nlaunches && i < max && out; i++) {
    const cl_launch *L = &cp->cg.launches[i];
    const fuse_group *gr = &s->p->fuse.groups[L->group];
    const ir_node *root = &s->p->g->nodes[gr->root];
    gc_kernel_profile *k = &out[i];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", L->name);
    snprintf(k->what, sizeof k->what, "%s%s: %s%s%s, %d node(s)", fuse_kind_name(gr->kind),
             L->blas ? " (CLBlast)" : "", ir_ops[root->op].name, root->name ? " " : "",
             root->name ? root->name : "", gr->nnodes);
    k->seconds = cs->seconds ? cs->seconds[i] : 0;
    k->launches = cs->launches ? cs->launches[i] : 0;
  }
  return GC_OK;
}

static gc_status cl_run_impl(gc_session *s) {
  cl_sess *cs = s->impl;
  const cl_prog *cp = s->p->impl;
  cl_command_queue q = dev_of(s->p)->queue;
  cl_event *ev = NULL;
  if (cs->profiling) {
    int nl = cp->cg.nlaunches;
    if (cs->pending_runs >= 64) {
      gc_status st = profile_collect(cs, cp);
      if (st) return st;
    }
    if ((cs->pending_runs + 1) * 2 * nl > cs->event_cap) {
      int cap = 64 * 2 * (nl ? nl : 1);
      cl_event *e = realloc(cs->events, sizeof *e * (size_t)cap);
      if (!e) return gc_fail(GC_ERR_NOMEM, "profiling: out of memory");
      cs->events = e;
      cs->event_cap = cap;
    }
    ev = cs->events + cs->pending_runs * 2 * nl;
    for (int i = 0; i < 2 * nl; i++) ev[i] = NULL;
    cs->pending_runs++;
  }
  for (int i = 0; i < cp->cg.nlaunches; i++) {
    const cl_launch *L = &cp->cg.launches[i];
    if (L->blas) {
      const cl_blas_gemm *b = L->blas;
      gc_status st =
          ev ? cl_check(clEnqueueMarkerWithWaitList(q, 0, NULL, &ev[cp->cg.nlaunches + i]),
                        "clEnqueueMarkerWithWaitList")
             : GC_OK;
      if (!st)
        st = cl_blas_enqueue(q, b, cs->mem[L->args[b->a_arg]], cs->mem[L->args[b->b_arg]],
                             cs->mem[L->args[b->c_arg]], cs->blas_temp, ev ? &ev[i] : NULL);
      if (st) return gc_fail_context(st, "%s", L->name);
      continue;
    }
    cl_int err = clEnqueueNDRangeKernel(q, cs->kernels[i], L->work_dim, NULL, L->global, L->local,
                                        0, NULL, ev ? &ev[i] : NULL);
    if (err) {
      cl_check(err, "clEnqueueNDRangeKernel");
      return gc_fail_context(GC_ERR_OPENCL, "kernel %s", L->name);
    }
  }
  return cl_check(clFlush(q), "clFlush");
}

gc_status cl_session_check_sentinels(gc_session *s) {
  if (!s || !s->impl || s->p->be != &gc_backend_opencl)
    return gc_fail(GC_ERR_INVALID, "check_sentinels: not an OpenCL session");
  cl_sess *cs = s->impl;
  const cl_prog *cp = s->p->impl;
  if (!cs->sentinels)
    return gc_fail(GC_ERR_INVALID,
                   "check_sentinels: GRAPHC_DEBUG_SENTINELS=1 was not set when "
                   "the session was created");
  for (int b = 0; b < cp->cg.nbuffers; b++) {
    unsigned char pat[CL_SENTINEL_BYTES];
    gc_status st = cl_check(clEnqueueReadBuffer(dev_of(s->p)->queue, cs->mem[b], CL_TRUE,
                                                cs->bytes[b], sizeof pat, pat, 0, NULL, NULL),
                            "clEnqueueReadBuffer");
    if (st) return st;
    size_t first = sizeof pat, changed = 0;
    for (size_t k = 0; k < sizeof pat; k++)
      if (pat[k] != CL_SENTINEL_BYTE && changed++ == 0) first = k;
    if (changed) {
      int32_t node = cp->cg.buffer_node[b];
      return gc_fail(GC_ERR_INTERNAL,
                     "sentinel overwritten: %zu of the %d bytes after the end of buffer %d (%s, "
                     "%zu bytes) changed, the first at +%zu (now 0x%02x)",
                     changed, CL_SENTINEL_BYTES, b,
                     node == CL_SCRATCH_NODE ? "the GEMM scratch"
                     : node < 0              ? "an arena"
                                             : ir_node_label(s->p->g, node),
                     cs->bytes[b], first, pat[first]);
    }
  }
  return GC_OK;
}

static gc_status cl_finish_impl(gc_session *s) {
  return cl_check(clFinish(dev_of(s->p)->queue), "clFinish");
}

const gc_backend gc_backend_opencl = {
    "opencl",
    cl_program_build_impl,
    cl_program_free_impl,
    cl_session_new_impl,
    cl_session_free_impl,
    cl_write_impl,
    cl_read_impl,
    cl_run_impl,
    cl_finish_impl,
    cl_set_profiling_impl,
    cl_profile_impl,
};
