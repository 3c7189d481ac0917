/* The one place the AVX2 SGEMM kernels finish an output row: alpha, beta*C,
 * bias, ReLU and dropout on up to 16 values held in two ymm registers, then
 * a store that touches only the row's first n elements. Every AVX2 GEMM
 * path ends through here, so all of them apply the epilogue identically. */
#ifndef HT_AVX2_GEMM_STORE_H
#define HT_AVX2_GEMM_STORE_H

#include <immintrin.h>
#include <stdint.h>

#include "table.h"

/* lanes j < n of the first vector: loadu(ht_avx2_lane_tab + 16 - n),
 * of the second (columns 8..15): loadu(ht_avx2_lane_tab + 24 - n). */
extern const int32_t ht_avx2_lane_tab[32];

/* r[q] lane i <- r[i] lane q */
static inline void ht_avx2_transpose8(__m256 r[8])
{
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]);
    const __m256 t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]);
    const __m256 t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]);
    const __m256 t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]);
    const __m256 t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* Row i (of the tile that epi describes) of n <= 16 values v0 (columns
 * 0..7) and v1 (8..15): c[j] = epi(alpha*v + beta*c[j]) for j < n.
 * full: n == 16 (plain loads and stores). C is read only if beta != 0. */
static inline void ht_avx2_finish_row(__m256 v0, __m256 v1, size_t n,
                                      float alpha, float beta, float *c,
                                      const ht_ukr_epi *epi, size_t i)
{
    const int full = n == 16;
    __m256i m0 = _mm256_set1_epi32(-1), m1 = m0;
    if (!full) {
        m0 = _mm256_loadu_si256((const __m256i *)(ht_avx2_lane_tab + 16 - n));
        m1 = _mm256_loadu_si256((const __m256i *)(ht_avx2_lane_tab + 24 - n));
    }
    if (alpha != 1.0f) {
        const __m256 va = _mm256_set1_ps(alpha);
        v0 = _mm256_mul_ps(v0, va);
        v1 = _mm256_mul_ps(v1, va);
    }
    if (beta != 0.0f) {
        const __m256 vb = _mm256_set1_ps(beta);
        __m256 c0, c1;
        if (full) {
            c0 = _mm256_loadu_ps(c);
            c1 = _mm256_loadu_ps(c + 8);
        } else {
            c0 = _mm256_maskload_ps(c, m0);
            c1 = n > 8 ? _mm256_maskload_ps(c + 8, m1) : _mm256_setzero_ps();
        }
        v0 = _mm256_fmadd_ps(vb, c0, v0);
        v1 = _mm256_fmadd_ps(vb, c1, v1);
    }
    if (epi) {
        if (epi->bias) {
            __m256 b0, b1;
            if (full) {
                b0 = _mm256_loadu_ps(epi->bias);
                b1 = _mm256_loadu_ps(epi->bias + 8);
            } else {
                b0 = _mm256_maskload_ps(epi->bias, m0);
                b1 = n > 8 ? _mm256_maskload_ps(epi->bias + 8, m1)
                           : _mm256_setzero_ps();
            }
            v0 = _mm256_add_ps(v0, b0);
            v1 = _mm256_add_ps(v1, b1);
        }
        if (epi->relu) {
            /* max_ps returns its second operand for NaN: max(NaN, 0) = 0,
             * as the scalar twin's v > 0 ? v : 0. */
            v0 = _mm256_max_ps(v0, _mm256_setzero_ps());
            v1 = _mm256_max_ps(v1, _mm256_setzero_ps());
        }
        if (epi->mask) {
            const uint32_t *w = epi->mask + i * epi->mask_ld;
            uint64_t bits = w[0];
            if (epi->bit0 + n > 32)
                bits |= (uint64_t)w[1] << 32;
            bits >>= epi->bit0;
            const __m256i bv = _mm256_set1_epi32((int)(bits & 0xFFFFu));
            const __m256i s0 = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
            const __m256i s1 = _mm256_slli_epi32(s0, 8);
            const __m256i k0 = _mm256_cmpeq_epi32(_mm256_and_si256(bv, s0), s0);
            const __m256i k1 = _mm256_cmpeq_epi32(_mm256_and_si256(bv, s1), s1);
            const __m256 sc = _mm256_set1_ps(epi->scale);
            v0 = _mm256_and_ps(_mm256_mul_ps(v0, sc), _mm256_castsi256_ps(k0));
            v1 = _mm256_and_ps(_mm256_mul_ps(v1, sc), _mm256_castsi256_ps(k1));
        }
    }
    if (full) {
        _mm256_storeu_ps(c, v0);
        _mm256_storeu_ps(c + 8, v1);
    } else {
        _mm256_maskstore_ps(c, m0, v0);
        if (n > 8)
            _mm256_maskstore_ps(c + 8, m1, v1);
    }
}

#endif
