/* ht_sgemm against a naive double-precision triple loop, on every kernel
 * table this CPU can run: all four transposes, alpha/beta cases, beta = 0
 * with NaN in C, awkward sizes, padded leading dimensions, epilogues, a
 * few hundred random shapes and strides (fixed seed), the fused epilogue
 * bitwise equal to the table's own unfused kernels, and bitwise equality
 * across thread counts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
#include <malloc.h>
#define HT_HAVE_MALLINFO2 1
#endif

#include "gemm.h"
#include "hpctrain.h"
#include "hpctrain/kernels.h"
#include "testutil.h"

static void check_one(int ta, int tb, size_t m, size_t n, size_t k,
                      float alpha, float beta, size_t pad)
{
    size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    size_t arows = ta ? k : m, brows = tb ? n : k;
    float *a = malloc((arows * lda + 1) * sizeof *a);
    float *b = malloc((brows * ldb + 1) * sizeof *b);
    float *c = malloc((m * ldc + 1) * sizeof *c);
    float *r = malloc((m * ldc + 1) * sizeof *r);
    assert_non_null(a); assert_non_null(b); assert_non_null(c); assert_non_null(r);
    tu_fill(a, arows * lda + 1, 1 + m * 31 + k, -1, 1);
    tu_fill(b, brows * ldb + 1, 2 + n * 17 + k, -1, 1);
    tu_fill(c, m * ldc + 1, 3 + m + n, -1, 1);
    if (beta == 0.0f)
        for (size_t i = 0; i < m * ldc; i++)
            c[i] = NAN; /* beta == 0 must not read C */
    memcpy(r, c, (m * ldc + 1) * sizeof *r);
    assert_int_equal(ht_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c,
                              ldc), HT_OK);
    tu_gemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, r, ldc);
    for (size_t i = 0; i < m; i++) {
        double e = tu_max_rel_err(c + i * ldc, r + i * ldc, n,
                                  1e-5 * (double)(k + 1), 1e-4);
        if (!(e <= 1.0))
            fail_msg("ta=%d tb=%d m=%zu n=%zu k=%zu alpha=%g beta=%g pad=%zu "
                     "row %zu err %g", ta, tb, m, n, k, (double)alpha,
                     (double)beta, pad, i, e);
        /* padding between rows is never written */
        for (size_t j = n; j < ldc && i + 1 < m; j++)
            assert_memory_equal(&c[i * ldc + j], &r[i * ldc + j], sizeof(float));
    }
    assert_memory_equal(&c[m * ldc], &r[m * ldc], sizeof(float));
    free(a); free(b); free(c); free(r);
}

static void sweep(void)
{
    /* 10 and 12: the small-N paths; 17: just past them */
    static const size_t sizes[] = {1, 3, 7, 10, 12, 17, 33, 255};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t im = 0; im < NS; im++)
                for (size_t in = 0; in < NS; in++)
                    for (size_t ik = 0; ik < NS; ik += 1 + (HT_TEST_SCALE > 1)) {
                        size_t m = sizes[im], n = sizes[in], k = sizes[ik];
                        if (m * n * k > 255u * 255 * 33 / HT_TEST_SCALE)
                            continue;
                        check_one(ta, tb, m, n, k, 1.0f, 0.0f, (m + n) % 3);
                    }
}

static void test_sizes_all_tables(void **state)
{
    (void)state;
    for (size_t t = 0; ht_isa_known(t); t++) {
        if (!ht_isa_available(ht_isa_known(t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
        sweep();
    }
}

static void test_alpha_beta(void **state)
{
    (void)state;
    static const float ab[][2] = {{1, 0}, {1, 1}, {-0.5f, 0.25f}, {2, -1},
                                  {0, 0.5f}, {1.5f, 0}};
    for (size_t t = 0; ht_isa_known(t); t++) {
        if (!ht_isa_available(ht_isa_known(t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
        for (size_t i = 0; i < sizeof ab / sizeof ab[0]; i++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) {
                    check_one(ta, tb, 37, 29, 45, ab[i][0], ab[i][1], 5);
                    check_one(ta, tb, 300 / HT_TEST_SCALE + 1, 70, 513 / HT_TEST_SCALE,
                              ab[i][0], ab[i][1], 3);
                }
    }
}

static void test_k_zero_and_empty(void **state)
{
    (void)state;
    float c[6] = {1, 2, 3, 4, 5, 6};
    float a[1] = {0}, b[1] = {0};
    assert_int_equal(ht_sgemm(0, 0, 2, 3, 0, 1.0f, a, 1, b, 3, 2.0f, c, 3), HT_OK);
    for (int i = 0; i < 6; i++)
        assert_true(c[i] == 2.0f * (float)(i + 1));
    assert_int_equal(ht_sgemm(0, 0, 2, 3, 0, 1.0f, a, 1, b, 3, 0.0f, c, 3), HT_OK);
    for (int i = 0; i < 6; i++)
        assert_true(c[i] == 0.0f);
    assert_int_equal(ht_sgemm(0, 0, 0, 3, 5, 1.0f, NULL, 5, b, 3, 0.0f, NULL, 3), HT_OK);
    /* k = 0 with no A or B (allowed): wider than a panel, so the one-thread
     * path walks several panels of a B it must never point into */
    float cw[2 * 70];
    for (int i = 0; i < 2 * 70; i++)
        cw[i] = (float)i;
    assert_int_equal(ht_sgemm(0, 0, 2, 70, 0, 1.0f, NULL, 1, NULL, 70, 0.5f, cw,
                              70), HT_OK);
    for (int i = 0; i < 2 * 70; i++)
        assert_true(cw[i] == 0.5f * (float)i);
}

static void test_bad_args(void **state)
{
    (void)state;
    float x[16] = {0};
    assert_int_equal(ht_sgemm(2, 0, 2, 2, 2, 1, x, 2, x, 2, 0, x, 2), HT_ERR_ARG);
    assert_true(strlen(ht_last_error()) > 0);
    assert_int_equal(ht_sgemm(0, 0, 2, 2, 3, 1, x, 2, x, 2, 0, x, 2), HT_ERR_ARG);
    assert_int_equal(ht_sgemm(0, 0, 2, 4, 2, 1, x, 2, x, 4, 0, x, 3), HT_ERR_ARG);
    assert_int_equal(ht_sgemm(0, 1, 2, 4, 2, 1, x, 2, x, 1, 0, x, 4), HT_ERR_ARG);
    assert_int_equal(ht_sgemm(0, 0, 2, 2, 2, 1, NULL, 2, x, 2, 0, x, 2), HT_ERR_ARG);
    /* a dropout mask row must hold n bits: 33 columns need 2 words */
    uint32_t mask[4] = {0};
    ht_epilogue epi = {.mask = mask, .mask_ld = 1, .scale = 2.0f};
    float c[2 * 33];
    for (size_t i = 0; i < 2 * 33; i++)
        c[i] = 5.0f;
    assert_int_equal(ht_sgemm_ex(0, 0, 2, 33, 0, 1, x, 1, x, 33, 0, c, 33,
                                 &epi),
                     HT_ERR_ARG);
    assert_non_null(strstr(ht_last_error(), "mask_ld=1"));
    for (size_t i = 0; i < 2 * 33; i++)
        assert_true(c[i] == 5.0f); /* refused before touching C */
    epi.mask_ld = 2;
    assert_int_equal(ht_sgemm_ex(0, 0, 2, 33, 0, 1, x, 1, x, 33, 0, c, 33,
                                 &epi),
                     HT_OK);
}

static void test_epilogue(void **state)
{
    (void)state;
    const size_t m = 45, n = 77, k = 33, ldc = 80, mld = 4;
    float *a = malloc(m * k * 4), *b = malloc(k * n * 4), *c = malloc(m * ldc * 4);
    float *r = malloc(m * ldc * 4), *bias = malloc(n * 4);
    uint32_t *mask = malloc(m * mld * 4);
    tu_fill(a, m * k, 11, -1, 1);
    tu_fill(b, k * n, 12, -1, 1);
    tu_fill(bias, n, 13, -1, 1);
    uint64_t s = 99;
    for (size_t i = 0; i < m * mld; i++)
        mask[i] = (uint32_t)tu_rand(&s);
    for (size_t t = 0; ht_isa_known(t); t++) {
        if (!ht_isa_available(ht_isa_known(t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
        for (size_t i = 0; i < m * ldc; i++)
            c[i] = NAN;
        ht_epilogue e = {bias, 1, mask, mld, 2.0f};
        assert_int_equal(ht_sgemm_ex(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c,
                                     ldc, &e), HT_OK);
        tu_gemm_ref(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, r, ldc);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                float v = r[i * ldc + j] + bias[j];
                v = v > 0 ? v : 0;
                v = (mask[i * mld + j / 32] >> (j % 32)) & 1 ? v * 2.0f : 0.0f;
                assert_true(fabsf(c[i * ldc + j] - v) <= 1e-4f * (1 + fabsf(v)));
            }
    }
    free(a); free(b); free(c); free(r); free(bias); free(mask);
}

static void test_threads_bitwise(void **state)
{
    (void)state;
    const size_t m = 301 / HT_TEST_SCALE + 40, n = 263, k = 517 / HT_TEST_SCALE + 1;
    float *a = malloc(m * k * 4), *b = malloc(k * n * 4);
    float *c1 = malloc(m * n * 4), *c2 = malloc(m * n * 4);
    tu_fill(a, m * k, 21, -1, 1);
    tu_fill(b, k * n, 22, -1, 1);
    for (size_t t = 0; ht_isa_known(t); t++) {
        if (!ht_isa_available(ht_isa_known(t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
        for (int tt = 0; tt < 4; tt++) {
            int ta = tt & 1, tb = tt >> 1;
            ht_set_num_threads(1);
            assert_int_equal(ht_sgemm(ta, tb, m, n, k, 1, a, ta ? m : k, b,
                                      tb ? k : n, 0, c1, n), HT_OK);
            for (int th = 2; th <= 4; th++) {
                ht_set_num_threads(th);
                assert_int_equal(ht_sgemm(ta, tb, m, n, k, 1, a, ta ? m : k, b,
                                          tb ? k : n, 0, c2, n), HT_OK);
                assert_memory_equal(c1, c2, m * n * 4);
            }
        }
    }
    ht_set_num_threads(0);
    free(a); free(b); free(c1); free(c2);
}

/* The shapes one training step of 784-1024-1024-10 uses (scaled down in
 * M or K where it does not change the path taken): forward NN, input
 * gradient NT, weight gradient TN, including the 10-class output layer
 * (small-N paths, and K = 10 through the packed path). */
static void test_training_shapes(void **state)
{
    (void)state;
    static const size_t shp[][5] = {
        /* ta tb m n k */
        {0, 0, 64, 1024, 784}, {0, 1, 64, 784, 1024}, {1, 0, 784, 1024, 64},
        {0, 0, 256, 10, 1024}, {0, 1, 256, 1024, 10}, {1, 0, 1024, 10, 256},
        {0, 0, 64, 10, 1024}, {0, 1, 64, 1024, 10}, {1, 0, 1024, 10, 64},
        {1, 1, 100, 10, 300}, {0, 1, 101, 10, 77}, {1, 1, 9, 12, 1000},
    };
    for (size_t t = 0; ht_isa_known(t); t++) {
        if (!ht_isa_available(ht_isa_known(t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
        for (size_t i = 0; i < sizeof shp / sizeof shp[0]; i++) {
            const size_t *x = shp[i];
            if (x[2] * x[3] * x[4] > 64u * 1024 * 784 / HT_TEST_SCALE)
                continue;
            check_one((int)x[0], (int)x[1], x[2], x[3], x[4], 1.0f, 0.0f, 0);
            check_one((int)x[0], (int)x[1], x[2], x[3], x[4], -0.5f, 1.0f, 3);
        }
    }
}

/* Fused epilogue against the reference for every transpose, both small-N
 * paths (n = 10), the packed path with several K slices (k > KC), beta != 0,
 * column offsets that are not multiples of 32 (tiles straddle mask words),
 * and each part alone. */
static void epi_case(int ta, int tb, size_t m, size_t n, size_t k, float beta,
                     int use_bias, int relu, int use_mask)
{
    const size_t lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 3;
    const size_t mld = (n + 31) / 32 + 1;
    const size_t arows = ta ? k : m, brows = tb ? n : k;
    float *a = malloc(arows * lda * 4), *b = malloc(brows * ldb * 4);
    float *c = malloc(m * ldc * 4), *r = malloc(m * ldc * 4);
    float *bias = malloc(n * 4);
    uint32_t *mask = malloc(m * mld * 4);
    assert_non_null(a); assert_non_null(b); assert_non_null(c);
    assert_non_null(r); assert_non_null(bias); assert_non_null(mask);
    tu_fill(a, arows * lda, 31 + m, -1, 1);
    tu_fill(b, brows * ldb, 32 + n, -1, 1);
    tu_fill(c, m * ldc, 33 + k, -1, 1);
    tu_fill(bias, n, 34, -1, 1);
    uint64_t st = 77 + m + n;
    for (size_t i = 0; i < m * mld; i++)
        mask[i] = (uint32_t)tu_rand(&st);
    if (beta == 0.0f)
        for (size_t i = 0; i < m * ldc; i++)
            c[i] = NAN;
    memcpy(r, c, m * ldc * 4);
    ht_epilogue e = {use_bias ? bias : NULL, relu, use_mask ? mask : NULL, mld,
                     1.25f};
    assert_int_equal(ht_sgemm_ex(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta,
                                 c, ldc, &e), HT_OK);
    tu_gemm_ref(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, r, ldc);
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            float v = r[i * ldc + j];
            if (use_bias)
                v += bias[j];
            if (relu)
                v = v > 0 ? v : 0;
            if (use_mask)
                v = (mask[i * mld + j / 32] >> (j % 32)) & 1 ? v * 1.25f : 0.0f;
            const float got = c[i * ldc + j];
            const float tol = 1e-5f * (float)(k + 1) + 1e-4f * fabsf(v);
            if (!(fabsf(got - v) <= tol))
                fail_msg("epilogue ta=%d tb=%d m=%zu n=%zu k=%zu beta=%g "
                         "bias=%d relu=%d mask=%d: C[%zu][%zu]=%g want %g",
                         ta, tb, m, n, k, (double)beta, use_bias, relu,
                         use_mask, i, j, (double)got, (double)v);
        }
        for (size_t j = n; j < ldc && i + 1 < m; j++)
            assert_memory_equal(&c[i * ldc + j], &r[i * ldc + j], 4);
    }
    free(a); free(b); free(c); free(r); free(bias); free(mask);
}

static void test_epilogue_paths(void **state)
{
    (void)state;
    for (size_t t = 0; ht_isa_known(t); t++) {
        if (!ht_isa_available(ht_isa_known(t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
        for (int tt = 0; tt < 4; tt++) {
            const int ta = tt & 1, tb = tt >> 1;
            epi_case(ta, tb, 45, 77, 33, 0.0f, 1, 1, 1);
            epi_case(ta, tb, 37, 10, 301, 0.0f, 1, 1, 1);    /* small N */
            epi_case(ta, tb, 29, 10, 200, 0.5f, 1, 0, 1);
            epi_case(ta, tb, 23, 70, 900 / HT_TEST_SCALE, 1.0f, 1, 1, 1); /* K slices */
            epi_case(ta, tb, 13, 100, 17, 0.0f, 0, 0, 1);    /* mask alone */
            epi_case(ta, tb, 13, 100, 17, 0.0f, 1, 0, 0);    /* bias alone */
            epi_case(ta, tb, 13, 100, 17, 0.0f, 0, 1, 0);    /* relu alone */
        }
        /* k = 0: C = epi(beta*C) */
        epi_case(0, 0, 7, 9, 0, 0.5f, 1, 1, 1);
    }
}

/* ------------------------------------------- random shapes and strides */

/* Sizes where a path has an edge: 1, 7, 17, 255, one and two of every
 * table's MR and NR and one either side, MR + 4 (a 4-row edge tile), the
 * small-N bound and one either side; for K also each table's KC and where
 * its K slicing goes from one slice to two (kc + kc/3) and from two to
 * three (2 (kc + kc/8)), see slice_kc in src/gemm.c, one either side. */
typedef struct awkward {
    size_t mn[64], k[64];
    size_t n_mn, n_k;
} awkward;

static void awkward_add(size_t *list, size_t *n, size_t v)
{
    if (v >= 1 && *n < 64)
        list[(*n)++] = v;
}

static void awkward_sizes(awkward *aw)
{
    static const size_t fixed[] = {1, 2, 7, 17, 255, 300};
    aw->n_mn = aw->n_k = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        awkward_add(aw->mn, &aw->n_mn, fixed[i]);
        awkward_add(aw->k, &aw->n_k, fixed[i]);
    }
    for (size_t t = 0; ht_isa_known(t); t++) {
        if (!ht_isa_available(ht_isa_known(t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
        ht_isa_info info;
        assert_int_equal(ht_isa_get_info(&info), HT_OK);
        const size_t mr = (size_t)info.mr, nr = (size_t)info.nr;
        const size_t kc = (size_t)info.kc;
        const size_t sn = ht_kernels_active()->small_n_max;
        /* an edge tile of 4 rows, the most the short-edge kernels take */
        awkward_add(aw->mn, &aw->n_mn, mr + 4);
        for (size_t d = 0; d < 3; d++) {    /* d - 1: one below, at, above */
            awkward_add(aw->mn, &aw->n_mn, mr + d - 1);
            awkward_add(aw->mn, &aw->n_mn, 2 * mr + d - 1);
            awkward_add(aw->mn, &aw->n_mn, nr + d - 1);
            awkward_add(aw->mn, &aw->n_mn, 2 * nr + d - 1);
            if (sn)
                awkward_add(aw->mn, &aw->n_mn, sn + d - 1);
            awkward_add(aw->k, &aw->n_k, kc + d - 1);
            awkward_add(aw->k, &aw->n_k, kc + kc / 3 + d - 1);
            awkward_add(aw->k, &aw->n_k, 2 * (kc + kc / 8) + d - 1);
            awkward_add(aw->k, &aw->n_k, nr + d - 1);
        }
    }
}

/* One random call: shapes, transposes, leading dimensions padded by 0 to
 * 18, alpha and beta (beta = 0 with NaN in C), about one in 16 with
 * k = 0, and the thread count. m * n * k stays under max_work (redrawn),
 * which keeps the test's time small. */
typedef struct rcase {
    int ta, tb, threads;
    size_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
} rcase;

static size_t draw_dim(uint64_t *s, const size_t *aw, size_t naw)
{
    /* 2 in 5 from the awkward sizes, the rest uniform in [1, 300] */
    if (tu_rand(s) % 5 < 2)
        return aw[tu_rand(s) % naw];
    return 1 + (size_t)(tu_rand(s) % 300);
}

static size_t draw_pad(uint64_t *s)
{
    return tu_rand(s) % 3 == 0 ? 0 : (size_t)(tu_rand(s) % 19);
}

static void draw_case(uint64_t *s, const awkward *aw, double max_work,
                      rcase *rc)
{
    static const float alphas[] = {1.0f, -1.0f, 0.5f, -0.75f, 2.5f, 0.0f};
    static const float betas[] = {0.0f, 0.0f, 1.0f, -0.5f, 0.25f};
    rc->ta = (int)(tu_rand(s) & 1);
    rc->tb = (int)(tu_rand(s) & 1);
    do {
        rc->m = draw_dim(s, aw->mn, aw->n_mn);
        rc->n = draw_dim(s, aw->mn, aw->n_mn);
        rc->k = tu_rand(s) % 16 == 0 ? 0 : draw_dim(s, aw->k, aw->n_k);
    } while ((double)rc->m * (double)rc->n * (double)rc->k > max_work);
    rc->lda = (rc->ta ? rc->m : rc->k) + draw_pad(s);
    rc->ldb = (rc->tb ? rc->k : rc->n) + draw_pad(s);
    rc->ldc = rc->n + draw_pad(s);
    rc->alpha = alphas[tu_rand(s) % (sizeof alphas / sizeof alphas[0])];
    rc->beta = betas[tu_rand(s) % (sizeof betas / sizeof betas[0])];
    rc->threads = 1 + (int)(tu_rand(s) % 4);
}

/* A, B and C of a case (each with one float past its end, a guard); C
 * NaN when beta = 0, padding included. Free with rcase_free. */
typedef struct rdata {
    float *a, *b, *c0;
    size_t na, nb, nc;    /* floats, guard included */
} rdata;

static void rcase_data(const rcase *rc, uint64_t seed, rdata *d)
{
    d->na = (rc->ta ? rc->k : rc->m) * rc->lda + 1;
    d->nb = (rc->tb ? rc->n : rc->k) * rc->ldb + 1;
    d->nc = rc->m * rc->ldc + 1;
    d->a = malloc(d->na * sizeof(float));
    d->b = malloc(d->nb * sizeof(float));
    d->c0 = malloc(d->nc * sizeof(float));
    assert_non_null(d->a);
    assert_non_null(d->b);
    assert_non_null(d->c0);
    tu_fill(d->a, d->na, seed, -1, 1);
    tu_fill(d->b, d->nb, seed + 1, -1, 1);
    tu_fill(d->c0, d->nc, seed + 2, -1, 1);
    if (rc->beta == 0.0f)
        for (size_t i = 0; i + 1 < d->nc; i++)
            d->c0[i] = NAN;
}

static void rcase_free(rdata *d)
{
    free(d->a);
    free(d->b);
    free(d->c0);
}

/* Every table this CPU has, on a few hundred random calls of ht_sgemm,
 * against the double reference within the tolerance of check_one; k = 0
 * exactly beta * C (0 for beta = 0, whatever C held), as the header says.
 * Nothing outside the m x n elements of C may change (the padding between
 * rows and the guard after the last). */
static void test_random_shapes(void **state)
{
    (void)state;
    enum { CASES = 300 / (HT_TEST_SCALE > 1 ? 6 : 1) };
    char active[32];
    snprintf(active, sizeof active, "%s", ht_isa_name());
    awkward aw;
    awkward_sizes(&aw);
    uint64_t s = 0x5EED2024u;
    for (int ci = 0; ci < CASES; ci++) {
        rcase rc;
        draw_case(&s, &aw, 3.0e6 / HT_TEST_SCALE, &rc);
        rdata d;
        rcase_data(&rc, 1000 + (uint64_t)ci * 3, &d);
        float *r = malloc(d.nc * sizeof(float)), *c = malloc(d.nc * sizeof(float));
        assert_non_null(r);
        assert_non_null(c);
        memcpy(r, d.c0, d.nc * sizeof(float));
        tu_gemm_ref(rc.ta, rc.tb, rc.m, rc.n, rc.k, rc.alpha, d.a, rc.lda, d.b,
                    rc.ldb, rc.beta, r, rc.ldc);
        ht_set_num_threads(rc.threads);
        for (size_t t = 0; ht_isa_known(t); t++) {
            const char *isa = ht_isa_known(t);
            if (!ht_isa_available(isa))
                continue;
            assert_int_equal(ht_isa_select(isa), HT_OK);
            memcpy(c, d.c0, d.nc * sizeof(float));
            assert_int_equal(ht_sgemm(rc.ta, rc.tb, rc.m, rc.n, rc.k, rc.alpha,
                                      d.a, rc.lda, d.b, rc.ldb, rc.beta, c,
                                      rc.ldc), HT_OK);
            for (size_t i = 0; i < rc.m; i++) {
                const float *crow = c + i * rc.ldc, *rrow = r + i * rc.ldc;
                /* k = 0: exactly beta * C (one rounding, the reference's) */
                for (size_t j = 0; j < rc.n && rc.k == 0; j++)
                    if (!(crow[j] == rrow[j]))
                        fail_msg("%s case %d: k=0 m=%zu n=%zu alpha=%g "
                                 "beta=%g: C[%zu][%zu] = %a, want %a", isa,
                                 ci, rc.m, rc.n, (double)rc.alpha,
                                 (double)rc.beta, i, j, (double)crow[j],
                                 (double)rrow[j]);
                const double e = tu_max_rel_err(crow, rrow, rc.n,
                                                1e-5 * (double)(rc.k + 1), 1e-4);
                if (!(e <= 1.0))
                    fail_msg("%s case %d: ta=%d tb=%d m=%zu n=%zu k=%zu "
                             "lda=%zu ldb=%zu ldc=%zu alpha=%g beta=%g "
                             "threads=%d: row %zu err %g", isa, ci, rc.ta,
                             rc.tb, rc.m, rc.n, rc.k, rc.lda, rc.ldb, rc.ldc,
                             (double)rc.alpha, (double)rc.beta, rc.threads, i,
                             e);
                if (memcmp(crow + rc.n, d.c0 + i * rc.ldc + rc.n,
                           (rc.ldc - rc.n) * sizeof(float)) != 0)
                    fail_msg("%s case %d: padding of row %zu written", isa,
                             ci, i);
            }
            if (memcmp(&c[d.nc - 1], &d.c0[d.nc - 1], sizeof(float)) != 0)
                fail_msg("%s case %d: written past the last row", isa, ci);
        }
        free(r);
        free(c);
        rcase_free(&d);
    }
    ht_set_num_threads(0);
    assert_int_equal(ht_isa_select(active), HT_OK);
}

/* The epilogue is written down as steps in a fixed order, each a float
 * operation: include/hpctrain.h "v = alpha*AB + beta*C; v += bias[j]; if
 * relu: v = max(v, 0); if mask: v = bit(i,j) ? v*scale : 0", and
 * simd/table.h applies it "after the sum, per element". So ht_sgemm_ex
 * with bias + ReLU (and then the mask) must give the bits of ht_sgemm
 * followed by the same table's bias_add, relu_fwd (and dropout_bwd, whose
 * dx = keep ? dy*scale : 0 is the mask step): nothing may be fused into an
 * FMA or reordered. On 150 random calls as above (packed path with edge
 * tiles and K slices, both small-N paths, k = 0) and every table. */
static void test_epilogue_bitwise_unfused(void **state)
{
    (void)state;
    enum { CASES = 150 / (HT_TEST_SCALE > 1 ? 6 : 1) };
    char active[32];
    snprintf(active, sizeof active, "%s", ht_isa_name());
    awkward aw;
    awkward_sizes(&aw);
    uint64_t s = 0xE91106u;
    for (int ci = 0; ci < CASES; ci++) {
        rcase rc;
        draw_case(&s, &aw, 1.0e6 / HT_TEST_SCALE, &rc);
        rdata d;
        rcase_data(&rc, 5000 + (uint64_t)ci * 3, &d);
        const size_t mld = (rc.n + 31) / 32;
        float *bias = malloc(rc.n * sizeof(float));
        uint32_t *mask = malloc(rc.m * mld * sizeof(uint32_t));
        float *c1 = malloc(d.nc * sizeof(float)), *c2 = malloc(d.nc * sizeof(float));
        assert_non_null(bias);
        assert_non_null(mask);
        assert_non_null(c1);
        assert_non_null(c2);
        tu_fill(bias, rc.n, 6000 + (uint64_t)ci, -1, 1);
        uint64_t ms = 7000 + (uint64_t)ci;
        for (size_t i = 0; i < rc.m * mld; i++)
            mask[i] = (uint32_t)tu_rand(&ms);
        ht_set_num_threads(rc.threads);
        for (size_t t = 0; ht_isa_known(t); t++) {
            const char *isa = ht_isa_known(t);
            if (!ht_isa_available(isa))
                continue;
            assert_int_equal(ht_isa_select(isa), HT_OK);
            const ht_kernels *kt = ht_kernels_active();
            for (int with_mask = 0; with_mask < 2; with_mask++) {
                memcpy(c1, d.c0, d.nc * sizeof(float));
                memcpy(c2, d.c0, d.nc * sizeof(float));
                assert_int_equal(ht_sgemm(rc.ta, rc.tb, rc.m, rc.n, rc.k,
                                          rc.alpha, d.a, rc.lda, d.b, rc.ldb,
                                          rc.beta, c1, rc.ldc), HT_OK);
                kt->bias_add(rc.m, rc.n, bias, c1, rc.ldc);
                for (size_t i = 0; i < rc.m; i++) {
                    float *row = c1 + i * rc.ldc;
                    kt->relu_fwd(rc.n, row, row, 0);
                    if (with_mask)
                        kt->dropout_bwd(rc.n, row, mask + i * mld, 1.25f, row,
                                        0);
                }
                const ht_epilogue e = {bias, 1, with_mask ? mask : NULL, mld,
                                       with_mask ? 1.25f : 1.0f};
                assert_int_equal(ht_sgemm_ex(rc.ta, rc.tb, rc.m, rc.n, rc.k,
                                             rc.alpha, d.a, rc.lda, d.b, rc.ldb,
                                             rc.beta, c2, rc.ldc, &e), HT_OK);
                for (size_t x = 0; x < d.nc; x++)
                    if (memcmp(&c1[x], &c2[x], sizeof(float)) != 0)
                        fail_msg("%s case %d: ta=%d tb=%d m=%zu n=%zu k=%zu "
                                 "alpha=%g beta=%g threads=%d mask=%d: "
                                 "C[%zu][%zu] fused %a, unfused %a", isa, ci,
                                 rc.ta, rc.tb, rc.m, rc.n, rc.k,
                                 (double)rc.alpha, (double)rc.beta, rc.threads,
                                 with_mask, x / rc.ldc, x % rc.ldc,
                                 (double)c2[x], (double)c1[x]);
            }
        }
        free(bias);
        free(mask);
        free(c1);
        free(c2);
        rcase_free(&d);
    }
    ht_set_num_threads(0);
    assert_int_equal(ht_isa_select(active), HT_OK);
}

/* Bitwise equality across 1..4 threads on every path the driver has: the
 * packed path split by rows (large M) and by columns (M = 64), K = 10, both
 * small-N paths, and a fused epilogue; at the real work thresholds, so
 * also where a shared B's barriers keep a call on fewer threads. */
static void test_threads_bitwise_paths(void **state)
{
    (void)state;
    static const size_t shp[][5] = {
        {0, 0, 64, 1024, 300}, {1, 1, 64, 700, 200}, {0, 1, 600, 1024, 10},
        {0, 0, 600, 10, 1024}, {1, 0, 1000, 10, 600}, {0, 1, 600, 10, 999},
        {1, 0, 300, 300, 300},
        {0, 0, 7, 20, 20000},   /* 2 x 2 panels: no grid for 3 threads */
        {0, 1, 256, 1024, 10},  /* short K: the tiles along C's rows */
        {1, 0, 700, 300, 40},   /* short K, rows in several MC blocks */
        {0, 0, 1000, 48, 600},  /* a grid of 2 rows sharing B panels */
        {0, 0, 16, 16, 4096},   /* shared B, K slices too short to split */
    };
    const size_t mld = 32;
    uint32_t *mask = malloc(1000 * mld * 4);
    float *bias = malloc(1024 * 4);
    uint64_t st = 5;
    for (size_t i = 0; i < 1000 * mld; i++)
        mask[i] = (uint32_t)tu_rand(&st);
    tu_fill(bias, 1024, 6, -1, 1);
    for (size_t t = 0; ht_isa_known(t); t++) {
        if (!ht_isa_available(ht_isa_known(t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
        for (size_t s = 0; s < sizeof shp / sizeof shp[0]; s++) {
            const int ta = (int)shp[s][0], tb = (int)shp[s][1];
            const size_t m = shp[s][2], n = shp[s][3], k = shp[s][4] / HT_TEST_SCALE + 1;
            float *a = malloc(m * k * 4), *b = malloc(k * n * 4);
            float *c1 = malloc(m * n * 4), *c2 = malloc(m * n * 4);
            tu_fill(a, m * k, 40 + s, -1, 1);
            tu_fill(b, k * n, 50 + s, -1, 1);
            const ht_epilogue e = {bias, 1, mask, mld, 2.0f};
            for (int use_epi = 0; use_epi < 2; use_epi++) {
                ht_set_num_threads(1);
                assert_int_equal(ht_sgemm_ex(ta, tb, m, n, k, 1, a, ta ? m : k,
                                             b, tb ? k : n, 0, c1, n,
                                             use_epi ? &e : NULL), HT_OK);
                for (int th = 2; th <= 4; th++) {
                    ht_set_num_threads(th);
                    assert_int_equal(ht_sgemm_ex(ta, tb, m, n, k, 1, a,
                                                 ta ? m : k, b, tb ? k : n, 0,
                                                 c2, n, use_epi ? &e : NULL),
                                     HT_OK);
                    if (memcmp(c1, c2, m * n * 4) != 0)
                        fail_msg("%s: %dx%d threads=%d m=%zu n=%zu k=%zu "
                                 "epi=%d differs from 1 thread",
                                 ht_isa_known(t), ta, tb, th, m, n, k, use_epi);
                }
            }
            free(a); free(b); free(c1); free(c2);
        }
    }
    ht_set_num_threads(0);
    free(mask); free(bias);
}

/* Each table's pack_bt (op(B)^T for the small-N dot path) against the
 * plain copy, for K around the 8- and 16-row blocks, every width up to
 * small_n_max, column ranges that start past 0 (a team's share) and a
 * padded ldb; bt's rows outside j0 .. j1-1 and the floats after them
 * stay untouched. */
static void test_pack_bt(void **state)
{
    (void)state;
    static const size_t ks[] = {1, 7, 8, 9, 15, 16, 17, 33, 255, 1024};
    for (size_t t = 0; ht_isa_known(t); t++) {
        if (!ht_isa_available(ht_isa_known(t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
        const ht_kernels *kt = ht_kernels_active();
        if (kt->pack_bt == NULL)
            continue;
        const size_t nmax = kt->small_n_max;
        for (size_t ik = 0; ik < sizeof ks / sizeof ks[0]; ik++)
            for (size_t n = 1; n <= nmax; n++)
                for (size_t j0 = 0; j0 < n; j0 += 3) {
                    const size_t k = ks[ik], ldb = n + 5, j1 = n;
                    float *b = malloc(k * ldb * sizeof(float));
                    float *got = malloc((n * k + 16) * sizeof(float));
                    float *want = malloc((n * k + 16) * sizeof(float));
                    tu_fill(b, k * ldb, (unsigned)(k + n), -1, 1);
                    for (size_t i = 0; i < n * k + 16; i++)
                        got[i] = want[i] = -7.0f;
                    for (size_t j = j0; j < j1; j++)
                        for (size_t p = 0; p < k; p++)
                            want[j * k + p] = b[p * ldb + j];
                    kt->pack_bt(b, ldb, k, j0, j1, got);
                    if (memcmp(got, want, (n * k + 16) * sizeof(float)))
                        fail_msg("%s: pack_bt k=%zu n=%zu j0=%zu differs",
                                 ht_isa_known(t), k, n, j0);
                    free(b); free(got); free(want);
                }
    }
}

/* Each table's pack_a and pack_b against the packing contract of
 * simd/table.h, for the three source layouts each dispatches on: unit
 * column stride (row-major A, B), unit row stride (transposed), and
 * neither (the generic loop, which ht_sgemm never reaches: its strides
 * always have a 1, so only this test covers it). Sizes around MR and NR,
 * K around the 8-row transposes and their 3-7 masked tails; the padded
 * rows or columns of the last panel must be zero and nothing after the
 * last panel may be written. */
static void pack_ref_check(const char *isa, const char *what, size_t mr,
                           size_t m, size_t k, const float *a, size_t rs,
                           size_t cs, const float *got, size_t room)
{
    const size_t panels = (m + mr - 1) / mr;
    for (size_t r = 0; r < panels; r++)
        for (size_t p = 0; p < k; p++)
            for (size_t i = 0; i < mr; i++) {
                const size_t row = r * mr + i;
                const float want = row < m ? a[row * rs + p * cs] : 0.0f;
                const float v = got[r * mr * k + p * mr + i];
                if (memcmp(&v, &want, sizeof v))
                    fail_msg("%s %s m=%zu k=%zu rs=%zu cs=%zu: panel %zu "
                             "p=%zu lane %zu is %g, want %g", isa, what, m,
                             k, rs, cs, r, p, i, (double)v, (double)want);
            }
    for (size_t i = panels * mr * k; i < room; i++)
        if (got[i] != -7.0f)
            fail_msg("%s %s m=%zu k=%zu: wrote past the panels (float %zu)",
                     isa, what, m, k, i);
}

static void test_pack_contract(void **state)
{
    (void)state;
    static const size_t ks[] = {1, 2, 3, 5, 7, 8, 9, 11, 15, 16, 17, 33};
    for (size_t t = 0; ht_isa_known(t); t++) {
        if (!ht_isa_available(ht_isa_known(t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
        const ht_kernels *kt = ht_kernels_active();
        const char *isa = ht_isa_known(t);
        for (int which = 0; which < 2; which++) {
            const size_t mr = (size_t)(which ? kt->nr : kt->mr);
            const size_t ms[] = {1, mr - 1, mr, mr + 1, 2 * mr + 3, 255};
            for (size_t im = 0; im < sizeof ms / sizeof ms[0]; im++)
                for (size_t ik = 0; ik < sizeof ks / sizeof ks[0]; ik++) {
                    const size_t m = ms[im], k = ks[ik];
                    if (m == 0)
                        continue;
                    /* (row stride, column stride) of element (i, p) */
                    const size_t layouts[3][2] = {
                        {k + 3, 1}, {1, m + 5}, {2, 2 * m + 1}};
                    const size_t panels = (m + mr - 1) / mr;
                    const size_t room = panels * mr * k + 40;
                    float *got = malloc(room * sizeof(float));
                    for (int l = 0; l < 3; l++) {
                        const size_t rs = layouts[l][0], cs = layouts[l][1];
                        const size_t len = (m - 1) * rs + (k - 1) * cs + 1;
                        float *a = malloc(len * sizeof(float));
                        tu_fill(a, len, (unsigned)(m * 31 + k), -1, 1);
                        for (size_t i = 0; i < room; i++)
                            got[i] = -7.0f;
                        if (which)  /* element (p, j) of B at p*rsb + j*csb */
                            kt->pack_b(k, m, a, cs, rs, got);
                        else
                            kt->pack_a(m, k, a, rs, cs, got);
                        pack_ref_check(isa, which ? "pack_b" : "pack_a", mr,
                                       m, k, a, rs, cs, got, room);
                        free(a);
                    }
                    free(got);
                }
        }
    }
}

/* The avx512 table's gemm_bcast (X^T * dY with n <= 12) applies the AVX2
 * table's operations in the same order, 16 rows per register instead of
 * 8 (and 32 rows per call where it can), so the two give the same bits
 * (its own header says so); checked over row counts around 8, 16 and 32,
 * every n up to 12, K with odd tails, alpha,
 * beta and the full epilogue. Skipped where either table is missing. */
static void test_bcast_avx512_is_avx2(void **state)
{
    (void)state;
    if (!ht_isa_available("avx2") || !ht_isa_available("avx512"))
        skip();
    static const size_t ms[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 48, 255};
    static const size_t ks[] = {1, 5, 64, 129};
    const size_t mld = 2, ldc = 15;
    float *a = malloc(255 * 129 * 4), *b = malloc(129 * 12 * 4);
    float *c[2] = {malloc(255 * ldc * 4), malloc(255 * ldc * 4)};
    float *bias = malloc(12 * 4);
    uint32_t *mask = malloc(255 * mld * 4);
    assert_non_null(a); assert_non_null(b); assert_non_null(c[0]);
    assert_non_null(c[1]); assert_non_null(bias); assert_non_null(mask);
    tu_fill(a, 255 * 129, 71, -1, 1);
    tu_fill(b, 129 * 12, 72, -1, 1);
    tu_fill(bias, 12, 73, -1, 1);
    uint64_t st = 74;
    for (size_t i = 0; i < 255 * mld; i++)
        mask[i] = (uint32_t)tu_rand(&st);
    const ht_epilogue e = {bias, 1, mask, mld, 2.0f};
    static const char *const isa[2] = {"avx2", "avx512"};
    for (size_t im = 0; im < sizeof ms / sizeof ms[0]; im++)
        for (size_t ik = 0; ik < sizeof ks / sizeof ks[0]; ik++)
            for (size_t n = 1; n <= 12; n++)
                for (int v = 0; v < 3; v++) {
                    const size_t m = ms[im], k = ks[ik];
                    const float alpha = v == 1 ? -0.5f : 1.0f;
                    const float beta = v == 1 ? 0.75f : 0.0f;
                    for (int t = 0; t < 2; t++) {
                        assert_int_equal(ht_isa_select(isa[t]), HT_OK);
                        tu_fill(c[t], 255 * ldc, 75 + m, -1, 1);
                        /* A is k x m (op(A) = A^T), B is k x n */
                        assert_int_equal(ht_sgemm_ex(HT_TRANS, HT_NO_TRANS, m, n,
                                                     k, alpha, a, m, b, n, beta,
                                                     c[t], ldc,
                                                     v == 2 ? &e : NULL),
                                         HT_OK);
                    }
                    if (memcmp(c[0], c[1], 255 * ldc * 4) != 0)
                        fail_msg("gemm_bcast m=%zu n=%zu k=%zu case %d: avx512 "
                                 "differs from avx2", m, n, k, v);
                }
    free(a); free(b); free(c[0]); free(c[1]); free(bias); free(mask);
}

/* Block sizes are reported and usable; the workspace pool can be emptied
 * and refills on the next call. */
static void test_blocking_and_workspace(void **state)
{
    (void)state;
    for (size_t t = 0; ht_isa_known(t); t++) {
        if (!ht_isa_available(ht_isa_known(t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
        ht_isa_info info;
        assert_int_equal(ht_isa_get_info(&info), HT_OK);
        assert_true(info.mr > 0 && info.nr > 0);
        assert_true(info.kc >= 64 && info.kc % 8 == 0);
        assert_true(info.mc >= (size_t)info.mr && info.mc % (size_t)info.mr == 0);
        assert_true(info.nc >= (size_t)info.nr && info.nc % (size_t)info.nr == 0);
        check_one(0, 0, 50, 60, 70, 1.0f, 0.0f, 1);
        ht_gemm_workspace_release();
        check_one(1, 1, 50, 60, 70, 1.0f, 0.5f, 1);
    }
    size_t l1, l2, l3;
    ht_cache_sizes(&l1, &l2, &l3);
    assert_true(l1 >= 4096 && l2 >= l1 && l3 >= 256u * 1024);
}

/* Heap bytes in use as glibc counts them, 0 where unknown. */
static size_t heap_bytes(void)
{
#ifdef HT_HAVE_MALLINFO2
    const struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#else
    return 0;
#endif
}

/* Packing buffers come from a pool that outlives calls: once a shape has
 * run, calling it again (packed path, fused epilogue, small-N path; 1 and
 * 2 threads) allocates nothing. The pool counts its allocations; glibc's
 * count of heap bytes in use must not move either (skipped where there is
 * no mallinfo2 or a sanitizer's allocator makes it read 0). */
static void test_warm_calls_allocate_nothing(void **state)
{
    (void)state;
    const size_t m = 300, n = 500, k = 400;
    float *a = calloc(m * k, 4), *b = calloc(k * n, 4), *c = calloc(m * n, 4);
    float *bias = calloc(n, 4);
    assert_non_null(a); assert_non_null(b); assert_non_null(c);
    assert_non_null(bias);
    const ht_epilogue epi = {.bias = bias, .relu = 1, .scale = 1.0f};
    for (int t = 1; t <= 2; t++) {
        ht_set_num_threads(t);
        size_t before = 0;
        unsigned long pool_before = 0;
        for (int round = 0; round < 4; round++) {
            if (round == 1) {           /* round 0 warmed every shape */
                before = heap_bytes();
                pool_before = ht_gemm_ws_allocations();
            }
            assert_int_equal(ht_sgemm(HT_NO_TRANS, HT_NO_TRANS, m, n, k, 1.0f,
                                      a, k, b, n, 0.0f, c, n), HT_OK);
            assert_int_equal(ht_sgemm(HT_TRANS, HT_TRANS, m, n, k, 1.0f, a, m,
                                      b, k, 1.0f, c, n), HT_OK);
            assert_int_equal(ht_sgemm_ex(HT_NO_TRANS, HT_NO_TRANS, m, n, k,
                                         1.0f, a, k, b, n, 0.0f, c, n, &epi),
                             HT_OK);
            assert_int_equal(ht_sgemm(HT_NO_TRANS, HT_NO_TRANS, m, 10, k, 1.0f,
                                      a, k, b, 10, 0.0f, c, n), HT_OK);
        }
        assert_int_equal(ht_gemm_ws_allocations(), pool_before);
        if (before != 0)
            assert_int_equal(heap_bytes(), before);
    }
    ht_set_num_threads(0);
    free(a); free(b); free(c); free(bias);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_all_tables),
        cmocka_unit_test(test_alpha_beta),
        cmocka_unit_test(test_k_zero_and_empty),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_epilogue),
        cmocka_unit_test(test_threads_bitwise),
        cmocka_unit_test(test_training_shapes),
        cmocka_unit_test(test_epilogue_paths),
        cmocka_unit_test(test_random_shapes),
        cmocka_unit_test(test_warm_calls_allocate_nothing),
        cmocka_unit_test(test_epilogue_bitwise_unfused),
        cmocka_unit_test(test_threads_bitwise_paths),
        cmocka_unit_test(test_blocking_and_workspace),
        cmocka_unit_test(test_bcast_avx512_is_avx2),
        cmocka_unit_test(test_pack_bt),
        cmocka_unit_test(test_pack_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
