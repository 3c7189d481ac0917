/* What the AVX2 and AVX-512 softmax forward kernels share: the exp and log
 * constants (below), and the per-width instances. The small-row path is
 * written as loops over columns and steps; with the width a constant they
 * must unroll completely so every vector lives in a register
 * (or a plain spill slot), never in an indexed array. So each kernel
 * instantiates its softmax_small once per width 1..HT_SOFTMAX_SMALL_N, and
 * within it once for contiguous rows (ld == n), whose row addresses are
 * then constant offsets (AVX2, n = 10 from L2: 0.61-0.62 against
 * 0.67-0.69 ns per element, one thread, medians of 201 rounds, three
 * alternations; AVX-512: most of the loop's instructions were address
 * arithmetic without it). */
#ifndef HT_SIMD_AVX2_SOFTMAX_WIDTHS_H
#define HT_SIMD_AVX2_SOFTMAX_WIDTHS_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define HT_ALWAYS_INLINE inline __attribute__((always_inline))
#define HT_UNROLL _Pragma("GCC unroll 32")
#else
#define HT_ALWAYS_INLINE inline
#define HT_UNROLL
#endif

/* The exp and log polynomials' constants (their method and error bounds
 * are in simd/avx2/elementwise_softmax.c). Both kernels build on these
 * same floats: the AVX-512 results must be the AVX2 results bit for bit. */
#define HT_EXP_MAGIC 12583039.0f /* 1.5*2^23 + 127 */
#define HT_EXP_MIN -88.0f
#define HT_EXP_LOG2E 1.44269504088896341f
#define HT_LN2_HI 0.693359375f /* ln 2 = HI + LO, n*HI exact */
#define HT_LN2_LO -2.12194440e-4f
#define HT_EXP_P0 1.3843607157468796e-3f /* e^r, Horner from r^6 down */
#define HT_EXP_P1 8.374195545911789e-3f
#define HT_EXP_P2 4.166800528764725e-2f
#define HT_EXP_P3 1.6666430234909058e-1f
#define HT_EXP_P4 4.999999403953552e-1f
#define HT_LOG_SQRTHF 0.707106781186547524f
#define HT_LOG_P0 7.0376836292e-2f /* log(1+m), Cephes, from m^9 down */
#define HT_LOG_P1 -1.1514610310e-1f
#define HT_LOG_P2 1.1676998740e-1f
#define HT_LOG_P3 -1.2420140846e-1f
#define HT_LOG_P4 1.4249322787e-1f
#define HT_LOG_P5 -1.6668057665e-1f
#define HT_LOG_P6 2.0000714765e-1f
#define HT_LOG_P7 -2.4999993993e-1f
#define HT_LOG_P8 3.3333331174e-1f

#define HT_SOFTMAX_SMALL_N 16

typedef void ht_softmax_small_fn(size_t m, const float *z, size_t ldl,
                                 const int32_t *label, float *p, size_t ldp,
                                 float *loss, int stream);

#define HT_SOFTMAX_SMALL_(N)                                                  \
    static void softmax_small_##N(size_t m, const float *z, size_t ldl,       \
                                  const int32_t *label, float *p, size_t ldp, \
                                  float *loss, int stream)                    \
    {                                                                         \
        if (ldl == N && ldp == N)                                             \
            softmax_small(m, N, z, N, label, p, N, loss, stream);             \
        else                                                                  \
            softmax_small(m, N, z, ldl, label, p, ldp, loss, stream);         \
    }

/* Defines softmax_small_1 .. _16 over the including file's always-inline
 * softmax_small(m, n, z, ldl, label, p, ldp, loss, stream), and the table
 * softmax_small_by_n[n] of them (entry 0 is NULL). */
#define HT_SOFTMAX_BY_WIDTH()                                                 \
    HT_SOFTMAX_SMALL_(1) HT_SOFTMAX_SMALL_(2) HT_SOFTMAX_SMALL_(3)            \
    HT_SOFTMAX_SMALL_(4) HT_SOFTMAX_SMALL_(5) HT_SOFTMAX_SMALL_(6)            \
    HT_SOFTMAX_SMALL_(7) HT_SOFTMAX_SMALL_(8) HT_SOFTMAX_SMALL_(9)            \
    HT_SOFTMAX_SMALL_(10) HT_SOFTMAX_SMALL_(11) HT_SOFTMAX_SMALL_(12)         \
    HT_SOFTMAX_SMALL_(13) HT_SOFTMAX_SMALL_(14) HT_SOFTMAX_SMALL_(15)         \
    HT_SOFTMAX_SMALL_(16)                                                     \
    static ht_softmax_small_fn *const                                         \
        softmax_small_by_n[HT_SOFTMAX_SMALL_N + 1] = {                        \
            NULL,             softmax_small_1,  softmax_small_2,              \
            softmax_small_3,  softmax_small_4,  softmax_small_5,              \
            softmax_small_6,  softmax_small_7,  softmax_small_8,              \
            softmax_small_9,  softmax_small_10, softmax_small_11,             \
            softmax_small_12, softmax_small_13, softmax_small_14,             \
            softmax_small_15, softmax_small_16};

#endif
