/* AVX2 packing for the 6x16 micro-kernel (layout contract in simd/table.h).
 * A transpose is absorbed here, never by a transposed copy: each routine
 * has a path for unit stride along its panel's long side (a plain copy)
 * and one for unit stride along K (8x8 register transposes). */
#include <immintrin.h>

#include "avx2.h"
#include "gemm_pack.h"
#include "gemm_store.h"

#define MR 6
#define NR 16


/* A row-major (csa == 1): rows are contiguous along K. */
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
            for (size_t q = 0; q < 8; q++) {
                float *d = ap + (p + q) * MR;
                _mm_storeu_ps(d, _mm256_castps256_ps128(v[q]));
                _mm_storel_epi64((__m128i *)(d + 4),
                                 _mm_castps_si128(_mm256_extractf128_ps(v[q], 1)));
            }
        }
        if (k - p >= HT_AVX2_TAIL8_MIN) {
            __m256 v[8];
            ht_avx2_load_tail8(ar + p, rsa, mm, k - p, v);
            for (size_t q = 0; q < k - p; q++) {
                float *d = ap + (p + q) * MR;
                _mm_storeu_ps(d, _mm256_castps256_ps128(v[q]));
                _mm_storel_epi64((__m128i *)(d + 4),
                                 _mm_castps_si128(_mm256_extractf128_ps(v[q], 1)));
            }
            p = k;
        }
        for (; p < k; p++)
            for (size_t i = 0; i < MR; i++)
                ap[p * MR + i] = i < mm ? ar[i * rsa + p] : 0.0f;
        ap += MR * k;
    }
}

/* A stored transposed (rsa == 1): a panel's MR rows are contiguous. */
static void pack_a_cols(size_t m, size_t k, const float *a, size_t csa,
                        float *ap)
{
    for (size_t r = 0; r < m; r += MR) {
        const size_t mm = m - r < MR ? m - r : MR;
        if (mm == MR) {
            for (size_t p = 0; p < k; p++) {
                const float *s = a + p * csa + r;
                _mm_storeu_ps(ap + p * MR, _mm_loadu_ps(s));
                /* the last two, as one unaligned 64-bit move */
                _mm_storel_epi64((__m128i *)(ap + p * MR + 4),
                                 _mm_loadl_epi64((const __m128i *)(s + 4)));
            }
        } else {
            for (size_t p = 0; p < k; p++)
                for (size_t i = 0; i < MR; i++)
                    ap[p * MR + i] = i < mm ? a[p * csa + r + i] : 0.0f;
        }
        ap += MR * k;
    }
}

static void pack_a_avx2(size_t m, size_t k, const float *a, size_t rsa,
                        size_t csa, float *ap)
{
    if (csa == 1)
        pack_a_rows(m, k, a, rsa, ap);
    else if (rsa == 1)
        pack_a_cols(m, k, a, csa, ap);
    else
        ht_avx2_pack_a_generic(MR, m, k, a, rsa, csa, ap);
}

/* B row-major (csb == 1): each K row of a panel is 16 contiguous floats.
 * The full panels go 8 K rows at a time across all of them, so B is read
 * along its rows, 64 bytes of 8 rows per panel, instead of one line from
 * each of k rows (a page apart at the MLP's N = 1024) per panel, which
 * the hardware prefetchers do not follow. */
static void pack_b_rows(size_t k, size_t n, const float *b, size_t rsb,
                        float *bp)
{
    const size_t full = n / NR * NR;
    size_t p = 0;
    for (; p + 8 <= k; p += 8) {
        float *d = bp + p * NR;
        for (size_t s = 0; s < full; s += NR, d += NR * k) {
            const float *bs = b + p * rsb + s;
            for (size_t q = 0; q < 8; q++) {
                _mm256_storeu_ps(d + q * NR, _mm256_loadu_ps(bs + q * rsb));
                _mm256_storeu_ps(d + q * NR + 8,
                                 _mm256_loadu_ps(bs + q * rsb + 8));
            }
        }
    }
    for (; p < k; p++) {
        float *d = bp + p * NR;
        for (size_t s = 0; s < full; s += NR, d += NR * k) {
            _mm256_storeu_ps(d, _mm256_loadu_ps(b + p * rsb + s));
            _mm256_storeu_ps(d + 8, _mm256_loadu_ps(b + p * rsb + s + 8));
        }
    }
    if (full == n)
        return;
    /* the last, partial panel: masked loads, zeros beyond n */
    const size_t nn = n - full;
    const float *bs = b + full;
    bp += full * k;
    const __m256i m0 = _mm256_loadu_si256(
        (const __m256i *)(ht_avx2_lane_tab + 16 - nn));
    const __m256i m1 = _mm256_loadu_si256(
        (const __m256i *)(ht_avx2_lane_tab + 24 - nn));
    for (p = 0; p < k; p++) {
        _mm256_storeu_ps(bp + p * NR, _mm256_maskload_ps(bs + p * rsb, m0));
        _mm256_storeu_ps(bp + p * NR + 8,
                         nn > 8 ? _mm256_maskload_ps(bs + p * rsb + 8, m1)
                                : _mm256_setzero_ps());
    }
}

static void pack_b_avx2(size_t k, size_t n, const float *b, size_t rsb,
                        size_t csb, float *bp)
{
    if (csb == 1)
        pack_b_rows(k, n, b, rsb, bp);
    else if (rsb == 1)
        ht_avx2_pack_b_cols(NR, k, n, b, csb, bp);
    else
        ht_avx2_pack_b_generic(NR, k, n, b, rsb, csb, bp);
}

void ht_avx2_gemm_pack_init(ht_kernels *k)
{
    k->pack_a = pack_a_avx2;
    k->pack_b = pack_b_avx2;
}
