/* Row-wise softmax + cross-entropy forward in AVX2 with a vectorised exp.
 *
 * exp: Cody-Waite reduction x = n*ln2 + r (|r| <= ln2/2, ln2 split in two
 * so n*ln2_hi is exact), a degree-6 minimax polynomial for e^r, then the
 * product with 2^n built in the exponent field. Domain x <= 0 (the
 * inputs are z - max). Error: 0.998 ulp at most (|result - e^x| over the
 * ulp of the float nearest e^x) for x in [-87.3, 0], measured against
 * double exp on every 97th float of that range (1.15e7 points) when this
 * was written; tests/test_kernels.c checks the softmax built on it against
 * the scalar twin's expf with a relative tolerance. Below about -87.68
 * (where e^x is subnormal, < 8.1e-39) it returns 0.
 *
 * Two layouts. Rows of up to 16 classes (the usual classifier head: 10)
 * go 8 at a time, one row per lane after an in-register transpose, so
 * the row sum runs in the twin's order and the loss uses a vector log;
 * the last m % 8 rows take the long-row path below.
 * Longer rows go one at a time along the row; their sum is accumulated in
 * 8 lanes and reduced in a fixed order, so it differs from the twin's
 * sequential sum by rounding (a few ulp), and the loss (libm logf) with
 * it. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "avx2.h"
#include "softmax_widths.h"
#include "vec.h"

#define SMALL_N HT_SOFTMAX_SMALL_N
#define PF_ROWS 64 /* prefetch distance, rows of n <= SMALL_N floats */
#define LOG_ROWS 64 /* rows per deferred loss pass, a multiple of 8 */

/* e^x for x <= 0 (softmax feeds it z - max): no overflow path, and 2^n
 * comes straight from the rounding constant: t = x*log2(e) + (1.5*2^23 +
 * 127) rounds x*log2(e) to the integer n in t's low mantissa bits, already
 * offset by the exponent bias, so (bits of t) << 23 is the float 2^n.
 * Underflow costs no compare: x is clamped at -88, where n = -127 and
 * those bits are +0.0, so e^x flushes to 0 below about -87.68 (where it
 * is subnormal), and n never drops below -127 (whose bits would wrap into
 * the sign). The polynomial is a degree-6 minimax fit of e^r with
 * constant term 1 on |r| <= ln2/2 (relative error 1.8e-8 with its float
 * coefficients), in plain Horner form: 13 vector operations, where the
 * Cephes form with a compare and mask took 17, and the exp is most of
 * this kernel's arithmetic. */
static HT_ALWAYS_INLINE __m256 exp_avx2(__m256 x)
{
    const __m256 magic = _mm256_set1_ps(HT_EXP_MAGIC);
    x = _mm256_max_ps(x, _mm256_set1_ps(HT_EXP_MIN));
    const __m256 t =
        _mm256_fmadd_ps(x, _mm256_set1_ps(HT_EXP_LOG2E), magic);
    const __m256 n = _mm256_sub_ps(t, magic); /* exact: in [-127, 0] */
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(HT_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(HT_LN2_LO), r);
    __m256 p = _mm256_set1_ps(HT_EXP_P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(HT_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(HT_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(HT_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(HT_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256 s2n =
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
    return _mm256_mul_ps(p, s2n);
}

/* Natural log of positive normal x (Cephes logf: x = 2^e * m with m in
 * [sqrt(1/2), sqrt(2)), a degree-9 polynomial in m - 1). Used on row sums,
 * which lie in [1, n]. Error 0.77 ulp at most on [1, 2^24] (measured against
 * double log on every 61st float there when this was written). */
static HT_ALWAYS_INLINE __m256 log_avx2(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256i xi = _mm256_castps_si256(x);
    __m256i ei = _mm256_sub_epi32(_mm256_srli_epi32(xi, 23),
                                  _mm256_set1_epi32(126));
    /* mantissa in [0.5, 1) */
    __m256 mt = _mm256_castsi256_ps(_mm256_or_si256(
        _mm256_and_si256(xi, _mm256_set1_epi32(0x007fffff)),
        _mm256_set1_epi32(0x3f000000)));
    __m256 e = _mm256_cvtepi32_ps(ei);
    __m256 small = _mm256_cmp_ps(mt, _mm256_set1_ps(HT_LOG_SQRTHF),
                                 _CMP_LT_OQ);
    /* m < sqrt(1/2): use 2m - 1 and e - 1, else m - 1 */
    e = _mm256_sub_ps(e, _mm256_and_ps(small, one));
    mt = _mm256_sub_ps(_mm256_add_ps(mt, _mm256_and_ps(small, mt)), one);
    __m256 z = _mm256_mul_ps(mt, mt);
    __m256 y = _mm256_set1_ps(HT_LOG_P0);
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(HT_LOG_P1));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(HT_LOG_P2));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(HT_LOG_P3));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(HT_LOG_P4));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(HT_LOG_P5));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(HT_LOG_P6));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(HT_LOG_P7));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(HT_LOG_P8));
    y = _mm256_mul_ps(_mm256_mul_ps(y, mt), z);
    y = _mm256_fmadd_ps(e, _mm256_set1_ps(HT_LN2_LO), y);
    y = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.5f), y);
    return _mm256_fmadd_ps(e, _mm256_set1_ps(HT_LN2_HI),
                           _mm256_add_ps(mt, y));
}

/* Moving a block of eight rows between memory and one vector per column
 * (lane k = row k) with few shuffles (on Intel most run on one port): the
 * 4-wide pieces load each row's four floats straight into a 128-bit lane
 * (an insert from memory is a load, not a shuffle): lane half 0 holds
 * rows 0-3, half 1 rows 4-7, and a 4x4 transpose inside the lanes finishes
 * the job, 8 shuffles per 4 columns where a full 8x8 transpose costs 24
 * per 8. Narrow pieces (2 or 1 columns) are gathered with broadcast loads
 * and blends, which run on any vector port. Every access stays inside the
 * rows' first n floats: the padding of ld > n is neither read nor
 * written, and no masked moves are needed. */

/* Transposes the 4x4 blocks inside each 128-bit lane (its own inverse). */
static HT_ALWAYS_INLINE void transpose4x2(__m256 *y0, __m256 *y1,
                                          __m256 *y2, __m256 *y3, __m256 x0,
                                          __m256 x1, __m256 x2, __m256 x3)
{
    const __m256 t0 = _mm256_unpacklo_ps(x0, x1), t1 = _mm256_unpackhi_ps(x0, x1);
    const __m256 t2 = _mm256_unpacklo_ps(x2, x3), t3 = _mm256_unpackhi_ps(x2, x3);
    *y0 = _mm256_shuffle_ps(t0, t2, 0x44);
    *y1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    *y2 = _mm256_shuffle_ps(t1, t3, 0x44);
    *y3 = _mm256_shuffle_ps(t1, t3, 0xEE);
}

/* Floats c .. c+3 of rows k (low lane) and k+4 (high lane). */
static HT_ALWAYS_INLINE __m256 load_halves(const float *zb, size_t ld,
                                           size_t k, size_t c)
{
    return _mm256_insertf128_ps(
        _mm256_castps128_ps256(_mm_loadu_ps(zb + k * ld + c)),
        _mm_loadu_ps(zb + (k + 4) * ld + c), 1);
}

/* Floats p[0], p[1] in every 64-bit lane: one broadcast load, no shuffle
 * (a 64-bit integer load and a register broadcast would cost a shuffle).
 * memcpy, because p is only 4-byte aligned: clang's _mm256_broadcast_sd
 * reads its argument as a plain double, which UBSan reports as a
 * misaligned load; this compiles to the same vbroadcastsd. */
static HT_ALWAYS_INLINE __m256 bcast2(const float *p)
{
    double d;
    memcpy(&d, p, sizeof d);
    return _mm256_castpd_ps(_mm256_set1_pd(d));
}

/* Four columns c .. c+3 of the block into col[c .. c+3]. */
static HT_ALWAYS_INLINE void load_cols4(const float *zb, size_t ld, size_t c,
                                        __m256 *col)
{
    transpose4x2(col + c, col + c + 1, col + c + 2, col + c + 3,
                 load_halves(zb, ld, 0, c), load_halves(zb, ld, 1, c),
                 load_halves(zb, ld, 2, c), load_halves(zb, ld, 3, c));
}

/* Two columns: a = rows 0,1 | 4,5 and b = rows 2,3 | 6,7 as (x, y) pairs,
 * then one shuffle each picks the x's and the y's in row order. */
static HT_ALWAYS_INLINE void load_cols2(const float *zb, size_t ld, size_t c,
                                        __m256 *col)
{
    const __m256 a = _mm256_blend_ps(
        _mm256_blend_ps(bcast2(zb + c), bcast2(zb + ld + c), 0xCC),
        _mm256_blend_ps(bcast2(zb + 4 * ld + c), bcast2(zb + 5 * ld + c), 0xCC),
        0xF0);
    const __m256 b = _mm256_blend_ps(
        _mm256_blend_ps(bcast2(zb + 2 * ld + c), bcast2(zb + 3 * ld + c), 0xCC),
        _mm256_blend_ps(bcast2(zb + 6 * ld + c), bcast2(zb + 7 * ld + c), 0xCC),
        0xF0);
    col[c] = _mm256_shuffle_ps(a, b, 0x88);
    col[c + 1] = _mm256_shuffle_ps(a, b, 0xDD);
}

static HT_ALWAYS_INLINE void load_cols1(const float *zb, size_t ld, size_t c,
                                        __m256 *col)
{
    __m256 v[8];
    HT_UNROLL
    for (size_t k = 0; k < 8; k++)
        v[k] = _mm256_broadcast_ss(zb + k * ld + c);
    const __m256 lo = _mm256_blend_ps(_mm256_blend_ps(v[0], v[1], 0xAA),
                                      _mm256_blend_ps(v[2], v[3], 0xAA), 0xCC);
    const __m256 hi = _mm256_blend_ps(_mm256_blend_ps(v[4], v[5], 0xAA),
                                      _mm256_blend_ps(v[6], v[7], 0xAA), 0xCC);
    col[c] = _mm256_blend_ps(lo, hi, 0xF0);
}

/* col[0 .. n-1] = the columns of the 8 x n block at zb, n <= SMALL_N. */
static HT_ALWAYS_INLINE void load_block(const float *zb, size_t ld, size_t n,
                                        __m256 *col)
{
    size_t c = 0;
    HT_UNROLL
    for (; c + 4 <= n; c += 4)
        load_cols4(zb, ld, c, col);
    if (c + 2 <= n) {
        load_cols2(zb, ld, c, col);
        c += 2;
    }
    if (c < n)
        load_cols1(zb, ld, c, col);
}

/* Row k's floats c .. c+3 from the low lane of x, row k+4's from the high. */
static HT_ALWAYS_INLINE void store_halves(float *pb, size_t ld, size_t k,
                                          size_t c, __m256 x)
{
    _mm_storeu_ps(pb + k * ld + c, _mm256_castps256_ps128(x));
    _mm_storeu_ps(pb + (k + 4) * ld + c, _mm256_extractf128_ps(x, 1));
}

static HT_ALWAYS_INLINE void store_cols4(float *pb, size_t ld, size_t c,
                                         const __m256 *col)
{
    __m256 x0, x1, x2, x3;
    transpose4x2(&x0, &x1, &x2, &x3, col[c], col[c + 1], col[c + 2],
                 col[c + 3]);
    store_halves(pb, ld, 0, c, x0);
    store_halves(pb, ld, 1, c, x1);
    store_halves(pb, ld, 2, c, x2);
    store_halves(pb, ld, 3, c, x3);
}

/* Two columns: interleaved into (x, y) pairs, rows 0,1 | 4,5 and
 * 2,3 | 6,7, then 64-bit stores. */
static HT_ALWAYS_INLINE void store_cols2(float *pb, size_t ld, size_t c,
                                         const __m256 *col)
{
    const __m256 a = _mm256_unpacklo_ps(col[c], col[c + 1]);
    const __m256 b = _mm256_unpackhi_ps(col[c], col[c + 1]);
    const __m128 a0 = _mm256_castps256_ps128(a), a1 = _mm256_extractf128_ps(a, 1);
    const __m128 b0 = _mm256_castps256_ps128(b), b1 = _mm256_extractf128_ps(b, 1);
    _mm_storel_pi((__m64 *)(void *)(pb + c), a0);
    _mm_storeh_pi((__m64 *)(void *)(pb + ld + c), a0);
    _mm_storel_pi((__m64 *)(void *)(pb + 2 * ld + c), b0);
    _mm_storeh_pi((__m64 *)(void *)(pb + 3 * ld + c), b0);
    _mm_storel_pi((__m64 *)(void *)(pb + 4 * ld + c), a1);
    _mm_storeh_pi((__m64 *)(void *)(pb + 5 * ld + c), a1);
    _mm_storel_pi((__m64 *)(void *)(pb + 6 * ld + c), b1);
    _mm_storeh_pi((__m64 *)(void *)(pb + 7 * ld + c), b1);
}

static HT_ALWAYS_INLINE void store_cols1(float *pb, size_t ld, size_t c,
                                         const __m256 *col)
{
    const __m128 h[2] = {_mm256_castps256_ps128(col[c]),
                         _mm256_extractf128_ps(col[c], 1)};
    HT_UNROLL
    for (size_t k = 0; k < 8; k += 4) {
        const __m128 x = h[k / 4];
        _mm_store_ss(pb + k * ld + c, x);
        _mm_store_ss(pb + (k + 1) * ld + c, _mm_movehdup_ps(x));
        _mm_store_ss(pb + (k + 2) * ld + c, _mm_movehl_ps(x, x));
        _mm_store_ss(pb + (k + 3) * ld + c, _mm_shuffle_ps(x, x, 0xFF));
    }
}

/* The inverse of load_block. */
static HT_ALWAYS_INLINE void store_block(float *pb, size_t ld, size_t n,
                                         const __m256 *col)
{
    size_t c = 0;
    HT_UNROLL
    for (; c + 4 <= n; c += 4)
        store_cols4(pb, ld, c, col);
    if (c + 2 <= n) {
        store_cols2(pb, ld, c, col);
        c += 2;
    }
    if (c < n)
        store_cols1(pb, ld, c, col);
}

/* A block of eight rows of n <= SMALL_N classes, one row per lane: the
 * block is transposed in registers so max, exp, sum and scale are vertical
 * (no horizontal reductions). The sum runs over j in increasing order per
 * row, the twin's order. All exps are issued before the sums (measured a
 * little faster than an exp-then-add per column), the sums still in j
 * order. With labels, the block leaves z[label] - max in loss (the z[label]
 * of the eight rows gathered by broadcast loads and blends) and its row
 * sums in sum_out; softmax_small finishes the loss, log(sum) - (z[label] -
 * max) per lane, the scalar formula, a few blocks later. */
static HT_ALWAYS_INLINE void softmax_block(size_t n, const float *z,
                                           size_t ldl, const int32_t *label,
                                           float *p, size_t ldp, float *loss,
                                           float *sum_out)
{
    __m256 col[SMALL_N];
    load_block(z, ldl, n, col);
    /* max is exact in any order: two chains, half the latency */
    __m256 ma = col[0], mb = col[n > 1 ? 1 : 0];
    size_t j = 2;
    HT_UNROLL
    for (; j + 1 < n; j += 2) {
        ma = _mm256_max_ps(ma, col[j]);
        mb = _mm256_max_ps(mb, col[j + 1]);
    }
    if (j < n)
        ma = _mm256_max_ps(ma, col[j]);
    const __m256 mx = _mm256_max_ps(ma, mb);
    HT_UNROLL
    for (j = 0; j < n; j++)
        col[j] = exp_avx2(ht_vsub(col[j], mx));
    __m256 sum = col[0]; /* the twin's 0 + e0, exactly: e0 is never -0 */
    HT_UNROLL
    for (j = 1; j < n; j++)
        sum = ht_vadd(sum, col[j]);
    const __m256 inv = ht_vdiv(ht_vset1(1.0f), sum);
    HT_UNROLL
    for (j = 0; j < n; j++)
        col[j] = ht_vmul(col[j], inv);
    store_block(p, ldp, n, col);
    if (label) {
        __m256 g[8];
        HT_UNROLL
        for (size_t k = 0; k < 8; k++)
            g[k] = _mm256_broadcast_ss(z + k * ldl + (size_t)label[k]);
        const __m256 zl = _mm256_blend_ps(
            _mm256_blend_ps(_mm256_blend_ps(g[0], g[1], 0xAA),
                            _mm256_blend_ps(g[2], g[3], 0xAA), 0xCC),
            _mm256_blend_ps(_mm256_blend_ps(g[4], g[5], 0xAA),
                            _mm256_blend_ps(g[6], g[7], 0xAA), 0xCC),
            0xF0);
        ht_vstore(loss, ht_vsub(zl, mx));
        _mm256_store_ps(sum_out, sum);
    }
}

/* The 8 x n block in buf out to dst (8n floats, 32-byte aligned) with
 * non-temporal stores. */
static HT_ALWAYS_INLINE void stream_block(size_t n, const float *buf,
                                          float *dst)
{
    HT_UNROLL
    for (size_t q = 0; q < n; q++)
        _mm256_stream_ps(dst + 8 * q, _mm256_load_ps(buf + 8 * q));
}

/* The first m - m%8 rows, 8 at a time. Instantiated once per width
 * (below): with n a constant every loop over columns unrolls and the
 * columns stay in registers, which makes this path about a fifth faster
 * than one body for all widths (measured for n = 10). One block at a time,
 * not two in lockstep: with the 13-operation exp two blocks' 2n columns
 * no longer fit the 16 registers, and the spills cost more than the second
 * chain gained (0.73 -> 0.66 ns per element at n = 10 from L2, one thread,
 * medians of 1000 interleaved calls).
 *
 * Each block is one long dependency chain (max, exp, the sum in j order,
 * the division), and the log of its sums used to add another 20 operations
 * to its end. The logs now run after every LOG_ROWS rows, eight blocks'
 * worth at a time with nothing left to wait for, so the next blocks'
 * loads and exps overlap the current chain: same operations, same bits,
 * 1.04-1.10x faster from L2 and 1.10-1.32x from DRAM with streaming (n =
 * 10, one thread, medians of alternated calls). That gain also needed
 * every helper inlined (HT_ALWAYS_INLINE): GCC had kept the loads,
 * stores and the log as calls, each one spilling the live columns. */
static HT_ALWAYS_INLINE void softmax_small(size_t m, size_t n, const float *z,
                                           size_t ldl, const int32_t *label,
                                           float *p, size_t ldp, float *loss,
                                           int stream)
{
    /* Streaming: with contiguous rows a block of 8 is 8n floats starting
     * 32n bytes after the last, so from a 32-byte aligned probs every
     * block is n aligned vectors. The block goes to a buffer on the stack
     * (the same transposing stores as below), then out with non-temporal
     * stores of whole vectors: the kernel then moves 8 + 4 bytes per
     * element instead of 8 + 4 + the read-for-ownership of every probs
     * line, which capped it at 8/9 of the triad's rate out of cache.
     * Two buffers, and a block goes out one block later: reloaded at once,
     * its whole vectors spanned the transposing stores' 16- and 8-byte
     * pieces, which cannot be forwarded, so each load waited for those
     * stores to reach L1 and held up retirement (1.06-1.16x faster with
     * the delay, n = 10 from DRAM, one thread, medians of alternated
     * calls). */
    const int st = stream && ldp == n && ((uintptr_t)p & 31) == 0;
    _Alignas(32) float blk[2][8 * SMALL_N];
    _Alignas(32) float sums[LOG_ROWS];
    for (size_t i = 0; i + 8 <= m; i += 8) {
        /* Rows in one contiguous run (the usual layout): prefetch both
         * streams PF_ROWS rows ahead. Without it, at this much arithmetic
         * per line the hardware prefetchers leave DRAM latency exposed
         * (1.00 ns per element without, 0.86 with, from DRAM at n = 10,
         * one thread, medians of 9 alternated calls; 64 and 128 rows
         * ahead measured alike);
         * the lines of probs are fetched for reading, as prefetchw needs
         * -mprfchw and measured no better. */
        if (ldl == n && ldp == n && i + 8 + PF_ROWS <= m) {
            const char *zf = (const char *)(z + (i + PF_ROWS) * n);
            const char *pf = (const char *)(p + (i + PF_ROWS) * n);
            HT_UNROLL
            for (size_t o = 0; o < 8 * n * sizeof(float); o += 64) {
                _mm_prefetch(zf + o, _MM_HINT_T0);
                if (!st)
                    _mm_prefetch(pf + o, _MM_HINT_T0);
            }
        }
        float *so = sums + i % LOG_ROWS;
        if (st) {
            softmax_block(n, z + i * ldl, ldl, label ? label + i : NULL,
                          blk[i / 8 % 2], n, label ? loss + i : NULL, so);
            if (i > 0)
                stream_block(n, blk[(i - 8) / 8 % 2], p + (i - 8) * n);
        } else {
            softmax_block(n, z + i * ldl, ldl, label ? label + i : NULL,
                          p + i * ldp, ldp, label ? loss + i : NULL, so);
        }
        /* after the group's last block, or the last block of all */
        if (label && ((i + 8) % LOG_ROWS == 0 || i + 16 > m))
            for (size_t q0 = i - i % LOG_ROWS, q = q0; q <= i; q += 8)
                ht_vstore(loss + q,
                          ht_vsub(log_avx2(_mm256_load_ps(sums + (q - q0))),
                                  ht_vload(loss + q)));
    }
    if (st) {
        const size_t nb = m / 8;
        if (nb > 0)
            stream_block(n, blk[(nb - 1) % 2], p + (nb - 1) * 8 * n);
        _mm_sfence();
    }
}

HT_SOFTMAX_BY_WIDTH()

void ht_avx2_softmax_xent_fwd(size_t m, size_t n, const float *logits,
                              size_t ldl, const int32_t *label, float *probs,
                              size_t ldp, float *loss_row, int stream)
{
    if (n <= SMALL_N) {
        const size_t i = m - m % 8;
        if (n > 0 && i > 0)
            softmax_small_by_n[n](i, logits, ldl, label, probs, ldp, loss_row,
                                  stream);
        logits += i * ldl;
        probs += i * ldp;
        if (label) {
            label += i;
            loss_row += i;
        }
        m -= i;
    }
    const size_t nv = n - n % HT_VW, r = n % HT_VW;
    const __m256 tail = _mm256_castsi256_ps(ht_vtailmask(r));
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (size_t i = 0; i < m; i++) {
        const float *z = logits + i * ldl;
        float *p = probs + i * ldp;
        __m256 vm = ninf;
        for (size_t j = 0; j < nv; j += HT_VW)
            vm = _mm256_max_ps(vm, ht_vload(z + j));
        if (r)
            vm = _mm256_max_ps(vm, ht_vsel(tail, ht_vload_n(z + nv, r), ninf));
        const float mx = ht_vhmax(vm);
        const __m256 vmx = ht_vset1(mx);
        __m256 acc = ht_vzero();
        for (size_t j = 0; j < nv; j += HT_VW) {
            __m256 e = exp_avx2(ht_vsub(ht_vload(z + j), vmx));
            ht_vstore(p + j, e);
            acc = ht_vadd(acc, e);
        }
        if (r) {
            __m256 e = ht_vand(tail,
                               exp_avx2(ht_vsub(ht_vload_n(z + nv, r), vmx)));
            ht_vstore_n(p + nv, e, r);
            acc = ht_vadd(acc, e);
        }
        const float sum = ht_vhsum(acc);
        const __m256 inv = ht_vset1(1.0f / sum);
        for (size_t j = 0; j < nv; j += HT_VW)
            ht_vstore(p + j, ht_vmul(ht_vload(p + j), inv));
        if (r)
            ht_vstore_n(p + nv, ht_vmul(ht_vload_n(p + nv, r), inv), r);
        if (label)
            loss_row[i] = logf(sum) - (z[label[i]] - mx);
    }
}

void ht_avx2_init_softmax(ht_kernels *k)
{
    k->softmax_xent_fwd = ht_avx2_softmax_xent_fwd;
}
