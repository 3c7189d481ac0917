/* The kernel table: every ISA-specific routine hpctrain calls, behind one
 * struct of function pointers plus block sizes. src/ calls only through it.
 *
 * Adding an ISA = one folder simd/<isa>/ with an init function
 * ht_kernels_init_<isa>() that starts from the scalar table (or from a
 * table it extends) and overrides entries, plus one entry in
 * simd/dispatch.c.
 *
 * All kernels: plain functions, explicit sizes and strides, no allocation,
 * no OS calls, no threads; safe to call concurrently on disjoint outputs
 * and from inside parallel regions.
 */
#ifndef HT_SIMD_TABLE_H
#define HT_SIMD_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "hpctrain/kernels.h"

/* ---------------------------------------------------- SGEMM micro-kernel
 *
 * Contract (BLIS style). The driver computes C = alpha*op(A)*op(B) + beta*C
 * in blocks: for each NC-column block of op(B) and KC-deep slice, it packs
 * the KC x NC slice of op(B) into NR-column panels (pack_b); for each MC-row
 * block of op(A) it packs the MC x KC slice into MR-row panels (pack_a);
 * then it calls the micro-kernel for every MR x NR tile.
 *
 * pack_a(m, k, a, rsa, csa, ap): element (i, p) of the source block is
 *   a[i*rsa + p*csa] (so a transposed A is just swapped strides). Writes
 *   ceil(m/MR) panels; panel r holds rows r*MR .. r*MR+MR-1, stored
 *   p-major: ap[r*MR*k + p*MR + ii]. Rows past m are zero.
 * pack_b(k, n, b, rsb, csb, bp): element (p, j) is b[p*rsb + j*csb].
 *   Writes ceil(n/NR) panels; panel s: bp[s*NR*k + p*NR + jj]. Columns past
 *   n are zero.
 * Packed buffers are 64-byte aligned by the driver (panel starts are then
 *   aligned whenever MR*k*4 and NR*k*4 are multiples of 64; kernels must not
 *   rely on more than 4-byte alignment of panel starts).
 *
 * ukr(k, alpha, ap, bp, beta, c, ldc, m, n, epi): one tile,
 *   C[i][j] = alpha * sum_p ap[p*MR+i]*bp[p*NR+j] + beta*C[i][j]
 *   for i < m <= MR, j < n <= NR. The kernel handles edge tiles (m < MR or
 *   n < NR) itself and never reads or writes C outside m x n.
 *   beta == 0: C is written without being read (NaN in C is ignored).
 *   k == 0 is allowed (the sum is 0).
 *   epi != NULL only on the last K slice; then, after the sum, per element:
 *     v += bias[j]; v = relu ? max(v,0) : v;
 *     v = mask ? (bit(i, bit0 + j) ? v*scale : 0) : v
 *   where bit(i, t) = (mask[i*mask_ld + t/32] >> (t%32)) & 1.
 *   The per-element order of floating-point operations (products summed in
 *   p order with fused multiply-add, then alpha, then beta*C) is the same in
 *   every kernel of a table, so the result does not depend on where a tile
 *   falls; tables of different ISAs may differ by rounding.
 */
/* K below this is short: a tile's arithmetic is too brief to hide its C
 * traffic. The driver then walks the tiles along C's rows, where the
 * hardware prefetchers follow them (short_k_thread in src/gemm.c), and a
 * kernel that asks for its tile of C at the start does so only for longer
 * K: with short K in that order the extra requests measured slower (Zen 5
 * guest, AVX-512, NT 256 x 1024 x 10: 1 thread 156 -> 165 GFLOP/s without
 * them, 2 threads 80-83 -> 206-217). */
#define HT_UKR_SHORT_K 64

typedef struct ht_ukr_epi {
    const float *bias;       /* tile's first column; NULL for none          */
    int relu;
    const uint32_t *mask;    /* word holding tile row 0's first bit; or NULL */
    size_t mask_ld;          /* words per row                               */
    unsigned bit0;           /* bit index of column 0 of the tile, from mask */
    float scale;
} ht_ukr_epi;

typedef void (*ht_pack_a_fn)(size_t m, size_t k, const float *a, size_t rsa,
                             size_t csa, float *ap);
typedef void (*ht_pack_b_fn)(size_t k, size_t n, const float *b, size_t rsb,
                             size_t csb, float *bp);
typedef void (*ht_ukr_fn)(size_t k, float alpha, const float *ap,
                          const float *bp, float beta, float *c, size_t ldc,
                          size_t m, size_t n, const ht_ukr_epi *epi);

/* Optional small-N paths (NULL where a table has none; the driver then
 * uses the packed path). For n <= small_n_max they avoid padding a narrow
 * op(B) (an output layer's 10 classes) to NR columns, and skip packing.
 * Both compute whole m x n blocks (the driver splits rows among threads):
 *
 * gemm_dot(m, n, k, alpha, a, lda, bt, ldbt, beta, c, ldc, epi): op(A) has
 *   rows contiguous along K and op(B)^T too (element (p,j) of op(B) is
 *   bt[j*ldbt + p]):  C[i][j] = alpha * sum_p a[i*lda+p]*bt[j*ldbt+p] + ...
 * gemm_bcast(m, n, k, alpha, a, lda, b, rsb, csb, beta, c, ldc, epi): op(A)
 *   has columns contiguous along M (A stored transposed: element (i,p) is
 *   a[p*lda + i]); element (p,j) of op(B) is b[p*rsb + j*csb].
 *
 * Same beta == 0 and epilogue rules as gemm_ukr, with epi describing the
 * block's row 0 / column 0 and applied always (there is no K slicing).
 * The sum over p may run in another fixed order than gemm_ukr's (partial
 * sums), so these paths may round differently from the packed path; the
 * driver picks a path from (transa, transb, m, n, k) only, never from the
 * thread count, and a row's result does not depend on which rows a call
 * covers. */
typedef void (*ht_gemm_dot_fn)(size_t m, size_t n, size_t k, float alpha,
                               const float *a, size_t lda, const float *bt,
                               size_t ldbt, float beta, float *c, size_t ldc,
                               const ht_ukr_epi *epi);
typedef void (*ht_gemm_bcast_fn)(size_t m, size_t n, size_t k, float alpha,
                                 const float *a, size_t lda, const float *b,
                                 size_t rsb, size_t csb, float beta, float *c,
                                 size_t ldc, const ht_ukr_epi *epi);

/* Optional packing for gemm_dot when B is stored k x n (C = X * W): rows
 * j0 .. j1-1 of op(B)^T, bt[j*k + p] = b[p*ldb + j] for p < k and
 * j0 <= j < j1, j1 - j0 <= small_n_max. A copy, so the bits of C do not
 * depend on it. NULL: the driver's portable loop. */
typedef void (*ht_pack_bt_fn)(const float *b, size_t ldb, size_t k,
                              size_t j0, size_t j1, float *bt);

typedef struct ht_kernels {
    const char *name;

    /* SGEMM */
    int mr, nr;                 /* micro-tile; MR, NR <= 32               */
    size_t mc, kc, nc;          /* default blocking (driver may retune)   */
    ht_pack_a_fn pack_a;
    ht_pack_b_fn pack_b;
    ht_ukr_fn gemm_ukr;
    size_t small_n_max;         /* 0: no small-N paths                    */
    ht_gemm_dot_fn gemm_dot;    /* optional, see above                    */
    ht_gemm_bcast_fn gemm_bcast;
    ht_pack_bt_fn pack_bt;      /* optional, see above                    */

    /* Dense-layer elementwise work (row-major, leading dimensions). */
    /* c[i][j] += bias[j] for i < m, j < n */
    void (*bias_add)(size_t m, size_t n, const float *bias, float *c,
                     size_t ldc);
    /* db[j] += sum_i dy[i][j], summed in increasing i (fixed order) */
    void (*bias_grad)(size_t m, size_t n, const float *dy, size_t lddy,
                      float *db);
    /* y = max(x, 0); y may equal x. stream: as for dropout below. */
    void (*relu_fwd)(size_t n, const float *x, float *y, int stream);
    /* dx = y > 0 ? dy*scale : 0, where y is the layer output after ReLU
     * (and after dropout, whose kept elements were scaled by `scale`;
     * scale = 1 without dropout). dx may equal dy. */
    void (*relu_bwd)(size_t n, const float *y, const float *dy, float scale,
                     float *dx);
    /* Row-wise softmax of logits into probs and loss_row[i] =
     * -log(probs[i][label[i]]) computed stably (log-sum-exp).
     * stream: as for dropout below (for probs). */
    void (*softmax_xent_fwd)(size_t m, size_t n, const float *logits,
                             size_t ldl, const int32_t *label, float *probs,
                             size_t ldp, float *loss_row, int stream);
    /* dlogits[i][j] = (probs[i][j] - [j == label[i]]) * scale.
     * stream: as for dropout below. */
    void (*softmax_xent_bwd)(size_t m, size_t n, const float *probs,
                             size_t ldp, const int32_t *label, float scale,
                             float *dlogits, size_t ldd, int stream);

    /* Regularisers and the fused optimiser step (see kernels.h). */
    void (*l1_grad)(size_t n, float l1, const float *w, float *g);
    void (*l2_grad)(size_t n, float l2, const float *w, float *g);
    void (*optim_step)(size_t n, float *w, const float *g, float *m, float *v,
                       const ht_optim_hyper *h);
    /* optim_step on a block of rows: rows x n elements, row i of each of
     * w, m, v starting ld elements after row i-1 (they share offsets, as a
     * tensor and its state do), row i of g ldg elements after row i-1 (the
     * gradient may be a GEMM tile in a scratch buffer). The same bits as
     * optim_step row by row; the hyper-parameters are read once, so a GEMM
     * tile can take its step right after its gradient is final. */
    void (*optim_tile)(size_t rows, size_t n, size_t ld, float *w,
                       const float *g, size_t ldg, float *m, float *v,
                       const ht_optim_hyper *h);

    /* Dropout. `key` from ht_dropout_key; `thr` from ht_dropout_threshold
     * (a 16-bit threshold, 0 .. 65535).
     * mask: writes ceil(n/32) words of keep-bits (see simd/rng.h for the
     * generator every ISA must reproduce bit for bit).
     * fwd: the same bits, and y[j] = keep ? x[j]*scale : 0 (y may equal x).
     * bwd: dx[j] = keep ? dy[j]*scale : 0 (dx may equal dy).
     * stream (fwd, fwd2, bwd): nonzero when the whole output is far larger
     * than the caches (ht_stream_stores), so nothing will read it from
     * cache: the kernel may write it with non-temporal stores, which skip
     * the read-for-ownership of every line. Same results either way; a
     * kernel that streams fences its stores before returning. Whatever
     * stream is, fwd2 may prefetch up to 1 KiB past the end of each input
     * row (a prefetch never faults; see simd/avx512/dropout.c). */
    void (*dropout_mask)(uint64_t key, size_t n, uint32_t thr,
                         uint32_t *bits);
    void (*dropout_fwd)(uint64_t key, size_t n, uint32_t thr, float scale,
                        const float *x, float *y, uint32_t *bits, int stream);
    void (*dropout_bwd)(size_t n, const float *dy, const uint32_t *bits,
                        float scale, float *dx, int stream);
    /* dropout_fwd on two rows of the same length at once (key0 for row 0,
     * key1 for row 1; same results as two dropout_fwd calls). One row's
     * generator is one dependency chain; two interleaved chains keep more
     * of the core busy. Each row may be in place; rows do not overlap. */
    void (*dropout_fwd2)(uint64_t key0, uint64_t key1, size_t n, uint32_t thr,
                         float scale, const float *x0, const float *x1,
                         float *y0, float *y1, uint32_t *bits0,
                         uint32_t *bits1, int stream);
    /* dropout_mask on two rows at once (same bits as two calls), for the
     * same reason. */
    void (*dropout_mask2)(uint64_t key0, uint64_t key1, size_t n,
                          uint32_t thr, uint32_t *bits0, uint32_t *bits1);

    /* Number of i < n with x[i] == 0.0f (either sign): the per-layer
     * sparsity figure (fraction of exact zeros) the trainer prints. */
    size_t (*count_zeros)(size_t n, const float *x);
} ht_kernels;

/* The active table (after ht_runtime_init() succeeded), never NULL then. */
const ht_kernels *ht_kernels_active(void);

/* Fill a table. Each ISA's init starts from the scalar table, or from the
 * table it extends (AVX-512 from AVX2), and overrides entries. */
void ht_kernels_init_scalar(ht_kernels *k);
#if defined(HT_HAVE_AVX2)
void ht_kernels_init_avx2(ht_kernels *k);
#endif
#if defined(HT_HAVE_AVX512)
void ht_kernels_init_avx512(ht_kernels *k);
#endif
#if defined(HT_HAVE_NEON)
void ht_kernels_init_neon(ht_kernels *k);
#endif

#endif /* HT_SIMD_TABLE_H */
