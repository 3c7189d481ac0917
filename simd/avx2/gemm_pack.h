/* AVX2 packing pieces that do not depend on the tile size (layout contract
 * in simd/table.h with MR = mr, NR = nr), shared by the AVX2 and AVX-512
 * tables. Inline, so each table's call with its constant tile size
 * compiles as if written for it. */
#ifndef HT_AVX2_GEMM_PACK_H
#define HT_AVX2_GEMM_PACK_H

#include <immintrin.h>

#include "gemm_store.h"

/* Any strides: element (i, p) of A is a[i*rsa + p*csa]. */
static inline void ht_avx2_pack_a_generic(size_t mr, size_t m, size_t k,
                                          const float *a, size_t rsa,
                                          size_t csa, float *ap)
{
    for (size_t r = 0; r < m; r += mr) {
        const size_t mm = m - r < mr ? m - r : mr;
        for (size_t p = 0; p < k; p++)
            for (size_t i = 0; i < mr; i++)
                ap[p * mr + i] = i < mm ? a[(r + i) * rsa + p * csa] : 0.0f;
        ap += mr * k;
    }
}

/* Any strides: element (p, j) of op(B) is b[p*rsb + j*csb]. */
static inline void ht_avx2_pack_b_generic(size_t nr, size_t k, size_t n,
                                          const float *b, size_t rsb,
                                          size_t csb, float *bp)
{
    for (size_t s = 0; s < n; s += nr) {
        const size_t nn = n - s < nr ? n - s : nr;
        for (size_t p = 0; p < k; p++)
            for (size_t j = 0; j < nr; j++)
                bp[p * nr + j] = j < nn ? b[p * rsb + (s + j) * csb] : 0.0f;
        bp += nr * k;
    }
}

/* op(B) stored transposed (rsb == 1): column j is contiguous in K. Each
 * group of 8 columns of a panel is transposed 8 x 8; nr is a multiple of 8. */
static inline void ht_avx2_pack_b_cols(size_t nr, size_t k, size_t n,
                                       const float *b, size_t csb, float *bp)
{
    for (size_t s = 0; s < n; s += nr) {
        const size_t nn = n - s < nr ? n - s : nr;
        for (size_t h = 0; h < nr; h += 8) {
            const float *bh = b + (s + h) * csb;
            size_t p = 0;
            for (; p + 8 <= k; p += 8) {
                __m256 v[8];
                for (size_t j = 0; j < 8; j++)
                    v[j] = h + j < nn ? _mm256_loadu_ps(bh + j * csb + p)
                                      : _mm256_setzero_ps();
                ht_avx2_transpose8(v);
                for (size_t q = 0; q < 8; q++)
                    _mm256_storeu_ps(bp + (p + q) * nr + h, v[q]);
            }
            for (; p < k; p++)
                for (size_t j = 0; j < 8; j++)
                    bp[p * nr + h + j] = h + j < nn ? bh[j * csb + p] : 0.0f;
        }
        bp += nr * k;
    }
}

#endif
