/* NEON SGEMM: packing routines and an 8x12 micro-kernel (contract in
 * simd/table.h).
 *
 * Register budget (AdvSIMD has 32 128-bit registers): the 8x12 tile is 24
 * float32x4_t accumulators, plus 2 registers for 8 elements of the A panel
 * and 3 for 12 elements of the B panel = 29. Each k step issues 24
 * vfmaq_laneq_f32 (an FMLA by element: acc[i][:] += b[:] * a[i]) against 5
 * loads, so the kernel is FMA-bound on every core with at least one load per
 * 4.8 FMAs (all Neoverse cores).
 *
 * Rounding: the products are accumulated in p order with FMA; then
 * v = alpha*acc, then v = fma(beta, C, v), then the epilogue. Every tile,
 * full or edge, goes through the same code, so results do not depend on
 * where a tile falls. */
#include <arm_neon.h>

#include "gemm_store.h"
#include "neon.h"

#define MR 8
#define NR 12

/* Any strides, w <= width valid rows/columns, the rest zero. Used for edge
 * panels and for strides that are neither contiguous case. */
static void pack_generic(size_t w, size_t width, size_t k, const float *x,
                         size_t rs, size_t cs, float *xp)
{
    for (size_t p = 0; p < k; p++) {
        size_t i = 0;
        for (; i < w; i++)
            xp[p * width + i] = x[i * rs + p * cs];
        for (; i < width; i++)
            xp[p * width + i] = 0.0f;
    }
}

static void pack_a_neon(size_t m, size_t k, const float *a, size_t rsa,
                        size_t csa, float *ap)
{
    size_t r = 0;
    for (; r + MR <= m; r += MR, ap += MR * k) {
        const float *a0 = a + r * rsa;
        if (csa == 1) {
            /* rows run along p: transpose 8x4 blocks */
            size_t p = 0;
            for (; p + 4 <= k; p += 4) {
                float32x4_t lo[4], hi[4];
                ht_neon_transpose4(vld1q_f32(a0 + 0 * rsa + p), vld1q_f32(a0 + 1 * rsa + p),
                           vld1q_f32(a0 + 2 * rsa + p), vld1q_f32(a0 + 3 * rsa + p), lo);
                ht_neon_transpose4(vld1q_f32(a0 + 4 * rsa + p), vld1q_f32(a0 + 5 * rsa + p),
                           vld1q_f32(a0 + 6 * rsa + p), vld1q_f32(a0 + 7 * rsa + p), hi);
                for (int q = 0; q < 4; q++) {
                    vst1q_f32(ap + (p + q) * MR, lo[q]);
                    vst1q_f32(ap + (p + q) * MR + 4, hi[q]);
                }
            }
            for (; p < k; p++)
                for (size_t i = 0; i < MR; i++)
                    ap[p * MR + i] = a0[i * rsa + p];
        } else if (rsa == 1) {
            /* columns of op(A) are contiguous: straight copies */
            for (size_t p = 0; p < k; p++) {
                vst1q_f32(ap + p * MR, vld1q_f32(a0 + p * csa));
                vst1q_f32(ap + p * MR + 4, vld1q_f32(a0 + p * csa + 4));
            }
        } else {
            pack_generic(MR, MR, k, a0, rsa, csa, ap);
        }
    }
    if (r < m)
        pack_generic(m - r, MR, k, a + r * rsa, rsa, csa, ap);
}

static void pack_b_neon(size_t k, size_t n, const float *b, size_t rsb,
                        size_t csb, float *bp)
{
    size_t s = 0;
    for (; s + NR <= n; s += NR, bp += NR * k) {
        const float *b0 = b + s * csb;
        if (csb == 1) {
            for (size_t p = 0; p < k; p++) {
                const float *src = b0 + p * rsb;
                vst1q_f32(bp + p * NR, vld1q_f32(src));
                vst1q_f32(bp + p * NR + 4, vld1q_f32(src + 4));
                vst1q_f32(bp + p * NR + 8, vld1q_f32(src + 8));
            }
        } else if (rsb == 1) {
            /* columns of op(B) run along p: transpose 4x4 blocks */
            size_t p = 0;
            for (; p + 4 <= k; p += 4) {
                for (size_t g = 0; g < NR; g += 4) {
                    float32x4_t t[4];
                    const float *c0 = b0 + g * csb + p;
                    ht_neon_transpose4(vld1q_f32(c0), vld1q_f32(c0 + csb),
                               vld1q_f32(c0 + 2 * csb), vld1q_f32(c0 + 3 * csb), t);
                    for (int q = 0; q < 4; q++)
                        vst1q_f32(bp + (p + q) * NR + g, t[q]);
                }
            }
            for (; p < k; p++)
                for (size_t j = 0; j < NR; j++)
                    bp[p * NR + j] = b0[j * csb + p];
        } else {
            /* element (p, j) at b[p*rsb + j*csb]: the generic routine takes
             * the panel's own index first */
            pack_generic(NR, NR, k, b0, csb, rsb, bp);
        }
    }
    if (s < n)
        pack_generic(n - s, NR, k, b + s * csb, csb, rsb, bp);
}

/* ------------------------------------------------------------ micro-kernel */

#define ACC_ROW(i)                                                           \
    float32x4_t c##i##0 = vdupq_n_f32(0.0f), c##i##1 = vdupq_n_f32(0.0f),    \
                c##i##2 = vdupq_n_f32(0.0f)
#define FMA_ROW(i, av, lane)                                                 \
    do {                                                                     \
        c##i##0 = vfmaq_laneq_f32(c##i##0, b0, av, lane);                    \
        c##i##1 = vfmaq_laneq_f32(c##i##1, b1, av, lane);                    \
        c##i##2 = vfmaq_laneq_f32(c##i##2, b2, av, lane);                    \
    } while (0)
#define STORE_ROW(i)                                                         \
    do {                                                                     \
        vst1q_f32(t + (i) * NR, c##i##0);                                    \
        vst1q_f32(t + (i) * NR + 4, c##i##1);                                \
        vst1q_f32(t + (i) * NR + 8, c##i##2);                                \
    } while (0)

/* A tile of at most 4 rows (a batch 1 to 4 more than a multiple of 8,
 * such as 100): the padded panel's zero rows are skipped instead of
 * computed, 12 FMAs a step instead of 24, on 12 accumulators, more than
 * the 8 that two 4-cycle FMA pipes need. Each element's operations are
 * the full kernel's, so the bits are the same. (As in the AVX2 and AVX-512
 * tables, where it is timed; qemu cannot time this one.) */
static void ukr_neon4(size_t k, float alpha, const float *ap,
                      const float *bp, float beta, float *c, size_t ldc,
                      size_t m, size_t n, const ht_ukr_epi *epi)
{
    ACC_ROW(0); ACC_ROW(1); ACC_ROW(2); ACC_ROW(3);
    for (size_t p = 0; p < k; p++) {
        const float32x4_t a0 = vld1q_f32(ap);
        const float32x4_t b0 = vld1q_f32(bp), b1 = vld1q_f32(bp + 4),
                          b2 = vld1q_f32(bp + 8);
        FMA_ROW(0, a0, 0); FMA_ROW(1, a0, 1); FMA_ROW(2, a0, 2); FMA_ROW(3, a0, 3);
        ap += MR;
        bp += NR;
    }
    _Alignas(16) float t[4 * NR];
    STORE_ROW(0); STORE_ROW(1); STORE_ROW(2); STORE_ROW(3);
    for (size_t i = 0; i < m; i++)
        ht_neon_finish_row(vld1q_f32(t + i * NR), vld1q_f32(t + i * NR + 4),
                           vld1q_f32(t + i * NR + 8), n, alpha, beta,
                           c + i * ldc, epi, i);
}

static void ukr_neon(size_t k, float alpha, const float *ap, const float *bp,
                     float beta, float *c, size_t ldc, size_t m, size_t n,
                     const ht_ukr_epi *epi)
{
    if (m <= 4) {
        ukr_neon4(k, alpha, ap, bp, beta, c, ldc, m, n, epi);
        return;
    }
    ACC_ROW(0); ACC_ROW(1); ACC_ROW(2); ACC_ROW(3);
    ACC_ROW(4); ACC_ROW(5); ACC_ROW(6); ACC_ROW(7);
    for (size_t p = 0; p < k; p++) {
        const float32x4_t a0 = vld1q_f32(ap), a1 = vld1q_f32(ap + 4);
        const float32x4_t b0 = vld1q_f32(bp), b1 = vld1q_f32(bp + 4),
                          b2 = vld1q_f32(bp + 8);
        FMA_ROW(0, a0, 0); FMA_ROW(1, a0, 1); FMA_ROW(2, a0, 2); FMA_ROW(3, a0, 3);
        FMA_ROW(4, a1, 0); FMA_ROW(5, a1, 1); FMA_ROW(6, a1, 2); FMA_ROW(7, a1, 3);
        ap += MR;
        bp += NR;
    }
    /* The tile leaves registers once; each row is then finished by the
     * same code for full and edge tiles. */
    _Alignas(16) float t[MR * NR];
    STORE_ROW(0); STORE_ROW(1); STORE_ROW(2); STORE_ROW(3);
    STORE_ROW(4); STORE_ROW(5); STORE_ROW(6); STORE_ROW(7);
    for (size_t i = 0; i < m; i++)
        ht_neon_finish_row(vld1q_f32(t + i * NR), vld1q_f32(t + i * NR + 4),
                           vld1q_f32(t + i * NR + 8), n, alpha, beta,
                           c + i * ldc, epi, i);
}

void ht_neon_init_gemm(ht_kernels *k)
{
    k->mr = MR;
    k->nr = NR;
    /* A micro-panel 8 x 256 x 4 B = 8 KiB and B micro-panel 12 KiB stay in
     * a 64 KiB L1d; the 128 x 256 A block (128 KiB) in a 1 MiB L2; nc a
     * multiple of NR so only the last panel of a matrix is partial. */
    k->mc = 128;
    k->kc = 256;
    k->nc = 3072;
    k->pack_a = pack_a_neon;
    k->pack_b = pack_b_neon;
    k->gemm_ukr = ukr_neon;
}
