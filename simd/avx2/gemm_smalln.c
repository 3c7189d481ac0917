/* AVX2 small-N SGEMM paths (contract in simd/table.h): an output layer's
 * n = 10 columns would fill 10 of the micro-kernel's 16 lanes, so these put
 * the vector lanes along another dimension instead and skip packing.
 *   gemm_dot:   lanes along K, for op(A) and op(B)^T both contiguous in K
 *               (C = X * W with W^T at hand, or C = dY * W^T).
 *   gemm_bcast: lanes along M, for A stored transposed (C = X^T * dY).
 * Each row's arithmetic depends only on that row, so any split of the rows
 * among threads gives the same bits. */
#include <immintrin.h>

#include "avx2.h"
#include "gemm_store.h"
#include "gemm_smalln.h"

#define SMALL_N_MAX 12

static inline __m256i lanes_below(size_t t)
{
    return _mm256_loadu_si256((const __m256i *)(ht_avx2_lane_tab + 16 - t));
}

/* Fixed reduction tree: (lo128 + hi128), then pairs, then the last two. */
static inline float hsum(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
    return _mm_cvtss_f32(x);
}

/* out[r][c0+c] = sum_p a[r*lda+p] * bt[c*ldbt+p] for r < R, c < C; the
 * sum runs in 8 lanes (p mod 8), then hsum. One function per (R, C), so
 * the loops have constant bounds and the accumulators live in registers. */
#define DEFINE_DOT(RR, CC)                                                   \
    static void dot_##RR##x##CC(size_t k, const float *a, size_t lda,        \
                                const float *bt, size_t ldbt,                \
                                float out[4][16], size_t c0)                 \
    {                                                                        \
        enum { R = RR, C = CC };                                             \
        __m256 acc[R][C];                                                    \
        for (int r = 0; r < R; r++)                                          \
            for (int c = 0; c < C; c++)                                      \
                acc[r][c] = _mm256_setzero_ps();                             \
        size_t p = 0;                                                        \
        for (; p + 8 <= k; p += 8) {                                         \
            __m256 av[R];                                                    \
            for (int r = 0; r < R; r++)                                      \
                av[r] = _mm256_loadu_ps(a + (size_t)r * lda + p);            \
            for (int c = 0; c < C; c++) {                                    \
                __m256 bv = _mm256_loadu_ps(bt + (size_t)c * ldbt + p);       \
                HT_IN_REGISTER(bv);                                          \
                for (int r = 0; r < R; r++)                                  \
                    acc[r][c] = _mm256_fmadd_ps(av[r], bv, acc[r][c]);       \
            }                                                                \
        }                                                                    \
        if (p < k) {                                                         \
            const __m256i t = lanes_below(k - p);                            \
            __m256 av[R];                                                    \
            for (int r = 0; r < R; r++)                                      \
                av[r] = _mm256_maskload_ps(a + (size_t)r * lda + p, t);      \
            for (int c = 0; c < C; c++) {                                    \
                const __m256 bv =                                            \
                    _mm256_maskload_ps(bt + (size_t)c * ldbt + p, t);        \
                for (int r = 0; r < R; r++)                                  \
                    acc[r][c] = _mm256_fmadd_ps(av[r], bv, acc[r][c]);       \
            }                                                                \
        }                                                                    \
        for (int r = 0; r < R; r++)                                          \
            for (int c = 0; c < C; c++)                                      \
                out[r][c0 + (size_t)c] = hsum(acc[r][c]);                    \
    }
DEFINE_DOT(1, 1) DEFINE_DOT(1, 2) DEFINE_DOT(1, 3)
DEFINE_DOT(4, 1) DEFINE_DOT(4, 2) DEFINE_DOT(4, 3)

static const ht_smalln_dot_fn dot_fns[2][3] = {{dot_1x1, dot_1x2, dot_1x3},
                                               {dot_4x1, dot_4x2, dot_4x3}};

static void gemm_dot_avx2(size_t m, size_t n, size_t k, float alpha,
                          const float *a, size_t lda, const float *bt,
                          size_t ldbt, float beta, float *c, size_t ldc,
                          const ht_ukr_epi *epi)
{
    ht_smalln_dot_rows(dot_fns, m, n, k, alpha, a, lda, bt, ldbt, beta, c, ldc,
                       epi);
}

/* x_j lanes = C[i0..i0+7][j] for j < N, with A's 8 rows contiguous at
 * a + p*lda (lanes >= mm masked off) and op(B) broadcast from b; then an
 * 8x8 transpose turns columns into rows for the store. One function per N,
 * with the accumulators in named variables: GCC keeps an array of them in
 * registers but also stores it to the stack on every step. */
#define BC_FMA(j)                                                            \
    if (N > j)                                                               \
    x##j = _mm256_fmadd_ps(av, _mm256_broadcast_ss(bp + (size_t)(j) * csb), x##j)
#define BC_STEP(LOAD)                                                        \
    do {                                                                     \
        const __m256 av = LOAD;                                              \
        const float *bp = b + p * rsb;                                       \
        BC_FMA(0); BC_FMA(1); BC_FMA(2); BC_FMA(3);                          \
        BC_FMA(4); BC_FMA(5); BC_FMA(6); BC_FMA(7);                          \
        BC_FMA(8); BC_FMA(9); BC_FMA(10); BC_FMA(11);                        \
    } while (0)
#define DEFINE_BCAST(NN)                                                     \
    static void bcast_##NN(size_t mm, size_t k, float alpha, const float *a, \
                           size_t lda, const float *b, size_t rsb,           \
                           size_t csb, float beta, float *c, size_t ldc,     \
                           const ht_ukr_epi *epi)                            \
    {                                                                        \
        enum { N = NN };                                                     \
        __m256 x0 = _mm256_setzero_ps(), x1 = x0, x2 = x0, x3 = x0;          \
        __m256 x4 = x0, x5 = x0, x6 = x0, x7 = x0;                           \
        __m256 x8 = x0, x9 = x0, x10 = x0, x11 = x0;                         \
        if (mm == 8) {                                                       \
            for (size_t p = 0; p < k; p++)                                   \
                BC_STEP(_mm256_loadu_ps(a + p * lda));                       \
        } else {                                                             \
            const __m256i t = lanes_below(mm);                               \
            for (size_t p = 0; p < k; p++)                                   \
                BC_STEP(_mm256_maskload_ps(a + p * lda, t));                 \
        }                                                                    \
        __m256 lo[8] = {x0, x1, x2, x3, x4, x5, x6, x7};                     \
        __m256 hi[8] = {x8, x9, x10, x11, x0, x0, x0, x0};                   \
        if (N <= 8)                                                          \
            for (int j = 0; j < 8; j++)                                      \
                hi[j] = _mm256_setzero_ps();                                 \
        else                                                                 \
            for (int j = 4; j < 8; j++)                                      \
                hi[j] = _mm256_setzero_ps();                                 \
        ht_avx2_transpose8(lo);                                              \
        if (N > 8)                                                           \
            ht_avx2_transpose8(hi);                                          \
        for (size_t r = 0; r < mm; r++)                                      \
            ht_avx2_finish_row(lo[r], hi[r], (size_t)N, alpha, beta,         \
                               c + r * ldc, epi, r);                         \
    }
DEFINE_BCAST(1) DEFINE_BCAST(2) DEFINE_BCAST(3) DEFINE_BCAST(4)
DEFINE_BCAST(5) DEFINE_BCAST(6) DEFINE_BCAST(7) DEFINE_BCAST(8)
DEFINE_BCAST(9) DEFINE_BCAST(10) DEFINE_BCAST(11) DEFINE_BCAST(12)

static const ht_smalln_bcast_fn bcast_fns[SMALL_N_MAX] = {
    bcast_1, bcast_2, bcast_3, bcast_4, bcast_5, bcast_6,
    bcast_7, bcast_8, bcast_9, bcast_10, bcast_11, bcast_12};

static void gemm_bcast_avx2(size_t m, size_t n, size_t k, float alpha,
                            const float *a, size_t lda, const float *b,
                            size_t rsb, size_t csb, float beta, float *c,
                            size_t ldc, const ht_ukr_epi *epi)
{
    ht_smalln_bcast_rows(bcast_fns, 8, m, n, k, alpha, a, lda, b, rsb, csb,
                         beta, c, ldc, epi);
}

/* op(B)^T for the dot path (pack_bt in simd/table.h): blocks of 8 rows
 * of B by 8 columns, loaded (masked past j1), transposed in registers and
 * stored as 8 floats of each of bt's rows; the last k % 8 elements one by
 * one. */
static void pack_bt_avx2(const float *b, size_t ldb, size_t k, size_t j0,
                         size_t j1, float *bt)
{
    size_t p = 0;
    for (; p + 8 <= k; p += 8) {
        for (size_t g = j0; g < j1; g += 8) {
            const size_t w = j1 - g < 8 ? j1 - g : 8;
            const __m256i m = lanes_below(w);
            __m256 r[8];
            for (size_t q = 0; q < 8; q++)
                r[q] = _mm256_maskload_ps(b + (p + q) * ldb + g, m);
            ht_avx2_transpose8(r);
            for (size_t c = 0; c < w; c++)
                _mm256_storeu_ps(bt + (g + c) * k + p, r[c]);
        }
    }
    for (; p < k; p++)
        for (size_t j = j0; j < j1; j++)
            bt[j * k + p] = b[p * ldb + j];
}

void ht_avx2_gemm_smalln_init(ht_kernels *k)
{
    k->pack_bt = pack_bt_avx2;
    k->small_n_max = SMALL_N_MAX;
    k->gemm_dot = gemm_dot_avx2;
    k->gemm_bcast = gemm_bcast_avx2;
}
