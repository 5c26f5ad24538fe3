/* status.c — thread-local last-error message and status names. */
#include "ir/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[2048];

const char *gc_last_error(void) { return last_error; }

void gc_clear_error(void) { last_error[0] = 0; }

gc_status gc_fail(gc_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return s;
}

gc_status gc_error(gc_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return s;
}

gc_status gc_fail_context(gc_status s, const char *fmt, ...) {
  char prefix[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  /* "prefix: old message", cutting the old message's end if it must */
  size_t pl = strlen(prefix), ol = strlen(last_error);
  if (pl + 2 + ol + 1 > sizeof last_error) ol = sizeof last_error - pl - 3;
  memmove(last_error + pl + 2, last_error, ol);
  last_error[pl + 2 + ol] = 0;
  memcpy(last_error, prefix, pl);
  last_error[pl] = ':';
  last_error[pl + 1] = ' ';
  return s;
}

const char *gc_status_name(gc_status s) {
  static const char *const names[] = {
      "GC_OK",        "GC_ERR_INVALID",     "GC_ERR_SHAPE",     "GC_ERR_NOMEM",
      "GC_ERR_IO",    "GC_ERR_FORMAT",      "GC_ERR_NOT_FOUND", "GC_ERR_OPENCL",
      "GC_ERR_BUILD", "GC_ERR_UNSUPPORTED", "GC_ERR_INTERNAL"};
  if ((unsigned)s < sizeof names / sizeof names[0]) return names[s];
  return "GC_ERR_UNKNOWN";
}
