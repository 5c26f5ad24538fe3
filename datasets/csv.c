/* csv.c — numeric CSV files as datasets (Iris and the like): one sample a
 * line, one column of non-negative integer class labels, every other column
 * a float feature. The first line is taken as a header when any of its
 * fields is not a number, or when its field count differs from the data
 * rows' (sklearn's files start with "150,4,setosa,versicolor,virginica" or
 * "150,4": counts, not a sample). Every error names file:line. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "ir/status.h"

/* The whole file in memory, NUL-terminated, with lines split in place. */
typedef struct csv_line {
  char *text;
  int64_t lineno; /* 1-based, for messages */
} csv_line;

static gc_status read_file(const char *path, char **out, size_t *len) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    return gc_fail(e == ENOENT ? GC_ERR_NOT_FOUND : GC_ERR_IO, "%s: cannot open: %s", path,
                   strerror(e));
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  gc_status s = GC_OK;
  while (buf) {
    if (n + 1 >= cap) {
      char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
      if (!nb) break;
      buf = nb;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n - 1, f);
    n += r;
    if (r == 0) break;
  }
  if (!buf || n + 1 >= cap)
    s = gc_fail(GC_ERR_NOMEM, "%s: out of memory reading the file", path);
  else if (ferror(f))
    s = gc_fail(GC_ERR_IO, "%s: read failed: %s", path, strerror(errno));
  fclose(f);
  if (s) {
    free(buf);
    return s;
  }
  buf[n] = 0;
  *out = buf;
  *len = n;
  return GC_OK;
}

static int is_blank(const char *s) {
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\r') return 0;
  return 1;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = 0;
  return s;
}

/* Splits a line in place at commas into at most max fields (trimmed);
 * returns the field count, which may exceed max (the rest are not kept). */
static int64_t split_fields(char *line, char **fields, int64_t max) {
  int64_t n = 0;
  for (char *p = line;;) {
    char *c = strchr(p, ',');
    if (c) *c = 0;
    if (n < max) fields[n] = trim(p);
    n++;
    if (!c) return n;
    p = c + 1;
  }
}

static int64_t count_fields(const char *line) {
  int64_t n = 1;
  for (; *line; line++) n += *line == ',';
  return n;
}

/* A number is a whole field that strtod reads and that is finite: "nan"
 * and "inf" would poison every statistic downstream. */
static int parse_number(const char *s, double *v) {
  if (!*s) return 0;
  char *end;
  errno = 0;
  double d = strtod(s, &end);
  if (*end || !isfinite(d)) return 0;
  *v = d;
  return 1;
}

/* Is the (unsplit) line all numbers? Works on a copy: the header test must
 * not disturb the line that may turn out to be data. */
static int all_numeric(const char *line) {
  char *copy = strdup(line);
  if (!copy) return 0;
  int ok = 1;
  for (char *p = copy; ok;) {
    char *c = strchr(p, ',');
    if (c) *c = 0;
    double v;
    ok = parse_number(trim(p), &v);
    if (!c) break;
    p = c + 1;
  }
  free(copy);
  return ok;
}

gc_status gc_dataset_load_csv(const char *path, int label_column, gc_dataset **out) {
  if (out) *out = NULL;
  if (!path || !out) return gc_fail(GC_ERR_INVALID, "gc_dataset_load_csv: NULL argument");
  char *text;
  size_t len = 0;
  gc_status s = read_file(path, &text, &len);
  if (s) return s;
  csv_line *lines = NULL;
  char **fields = NULL;
  gc_dataset *d = NULL;

  /* A NUL inside the text would silently cut a field short. */
  if (strlen(text) != len) {
    int64_t ln = 1;
    for (const char *p = text; *p; p++) ln += *p == '\n';
    s = gc_fail(GC_ERR_FORMAT, "%s:line %lld: NUL byte (not a text file?)", path, (long long)ln);
    goto done;
  }
  /* Split into non-blank lines. */
  int64_t nlines = 1;
  for (size_t i = 0; i < len; i++) nlines += text[i] == '\n';
  lines = malloc((size_t)nlines * sizeof *lines);
  if (!lines) {
    s = gc_fail(GC_ERR_NOMEM, "%s: out of memory", path);
    goto done;
  }
  int64_t nl = 0, lineno = 0;
  for (char *p = text; p;) {
    char *e = strchr(p, '\n');
    if (e) *e = 0;
    lineno++;
    if (!is_blank(p)) lines[nl++] = (csv_line){p, lineno};
    p = e ? e + 1 : NULL;
  }
  if (nl == 0) {
    s = gc_fail(GC_ERR_FORMAT, "%s: empty file", path);
    goto done;
  }

  int64_t first_fields = count_fields(lines[0].text);
  int64_t ncols = nl > 1 ? count_fields(lines[1].text) : first_fields;
  int header = !all_numeric(lines[0].text) || first_fields != ncols;
  int64_t first = header ? 1 : 0, nrows = nl - first;
  if (nrows == 0) {
    s = gc_fail(GC_ERR_FORMAT, "%s: no data rows after the header line", path);
    goto done;
  }
  if (ncols < 2) {
    s = gc_fail(GC_ERR_FORMAT,
                "%s:line %lld: %lld column(s); need a label and at least one feature", path,
                (long long)lines[first].lineno, (long long)ncols);
    goto done;
  }
  int64_t lc = label_column < 0 ? ncols + label_column : label_column;
  if (lc < 0 || lc >= ncols) {
    s = gc_fail(GC_ERR_INVALID, "%s: label column %d out of range for %lld columns", path,
                label_column, (long long)ncols);
    goto done;
  }

  gc_shape shape = {.ndim = 1, .dim = {ncols - 1}};
  s = ds_alloc(nrows, shape, path, &d);
  if (s) goto done;
  fields = malloc((size_t)ncols * sizeof *fields);
  if (!fields) {
    s = gc_fail(GC_ERR_NOMEM, "%s: out of memory", path);
    goto done;
  }
  for (int64_t r = 0; r < nrows; r++) {
    const csv_line *L = &lines[first + r];
    int64_t got = split_fields(L->text, fields, ncols);
    if (got != ncols) {
      s = gc_fail(GC_ERR_FORMAT, "%s:line %lld: expected %lld columns, got %lld", path,
                  (long long)L->lineno, (long long)ncols, (long long)got);
      goto done;
    }
    float *x = d->x + r * (ncols - 1);
    for (int64_t c = 0; c < ncols; c++) {
      double v;
      if (!parse_number(fields[c], &v)) {
        s = gc_fail(GC_ERR_FORMAT, "%s:line %lld, column %lld: '%.40s' is not a number", path,
                    (long long)L->lineno, (long long)c + 1, fields[c]);
        goto done;
      }
      if (c == lc) {
        if (v < 0 || v > INT32_MAX - 1 || v != floor(v)) {
          s = gc_fail(
              GC_ERR_FORMAT,
              "%s:line %lld: label %.40s out of range (labels must be non-negative integers)", path,
              (long long)L->lineno, fields[c]);
          goto done;
        }
        d->y[r] = (int32_t)v;
      } else {
        /* strtof, not (float)strtod: rounding once, straight to float,
         * gives the same value as a 5.1f literal. */
        float f = strtof(fields[c], NULL);
        if (!isfinite(f)) {
          s = gc_fail(GC_ERR_FORMAT, "%s:line %lld, column %lld: %.40s is out of float range", path,
                      (long long)L->lineno, (long long)c + 1, fields[c]);
          goto done;
        }
        *x++ = f;
      }
    }
  }
  s = ds_finish(d, path);

done:
  free(fields);
  free(lines);
  free(text);
  if (s) {
    gc_dataset_free(d);
    return s;
  }
  *out = d;
  return GC_OK;
}
