/* Helpers shared by the cmocka tests: deterministic data, a naive GEMM
 * oracle, tolerance checks, scaled-down sizes under emulation. */
#ifndef HT_TESTUTIL_H
#define HT_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Under qemu (cross builds) FP SIMD runs ~100x slower: tests shrink their
 * big loops by this factor. */
#ifdef HT_TEST_SCALE_DOWN
#define HT_TEST_SCALE 16
#else
#define HT_TEST_SCALE 1
#endif

/* Deterministic uniform floats in [lo, hi) from a 64-bit seed. */
void tu_fill(float *x, size_t n, uint64_t seed, float lo, float hi);
uint64_t tu_rand(uint64_t *state);

/* C = alpha*op(A)*op(B) + beta*C in double, row-major (beta==0 ignores C). */
void tu_gemm_ref(int ta, int tb, size_t m, size_t n, size_t k, float alpha,
                 const float *a, size_t lda, const float *b, size_t ldb,
                 float beta, float *c, size_t ldc);

/* max over i of |x-y| / (atol + rtol*|y|); <= 1 means within tolerance. */
double tu_max_rel_err(const float *x, const float *y, size_t n, double atol,
                      double rtol);

/* Byte `at` of the file at path, or -1 if it cannot be read. */
int tu_file_byte(const char *path, long at);

/* Overwrites n bytes of the file at path, starting `at` bytes before its
 * last four (a checkpoint's CRC-32), and rewrites that CRC to match: a
 * damaged file that only the reader's own checks can refuse. 0, or -1 if
 * the file cannot be read or written. */
int tu_patch_before_crc(const char *path, size_t at, const void *bytes,
                        size_t n);

/* A fresh path under the test build directory: dir/name. */
void tu_path(char *buf, size_t len, const char *name);

#endif
