/* strbuf.c — growable string builder (see strbuf.h). */
#include "ir/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_init(strbuf *sb) {
  sb->buf = NULL;
  sb->len = sb->cap = 0;
  sb->oom = 0;
}

void sb_free(strbuf *sb) {
  if (!sb) return;
  free(sb->buf);
  sb_init(sb);
}

/* Makes room for extra more bytes plus the NUL; doubles so that n appends
 * cost O(total length). */
static int sb_reserve(strbuf *sb, size_t extra) {
  if (sb->oom) return -1;
  if (extra > (size_t)-1 / 2 - sb->len) {
    sb->oom = 1;
    return -1;
  }
  size_t need = sb->len + extra + 1;
  if (need <= sb->cap) return 0;
  size_t cap = sb->cap ? sb->cap : 64;
  while (cap < need) cap *= 2;
  char *p = realloc(sb->buf, cap);
  if (!p) {
    sb->oom = 1;
    return -1;
  }
  sb->buf = p;
  sb->cap = cap;
  return 0;
}

int sb_appendn(strbuf *sb, const char *s, size_t n) {
  if (sb_reserve(sb, n)) return -1;
  if (n) memcpy(sb->buf + sb->len, s, n);
  sb->len += n;
  sb->buf[sb->len] = 0;
  return 0;
}

int sb_append(strbuf *sb, const char *s) {
  return sb_appendn(sb, s ? s : "(null)", s ? strlen(s) : 6);
}

int sb_vappendf(strbuf *sb, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    /* An encoding error is not an allocation failure, but the content is
     * incomplete all the same; make the caller notice. */
    sb->oom = 1;
    return -1;
  }
  if (sb_reserve(sb, (size_t)n)) return -1;
  vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
  sb->len += (size_t)n;
  return 0;
}

int sb_appendf(strbuf *sb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = sb_vappendf(sb, fmt, ap);
  va_end(ap);
  return r;
}

const char *sb_str(const strbuf *sb) { return sb->buf ? sb->buf : ""; }

void sb_reset(strbuf *sb) {
  sb->len = 0;
  sb->oom = 0;
  if (sb->buf) sb->buf[0] = 0;
}

char *sb_take(strbuf *sb) {
  if (sb->oom) {
    sb_free(sb);
    return NULL;
  }
  char *s = sb->buf;
  if (!s) s = calloc(1, 1);
  sb_init(sb);
  return s;
}

void sb_define_statement(strbuf *sb, const char *head, const char *body) {
  sb_appendf(sb, "#define %s do { ", head);
  for (const char *c = body; *c; c++) sb_appendn(sb, *c == '\n' ? " " : c, 1);
  sb_append(sb, "; } while (0)\n");
}
