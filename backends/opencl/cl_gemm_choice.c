/* cl_gemm_choice.c — GC_GEMM_AUTO's decisions on disk (format and checks in
 * cl_gemm_choice.h). */
#include "backends/opencl/cl_gemm_choice.h"

#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHOICE_MAGIC "graphc-gemm-choice 1\n"
/* Real entries are about 200 bytes; anything much larger is not one. */
#define CHOICE_MAX_BYTES 1024

uint64_t cl_gemm_choice_key(const cl_dev *d, const cl_blas_gemm *g, const char *own_src) {
  uint64_t h = cl_cache_hash(0, CHOICE_MAGIC);
  h = cl_cache_device_hash(d, h);
  h = cl_cache_hash(h, cl_blas_version());
  h = cl_cache_hash(h, GC_VERSION);
  h = cl_cache_hash(h, own_src);
  const int64_t f[] = {g->m,   g->n,   g->k,   g->trans_a,  g->trans_b,  g->batch,
                       g->lda, g->ldb, g->ldc, g->a_stride, g->b_stride, g->c_stride};
  return cl_cache_hash_bytes(h, f, sizeof f);
}

int cl_gemm_choice_path(uint64_t key, strbuf *sb) {
  if (cl_cache_dir(sb) != 0) return -1;
  sb_appendf(sb, "/gemm-%016llx.choice", (unsigned long long)key);
  return sb->oom ? -1 : 0;
}

/* Everything but the check line. */
static void choice_body(strbuf *sb, uint64_t key, const cl_blas_gemm *g, const cl_gemm_choice *c) {
  sb_appendf(sb, "%skey %016llx\ngemm %lld %lld %lld %d %d %lld\n", CHOICE_MAGIC,
             (unsigned long long)key, (long long)g->m, (long long)g->n, (long long)g->k, g->trans_a,
             g->trans_b, (long long)g->batch);
  sb_appendf(sb, "own_seconds %.9g\nclblast_seconds %.9g\npick %s\n", c->own_seconds,
             c->clblast_seconds, c->clblast ? "clblast" : "own");
}

/* The pick the times support: CLBlast only when it ran and was faster. */
static int choice_consistent(const cl_gemm_choice *c) {
  if (!isfinite(c->own_seconds) || c->own_seconds <= 0) return 0;
  if (c->clblast_seconds != -1 && (!isfinite(c->clblast_seconds) || c->clblast_seconds <= 0))
    return 0;
  return c->clblast == (c->clblast_seconds > 0 && c->clblast_seconds < c->own_seconds);
}

/* Parses text (len bytes, NUL-terminated) as key's entry for g. Rather
 * than trust sscanf's leniency, the entry is rebuilt from the parsed
 * values and must match the file byte for byte. */
static int choice_parse(const char *text, size_t len, uint64_t key, const cl_blas_gemm *g,
                        cl_gemm_choice *out) {
  const char *check = NULL;
  for (const char *c = strstr(text, "\ncheck "); c; c = strstr(c + 1, "\ncheck ")) check = c;
  if (!check) return 0;
  const size_t body = (size_t)(check - text) + 1;
  unsigned long long sum = 0;
  int used = 0;
  if (sscanf(text + body, "check %16llx\n%n", &sum, &used) != 1 || body + (size_t)used != len ||
      sum != cl_cache_hash_bytes(0, text, body))
    return 0;
  cl_gemm_choice c = {0};
  char pick[16] = "";
  const char *p = strstr(text, "own_seconds ");
  if (!p || sscanf(p, "own_seconds %lg\nclblast_seconds %lg\npick %15s", &c.own_seconds,
                   &c.clblast_seconds, pick) != 3)
    return 0;
  c.clblast = !strcmp(pick, "clblast");
  if (!c.clblast && strcmp(pick, "own")) return 0;
  if (!choice_consistent(&c)) return 0;
  strbuf want;
  sb_init(&want);
  choice_body(&want, key, g, &c);
  int ok = !want.oom && want.len == body && !memcmp(sb_str(&want), text, body);
  sb_free(&want);
  if (ok) *out = c;
  return ok;
}

int cl_gemm_choice_load(uint64_t key, const cl_blas_gemm *g, cl_gemm_choice *out) {
  strbuf path;
  sb_init(&path);
  if (cl_gemm_choice_path(key, &path) != 0) {
    sb_free(&path);
    return 0;
  }
  FILE *f = fopen(sb_str(&path), "rb");
  if (!f) {
    sb_free(&path);
    return 0;
  }
  char text[CHOICE_MAX_BYTES + 1];
  size_t len = fread(text, 1, sizeof text, f);
  const int read_error = ferror(f);
  fclose(f);
  text[len < sizeof text ? len : sizeof text - 1] = 0;
  int ok = !read_error && len <= CHOICE_MAX_BYTES && strlen(text) == len &&
           choice_parse(text, len, key, g, out);
  if (!ok) unlink(sb_str(&path));
  sb_free(&path);
  return ok;
}

void cl_gemm_choice_store(uint64_t key, const cl_blas_gemm *g, const cl_gemm_choice *c) {
  static atomic_uint seq;
  strbuf path, tmp, text;
  sb_init(&path);
  sb_init(&tmp);
  sb_init(&text);
  if (!choice_consistent(c) || cl_gemm_choice_path(key, &path) != 0) goto out;
  choice_body(&text, key, g, c);
  sb_appendf(&text, "check %016llx\n",
             (unsigned long long)cl_cache_hash_bytes(0, sb_str(&text), text.len));
  /* The pid keeps processes apart, the sequence number threads. */
  sb_appendf(&tmp, "%s.tmp.%ld.%u", sb_str(&path), (long)getpid(), atomic_fetch_add(&seq, 1u));
  if (text.oom || tmp.oom) goto out;
  int fd = open(sb_str(&tmp), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) goto out;
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    close(fd);
    unlink(sb_str(&tmp));
    goto out;
  }
  int ok = fwrite(sb_str(&text), 1, text.len, f) == text.len;
  if (fclose(f) != 0) ok = 0;
  if (!ok || rename(sb_str(&tmp), sb_str(&path)) != 0) unlink(sb_str(&tmp));
out:
  sb_free(&path);
  sb_free(&tmp);
  sb_free(&text);
}
