/* Scalar SGEMM pieces: the portable fallback and the test oracle for every
 * other table's packing routines and micro-kernel (contract in simd/table.h). */
#include "scalar.h"

#define SMR 4
#define SNR 8

static void pack_a_scalar(size_t m, size_t k, const float *a, size_t rsa,
                          size_t csa, float *ap)
{
    for (size_t r = 0; r < m; r += SMR) {
        size_t mr = m - r < SMR ? m - r : SMR;
        for (size_t p = 0; p < k; p++) {
            for (size_t i = 0; i < mr; i++)
                ap[p * SMR + i] = a[(r + i) * rsa + p * csa];
            for (size_t i = mr; i < SMR; i++)
                ap[p * SMR + i] = 0.0f;
        }
        ap += SMR * k;
    }
}

static void pack_b_scalar(size_t k, size_t n, const float *b, size_t rsb,
                          size_t csb, float *bp)
{
    for (size_t s = 0; s < n; s += SNR) {
        size_t nr = n - s < SNR ? n - s : SNR;
        for (size_t p = 0; p < k; p++) {
            for (size_t j = 0; j < nr; j++)
                bp[p * SNR + j] = b[p * rsb + (s + j) * csb];
            for (size_t j = nr; j < SNR; j++)
                bp[p * SNR + j] = 0.0f;
        }
        bp += SNR * k;
    }
}

static void ukr_scalar(size_t k, float alpha, const float *ap, const float *bp,
                       float beta, float *c, size_t ldc, size_t m, size_t n,
                       const ht_ukr_epi *epi)
{
    float acc[SMR][SNR] = {{0}};
    for (size_t p = 0; p < k; p++) {
        const float *av = ap + p * SMR, *bv = bp + p * SNR;
        for (int i = 0; i < SMR; i++)
            for (int j = 0; j < SNR; j++)
                acc[i][j] += av[i] * bv[j];
    }
    for (size_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        for (size_t j = 0; j < n; j++) {
            float v = alpha * acc[i][j];
            if (beta != 0.0f)
                v += beta * ci[j];
            if (epi) {
                if (epi->bias)
                    v += epi->bias[j];
                if (epi->relu)
                    v = v > 0.0f ? v : 0.0f;
                if (epi->mask) {
                    size_t t = epi->bit0 + j;
                    uint32_t w = epi->mask[i * epi->mask_ld + t / 32];
                    v = (w >> (t % 32)) & 1u ? v * epi->scale : 0.0f;
                }
            }
            ci[j] = v;
        }
    }
}

void ht_scalar_init_gemm(ht_kernels *k)
{
    k->mr = SMR;
    k->nr = SNR;
    k->mc = 128;
    k->kc = 256;
    k->nc = 2048;
    k->pack_a = pack_a_scalar;
    k->pack_b = pack_b_scalar;
    k->gemm_ukr = ukr_scalar;
}
