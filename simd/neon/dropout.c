/* NEON dropout: the generator of simd/rng.h with its 8 xoshiro128++ lanes
 * held as two uint32x4_t per state word, the mask as keep-bits, and the
 * apply steps.
 *
 * Bits are identical to the scalar twin by construction: the same lanes,
 * seeded by the same splitmix64 chains as ht_rng8_seed (scalar, once per
 * row, see rng_seed), stepped by the same integer operations. A step's two outputs (lanes 0-3, 4-7) read as uint16x8_t are
 * exactly the 16-bit draws of elements 16t .. 16t+7 and 16t+8 .. 16t+15
 * (low half of a 32-bit lane first), compared unsigned (vcgeq_u16, r >= thr
 * keeps): one step = 16 elements = two bytes of keep-bits.
 * tests/test_neon.c checks the words bit for bit. dropout_fwd2 /
 * dropout_mask2 step two rows' generators in one loop (see mask_apply2). */
#include <arm_neon.h>
#include <string.h>

#include "neon.h"
#include "rng.h"

typedef struct rng_neon {
    uint32x4_t s0[2], s1[2], s2[2], s3[2];
} rng_neon;

/* ht_rng8_seed in registers. The splitmix64 chains stay scalar (AdvSIMD
 * has no 64x64-bit multiply; the integer core has a 64-bit MUL), but their
 * outputs go straight into vector registers (two per uint64x2_t, then
 * uzp1/uzp2 split the low and high words of four lanes) instead of being
 * stored as 32 words and reloaded as 8 vectors: a 128-bit load that four
 * narrower stores would have to forward is the case Arm's optimisation
 * guides (Neoverse N1, Cortex-A72) list as not forwarded, the same stall
 * the AVX2 table measured (simd/avx2/dropout.c). Not timed: qemu cannot.
 * The all-zero guard of ht_rng8_seed is left out as there: a and b are
 * one bijection of two different inputs, never both zero. */
static inline uint32x4_t words_of(uint64_t x, uint64_t y)
{
    return vreinterpretq_u32_u64(vcombine_u64(vcreate_u64(x), vcreate_u64(y)));
}

/* lane l's two splitmix64 outputs, as ht_rng8_seed draws them */
static inline void lane_seed(uint64_t key, int l, uint64_t *a, uint64_t *b)
{
    uint64_t sm = key ^ ((uint64_t)(l + 1) * HT_RNG_LANE_GAMMA);
    *a = ht_splitmix64_next(&sm);
    *b = ht_splitmix64_next(&sm);
}

static inline void rng_seed(rng_neon *q, uint64_t key)
{
    for (int h = 0; h < 2; h++) {
        uint64_t a0, b0, a1, b1, a2, b2, a3, b3;
        lane_seed(key, 4 * h, &a0, &b0);
        lane_seed(key, 4 * h + 1, &a1, &b1);
        lane_seed(key, 4 * h + 2, &a2, &b2);
        lane_seed(key, 4 * h + 3, &a3, &b3);
        /* as 32-bit words: {lo(x0), hi(x0), lo(x1), hi(x1)} */
        const uint32x4_t a01 = words_of(a0, a1), a23 = words_of(a2, a3);
        const uint32x4_t b01 = words_of(b0, b1), b23 = words_of(b2, b3);
        q->s0[h] = vuzp1q_u32(a01, a23);
        q->s1[h] = vuzp2q_u32(a01, a23);
        q->s2[h] = vuzp1q_u32(b01, b23);
        q->s3[h] = vuzp2q_u32(b01, b23);
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

/* Next 16 elements: keep masks (all-ones halves) of elements 0-7 and 8-15,
 * and their 16 keep-bits. The bits are disjoint powers of two, so one
 * across-vector add gathers them. */
static inline uint32_t rng_keep16(rng_neon *q, uint16x8_t thr, uint16x8_t *k0,
                                  uint16x8_t *k1)
{
    static const uint16_t w[16] = {1u,     2u,     4u,     8u,
                                   16u,    32u,    64u,    128u,
                                   256u,   512u,   1024u,  2048u,
                                   4096u,  8192u,  16384u, 32768u};
    const uint16x8_t w0 = vld1q_u16(w), w1 = vld1q_u16(w + 8);
    const uint32x4_t u0 =
        xoshiro_step(&q->s0[0], &q->s1[0], &q->s2[0], &q->s3[0]);
    const uint32x4_t u1 =
        xoshiro_step(&q->s0[1], &q->s1[1], &q->s2[1], &q->s3[1]);
    *k0 = vcgeq_u16(vreinterpretq_u16_u32(u0), thr);
    *k1 = vcgeq_u16(vreinterpretq_u16_u32(u1), thr);
    return vaddvq_u16(vorrq_u16(vandq_u16(*k0, w0), vandq_u16(*k1, w1)));
}

static inline float32x4_t and_mask(float32x4_t x, uint32x4_t keep)
{
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(x), keep));
}

/* Sign-extending a 16-bit all-ones/zero half gives the 32-bit mask. */
static inline uint32x4_t mask_lo(uint16x8_t k)
{
    return vreinterpretq_u32_s32(vmovl_s16(vget_low_s16(vreinterpretq_s16_u16(k))));
}

static inline uint32x4_t mask_hi(uint16x8_t k)
{
    return vreinterpretq_u32_s32(vmovl_s16(vget_high_s16(vreinterpretq_s16_u16(k))));
}

/* y[0..16) = keep ? x[0..16) * scale : 0. All of x is loaded before any y
 * is stored (y may equal x). */
static inline void apply16(const float *x, float *y, float scale,
                           uint16x8_t k0, uint16x8_t k1)
{
    const float32x4_t a = vld1q_f32(x), b = vld1q_f32(x + 4),
                      c = vld1q_f32(x + 8), d = vld1q_f32(x + 12);
    vst1q_f32(y, and_mask(vmulq_n_f32(a, scale), mask_lo(k0)));
    vst1q_f32(y + 4, and_mask(vmulq_n_f32(b, scale), mask_hi(k0)));
    vst1q_f32(y + 8, and_mask(vmulq_n_f32(c, scale), mask_lo(k1)));
    vst1q_f32(y + 12, and_mask(vmulq_n_f32(d, scale), mask_hi(k1)));
}

/* Elements j .. j+15 of a row (j + 16 <= n, j a multiple of 16): their keep
 * bits go into *word (stored to bits when the word is complete), and, when
 * x != NULL, y = keep ? x*scale : 0. */
static inline void step16(rng_neon *q, uint16x8_t vthr, size_t j, float scale,
                          const float *x, float *y, uint32_t *word,
                          uint32_t *bits)
{
    uint16x8_t k0, k1;
    *word |= rng_keep16(q, vthr, &k0, &k1) << (j % 32);
    if (x)
        apply16(x + j, y + j, scale, k0, k1);
    if (j % 32 == 16) {
        bits[j / 32] = *word;
        *word = 0;
    }
}

/* The last r = n - j (0 <= r < 16) elements of a row, and its last word.
 * x and y are touched only below n: the partial block goes through a
 * zero-padded copy. */
static inline void tail16(rng_neon *q, uint16x8_t vthr, size_t j, size_t n,
                          float scale, const float *x, float *y, uint32_t word,
                          uint32_t *bits)
{
    const size_t r = n - j;
    if (r) {
        uint16x8_t k0, k1;
        word |= (rng_keep16(q, vthr, &k0, &k1) & ((1u << r) - 1u)) << (j % 32);
        if (x) {
            float t[16] = {0};
            memcpy(t, x + j, r * sizeof(float));
            apply16(t, t, scale, k0, k1);
            memcpy(y + j, t, r * sizeof(float));
        }
    }
    if (n % 32)
        bits[n / 32] = word;
}

/* thr above 65535 lies outside ht_dropout_threshold's range, and the
 * 16-bit compare cannot hold it; the scalar's r >= thr then drops every
 * element, so do exactly that (y = +0.0f, as the scalar's 0.0f). */
static void drop_all(size_t n, float *y, uint32_t *bits)
{
    memset(bits, 0, (n + 31) / 32 * sizeof(uint32_t));
    for (size_t j = 0; y && j < n; j++)
        y[j] = 0.0f;
}

/* The mask, and (when x != NULL) y = keep ? x*scale : 0 alongside it. */
static inline void mask_apply(uint64_t key, size_t n, uint32_t thr,
                              float scale, const float *x, float *y,
                              uint32_t *bits)
{
    if (thr > 0xFFFFu) {
        drop_all(n, x ? y : NULL, bits);
        return;
    }
    rng_neon q;
    rng_seed(&q, key);
    const uint16x8_t vthr = vdupq_n_u16((uint16_t)thr);
    uint32_t word = 0;
    size_t j = 0;
    for (; j + 16 <= n; j += 16)
        step16(&q, vthr, j, scale, x, y, &word, bits);
    tail16(&q, vthr, j, n, scale, x, y, word, bits);
}

/* Two rows in lockstep. One row's generator is a loop-carried chain through
 * each lane's state (the longest: s3 = rotl(s3 ^ s1, 11), an eor, a shift
 * and a shift-insert, each waiting on the last), while a 16-element step
 * has about 30 vector operations (two xoshiro128++ steps of 12, two
 * compares, the bit gathering) of which only those few are on the chain;
 * two rows' steps in one loop body give the out-of-order core a second,
 * independent chain to fill the vector pipes from (the AVX2 table measured
 * about 20% from the same change with 32-bit draws; not measured on Arm,
 * qemu cannot time). Each row's results are exactly mask_apply's for it. */
static inline void mask_apply2(uint64_t key0, uint64_t key1, size_t n,
                               uint32_t thr, float scale, const float *x0,
                               const float *x1, float *y0, float *y1,
                               uint32_t *bits0, uint32_t *bits1)
{
    if (thr > 0xFFFFu) {
        drop_all(n, x0 ? y0 : NULL, bits0);
        drop_all(n, x1 ? y1 : NULL, bits1);
        return;
    }
    rng_neon q0, q1;
    rng_seed(&q0, key0);
    rng_seed(&q1, key1);
    const uint16x8_t vthr = vdupq_n_u16((uint16_t)thr);
    uint32_t word0 = 0, word1 = 0;
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        step16(&q0, vthr, j, scale, x0, y0, &word0, bits0);
        step16(&q1, vthr, j, scale, x1, y1, &word1, bits1);
    }
    tail16(&q0, vthr, j, n, scale, x0, y0, word0, bits0);
    tail16(&q1, vthr, j, n, scale, x1, y1, word1, bits1);
}

static void dropout_mask_neon(uint64_t key, size_t n, uint32_t thr,
                              uint32_t *bits)
{
    mask_apply(key, n, thr, 0.0f, NULL, NULL, bits);
}

/* `stream` (simd/table.h) is ignored: AArch64 has no store that skips the
 * read-for-ownership the way x86's non-temporal stores do (STNP is only a
 * hint), so plain stores are used for every size. */
static void dropout_fwd_neon(uint64_t key, size_t n, uint32_t thr, float scale,
                             const float *x, float *y, uint32_t *bits,
                             int stream)
{
    (void)stream;
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
                              uint32_t *bits0, uint32_t *bits1, int stream)
{
    (void)stream;
    mask_apply2(key0, key1, n, thr, scale, x0, x1, y0, y1, bits0, bits1);
}

static void dropout_bwd_neon(size_t n, const float *dy, const uint32_t *bits,
                             float scale, float *dx, int stream)
{
    (void)stream;
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
