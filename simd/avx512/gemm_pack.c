/* Packing for the 8x32 AVX-512 micro-kernel (layout contract in
 * simd/table.h). As in the AVX2 table, a transpose is absorbed here: each
 * routine has a path for unit stride along its panel's long side (a copy,
 * masked at the edge) and one for unit stride along K (8x8 register
 * transposes); the pieces that do not depend on the tile size are the AVX2
 * table's (simd/avx2/gemm_pack.h). */
#include <immintrin.h>

#include "avx512.h"
#include "../avx2/gemm_pack.h"

#define MR 8
#define NR 32

static __mmask16 low_lanes(size_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* A row-major (csa == 1): 8 rows, contiguous along K, transposed 8 x 8. */
static void pack_a_rows(size_t m, size_t k, const float *a, size_t rsa,
                        float *ap)
{
    for (size_t r = 0; r < m; r += MR) {
        const size_t mm = m - r < MR ? m - r : MR;
        const float *ar = a + r * rsa;
        size_t p = 0;
        for (; p + 8 <= k; p += 8) {
            __m256 v[8];
            for (size_t i = 0; i < 8; i++)
                v[i] = i < mm ? _mm256_loadu_ps(ar + i * rsa + p)
                              : _mm256_setzero_ps();
            ht_avx2_transpose8(v);
            for (size_t q = 0; q < 8; q++)
                _mm256_storeu_ps(ap + (p + q) * MR, v[q]);
        }
        if (k - p >= HT_AVX2_TAIL8_MIN) {
            __m256 v[8];
            ht_avx2_load_tail8(ar + p, rsa, mm, k - p, v);
            for (size_t q = 0; q < k - p; q++)
                _mm256_storeu_ps(ap + (p + q) * MR, v[q]);
            p = k;
        }
        for (; p < k; p++)
            for (size_t i = 0; i < MR; i++)
                ap[p * MR + i] = i < mm ? ar[i * rsa + p] : 0.0f;
        ap += MR * k;
    }
}

/* A stored transposed (rsa == 1): a panel's 8 rows are contiguous. */
static void pack_a_cols(size_t m, size_t k, const float *a, size_t csa,
                        float *ap)
{
    for (size_t r = 0; r < m; r += MR) {
        const __mmask16 lm = low_lanes(m - r < MR ? m - r : MR);
        for (size_t p = 0; p < k; p++)
            _mm512_mask_storeu_ps(ap + p * MR, 0xFF,
                                  _mm512_maskz_loadu_ps(lm, a + p * csa + r));
        ap += MR * k;
    }
}

static void pack_a_avx512(size_t m, size_t k, const float *a, size_t rsa,
                          size_t csa, float *ap)
{
    if (csa == 1)
        pack_a_rows(m, k, a, rsa, ap);
    else if (rsa == 1)
        pack_a_cols(m, k, a, csa, ap);
    else
        ht_avx2_pack_a_generic(MR, m, k, a, rsa, csa, ap);
}

/* B row-major (csb == 1): each K row of a panel is 32 contiguous floats. */
static void pack_b_rows(size_t k, size_t n, const float *b, size_t rsb,
                        float *bp)
{
    for (size_t s = 0; s < n; s += NR) {
        const size_t nn = n - s < NR ? n - s : NR;
        const float *bs = b + s;
        if (nn == NR) {
            for (size_t p = 0; p < k; p++) {
                _mm512_storeu_ps(bp + p * NR, _mm512_loadu_ps(bs + p * rsb));
                _mm512_storeu_ps(bp + p * NR + 16,
                                 _mm512_loadu_ps(bs + p * rsb + 16));
            }
        } else {
            const __mmask16 m0 = low_lanes(nn);
            const __mmask16 m1 = nn > 16 ? low_lanes(nn - 16) : 0;
            for (size_t p = 0; p < k; p++) {
                _mm512_storeu_ps(bp + p * NR,
                                 _mm512_maskz_loadu_ps(m0, bs + p * rsb));
                _mm512_storeu_ps(bp + p * NR + 16,
                                 _mm512_maskz_loadu_ps(m1, bs + p * rsb + 16));
            }
        }
        bp += NR * k;
    }
}

static void pack_b_avx512(size_t k, size_t n, const float *b, size_t rsb,
                          size_t csb, float *bp)
{
    if (csb == 1)
        pack_b_rows(k, n, b, rsb, bp);
    else if (rsb == 1)
        ht_avx2_pack_b_cols(NR, k, n, b, csb, bp);
    else
        ht_avx2_pack_b_generic(NR, k, n, b, rsb, csb, bp);
}

void ht_avx512_gemm_pack_init(ht_kernels *k)
{
    k->pack_a = pack_a_avx512;
    k->pack_b = pack_b_avx512;
}
