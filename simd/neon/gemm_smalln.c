/* NEON small-N SGEMM paths (contract in simd/table.h). An output layer's
 * n = 10 columns would fill 10 of the micro-kernel's 12 columns and need
 * both operands packed; these skip packing and put the vector lanes along
 * another dimension instead.
 *   gemm_dot:   lanes along K, for op(A) and op(B)^T both contiguous in K
 *               (C = X * W with W^T at hand, or C = dY * W^T): blocks of
 *               4 rows x 3 columns, 12 accumulators, 7 loads per 12 FMAs.
 *   gemm_bcast: lanes along M, for A stored transposed (C = X^T * dY):
 *               8 rows x 12 columns, 24 accumulators, as the micro-kernel
 *               but reading A and B in place.
 * Rows and columns past the edge of a block re-read the last valid row or
 * column (never memory outside the operands) and are discarded. Each
 * row's arithmetic depends only on that row and k, so any split of the
 * rows among threads gives the same bits. */
#include <arm_neon.h>

#include "gemm_store.h"
#include "neon.h"

#define SMALL_N_MAX 12

static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* r < 4 floats, the other lanes 0 */
static inline float32x4_t load_part(const float *p, size_t r)
{
    float b[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (size_t i = 0; i < r; i++)
        b[i] = p[i];
    return vld1q_f32(b);
}

/* The epilogue of rows i.. of the call's block: mask rows move, columns
 * do not. */
static inline const ht_ukr_epi *rows_epi(const ht_ukr_epi *epi, size_t i,
                                         ht_ukr_epi *re)
{
    if (epi == NULL)
        return NULL;
    *re = *epi;
    if (re->mask)
        re->mask += i * re->mask_ld;
    return re;
}

/* ------------------------------------------------------------- gemm_dot */

#define DOT_FMA(r, c) acc##r##c = vfmaq_f32(acc##r##c, a##r, b##c)
#define DOT_STEP(a0v, a1v, a2v, a3v, b0v, b1v, b2v)                          \
    do {                                                                     \
        const float32x4_t a0 = (a0v), a1 = (a1v), a2 = (a2v), a3 = (a3v);    \
        const float32x4_t b0 = (b0v), b1 = (b1v), b2 = (b2v);                \
        DOT_FMA(0, 0); DOT_FMA(0, 1); DOT_FMA(0, 2);                         \
        DOT_FMA(1, 0); DOT_FMA(1, 1); DOT_FMA(1, 2);                         \
        DOT_FMA(2, 0); DOT_FMA(2, 1); DOT_FMA(2, 2);                         \
        DOT_FMA(3, 0); DOT_FMA(3, 1); DOT_FMA(3, 2);                         \
    } while (0)
#define DOT_OUT(r, c) s[r][c] = vaddvq_f32(acc##r##c)

/* s[r][c] = sum_p ar[r][p] * bc[c][p]: 4 lanes over p (p mod 4), the last
 * k mod 4 products zero-padded, then the fixed pairwise lane sum. */
static void dot_block(size_t k, const float *const ar[4],
                      const float *const bc[3], float s[4][3])
{
    float32x4_t acc00 = vdupq_n_f32(0.0f), acc01 = acc00, acc02 = acc00;
    float32x4_t acc10 = acc00, acc11 = acc00, acc12 = acc00;
    float32x4_t acc20 = acc00, acc21 = acc00, acc22 = acc00;
    float32x4_t acc30 = acc00, acc31 = acc00, acc32 = acc00;
    size_t p = 0;
    for (; p + 4 <= k; p += 4)
        DOT_STEP(vld1q_f32(ar[0] + p), vld1q_f32(ar[1] + p),
                 vld1q_f32(ar[2] + p), vld1q_f32(ar[3] + p),
                 vld1q_f32(bc[0] + p), vld1q_f32(bc[1] + p),
                 vld1q_f32(bc[2] + p));
    if (p < k) {
        const size_t r = k - p;
        DOT_STEP(load_part(ar[0] + p, r), load_part(ar[1] + p, r),
                 load_part(ar[2] + p, r), load_part(ar[3] + p, r),
                 load_part(bc[0] + p, r), load_part(bc[1] + p, r),
                 load_part(bc[2] + p, r));
    }
    DOT_OUT(0, 0); DOT_OUT(0, 1); DOT_OUT(0, 2);
    DOT_OUT(1, 0); DOT_OUT(1, 1); DOT_OUT(1, 2);
    DOT_OUT(2, 0); DOT_OUT(2, 1); DOT_OUT(2, 2);
    DOT_OUT(3, 0); DOT_OUT(3, 1); DOT_OUT(3, 2);
}

static void gemm_dot_neon(size_t m, size_t n, size_t k, float alpha,
                          const float *a, size_t lda, const float *bt,
                          size_t ldbt, float beta, float *c, size_t ldc,
                          const ht_ukr_epi *epi)
{
    ht_ukr_epi re;
    for (size_t i = 0; i < m; i += 4) {
        const size_t mm = min_sz(4, m - i);
        const float *ar[4];
        for (size_t r = 0; r < 4; r++)
            ar[r] = a + (i + min_sz(r, mm - 1)) * lda;
        _Alignas(16) float out[4][12] = {{0}};
        for (size_t j = 0; j < n; j += 3) {
            const size_t nn = min_sz(3, n - j);
            const float *bc[3];
            for (size_t q = 0; q < 3; q++)
                bc[q] = bt + (j + min_sz(q, nn - 1)) * ldbt;
            float s[4][3];
            dot_block(k, ar, bc, s);
            for (size_t r = 0; r < 4; r++)
                for (size_t q = 0; q < nn; q++)
                    out[r][j + q] = s[r][q];
        }
        const ht_ukr_epi *ep = rows_epi(epi, i, &re);
        for (size_t r = 0; r < mm; r++)
            ht_neon_finish_row(vld1q_f32(out[r]), vld1q_f32(out[r] + 4),
                               vld1q_f32(out[r] + 8), n, alpha, beta,
                               c + (i + r) * ldc, ep, r);
    }
}

/* ----------------------------------------------------------- gemm_bcast */

#define BC_DECL(j) float32x4_t x##j = vdupq_n_f32(0.0f), y##j = x##j
#define BC_FMA(j, bv, lane)                                                  \
    do {                                                                     \
        x##j = vfmaq_laneq_f32(x##j, a0, bv, lane);                          \
        y##j = vfmaq_laneq_f32(y##j, a1, bv, lane);                          \
    } while (0)

/* C[i0 + r][j] for r < mm <= 8, j < n <= 12: lanes of x_j are rows 0-3 of
 * column j, of y_j rows 4-7. */
static void bcast_block(size_t mm, size_t n, size_t k, float alpha,
                        const float *a, size_t lda, const float *b,
                        size_t rsb, size_t csb, float beta, float *c,
                        size_t ldc, const ht_ukr_epi *epi)
{
    BC_DECL(0); BC_DECL(1); BC_DECL(2); BC_DECL(3); BC_DECL(4); BC_DECL(5);
    BC_DECL(6); BC_DECL(7); BC_DECL(8); BC_DECL(9); BC_DECL(10); BC_DECL(11);
    size_t col[12];
    for (size_t j = 0; j < 12; j++)
        col[j] = min_sz(j, n - 1) * csb;
    const int b_direct = csb == 1 && n == 12;
    for (size_t p = 0; p < k; p++) {
        float32x4_t a0, a1;
        const float *ap = a + p * lda;
        if (mm == 8) {
            a0 = vld1q_f32(ap);
            a1 = vld1q_f32(ap + 4);
        } else {
            a0 = load_part(ap, min_sz(mm, 4));
            a1 = mm > 4 ? load_part(ap + 4, mm - 4) : vdupq_n_f32(0.0f);
        }
        const float *bp = b + p * rsb;
        float32x4_t b0, b1, b2;
        if (b_direct) {
            b0 = vld1q_f32(bp);
            b1 = vld1q_f32(bp + 4);
            b2 = vld1q_f32(bp + 8);
        } else {
            const float g[12] = {bp[col[0]], bp[col[1]], bp[col[2]], bp[col[3]],
                                 bp[col[4]], bp[col[5]], bp[col[6]], bp[col[7]],
                                 bp[col[8]], bp[col[9]], bp[col[10]], bp[col[11]]};
            b0 = vld1q_f32(g);
            b1 = vld1q_f32(g + 4);
            b2 = vld1q_f32(g + 8);
        }
        BC_FMA(0, b0, 0); BC_FMA(1, b0, 1); BC_FMA(2, b0, 2); BC_FMA(3, b0, 3);
        BC_FMA(4, b1, 0); BC_FMA(5, b1, 1); BC_FMA(6, b1, 2); BC_FMA(7, b1, 3);
        BC_FMA(8, b2, 0); BC_FMA(9, b2, 1); BC_FMA(10, b2, 2); BC_FMA(11, b2, 3);
    }
    /* columns -> rows, 4x4 at a time */
    float32x4_t lo[3][4], hi[3][4];
    ht_neon_transpose4(x0, x1, x2, x3, lo[0]);
    ht_neon_transpose4(x4, x5, x6, x7, lo[1]);
    ht_neon_transpose4(x8, x9, x10, x11, lo[2]);
    ht_neon_transpose4(y0, y1, y2, y3, hi[0]);
    ht_neon_transpose4(y4, y5, y6, y7, hi[1]);
    ht_neon_transpose4(y8, y9, y10, y11, hi[2]);
    for (size_t r = 0; r < mm; r++) {
        float32x4_t (*t)[4] = r < 4 ? lo : hi;
        const size_t q = r % 4;
        ht_neon_finish_row(t[0][q], t[1][q], t[2][q], n, alpha, beta,
                           c + r * ldc, epi, r);
    }
}

static void gemm_bcast_neon(size_t m, size_t n, size_t k, float alpha,
                            const float *a, size_t lda, const float *b,
                            size_t rsb, size_t csb, float beta, float *c,
                            size_t ldc, const ht_ukr_epi *epi)
{
    ht_ukr_epi re;
    for (size_t i = 0; i < m; i += 8)
        bcast_block(min_sz(8, m - i), n, k, alpha, a + i, lda, b, rsb, csb,
                    beta, c + i * ldc, ldc, rows_epi(epi, i, &re));
}

void ht_neon_init_smalln(ht_kernels *k)
{
    k->small_n_max = SMALL_N_MAX;
    k->gemm_dot = gemm_dot_neon;
    k->gemm_bcast = gemm_bcast_neon;
}
