/* NEON dropout: the generator of simd/rng.h with its 8 xoshiro128++ lanes
 * held as two uint32x4_t per state word, the mask as keep-bits, and the
 * apply steps.
 *
 * Bits are identical to the scalar twin by construction: the same lanes,
 * seeded by the same ht_rng8_seed (a scalar splitmix64 chain, run once per
 * row: AdvSIMD has no 64x64-bit multiply), stepped by the same integer
 * operations, compared unsigned (vcgeq_u32, r >= thr keeps). One step yields
 * elements 8t .. 8t+7 = one byte of keep-bits. tests/test_neon.c checks the
 * words bit for bit. dropout_fwd2 / dropout_mask2 step two rows' generators
 * in one loop (see mask_apply2). */
#include <arm_neon.h>
#include <string.h>

#include "neon.h"
#include "rng.h"

typedef struct rng_neon {
    uint32x4_t s0[2], s1[2], s2[2], s3[2];
} rng_neon;

static inline void rng_seed(rng_neon *q, uint64_t key)
{
    ht_rng8 r;
    ht_rng8_seed(&r, key);
    for (int h = 0; h < 2; h++) {
        q->s0[h] = vld1q_u32(&r.s[0][4 * h]);
        q->s1[h] = vld1q_u32(&r.s[1][4 * h]);
        q->s2[h] = vld1q_u32(&r.s[2][4 * h]);
        q->s3[h] = vld1q_u32(&r.s[3][4 * h]);
    }
}

/* rotl by a constant: shift left, then shift-right-and-insert the rest */
#define ROTL(x, r) vsriq_n_u32(vshlq_n_u32((x), (r)), (x), 32 - (r))

/* One xoshiro128++ step of 4 lanes. */
static inline uint32x4_t xoshiro_step(uint32x4_t *s0, uint32x4_t *s1,
                                      uint32x4_t *s2, uint32x4_t *s3)
{
    const uint32x4_t out = vaddq_u32(ROTL(vaddq_u32(*s0, *s3), 7), *s0);
    const uint32x4_t t = vshlq_n_u32(*s1, 9);
    *s2 = veorq_u32(*s2, *s0);
    *s3 = veorq_u32(*s3, *s1);
    *s1 = veorq_u32(*s1, *s2);
    *s0 = veorq_u32(*s0, *s3);
    *s2 = veorq_u32(*s2, t);
    *s3 = ROTL(*s3, 11);
    return out;
}

/* Next 8 elements: keep masks for lanes 0-3 and 4-7, and their byte. */
static inline uint32_t rng_keep8(rng_neon *q, uint32x4_t thr, uint32x4_t *k0,
                                 uint32x4_t *k1)
{
    const uint32x4_t w0 = {1u, 2u, 4u, 8u}, w1 = {16u, 32u, 64u, 128u};
    *k0 = vcgeq_u32(xoshiro_step(&q->s0[0], &q->s1[0], &q->s2[0], &q->s3[0]), thr);
    *k1 = vcgeq_u32(xoshiro_step(&q->s0[1], &q->s1[1], &q->s2[1], &q->s3[1]), thr);
    return vaddvq_u32(vorrq_u32(vandq_u32(*k0, w0), vandq_u32(*k1, w1)));
}

static inline float32x4_t and_mask(float32x4_t x, uint32x4_t keep)
{
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(x), keep));
}

/* Elements j .. j+7 of a row (j + 8 <= n): their keep byte goes into *word
 * (stored to bits when the word is complete), and, when x != NULL,
 * y = keep ? x*scale : 0. x is loaded before y is stored (y may equal x). */
static inline void step8(rng_neon *q, uint32x4_t vthr, size_t j, float scale,
                         const float *x, float *y, uint32_t *word,
                         uint32_t *bits)
{
    uint32x4_t k0, k1;
    *word |= rng_keep8(q, vthr, &k0, &k1) << (j % 32);
    if (x) {
        const float32x4_t a = vld1q_f32(x + j), b = vld1q_f32(x + j + 4);
        vst1q_f32(y + j, and_mask(vmulq_n_f32(a, scale), k0));
        vst1q_f32(y + j + 4, and_mask(vmulq_n_f32(b, scale), k1));
    }
    if (j % 32 == 24) {
        bits[j / 32] = *word;
        *word = 0;
    }
}

/* The last r = n - j (0 <= r < 8) elements of a row, and its last word. */
static inline void tail8(rng_neon *q, uint32x4_t vthr, size_t j, size_t n,
                         float scale, const float *x, float *y, uint32_t word,
                         uint32_t *bits)
{
    const size_t r = n - j;
    if (r) {
        uint32x4_t k0, k1;
        word |= (rng_keep8(q, vthr, &k0, &k1) & ((1u << r) - 1u)) << (j % 32);
        if (x) {
            float t[8] = {0};
            memcpy(t, x + j, r * sizeof(float));
            vst1q_f32(t, and_mask(vmulq_n_f32(vld1q_f32(t), scale), k0));
            vst1q_f32(t + 4, and_mask(vmulq_n_f32(vld1q_f32(t + 4), scale), k1));
            memcpy(y + j, t, r * sizeof(float));
        }
    }
    if (n % 32)
        bits[n / 32] = word;
}

/* The mask, and (when x != NULL) y = keep ? x*scale : 0 alongside it. */
static inline void mask_apply(uint64_t key, size_t n, uint32_t thr,
                              float scale, const float *x, float *y,
                              uint32_t *bits)
{
    rng_neon q;
    rng_seed(&q, key);
    const uint32x4_t vthr = vdupq_n_u32(thr);
    uint32_t word = 0;
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        step8(&q, vthr, j, scale, x, y, &word, bits);
    tail8(&q, vthr, j, n, scale, x, y, word, bits);
}

/* Two rows in lockstep. One row's generator is a loop-carried chain through
 * each lane's state (the longest: s3 = rotl(s3 ^ s1, 11), an eor, a shift
 * and a shift-insert, each waiting on the last), while a step has about 26
 * vector operations of which only those few are on the chain; two rows'
 * steps in one loop body give the out-of-order core a second, independent
 * chain to fill the vector pipes from (the AVX2 table measured about 20%
 * from the same change; not measured on Arm, qemu cannot time). Each row's
 * results are exactly mask_apply's for it. */
static inline void mask_apply2(uint64_t key0, uint64_t key1, size_t n,
                               uint32_t thr, float scale, const float *x0,
                               const float *x1, float *y0, float *y1,
                               uint32_t *bits0, uint32_t *bits1)
{
    rng_neon q0, q1;
    rng_seed(&q0, key0);
    rng_seed(&q1, key1);
    const uint32x4_t vthr = vdupq_n_u32(thr);
    uint32_t word0 = 0, word1 = 0;
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        step8(&q0, vthr, j, scale, x0, y0, &word0, bits0);
        step8(&q1, vthr, j, scale, x1, y1, &word1, bits1);
    }
    tail8(&q0, vthr, j, n, scale, x0, y0, word0, bits0);
    tail8(&q1, vthr, j, n, scale, x1, y1, word1, bits1);
}

static void dropout_mask_neon(uint64_t key, size_t n, uint32_t thr,
                              uint32_t *bits)
{
    mask_apply(key, n, thr, 0.0f, NULL, NULL, bits);
}

static void dropout_fwd_neon(uint64_t key, size_t n, uint32_t thr, float scale,
                             const float *x, float *y, uint32_t *bits)
{
    mask_apply(key, n, thr, scale, x, y, bits);
}

static void dropout_mask2_neon(uint64_t key0, uint64_t key1, size_t n,
                               uint32_t thr, uint32_t *bits0, uint32_t *bits1)
{
    mask_apply2(key0, key1, n, thr, 0.0f, NULL, NULL, NULL, NULL, bits0, bits1);
}

static void dropout_fwd2_neon(uint64_t key0, uint64_t key1, size_t n,
                              uint32_t thr, float scale, const float *x0,
                              const float *x1, float *y0, float *y1,
                              uint32_t *bits0, uint32_t *bits1)
{
    mask_apply2(key0, key1, n, thr, scale, x0, x1, y0, y1, bits0, bits1);
}

static void dropout_bwd_neon(size_t n, const float *dy, const uint32_t *bits,
                             float scale, float *dx)
{
    const uint32x4_t w0 = {1u, 2u, 4u, 8u}, w1 = {16u, 32u, 64u, 128u};
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const uint32x4_t b = vdupq_n_u32(bits[j / 32] >> (j % 32));
        vst1q_f32(dx + j, and_mask(vmulq_n_f32(vld1q_f32(dy + j), scale),
                                   vtstq_u32(b, w0)));
        vst1q_f32(dx + j + 4, and_mask(vmulq_n_f32(vld1q_f32(dy + j + 4), scale),
                                       vtstq_u32(b, w1)));
    }
    const size_t r = n - j;
    if (r) {
        const uint32x4_t b = vdupq_n_u32(bits[j / 32] >> (j % 32));
        float t[8] = {0};
        memcpy(t, dy + j, r * sizeof(float));
        vst1q_f32(t, and_mask(vmulq_n_f32(vld1q_f32(t), scale), vtstq_u32(b, w0)));
        vst1q_f32(t + 4, and_mask(vmulq_n_f32(vld1q_f32(t + 4), scale),
                                  vtstq_u32(b, w1)));
        memcpy(dx + j, t, r * sizeof(float));
    }
}

void ht_neon_init_dropout(ht_kernels *k)
{
    k->dropout_mask = dropout_mask_neon;
    k->dropout_fwd = dropout_fwd_neon;
    k->dropout_bwd = dropout_bwd_neon;
    k->dropout_fwd2 = dropout_fwd2_neon;
    k->dropout_mask2 = dropout_mask2_neon;
}
