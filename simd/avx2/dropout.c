/* AVX2 dropout: the generator of simd/rng.h with its 8 xoshiro128++ lanes
 * in one set of four ymm registers (s[k] of all lanes = one register), so
 * one vector step yields elements 8t .. 8t+7 of the row, exactly the
 * scalar's order. The masks are therefore bit for bit the scalar twin's.
 *
 * Keep test r >= thr on unsigned 32-bit values: AVX2 only has a signed
 * compare, so both sides are offset by 2^31 (xor 0x80000000), which maps
 * unsigned order onto signed order; thr > r (signed, offset) is "drop".
 * No float conversion. movemask of four compare results gives one 32-bit
 * word of drop bits; keep bits are its complement.
 *
 * One row is one dependent chain (element j needs lane j%8's previous
 * state). On paper its latency (about 3 cycles per step through s3's xor
 * and rotate) is below the step's cost in vector uops (14 for the
 * generator, about 20 with compare and apply, on 3 vector ports), but
 * measured on Sapphire Rapids two interleaved rows run about 20% faster
 * than one, so dropout_fwd2 and dropout_mask2 make two rows at once. */
#include "../rng.h"
#include "avx2.h"
#include "vec.h"

typedef struct rng_v {
    __m256i s0, s1, s2, s3;
} rng_v;

static inline void rng_seed(rng_v *r, uint64_t key)
{
    ht_rng8 t;
    ht_rng8_seed(&t, key);
    r->s0 = _mm256_loadu_si256((const __m256i *)t.s[0]);
    r->s1 = _mm256_loadu_si256((const __m256i *)t.s[1]);
    r->s2 = _mm256_loadu_si256((const __m256i *)t.s[2]);
    r->s3 = _mm256_loadu_si256((const __m256i *)t.s[3]);
}

#define ROTL(x, k) \
    _mm256_or_si256(_mm256_slli_epi32((x), (k)), _mm256_srli_epi32((x), 32 - (k)))

/* One xoshiro128++ step of all 8 lanes; returns the 8 outputs. */
static inline __m256i rng_next(rng_v *r)
{
    __m256i out = _mm256_add_epi32(ROTL(_mm256_add_epi32(r->s0, r->s3), 7),
                                   r->s0);
    __m256i t = _mm256_slli_epi32(r->s1, 9);
    r->s2 = _mm256_xor_si256(r->s2, r->s0);
    r->s3 = _mm256_xor_si256(r->s3, r->s1);
    r->s1 = _mm256_xor_si256(r->s1, r->s2);
    r->s0 = _mm256_xor_si256(r->s0, r->s3);
    r->s2 = _mm256_xor_si256(r->s2, t);
    r->s3 = ROTL(r->s3, 11);
    return out;
}

/* Drop mask (all-ones lanes where r < thr) of the next 8 elements;
 * sthr = thr ^ 0x80000000 broadcast. */
static inline ht_vf rng_drop8(rng_v *r, __m256i sthr)
{
    __m256i x = _mm256_xor_si256(rng_next(r), _mm256_set1_epi32(INT32_MIN));
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(sthr, x));
}

/* Bits below n (0 < n < 32) of a word. */
static inline uint32_t low_bits(uint32_t w, size_t n)
{
    return w & ((1u << n) - 1u);
}

/* Keep bits of the next 32 elements. */
static inline uint32_t mask_word(rng_v *r, __m256i sthr)
{
    uint32_t d = ht_vmovemask(rng_drop8(r, sthr));
    d |= ht_vmovemask(rng_drop8(r, sthr)) << 8;
    d |= ht_vmovemask(rng_drop8(r, sthr)) << 16;
    d |= ht_vmovemask(rng_drop8(r, sthr)) << 24;
    return ~d;
}

/* Keep bits of the last rem (0 < rem < 32) elements. */
static inline uint32_t mask_tail(rng_v *r, __m256i sthr, size_t rem)
{
    uint32_t d = 0;
    for (size_t k = 0; k * 8 < rem; k++)
        d |= ht_vmovemask(rng_drop8(r, sthr)) << (8 * k);
    return low_bits(~d, rem);
}

static void dropout_mask_avx2(uint64_t key, size_t n, uint32_t thr,
                              uint32_t *bits)
{
    rng_v r;
    rng_seed(&r, key);
    const __m256i sthr = _mm256_set1_epi32((int32_t)(thr ^ 0x80000000u));
    const size_t nw = n / 32;
    for (size_t w = 0; w < nw; w++)
        bits[w] = mask_word(&r, sthr);
    if (n % 32)
        bits[nw] = mask_tail(&r, sthr, n % 32);
}

/* Two rows in lockstep, as dropout_fwd2. */
static void dropout_mask2_avx2(uint64_t key0, uint64_t key1, size_t n,
                               uint32_t thr, uint32_t *bits0, uint32_t *bits1)
{
    rng_v r0, r1;
    rng_seed(&r0, key0);
    rng_seed(&r1, key1);
    const __m256i sthr = _mm256_set1_epi32((int32_t)(thr ^ 0x80000000u));
    const size_t nw = n / 32;
    for (size_t w = 0; w < nw; w++) {
        bits0[w] = mask_word(&r0, sthr);
        bits1[w] = mask_word(&r1, sthr);
    }
    if (n % 32) {
        bits0[nw] = mask_tail(&r0, sthr, n % 32);
        bits1[nw] = mask_tail(&r1, sthr, n % 32);
    }
}

/* One 32-element word of a row: y = keep ? x*s : 0 for 32 elements,
 * returns the keep bits. x is loaded before y is stored (y may equal x). */
static inline uint32_t fwd_word(rng_v *r, __m256i sthr, ht_vf s,
                                const float *xw, float *yw)
{
    ht_vf d0 = rng_drop8(r, sthr), d1 = rng_drop8(r, sthr);
    ht_vf d2 = rng_drop8(r, sthr), d3 = rng_drop8(r, sthr);
    ht_vf x0 = ht_vload(xw), x1 = ht_vload(xw + 8);
    ht_vf x2 = ht_vload(xw + 16), x3 = ht_vload(xw + 24);
    ht_vstore(yw, ht_vandnot(d0, ht_vmul(x0, s)));
    ht_vstore(yw + 8, ht_vandnot(d1, ht_vmul(x1, s)));
    ht_vstore(yw + 16, ht_vandnot(d2, ht_vmul(x2, s)));
    ht_vstore(yw + 24, ht_vandnot(d3, ht_vmul(x3, s)));
    return ~(ht_vmovemask(d0) | ht_vmovemask(d1) << 8 |
             ht_vmovemask(d2) << 16 | ht_vmovemask(d3) << 24);
}

/* The last rem (0 < rem < 32) elements of a row; returns their bits. */
static inline uint32_t fwd_tail(rng_v *r, __m256i sthr, ht_vf s, size_t rem,
                                const float *xw, float *yw)
{
    uint32_t d = 0;
    for (size_t k = 0; k * 8 < rem; k++) {
        ht_vf dk = rng_drop8(r, sthr);
        size_t left = rem - 8 * k;
        if (left >= 8)
            ht_vstore(yw + 8 * k,
                      ht_vandnot(dk, ht_vmul(ht_vload(xw + 8 * k), s)));
        else
            ht_vstore_n(yw + 8 * k,
                        ht_vandnot(dk, ht_vmul(ht_vload_n(xw + 8 * k, left), s)),
                        left);
        d |= ht_vmovemask(dk) << (8 * k);
    }
    return low_bits(~d, rem);
}

static void dropout_fwd_avx2(uint64_t key, size_t n, uint32_t thr,
                             float scale, const float *x, float *y,
                             uint32_t *bits)
{
    rng_v r;
    rng_seed(&r, key);
    const __m256i sthr = _mm256_set1_epi32((int32_t)(thr ^ 0x80000000u));
    const ht_vf s = ht_vset1(scale);
    const size_t nw = n / 32;
    for (size_t w = 0; w < nw; w++)
        bits[w] = fwd_word(&r, sthr, s, x + 32 * w, y + 32 * w);
    if (n % 32)
        bits[nw] = fwd_tail(&r, sthr, s, n % 32, x + 32 * nw, y + 32 * nw);
}

/* Two rows in lockstep: the two generators are independent chains, so
 * the out-of-order core overlaps them (one row alone leaves it waiting on
 * its own chain part of the time; bench_elementwise's xoshiro8 floor and
 * dropout_fwd show the difference). */
static void dropout_fwd2_avx2(uint64_t key0, uint64_t key1, size_t n,
                              uint32_t thr, float scale, const float *x0,
                              const float *x1, float *y0, float *y1,
                              uint32_t *bits0, uint32_t *bits1)
{
    rng_v r0, r1;
    rng_seed(&r0, key0);
    rng_seed(&r1, key1);
    const __m256i sthr = _mm256_set1_epi32((int32_t)(thr ^ 0x80000000u));
    const ht_vf s = ht_vset1(scale);
    const size_t nw = n / 32;
    for (size_t w = 0; w < nw; w++) {
        bits0[w] = fwd_word(&r0, sthr, s, x0 + 32 * w, y0 + 32 * w);
        bits1[w] = fwd_word(&r1, sthr, s, x1 + 32 * w, y1 + 32 * w);
    }
    if (n % 32) {
        bits0[nw] = fwd_tail(&r0, sthr, s, n % 32, x0 + 32 * nw, y0 + 32 * nw);
        bits1[nw] = fwd_tail(&r1, sthr, s, n % 32, x1 + 32 * nw, y1 + 32 * nw);
    }
}

/* Keep mask of elements 8k .. 8k+7 of a 32-bit word broadcast in wv. */
static inline ht_vf keep8(__m256i wv, int k)
{
    const __m256i sel = _mm256_sllv_epi32(
        _mm256_set1_epi32(1 << (8 * k)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_castsi256_ps(
        _mm256_cmpeq_epi32(_mm256_and_si256(wv, sel), sel));
}

/* Reads the bit mask rather than regenerating it: the mask is 1/32 of the
 * bytes of dy, while regenerating costs the generator's ~20 uops per 8
 * elements (bench_elementwise compares the two: dropout_bwd vs
 * dropout_fwd, which is exactly regenerate + apply). */
static void dropout_bwd_avx2(size_t n, const float *dy, const uint32_t *bits,
                             float scale, float *dx)
{
    const ht_vf s = ht_vset1(scale);
    const size_t nw = n / 32;
    for (size_t w = 0; w < nw; w++) {
        const __m256i wv = _mm256_set1_epi32((int32_t)bits[w]);
        const float *a = dy + 32 * w;
        float *b = dx + 32 * w;
        ht_vf y0 = ht_vload(a), y1 = ht_vload(a + 8);
        ht_vf y2 = ht_vload(a + 16), y3 = ht_vload(a + 24);
        ht_vstore(b, ht_vand(keep8(wv, 0), ht_vmul(y0, s)));
        ht_vstore(b + 8, ht_vand(keep8(wv, 1), ht_vmul(y1, s)));
        ht_vstore(b + 16, ht_vand(keep8(wv, 2), ht_vmul(y2, s)));
        ht_vstore(b + 24, ht_vand(keep8(wv, 3), ht_vmul(y3, s)));
    }
    const size_t rem = n % 32;
    if (rem) {
        const __m256i wv = _mm256_set1_epi32((int32_t)bits[nw]);
        const float *a = dy + 32 * nw;
        float *b = dx + 32 * nw;
        for (int k = 0; (size_t)k * 8 < rem; k++) {
            size_t left = rem - 8 * (size_t)k;
            if (left > 8)
                left = 8;
            ht_vstore_n(b + 8 * k,
                        ht_vand(keep8(wv, k), ht_vmul(ht_vload_n(a + 8 * k, left),
                                                      s)),
                        left);
        }
    }
}

void ht_avx2_init_dropout(ht_kernels *k)
{
    k->dropout_mask = dropout_mask_avx2;
    k->dropout_fwd = dropout_fwd_avx2;
    k->dropout_fwd2 = dropout_fwd2_avx2;
    k->dropout_mask2 = dropout_mask2_avx2;
    k->dropout_bwd = dropout_bwd_avx2;
}
