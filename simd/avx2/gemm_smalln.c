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

/* out[r][c] = sum_p a[r*lda+p] * bt[c*ldbt+p] for r < R, c < C; the sum
 * runs in 8 lanes (p mod 8), then hsum. R and C are constants at every
 * call site, so the accumulators live in registers. */
static inline void dot_block(const int R, const int C, size_t k,
                             const float *a, size_t lda, const float *bt,
                             size_t ldbt, float out[2][16], size_t c0)
{
    __m256 acc[2][6];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++)
            acc[r][c] = _mm256_setzero_ps();
    size_t p = 0;
    for (; p + 8 <= k; p += 8) {
        __m256 av[2];
        for (int r = 0; r < R; r++)
            av[r] = _mm256_loadu_ps(a + r * lda + p);
        for (int c = 0; c < C; c++) {
            const __m256 bv = _mm256_loadu_ps(bt + c * ldbt + p);
            for (int r = 0; r < R; r++)
                acc[r][c] = _mm256_fmadd_ps(av[r], bv, acc[r][c]);
        }
    }
    if (p < k) {
        const __m256i t = lanes_below(k - p);
        __m256 av[2];
        for (int r = 0; r < R; r++)
            av[r] = _mm256_maskload_ps(a + r * lda + p, t);
        for (int c = 0; c < C; c++) {
            const __m256 bv = _mm256_maskload_ps(bt + c * ldbt + p, t);
            for (int r = 0; r < R; r++)
                acc[r][c] = _mm256_fmadd_ps(av[r], bv, acc[r][c]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++)
            out[r][c0 + (size_t)c] = hsum(acc[r][c]);
}

static void dot_cols(int R, size_t nc, size_t k, const float *a, size_t lda,
                     const float *bt, size_t ldbt, float out[2][16], size_t c0)
{
#define DOT_CASE(RR, CC) \
    case CC: dot_block(RR, CC, k, a, lda, bt, ldbt, out, c0); break
    if (R == 2) {
        switch (nc) {
            DOT_CASE(2, 1); DOT_CASE(2, 2); DOT_CASE(2, 3);
            DOT_CASE(2, 4); DOT_CASE(2, 5); DOT_CASE(2, 6);
        default: break;
        }
    } else {
        switch (nc) {
            DOT_CASE(1, 1); DOT_CASE(1, 2); DOT_CASE(1, 3);
            DOT_CASE(1, 4); DOT_CASE(1, 5); DOT_CASE(1, 6);
        default: break;
        }
    }
#undef DOT_CASE
}

static void gemm_dot_avx2(size_t m, size_t n, size_t k, float alpha,
                          const float *a, size_t lda, const float *bt,
                          size_t ldbt, float beta, float *c, size_t ldc,
                          const ht_ukr_epi *epi)
{
    /* columns in at most two groups of <= 6 (10 = 5 + 5) */
    const size_t g0 = n <= 6 ? n : (n + 1) / 2, g1 = n - g0;
    ht_ukr_epi re;
    for (size_t i = 0; i < m; i += 2) {
        const int R = m - i >= 2 ? 2 : 1;
        float out[2][16] = {{0}};
        dot_cols(R, g0, k, a + i * lda, lda, bt, ldbt, out, 0);
        if (g1)
            dot_cols(R, g1, k, a + i * lda, lda, bt + g0 * ldbt, ldbt, out, g0);
        const ht_ukr_epi *ep = NULL;
        if (epi) {
            re = *epi;
            if (re.mask)
                re.mask += i * re.mask_ld;
            ep = &re;
        }
        for (int r = 0; r < R; r++)
            ht_avx2_finish_row(_mm256_loadu_ps(out[r]), _mm256_loadu_ps(out[r] + 8),
                               n, alpha, beta, c + (i + (size_t)r) * ldc, ep,
                               (size_t)r);
    }
}

/* acc[j] lanes = C[i0..i0+7][j] for j < N, with A's 8 rows contiguous at
 * a + p*lda (lanes >= mm masked off) and op(B) broadcast from b. */
static inline void bcast_block(const int N, size_t mm, size_t k, float alpha,
                               const float *a, size_t lda, const float *b,
                               size_t rsb, size_t csb, float beta, float *c,
                               size_t ldc, const ht_ukr_epi *epi)
{
    __m256 acc[16];
    for (int j = 0; j < 16; j++)
        acc[j] = _mm256_setzero_ps();
    if (mm == 8) {
        for (size_t p = 0; p < k; p++) {
            const __m256 av = _mm256_loadu_ps(a + p * lda);
            const float *bp = b + p * rsb;
            for (int j = 0; j < N; j++)
                acc[j] = _mm256_fmadd_ps(av, _mm256_broadcast_ss(bp + (size_t)j * csb),
                                         acc[j]);
        }
    } else {
        const __m256i t = lanes_below(mm);
        for (size_t p = 0; p < k; p++) {
            const __m256 av = _mm256_maskload_ps(a + p * lda, t);
            const float *bp = b + p * rsb;
            for (int j = 0; j < N; j++)
                acc[j] = _mm256_fmadd_ps(av, _mm256_broadcast_ss(bp + (size_t)j * csb),
                                         acc[j]);
        }
    }
    /* columns -> rows: acc[0..7] and acc[8..15] each through an 8x8 transpose */
    __m256 lo[8], hi[8];
    for (int j = 0; j < 8; j++) {
        lo[j] = acc[j];
        hi[j] = acc[8 + j];
    }
    ht_avx2_transpose8(lo);
    if (N > 8)
        ht_avx2_transpose8(hi);
    for (size_t r = 0; r < mm; r++)
        ht_avx2_finish_row(lo[r], N > 8 ? hi[r] : _mm256_setzero_ps(),
                           (size_t)N, alpha, beta, c + r * ldc, epi, r);
}

static void gemm_bcast_avx2(size_t m, size_t n, size_t k, float alpha,
                            const float *a, size_t lda, const float *b,
                            size_t rsb, size_t csb, float beta, float *c,
                            size_t ldc, const ht_ukr_epi *epi)
{
    ht_ukr_epi re;
    for (size_t i = 0; i < m; i += 8) {
        const size_t mm = m - i < 8 ? m - i : 8;
        const ht_ukr_epi *ep = NULL;
        if (epi) {
            re = *epi;
            if (re.mask)
                re.mask += i * re.mask_ld;
            ep = &re;
        }
        const float *ai = a + i;
        float *ci = c + i * ldc;
#define BC_CASE(NN) \
    case NN: bcast_block(NN, mm, k, alpha, ai, lda, b, rsb, csb, beta, ci, ldc, ep); break
        switch (n) {
            BC_CASE(1); BC_CASE(2); BC_CASE(3); BC_CASE(4);
            BC_CASE(5); BC_CASE(6); BC_CASE(7); BC_CASE(8);
            BC_CASE(9); BC_CASE(10); BC_CASE(11); BC_CASE(12);
        default: break;
        }
#undef BC_CASE
    }
}

void ht_avx2_gemm_smalln_init(ht_kernels *k)
{
    k->small_n_max = SMALL_N_MAX;
    k->gemm_dot = gemm_dot_avx2;
    k->gemm_bcast = gemm_bcast_avx2;
}
