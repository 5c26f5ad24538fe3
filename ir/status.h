/* status.h — the thread-local "last error" behind gc_last_error(), shared by
 * every part of the library. Library code never prints: it records a
 * message here and returns the status. */
#ifndef GC_IR_STATUS_H
#define GC_IR_STATUS_H

#include "graphc.h"

#if defined(__GNUC__)
#define GC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GC_PRINTF(a, b)
#endif

/* Records the message (printf-style) for gc_last_error() and returns s. */
gc_status gc_fail(gc_status s, const char *fmt, ...) GC_PRINTF(2, 3);
/* Prefixes the current message with "what: " (for context as errors rise). */
gc_status gc_fail_context(gc_status s, const char *fmt, ...) GC_PRINTF(2, 3);
void gc_clear_error(void);

#endif
