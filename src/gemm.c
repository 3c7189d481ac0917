/* The SGEMM driver: BLIS-style blocking over NC/KC/MC with packing through
 * the active kernel table. Threads partition output tiles only (never K), so
 * every element of C sees the same sequence of operations for any thread
 * count: results are bitwise reproducible. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

static ht_status check_args(int transa, int transb, size_t m, size_t n,
                            size_t k, const float *a, size_t lda,
                            const float *b, size_t ldb, const float *c,
                            size_t ldc)
{
    if ((transa != HT_NO_TRANS && transa != HT_TRANS) ||
        (transb != HT_NO_TRANS && transb != HT_TRANS))
        return ht_error(HT_ERR_ARG, "ht_sgemm: transpose flags must be 0 or "
                        "1 (got %d, %d)", transa, transb);
    size_t acols = transa ? m : k, bcols = transb ? k : n;
    if (m && k && lda < acols)
        return ht_error(HT_ERR_ARG, "ht_sgemm: lda=%zu < %zu", lda, acols);
    if (k && n && ldb < bcols)
        return ht_error(HT_ERR_ARG, "ht_sgemm: ldb=%zu < %zu", ldb, bcols);
    if (m && n && ldc < n)
        return ht_error(HT_ERR_ARG, "ht_sgemm: ldc=%zu < n=%zu", ldc, n);
    if ((m && k && !a) || (k && n && !b) || (m && n && !c))
        return ht_error(HT_ERR_ARG, "ht_sgemm: NULL matrix pointer");
    return HT_OK;
}

ht_status ht_sgemm_ex(int transa, int transb, size_t m, size_t n, size_t k,
                      float alpha, const float *a, size_t lda,
                      const float *b, size_t ldb, float beta, float *c,
                      size_t ldc, const ht_epilogue *epi)
{
    ht_status s = ht_runtime_init();
    if (s != HT_OK)
        return s;
    s = check_args(transa, transb, m, n, k, a, lda, b, ldb, c, ldc);
    if (s != HT_OK)
        return s;
    if (m == 0 || n == 0)
        return HT_OK;
    const ht_kernels *kt = ht_kernels_active();
    const size_t mr = (size_t)kt->mr, nr = (size_t)kt->nr;
    const size_t mc = kt->mc, kc = kt->kc, nc = kt->nc;
    /* element (i,p) of op(A) is a[i*rsa + p*csa]; (p,j) of op(B) likewise */
    const size_t rsa = transa ? 1 : lda, csa = transa ? lda : 1;
    const size_t rsb = transb ? 1 : ldb, csb = transb ? ldb : 1;

    const size_t kc_eff = k ? min_sz(kc, k) : 0;
    const size_t nc_eff = min_sz(nc, n), mc_eff = min_sz(mc, m);
    const size_t bsz = ((nc_eff + nr - 1) / nr) * nr * kc_eff;
    const size_t asz = ((mc_eff + mr - 1) / mr) * mr * kc_eff;
    const int nthreads = ht_threads_for_work(2.0 * (double)m * n * (k + 1));
    float *bp = ht_aligned_alloc((bsz + 16) * sizeof(float));
    float *ap_all = ht_aligned_alloc((asz + 16) * sizeof(float) * (size_t)nthreads);
    if (!bp || !ap_all) {
        ht_aligned_free(bp);
        ht_aligned_free(ap_all);
        return ht_error(HT_ERR_NOMEM, "ht_sgemm: cannot allocate %zu bytes of "
                        "packing workspace", (bsz + asz * (size_t)nthreads) * 4);
    }

    for (size_t jc = 0; jc < n; jc += nc) {
        const size_t nb = min_sz(nc, n - jc);
        size_t pc = 0;
        do {
            const size_t kb = min_sz(kc, k - pc);
            const int last = pc + kb >= k;
            const float beta_eff = pc == 0 ? beta : 1.0f;
            const size_t npanels = (nb + nr - 1) / nr;
            if (kb)
                kt->pack_b(kb, nb, b + pc * rsb + jc * csb, rsb, csb, bp);
            const size_t nblocks = (m + mc - 1) / mc;
            #pragma omp parallel for num_threads(nthreads) schedule(static)
            for (size_t ib = 0; ib < nblocks; ib++) {
                float *ap = ap_all + (size_t)ht_thread_num() * (asz + 16);
                const size_t ic = ib * mc, mb = min_sz(mc, m - ic);
                if (kb)
                    kt->pack_a(mb, kb, a + ic * rsa + pc * csa, rsa, csa, ap);
                for (size_t jr = 0; jr < npanels; jr++) {
                    const size_t j0 = jr * nr, nn = min_sz(nr, nb - j0);
                    for (size_t ir = 0; ir < mb; ir += mr) {
                        const size_t mm = min_sz(mr, mb - ir);
                        ht_ukr_epi ue, *uep = NULL;
                        const size_t row = ic + ir, col = jc + j0;
                        if (last && epi) {
                            ue.bias = epi->bias ? epi->bias + col : NULL;
                            ue.relu = epi->relu;
                            ue.mask = epi->mask ? epi->mask + row * epi->mask_ld
                                                      + col / 32 : NULL;
                            ue.mask_ld = epi->mask_ld;
                            ue.bit0 = (unsigned)(col % 32);
                            ue.scale = epi->scale;
                            uep = &ue;
                        }
                        kt->gemm_ukr(kb, alpha, ap + ir * kb, bp + jr * nr * kb,
                                     beta_eff, c + row * ldc + col, ldc, mm,
                                     nn, uep);
                    }
                }
            }
            pc += kb;
        } while (pc < k);
    }
    ht_aligned_free(bp);
    ht_aligned_free(ap_all);
    return HT_OK;
}

ht_status ht_sgemm(int transa, int transb, size_t m, size_t n, size_t k,
                   float alpha, const float *a, size_t lda, const float *b,
                   size_t ldb, float beta, float *c, size_t ldc)
{
    return ht_sgemm_ex(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c,
                       ldc, NULL);
}
