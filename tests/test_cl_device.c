/* test_cl_device.c — Check suite for backends/opencl: error names, device
 * listing and selection, program builds, the on-disk binary cache (hits,
 * corrupt entries, disabled cache) and build-failure messages.
 *
 * OpenCL objects are created inside each test, never in fixtures: Check
 * forks per test and OpenCL state does not survive fork. Each test that
 * touches the cache points GRAPHC_CACHE_DIR at its own fresh directory, so
 * tests neither see each other's entries nor the user's cache. */
#define _GNU_SOURCE /* mkdtemp, setenv with a strict -std */
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/opencl/cl_device.h"
#include "ir/status.h"

static const char *k_twice =
    "__kernel void twice(__global float *x, int n) {\n"
    "  int i = get_global_id(0);\n"
    "  if (i < n) x[i] = 2.0f * x[i] + 1.0f;\n"
    "}\n";

/* Runs the kernel "twice" of prog on an odd-sized buffer and checks every
 * element, so that a program loaded from a bad cache entry cannot pass. */
static void check_twice_runs(cl_dev *d, cl_program prog) {
  enum { N = 37 };
  float x[N];
  for (int i = 0; i < N; i++) x[i] = (float)i - 5.0f;
  cl_int err;
  cl_kernel k = clCreateKernel(prog, "twice", &err);
  ck_assert_int_eq(err, CL_SUCCESS);
  cl_mem buf = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof x, x, &err);
  ck_assert_int_eq(err, CL_SUCCESS);
  int n = N;
  ck_assert_int_eq(clSetKernelArg(k, 0, sizeof buf, &buf), CL_SUCCESS);
  ck_assert_int_eq(clSetKernelArg(k, 1, sizeof n, &n), CL_SUCCESS);
  size_t global = 40; /* more than N: the bounds check must hold */
  ck_assert_int_eq(clEnqueueNDRangeKernel(d->queue, k, 1, NULL, &global, NULL, 0, NULL, NULL),
                   CL_SUCCESS);
  ck_assert_int_eq(clEnqueueReadBuffer(d->queue, buf, CL_TRUE, 0, sizeof x, x, 0, NULL, NULL),
                   CL_SUCCESS);
  for (int i = 0; i < N; i++) ck_assert_float_eq(x[i], 2.0f * ((float)i - 5.0f) + 1.0f);
  ck_assert_int_eq(clReleaseMemObject(buf), CL_SUCCESS);
  ck_assert_int_eq(clReleaseKernel(k), CL_SUCCESS);
}

static cl_dev *open_default(void) {
  cl_dev *d = NULL;
  gc_status st = cl_dev_open("0", &d);
  ck_assert_msg(st == GC_OK, "cl_dev_open: %s", gc_last_error());
  ck_assert_ptr_nonnull(d);
  return d;
}

/* Builds src and asserts success and the expected cache outcome. */
static void build_expect(cl_dev *d, const char *src, const char *opts, int want_hit) {
  cl_program prog = NULL;
  int hit = -1;
  gc_status st = cl_build_program(d, src, opts, &prog, &hit);
  ck_assert_msg(st == GC_OK, "cl_build_program: %s", gc_last_error());
  ck_assert_ptr_nonnull(prog);
  ck_assert_int_eq(hit, want_hit);
  check_twice_runs(d, prog);
  ck_assert_int_eq(clReleaseProgram(prog), CL_SUCCESS);
}

/* ------------------------------------------------------ cache dir helpers */

static char *make_cache_dir(char *tmpl_out, size_t cap) {
  const char *base = getenv("TMPDIR");
  snprintf(tmpl_out, cap, "%s/graphc-cltest-XXXXXX", base && *base ? base : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(tmpl_out));
  return tmpl_out;
}

static void rm_rf(const char *path) {
  DIR *dir = opendir(path);
  if (dir) {
    struct dirent *e;
    while ((e = readdir(dir))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char sub[4096];
      snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
      rm_rf(sub);
    }
    closedir(dir);
    rmdir(path);
  } else {
    unlink(path);
  }
}

/* Counts the entries of dir ending in ".bin"; the last one's path goes to
 * path_out. Temporary files (".tmp.") must never be left behind. */
static int find_bins(const char *dir, char *path_out, size_t cap) {
  DIR *dd = opendir(dir);
  ck_assert_ptr_nonnull(dd);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dd))) {
    size_t l = strlen(e->d_name);
    ck_assert_msg(!strstr(e->d_name, ".tmp."), "temporary file left: %s", e->d_name);
    if (l > 4 && !strcmp(e->d_name + l - 4, ".bin")) {
      ck_assert_int_eq(l, 16 + 4); /* 64-bit key in hex */
      if (path_out) snprintf(path_out, cap, "%s/%s", dir, e->d_name);
      n++;
    }
  }
  closedir(dd);
  return n;
}

static size_t read_file(const char *path, unsigned char **out) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  ck_assert_int_gt(n, 0);
  rewind(f);
  *out = malloc((size_t)n);
  ck_assert_ptr_nonnull(*out);
  ck_assert_int_eq(fread(*out, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  return (size_t)n;
}

static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fwrite(p, 1, n, f), n);
  ck_assert_int_eq(fclose(f), 0);
}

/* ------------------------------------------------------------ error names */

START_TEST(error_names) {
  ck_assert_str_eq(cl_error_name(CL_SUCCESS), "CL_SUCCESS");
  ck_assert_str_eq(cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
  ck_assert_str_eq(cl_error_name(CL_BUILD_PROGRAM_FAILURE), "CL_BUILD_PROGRAM_FAILURE");
  ck_assert_str_eq(cl_error_name(CL_INVALID_KERNEL_ARGS), "CL_INVALID_KERNEL_ARGS");
  ck_assert_str_eq(cl_error_name(CL_INVALID_DEVICE_PARTITION_COUNT),
                   "CL_INVALID_DEVICE_PARTITION_COUNT");
  ck_assert_str_eq(cl_error_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
  ck_assert_str_eq(cl_error_name(-12345), "CL_UNKNOWN_ERROR(-12345)");
  ck_assert_str_eq(cl_error_name(-20), "CL_UNKNOWN_ERROR(-20)");
  /* Every code of CL 1.2 has a name. */
  for (int e = 0; e >= -68; e--) {
    if (e <= -20 && e >= -29) continue;
    ck_assert_msg(strncmp(cl_error_name(e), "CL_UNKNOWN", 10) != 0, "no name for %d", e);
  }
}
END_TEST

START_TEST(check_records_call) {
  gc_clear_error();
  ck_assert_int_eq(cl_check(CL_SUCCESS, "clFinish"), GC_OK);
  ck_assert_str_eq(gc_last_error(), "");
  ck_assert_int_eq(cl_check(CL_INVALID_VALUE, "clFoo"), GC_ERR_OPENCL);
  ck_assert_str_eq(gc_last_error(), "clFoo failed: CL_INVALID_VALUE");
}
END_TEST

/* ---------------------------------------------------------------- listing */

START_TEST(list_devices) {
  int count = -1;
  ck_assert_int_eq(cl_dev_list(NULL, 0, &count), GC_OK);
  ck_assert_int_ge(count, 1);
  gc_device_info infos[16];
  int count2 = -1;
  gc_status st = cl_dev_list(infos, 16, &count2);
  ck_assert_msg(st == GC_OK, "%s", gc_last_error());
  ck_assert_int_eq(count2, count);
  int pocl = 0;
  for (int i = 0; i < count && i < 16; i++) {
    const gc_device_info *in = &infos[i];
    ck_assert_int_eq(in->index, i);
    ck_assert_int_gt(strlen(in->platform), 0);
    ck_assert_int_gt(strlen(in->name), 0);
    ck_assert_int_gt(strlen(in->vendor), 0);
    ck_assert_int_gt(strlen(in->version), 0);
    ck_assert_int_gt(strlen(in->driver_version), 0);
    ck_assert_uint_gt(in->compute_units, 0);
    ck_assert_uint_gt(in->max_work_group_size, 0);
    ck_assert_uint_gt(in->local_mem_bytes, 0);
    ck_assert_uint_gt(in->global_mem_bytes, 0);
    ck_assert_uint_gt(in->max_alloc_bytes, 0);
    ck_assert_uint_le(in->max_alloc_bytes, in->global_mem_bytes);
    ck_assert_uint_ge(in->mem_base_align_bits, 8);
    /* OpenCL 1.2 guarantees at least 256 bytes of kernel arguments. */
    ck_assert_uint_ge(in->max_parameter_bytes, 256);
    if (strstr(in->platform, "Portable Computing Language")) {
      pocl = 1;
      ck_assert(in->is_cpu);
      ck_assert(!in->is_gpu);
    }
  }
  ck_assert_msg(pocl, "PoCL is not among the devices");
  /* max smaller than count: count still tells how many there are. */
  gc_device_info one;
  ck_assert_int_eq(cl_dev_list(&one, 1, &count2), GC_OK);
  ck_assert_int_eq(count2, count);
  ck_assert_str_eq(one.name, infos[0].name);
  ck_assert_int_eq(cl_dev_list(NULL, 1, &count2), GC_ERR_INVALID);
}
END_TEST

/* ---------------------------------------------------------------- opening */

static void open_expect_pocl(const char *spec) {
  cl_dev *d = NULL;
  gc_status st = cl_dev_open(spec, &d);
  ck_assert_msg(st == GC_OK, "cl_dev_open(%s): %s", spec ? spec : "NULL", gc_last_error());
  ck_assert_ptr_nonnull(d);
  ck_assert_ptr_nonnull(d->platform);
  ck_assert_ptr_nonnull(d->device);
  ck_assert_ptr_nonnull(d->ctx);
  ck_assert_ptr_nonnull(d->queue);
  ck_assert_ptr_nonnull(strstr(d->info.platform, "Portable Computing Language"));
  ck_assert_uint_gt(d->info.max_work_group_size, 0);
  ck_assert_ptr_nonnull(strstr(d->extensions, "cl_khr_"));
  cl_command_queue_properties props = 0;
  ck_assert_int_eq(clGetCommandQueueInfo(d->queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL),
                   CL_SUCCESS);
  ck_assert(props & CL_QUEUE_PROFILING_ENABLE);
  ck_assert(!(props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE));
  cl_dev_close(d);
}

/* Index of the first PoCL device, which the specs below must select. */
static int pocl_index(void) {
  gc_device_info infos[16];
  int n = 0;
  ck_assert_int_eq(cl_dev_list(infos, 16, &n), GC_OK);
  for (int i = 0; i < n && i < 16; i++)
    if (strstr(infos[i].platform, "Portable Computing Language")) return i;
  ck_abort_msg("no PoCL device");
  return -1;
}

START_TEST(open_by_index_and_name) {
  char idx[16];
  snprintf(idx, sizeof idx, "%d", pocl_index());
  open_expect_pocl(idx);
  open_expect_pocl("pocl");
  open_expect_pocl("POCL");
  open_expect_pocl("Portable Computing Language / ");
  open_expect_pocl("portable computing");
  cl_dev_close(NULL);
}
END_TEST

START_TEST(open_by_env) {
  ck_assert_int_eq(setenv("GRAPHC_DEVICE", "pocl", 1), 0);
  open_expect_pocl(NULL);
  open_expect_pocl("");
  /* An explicit spec wins over the environment. */
  ck_assert_int_eq(setenv("GRAPHC_DEVICE", "nonexistent-device", 1), 0);
  open_expect_pocl("pocl");
  cl_dev *d = (cl_dev *)1;
  ck_assert_int_eq(cl_dev_open(NULL, &d), GC_ERR_NOT_FOUND);
  ck_assert_ptr_null(d);
  ck_assert_ptr_nonnull(strstr(gc_last_error(), "nonexistent-device"));
  ck_assert_ptr_nonnull(strstr(gc_last_error(), "GRAPHC_DEVICE"));
  /* Unset, NULL means the first device. */
  ck_assert_int_eq(unsetenv("GRAPHC_DEVICE"), 0);
  ck_assert_int_eq(cl_dev_open(NULL, &d), GC_OK);
  ck_assert_int_eq(d->info.index, 0);
  cl_dev_close(d);
}
END_TEST

START_TEST(open_unknown) {
  const char *specs[] = {"nonexistent-device", "99", "99999999999999999999999"};
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    cl_dev *d = (cl_dev *)1;
    ck_assert_int_eq(cl_dev_open(specs[i], &d), GC_ERR_NOT_FOUND);
    ck_assert_ptr_null(d);
    const char *msg = gc_last_error();
    ck_assert_msg(strstr(msg, specs[i]) != NULL, "message does not name spec: %s", msg);
    ck_assert_msg(strstr(msg, ": Portable Computing Language / ") != NULL,
                  "message does not list devices: %s", msg);
  }
  ck_assert_int_eq(cl_dev_open("0", NULL), GC_ERR_INVALID);
}
END_TEST

/* --------------------------------------------------------------- building */

START_TEST(build_and_run_uncached) {
  ck_assert_int_eq(setenv("GRAPHC_CACHE_DIR", "off", 1), 0);
  cl_dev *d = open_default();
  build_expect(d, k_twice, NULL, 0);
  build_expect(d, k_twice, NULL, 0); /* off: never a hit */
  build_expect(d, k_twice, "-cl-fast-relaxed-math", 0);
  cl_dev_close(d);
}
END_TEST

START_TEST(build_cache_hit) {
  char dir[512], sub[600];
  make_cache_dir(dir, sizeof dir);
  /* Missing parents are created (mkdir -p). */
  snprintf(sub, sizeof sub, "%s/a/b/graphc", dir);
  ck_assert_int_eq(setenv("GRAPHC_CACHE_DIR", sub, 1), 0);
  cl_dev *d = open_default();
  build_expect(d, k_twice, NULL, 0);
  ck_assert_int_eq(find_bins(sub, NULL, 0), 1);
  build_expect(d, k_twice, NULL, 1);
  build_expect(d, k_twice, "", 1); /* NULL and "" options are the same */
  /* Other options and other source are other entries. */
  build_expect(d, k_twice, "-DUNUSED=1", 0);
  ck_assert_int_eq(find_bins(sub, NULL, 0), 2);
  build_expect(d, k_twice, "-DUNUSED=1", 1);
  char src2[512];
  snprintf(src2, sizeof src2, "/* another */\n%s", k_twice);
  build_expect(d, src2, NULL, 0);
  ck_assert_int_eq(find_bins(sub, NULL, 0), 3);
  /* A second device handle (a new context) still hits. */
  cl_dev_close(d);
  d = open_default();
  build_expect(d, src2, NULL, 1);
  cl_dev_close(d);
  rm_rf(dir);
}
END_TEST

/* Damages the one entry of dir with damage(), then checks that the next
 * build rebuilds (no hit, still correct) and leaves a valid entry. */
static void check_rebuild_after(cl_dev *d, const char *dir, const unsigned char *bytes, size_t n) {
  char path[1024];
  ck_assert_int_eq(find_bins(dir, path, sizeof path), 1);
  write_file(path, bytes, n);
  build_expect(d, k_twice, NULL, 0);
  ck_assert_int_eq(find_bins(dir, NULL, 0), 1);
  build_expect(d, k_twice, NULL, 1);
}

/* The entry format documented in cl_cache.c, rebuilt here so that a test can
 * hand the driver a well-formed entry whose payload is garbage. */
static uint64_t fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

START_TEST(build_cache_corrupt) {
  char dir[512];
  make_cache_dir(dir, sizeof dir);
  ck_assert_int_eq(setenv("GRAPHC_CACHE_DIR", dir, 1), 0);
  cl_dev *d = open_default();
  build_expect(d, k_twice, NULL, 0);
  char path[1024];
  ck_assert_int_eq(find_bins(dir, path, sizeof path), 1);
  unsigned char *good;
  size_t n = read_file(path, &good);
  ck_assert_uint_gt(n, 32);

  /* Garbage of the same length, then short garbage, then an empty file. */
  unsigned char *junk = malloc(n);
  ck_assert_ptr_nonnull(junk);
  for (size_t i = 0; i < n; i++) junk[i] = (unsigned char)(i * 131u + 7u);
  check_rebuild_after(d, dir, junk, n);
  check_rebuild_after(d, dir, junk, 5);
  check_rebuild_after(d, dir, junk, 0);
  /* The valid entry cut short: only the header, and half of it. */
  check_rebuild_after(d, dir, good, n / 2);
  check_rebuild_after(d, dir, good, 32);
  check_rebuild_after(d, dir, good, 7);
  /* One flipped byte in the payload. */
  unsigned char *flip = malloc(n);
  ck_assert_ptr_nonnull(flip);
  memcpy(flip, good, n);
  flip[n / 2 + 16] ^= 0x40;
  check_rebuild_after(d, dir, flip, n);
  /* A well-formed header over a garbage payload: only the driver can tell,
   * so this takes the "binary refused" path. */
  memcpy(flip, good, 32);
  memcpy(flip + 32, junk + 32, n - 32);
  uint64_t h = fnv1a(flip + 32, n - 32);
  memcpy(flip + 24, &h, 8);
  check_rebuild_after(d, dir, flip, n);

  free(flip);
  free(junk);
  free(good);
  cl_dev_close(d);
  rm_rf(dir);
}
END_TEST

START_TEST(build_cache_dir_unusable) {
  char dir[512], file[600], sub[700];
  make_cache_dir(dir, sizeof dir);
  /* A regular file where a parent directory should be. */
  snprintf(file, sizeof file, "%s/not-a-dir", dir);
  write_file(file, "x", 1);
  snprintf(sub, sizeof sub, "%s/cache", file);
  ck_assert_int_eq(setenv("GRAPHC_CACHE_DIR", sub, 1), 0);
  cl_dev *d = open_default();
  build_expect(d, k_twice, NULL, 0);
  build_expect(d, k_twice, NULL, 0);
  cl_dev_close(d);
  rm_rf(dir);
}
END_TEST

START_TEST(build_error_has_log) {
  ck_assert_int_eq(setenv("GRAPHC_CACHE_DIR", "off", 1), 0);
  cl_dev *d = open_default();
  const char *bad =
      "__kernel void broken(__global float *x) {\n"
      "  x[0] = undefined_thing_42 + 1.0f\n"
      "}\n";
  cl_program prog = (cl_program)1;
  int hit = -1;
  ck_assert_int_eq(cl_build_program(d, bad, NULL, &prog, &hit), GC_ERR_BUILD);
  ck_assert_ptr_null(prog);
  ck_assert_int_eq(hit, 0);
  const char *msg = gc_last_error();
  ck_assert_msg(strncmp(msg, "OpenCL build failed: ", 21) == 0, "%s", msg);
  ck_assert_msg(strstr(msg, "error") != NULL, "no compiler error text: %s", msg);
  ck_assert_msg(strstr(msg, "undefined_thing_42") != NULL, "no identifier: %s", msg);

  /* Rejected options are a build failure too. */
  ck_assert_int_eq(cl_build_program(d, k_twice, "-no-such-option-xyz", &prog, NULL), GC_ERR_BUILD);
  ck_assert_ptr_nonnull(strstr(gc_last_error(), "OpenCL build failed: "));
  cl_dev_close(d);
}
END_TEST

START_TEST(build_error_long_log) {
  char dir[512];
  make_cache_dir(dir, sizeof dir);
  ck_assert_int_eq(setenv("GRAPHC_CACHE_DIR", dir, 1), 0);
  cl_dev *d = open_default();
  /* Many warnings, then errors: the message must fit and keep an error. */
  char *src = malloc(200000);
  ck_assert_ptr_nonnull(src);
  size_t len = 0;
  len += (size_t)sprintf(src + len, "__kernel void k(__global int *x) {\n");
  for (int i = 0; i < 300; i++)
    len += (size_t)sprintf(src + len, "  int unused_%d = 1 << 40; (void)unused_%d;\n", i, i);
  for (int i = 0; i < 30; i++) len += (size_t)sprintf(src + len, "  x[0] = missing_%d;\n", i);
  sprintf(src + len, "}\n");
  cl_program prog = NULL;
  ck_assert_int_eq(cl_build_program(d, src, NULL, &prog, NULL), GC_ERR_BUILD);
  const char *msg = gc_last_error();
  ck_assert_msg(strncmp(msg, "OpenCL build failed: ", 21) == 0, "%s", msg);
  ck_assert_uint_lt(strlen(msg), 2047); /* not cut by the message buffer */
  ck_assert_msg(strstr(msg, "missing_0") != NULL, "first error lost: %s", msg);
  /* A failed build writes nothing to the cache. */
  ck_assert_int_eq(find_bins(dir, NULL, 0), 0);
  free(src);
  cl_dev_close(d);
  rm_rf(dir);
}
END_TEST

START_TEST(build_bad_args) {
  cl_program prog = NULL;
  ck_assert_int_eq(cl_build_program(NULL, k_twice, NULL, &prog, NULL), GC_ERR_INVALID);
  cl_dev *d = open_default();
  ck_assert_int_eq(cl_build_program(d, NULL, NULL, &prog, NULL), GC_ERR_INVALID);
  ck_assert_int_eq(cl_build_program(d, k_twice, NULL, NULL, NULL), GC_ERR_INVALID);
  cl_dev_close(d);
}
END_TEST

START_TEST(embedded_lookup) {
  ck_assert_ptr_null(cl_embedded_source("no-such-kernel"));
  ck_assert_ptr_null(cl_embedded_source(NULL));
}
END_TEST

static Suite *cl_device_suite(void) {
  Suite *s = suite_create("cl_device");
  struct {
    const char *name;
    const TTest *tests[8];
  } cases[] = {
      {"errors", {error_names, check_records_call}},
      {"list", {list_devices}},
      {"open", {open_by_index_and_name, open_by_env, open_unknown}},
      {"build",
       {build_and_run_uncached, build_error_has_log, build_error_long_log, build_bad_args,
        embedded_lookup}},
      {"cache", {build_cache_hit, build_cache_corrupt, build_cache_dir_unusable}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    TCase *tc = tcase_create(cases[i].name);
    /* PoCL compiles take seconds each; Check's 4 s default is far too short. */
    tcase_set_timeout(tc, 600);
    for (int j = 0; j < 8 && cases[i].tests[j]; j++) tcase_add_test(tc, cases[i].tests[j]);
    suite_add_tcase(s, tc);
  }
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(cl_device_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
