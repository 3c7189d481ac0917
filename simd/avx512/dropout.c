/* AVX-512 dropout for two rows at once (dropout_fwd2, dropout_mask2): the
 * two rows' generators of simd/rng.h (8 xoshiro128++ lanes each) share one
 * set of four zmm registers, row 0 in lanes 0-7 and row 1 in lanes 8-15.
 *
 * Why: the generator is most of a dropout pass's arithmetic, and AVX-512
 * both doubles the lanes and rotates in one instruction (AVX2 needs three).
 * In 16-bit lanes one step's outputs are row 0's draws for elements 16t ..
 * 16t+15, then row 1's: one unsigned 16-bit compare (AVX512BW) against the
 * threshold gives both rows' keep bits in element order, directly usable
 * as the write masks of the apply. No float conversion, no mask shuffles.
 *
 * The draws, the keep test (r >= thr) and y = keep ? x*scale : +0 are the
 * scalar twin's, so masks and outputs are bitwise those of every other
 * table (tests/test_kernels.c). One-row calls stay with the AVX2 kernels:
 * with one row only half of each register would do useful work. */
#include <immintrin.h>
#include <stdint.h>

#include "../rng.h"
#include "avx512.h"

typedef struct rng2 {
    __m512i s0, s1, s2, s3;
} rng2;

/* Low 64 bits of x * c in each 64-bit lane, from 32 x 32 -> 64-bit
 * multiplies (vpmullq would need AVX512DQ, which this table does not ask
 * for): x*c = xl*cl + ((xh*cl + xl*ch) << 32) mod 2^64. */
static inline __m512i mul64c(__m512i x, uint64_t c)
{
    const __m512i cl = _mm512_set1_epi64((int64_t)(uint32_t)c);
    const __m512i ch = _mm512_set1_epi64((int64_t)(c >> 32));
    const __m512i cross = _mm512_add_epi64(
        _mm512_mul_epu32(_mm512_srli_epi64(x, 32), cl), _mm512_mul_epu32(x, ch));
    return _mm512_add_epi64(_mm512_mul_epu32(x, cl),
                            _mm512_slli_epi64(cross, 32));
}

/* ht_splitmix64_next's output function on eight 64-bit lanes. */
static inline __m512i mix64v(__m512i z)
{
    z = mul64c(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)),
               HT_SPLITMIX_M1);
    z = mul64c(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)),
               HT_SPLITMIX_M2);
    return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

/* Even (0x88) or odd (0xDD) 32-bit halves of x and y, shuffled in each
 * 128-bit block: x0 x2 y0 y2 (or x1 x3 y1 y3). */
#define HALVES(x, y, imm)                                                  \
    _mm512_castps_si512(_mm512_shuffle_ps(_mm512_castsi512_ps(x),          \
                                          _mm512_castsi512_ps(y), (imm)))

/* ht_rng8_seed of both rows in registers, as the AVX2 table does (see
 * there why). The 16 lanes' splitmix states go in two vectors, x for
 * lanes {0,1,4,5} and y for {2,3,6,7} of row 0 then of row 1, so that the
 * in-block shuffle of their even (odd) halves puts the low (high) words of
 * the 16 lanes in order. a and b are one bijection of two different
 * inputs, never both zero, so ht_rng8_seed's all-zero guard never fires. */
static inline void rng2_seed(rng2 *r, uint64_t key0, uint64_t key1)
{
#define LG(l) ((int64_t)((uint64_t)(l) * HT_RNG_LANE_GAMMA))
    const __m512i k = _mm512_inserti64x4(
        _mm512_set1_epi64((int64_t)key0), _mm256_set1_epi64x((int64_t)key1), 1);
    const __m512i g = _mm512_set1_epi64((int64_t)HT_SPLITMIX_GAMMA);
    const __m512i x1 = _mm512_add_epi64(
        _mm512_xor_si512(k, _mm512_setr_epi64(LG(1), LG(2), LG(5), LG(6),
                                              LG(1), LG(2), LG(5), LG(6))),
        g);
    const __m512i y1 = _mm512_add_epi64(
        _mm512_xor_si512(k, _mm512_setr_epi64(LG(3), LG(4), LG(7), LG(8),
                                              LG(3), LG(4), LG(7), LG(8))),
        g);
#undef LG
    const __m512i ax = mix64v(x1), ay = mix64v(y1);
    const __m512i bx = mix64v(_mm512_add_epi64(x1, g));
    const __m512i by = mix64v(_mm512_add_epi64(y1, g));
    r->s0 = HALVES(ax, ay, 0x88);
    r->s1 = HALVES(ax, ay, 0xDD);
    r->s2 = HALVES(bx, by, 0x88);
    r->s3 = HALVES(bx, by, 0xDD);
}
#undef HALVES

/* One xoshiro128++ step of all 16 lanes; returns the 16 outputs. */
static inline __m512i rng2_next(rng2 *r)
{
    const __m512i out = _mm512_add_epi32(
        _mm512_rol_epi32(_mm512_add_epi32(r->s0, r->s3), 7), r->s0);
    const __m512i t = _mm512_slli_epi32(r->s1, 9);
    r->s2 = _mm512_xor_si512(r->s2, r->s0);
    r->s3 = _mm512_xor_si512(r->s3, r->s1);
    r->s1 = _mm512_xor_si512(r->s1, r->s2);
    r->s0 = _mm512_xor_si512(r->s0, r->s3);
    r->s2 = _mm512_xor_si512(r->s2, t);
    r->s3 = _mm512_rol_epi32(r->s3, 11);
    return out;
}

/* Keep bits of the next 16 elements of both rows: row 0's in bits 0-15,
 * row 1's in bits 16-31; thr16 is thr in every 16-bit lane. */
static inline __mmask32 rng2_keep(rng2 *r, __m512i thr16)
{
    return _mm512_cmpge_epu16_mask(rng2_next(r), thr16);
}

/* Row 0's and row 1's 32-bit words of keep bits from two steps. */
static inline uint32_t word0(__mmask32 a, __mmask32 b)
{
    return ((uint32_t)a & 0xFFFFu) | ((uint32_t)b << 16);
}
static inline uint32_t word1(__mmask32 a, __mmask32 b)
{
    return ((uint32_t)a >> 16) | ((uint32_t)b & 0xFFFF0000u);
}

/* Bits below n (0 <= n < 32) of a word. */
static inline uint32_t low_bits(uint32_t w, size_t n)
{
    return w & ((1u << n) - 1u);
}

static void dropout_mask2_avx512(uint64_t key0, uint64_t key1, size_t n,
                                 uint32_t thr, uint32_t *bits0,
                                 uint32_t *bits1)
{
    if (ht_dropout_drop_all(thr, n, bits0, NULL) +
        ht_dropout_drop_all(thr, n, bits1, NULL))
        return;
    rng2 r;
    rng2_seed(&r, key0, key1);
    const __m512i t16 = _mm512_set1_epi16((short)thr);
    const size_t nw = n / 32;
    for (size_t w = 0; w < nw; w++) {
        const __mmask32 a = rng2_keep(&r, t16), b = rng2_keep(&r, t16);
        bits0[w] = word0(a, b);
        bits1[w] = word1(a, b);
    }
    if (n % 32) {
        const __mmask32 a = rng2_keep(&r, t16), b = rng2_keep(&r, t16);
        bits0[nw] = low_bits(word0(a, b), n % 32);
        bits1[nw] = low_bits(word1(a, b), n % 32);
    }
}

/* 16 elements: y = keep ? x*s : +0 (x loaded before y is stored). */
static inline void apply16(__mmask16 keep, __m512 s, const float *x,
                           float *y, int nt)
{
    const __m512 v = _mm512_maskz_mul_ps(keep, _mm512_loadu_ps(x), s);
    if (nt)
        _mm512_stream_ps(y, v);
    else
        _mm512_storeu_ps(y, v);
}

/* The first rem < 16 elements only (masked: nothing past them is read or
 * written). */
static inline void apply_part(__mmask16 keep, size_t rem, __m512 s,
                              const float *x, float *y)
{
    const __mmask16 in = (__mmask16)((1u << rem) - 1u);
    _mm512_mask_storeu_ps(
        y, in, _mm512_maskz_mul_ps(keep & in, _mm512_maskz_loadu_ps(in, x), s));
}

/* The last rem (0 < rem < 32) elements of a row from its two steps' keep
 * bits ka, kb. */
static inline void apply_tail(__mmask16 ka, __mmask16 kb, size_t rem,
                              __m512 s, const float *x, float *y)
{
    if (rem >= 16) {
        apply16(ka, s, x, y, 0);
        if (rem > 16)
            apply_part(kb, rem - 16, s, x + 16, y + 16);
    } else {
        apply_part(ka, rem, s, x, y);
    }
}

/* Streaming only on 64-byte aligned outputs, where every 32-element word
 * is two whole lines (see the AVX2 file for why partial lines cost more
 * than they save).
 *
 * The input is prefetched PF_AHEAD floats ahead of the loads. This kernel
 * finishes its arithmetic in about half the AVX2 kernel's time, and out of
 * cache (64 Mi floats, bench_elementwise, rows paired as
 * ht_dropout_forward pairs them) it then waited on its loads: 0.53-0.60 of
 * the triad without the prefetch, 0.89-0.90 with it (the AVX2 kernel
 * measured no gain from the same prefetch and has none). In cache it
 * measured within noise (0.095 against 0.105 ns per element at 1 Mi
 * floats). Near a row's end it prefetches past the row, on purpose: in
 * packed rows that is the start of the row the next call reads, and
 * stopping at the row's end measured no better than no prefetch. The
 * address is formed as an integer, never as a pointer past the row, and a
 * prefetch never faults. */
#define PF_AHEAD 256
static void dropout_fwd2_avx512(uint64_t key0, uint64_t key1, size_t n,
                                uint32_t thr, float scale, const float *x0,
                                const float *x1, float *y0, float *y1,
                                uint32_t *bits0, uint32_t *bits1, int stream)
{
    if (ht_dropout_drop_all(thr, n, bits0, y0) +
        ht_dropout_drop_all(thr, n, bits1, y1))
        return;
    rng2 r;
    rng2_seed(&r, key0, key1);
    const __m512i t16 = _mm512_set1_epi16((short)thr);
    const __m512 s = _mm512_set1_ps(scale);
    const size_t nw = n / 32;
    const int nt = stream && ((uintptr_t)y0 & 63u) == 0 &&
                   ((uintptr_t)y1 & 63u) == 0;
    for (size_t w = 0; w < nw; w++) {
        const __mmask32 a = rng2_keep(&r, t16), b = rng2_keep(&r, t16);
        const size_t o = 32 * w;
        const uintptr_t a0 = (uintptr_t)(x0 + o) + PF_AHEAD * sizeof(float);
        const uintptr_t a1 = (uintptr_t)(x1 + o) + PF_AHEAD * sizeof(float);
        _mm_prefetch((const char *)a0, _MM_HINT_T0);
        _mm_prefetch((const char *)(a0 + 64), _MM_HINT_T0);
        _mm_prefetch((const char *)a1, _MM_HINT_T0);
        _mm_prefetch((const char *)(a1 + 64), _MM_HINT_T0);
        apply16((__mmask16)a, s, x0 + o, y0 + o, nt);
        apply16((__mmask16)b, s, x0 + o + 16, y0 + o + 16, nt);
        apply16((__mmask16)(a >> 16), s, x1 + o, y1 + o, nt);
        apply16((__mmask16)(b >> 16), s, x1 + o + 16, y1 + o + 16, nt);
        bits0[w] = word0(a, b);
        bits1[w] = word1(a, b);
    }
    if (n % 32) {
        const __mmask32 a = rng2_keep(&r, t16), b = rng2_keep(&r, t16);
        const size_t o = 32 * nw, rem = n % 32;
        apply_tail((__mmask16)a, (__mmask16)b, rem, s, x0 + o, y0 + o);
        apply_tail((__mmask16)(a >> 16), (__mmask16)(b >> 16), rem, s,
                   x1 + o, y1 + o);
        bits0[nw] = low_bits(word0(a, b), rem);
        bits1[nw] = low_bits(word1(a, b), rem);
    }
    if (nt)
        _mm_sfence();
}

void ht_avx512_dropout_init(ht_kernels *k)
{
    k->dropout_fwd2 = dropout_fwd2_avx512;
    k->dropout_mask2 = dropout_mask2_avx512;
}
