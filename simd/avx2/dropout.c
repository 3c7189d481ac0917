/* AVX2 dropout: the generator of simd/rng.h with its 8 xoshiro128++ lanes
 * in one set of four ymm registers (s[k] of all lanes = one register). One
 * vector step yields 8 outputs = 16 half-words, which in register order are
 * the 16-bit draws of elements 16t .. 16t+15, exactly the scalar's order,
 * so the masks are bit for bit the scalar twin's.
 *
 * Drop test r < thr on unsigned 16-bit values: AVX2 only has a signed
 * compare, so both sides are offset by 2^15 (xor 0x8000), which maps
 * unsigned order onto signed order. No float conversion. The 16-bit compare
 * results become float masks by sign extension (vpmovsxwd of each 128-bit
 * half) and keep bits by one pack + lane fix-up + byte movemask per 32
 * elements.
 *
 * Cost per 32 elements: two generator steps (14 vector ops each), two
 * compares, five ops of mask conversion, and the apply; the 32-bit draws
 * this replaced needed four steps. One row is one dependent chain (element
 * j needs lane (j%16)/2's previous state); two rows interleaved overlap two
 * chains (dropout_fwd2, dropout_mask2). */
#include "../rng.h"
#include "avx2.h"
#include "vec.h"

typedef struct rng_v {
    __m256i s0, s1, s2, s3;
} rng_v;

/* Low 64 bits of x * c in each 64-bit lane: AVX2 multiplies only 32 x 32
 * -> 64 bits, so x*c = xl*cl + ((xh*cl + xl*ch) << 32) mod 2^64. */
static inline __m256i mul64c(__m256i x, uint64_t c)
{
    const __m256i cl = _mm256_set1_epi64x((int64_t)(uint32_t)c);
    const __m256i ch = _mm256_set1_epi64x((int64_t)(c >> 32));
    const __m256i cross = _mm256_add_epi64(
        _mm256_mul_epu32(_mm256_srli_epi64(x, 32), cl), _mm256_mul_epu32(x, ch));
    return _mm256_add_epi64(_mm256_mul_epu32(x, cl),
                            _mm256_slli_epi64(cross, 32));
}

/* ht_splitmix64_next's output function on four 64-bit lanes. */
static inline __m256i mix64v(__m256i z)
{
    z = mul64c(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)),
               HT_SPLITMIX_M1);
    z = mul64c(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)),
               HT_SPLITMIX_M2);
    return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}

/* ht_rng8_seed in registers. Scalar seeding (16 splitmix64 outputs, stored
 * as 32-bit words and reloaded as vectors, a load that store forwarding
 * cannot serve) made a row's dropout 2 % slower at 1024 elements and
 * 7 % at 256 (old and new alternated in one process). The
 * 8 lanes' splitmix states go in two vectors, lanes {0,1,4,5} and
 * {2,3,6,7}, so that one in-lane shuffle of the even (odd) 32-bit halves
 * puts the low (high) words of lanes 0..7 in order. */
static inline void rng_seed(rng_v *r, uint64_t key)
{
#define LG(l) ((int64_t)((uint64_t)(l) * HT_RNG_LANE_GAMMA))
    const __m256i k = _mm256_set1_epi64x((int64_t)key);
    const __m256i g = _mm256_set1_epi64x((int64_t)HT_SPLITMIX_GAMMA);
    const __m256i x = _mm256_xor_si256(k, _mm256_setr_epi64x(LG(1), LG(2), LG(5), LG(6)));
    const __m256i y = _mm256_xor_si256(k, _mm256_setr_epi64x(LG(3), LG(4), LG(7), LG(8)));
#undef LG
    const __m256i x1 = _mm256_add_epi64(x, g), y1 = _mm256_add_epi64(y, g);
    const __m256i ax = mix64v(x1), ay = mix64v(y1);
    const __m256i bx = mix64v(_mm256_add_epi64(x1, g));
    const __m256i by = mix64v(_mm256_add_epi64(y1, g));
    /* a and b are one bijection (the output function) of two different
     * inputs, so they are never both zero and no lane starts from
     * xoshiro's all-zero state (ht_rng8_seed's guard never fires). */
    r->s0 = _mm256_castps_si256(_mm256_shuffle_ps(
        _mm256_castsi256_ps(ax), _mm256_castsi256_ps(ay), 0x88));
    r->s1 = _mm256_castps_si256(_mm256_shuffle_ps(
        _mm256_castsi256_ps(ax), _mm256_castsi256_ps(ay), 0xDD));
    r->s2 = _mm256_castps_si256(_mm256_shuffle_ps(
        _mm256_castsi256_ps(bx), _mm256_castsi256_ps(by), 0x88));
    r->s3 = _mm256_castps_si256(_mm256_shuffle_ps(
        _mm256_castsi256_ps(bx), _mm256_castsi256_ps(by), 0xDD));
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

/* Drop flags (all-ones 16-bit lanes where r < thr) of the next 16
 * elements; sthr = (thr ^ 0x8000) broadcast to 16-bit lanes. */
static inline __m256i rng_drop16(rng_v *r, __m256i sthr)
{
    __m256i x = _mm256_xor_si256(rng_next(r), _mm256_set1_epi16(INT16_MIN));
    return _mm256_cmpgt_epi16(sthr, x);
}

static inline __m256i thr16(uint32_t thr)
{
    return _mm256_set1_epi16((int16_t)(uint16_t)(thr ^ 0x8000u));
}

/* Float drop masks of elements 0-7 (lo) and 8-15 (hi) of a step's flags. */
static inline ht_vf drop_lo(__m256i c)
{
    return _mm256_castsi256_ps(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(c)));
}
static inline ht_vf drop_hi(__m256i c)
{
    return _mm256_castsi256_ps(
        _mm256_cvtepi16_epi32(_mm256_extracti128_si256(c, 1)));
}

/* Drop bits of 32 elements from two steps' flags: packs interleaves the
 * 128-bit halves (a0-7 b0-7 | a8-15 b8-15); the 64-bit permute restores
 * element order before the byte movemask. */
static inline uint32_t drop_bits32(__m256i a, __m256i b)
{
    __m256i pk = _mm256_permute4x64_epi64(_mm256_packs_epi16(a, b), 0xD8);
    return (uint32_t)_mm256_movemask_epi8(pk);
}

/* Bits below n (0 < n < 32) of a word. */
static inline uint32_t low_bits(uint32_t w, size_t n)
{
    return w & ((1u << n) - 1u);
}

static void dropout_mask_avx2(uint64_t key, size_t n, uint32_t thr,
                              uint32_t *bits)
{
    if (ht_dropout_drop_all(thr, n, bits, NULL))
        return;
    rng_v r;
    rng_seed(&r, key);
    const __m256i sthr = thr16(thr);
    const size_t nw = n / 32;
    for (size_t w = 0; w < nw; w++) {
        __m256i a = rng_drop16(&r, sthr), b = rng_drop16(&r, sthr);
        bits[w] = ~drop_bits32(a, b);
    }
    if (n % 32) {
        __m256i a = rng_drop16(&r, sthr), b = rng_drop16(&r, sthr);
        bits[nw] = low_bits(~drop_bits32(a, b), n % 32);
    }
}

/* Two rows in lockstep, as dropout_fwd2. */
static void dropout_mask2_avx2(uint64_t key0, uint64_t key1, size_t n,
                               uint32_t thr, uint32_t *bits0, uint32_t *bits1)
{
    if (ht_dropout_drop_all(thr, n, bits0, NULL) +
        ht_dropout_drop_all(thr, n, bits1, NULL))
        return;
    rng_v r0, r1;
    rng_seed(&r0, key0);
    rng_seed(&r1, key1);
    const __m256i sthr = thr16(thr);
    const size_t nw = n / 32;
    for (size_t w = 0; w < nw; w++) {
        __m256i a0 = rng_drop16(&r0, sthr), a1 = rng_drop16(&r1, sthr);
        __m256i b0 = rng_drop16(&r0, sthr), b1 = rng_drop16(&r1, sthr);
        bits0[w] = ~drop_bits32(a0, b0);
        bits1[w] = ~drop_bits32(a1, b1);
    }
    if (n % 32) {
        __m256i a0 = rng_drop16(&r0, sthr), a1 = rng_drop16(&r1, sthr);
        __m256i b0 = rng_drop16(&r0, sthr), b1 = rng_drop16(&r1, sthr);
        bits0[nw] = low_bits(~drop_bits32(a0, b0), n % 32);
        bits1[nw] = low_bits(~drop_bits32(a1, b1), n % 32);
    }
}

/* Streaming is used only on 64-byte aligned outputs: then every 32-element
 * word is two whole cache lines, and the tail's lines are written by plain
 * stores alone (a line written partly by non-temporal and partly by plain
 * stores, or flushed half-written by the fence, costs a partial-line write
 * to memory, far more than the read-for-ownership saved). */
static inline int nt_ok(int stream, const float *y)
{
    return stream && ((uintptr_t)y & 63u) == 0;
}

static inline void st8(float *p, ht_vf v, int nt)
{
    if (nt)
        _mm256_stream_ps(p, v);
    else
        ht_vstore(p, v);
}

/* One 32-element word of a row: y = keep ? x*s : 0 for 32 elements,
 * returns the keep bits. x is loaded before y is stored (y may equal x).
 * nt: y is 64-byte aligned and may be written with streaming stores. */
static inline uint32_t fwd_word(rng_v *r, __m256i sthr, ht_vf s,
                                const float *xw, float *yw, int nt)
{
    const __m256i a = rng_drop16(r, sthr), b = rng_drop16(r, sthr);
    ht_vf x0 = ht_vload(xw), x1 = ht_vload(xw + 8);
    ht_vf x2 = ht_vload(xw + 16), x3 = ht_vload(xw + 24);
    st8(yw, ht_vandnot(drop_lo(a), ht_vmul(x0, s)), nt);
    st8(yw + 8, ht_vandnot(drop_hi(a), ht_vmul(x1, s)), nt);
    st8(yw + 16, ht_vandnot(drop_lo(b), ht_vmul(x2, s)), nt);
    st8(yw + 24, ht_vandnot(drop_hi(b), ht_vmul(x3, s)), nt);
    return ~drop_bits32(a, b);
}

/* The last rem (0 < rem < 32) elements of a row; returns their bits. */
static inline uint32_t fwd_tail(rng_v *r, __m256i sthr, ht_vf s, size_t rem,
                                const float *xw, float *yw)
{
    const __m256i a = rng_drop16(r, sthr), b = rng_drop16(r, sthr);
    const ht_vf d[4] = {drop_lo(a), drop_hi(a), drop_lo(b), drop_hi(b)};
    for (size_t k = 0; k * 8 < rem; k++) {
        const size_t left = rem - 8 * k;
        if (left >= 8)
            ht_vstore(yw + 8 * k,
                      ht_vandnot(d[k], ht_vmul(ht_vload(xw + 8 * k), s)));
        else
            ht_vstore_n(yw + 8 * k,
                        ht_vandnot(d[k], ht_vmul(ht_vload_n(xw + 8 * k, left), s)),
                        left);
    }
    return low_bits(~drop_bits32(a, b), rem);
}

static void dropout_fwd_avx2(uint64_t key, size_t n, uint32_t thr,
                             float scale, const float *x, float *y,
                             uint32_t *bits, int stream)
{
    if (ht_dropout_drop_all(thr, n, bits, y))
        return;
    rng_v r;
    rng_seed(&r, key);
    const __m256i sthr = thr16(thr);
    const ht_vf s = ht_vset1(scale);
    const size_t nw = n / 32;
    const int nt = nt_ok(stream, y);
    if (nt)
        for (size_t w = 0; w < nw; w++)
            bits[w] = fwd_word(&r, sthr, s, x + 32 * w, y + 32 * w, 1);
    else
        for (size_t w = 0; w < nw; w++)
            bits[w] = fwd_word(&r, sthr, s, x + 32 * w, y + 32 * w, 0);
    if (n % 32)
        bits[nw] = fwd_tail(&r, sthr, s, n % 32, x + 32 * nw, y + 32 * nw);
    if (nt)
        _mm_sfence();
}

/* Two rows in lockstep: the two generators are independent chains, so
 * the out-of-order core overlaps them. */
static void dropout_fwd2_avx2(uint64_t key0, uint64_t key1, size_t n,
                              uint32_t thr, float scale, const float *x0,
                              const float *x1, float *y0, float *y1,
                              uint32_t *bits0, uint32_t *bits1, int stream)
{
    if (ht_dropout_drop_all(thr, n, bits0, y0) +
        ht_dropout_drop_all(thr, n, bits1, y1))
        return;
    rng_v r0, r1;
    rng_seed(&r0, key0);
    rng_seed(&r1, key1);
    const __m256i sthr = thr16(thr);
    const ht_vf s = ht_vset1(scale);
    const size_t nw = n / 32;
    const int nt = nt_ok(stream, y0) && nt_ok(stream, y1);
    if (nt)
        for (size_t w = 0; w < nw; w++) {
            bits0[w] = fwd_word(&r0, sthr, s, x0 + 32 * w, y0 + 32 * w, 1);
            bits1[w] = fwd_word(&r1, sthr, s, x1 + 32 * w, y1 + 32 * w, 1);
        }
    else
        for (size_t w = 0; w < nw; w++) {
            bits0[w] = fwd_word(&r0, sthr, s, x0 + 32 * w, y0 + 32 * w, 0);
            bits1[w] = fwd_word(&r1, sthr, s, x1 + 32 * w, y1 + 32 * w, 0);
        }
    if (n % 32) {
        bits0[nw] = fwd_tail(&r0, sthr, s, n % 32, x0 + 32 * nw, y0 + 32 * nw);
        bits1[nw] = fwd_tail(&r1, sthr, s, n % 32, x1 + 32 * nw, y1 + 32 * nw);
    }
    if (nt)
        _mm_sfence();
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
 * bytes of dy, while regenerating costs the generator's ~10 vector ops per 8
 * elements (bench_elementwise compares the two: dropout_bwd vs
 * dropout_fwd, which is exactly regenerate + apply). */
static void dropout_bwd_avx2(size_t n, const float *dy, const uint32_t *bits,
                             float scale, float *dx, int stream)
{
    const ht_vf s = ht_vset1(scale);
    const size_t nw = n / 32;
    const int nt = nt_ok(stream, dx);
    for (size_t w = 0; w < nw; w++) {
        const __m256i wv = _mm256_set1_epi32((int32_t)bits[w]);
        const float *a = dy + 32 * w;
        float *b = dx + 32 * w;
        ht_vf y0 = ht_vload(a), y1 = ht_vload(a + 8);
        ht_vf y2 = ht_vload(a + 16), y3 = ht_vload(a + 24);
        st8(b, ht_vand(keep8(wv, 0), ht_vmul(y0, s)), nt);
        st8(b + 8, ht_vand(keep8(wv, 1), ht_vmul(y1, s)), nt);
        st8(b + 16, ht_vand(keep8(wv, 2), ht_vmul(y2, s)), nt);
        st8(b + 24, ht_vand(keep8(wv, 3), ht_vmul(y3, s)), nt);
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
    if (nt)
        _mm_sfence();
}

void ht_avx2_init_dropout(ht_kernels *k)
{
    k->dropout_mask = dropout_mask_avx2;
    k->dropout_fwd = dropout_fwd_avx2;
    k->dropout_fwd2 = dropout_fwd2_avx2;
    k->dropout_mask2 = dropout_mask2_avx2;
    k->dropout_bwd = dropout_bwd_avx2;
}
