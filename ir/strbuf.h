/* strbuf.h — a growable, always NUL-terminated string builder, for code
 * generation, error messages and lists built piece by piece.
 *
 * Out of memory is sticky: the first failed growth sets `oom`, later appends
 * do nothing, and sb_take returns NULL. So a generator may append freely and
 * check once at the end. */
#ifndef GC_IR_STRBUF_H
#define GC_IR_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "ir/status.h"

typedef struct strbuf {
  char *buf;  /* NUL-terminated when non-NULL; NULL until the first append */
  size_t len; /* bytes before the terminating NUL */
  size_t cap; /* bytes allocated */
  int oom;    /* an allocation failed; the content is incomplete */
} strbuf;

/* Starts empty (no allocation). A zeroed strbuf is also a valid empty one. */
void sb_init(strbuf *sb);
/* Frees the buffer and leaves sb empty and reusable. NULL-safe. */
void sb_free(strbuf *sb);
/* Appends a string / n bytes of s / printf-style text. Return 0, or -1 when
 * out of memory (also sticky in sb->oom). */
int sb_append(strbuf *sb, const char *s);
int sb_appendn(strbuf *sb, const char *s, size_t n);
int sb_appendf(strbuf *sb, const char *fmt, ...) GC_PRINTF(2, 3);
int sb_vappendf(strbuf *sb, const char *fmt, va_list ap);
/* Current content ("" when empty), owned by sb, valid until the next call. */
const char *sb_str(const strbuf *sb);
/* Drops the content but keeps the allocation (and clears oom). */
void sb_reset(strbuf *sb);
/* Appends the C macro "#define head do { body; } while (0)" on one line
 * (the newlines of body become spaces): a statement macro whose body, an
 * epilogue a kernel generator built, may span lines. */
void sb_define_statement(strbuf *sb, const char *head, const char *body);
/* Hands the content over as a malloc'd string the caller frees, and leaves
 * sb empty. Returns NULL if any earlier append ran out of memory (the
 * partial content is freed) or if the allocation fails. */
char *sb_take(strbuf *sb);

#endif
