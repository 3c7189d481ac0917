/* The NEON table against the scalar twin, entry by entry, on aarch64 (skips
 * elsewhere): awkward sizes (1, 7, 17, 255, ...), padded leading
 * dimensions, guard words after every output, NaN/-0/inf inputs where the
 * contract says how they go.
 *   bitwise:   bias_add, bias_grad, relu_fwd/bwd, l1/l2_grad, count_zeros,
 *              optim_step (every optimiser and proximal L1),
 *              softmax_xent_bwd, dropout_mask/fwd/bwd, dropout_fwd2 and
 *              dropout_mask2 (vs two one-row calls), pack_a/pack_b
 *              (against the contract)
 *   tolerance: gemm_ukr (vs a double reference on the packed panels, with
 *              every edge shape and epilogue), gemm_dot and gemm_bcast (vs
 *              a double reference; rows split bitwise), ht_sgemm (neon vs
 *              scalar
 *              through ht_isa_select), softmax_xent_fwd (vectorised exp). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hpctrain.h"
#include "table.h"
#include "testutil.h"

#if defined(__aarch64__) && defined(HT_HAVE_NEON)

static ht_kernels ks, kn;

static int setup(void **state)
{
    (void)state;
    ht_kernels_init_scalar(&ks);
    ht_kernels_init_neon(&kn);
    return 0;
}

static const size_t sizes[] = {1, 3, 7, 8, 17, 31, 32, 33, 255, 1000};
#define N_SIZES (sizeof sizes / sizeof sizes[0])
#define GUARD 4
static const float guard_val = -12345.5f;

static float *alloc_f(size_t n)
{
    float *p = malloc((n + GUARD) * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < GUARD; i++)
        p[n + i] = guard_val;
    return p;
}

static void check_guard(const float *p, size_t n)
{
    for (size_t i = 0; i < GUARD; i++)
        assert_true(p[n + i] == guard_val);
}

/* Bitwise equality with a message naming the first difference. */
static void same_bits(const float *a, const float *b, size_t n,
                      const char *what, size_t size)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
            fail_msg("%s n=%zu: element %zu neon %a scalar %a", what, size, i,
                     (double)a[i], (double)b[i]);
}

/* Sprinkles special values the kernels must treat like the scalar twin. */
static void specials(float *x, size_t n)
{
    static const float sp[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY,
                               1e-40f, -1e-40f};
    for (size_t i = 0; i < n; i += 5)
        x[i] = sp[(i / 5) % (sizeof sp / sizeof sp[0])];
}

/* ------------------------------------------------------------ elementwise */

static void test_bias_relu_l1_l2_bitwise(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_SIZES; t++) {
        const size_t n = sizes[t], rows = 1 + n % 5, ld = n + 3;
        float *x = alloc_f(rows * ld), *y = alloc_f(rows * ld);
        float *a = alloc_f(rows * ld), *b = alloc_f(rows * ld);
        float *bias = alloc_f(n);
        tu_fill(x, rows * ld, 100 + n, -2, 2);
        tu_fill(y, rows * ld, 200 + n, -2, 2);
        tu_fill(bias, n, 300 + n, -1, 1);
        specials(x, rows * ld);

        memcpy(a, x, rows * ld * 4); memcpy(b, x, rows * ld * 4);
        kn.bias_add(rows, n, bias, a, ld);
        ks.bias_add(rows, n, bias, b, ld);
        same_bits(a, b, rows * ld, "bias_add", n);
        check_guard(a, rows * ld);

        memcpy(a, bias, n * 4); memcpy(b, bias, n * 4);
        a[n] = guard_val; /* db has exactly n entries */
        kn.bias_grad(rows, n, y, ld, a);
        ks.bias_grad(rows, n, y, ld, b);
        same_bits(a, b, n, "bias_grad", n);
        assert_true(a[n] == guard_val);

        kn.relu_fwd(n, x, a, 1); /* hint ignored on NEON */
        ks.relu_fwd(n, x, b, 0);
        same_bits(a, b, n, "relu_fwd", n);
        check_guard(a, rows * ld);
        memcpy(a, x, n * 4);
        kn.relu_fwd(n, a, a, 0); /* in place */
        same_bits(a, b, n, "relu_fwd in place", n);

        kn.relu_bwd(n, x, y, 1.25f, a);
        ks.relu_bwd(n, x, y, 1.25f, b);
        same_bits(a, b, n, "relu_bwd", n);
        memcpy(a, y, n * 4);
        kn.relu_bwd(n, x, a, 1.25f, a);
        same_bits(a, b, n, "relu_bwd in place", n);

        for (int l = 0; l < 2; l++) {
            const float c = l ? 0.0f : 3e-3f;
            memcpy(a, y, n * 4); memcpy(b, y, n * 4);
            kn.l1_grad(n, c, x, a);
            ks.l1_grad(n, c, x, b);
            same_bits(a, b, n, "l1_grad", n);
            memcpy(a, y, n * 4); memcpy(b, y, n * 4);
            kn.l2_grad(n, c, x, a);
            ks.l2_grad(n, c, x, b);
            same_bits(a, b, n, "l2_grad", n);
            check_guard(a, rows * ld);
        }
        free(x); free(y); free(a); free(b); free(bias);
    }
}

static void test_optim_step_bitwise(void **state)
{
    (void)state;
    /* kind, momentum, nesterov, weight_decay, l1, l2, prox */
    static const struct { int kind; float mom; int nest; float wd, l1, l2;
                          int prox; } cases[] = {
        {HT_OPT_SGD, 0.0f, 0, 0, 0, 0, 0},
        {HT_OPT_SGD, 0.0f, 0, 0, 1e-3f, 5e-4f, 0},
        {HT_OPT_SGD, 0.9f, 0, 0, 1e-3f, 5e-4f, 0},
        {HT_OPT_SGD, 0.9f, 1, 0, 1e-3f, 5e-4f, 0},
        {HT_OPT_SGD, 0.9f, 1, 0, 0.05f, 0, 1},
        {HT_OPT_SGD, 0.0f, 0, 0, 0.05f, 1e-3f, 1},
        {HT_OPT_ADAM, 0, 0, 0, 0, 0, 0},
        {HT_OPT_ADAM, 0, 0, 0, 1e-3f, 5e-4f, 0},
        {HT_OPT_ADAM, 0, 0, 0, 0.05f, 5e-4f, 1},
        {HT_OPT_ADAMW, 0, 0, 0.01f, 0, 0, 0},
        {HT_OPT_ADAMW, 0, 0, 0.01f, 1e-3f, 1e-4f, 0},
        {HT_OPT_ADAMW, 0, 0, 0.01f, 0.05f, 0, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t t = 0; t < N_SIZES; t++) {
            const size_t n = sizes[t];
            ht_optim_hyper h = {0};
            h.kind = cases[c].kind;
            h.lr = 0.05f;
            h.momentum = cases[c].mom;
            h.nesterov = cases[c].nest;
            h.beta1 = 0.9f; h.beta2 = 0.999f; h.eps = 1e-8f;
            h.bc1 = 1.0f - 0.9f * 0.9f * 0.9f;
            h.bc2 = 1.0f - 0.999f * 0.999f * 0.999f;
            h.weight_decay = cases[c].wd;
            h.l1 = cases[c].l1; h.l2 = cases[c].l2; h.prox_l1 = cases[c].prox;
            float *w0 = alloc_f(n), *g = alloc_f(n), *m0 = alloc_f(n), *v0 = alloc_f(n);
            float *w[2], *m[2], *v[2];
            tu_fill(w0, n, 1 + n + c, -0.1f, 0.1f);
            tu_fill(g, n, 2 + n + c, -1, 1);
            tu_fill(m0, n, 3 + n + c, -0.5f, 0.5f);
            tu_fill(v0, n, 4 + n + c, 0, 0.3f);
            for (size_t i = 0; i < n; i += 7)
                w0[i] = i % 2 ? 0.0f : -0.0f; /* sign(0) = 0 */
            for (int s = 0; s < 2; s++) {
                w[s] = alloc_f(n); m[s] = alloc_f(n); v[s] = alloc_f(n);
                memcpy(w[s], w0, n * 4); memcpy(m[s], m0, n * 4);
                memcpy(v[s], v0, n * 4);
            }
            /* three steps, so state feeds back */
            for (int step = 0; step < 3; step++) {
                kn.optim_step(n, w[0], g, m[0], v[0], &h);
                ks.optim_step(n, w[1], g, m[1], v[1], &h);
            }
            same_bits(w[0], w[1], n, "optim_step w", n);
            same_bits(m[0], m[1], n, "optim_step m", n);
            same_bits(v[0], v[1], n, "optim_step v", n);
            check_guard(w[0], n); check_guard(m[0], n); check_guard(v[0], n);
            if (h.kind == HT_OPT_SGD && h.momentum == 0.0f) {
                /* m and v may be NULL for plain SGD */
                memcpy(w[0], w0, n * 4);
                kn.optim_step(n, w[0], g, NULL, NULL, &h);
                memcpy(w[1], w0, n * 4);
                ks.optim_step(n, w[1], g, NULL, NULL, &h);
                same_bits(w[0], w[1], n, "optim_step sgd NULL state", n);
            }
            for (int s = 0; s < 2; s++) {
                free(w[s]); free(m[s]); free(v[s]);
            }
            free(w0); free(g); free(m0); free(v0);
        }
}

/* ---------------------------------------------------------------- dropout */

static void test_dropout_bitwise(void **state)
{
    (void)state;
    static const float ps[] = {0.0f, 0.1f, 0.5f, 0.9f};
    static const size_t ns[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48,
                                63, 64, 65, 255, 256, 1000, 4099};
    for (size_t ip = 0; ip < 4; ip++)
        for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++)
            for (uint64_t row = 0; row < 3; row++) {
                const size_t n = ns[in], nw = (n + 31) / 32;
                const uint64_t key = ht_dropout_key(42 + in, (uint32_t)ip, 7, row);
                const uint32_t thr = ht_dropout_threshold(ps[ip]);
                const float scale = 1.0f / (1.0f - ps[ip]);
                uint32_t *bn = malloc((nw + 1) * 4), *bs = malloc((nw + 1) * 4);
                assert_non_null(bn); assert_non_null(bs);
                bn[nw] = bs[nw] = 0xdeadbeefu;
                kn.dropout_mask(key, n, thr, bn);
                ks.dropout_mask(key, n, thr, bs);
                if (memcmp(bn, bs, (nw + 1) * 4) != 0)
                    fail_msg("dropout_mask n=%zu p=%g row=%llu differs", n,
                             (double)ps[ip], (unsigned long long)row);
                float *x = alloc_f(n), *yn = alloc_f(n), *ys = alloc_f(n);
                tu_fill(x, n, 9 + n, -3, 3);
                specials(x, n);
                memset(bn, 0, nw * 4);
                kn.dropout_fwd(key, n, thr, scale, x, yn, bn, 0);
                ks.dropout_fwd(key, n, thr, scale, x, ys, bs, 0);
                same_bits(yn, ys, n, "dropout_fwd", n);
                assert_memory_equal(bn, bs, (nw + 1) * 4);
                check_guard(yn, n);
                memcpy(yn, x, n * 4);
                kn.dropout_fwd(key, n, thr, scale, yn, yn, bn, 0); /* in place */
                same_bits(yn, ys, n, "dropout_fwd in place", n);
                kn.dropout_bwd(n, x, bs, scale, yn, 0);
                ks.dropout_bwd(n, x, bs, scale, ys, 0);
                same_bits(yn, ys, n, "dropout_bwd", n);
                check_guard(yn, n);
                memcpy(yn, x, n * 4);
                kn.dropout_bwd(n, yn, bs, scale, yn, 0);
                same_bits(yn, ys, n, "dropout_bwd in place", n);
                free(x); free(yn); free(ys); free(bn); free(bs);
            }
}

/* dropout_fwd2 / dropout_mask2: two rows (distinct keys, row 1's key not
 * derived from row 0's) against two calls of the scalar one-row kernels,
 * out of place and in place; bits words past the row and floats past each
 * row must stay untouched (n = 0 writes nothing at all). */
static void test_dropout2_bitwise(void **state)
{
    (void)state;
    static const float ps[] = {0.0f, 0.1f, 0.5f, 0.9f};
    static const size_t ns[] = {0, 1, 7, 17, 31, 32, 33, 255, 1003};
    const uint32_t poison = 0xdeadbeefu;
    for (size_t ip = 0; ip < 4; ip++)
        for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++) {
            const size_t n = ns[in], nw = (n + 31) / 32;
            const uint64_t k0 = ht_dropout_key(5 + in, (uint32_t)ip, 11, 0);
            const uint64_t k1 = ht_dropout_key(5 + in, (uint32_t)ip, 11, 1);
            const uint32_t thr = ht_dropout_threshold(ps[ip]);
            const float scale = 1.0f / (1.0f - ps[ip]);
            uint32_t *b[4], *r[2]; /* b: neon row 0/1, then in-place runs */
            for (int t = 0; t < 4; t++) {
                b[t] = malloc((nw + 1) * 4);
                assert_non_null(b[t]);
                for (size_t w = 0; w <= nw; w++)
                    b[t][w] = poison;
            }
            for (int t = 0; t < 2; t++) {
                r[t] = malloc((nw + 1) * 4);
                assert_non_null(r[t]);
                for (size_t w = 0; w <= nw; w++)
                    r[t][w] = poison;
            }
            ks.dropout_mask(k0, n, thr, r[0]);
            ks.dropout_mask(k1, n, thr, r[1]);
            kn.dropout_mask2(k0, k1, n, thr, b[0], b[1]);
            for (int t = 0; t < 2; t++)
                if (memcmp(b[t], r[t], (nw + 1) * 4) != 0)
                    fail_msg("dropout_mask2 n=%zu p=%g row %d differs", n,
                             (double)ps[ip], t);

            float *x0 = alloc_f(n), *x1 = alloc_f(n);
            float *y0 = alloc_f(n), *y1 = alloc_f(n);
            float *s0 = alloc_f(n), *s1 = alloc_f(n);
            tu_fill(x0, n, 31 + n, -3, 3);
            tu_fill(x1, n, 37 + n, -3, 3);
            specials(x0, n);
            specials(x1 + (n > 2 ? 2 : 0), n > 2 ? n - 2 : n);
            ks.dropout_fwd(k0, n, thr, scale, x0, s0, r[0], 0);
            ks.dropout_fwd(k1, n, thr, scale, x1, s1, r[1], 0);
            kn.dropout_fwd2(k0, k1, n, thr, scale, x0, x1, y0, y1, b[0], b[1], 0);
            same_bits(y0, s0, n, "dropout_fwd2 row 0", n);
            same_bits(y1, s1, n, "dropout_fwd2 row 1", n);
            check_guard(y0, n);
            check_guard(y1, n);
            assert_memory_equal(b[0], r[0], (nw + 1) * 4);
            assert_memory_equal(b[1], r[1], (nw + 1) * 4);

            /* in place, both rows */
            memcpy(y0, x0, n * 4);
            memcpy(y1, x1, n * 4);
            kn.dropout_fwd2(k0, k1, n, thr, scale, y0, y1, y0, y1, b[2], b[3], 0);
            same_bits(y0, s0, n, "dropout_fwd2 in place row 0", n);
            same_bits(y1, s1, n, "dropout_fwd2 in place row 1", n);
            check_guard(y0, n);
            check_guard(y1, n);
            assert_memory_equal(b[2], r[0], (nw + 1) * 4);
            assert_memory_equal(b[3], r[1], (nw + 1) * 4);

            /* the scalar twin of the two-row entry agrees too */
            ks.dropout_fwd2(k0, k1, n, thr, scale, x0, x1, y0, y1, b[2], b[3], 0);
            same_bits(y0, s0, n, "scalar dropout_fwd2 row 0", n);
            same_bits(y1, s1, n, "scalar dropout_fwd2 row 1", n);

            free(x0); free(x1); free(y0); free(y1); free(s0); free(s1);
            for (int t = 0; t < 4; t++)
                free(b[t]);
            free(r[0]); free(r[1]);
        }
}

/* Thresholds at and past the ends of the 16-bit draw's range: 1 (only
 * r = 0 drops), 65535 (only r = 65535 keeps), and values no
 * ht_dropout_threshold returns (> 65535: the scalar's r >= thr drops
 * everything), through all four generating entries. */
static void test_dropout_thr_edges(void **state)
{
    (void)state;
    static const uint32_t thrs[] = {1u, 65535u, 65536u, 0xFFFFFFFFu};
    static const size_t ns[] = {16, 47, 100};
    for (size_t it = 0; it < 4; it++)
        for (size_t in = 0; in < 3; in++) {
            const size_t n = ns[in], nw = (n + 31) / 32;
            const uint32_t thr = thrs[it];
            const uint64_t k0 = ht_dropout_key(3, 1, 2, in), k1 = k0 + 1;
            uint32_t bn[2][5], bs[2][5]; /* nw <= 4 words, then a guard */
            assert_true(nw < 5);
            float *x0 = alloc_f(n), *x1 = alloc_f(n);
            float *y[2] = {alloc_f(n), alloc_f(n)}, *s[2] = {alloc_f(n), alloc_f(n)};
            tu_fill(x0, n, 71 + n, -3, 3);
            tu_fill(x1, n, 73 + n, -3, 3);
            memset(bn, 0xab, sizeof bn);
            memset(bs, 0xab, sizeof bs);
            kn.dropout_mask(k0, n, thr, bn[0]);
            ks.dropout_mask(k0, n, thr, bs[0]);
            assert_memory_equal(bn, bs, sizeof bn);
            kn.dropout_mask2(k0, k1, n, thr, bn[0], bn[1]);
            ks.dropout_mask(k1, n, thr, bs[1]);
            assert_memory_equal(bn, bs, sizeof bn);
            memset(bn, 0xab, sizeof bn);
            kn.dropout_fwd(k0, n, thr, 2.0f, x0, y[0], bn[0], 0);
            ks.dropout_fwd(k0, n, thr, 2.0f, x0, s[0], bs[0], 0);
            same_bits(y[0], s[0], n, "dropout_fwd thr edge", n);
            assert_memory_equal(bn[0], bs[0], sizeof bn[0]);
            memset(bn, 0xab, sizeof bn);
            kn.dropout_fwd2(k0, k1, n, thr, 2.0f, x0, x1, y[0], y[1], bn[0], bn[1], 0);
            ks.dropout_fwd(k1, n, thr, 2.0f, x1, s[1], bs[1], 0);
            assert_memory_equal(bn, bs, sizeof bn);
            for (int r = 0; r < 2; r++) {
                same_bits(y[r], s[r], n, "dropout_fwd2 thr edge", n);
                check_guard(y[r], n);
            }
            free(x0); free(x1);
            for (int r = 0; r < 2; r++) {
                free(y[r]); free(s[r]);
            }
        }
}

/* ---------------------------------------------------------------- softmax */

static void test_softmax(void **state)
{
    (void)state;
    static const size_t ns[] = {1, 3, 7, 10, 17, 255};
    static const float spread[] = {1.0f, 30.0f, 120.0f};
    for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++)
        for (size_t is = 0; is < 3; is++) {
            const size_t n = ns[in], m = 9, ld = n + 2;
            float *z = alloc_f(m * ld), *pn = alloc_f(m * ld), *ps = alloc_f(m * ld);
            float ln[9], ls[9];
            int32_t lab[9];
            tu_fill(z, m * ld, 5 + n + is, -spread[is], spread[is]);
            for (size_t i = 0; i < m; i++)
                lab[i] = (int32_t)((i * 7) % n);
            if (n > 2) /* a masked logit (not the label) has probability 0 */
                z[ld + ((size_t)lab[1] + 1) % n] = -INFINITY;
            kn.softmax_xent_fwd(m, n, z, ld, lab, pn, ld, ln, 0);
            ks.softmax_xent_fwd(m, n, z, ld, lab, ps, ld, ls, 0);
            check_guard(pn, m * ld);
            for (size_t i = 0; i < m; i++) {
                for (size_t j = 0; j < n; j++) {
                    double a = pn[i * ld + j], b = ps[i * ld + j];
                    if (!(fabs(a - b) <= 1e-5 * fabs(b) + 1e-38))
                        fail_msg("softmax n=%zu spread=%g [%zu][%zu]: neon %g "
                                 "scalar %g", n, (double)spread[is], i, j, a, b);
                }
                if (!(fabs((double)ln[i] - ls[i]) <= 1e-5 * (fabs((double)ls[i]) + 1)))
                    fail_msg("loss n=%zu row %zu: neon %g scalar %g", n, i,
                             (double)ln[i], (double)ls[i]);
            }
            /* without labels the loss is not written */
            ln[0] = 7.0f;
            kn.softmax_xent_fwd(m, n, z, ld, NULL, pn, ld, ln, 0);
            assert_true(ln[0] == 7.0f);

            float *dn = alloc_f(m * ld), *ds = alloc_f(m * ld);
            memcpy(dn, ps, m * ld * 4); memcpy(ds, ps, m * ld * 4);
            kn.softmax_xent_bwd(m, n, ps, ld, lab, 1.0f / 9, dn, ld, 1);
            ks.softmax_xent_bwd(m, n, ps, ld, lab, 1.0f / 9, ds, ld, 0);
            same_bits(dn, ds, m * ld, "softmax_xent_bwd", n);
            check_guard(dn, m * ld);
            free(z); free(pn); free(ps); free(dn); free(ds);
        }
}

/* exp through two-logit rows [0, x]: the sum 1 + e^x rounds the same way
 * in both tables, so p1 = e^x / (1 + e^x) isolates exp's error. */
static void test_exp_accuracy(void **state)
{
    (void)state;
    const size_t m = 4096 / HT_TEST_SCALE * 4;
    float *z = malloc(m * 2 * 4), *pn = malloc(m * 2 * 4), *ps = malloc(m * 2 * 4);
    assert_non_null(z); assert_non_null(pn); assert_non_null(ps);
    for (size_t i = 0; i < m; i++) {
        z[2 * i] = 0.0f;
        z[2 * i + 1] = -110.0f * (float)i / (float)(m - 1);
    }
    kn.softmax_xent_fwd(m, 2, z, 2, NULL, pn, 2, NULL, 0);
    ks.softmax_xent_fwd(m, 2, z, 2, NULL, ps, 2, NULL, 0);
    double worst = 0;
    for (size_t i = 0; i < m; i++) {
        double a = pn[2 * i + 1], b = ps[2 * i + 1];
        /* 3e-7 relative = 2.5 ulp: exp's 1 ulp, expf's 0.5 and the product
         * with the shared 1/sum; below FLT_MIN one subnormal step more */
        double e = fabs(a - b) / (3e-7 * fabs(b) + 1.5e-45);
        if (e > worst)
            worst = e;
        if (!(e <= 1.0))
            fail_msg("exp(%a): neon p=%a scalar p=%a", (double)z[2 * i + 1], a, b);
        assert_true(pn[2 * i] == ps[2 * i] || fabs((double)pn[2 * i] - ps[2 * i]) <= 1.2e-7);
    }
    print_message("exp sweep over [-110, 0]: worst error %.3f of tolerance\n", worst);
    free(z); free(pn); free(ps);
}

/* ------------------------------------------------------------------- GEMM */

/* The packing contract, written out plainly. */
static void ref_pack(size_t w, size_t width, size_t k, const float *x,
                     size_t rs, size_t cs, float *xp)
{
    for (size_t r = 0; r < w; r += width, xp += width * k)
        for (size_t p = 0; p < k; p++)
            for (size_t i = 0; i < width; i++)
                xp[p * width + i] = r + i < w ? x[(r + i) * rs + p * cs] : 0.0f;
}

static void test_packing(void **state)
{
    (void)state;
    static const size_t ms[] = {1, 7, 8, 9, 12, 13, 17, 25, 255};
    static const size_t kk[] = {1, 3, 4, 5, 17, 64};
    const size_t MR = (size_t)kn.mr, NR = (size_t)kn.nr;
    for (size_t im = 0; im < sizeof ms / sizeof ms[0]; im++)
        for (size_t ik = 0; ik < sizeof kk / sizeof kk[0]; ik++)
            for (int layout = 0; layout < 3; layout++) {
                const size_t w = ms[im], k = kk[ik], ld = (layout ? w : k) + 3;
                /* 0: row-major (cs = 1), 1: transposed (rs = 1),
                 * 2: neither stride 1 */
                size_t rs = layout == 1 ? 1 : ld, cs = layout == 1 ? ld : 1;
                if (layout == 2) {
                    rs = 2 * ld;
                    cs = 2;
                }
                const size_t span = (w - 1) * rs + (k - 1) * cs + 1;
                float *x = malloc(span * 4);
                assert_non_null(x);
                tu_fill(x, span, 77 + w + k, -1, 1);
                for (int ab = 0; ab < 2; ab++) {
                    const size_t width = ab ? NR : MR;
                    const size_t sz = (w + width - 1) / width * width * k;
                    float *got = alloc_f(sz), *want = malloc(sz * 4);
                    assert_non_null(want);
                    ref_pack(w, width, k, x, rs, cs, want);
                    if (ab)
                        kn.pack_b(k, w, x, cs, rs, got); /* (p, j) at p*rsb + j*csb */
                    else
                        kn.pack_a(w, k, x, rs, cs, got);
                    if (memcmp(got, want, sz * 4) != 0)
                        fail_msg("pack_%c w=%zu k=%zu layout=%d differs",
                                 ab ? 'b' : 'a', w, k, layout);
                    check_guard(got, sz);
                    free(got); free(want);
                }
                free(x);
            }
}

/* One micro-kernel call against a double reference on the same panels,
 * C inside a padded buffer whose outside must stay untouched. */
static void ukr_case(size_t m, size_t n, size_t k, float alpha, float beta,
                     int epi_kind, unsigned bit0)
{
    const size_t MR = (size_t)kn.mr, NR = (size_t)kn.nr, ldc = NR + 5;
    float *ap = malloc((MR * k + 1) * 4), *bp = malloc((NR * k + 1) * 4);
    float *c = malloc((MR + 1) * ldc * 4), *c0 = malloc((MR + 1) * ldc * 4);
    float bias[32];
    uint32_t mask[(MR + 1) * 2];
    assert_non_null(ap); assert_non_null(bp); assert_non_null(c); assert_non_null(c0);
    tu_fill(ap, MR * k + 1, 1000 + m * 13 + k, -1, 1);
    tu_fill(bp, NR * k + 1, 2000 + n * 7 + k, -1, 1);
    /* the panels' padding is zero, as pack_a/pack_b leave it */
    for (size_t p = 0; p < k; p++) {
        for (size_t i = m; i < MR; i++)
            ap[p * MR + i] = 0.0f;
        for (size_t j = n; j < NR; j++)
            bp[p * NR + j] = 0.0f;
    }
    tu_fill(c0, (MR + 1) * ldc, 3000 + m + n, -1, 1);
    if (beta == 0.0f)
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                c0[i * ldc + j] = NAN;
    tu_fill(bias, 32, 4000 + n, -1, 1);
    uint64_t s = 5000 + m * 31 + n + bit0;
    for (size_t i = 0; i < (MR + 1) * 2; i++)
        mask[i] = (uint32_t)tu_rand(&s);
    ht_ukr_epi e = {epi_kind & 1 ? bias : NULL, (epi_kind >> 1) & 1,
                    epi_kind & 4 ? mask : NULL, 2, bit0, 1.5f};
    memcpy(c, c0, (MR + 1) * ldc * 4);
    kn.gemm_ukr(k, alpha, ap, bp, beta, c, ldc, m, n, epi_kind ? &e : NULL);
    for (size_t i = 0; i <= MR; i++)
        for (size_t j = 0; j < ldc; j++) {
            const float got = c[i * ldc + j];
            if (i >= m || j >= n) {
                if (memcmp(&got, &c0[i * ldc + j], 4) != 0)
                    fail_msg("ukr m=%zu n=%zu k=%zu wrote C[%zu][%zu] outside "
                             "the tile", m, n, k, i, j);
                continue;
            }
            double acc = 0, mag = 0;
            for (size_t p = 0; p < k; p++) {
                acc += (double)ap[p * MR + i] * bp[p * NR + j];
                mag += fabs((double)ap[p * MR + i] * bp[p * NR + j]);
            }
            double v = alpha * acc;
            if (beta != 0.0f)
                v += (double)beta * c0[i * ldc + j];
            int dropped = 0;
            if (epi_kind) {
                if (e.bias)
                    v += e.bias[j];
                if (e.relu && !(v > 0))
                    v = 0;
                if (e.mask) {
                    size_t t = bit0 + j;
                    if ((mask[i * 2 + t / 32] >> (t % 32)) & 1u)
                        v *= 1.5;
                    else
                        dropped = 1, v = 0;
                }
            }
            const double tol = 1e-6 * (fabs(alpha) * mag + fabs(beta) + 3) + 1e-6;
            if (dropped ? got != 0.0f : !(fabs(got - v) <= tol))
                fail_msg("ukr m=%zu n=%zu k=%zu alpha=%g beta=%g epi=%d bit0=%u "
                         "C[%zu][%zu]=%g want %g", m, n, k, (double)alpha,
                         (double)beta, epi_kind, bit0, i, j, (double)got, v);
        }
    free(ap); free(bp); free(c); free(c0);
}

static void test_ukr_edges_and_epilogue(void **state)
{
    (void)state;
    static const size_t kk[] = {0, 1, 3, 17, 100};
    static const float ab[][2] = {{1, 0}, {1, 1}, {-0.5f, 0.25f}, {0, 2}};
    for (size_t m = 1; m <= (size_t)kn.mr; m++)
        for (size_t n = 1; n <= (size_t)kn.nr; n++)
            for (size_t ik = 0; ik < 5; ik++)
                for (size_t a = 0; a < 4; a++)
                    ukr_case(m, n, kk[ik], ab[a][0], ab[a][1], 0, 0);
    /* every epilogue combination, mask bits at every offset in the word */
    for (size_t m = 1; m <= (size_t)kn.mr; m += 3)
        for (size_t n = 1; n <= (size_t)kn.nr; n++)
            for (int epi = 1; epi < 8; epi++)
                for (unsigned bit0 = 0; bit0 < 32; bit0 += (epi & 4) ? 1 : 32)
                    ukr_case(m, n, 9, 1.0f, epi & 1 ? 0.0f : 0.5f, epi, bit0);
}

/* The small-N paths against a double reference: op(A) element (i,p) at
 * a[i*rsa + p*csa], op(B) element (p,j) at b[p*rsb + j*csb]. */
static void smalln_case(int dot, size_t m, size_t n, size_t k, float alpha,
                        float beta, int epi_kind, size_t pad)
{
    const size_t lda = (dot ? k : m) + pad, ldc = n + pad, mld = 2;
    const size_t ldb = (dot ? k : n) + pad; /* dot: B^T (n x k); bcast: B */
    const size_t rsa = dot ? lda : 1, csa = dot ? 1 : lda;
    const size_t rsb = dot ? 1 : ldb, csb = dot ? ldb : 1;
    const size_t asz = (dot ? m : k) * lda, bsz = (dot ? n : k) * ldb;
    float *a = malloc(asz * 4), *b = malloc(bsz * 4);
    float *c = alloc_f(m * ldc), *c0 = malloc(m * ldc * 4), bias[12];
    uint32_t *mask = malloc(m * mld * 4);
    assert_non_null(a); assert_non_null(b); assert_non_null(c0); assert_non_null(mask);
    tu_fill(a, asz, 31 + m + k, -1, 1);
    tu_fill(b, bsz, 32 + n + k, -1, 1);
    tu_fill(c0, m * ldc, 33 + m * n, -1, 1);
    tu_fill(bias, 12, 34 + n, -1, 1);
    uint64_t s = 35 + m + n + k;
    for (size_t i = 0; i < m * mld; i++)
        mask[i] = (uint32_t)tu_rand(&s);
    const unsigned bit0 = (unsigned)(m * 7 + n) % 32;
    if (beta == 0.0f)
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                c0[i * ldc + j] = NAN;
    ht_ukr_epi e = {epi_kind & 1 ? bias : NULL, (epi_kind >> 1) & 1,
                    epi_kind & 4 ? mask : NULL, mld, bit0, 1.5f};
    memcpy(c, c0, m * ldc * 4);
    if (dot)
        kn.gemm_dot(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                    epi_kind ? &e : NULL);
    else
        kn.gemm_bcast(m, n, k, alpha, a, lda, b, rsb, csb, beta, c, ldc,
                      epi_kind ? &e : NULL);
    check_guard(c, m * ldc);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < ldc; j++) {
            const float got = c[i * ldc + j];
            if (j >= n) {
                assert_true(memcmp(&got, &c0[i * ldc + j], 4) == 0);
                continue;
            }
            double acc = 0, mag = 0;
            for (size_t p = 0; p < k; p++) {
                double t = (double)a[i * rsa + p * csa] * b[p * rsb + j * csb];
                acc += t;
                mag += fabs(t);
            }
            double v = alpha * acc;
            if (beta != 0.0f)
                v += (double)beta * c0[i * ldc + j];
            int dropped = 0;
            if (epi_kind) {
                if (e.bias)
                    v += bias[j];
                if (e.relu && !(v > 0))
                    v = 0;
                if (e.mask) {
                    size_t t = bit0 + j;
                    if ((mask[i * mld + t / 32] >> (t % 32)) & 1u)
                        v *= 1.5;
                    else
                        dropped = 1, v = 0;
                }
            }
            const double tol = 1e-6 * (fabs(alpha) * mag + fabs(beta) + 3) + 1e-6;
            if (dropped ? got != 0.0f : !(fabs(got - v) <= tol))
                fail_msg("gemm_%s m=%zu n=%zu k=%zu epi=%d C[%zu][%zu]=%g want %g",
                         dot ? "dot" : "bcast", m, n, k, epi_kind, i, j,
                         (double)got, v);
        }
    free(a); free(b); free(c); free(c0); free(mask);
}

static void test_smalln_paths(void **state)
{
    (void)state;
    static const size_t ms[] = {1, 3, 4, 5, 8, 9, 17};
    static const size_t kk[] = {1, 3, 4, 5, 17, 64};
    assert_true(kn.small_n_max >= 10 && kn.small_n_max <= 12);
    for (int dot = 0; dot < 2; dot++)
        for (size_t im = 0; im < sizeof ms / sizeof ms[0]; im++)
            for (size_t n = 1; n <= kn.small_n_max; n++)
                for (size_t ik = 0; ik < sizeof kk / sizeof kk[0]; ik++) {
                    const size_t m = ms[im], k = kk[ik];
                    smalln_case(dot, m, n, k, 1.0f, 0.0f, 0, (m + n) % 3);
                    smalln_case(dot, m, n, k, -0.5f, 0.75f, (int)((m + n + k) % 8), 1);
                }
    /* n == 12 with B rows contiguous: the direct-load branch of bcast */
    smalln_case(0, 19, 12, 23, 1.0f, 1.0f, 7, 0);
}

/* A row's small-N result may not depend on which rows a call covers
 * (threads split the rows): rows computed alone equal rows computed in a
 * block, bit for bit. */
static void test_smalln_row_split(void **state)
{
    (void)state;
    const size_t m = 21, n = 10, k = 37;
    float *a = malloc(m * k * 4), *bt = malloc(n * k * 4), *at = malloc(k * m * 4);
    float *c1 = malloc(m * n * 4), *c2 = malloc(m * n * 4);
    assert_non_null(a); assert_non_null(bt); assert_non_null(at);
    assert_non_null(c1); assert_non_null(c2);
    tu_fill(a, m * k, 51, -1, 1);
    tu_fill(bt, n * k, 52, -1, 1);
    for (size_t i = 0; i < m; i++)
        for (size_t p = 0; p < k; p++)
            at[p * m + i] = a[i * k + p];
    kn.gemm_dot(m, n, k, 1.0f, a, k, bt, k, 0.0f, c1, n, NULL);
    for (size_t i0 = 0; i0 < m; i0 += 3)
        kn.gemm_dot(m - i0 < 3 ? m - i0 : 3, n, k, 1.0f, a + i0 * k, k, bt, k,
                    0.0f, c2 + i0 * n, n, NULL);
    assert_memory_equal(c1, c2, m * n * 4);
    /* bcast reads B as op(B) = bt^T: element (p, j) at bt[j*k + p] */
    kn.gemm_bcast(m, n, k, 1.0f, at, m, bt, 1, k, 0.0f, c1, n, NULL);
    for (size_t i0 = 0; i0 < m; i0 += 5)
        kn.gemm_bcast(m - i0 < 5 ? m - i0 : 5, n, k, 1.0f, at + i0, m, bt, 1, k,
                      0.0f, c2 + i0 * n, n, NULL);
    assert_memory_equal(c1, c2, m * n * 4);
    free(a); free(bt); free(at); free(c1); free(c2);
}

static void test_count_zeros(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_SIZES; t++) {
        const size_t n = sizes[t];
        float *x = alloc_f(n);
        tu_fill(x, n, 61 + n, -1, 1);
        for (size_t i = 0; i < n; i += 3)
            x[i] = i % 2 ? -0.0f : 0.0f;
        specials(x, n);
        assert_int_equal(kn.count_zeros(n, x), ks.count_zeros(n, x));
        free(x);
    }
}

static void gemm_vs_scalar(int ta, int tb, size_t m, size_t n, size_t k,
                           float alpha, float beta, size_t pad, int with_epi)
{
    const size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    const size_t arows = ta ? k : m, brows = tb ? n : k, mld = (n + 31) / 32 + 1;
    float *a = malloc(arows * lda * 4), *b = malloc(brows * ldb * 4);
    float *cn = alloc_f(m * ldc), *cs = alloc_f(m * ldc), *c0 = malloc(m * ldc * 4);
    float *bias = malloc(n * 4);
    uint32_t *mask = malloc(m * mld * 4);
    assert_non_null(a); assert_non_null(b); assert_non_null(c0);
    assert_non_null(bias); assert_non_null(mask);
    tu_fill(a, arows * lda, 7 + m + k, -1, 1);
    tu_fill(b, brows * ldb, 8 + n + k, -1, 1);
    tu_fill(c0, m * ldc, 9 + m + n, -1, 1);
    tu_fill(bias, n, 10 + n, -1, 1);
    uint64_t s = 11 + m + n + k;
    for (size_t i = 0; i < m * mld; i++)
        mask[i] = (uint32_t)tu_rand(&s);
    ht_epilogue e = {bias, 1, mask, mld, 2.0f};
    float *c[2] = {cn, cs};
    const char *isa[2] = {"neon", "scalar"};
    for (int t = 0; t < 2; t++) {
        assert_int_equal(ht_isa_select(isa[t]), HT_OK);
        memcpy(c[t], c0, m * ldc * 4);
        assert_int_equal(ht_sgemm_ex(ta, tb, m, n, k, alpha, a, lda, b, ldb,
                                     beta, c[t], ldc, with_epi ? &e : NULL), HT_OK);
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < ldc; j++) {
            const double x = cn[i * ldc + j], y = cs[i * ldc + j];
            if (j >= n) { /* padding untouched */
                assert_true(memcmp(&cn[i * ldc + j], &c0[i * ldc + j], 4) == 0);
                continue;
            }
            if (!(fabs(x - y) <= 2e-6 * (double)(k + 2) * (1 + fabs(y))))
                fail_msg("sgemm ta=%d tb=%d m=%zu n=%zu k=%zu epi=%d C[%zu][%zu]: "
                         "neon %g scalar %g", ta, tb, m, n, k, with_epi, i, j, x, y);
        }
    check_guard(cn, m * ldc);
    free(a); free(b); free(cn); free(cs); free(c0); free(bias); free(mask);
}

static void test_sgemm_neon_vs_scalar(void **state)
{
    (void)state;
    static const size_t sz[] = {1, 7, 17, 255};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t im = 0; im < 4; im++)
                for (size_t in = 0; in < 4; in++)
                    for (size_t ik = 0; ik < 4; ik++) {
                        const size_t m = sz[im], n = sz[in], k = sz[ik];
                        if (m * n * k > 255u * 255 * 17 / HT_TEST_SCALE)
                            continue;
                        gemm_vs_scalar(ta, tb, m, n, k, 1.0f, 0.0f, 1 + (m + k) % 3,
                                       (int)((m + n + k) % 2));
                    }
    /* more than one K, M and N block (kc = 256, mc = 128) with beta */
    gemm_vs_scalar(0, 0, 130, 37, 300, -0.75f, 0.5f, 2, 1);
    gemm_vs_scalar(1, 1, 140, 13, 270, 1.0f, 1.0f, 0, 0);
    ht_isa_select("neon");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bias_relu_l1_l2_bitwise),
        cmocka_unit_test(test_optim_step_bitwise),
        cmocka_unit_test(test_dropout_bitwise),
        cmocka_unit_test(test_dropout2_bitwise),
        cmocka_unit_test(test_dropout_thr_edges),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_exp_accuracy),
        cmocka_unit_test(test_packing),
        cmocka_unit_test(test_ukr_edges_and_epilogue),
        cmocka_unit_test(test_smalln_paths),
        cmocka_unit_test(test_smalln_row_split),
        cmocka_unit_test(test_count_zeros),
        cmocka_unit_test(test_sgemm_neon_vs_scalar),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

#else

static void test_not_aarch64(void **state)
{
    (void)state;
    assert_false(ht_isa_available("neon"));
    skip(); /* the NEON table exists only in aarch64 builds */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_aarch64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
