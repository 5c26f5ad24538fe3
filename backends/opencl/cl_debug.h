/* cl_debug.h — debugging aids of the OpenCL backend, for tests.
 *
 * Sentinels: when the environment has GRAPHC_DEBUG_SENTINELS=1 at
 * gc_session_new, every buffer of the session (the arena and each
 * persistent tensor) is allocated with CL_SENTINEL_BYTES extra bytes after
 * its end, filled with CL_SENTINEL_BYTE. Kernels never address them, so a
 * changed byte is an out-of-bounds write. Off by default (no extra memory,
 * no extra work). */
#ifndef GC_CL_DEBUG_H
#define GC_CL_DEBUG_H

#include "graphc.h"

#define CL_SENTINEL_BYTES 256
#define CL_SENTINEL_BYTE 0x7F

/* Waits for queued work and checks every sentinel of s. GC_OK when all are
 * intact; GC_ERR_INTERNAL naming the buffer (its node) and the first
 * changed byte otherwise; GC_ERR_INVALID when s is not an OpenCL session or
 * was created without GRAPHC_DEBUG_SENTINELS=1. */
gc_status cl_session_check_sentinels(gc_session *s);

#endif
