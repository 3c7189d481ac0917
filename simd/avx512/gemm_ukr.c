/* The AVX-512 SGEMM micro-kernel: an 8x32 tile of C in 16 zmm accumulators,
 * two zmm of B and one broadcast of A per row and step, contract in
 * simd/table.h. 8 rows divide the batch sizes training uses (32 to 256), so
 * a training GEMM has no padded row tiles; 32 registers would allow 14 rows,
 * which measured no faster in a standalone loop here (8x32, 12x32 and 14x32
 * all ran at 1.97-2.18x the AVX2 6x16 kernel at K = 192 and 384).
 *
 * Every element sees the same operations in the same order as in the AVX2
 * kernel (fused multiply-adds in p order from zero, then alpha, then
 * beta*C as one fma, then the epilogue), so the two tables give bitwise the
 * same C whenever the driver slices K the same way. Edge tiles compute the
 * full 8x32 tile on zero-padded panels (or, for at most 4 rows, the first
 * 4 rows) and store only the m x n corner. */
#include <immintrin.h>

#include "avx512.h"

#define MR 8
#define NR 32

/* Lanes j < n of a 16-lane half whose first column is `first`. */
static inline __mmask16 half_mask(size_t n, size_t first)
{
    if (n >= first + 16)
        return (__mmask16)0xFFFF;
    if (n <= first)
        return 0;
    return (__mmask16)((1u << (n - first)) - 1u);
}

/* Row i of the tile (n <= 32 values in v0, v1): c[j] = epi(alpha*v +
 * beta*c[j]) for j < n, in the AVX2 kernel's order (simd/avx2/gemm_store.h).
 * C is read only if beta != 0; masked lanes are never touched. */
static inline void finish_row(__m512 v0, __m512 v1, size_t n, float alpha,
                              float beta, float *c, const ht_ukr_epi *epi,
                              size_t i)
{
    const __mmask16 m0 = half_mask(n, 0), m1 = half_mask(n, 16);
    if (alpha != 1.0f) {
        const __m512 va = _mm512_set1_ps(alpha);
        v0 = _mm512_mul_ps(v0, va);
        v1 = _mm512_mul_ps(v1, va);
    }
    if (beta != 0.0f) {
        const __m512 vb = _mm512_set1_ps(beta);
        v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), v0);
        v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), v1);
    }
    if (epi) {
        if (epi->bias) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, epi->bias));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, epi->bias + 16));
        }
        if (epi->relu) {
            /* max returns its second operand for NaN: max(NaN, 0) = 0, as
             * in the scalar and AVX2 kernels */
            v0 = _mm512_max_ps(v0, _mm512_setzero_ps());
            v1 = _mm512_max_ps(v1, _mm512_setzero_ps());
        }
        if (epi->mask) {
            const uint32_t *w = epi->mask + i * epi->mask_ld;
            uint64_t bits = w[0];
            if (epi->bit0 + n > 32)
                bits |= (uint64_t)w[1] << 32;
            bits >>= epi->bit0;
            const __m512 sc = _mm512_set1_ps(epi->scale);
            v0 = _mm512_maskz_mul_ps((__mmask16)(bits & 0xFFFFu), v0, sc);
            v1 = _mm512_maskz_mul_ps((__mmask16)((bits >> 16) & 0xFFFFu), v1,
                                     sc);
        }
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    _mm512_mask_storeu_ps(c + 16, m1, v1);
}

/* One k step: row r of the tile accumulates a[r] * b[0..31]. */
#define ROW(r, ap, b0, b1)                                                 \
    do {                                                                   \
        const __m512 av = _mm512_set1_ps((ap)[r]);                         \
        c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0);                        \
        c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1);                        \
    } while (0)
#define STEP(ap, bp)                                                       \
    do {                                                                   \
        const __m512 b0 = _mm512_loadu_ps(bp);                             \
        const __m512 b1 = _mm512_loadu_ps((bp) + 16);                      \
        ROW(0, ap, b0, b1); ROW(1, ap, b0, b1);                            \
        ROW(2, ap, b0, b1); ROW(3, ap, b0, b1);                            \
        ROW(4, ap, b0, b1); ROW(5, ap, b0, b1);                            \
        ROW(6, ap, b0, b1); ROW(7, ap, b0, b1);                            \
    } while (0)
/* the first four rows only (the panel's stride is still MR) */
#define STEP4(ap, bp)                                                      \
    do {                                                                   \
        const __m512 b0 = _mm512_loadu_ps(bp);                             \
        const __m512 b1 = _mm512_loadu_ps((bp) + 16);                      \
        ROW(0, ap, b0, b1); ROW(1, ap, b0, b1);                            \
        ROW(2, ap, b0, b1); ROW(3, ap, b0, b1);                            \
    } while (0)

/* The tile's rows are needed at the end: start their way to L1, unless K
 * is short (see HT_UKR_SHORT_K). Then the K loop, two steps per iteration
 * as in the AVX2 kernel: fewer loop uops. */
#define TILE_LOOP(STEPM)                                                   \
    do {                                                                   \
        for (size_t i = 0; k >= HT_UKR_SHORT_K && i < m; i++) {            \
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);        \
            _mm_prefetch((const char *)(c + i * ldc + 31), _MM_HINT_T0);   \
        }                                                                  \
        size_t p = 0;                                                      \
        for (; p + 2 <= k; p += 2) {                                       \
            STEPM(ap, bp);                                                 \
            STEPM(ap + MR, bp + NR);                                       \
            ap += 2 * MR;                                                  \
            bp += 2 * NR;                                                  \
        }                                                                  \
        if (p < k)                                                         \
            STEPM(ap, bp);                                                 \
    } while (0)

#define FINISH(r)                                                          \
    finish_row(c##r##0, c##r##1, n, alpha, beta, c + (r) * ldc, epi, r)

/* A tile of at most 4 rows (a batch that is 1 to 4 more than a multiple of
 * 8, such as 100): the panel's zero rows are skipped instead of computed,
 * 8 FMAs a step instead of 16, on 8 accumulators, enough for the FMA
 * latency. Each element's operations are the full kernel's. */
static void ukr_4x32(size_t k, float alpha, const float *ap, const float *bp,
                     float beta, float *c, size_t ldc, size_t m, size_t n,
                     const ht_ukr_epi *epi)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
    __m512 c20 = c00, c21 = c00, c30 = c00, c31 = c00;

    TILE_LOOP(STEP4);
    FINISH(0);
    if (m > 1)
        FINISH(1);
    if (m > 2)
        FINISH(2);
    if (m > 3)
        FINISH(3);
}

static void ukr_8x32(size_t k, float alpha, const float *ap, const float *bp,
                     float beta, float *c, size_t ldc, size_t m, size_t n,
                     const ht_ukr_epi *epi)
{
    if (m <= 4) {
        ukr_4x32(k, alpha, ap, bp, beta, c, ldc, m, n, epi);
        return;
    }
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
    __m512 c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    __m512 c60 = c00, c61 = c00, c70 = c00, c71 = c00;

    TILE_LOOP(STEP);
    FINISH(0);
    FINISH(1);
    FINISH(2);
    FINISH(3);
    FINISH(4);
    if (m > 5)
        FINISH(5);
    if (m > 6)
        FINISH(6);
    if (m > 7)
        FINISH(7);
}

void ht_avx512_init_gemm(ht_kernels *k)
{
    k->mr = MR;
    k->nr = NR;
    /* defaults; the driver retunes them from the cache sizes hwloc reports */
    k->mc = 256;
    k->kc = 192;
    k->nc = 4064;
    k->gemm_ukr = ukr_8x32;
    ht_avx512_gemm_pack_init(k);
}
