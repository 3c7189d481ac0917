/* AVX-512 small-N SGEMM paths (contract in simd/table.h): the AVX2 table's
 * two layouts (see simd/avx2/gemm_smalln.c) with 16 lanes instead of 8,
 * gemm_dot taking its rows two at a time against every column.
 * With 8 lanes OpenBLAS's AVX-512 kernels beat them on the batch-64
 * output-layer shapes; these halve the instructions per flop.
 *   gemm_dot:   lanes along K (16 at a time, masked tail); each sum is
 *               reduced in a fixed tree, so it rounds differently from the
 *               AVX2 table's 8-lane sums (tables may differ by rounding).
 *   gemm_bcast: lanes along M, 16 rows per register, two registers of
 *               rows per call where 32 rows remain; every element gets
 *               the AVX2 kernel's operations in the same order (FMAs in p
 *               order, then the shared row epilogue), so its results are
 *               bitwise the AVX2 table's.
 * Rows are finished through the AVX2 table's finish_row, so the epilogue
 * (alpha, beta, bias, ReLU, dropout) is the one every x86 path applies.
 * Each row's arithmetic depends only on that row: any split of the rows
 * among threads gives the same bits. */
#include <immintrin.h>

#include "avx512.h"
#include "../avx2/gemm_store.h"
#include "../avx2/gemm_smalln.h"

#define SMALL_N_MAX 12

/* Lanes below t (t <= 16) set. */
static inline __mmask16 lanes16(size_t t)
{
    return (__mmask16)((1u << t) - 1u);
}

/* Fixed reduction tree: 256-bit halves, then the AVX2 table's order. */
static inline float hsum16(__m512 v)
{
    const __m256 lo = _mm512_castps512_ps256(v);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(
        _mm512_castps_pd(v), 1));
    __m256 s = _mm256_add_ps(lo, hi);
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
    return _mm_cvtss_f32(x);
}

/* out[r][c0+c] = sum_p a[r*lda+p] * bt[c*ldbt+p] for r < R, c < C, in 16
 * lanes (p mod 16), then hsum16. One function per (R, C) so the loops have
 * constant bounds and the accumulators live in registers. */
#define DEFINE_DOT(RR, CC)                                                   \
    static void dot_##RR##x##CC(size_t k, const float *a, size_t lda,        \
                                const float *bt, size_t ldbt,                \
                                float out[4][16], size_t c0)                 \
    {                                                                        \
        enum { R = RR, C = CC };                                             \
        __m512 acc[R][C];                                                    \
        for (int r = 0; r < R; r++)                                          \
            for (int c = 0; c < C; c++)                                      \
                acc[r][c] = _mm512_setzero_ps();                             \
        size_t p = 0;                                                        \
        for (; p + 16 <= k; p += 16) {                                       \
            __m512 av[R];                                                    \
            for (int r = 0; r < R; r++)                                      \
                av[r] = _mm512_loadu_ps(a + (size_t)r * lda + p);            \
            for (int c = 0; c < C; c++) {                                    \
                __m512 bv = _mm512_loadu_ps(bt + (size_t)c * ldbt + p);       \
                HT_IN_REGISTER(bv);                                          \
                for (int r = 0; r < R; r++)                                  \
                    acc[r][c] = _mm512_fmadd_ps(av[r], bv, acc[r][c]);       \
            }                                                                \
        }                                                                    \
        if (p < k) {                                                         \
            const __mmask16 t = lanes16(k - p);                              \
            __m512 av[R];                                                    \
            for (int r = 0; r < R; r++)                                      \
                av[r] = _mm512_maskz_loadu_ps(t, a + (size_t)r * lda + p);   \
            for (int c = 0; c < C; c++) {                                    \
                const __m512 bv =                                            \
                    _mm512_maskz_loadu_ps(t, bt + (size_t)c * ldbt + p);     \
                for (int r = 0; r < R; r++)                                  \
                    acc[r][c] = _mm512_fmadd_ps(av[r], bv, acc[r][c]);       \
            }                                                                \
        }                                                                    \
        for (int r = 0; r < R; r++)                                          \
            for (int c = 0; c < C; c++)                                      \
                out[r][c0 + (size_t)c] = hsum16(acc[r][c]);                  \
    }
/* Two rows against all n columns at once (24 accumulators at n = 12, of
 * 32 registers): each row of A is loaded once per call instead of once per
 * column group. Against the AVX2 table's grouping (four rows against
 * groups of at most three columns) it took 0.93-0.96 of the time on the
 * 1024 -> 10 output layer's forward shapes and 0.81-0.87 on 255x7x1000,
 * with the same bits (each sum is the same lanes in the same order);
 * alternated in one process, 15 rounds, 1 and 2 threads. */
#define DOT_ROW(RR)                                                          \
    DEFINE_DOT(RR, 1) DEFINE_DOT(RR, 2) DEFINE_DOT(RR, 3)                    \
    DEFINE_DOT(RR, 4) DEFINE_DOT(RR, 5) DEFINE_DOT(RR, 6)                    \
    DEFINE_DOT(RR, 7) DEFINE_DOT(RR, 8) DEFINE_DOT(RR, 9)                    \
    DEFINE_DOT(RR, 10) DEFINE_DOT(RR, 11) DEFINE_DOT(RR, 12)
DOT_ROW(1) DOT_ROW(2)

static const ht_smalln_dot_fn dot_fns[2][SMALL_N_MAX] = {
    {dot_1x1, dot_1x2, dot_1x3, dot_1x4, dot_1x5, dot_1x6, dot_1x7, dot_1x8,
     dot_1x9, dot_1x10, dot_1x11, dot_1x12},
    {dot_2x1, dot_2x2, dot_2x3, dot_2x4, dot_2x5, dot_2x6, dot_2x7, dot_2x8,
     dot_2x9, dot_2x10, dot_2x11, dot_2x12}};

static void gemm_dot_avx512(size_t m, size_t n, size_t k, float alpha,
                            const float *a, size_t lda, const float *bt,
                            size_t ldbt, float beta, float *c, size_t ldc,
                            const ht_ukr_epi *epi)
{
    ht_ukr_epi re;
    for (size_t i = 0; i < m;) {
        const size_t R = m - i >= 2 ? 2 : 1;
        float out[4][16] = {{0}};
        dot_fns[R - 1][n - 1](k, a + i * lda, lda, bt, ldbt, out, 0);
        ht_smalln_finish_rows(out, R, n, alpha, beta, c + i * ldc, ldc,
                              ht_smalln_epi_at(epi, i, &re));
        i += R;
    }
}

/* 256-bit half h of v (extractf64x4: AVX512F has no float form). */
static inline __m256 half256(__m512 v, int h)
{
    return h ? _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))
             : _mm512_castps512_ps256(v);
}

/* Rows 8h .. 8h+7 of the 16-row block: x[j] holds column j of all 16 rows
 * (zero for j >= N); half h of each is transposed into rows and finished,
 * with the AVX2 table's transpose and row epilogue. */
static inline void finish_half(const __m512 x[SMALL_N_MAX], int h, size_t N,
                               size_t mm, float alpha, float beta, float *c,
                               size_t ldc, const ht_ukr_epi *epi)
{
    const size_t r0 = (size_t)h * 8;
    if (mm <= r0)
        return;
    __m256 lo[8], hi[8];
    for (int j = 0; j < 8; j++) {
        lo[j] = half256(x[j], h);
        hi[j] = j + 8 < SMALL_N_MAX ? half256(x[j + 8], h) : _mm256_setzero_ps();
    }
    ht_avx2_transpose8(lo);
    if (N > 8)
        ht_avx2_transpose8(hi);
    const size_t rows = mm - r0 < 8 ? mm - r0 : 8;
    for (size_t r = 0; r < rows; r++)
        ht_avx2_finish_row(lo[r], hi[r], N, alpha, beta, c + (r0 + r) * ldc,
                           epi, r0 + r);
}

/* Columns j < N of C for 16 rows: x[j] lanes = C[i0..i0+15][j], A's 16
 * rows contiguous at a + p*lda (lanes >= mm masked off), op(B) broadcast
 * from b. One function per N with the accumulators in named variables
 * (an array of them would be kept in registers but also stored to the
 * stack on every step). */
#define BC_FMA(j)                                                            \
    if (N > j)                                                               \
    x##j = _mm512_fmadd_ps(av, _mm512_set1_ps(bp[(size_t)(j) * csb]), x##j)
#define BC_STEP(LOAD)                                                        \
    do {                                                                     \
        const __m512 av = LOAD;                                              \
        const float *bp = b + p * rsb;                                       \
        BC_FMA(0); BC_FMA(1); BC_FMA(2); BC_FMA(3);                          \
        BC_FMA(4); BC_FMA(5); BC_FMA(6); BC_FMA(7);                          \
        BC_FMA(8); BC_FMA(9); BC_FMA(10); BC_FMA(11);                        \
    } while (0)
/* Twelve accumulators v0 .. v11 (named, not an array: see above), zero,
 * and the array of them that finish_half takes. */
#define ACC12(v)                                                             \
    __m512 v##0 = _mm512_setzero_ps(), v##1 = v##0, v##2 = v##0,             \
           v##3 = v##0, v##4 = v##0, v##5 = v##0, v##6 = v##0, v##7 = v##0, \
           v##8 = v##0, v##9 = v##0, v##10 = v##0, v##11 = v##0
#define ACC12_ARRAY(v)                                                       \
    {v##0, v##1, v##2, v##3, v##4, v##5, v##6, v##7, v##8, v##9, v##10,     \
     v##11}
#define DEFINE_BCAST(NN)                                                     \
    static void bcast_##NN(size_t mm, size_t k, float alpha, const float *a, \
                           size_t lda, const float *b, size_t rsb,           \
                           size_t csb, float beta, float *c, size_t ldc,     \
                           const ht_ukr_epi *epi)                            \
    {                                                                        \
        enum { N = NN };                                                     \
        ACC12(x);                                                            \
        if (mm == 16) {                                                      \
            for (size_t p = 0; p < k; p++)                                   \
                BC_STEP(_mm512_loadu_ps(a + p * lda));                       \
        } else {                                                             \
            const __mmask16 t = lanes16(mm);                                 \
            for (size_t p = 0; p < k; p++)                                   \
                BC_STEP(_mm512_maskz_loadu_ps(t, a + p * lda));              \
        }                                                                    \
        const __m512 x[SMALL_N_MAX] = ACC12_ARRAY(x);                        \
        finish_half(x, 0, (size_t)N, mm, alpha, beta, c, ldc, epi);          \
        finish_half(x, 1, (size_t)N, mm, alpha, beta, c, ldc, epi);          \
    }
DEFINE_BCAST(1) DEFINE_BCAST(2) DEFINE_BCAST(3) DEFINE_BCAST(4)
DEFINE_BCAST(5) DEFINE_BCAST(6) DEFINE_BCAST(7) DEFINE_BCAST(8)
DEFINE_BCAST(9) DEFINE_BCAST(10) DEFINE_BCAST(11) DEFINE_BCAST(12)

static const ht_smalln_bcast_fn bcast_fns[SMALL_N_MAX] = {
    bcast_1, bcast_2, bcast_3, bcast_4, bcast_5, bcast_6,
    bcast_7, bcast_8, bcast_9, bcast_10, bcast_11, bcast_12};

/* Two 16-row blocks at once (32 rows, x for the first, y for the
 * second): each broadcast of op(B) then feeds two FMAs, and each row p of
 * A gives two adjacent lines instead of one. With A's rows a page apart
 * (lda = 1024, the 1024-wide layer's weight gradient) the one-block kernel
 * ran at 113 GFLOP/s against 173 at lda = 784 (one thread of the Zen 5
 * guest, 1024x10x64 and 784x10x128). Every element gets the same
 * operations in the same order as in bcast_N. */
#define BC2_FMA(j)                                                           \
    if (N > j) {                                                             \
        __m512 bj = _mm512_set1_ps(bp[(size_t)(j) * csb]);                   \
        HT_IN_REGISTER(bj);                                                  \
        x##j = _mm512_fmadd_ps(a0, bj, x##j);                                \
        y##j = _mm512_fmadd_ps(a1, bj, y##j);                                \
    }
#define DEFINE_BCAST2(NN)                                                    \
    static void bcast2_##NN(size_t k, float alpha, const float *a,           \
                            size_t lda, const float *b, size_t rsb,          \
                            size_t csb, float beta, float *c, size_t ldc,    \
                            const ht_ukr_epi *epi)                           \
    {                                                                        \
        enum { N = NN };                                                     \
        ACC12(x);                                                            \
        ACC12(y);                                                            \
        for (size_t p = 0; p < k; p++) {                                     \
            const __m512 a0 = _mm512_loadu_ps(a + p * lda);                  \
            const __m512 a1 = _mm512_loadu_ps(a + p * lda + 16);             \
            const float *bp = b + p * rsb;                                   \
            BC2_FMA(0) BC2_FMA(1) BC2_FMA(2) BC2_FMA(3)                      \
            BC2_FMA(4) BC2_FMA(5) BC2_FMA(6) BC2_FMA(7)                      \
            BC2_FMA(8) BC2_FMA(9) BC2_FMA(10) BC2_FMA(11)                    \
        }                                                                    \
        const __m512 x[SMALL_N_MAX] = ACC12_ARRAY(x);                        \
        const __m512 y[SMALL_N_MAX] = ACC12_ARRAY(y);                        \
        ht_ukr_epi re;                                                       \
        const ht_ukr_epi *e16 = ht_smalln_epi_at(epi, 16, &re);              \
        finish_half(x, 0, (size_t)N, 16, alpha, beta, c, ldc, epi);          \
        finish_half(x, 1, (size_t)N, 16, alpha, beta, c, ldc, epi);          \
        finish_half(y, 0, (size_t)N, 16, alpha, beta, c + 16 * ldc, ldc,     \
                    e16);                                                    \
        finish_half(y, 1, (size_t)N, 16, alpha, beta, c + 16 * ldc, ldc,     \
                    e16);                                                    \
    }
DEFINE_BCAST2(1) DEFINE_BCAST2(2) DEFINE_BCAST2(3) DEFINE_BCAST2(4)
DEFINE_BCAST2(5) DEFINE_BCAST2(6) DEFINE_BCAST2(7) DEFINE_BCAST2(8)
DEFINE_BCAST2(9) DEFINE_BCAST2(10) DEFINE_BCAST2(11) DEFINE_BCAST2(12)

typedef void (*bcast2_fn)(size_t k, float alpha, const float *a, size_t lda,
                          const float *b, size_t rsb, size_t csb, float beta,
                          float *c, size_t ldc, const ht_ukr_epi *epi);
static const bcast2_fn bcast2_fns[SMALL_N_MAX] = {
    bcast2_1, bcast2_2, bcast2_3, bcast2_4, bcast2_5, bcast2_6,
    bcast2_7, bcast2_8, bcast2_9, bcast2_10, bcast2_11, bcast2_12};

static void gemm_bcast_avx512(size_t m, size_t n, size_t k, float alpha,
                              const float *a, size_t lda, const float *b,
                              size_t rsb, size_t csb, float beta, float *c,
                              size_t ldc, const ht_ukr_epi *epi)
{
    ht_ukr_epi re;
    size_t i = 0;
    for (; i + 32 <= m; i += 32)
        bcast2_fns[n - 1](k, alpha, a + i, lda, b, rsb, csb, beta,
                          c + i * ldc, ldc, ht_smalln_epi_at(epi, i, &re));
    if (i < m)
        ht_smalln_bcast_rows(bcast_fns, 16, m - i, n, k, alpha, a + i, lda,
                             b, rsb, csb, beta, c + i * ldc, ldc,
                             ht_smalln_epi_at(epi, i, &re));
}

/* 128-bit lane pattern of _mm512_shuffle_f32x4: lanes 0, 1 from x, 2, 3
 * from y. */
#define LANES(x0, x1, y0, y1) ((y1) << 6 | (y0) << 4 | (x1) << 2 | (x0))

static inline __m512 unpacklo64(__m512 x, __m512 y)
{
    return _mm512_castpd_ps(
        _mm512_unpacklo_pd(_mm512_castps_pd(x), _mm512_castps_pd(y)));
}

static inline __m512 unpackhi64(__m512 x, __m512 y)
{
    return _mm512_castpd_ps(
        _mm512_unpackhi_pd(_mm512_castps_pd(x), _mm512_castps_pd(y)));
}

/* r[i] lane j <- r[j] lane i, for the first w (<= 16) results: pairs of
 * rows interleaved, then quads, which leaves column 4L+c of rows 4i..4i+3
 * in lane L of u[4i+c]; a 4 x 4 transpose of those 128-bit lanes ends it. */
static inline void transpose16(__m512 r[16], size_t w)
{
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        u[4 * i] = unpacklo64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = unpackhi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = unpacklo64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = unpackhi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (size_t c = 0; c < 4 && c < w; c++) {
        const __m512 a0 = _mm512_shuffle_f32x4(u[c], u[4 + c], LANES(0, 1, 0, 1));
        const __m512 a1 = _mm512_shuffle_f32x4(u[c], u[4 + c], LANES(2, 3, 2, 3));
        const __m512 a2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], LANES(0, 1, 0, 1));
        const __m512 a3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], LANES(2, 3, 2, 3));
        r[c] = _mm512_shuffle_f32x4(a0, a2, LANES(0, 2, 0, 2));
        r[4 + c] = _mm512_shuffle_f32x4(a0, a2, LANES(1, 3, 1, 3));
        r[8 + c] = _mm512_shuffle_f32x4(a1, a3, LANES(0, 2, 0, 2));
        r[12 + c] = _mm512_shuffle_f32x4(a1, a3, LANES(1, 3, 1, 3));
    }
}

/* op(B)^T for the dot path (pack_bt in simd/table.h): 16 rows of B at a
 * time (masked loads of the j1 - j0 <= 12 columns), transposed in
 * registers, stored as 16 floats of each of bt's rows; the last k % 16
 * elements one by one. One thread of the Zen 5 guest, 64x10x1024 (B 1024
 * x 10): the copy took about 28 % of the call in the portable loop. */
static void pack_bt_avx512(const float *b, size_t ldb, size_t k, size_t j0,
                           size_t j1, float *bt)
{
    const size_t w = j1 - j0;
    size_t p = 0;
    if (w <= 16) {
        const __mmask16 m = lanes16(w);
        for (; p + 16 <= k; p += 16) {
            __m512 r[16];
            for (size_t q = 0; q < 16; q++)
                r[q] = _mm512_maskz_loadu_ps(m, b + (p + q) * ldb + j0);
            transpose16(r, w);
            for (size_t c = 0; c < w; c++)
                _mm512_storeu_ps(bt + (j0 + c) * k + p, r[c]);
        }
    }
    for (; p < k; p++)
        for (size_t j = j0; j < j1; j++)
            bt[j * k + p] = b[p * ldb + j];
}

void ht_avx512_gemm_smalln_init(ht_kernels *k)
{
    k->pack_bt = pack_bt_avx512;
    k->small_n_max = SMALL_N_MAX;
    k->gemm_dot = gemm_dot_avx512;
    k->gemm_bcast = gemm_bcast_avx512;
}
