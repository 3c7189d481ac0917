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

/* The last r < 8 floats along K of `rows` <= 8 rows that are contiguous
 * along K (row i at src + i*ld), transposed like a full 8 x 8 block: v[q]
 * for q < r is K step q, with zeros for rows past `rows`. Masked loads,
 * which touch nothing beyond the r floats. Used for r >= HT_AVX2_TAIL8_MIN:
 * packing 32 x 1024 panels of a transposed B (Zen 5 guest, L2-resident)
 * took 0.61-0.65 -> 0.36-0.45 ns per float at K = 3, 0.61 -> 0.19-0.23 at
 * K = 7 and 0.39 -> 0.18-0.24 at K = 13. At K = 10 (r = 2) the two were
 * within this machine's noise (0.16-0.28 ns for either, 9 alternated
 * runs), so a remainder of one or two stays on the element loop. */
#define HT_AVX2_TAIL8_MIN 3
static inline void ht_avx2_load_tail8(const float *src, size_t ld,
                                      size_t rows, size_t r, __m256 v[8])
{
    const __m256i mk =
        _mm256_loadu_si256((const __m256i *)(ht_avx2_lane_tab + 16 - r));
    for (size_t i = 0; i < 8; i++)
        v[i] = i < rows ? _mm256_maskload_ps(src + i * ld, mk)
                        : _mm256_setzero_ps();
    ht_avx2_transpose8(v);
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
            if (k - p >= HT_AVX2_TAIL8_MIN) {
                __m256 v[8];
                const size_t rows = nn > h ? (nn - h < 8 ? nn - h : 8) : 0;
                ht_avx2_load_tail8(bh + p, csb, rows, k - p, v);
                for (size_t q = 0; q < k - p; q++)
                    _mm256_storeu_ps(bp + (p + q) * nr + h, v[q]);
                p = k;
            }
            for (; p < k; p++)
                for (size_t j = 0; j < 8; j++)
                    bp[p * nr + h + j] = h + j < nn ? bh[j * csb + p] : 0.0f;
        }
        bp += nr * k;
    }
}

#endif
