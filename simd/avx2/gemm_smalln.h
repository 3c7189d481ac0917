/* The row loops of the small-N SGEMM paths, shared by the AVX2 and AVX-512
 * tables: each table supplies its own register kernels (8 or 16 lanes) and
 * both finish rows through ht_avx2_finish_row, so the loops that cut the
 * rows into blocks, shift the epilogue to each block and group the columns
 * are written once, here. Inline; include after gemm_store.h. */
#ifndef HT_AVX2_GEMM_SMALLN_H
#define HT_AVX2_GEMM_SMALLN_H

#include <stddef.h>

#include "table.h"

/* Keeps v in a register. The dot kernels load a vector of op(B)^T and
 * multiply it into every row's accumulator; GCC folds that load into each
 * of those FMAs as a memory operand instead, so every B vector was loaded
 * R times: 22 loads for the 20 FMAs of AVX-512's two rows by ten columns
 * (12 with it). One thread of the Zen 5 guest, AVX-512: 256x10x1024 135 ->
 * 159 GFLOP/s, 64x10x1024 111 -> 126, 255x7x1000 100 -> 137. */
#define HT_IN_REGISTER(v) __asm__("" : "+v"(v))

/* out[r][c0+c] = sum_p a[r*lda+p] * bt[c*ldbt+p] for the kernel's R rows
 * and C columns. */
typedef void (*ht_smalln_dot_fn)(size_t k, const float *a, size_t lda,
                                 const float *bt, size_t ldbt,
                                 float out[4][16], size_t c0);
/* One block of mm <= lanes rows of C (gemm_bcast's contract, for rows
 * contiguous in a). */
typedef void (*ht_smalln_bcast_fn)(size_t mm, size_t k, float alpha,
                                   const float *a, size_t lda, const float *b,
                                   size_t rsb, size_t csb, float beta,
                                   float *c, size_t ldc,
                                   const ht_ukr_epi *epi);

/* epi as seen from row i of the block it describes (NULL stays NULL). */
static inline const ht_ukr_epi *ht_smalln_epi_at(const ht_ukr_epi *epi,
                                                 size_t i, ht_ukr_epi *re)
{
    if (epi == NULL)
        return NULL;
    *re = *epi;
    if (re->mask)
        re->mask += i * re->mask_ld;
    return re;
}

/* Rows 0..R-1 of a block of C (row 0 at c) from their sums in out, through
 * the shared row epilogue; ep describes the block's row 0. */
static inline void ht_smalln_finish_rows(float out[4][16], size_t R, size_t n,
                                         float alpha, float beta, float *c,
                                         size_t ldc, const ht_ukr_epi *ep)
{
    for (size_t r = 0; r < R; r++)
        ht_avx2_finish_row(_mm256_loadu_ps(out[r]),
                           _mm256_loadu_ps(out[r] + 8), n, alpha, beta,
                           c + r * ldc, ep, r);
}

/* gemm_dot: four rows at a time (then single rows) against column groups
 * of <= 3 (10 = 3+3+2+2): 12 accumulators, and the four A rows stay in L1
 * while the groups pass over them, so op(B)^T is read from L2 once per 4
 * rows. dot[R == 4][C - 1] is the table's kernel for R rows, C columns. */
static inline void ht_smalln_dot_rows(const ht_smalln_dot_fn dot[2][3],
                                      size_t m, size_t n, size_t k,
                                      float alpha, const float *a, size_t lda,
                                      const float *bt, size_t ldbt,
                                      float beta, float *c, size_t ldc,
                                      const ht_ukr_epi *epi)
{
    const size_t ng = (n + 2) / 3, base = n / ng, extra = n % ng;
    ht_ukr_epi re;
    for (size_t i = 0; i < m; ) {
        const size_t R = m - i >= 4 ? 4 : 1;
        float out[4][16] = {{0}};
        for (size_t g = 0, c0 = 0; g < ng; g++) {
            const size_t nc = base + (g < extra);
            dot[R == 4][nc - 1](k, a + i * lda, lda, bt + c0 * ldbt, ldbt,
                                out, c0);
            c0 += nc;
        }
        ht_smalln_finish_rows(out, R, n, alpha, beta, c + i * ldc, ldc,
                              ht_smalln_epi_at(epi, i, &re));
        i += R;
    }
}

/* gemm_bcast: blocks of `lanes` rows, bcast[n - 1] for each. */
static inline void ht_smalln_bcast_rows(const ht_smalln_bcast_fn *bcast,
                                        size_t lanes, size_t m, size_t n,
                                        size_t k, float alpha, const float *a,
                                        size_t lda, const float *b,
                                        size_t rsb, size_t csb, float beta,
                                        float *c, size_t ldc,
                                        const ht_ukr_epi *epi)
{
    ht_ukr_epi re;
    for (size_t i = 0; i < m; i += lanes) {
        const size_t mm = m - i < lanes ? m - i : lanes;
        bcast[n - 1](mm, k, alpha, a + i, lda, b, rsb, csb, beta, c + i * ldc,
                     ldc, ht_smalln_epi_at(epi, i, &re));
    }
}

#endif
