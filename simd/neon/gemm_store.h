/* The one place the NEON SGEMM kernels finish an output row: alpha,
 * beta*C, bias, ReLU and dropout on up to 12 values held in three
 * float32x4_t, then a store that touches only the row's first n elements.
 * The micro-kernel and both small-N paths end here, so every NEON GEMM path
 * applies the epilogue identically (order in simd/table.h). */
#ifndef HT_NEON_GEMM_STORE_H
#define HT_NEON_GEMM_STORE_H

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#include "table.h"

/* keep ? x : 0, as an and with an all-ones/all-zeros lane mask */
static inline float32x4_t ht_neon_and_mask(float32x4_t x, uint32x4_t keep)
{
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(x), keep));
}

/* c[j] = epi(alpha*v[j] + beta*c[j]) for j < n <= 12, v = (v0, v1, v2);
 * row i of the block that epi describes (mask row i). C is read only when
 * beta != 0; an edge row (n < 12) goes through a zero-padded copy, so
 * nothing outside c[0..n) is read or written. */
static inline void ht_neon_finish_row(float32x4_t v0, float32x4_t v1,
                                      float32x4_t v2, size_t n, float alpha,
                                      float beta, float *c,
                                      const ht_ukr_epi *epi, size_t i)
{
    const int full = n == 12;
    _Alignas(16) float row[12];
    float *dst = c;
    if (!full) {
        memset(row, 0, sizeof row);
        if (beta != 0.0f)
            memcpy(row, c, n * sizeof(float));
        dst = row;
    }
    v0 = vmulq_n_f32(v0, alpha);
    v1 = vmulq_n_f32(v1, alpha);
    v2 = vmulq_n_f32(v2, alpha);
    if (beta != 0.0f) {
        v0 = vfmaq_n_f32(v0, vld1q_f32(dst), beta);
        v1 = vfmaq_n_f32(v1, vld1q_f32(dst + 4), beta);
        v2 = vfmaq_n_f32(v2, vld1q_f32(dst + 8), beta);
    }
    if (epi) {
        if (epi->bias) {
            const float *b = epi->bias;
            _Alignas(16) float bpad[12];
            if (!full) {
                memset(bpad, 0, sizeof bpad);
                memcpy(bpad, b, n * sizeof(float));
                b = bpad;
            }
            v0 = vaddq_f32(v0, vld1q_f32(b));
            v1 = vaddq_f32(v1, vld1q_f32(b + 4));
            v2 = vaddq_f32(v2, vld1q_f32(b + 8));
        }
        if (epi->relu) {
            /* v > 0 ? v : 0, so NaN becomes 0 as in the scalar twin */
            const float32x4_t zero = vdupq_n_f32(0.0f);
            v0 = ht_neon_and_mask(v0, vcgtq_f32(v0, zero));
            v1 = ht_neon_and_mask(v1, vcgtq_f32(v1, zero));
            v2 = ht_neon_and_mask(v2, vcgtq_f32(v2, zero));
        }
        if (epi->mask) {
            /* bits bit0 .. bit0+n-1 of the row may straddle two words; the
             * second is read only when needed */
            const uint32x4_t sel0 = {1u, 2u, 4u, 8u}, sel1 = {16u, 32u, 64u, 128u},
                             sel2 = {256u, 512u, 1024u, 2048u};
            const uint32_t *mw = epi->mask + i * epi->mask_ld;
            uint64_t w = mw[0];
            if (epi->bit0 + n > 32)
                w |= (uint64_t)mw[1] << 32;
            const uint32x4_t bits = vdupq_n_u32((uint32_t)(w >> epi->bit0));
            v0 = ht_neon_and_mask(vmulq_n_f32(v0, epi->scale), vtstq_u32(bits, sel0));
            v1 = ht_neon_and_mask(vmulq_n_f32(v1, epi->scale), vtstq_u32(bits, sel1));
            v2 = ht_neon_and_mask(vmulq_n_f32(v2, epi->scale), vtstq_u32(bits, sel2));
        }
    }
    vst1q_f32(dst, v0);
    vst1q_f32(dst + 4, v1);
    vst1q_f32(dst + 8, v2);
    if (!full)
        memcpy(c, row, n * sizeof(float));
}

/* 4x4 transpose: out[q] = (r0[q], r1[q], r2[q], r3[q]). */
static inline void ht_neon_transpose4(float32x4_t r0, float32x4_t r1,
                                      float32x4_t r2, float32x4_t r3,
                                      float32x4_t out[4])
{
    float32x4_t t0 = vtrn1q_f32(r0, r1), t1 = vtrn2q_f32(r0, r1);
    float32x4_t t2 = vtrn1q_f32(r2, r3), t3 = vtrn2q_f32(r2, r3);
    float64x2_t d0 = vreinterpretq_f64_f32(t0), d1 = vreinterpretq_f64_f32(t1);
    float64x2_t d2 = vreinterpretq_f64_f32(t2), d3 = vreinterpretq_f64_f32(t3);
    out[0] = vreinterpretq_f32_f64(vtrn1q_f64(d0, d2));
    out[1] = vreinterpretq_f32_f64(vtrn1q_f64(d1, d3));
    out[2] = vreinterpretq_f32_f64(vtrn2q_f64(d0, d2));
    out[3] = vreinterpretq_f32_f64(vtrn2q_f64(d1, d3));
}

#endif
