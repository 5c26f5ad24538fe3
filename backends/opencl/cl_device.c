/* cl_device.c — OpenCL error names, checked calls, device enumeration with
 * queried limits, and device selection by index or name (see cl_device.h). */
#include "backends/opencl/cl_device.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/status.h"
#include "ir/strbuf.h"

/* The ICD loader's "no platform" code: not in the core headers. */
#define GC_CL_PLATFORM_NOT_FOUND_KHR (-1001)

const char *cl_error_name(cl_int err) {
#define E(x) \
  case x:    \
    return #x;
  switch (err) {
    E(CL_SUCCESS)
    E(CL_DEVICE_NOT_FOUND)
    E(CL_DEVICE_NOT_AVAILABLE)
    E(CL_COMPILER_NOT_AVAILABLE)
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    E(CL_OUT_OF_RESOURCES)
    E(CL_OUT_OF_HOST_MEMORY)
    E(CL_PROFILING_INFO_NOT_AVAILABLE)
    E(CL_MEM_COPY_OVERLAP)
    E(CL_IMAGE_FORMAT_MISMATCH)
    E(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    E(CL_BUILD_PROGRAM_FAILURE)
    E(CL_MAP_FAILURE)
    E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    E(CL_COMPILE_PROGRAM_FAILURE)
    E(CL_LINKER_NOT_AVAILABLE)
    E(CL_LINK_PROGRAM_FAILURE)
    E(CL_DEVICE_PARTITION_FAILED)
    E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    E(CL_INVALID_VALUE)
    E(CL_INVALID_DEVICE_TYPE)
    E(CL_INVALID_PLATFORM)
    E(CL_INVALID_DEVICE)
    E(CL_INVALID_CONTEXT)
    E(CL_INVALID_QUEUE_PROPERTIES)
    E(CL_INVALID_COMMAND_QUEUE)
    E(CL_INVALID_HOST_PTR)
    E(CL_INVALID_MEM_OBJECT)
    E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    E(CL_INVALID_IMAGE_SIZE)
    E(CL_INVALID_SAMPLER)
    E(CL_INVALID_BINARY)
    E(CL_INVALID_BUILD_OPTIONS)
    E(CL_INVALID_PROGRAM)
    E(CL_INVALID_PROGRAM_EXECUTABLE)
    E(CL_INVALID_KERNEL_NAME)
    E(CL_INVALID_KERNEL_DEFINITION)
    E(CL_INVALID_KERNEL)
    E(CL_INVALID_ARG_INDEX)
    E(CL_INVALID_ARG_VALUE)
    E(CL_INVALID_ARG_SIZE)
    E(CL_INVALID_KERNEL_ARGS)
    E(CL_INVALID_WORK_DIMENSION)
    E(CL_INVALID_WORK_GROUP_SIZE)
    E(CL_INVALID_WORK_ITEM_SIZE)
    E(CL_INVALID_GLOBAL_OFFSET)
    E(CL_INVALID_EVENT_WAIT_LIST)
    E(CL_INVALID_EVENT)
    E(CL_INVALID_OPERATION)
    E(CL_INVALID_GL_OBJECT)
    E(CL_INVALID_BUFFER_SIZE)
    E(CL_INVALID_MIP_LEVEL)
    E(CL_INVALID_GLOBAL_WORK_SIZE)
    E(CL_INVALID_PROPERTY)
    E(CL_INVALID_IMAGE_DESCRIPTOR)
    E(CL_INVALID_COMPILER_OPTIONS)
    E(CL_INVALID_LINKER_OPTIONS)
    E(CL_INVALID_DEVICE_PARTITION_COUNT)
    case GC_CL_PLATFORM_NOT_FOUND_KHR:
      return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
      break;
  }
#undef E
  static _Thread_local char unknown[40];
  snprintf(unknown, sizeof unknown, "CL_UNKNOWN_ERROR(%d)", (int)err);
  return unknown;
}

gc_status cl_check(cl_int err, const char *call) {
  if (err == CL_SUCCESS) return GC_OK;
  return gc_fail(GC_ERR_OPENCL, "%s failed: %s", call, cl_error_name(err));
}

/* A string-valued device/platform query into a fixed buffer. The query
 * fails with CL_INVALID_VALUE when the buffer is too small, so ask for the
 * size first and truncate long values rather than fail. */
static gc_status query_str(int is_platform, void *obj, cl_uint param, char *buf, size_t cap,
                           const char *call) {
  size_t n = 0;
  cl_int err = is_platform ? clGetPlatformInfo((cl_platform_id)obj, param, 0, NULL, &n)
                           : clGetDeviceInfo((cl_device_id)obj, param, 0, NULL, &n);
  if (err != CL_SUCCESS) return cl_check(err, call);
  char *tmp = malloc(n + 1);
  if (!tmp) return gc_fail(GC_ERR_NOMEM, "%s: out of host memory", call);
  err = is_platform ? clGetPlatformInfo((cl_platform_id)obj, param, n, tmp, NULL)
                    : clGetDeviceInfo((cl_device_id)obj, param, n, tmp, NULL);
  if (err != CL_SUCCESS) {
    free(tmp);
    return cl_check(err, call);
  }
  tmp[n] = 0;
  snprintf(buf, cap, "%s", tmp);
  free(tmp);
  return GC_OK;
}

static gc_status dev_str(cl_device_id d, cl_device_info p, char *buf, size_t cap) {
  return query_str(0, d, p, buf, cap, "clGetDeviceInfo");
}

#define DEV_INFO(dev, param, var) \
  cl_check(clGetDeviceInfo(dev, param, sizeof(var), &(var), NULL), "clGetDeviceInfo(" #param ")")

static gc_status fill_info(cl_platform_id p, cl_device_id d, int index, gc_device_info *info) {
  gc_status st;
  memset(info, 0, sizeof *info);
  info->index = index;
  if ((st = query_str(1, p, CL_PLATFORM_NAME, info->platform, sizeof info->platform,
                      "clGetPlatformInfo(CL_PLATFORM_NAME)")))
    return st;
  if ((st = dev_str(d, CL_DEVICE_NAME, info->name, sizeof info->name))) return st;
  if ((st = dev_str(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor))) return st;
  if ((st = dev_str(d, CL_DEVICE_VERSION, info->version, sizeof info->version))) return st;
  if ((st = dev_str(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version)))
    return st;

  cl_device_type type = 0;
  cl_uint cu = 0, align = 0;
  size_t wg = 0, param = 0;
  cl_ulong local = 0, global = 0, alloc = 0;
  if ((st = DEV_INFO(d, CL_DEVICE_TYPE, type))) return st;
  if ((st = DEV_INFO(d, CL_DEVICE_MAX_COMPUTE_UNITS, cu))) return st;
  if ((st = DEV_INFO(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, wg))) return st;
  if ((st = DEV_INFO(d, CL_DEVICE_LOCAL_MEM_SIZE, local))) return st;
  if ((st = DEV_INFO(d, CL_DEVICE_GLOBAL_MEM_SIZE, global))) return st;
  if ((st = DEV_INFO(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, alloc))) return st;
  if ((st = DEV_INFO(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN, align))) return st;
  if ((st = DEV_INFO(d, CL_DEVICE_MAX_PARAMETER_SIZE, param))) return st;
  info->is_gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
  info->is_cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
  info->compute_units = cu;
  info->max_work_group_size = wg;
  info->local_mem_bytes = local;
  info->global_mem_bytes = global;
  info->max_alloc_bytes = alloc;
  info->mem_base_align_bits = align;
  info->max_parameter_bytes = param;
  return GC_OK;
}

/* Every (platform, device) pair in global index order: platforms as the ICD
 * loader lists them, devices of each in its order. No platform at all is an
 * empty list, not an error: the caller decides whether that is fatal. The
 * arrays are malloc'd (NULL when *n is 0). */
static gc_status enumerate(cl_platform_id **plats_out, cl_device_id **devs_out, int *n_out) {
  *plats_out = NULL;
  *devs_out = NULL;
  *n_out = 0;
  cl_uint np = 0;
  cl_int err = clGetPlatformIDs(0, NULL, &np);
  if (err == GC_CL_PLATFORM_NOT_FOUND_KHR || (err == CL_SUCCESS && np == 0)) return GC_OK;
  if (err != CL_SUCCESS) return cl_check(err, "clGetPlatformIDs");
  cl_platform_id *plats = calloc(np, sizeof *plats);
  if (!plats) return gc_fail(GC_ERR_NOMEM, "enumerating OpenCL platforms: out of host memory");
  gc_status st = cl_check(clGetPlatformIDs(np, plats, NULL), "clGetPlatformIDs");
  cl_platform_id *rp = NULL;
  cl_device_id *rd = NULL;
  int n = 0;
  for (cl_uint i = 0; i < np && st == GC_OK; i++) {
    cl_uint nd = 0;
    err = clGetDeviceIDs(plats[i], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
    if (err == CL_DEVICE_NOT_FOUND || (err == CL_SUCCESS && nd == 0)) continue;
    if ((st = cl_check(err, "clGetDeviceIDs"))) break;
    cl_platform_id *np2 = realloc(rp, (n + nd) * sizeof *rp);
    if (np2) rp = np2;
    cl_device_id *nd2 = realloc(rd, (n + nd) * sizeof *rd);
    if (nd2) rd = nd2;
    if (!np2 || !nd2) {
      st = gc_fail(GC_ERR_NOMEM, "enumerating OpenCL devices: out of host memory");
      break;
    }
    if ((st = cl_check(clGetDeviceIDs(plats[i], CL_DEVICE_TYPE_ALL, nd, rd + n, NULL),
                       "clGetDeviceIDs")))
      break;
    for (cl_uint j = 0; j < nd; j++) rp[n + j] = plats[i];
    n += (int)nd;
  }
  free(plats);
  if (st) {
    free(rp);
    free(rd);
    return st;
  }
  *plats_out = rp;
  *devs_out = rd;
  *n_out = n;
  return GC_OK;
}

gc_status cl_dev_list(gc_device_info *infos, int max, int *count) {
  if (!count || (max > 0 && !infos)) return gc_fail(GC_ERR_INVALID, "cl_dev_list: null argument");
  cl_platform_id *plats;
  cl_device_id *devs;
  int n;
  gc_status st = enumerate(&plats, &devs, &n);
  if (st) return st;
  for (int i = 0; i < n && i < max && st == GC_OK; i++)
    st = fill_info(plats[i], devs[i], i, &infos[i]);
  free(plats);
  free(devs);
  if (st) return st;
  *count = n;
  return GC_OK;
}

static int is_index(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s)) return 0;
  return 1;
}

/* Case-insensitive strstr (ASCII is all device names use). */
static int contains_nocase(const char *hay, const char *needle) {
  size_t nl = strlen(needle);
  for (; *hay; hay++) {
    size_t k = 0;
    while (k < nl && hay[k] && tolower((unsigned char)hay[k]) == tolower((unsigned char)needle[k]))
      k++;
    if (k == nl) return 1;
  }
  return nl == 0;
}

/* The NOT_FOUND failure lists what there is, so the user can pick. */
static gc_status fail_not_found(const char *spec, const char *from, const gc_device_info *infos,
                                int n) {
  strbuf sb;
  sb_init(&sb);
  sb_appendf(&sb, "no OpenCL device matches \"%s\"%s; ", spec, from);
  if (n == 0) {
    sb_append(&sb, "no OpenCL platform or device is installed");
  } else {
    sb_append(&sb, "available devices:");
    for (int i = 0; i < n; i++)
      sb_appendf(&sb, "%s %d: %s / %s", i ? "," : "", i, infos[i].platform, infos[i].name);
  }
  gc_status st =
      gc_fail(GC_ERR_NOT_FOUND, "%s", sb.oom ? "no OpenCL device matches the spec" : sb_str(&sb));
  sb_free(&sb);
  return st;
}

gc_status cl_dev_open(const char *spec, cl_dev **out) {
  if (!out) return gc_fail(GC_ERR_INVALID, "cl_dev_open: null out");
  *out = NULL;
  const char *from = "";
  if (!spec || !*spec) {
    spec = getenv("GRAPHC_DEVICE");
    from = " (from GRAPHC_DEVICE)";
    if (!spec || !*spec) {
      spec = "0";
      from = "";
    }
  }

  cl_platform_id *plats;
  cl_device_id *devs;
  int n;
  gc_status st = enumerate(&plats, &devs, &n);
  if (st) return st;
  gc_device_info *infos = n ? calloc((size_t)n, sizeof *infos) : NULL;
  cl_dev *d = calloc(1, sizeof *d);
  if ((n && !infos) || !d) {
    st = gc_fail(GC_ERR_NOMEM, "cl_dev_open: out of host memory");
    goto done;
  }
  for (int i = 0; i < n && !st; i++) st = fill_info(plats[i], devs[i], i, &infos[i]);
  if (st) goto done;

  int pick = -1;
  if (is_index(spec)) {
    /* Parse digit by digit so that a huge number cannot overflow into a
     * valid index. */
    long v = 0;
    for (const char *c = spec; *c && v <= n; c++) v = v * 10 + (*c - '0');
    if (v < n) pick = (int)v;
  } else {
    char hay[3 * 128 + 16]; /* the longest of the two haystacks below */
    for (int i = 0; i < n && pick < 0; i++) {
      snprintf(hay, sizeof hay, "%s / %s", infos[i].platform, infos[i].name);
      if (contains_nocase(hay, spec)) pick = i;
    }
    /* Names alone can miss the obvious: PoCL's platform is "Portable
     * Computing Language", and only its vendor ("The pocl project") and
     * version strings say "pocl". So a spec no name matches is tried
     * against the vendors and the device version, still in index order. */
    char pvendor[128];
    for (int i = 0; i < n && pick < 0; i++) {
      if ((st = query_str(1, plats[i], CL_PLATFORM_VENDOR, pvendor, sizeof pvendor,
                          "clGetPlatformInfo(CL_PLATFORM_VENDOR)")))
        goto done;
      snprintf(hay, sizeof hay, "%s / %s / %s", pvendor, infos[i].vendor, infos[i].version);
      if (contains_nocase(hay, spec)) pick = i;
    }
  }
  if (pick < 0) {
    st = fail_not_found(spec, from, infos, n);
    goto done;
  }

  d->platform = plats[pick];
  d->device = devs[pick];
  d->info = infos[pick];
  size_t ext_n = 0;
  if ((st = cl_check(clGetDeviceInfo(d->device, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_n),
                     "clGetDeviceInfo(CL_DEVICE_EXTENSIONS)")))
    goto done;
  if (ext_n <= sizeof d->extensions) {
    st = cl_check(
        clGetDeviceInfo(d->device, CL_DEVICE_EXTENSIONS, sizeof d->extensions, d->extensions, NULL),
        "clGetDeviceInfo(CL_DEVICE_EXTENSIONS)");
  } else {
    st = dev_str(d->device, CL_DEVICE_EXTENSIONS, d->extensions, sizeof d->extensions);
    /* Cut a truncated list at its last space, so that no extension name
     * appears half-spelled (a prefix could match a probe by mistake). */
    char *sp = strrchr(d->extensions, ' ');
    if (!st && sp) *sp = 0;
  }
  if (st) goto done;

  cl_int err;
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)d->platform, 0};
  d->ctx = clCreateContext(props, 1, &d->device, NULL, NULL, &err);
  if ((st = cl_check(err, "clCreateContext"))) {
    d->ctx = NULL;
    goto done;
  }
  d->queue = clCreateCommandQueue(d->ctx, d->device, CL_QUEUE_PROFILING_ENABLE, &err);
  if ((st = cl_check(err, "clCreateCommandQueue"))) {
    d->queue = NULL;
    goto done;
  }

done:
  free(plats);
  free(devs);
  free(infos);
  if (st) {
    cl_dev_close(d);
    return st;
  }
  *out = d;
  return GC_OK;
}

void cl_dev_close(cl_dev *d) {
  if (!d) return;
  /* Release errors are ignored: there is nothing left to do with them and
   * close must always free the host side. */
  if (d->queue) {
    (void)clFinish(d->queue);
    (void)clReleaseCommandQueue(d->queue);
  }
  if (d->ctx) (void)clReleaseContext(d->ctx);
  free(d);
}

bool cl_dev_gpu_forms_fit(const cl_dev *d) {
  return d->info.max_work_group_size >= CL_GPU_FORMS_WORK_GROUP &&
         d->info.local_mem_bytes >= CL_GPU_FORMS_LOCAL_BYTES;
}

bool cl_dev_cpu_forms(const cl_dev *d) {
  if (d && !cl_dev_gpu_forms_fit(d)) return true;
  const char *env = getenv("GRAPHC_KERNEL_FORM");
  if (env && !strcmp(env, "gpu")) return false;
  if (env && !strcmp(env, "cpu")) return true;
  return d && d->info.is_cpu;
}
