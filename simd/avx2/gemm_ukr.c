/* The AVX2+FMA SGEMM micro-kernel: a 6x16 tile of C in 12 ymm
 * accumulators, two ymm of B and one broadcast of A per step (15 of the 16
 * registers), contract in simd/table.h. Edge tiles run the same full 6x16
 * arithmetic (or, for at most 4 rows, that of the first 4 rows) on the
 * zero-padded panels and store only the m x n corner, so an element's
 * result does not depend on where its tile falls. */
#include <immintrin.h>

#include "avx2.h"
#include "gemm_store.h"

const int32_t ht_avx2_lane_tab[32] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

#define MR 6
#define NR 16

/* Row r of the tile accumulates a[r] * b[0..15] (b0, b1 in scope). */
#define ROW(r, ap)                                                        \
    do {                                                                  \
        const __m256 av = _mm256_broadcast_ss((ap) + (r));                \
        c##r##0 = _mm256_fmadd_ps(av, b0, c##r##0);                       \
        c##r##1 = _mm256_fmadd_ps(av, b1, c##r##1);                       \
    } while (0)

/* One k step of all 6 rows, and of the first 4 only (the panel's stride is
 * MR either way). */
#define STEP(ap, bp)                                                      \
    do {                                                                  \
        const __m256 b0 = _mm256_loadu_ps(bp);                            \
        const __m256 b1 = _mm256_loadu_ps((bp) + 8);                      \
        ROW(0, ap); ROW(1, ap); ROW(2, ap); ROW(3, ap);                   \
        ROW(4, ap); ROW(5, ap);                                           \
    } while (0)
#define STEP4(ap, bp)                                                     \
    do {                                                                  \
        const __m256 b0 = _mm256_loadu_ps(bp);                            \
        const __m256 b1 = _mm256_loadu_ps((bp) + 8);                      \
        ROW(0, ap); ROW(1, ap); ROW(2, ap); ROW(3, ap);                   \
    } while (0)

/* The tile's rows are needed at the end (read if beta != 0, written
 * anyway): start their way to L1, unless K is short (see HT_UKR_SHORT_K in
 * simd/table.h). Then the K loop, two steps per iteration: that halves the
 * loop's integer uops (which compete with the FMAs for ports 0 and 1): 82
 * vs 72 GFLOP/s at 1024^3 when the kernel was written. Four steps make GCC
 * spill an accumulator (a store-forward in its chain). The hardware
 * prefetcher keeps up with A's sequential panel. */
#define TILE_LOOP(STEPM)                                                  \
    do {                                                                  \
        for (size_t i = 0; k >= HT_UKR_SHORT_K && i < m; i++) {           \
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);       \
            _mm_prefetch((const char *)(c + i * ldc + 15), _MM_HINT_T0);  \
        }                                                                 \
        size_t p = 0;                                                     \
        for (; p + 2 <= k; p += 2) {                                      \
            STEPM(ap, bp);                                                \
            STEPM(ap + MR, bp + NR);                                      \
            ap += 2 * MR;                                                 \
            bp += 2 * NR;                                                 \
        }                                                                 \
        if (p < k)                                                        \
            STEPM(ap, bp);                                                \
    } while (0)

#define FINISH(r)                                                         \
    ht_avx2_finish_row(c##r##0, c##r##1, n, alpha, beta, c + (r) * ldc,  \
                       epi, r)

/* A tile of at most 4 rows (the last row panel when M % 6 is 1 to 4: batch
 * 64, 128 and 256 leave 4, 2 and 4). The zero rows of the padded panel are
 * skipped instead of computed: 8 FMAs a step instead of 12, and 8
 * accumulators still cover the FMA latency (4 cycles, 2 pipes). Each
 * element's operations are the full kernel's, so the bits are the same. */
static void ukr_4x16(size_t k, float alpha, const float *ap, const float *bp,
                     float beta, float *c, size_t ldc, size_t m, size_t n,
                     const ht_ukr_epi *epi)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
    __m256 c20 = c00, c21 = c00, c30 = c00, c31 = c00;

    TILE_LOOP(STEP4);
    FINISH(0);
    if (m > 1)
        FINISH(1);
    if (m > 2)
        FINISH(2);
    if (m > 3)
        FINISH(3);
}

static void ukr_6x16(size_t k, float alpha, const float *ap, const float *bp,
                     float beta, float *c, size_t ldc, size_t m, size_t n,
                     const ht_ukr_epi *epi)
{
    if (m <= 4) {
        ukr_4x16(k, alpha, ap, bp, beta, c, ldc, m, n, epi);
        return;
    }
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
    __m256 c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    __m256 c40 = c00, c41 = c00, c50 = c00, c51 = c00;

    TILE_LOOP(STEP);
    FINISH(0);
    FINISH(1);
    FINISH(2);
    FINISH(3);
    FINISH(4);
    if (m > 5)
        FINISH(5);
}

void ht_avx2_init_gemm(ht_kernels *k)
{
    k->mr = MR;
    k->nr = NR;
    /* Defaults for a 32 KiB L1d / 256 KiB L2; the driver retunes them
     * from the cache sizes hwloc reports. */
    k->mc = 168;
    k->kc = 256;
    k->nc = 4080;
    k->gemm_ukr = ukr_6x16;
    ht_avx2_gemm_pack_init(k);
    ht_avx2_gemm_smalln_init(k);
}
