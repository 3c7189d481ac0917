/* Softmax + cross-entropy forward for classifier heads (rows of up to 16
 * classes) with 16 rows per zmm register, one row per lane.
 *
 * Why this kernel, of all the elementwise ones, has an AVX-512 body: with
 * 10 classes the AVX2 kernel (simd/avx2/elementwise_softmax.c) spends
 * about 13 vector operations per element on the exp, so from L2 it ran at
 * 0.9-1.2 ns per element on one thread here, about as slow as a triad
 * from DRAM. Sixteen lanes halve the arithmetic per row: 0.5-0.7 ns, 1.4
 * to 1.7x the AVX2 kernel for 4 to 16 classes (6400 rows in L2, medians of
 * 101 alternated calls). From DRAM both are bound by memory and equal.
 *
 * Every lane sees the AVX2 small-row path's operations in its order: the
 * same two max chains, the same exp and log (plain FMAs, exact adds and a
 * true division), the row sum in column order from zero. So the results
 * are bitwise the AVX2 table's, which tests/test_kernels.c checks with
 * memcmp. Rows beyond the last full block of 16, and rows of more than 16
 * classes, go to the AVX2 kernel itself: the rows it then gives its own
 * long-row path are the last m % 8, as when it runs alone. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "avx512.h"
#include "../avx2/avx2.h"
#include "../avx2/softmax_widths.h"

#define SMALL_N HT_SOFTMAX_SMALL_N
#define PF_ROWS 64 /* prefetch distance in rows, as in the AVX2 kernel */

/* exp_avx2 of simd/avx2/elementwise_softmax.c on 16 lanes (its comment
 * gives the method and the error bound); the operations are the same. */
static inline __m512 exp16(__m512 x)
{
    const __m512 magic = _mm512_set1_ps(HT_EXP_MAGIC);
    x = _mm512_max_ps(x, _mm512_set1_ps(HT_EXP_MIN));
    const __m512 t =
        _mm512_fmadd_ps(x, _mm512_set1_ps(HT_EXP_LOG2E), magic);
    const __m512 n = _mm512_sub_ps(t, magic);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(HT_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(HT_LN2_LO), r);
    __m512 p = _mm512_set1_ps(HT_EXP_P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HT_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HT_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HT_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(HT_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    const __m512 s2n =
        _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23));
    return _mm512_mul_ps(p, s2n);
}

/* log_avx2 of the AVX2 kernel on 16 lanes: the compare's all-ones lanes
 * become a mask, and `and` with them a zero-masking move (same values). */
static inline __m512 log16(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512i xi = _mm512_castps_si512(x);
    const __m512i ei = _mm512_sub_epi32(_mm512_srli_epi32(xi, 23),
                                        _mm512_set1_epi32(126));
    __m512 mt = _mm512_castsi512_ps(_mm512_or_epi32(
        _mm512_and_epi32(xi, _mm512_set1_epi32(0x007fffff)),
        _mm512_set1_epi32(0x3f000000)));
    __m512 e = _mm512_cvtepi32_ps(ei);
    const __mmask16 small =
        _mm512_cmp_ps_mask(mt, _mm512_set1_ps(HT_LOG_SQRTHF),
                           _CMP_LT_OQ);
    e = _mm512_sub_ps(e, _mm512_maskz_mov_ps(small, one));
    mt = _mm512_sub_ps(_mm512_add_ps(mt, _mm512_maskz_mov_ps(small, mt)), one);
    const __m512 z = _mm512_mul_ps(mt, mt);
    __m512 y = _mm512_set1_ps(HT_LOG_P0);
    y = _mm512_fmadd_ps(y, mt, _mm512_set1_ps(HT_LOG_P1));
    y = _mm512_fmadd_ps(y, mt, _mm512_set1_ps(HT_LOG_P2));
    y = _mm512_fmadd_ps(y, mt, _mm512_set1_ps(HT_LOG_P3));
    y = _mm512_fmadd_ps(y, mt, _mm512_set1_ps(HT_LOG_P4));
    y = _mm512_fmadd_ps(y, mt, _mm512_set1_ps(HT_LOG_P5));
    y = _mm512_fmadd_ps(y, mt, _mm512_set1_ps(HT_LOG_P6));
    y = _mm512_fmadd_ps(y, mt, _mm512_set1_ps(HT_LOG_P7));
    y = _mm512_fmadd_ps(y, mt, _mm512_set1_ps(HT_LOG_P8));
    y = _mm512_mul_ps(_mm512_mul_ps(y, mt), z);
    y = _mm512_fmadd_ps(e, _mm512_set1_ps(HT_LN2_LO), y);
    y = _mm512_fnmadd_ps(z, _mm512_set1_ps(0.5f), y);
    return _mm512_fmadd_ps(e, _mm512_set1_ps(HT_LN2_HI),
                           _mm512_add_ps(mt, y));
}

/* Moving 16 rows between memory and one register per column. Four
 * columns at a time: each row's four floats are one 128-bit piece; rows
 * k, k+4, k+8, k+12 fill the four 128-bit lanes of one register, and a
 * 4x4 transpose inside the lanes leaves lane r = row r. Two more columns
 * go as row pairs (below); a last single column is gathered and
 * scattered (row offsets in `rows`; widths 1, 5, 9, 13 and the odd ones
 * after them only). Only the rows' first n floats are touched. */
static inline void transpose4x4_lanes(__m512 *y0, __m512 *y1, __m512 *y2,
                                      __m512 *y3, __m512 x0, __m512 x1,
                                      __m512 x2, __m512 x3)
{
    const __m512 t0 = _mm512_unpacklo_ps(x0, x1), t1 = _mm512_unpackhi_ps(x0, x1);
    const __m512 t2 = _mm512_unpacklo_ps(x2, x3), t3 = _mm512_unpackhi_ps(x2, x3);
    *y0 = _mm512_shuffle_ps(t0, t2, 0x44);
    *y1 = _mm512_shuffle_ps(t0, t2, 0xEE);
    *y2 = _mm512_shuffle_ps(t1, t3, 0x44);
    *y3 = _mm512_shuffle_ps(t1, t3, 0xEE);
}

/* Floats c .. c+3 of rows k, k+4, k+8, k+12. */
static inline __m512 load_quarters(const float *zb, size_t ld, size_t k,
                                   size_t c)
{
    __m512 x = _mm512_castps128_ps512(_mm_loadu_ps(zb + k * ld + c));
    x = _mm512_insertf32x4(x, _mm_loadu_ps(zb + (k + 4) * ld + c), 1);
    x = _mm512_insertf32x4(x, _mm_loadu_ps(zb + (k + 8) * ld + c), 2);
    return _mm512_insertf32x4(x, _mm_loadu_ps(zb + (k + 12) * ld + c), 3);
}

static inline void store_quarters(float *pb, size_t ld, size_t k, size_t c,
                                  __m512 x)
{
    _mm_storeu_ps(pb + k * ld + c, _mm512_castps512_ps128(x));
    _mm_storeu_ps(pb + (k + 4) * ld + c, _mm512_extractf32x4_ps(x, 1));
    _mm_storeu_ps(pb + (k + 8) * ld + c, _mm512_extractf32x4_ps(x, 2));
    _mm_storeu_ps(pb + (k + 12) * ld + c, _mm512_extractf32x4_ps(x, 3));
}

/* Floats p[0], p[1] in every 64-bit lane: one broadcast load, no shuffle
 * (memcpy, because p is only 4-byte aligned; it compiles to the load). */
static inline __m512 bcast2(const float *p)
{
    double d;
    memcpy(&d, p, sizeof d);
    return _mm512_castpd_ps(_mm512_set1_pd(d));
}

/* Two columns: a holds the (c, c+1) pairs of rows 4L and 4L+1 in 128-bit
 * lane L, b those of rows 4L+2 and 4L+3, each built from broadcast loads
 * and blends (any vector port); one shuffle each then picks the c's and
 * the (c+1)'s in row order. */
static inline __m512 pairs(const float *zb, size_t ld, size_t k)
{
    __m512 x = bcast2(zb + k * ld);
    x = _mm512_mask_blend_ps(0x000C, x, bcast2(zb + (k + 1) * ld));
    x = _mm512_mask_blend_ps(0x0030, x, bcast2(zb + (k + 4) * ld));
    x = _mm512_mask_blend_ps(0x00C0, x, bcast2(zb + (k + 5) * ld));
    x = _mm512_mask_blend_ps(0x0300, x, bcast2(zb + (k + 8) * ld));
    x = _mm512_mask_blend_ps(0x0C00, x, bcast2(zb + (k + 9) * ld));
    x = _mm512_mask_blend_ps(0x3000, x, bcast2(zb + (k + 12) * ld));
    return _mm512_mask_blend_ps(0xC000, x, bcast2(zb + (k + 13) * ld));
}

static inline void load_cols2(const float *zb, size_t ld, size_t c,
                              __m512 *col)
{
    const __m512 a = pairs(zb + c, ld, 0), b = pairs(zb + c, ld, 2);
    col[c] = _mm512_shuffle_ps(a, b, 0x88);
    col[c + 1] = _mm512_shuffle_ps(a, b, 0xDD);
}

/* The inverse: the pairs interleaved, then one 64-bit store per row. */
static inline void store_pair2(float *pb, size_t ld, size_t k, __m128 q)
{
    _mm_storel_pi((__m64 *)(void *)(pb + k * ld), q);
    _mm_storeh_pi((__m64 *)(void *)(pb + (k + 1) * ld), q);
}

static inline void store_pairs(float *pb, size_t ld, size_t k, __m512 x)
{
    /* the lane index of an extract must be a constant at every -O */
    store_pair2(pb, ld, k, _mm512_castps512_ps128(x));
    store_pair2(pb, ld, k + 4, _mm512_extractf32x4_ps(x, 1));
    store_pair2(pb, ld, k + 8, _mm512_extractf32x4_ps(x, 2));
    store_pair2(pb, ld, k + 12, _mm512_extractf32x4_ps(x, 3));
}

static inline void store_cols2(float *pb, size_t ld, size_t c,
                               const __m512 *col)
{
    store_pairs(pb + c, ld, 0, _mm512_unpacklo_ps(col[c], col[c + 1]));
    store_pairs(pb + c, ld, 2, _mm512_unpackhi_ps(col[c], col[c + 1]));
}

static HT_ALWAYS_INLINE void load_block(const float *zb, size_t ld, size_t n,
                                        __m512i rows, __m512 *col)
{
    size_t c = 0;
    HT_UNROLL
    for (; c + 4 <= n; c += 4)
        transpose4x4_lanes(col + c, col + c + 1, col + c + 2, col + c + 3,
                           load_quarters(zb, ld, 0, c),
                           load_quarters(zb, ld, 1, c),
                           load_quarters(zb, ld, 2, c),
                           load_quarters(zb, ld, 3, c));
    if (c + 2 <= n) {
        load_cols2(zb, ld, c, col);
        c += 2;
    }
    if (c < n)
        col[c] = _mm512_i32gather_ps(rows, zb + c, 4);
}

static HT_ALWAYS_INLINE void store_block(float *pb, size_t ld, size_t n,
                                         __m512i rows, const __m512 *col)
{
    size_t c = 0;
    HT_UNROLL
    for (; c + 4 <= n; c += 4) {
        __m512 x0, x1, x2, x3;
        transpose4x4_lanes(&x0, &x1, &x2, &x3, col[c], col[c + 1],
                           col[c + 2], col[c + 3]);
        store_quarters(pb, ld, 0, c, x0);
        store_quarters(pb, ld, 1, c, x1);
        store_quarters(pb, ld, 2, c, x2);
        store_quarters(pb, ld, 3, c, x3);
    }
    if (c + 2 <= n) {
        store_cols2(pb, ld, c, col);
        c += 2;
    }
    if (c < n)
        _mm512_i32scatter_ps(pb + c, rows, col[c], 4);
}

/* nb blocks of sixteen rows of n <= SMALL_N classes (block b at z + b*16
 * rows): softmax_block of the AVX2 kernel with 16 lanes, the blocks'
 * steps interleaved. rl and rp are the lane's row offsets r*ldl, r*ldp. */
static HT_ALWAYS_INLINE void softmax_blocks(size_t nb, size_t n,
                                            const float *z, size_t ldl,
                                            __m512i rl, const int32_t *label,
                                            float *p, size_t ldp, __m512i rp,
                                            float *loss)
{
    __m512 col[2][SMALL_N], mx[2], sum[2];
    HT_UNROLL
    for (size_t b = 0; b < nb; b++)
        load_block(z + b * 16 * ldl, ldl, n, rl, col[b]);
    HT_UNROLL
    for (size_t b = 0; b < nb; b++) {
        __m512 ma = col[b][0], mb = col[b][n > 1 ? 1 : 0];
        size_t j = 2;
        HT_UNROLL
        for (; j + 1 < n; j += 2) {
            ma = _mm512_max_ps(ma, col[b][j]);
            mb = _mm512_max_ps(mb, col[b][j + 1]);
        }
        if (j < n)
            ma = _mm512_max_ps(ma, col[b][j]);
        mx[b] = _mm512_max_ps(ma, mb);
    }
    /* z[label] - max of each lane, picked from the columns as they are
     * shifted: the value a gather of z[label] minus max gives, for two
     * operations a column instead of a 16-lane gather (0.34-0.36 -> 0.31-0.33
     * ns per element from L2 on one thread, 10 classes) */
    __m512i lab[2];
    __m512 zl[2];
    if (label)
        HT_UNROLL
        for (size_t b = 0; b < nb; b++) {
            lab[b] = _mm512_loadu_si512((const void *)(label + 16 * b));
            zl[b] = _mm512_setzero_ps();
        }
    HT_UNROLL
    for (size_t j = 0; j < n; j++)
        HT_UNROLL
        for (size_t b = 0; b < nb; b++) {
            const __m512 d = _mm512_sub_ps(col[b][j], mx[b]);
            if (label)
                zl[b] = _mm512_mask_mov_ps(
                    zl[b],
                    _mm512_cmpeq_epi32_mask(lab[b], _mm512_set1_epi32((int)j)),
                    d);
            col[b][j] = exp16(d);
        }
    HT_UNROLL
    for (size_t b = 0; b < nb; b++)
        sum[b] = _mm512_setzero_ps();
    HT_UNROLL
    for (size_t j = 0; j < n; j++)
        HT_UNROLL
        for (size_t b = 0; b < nb; b++)
            sum[b] = _mm512_add_ps(sum[b], col[b][j]);
    HT_UNROLL
    for (size_t b = 0; b < nb; b++) {
        const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), sum[b]);
        HT_UNROLL
        for (size_t j = 0; j < n; j++)
            col[b][j] = _mm512_mul_ps(col[b][j], inv);
        store_block(p + b * 16 * ldp, ldp, n, rp, col[b]);
    }
    if (label)
        HT_UNROLL
        for (size_t b = 0; b < nb; b++)
            _mm512_storeu_ps(loss + 16 * b,
                             _mm512_sub_ps(log16(sum[b]), zl[b]));
}

/* The first m - m % 16 rows, two blocks at a time (two chains of
 * arithmetic; measured a little faster than one). One instance per width,
 * so the column loops unroll and the columns stay in registers, and one
 * for contiguous rows (ld == n), whose row addresses are then constant
 * offsets: without it most of the loop's instructions were address
 * arithmetic. */
static HT_ALWAYS_INLINE void softmax_small(size_t m, size_t n, const float *z,
                                           size_t ldl, const int32_t *label,
                                           float *p, size_t ldp, float *loss,
                                           int stream)
{
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7,
                                          6, 5, 4, 3, 2, 1, 0);
    const __m512i rl = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)ldl));
    const __m512i rp = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)ldp));
    /* Streaming, as in the AVX2 kernel: with contiguous rows 16 of them
     * are n whole vectors, aligned when probs is; they are transposed into
     * a stack buffer and leave with non-temporal stores, so no probs line
     * is read for ownership. */
    const int st = stream && ldp == n && ((uintptr_t)p & 63) == 0;
    _Alignas(64) float blk[32 * SMALL_N];
    size_t i = 0;
    for (; i + 32 <= m; i += 32) {
        /* as in the AVX2 kernel: without it DRAM latency is exposed */
        if (ldl == n && ldp == n && i + 32 + PF_ROWS <= m) {
            const char *zf = (const char *)(z + (i + PF_ROWS) * n);
            const char *pf = (const char *)(p + (i + PF_ROWS) * n);
            HT_UNROLL
            for (size_t o = 0; o < 32 * n * sizeof(float); o += 64) {
                _mm_prefetch(zf + o, _MM_HINT_T0);
                if (!st)
                    _mm_prefetch(pf + o, _MM_HINT_T0);
            }
        }
        softmax_blocks(2, n, z + i * ldl, ldl, rl, label ? label + i : NULL,
                       st ? blk : p + i * ldp, ldp, rp,
                       label ? loss + i : NULL);
        if (st)
            HT_UNROLL
            for (size_t q = 0; q < 2 * n; q++)
                _mm512_stream_ps(p + i * n + 16 * q,
                                 _mm512_load_ps(blk + 16 * q));
    }
    if (i + 16 <= m) {
        softmax_blocks(1, n, z + i * ldl, ldl, rl, label ? label + i : NULL,
                       st ? blk : p + i * ldp, ldp, rp,
                       label ? loss + i : NULL);
        if (st)
            HT_UNROLL
            for (size_t q = 0; q < n; q++)
                _mm512_stream_ps(p + i * n + 16 * q,
                                 _mm512_load_ps(blk + 16 * q));
    }
    if (st)
        _mm_sfence();
}

HT_SOFTMAX_BY_WIDTH()

static void softmax_xent_fwd_avx512(size_t m, size_t n, const float *logits,
                                    size_t ldl, const int32_t *label,
                                    float *probs, size_t ldp, float *loss_row,
                                    int stream)
{
    /* an odd last column is gathered and scattered with 32-bit row
     * offsets, up to 15 rows */
    const size_t lim = (size_t)INT32_MAX / 16;
    if (n > 0 && n <= SMALL_N && ldl < lim && ldp < lim) {
        const size_t i = m - m % 16;
        if (i > 0)
            softmax_small_by_n[n](i, logits, ldl, label, probs, ldp,
                                  loss_row, stream);
        logits += i * ldl;
        probs += i * ldp;
        if (label) {
            label += i;
            loss_row += i;
        }
        m -= i;
    }
    if (m > 0)
        ht_avx2_softmax_xent_fwd(m, n, logits, ldl, label, probs, ldp,
                                 loss_row, stream);
}

void ht_avx512_softmax_init(ht_kernels *k)
{
    k->softmax_xent_fwd = softmax_xent_fwd_avx512;
}
