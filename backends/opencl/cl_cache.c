/* cl_cache.c — builds OpenCL programs through an on-disk binary cache, and
 * looks up the kernels/NAME.cl sources embedded at build time.
 *
 * PoCL (like most drivers) spends hundreds of milliseconds per program in
 * its compiler; a compiled graph has tens of kernels, so rebuilding them
 * every run would dominate start-up. The cache stores the device binary
 * under a key that changes whenever anything that shapes the binary does.
 *
 * Entry file <dir>/<16 hex digits of key>.bin, native byte order:
 *   bytes  0..7   magic "GCCLBIN1"
 *          8..15  the key (guards against a file copied under another name)
 *         16..23  payload size in bytes
 *         24..31  FNV-1a 64 of the payload
 *         32..    payload: the CL_PROGRAM_BINARIES of the one device
 * The header is checked before the driver sees the payload, because drivers
 * are not robust against truncated or garbage binaries (a crash there would
 * be ours to answer for). A file that fails any check is deleted and the
 * program is rebuilt from source. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "backends/opencl/cl_device.h"
#include "ir/status.h"
#include "ir/strbuf.h"

/* The table cmake/embed.cmake generates; both sides name the struct so the
 * declarations are compatible. */
struct gc_embedded_kernel {
  const char *name;
  const char *source;
};
extern const struct gc_embedded_kernel gc_embedded_kernels[];

const char *cl_embedded_source(const char *name) {
  if (!name) return NULL;
  for (const struct gc_embedded_kernel *k = gc_embedded_kernels; k->name; k++)
    if (strcmp(k->name, name) == 0) return k->source;
  return NULL;
}

#define CACHE_MAGIC "GCCLBIN1"
#define CACHE_HEADER 32
/* A bound on what we are willing to read back; real binaries are far
 * smaller, and a corrupt size field must not make us allocate gigabytes. */
#define CACHE_MAX_PAYLOAD ((uint64_t)1 << 30)
/* Room for the build log inside gc_last_error's 2048-byte message. */
#define LOG_BUDGET 1800

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

#define FNV_BASIS 0xcbf29ce484222325ULL

/* Each field is hashed with its length first, so that ("ab","c") and
 * ("a","bc") give different keys. */
static uint64_t fnv1a_field(uint64_t h, const char *s) {
  uint64_t n = s ? strlen(s) : 0;
  h = fnv1a(h, &n, sizeof n);
  return fnv1a(h, s ? s : "", (size_t)n);
}

/* mkdir -p: creates every missing component. Returns 0 when path is a
 * directory afterwards. */
static int mkdir_p(const char *path) {
  char *p = strdup(path);
  if (!p) return -1;
  for (char *c = p + 1; *c; c++) {
    if (*c != '/') continue;
    *c = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
      free(p);
      return -1;
    }
    *c = '/';
  }
  int r = mkdir(p, 0755);
  free(p);
  if (r != 0 && errno != EEXIST) return -1;
  struct stat stt;
  return (stat(path, &stt) == 0 && S_ISDIR(stt.st_mode)) ? 0 : -1;
}

/* Fills sb with the cache directory, or returns -1 when caching is off or
 * there is no usable location. */
static int cache_dir(strbuf *sb) {
  const char *env = getenv("GRAPHC_CACHE_DIR");
  if (env && *env) {
    if (strcasecmp(env, "off") == 0) return -1;
    sb_append(sb, env);
  } else if ((env = getenv("XDG_CACHE_HOME")) && *env) {
    sb_appendf(sb, "%s/graphc", env);
  } else if ((env = getenv("HOME")) && *env) {
    sb_appendf(sb, "%s/.cache/graphc", env);
  } else {
    return -1;
  }
  return sb->oom ? -1 : 0;
}

/* Platform version is part of the key; cl_dev does not keep it, so ask.
 * Any failure just leaves it empty: the key is then still deterministic. */
static void platform_version(cl_platform_id p, char *buf, size_t cap) {
  size_t n = 0;
  buf[0] = 0;
  if (clGetPlatformInfo(p, CL_PLATFORM_VERSION, 0, NULL, &n) != CL_SUCCESS || n == 0) return;
  char *tmp = malloc(n + 1);
  if (!tmp) return;
  if (clGetPlatformInfo(p, CL_PLATFORM_VERSION, n, tmp, NULL) == CL_SUCCESS) {
    tmp[n] = 0;
    snprintf(buf, cap, "%s", tmp);
  }
  free(tmp);
}

static uint64_t cache_key(const cl_dev *d, const char *src, const char *opts) {
  char pver[256];
  platform_version(d->platform, pver, sizeof pver);
  uint64_t h = FNV_BASIS;
  h = fnv1a_field(h, src);
  h = fnv1a_field(h, opts);
  h = fnv1a_field(h, d->info.platform);
  h = fnv1a_field(h, pver);
  h = fnv1a_field(h, d->info.name);
  h = fnv1a_field(h, d->info.version);
  h = fnv1a_field(h, d->info.driver_version);
  h = fnv1a_field(h, GC_VERSION);
  return h;
}

int cl_cache_dir(strbuf *sb) {
  if (cache_dir(sb) != 0 || mkdir_p(sb_str(sb)) != 0) {
    sb_reset(sb);
    return -1;
  }
  return 0;
}

uint64_t cl_cache_hash(uint64_t h, const char *s) { return fnv1a_field(h ? h : FNV_BASIS, s); }

uint64_t cl_cache_hash_bytes(uint64_t h, const void *p, size_t n) {
  return fnv1a(h ? h : FNV_BASIS, p, n);
}

uint64_t cl_cache_device_hash(const cl_dev *d, uint64_t h) {
  char pver[256];
  platform_version(d->platform, pver, sizeof pver);
  h = cl_cache_hash(h, d->info.platform);
  h = fnv1a_field(h, pver);
  h = fnv1a_field(h, d->info.name);
  h = fnv1a_field(h, d->info.version);
  return fnv1a_field(h, d->info.driver_version);
}

/* Reads and validates an entry. Returns the malloc'd payload and its size,
 * or NULL: *bad is set when a file exists but is not a valid entry (so the
 * caller deletes it), clear when there is simply no entry. */
static unsigned char *cache_load(const char *path, uint64_t key, size_t *size, int *bad) {
  *bad = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char hdr[CACHE_HEADER];
  uint64_t fkey, fsize, fhash;
  struct stat stt;
  unsigned char *bin = NULL;
  *bad = 1;
  if (fstat(fileno(f), &stt) != 0 || fread(hdr, 1, sizeof hdr, f) != sizeof hdr) goto out;
  memcpy(&fkey, hdr + 8, 8);
  memcpy(&fsize, hdr + 16, 8);
  memcpy(&fhash, hdr + 24, 8);
  if (memcmp(hdr, CACHE_MAGIC, 8) != 0 || fkey != key || fsize == 0 || fsize > CACHE_MAX_PAYLOAD ||
      (uint64_t)stt.st_size != CACHE_HEADER + fsize)
    goto out;
  bin = malloc((size_t)fsize);
  if (!bin) {
    *bad = 0; /* our memory, not the file, is the problem */
    goto out;
  }
  if (fread(bin, 1, (size_t)fsize, f) != fsize || fnv1a(FNV_BASIS, bin, (size_t)fsize) != fhash) {
    free(bin);
    bin = NULL;
    goto out;
  }
  *bad = 0;
  *size = (size_t)fsize;
out:
  fclose(f);
  return bin;
}

/* Best effort: any failure leaves no file behind and is not reported, since
 * a missing cache entry only costs time. Writes a private temporary file
 * and renames it, so that readers (other processes included) see either no
 * entry or a complete one. */
static void cache_store(const char *path, uint64_t key, cl_program prog) {
  static atomic_uint seq;
  size_t size = 0;
  if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS ||
      size == 0 || size > CACHE_MAX_PAYLOAD)
    return;
  unsigned char *bin = malloc(size);
  if (!bin) return;
  unsigned char *bins[1] = {bin};
  strbuf tmp;
  sb_init(&tmp);
  if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) != CL_SUCCESS) goto out;
  /* The pid keeps processes apart, the sequence number threads. */
  sb_appendf(&tmp, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&seq, 1u));
  if (tmp.oom) goto out;
  int fd = open(sb_str(&tmp), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) goto out;
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    close(fd);
    unlink(sb_str(&tmp));
    goto out;
  }
  unsigned char hdr[CACHE_HEADER];
  uint64_t u64 = size, hash = fnv1a(FNV_BASIS, bin, size);
  memcpy(hdr, CACHE_MAGIC, 8);
  memcpy(hdr + 8, &key, 8);
  memcpy(hdr + 16, &u64, 8);
  memcpy(hdr + 24, &hash, 8);
  int ok = fwrite(hdr, 1, sizeof hdr, f) == sizeof hdr && fwrite(bin, 1, size, f) == size;
  if (fclose(f) != 0) ok = 0;
  if (!ok || rename(sb_str(&tmp), path) != 0) unlink(sb_str(&tmp));
out:
  sb_free(&tmp);
  free(bin);
}

/* The build log, for a failure message that must fit gc_last_error's
 * buffer. A long log usually opens with warnings; the first error is what
 * the reader needs, so when the log does not fit, it starts at the first
 * line that mentions an error and is cut at a line end. */
static void format_log(strbuf *out, const char *log) {
  size_t len = strlen(log);
  while (len && (log[len - 1] == '\n' || log[len - 1] == ' ' || log[len - 1] == '\r')) len--;
  if (len <= LOG_BUDGET) {
    sb_appendn(out, log, len);
    return;
  }
  size_t start = 0;
  const char *e = strstr(log, "error");
  if (e && (size_t)(e - log) < len) {
    while (e > log && e[-1] != '\n') e--;
    start = (size_t)(e - log);
  }
  if (start) sb_append(out, "[...]\n");
  size_t end = start + LOG_BUDGET;
  if (end > len) end = len;
  /* Prefer a whole last line unless that would drop most of the budget. */
  for (size_t k = end; k > start + LOG_BUDGET / 2; k--) {
    if (log[k - 1] == '\n') {
      end = k - 1;
      break;
    }
  }
  sb_appendn(out, log + start, end - start);
  sb_appendf(out, "\n[... %zu more bytes of build log]", len - end);
}

static gc_status build_failed(cl_dev *d, cl_program prog, cl_int err) {
  size_t n = 0;
  char *log = NULL;
  if (clGetProgramBuildInfo(prog, d->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) == CL_SUCCESS &&
      n > 0 && (log = malloc(n + 1)) != NULL) {
    if (clGetProgramBuildInfo(prog, d->device, CL_PROGRAM_BUILD_LOG, n, log, NULL) != CL_SUCCESS)
      n = 0;
    log[n] = 0;
  }
  strbuf sb;
  sb_init(&sb);
  /* The error name adds nothing for the usual compile error, but says what
   * happened when the options were rejected or there is no compiler. */
  if (err != CL_BUILD_PROGRAM_FAILURE) sb_appendf(&sb, "%s: ", cl_error_name(err));
  if (log && log[strspn(log, " \t\r\n")])
    format_log(&sb, log);
  else
    sb_appendf(&sb, "%s (empty build log)", cl_error_name(err));
  gc_status st =
      gc_fail(GC_ERR_BUILD, "OpenCL build failed: %s", sb.oom ? cl_error_name(err) : sb_str(&sb));
  sb_free(&sb);
  free(log);
  return st;
}

/* Tries the cache entry at path. Returns a built program, or NULL after
 * deleting an entry that is corrupt or that the driver refuses. */
static cl_program try_cached(cl_dev *d, const char *path, uint64_t key, const char *opts) {
  size_t size = 0;
  int bad = 0;
  unsigned char *bin = cache_load(path, key, &size, &bad);
  if (!bin) {
    if (bad) unlink(path);
    return NULL;
  }
  cl_int err, bin_status = CL_SUCCESS;
  const unsigned char *bins[1] = {bin};
  cl_program prog =
      clCreateProgramWithBinary(d->ctx, 1, &d->device, &size, bins, &bin_status, &err);
  free(bin);
  if (err == CL_SUCCESS && bin_status == CL_SUCCESS)
    err = clBuildProgram(prog, 1, &d->device, opts, NULL, NULL);
  else if (err == CL_SUCCESS)
    err = bin_status;
  if (err == CL_SUCCESS) return prog;
  if (prog) (void)clReleaseProgram(prog);
  unlink(path);
  return NULL;
}

/* Builds src from source: *prog on success (released on failure). */
static gc_status build_source(cl_dev *d, const char *src, const char *opts, cl_program *prog) {
  cl_int err;
  gc_status st = GC_OK;
  *prog = clCreateProgramWithSource(d->ctx, 1, &src, NULL, &err);
  if ((st = cl_check(err, "clCreateProgramWithSource"))) {
    *prog = NULL;
    return st;
  }
  err = clBuildProgram(*prog, 1, &d->device, opts, NULL, NULL);
  if (err == CL_BUILD_PROGRAM_FAILURE || err == CL_INVALID_BUILD_OPTIONS ||
      err == CL_COMPILER_NOT_AVAILABLE) {
    st = build_failed(d, *prog, err);
  } else {
    st = cl_check(err, "clBuildProgram");
  }
  if (st) {
    (void)clReleaseProgram(*prog);
    *prog = NULL;
  }
  return st;
}

gc_status cl_build_program(cl_dev *d, const char *src, const char *options, cl_program *out,
                           int *cache_hit) {
  if (cache_hit) *cache_hit = 0;
  if (!d || !src || !out) return gc_fail(GC_ERR_INVALID, "cl_build_program: null argument");
  *out = NULL;
  const char *opts = options ? options : "";

  strbuf path;
  sb_init(&path);
  int cached = cache_dir(&path) == 0 && mkdir_p(sb_str(&path)) == 0;
  uint64_t key = 0;
  if (cached) {
    key = cache_key(d, src, opts);
    sb_appendf(&path, "/%016llx.bin", (unsigned long long)key);
    cached = !path.oom;
  }
  if (cached) {
    cl_program prog = try_cached(d, sb_str(&path), key, opts);
    if (prog) {
      sb_free(&path);
      if (cache_hit) *cache_hit = 1;
      *out = prog;
      return GC_OK;
    }
  }

  cl_program prog = NULL;
  gc_status st = build_source(d, src, opts, &prog);
  if (!st && cached) cache_store(sb_str(&path), key, prog);
  sb_free(&path);
  if (st) return st;
  *out = prog;
  return GC_OK;
}

gc_status cl_build_program_cold(cl_dev *d, const char *src, const char *options, cl_program *out) {
  if (!d || !src || !out) return gc_fail(GC_ERR_INVALID, "cl_build_program_cold: null argument");
  *out = NULL;
  /* a last line no build has seen, so that the driver's own cache misses
   * too: a declaration, not a comment, since PoCL keys its cache by the
   * preprocessed source; last, so the build log's line numbers stay */
  static atomic_uint serial;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  strbuf s;
  sb_init(&s);
  sb_append(&s, src);
  sb_appendf(&s, "\n__constant uint gc_cold_build[] = {%uu, %uu, %uu, %uu};\n", (unsigned)ts.tv_sec,
             (unsigned)ts.tv_nsec, (unsigned)getpid(), atomic_fetch_add(&serial, 1u));
  gc_status st = s.oom ? gc_fail(GC_ERR_NOMEM, "compile: out of memory")
                       : build_source(d, sb_str(&s), options ? options : "", out);
  sb_free(&s);
  return st;
}
