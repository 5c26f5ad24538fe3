/* idx.c — the IDX format of MNIST and Fashion-MNIST: a big-endian header
 * (magic 0x00000803 for u8 images of n x rows x cols, 0x00000801 for u8
 * labels of n) and the raw bytes. Files are read through zlib's gzread,
 * which reads gzipped and plain files alike, so both the distributed .gz
 * files and unpacked copies work. Headers are never trusted: sizes are
 * checked for overflow and the payload is read into a buffer that grows
 * only as data actually arrives, so a header claiming 2^40 pixels fails
 * with "truncated" instead of a 4 TB malloc. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "datasets/dataset.h"
#include "ir/status.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

typedef struct idx_file {
  gzFile f;
  char path[4096]; /* the path actually opened, for messages */
} idx_file;

/* Opens dir/name, else dir/name.gz. GC_ERR_NOT_FOUND when neither exists. */
static gc_status idx_open(const char *dir, const char *name, int default_dir, idx_file *out) {
  char plain[sizeof out->path - 3]; /* room for ".gz" in out->path */
  out->f = NULL;
  int len = snprintf(plain, sizeof plain, "%s/%s", dir, name);
  if (len < 0 || (size_t)len >= sizeof plain)
    return gc_fail(GC_ERR_INVALID, "%s/%s: path too long", dir, name);
  memcpy(out->path, plain, (size_t)len);
  memcpy(out->path + len, ".gz", 4);
  const char *tries[2] = {plain, out->path};
  for (int i = 0; i < 2; i++) {
    errno = 0;
    gzFile f = gzopen(tries[i], "rb");
    if (f) {
      if (i == 0) memcpy(out->path, plain, (size_t)len + 1);
      out->f = f;
      /* zlib's default 8 KB buffer costs ~2x on a 26 MB file. */
      gzbuffer(f, 1 << 18);
      return GC_OK;
    }
    if (errno != ENOENT && errno != 0)
      return gc_fail(GC_ERR_IO, "%s: cannot open: %s", tries[i], strerror(errno));
  }
  return gc_fail(GC_ERR_NOT_FOUND, "%s: not found (nor %s)%s", out->path, plain,
                 default_dir ? "; install dataset-fashion-mnist or pass --data DIR" : "");
}

static void idx_close(idx_file *f) {
  if (f->f) gzclose(f->f);
  f->f = NULL;
}

/* Reads up to n bytes; *got says how many came before the end of the data.
 * A zlib or system error is a failure; a short read is not (callers word
 * the "truncated" message, which knows what was being read). */
static gc_status idx_read(idx_file *f, void *buf, size_t n, size_t *got) {
  unsigned char *p = buf;
  *got = 0;
  while (*got < n) {
    size_t want = n - *got;
    if (want > (1u << 30)) want = 1u << 30; /* gzread takes an unsigned, returns int */
    int r = gzread(f->f, p + *got, (unsigned)want);
    if (r < 0) {
      int zerr;
      const char *msg = gzerror(f->f, &zerr);
      if (zerr == Z_ERRNO)
        return gc_fail(GC_ERR_IO, "%s: read failed: %s", f->path, strerror(errno));
      return gc_fail(GC_ERR_FORMAT, "%s: corrupt gzip data: %s", f->path, msg);
    }
    if (r == 0) break;
    *got += (size_t)r;
  }
  return GC_OK;
}

/* Reads exactly n payload bytes into a new buffer (*out, caller frees). The
 * buffer doubles as data arrives, so memory follows the file, not the
 * header's claim. */
static gc_status idx_read_payload(idx_file *f, uint64_t n, const char *what, unsigned char **out) {
  *out = NULL;
  size_t cap = n < (1u << 20) ? (size_t)n : (1u << 20), have = 0;
  unsigned char *buf = malloc(cap ? cap : 1);
  if (!buf) return gc_fail(GC_ERR_NOMEM, "%s: out of memory", f->path);
  while (have < n) {
    if (have == cap) {
      size_t ncap = (uint64_t)cap * 2 < n ? cap * 2 : (size_t)n;
      unsigned char *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        return gc_fail(GC_ERR_NOMEM, "%s: out of memory reading %zu bytes of %s", f->path, ncap,
                       what);
      }
      buf = nb;
      cap = ncap;
    }
    size_t got;
    gc_status s = idx_read(f, buf + have, cap - have, &got);
    if (s) {
      free(buf);
      return s;
    }
    have += got;
    if (have < cap) break; /* the data ended early */
  }
  if (have < n) {
    free(buf);
    return gc_fail(GC_ERR_FORMAT, "%s: truncated: expected %llu bytes of %s, got %zu", f->path,
                   (unsigned long long)n, what, have);
  }
  *out = buf;
  return GC_OK;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads the magic and the ndims dimensions that follow it. */
static gc_status idx_header(idx_file *f, uint32_t magic, int ndims, uint32_t *dims) {
  unsigned char h[16];
  size_t want = 4 + 4 * (size_t)ndims, got;
  gc_status s = idx_read(f, h, 4, &got);
  if (s) return s;
  if (got < 4)
    return gc_fail(GC_ERR_FORMAT, "%s: truncated header: expected %zu bytes, got %zu", f->path,
                   want, got);
  uint32_t m = be32(h);
  if (m != magic)
    return gc_fail(GC_ERR_FORMAT, "%s: bad magic 0x%08x (want 0x%08x, %s)", f->path, m, magic,
                   magic == IDX_IMAGES_MAGIC ? "u8 images" : "u8 labels");
  s = idx_read(f, h + 4, want - 4, &got);
  if (s) return s;
  if (got < want - 4)
    return gc_fail(GC_ERR_FORMAT, "%s: truncated header: expected %zu bytes, got %zu", f->path,
                   want, 4 + got);
  for (int i = 0; i < ndims; i++) dims[i] = be32(h + 4 + 4 * i);
  return GC_OK;
}

gc_status gc_dataset_load_mnist(const char *dir, int train, gc_dataset **out) {
  if (!out) return gc_fail(GC_ERR_INVALID, "gc_dataset_load_mnist: out is NULL");
  *out = NULL;
  int default_dir = dir == NULL;
  if (!dir) dir = DEFAULT_DIR;
  const char *img_name = train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
  const char *lbl_name = train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";

  idx_file fi = {0}, fl = {0};
  unsigned char *pix = NULL, *lab = NULL;
  gc_dataset *d = NULL;
  uint32_t idim[3] = {0}, ldim[1] = {0};
  gc_status s = idx_open(dir, img_name, default_dir, &fi);
  if (!s) s = idx_open(dir, lbl_name, default_dir, &fl);
  if (!s) s = idx_header(&fi, IDX_IMAGES_MAGIC, 3, idim);
  if (!s) s = idx_header(&fl, IDX_LABELS_MAGIC, 1, ldim);
  if (s) goto done;
  /* Both headers before either payload: a mismatch fails without reading
   * 47 MB first. */
  if (ldim[0] != idim[0]) {
    s = gc_fail(GC_ERR_FORMAT, "%s has %lu labels but %s has %lu images", fl.path,
                (unsigned long)ldim[0], fi.path, (unsigned long)idim[0]);
    goto done;
  }
  if (idim[1] == 0 || idim[2] == 0) {
    s = gc_fail(GC_ERR_FORMAT, "%s: images of %lux%lu pixels", fi.path, (unsigned long)idim[1],
                (unsigned long)idim[2]);
    goto done;
  }
  /* rows * cols < 2^64 always; times n may not be, and the floats must fit
   * in a size_t. */
  uint64_t per = (uint64_t)idim[1] * idim[2];
  uint64_t max = (SIZE_MAX < INT64_MAX ? SIZE_MAX : INT64_MAX) / sizeof(float);
  if (idim[0] && per > max / idim[0]) {
    s = gc_fail(GC_ERR_FORMAT, "%s: header claims %lu images of %lux%lu pixels, too large", fi.path,
                (unsigned long)idim[0], (unsigned long)idim[1], (unsigned long)idim[2]);
    goto done;
  }
  uint64_t npix = per * idim[0];
  s = idx_read_payload(&fi, npix, "pixels", &pix);
  if (!s) s = idx_read_payload(&fl, ldim[0], "labels", &lab);
  if (s) goto done;

  gc_shape shape = {.ndim = 2, .dim = {idim[1], idim[2]}};
  s = ds_alloc(idim[0], shape, fi.path, &d);
  if (s) goto done;
  /* A table keeps x / 255 exact (255 maps to 1.0f) at the cost of a load. */
  float scale[256];
  for (int i = 0; i < 256; i++) scale[i] = (float)i / 255.0f;
  for (uint64_t i = 0; i < npix; i++) d->x[i] = scale[pix[i]];
  for (uint32_t i = 0; i < idim[0]; i++) d->y[i] = lab[i];
  s = ds_finish(d, fl.path);

done:
  idx_close(&fi);
  idx_close(&fl);
  free(pix);
  free(lab);
  if (s) {
    gc_dataset_free(d);
    return s;
  }
  *out = d;
  return GC_OK;
}
