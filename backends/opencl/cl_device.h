/* cl_device.h — OpenCL platform/device enumeration and selection, queried
 * limits, checked calls with named errors, and program builds through an
 * on-disk binary cache. Everything above this file (codegen, runtime) talks
 * to OpenCL through a cl_dev and these helpers.
 *
 * Errors: functions return a gc_status and record a message with gc_fail()
 * (ir/status.h) naming the OpenCL call and the CL error name. */
#ifndef GC_CL_DEVICE_H
#define GC_CL_DEVICE_H

#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <stdbool.h>

#include "graphc.h"
#include "ir/strbuf.h"

typedef struct cl_dev {
  cl_platform_id platform;
  cl_device_id device;
  cl_context ctx;
  cl_command_queue queue; /* in-order, profiling enabled */
  gc_device_info info;    /* names and limits, as gc_device_list reports them */
  char extensions[4096];
} cl_dev;

/* "CL_OUT_OF_RESOURCES" etc.; "CL_UNKNOWN_ERROR(<n>)" for others (static
 * buffer per thread). */
const char *cl_error_name(cl_int err);

/* Records "<call> failed: <CL error name>" and returns GC_ERR_OPENCL when err
 * is not CL_SUCCESS; returns GC_OK otherwise. Use as:
 *   if ((st = cl_check(clFinish(q), "clFinish"))) return st; */
gc_status cl_check(cl_int err, const char *call);

/* Enumerates every device of every platform (see gc_device_list). */
gc_status cl_dev_list(gc_device_info *infos, int max, int *count);

/* Opens the device chosen by spec (as gc_device_open documents, without the
 * "ref" case): NULL/"" -> $GRAPHC_DEVICE or device 0; a decimal index; or a
 * case-insensitive substring of "platform / device" (when no device's names
 * match, the platform vendor, device vendor and device version are tried,
 * so that "pocl" finds PoCL). Creates a context and an in-order queue with
 * profiling enabled, and fills info and extensions. An unknown spec fails
 * with GC_ERR_NOT_FOUND and a message that names it and lists the devices
 * there are ("0: Portable Computing Language / pthread-..."). */
gc_status cl_dev_open(const char *spec, cl_dev **out);
void cl_dev_close(cl_dev *d);

/* Builds src with options for d, through the binary cache:
 * directory $GRAPHC_CACHE_DIR, else $XDG_CACHE_HOME/graphc, else
 * ~/.cache/graphc; key = hash of source, options, device name, driver
 * version, platform version and GC_VERSION. A cached binary is loaded with
 * clCreateProgramWithBinary and built; if that fails (corrupt entry) it is
 * removed and the source is built. New binaries are written to a temporary
 * file then renamed. GRAPHC_CACHE_DIR=off disables the cache. A build
 * failure returns GC_ERR_BUILD with the build log in the message.
 * *cache_hit (may be NULL) tells whether the binary came from the cache. */
gc_status cl_build_program(cl_dev *d, const char *src, const char *options, cl_program *out,
                           int *cache_hit);
/* Builds src from source as no build before: past the binary cache (and
 * storing nothing there), with a last line of its own so that the
 * driver's cache, keyed by the (preprocessed) source, misses too. What a compile costs
 * where no cache has the program (gc_compile_options.cold). */
gc_status cl_build_program_cold(cl_dev *d, const char *src, const char *options, cl_program *out);

/* For other entries of the same cache directory (cl_gemm_choice.c): sb
 * gets the directory, created if missing; -1 (sb left empty) when caching
 * is off or there is no usable location. */
int cl_cache_dir(strbuf *sb);
/* FNV-1a 64 continued from h (0 starts a new hash): of a string, hashed
 * with its length first so that fields cannot run into each other; of n
 * bytes; of the identity of d (platform name and version, device name and
 * version, driver version), the part of the binary cache's key that says
 * which device and driver a measurement belongs to. */
uint64_t cl_cache_hash(uint64_t h, const char *s);
uint64_t cl_cache_hash_bytes(uint64_t h, const void *p, size_t n);
uint64_t cl_cache_device_hash(const cl_dev *d, uint64_t h);

/* What the GPU forms take of a device: work-groups of 256 (the 16 x 16
 * GEMM of kernels/gemm_gpu.cl, the row reductions of cl_codegen.c's
 * reduce_by_group) and local memory for the GEMM's two K-step panels of
 * 16 x (64 + 1) floats, its split-K flag and the reductions' 256 floats. */
#define CL_GPU_FORMS_WORK_GROUP 256
#define CL_GPU_FORMS_LOCAL_BYTES (2 * 16 * 65 * 4 + 256 * 4 + 16)
/* Does d allow the GPU forms' work-groups and local memory? */
bool cl_dev_gpu_forms_fit(const cl_dev *d);

/* Whether programs for d take the kernel forms for CPU devices (work-items
 * walking rows: elementwise chunks, pooling rows, vector 2x2 max pooling,
 * the GEMM of kernels/gemm.cl) or those for GPUs (a work-item per element,
 * kernels/gemm_gpu.cl): d's device type, unless GRAPHC_KERNEL_FORM=gpu or
 * cpu, read at each call, overrides it, so that the GPU forms can be
 * tested on PoCL, where every test here runs. A device whose limits the
 * GPU forms pass (cl_dev_gpu_forms_fit) takes the CPU forms whatever is
 * asked: they need no local memory, and their work-groups shrink to what
 * the device allows (cl_codegen.c). */
bool cl_dev_cpu_forms(const cl_dev *d);

/* Looks up an embedded kernels/NAME.cl source ("gemm"); NULL if absent. */
const char *cl_embedded_source(const char *name);

#endif
