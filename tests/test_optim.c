/* The optimiser step and the regularisers through the public API
 * (ht_optim_step, ht_l1_grad, ht_l2_grad) against values worked out by hand,
 * on every kernel table this build and CPU can run. The inputs are chosen
 * so the SGD results are exact in binary (powers of two), which makes the
 * expected values plain literals; the Adam cases use the closed forms that
 * hold for a constant gradient (bias-corrected m = g, v = g^2, so each step
 * moves w by lr*g/(|g|+eps)). Argument errors are checked too. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hpctrain.h"
#include "hpctrain/kernels.h"
#include "table.h"
#include "testutil.h"

/* Runs body once per available table. The arrays are 19 long (a full
 * vector, a tail) by repeating a 4-element pattern, so the SIMD main loop
 * and tail both meet every case. */
#define N 19
#define FOR_EACH_TABLE(t)                                   \
    for (size_t t = 0; ht_isa_known(t); t++)                \
        if (ht_isa_available(ht_isa_known(t)) &&            \
            ht_isa_select(ht_isa_known(t)) == HT_OK)

static void tile(float *dst, const float pat[4])
{
    for (size_t i = 0; i < N; i++)
        dst[i] = pat[i % 4];
}

static void expect_tiled(const float *x, const float want[4], float tol,
                         const char *what, const char *isa)
{
    for (size_t i = 0; i < N; i++)
        if (!(fabsf(x[i] - want[i % 4]) <= tol))
            fail_msg("%s [%s]: element %zu is %.9g, expected %.9g", what, isa,
                     i, (double)x[i], (double)want[i % 4]);
}

static const float W0[4] = {1.0f, -2.0f, 0.0f, 4.0f};
static const float G0[4] = {0.5f, 0.25f, -1.0f, 0.0f};

static ht_optim_hyper sgd(float lr)
{
    ht_optim_hyper h = {0};
    h.kind = HT_OPT_SGD;
    h.lr = lr;
    return h;
}

static void sgd_case(const ht_optim_hyper *h, const float m0[4],
                     const float want_w[4], const float want_m[4],
                     const char *what)
{
    FOR_EACH_TABLE(t) {
        float w[N], g[N], m[N];
        tile(w, W0);
        tile(g, G0);
        if (m0)
            tile(m, m0);
        assert_int_equal(ht_optim_step(N, w, g, m0 ? m : NULL, NULL, h), HT_OK);
        expect_tiled(w, want_w, 0.0f, what, ht_isa_known(t));
        if (want_m)
            expect_tiled(m, want_m, 0.0f, what, ht_isa_known(t));
        float g2[N];
        tile(g2, G0);
        assert_memory_equal(g, g2, sizeof g); /* g is read only */
    }
}

static void test_sgd(void **state)
{
    (void)state;
    ht_optim_hyper h = sgd(0.5f);
    /* w - 0.5 g */
    sgd_case(&h, NULL, (const float[4]){0.75f, -2.125f, 0.5f, 4.0f}, NULL,
             "plain SGD");
    /* L2 as scale: g' = g + 0.5 w = {1, -0.75, -1, 2} */
    h.l2 = 0.5f;
    sgd_case(&h, NULL, (const float[4]){0.5f, -1.625f, 0.5f, 3.0f}, NULL,
             "SGD + L2");
    /* L1 as sign, sign(0) = 0: g' = g + 0.25 sign(w) = {.75, 0, -1, .25} */
    h.l2 = 0.0f;
    h.l1 = 0.25f;
    sgd_case(&h, NULL, (const float[4]){0.625f, -2.0f, 0.5f, 3.875f}, NULL,
             "SGD + L1 sign");
    /* momentum 0.5, m = {1, 1, 0, -2}: v = 0.5 m + g = {1, .75, -1, -1} */
    h.l1 = 0.0f;
    h.momentum = 0.5f;
    const float m0[4] = {1.0f, 1.0f, 0.0f, -2.0f};
    const float v1[4] = {1.0f, 0.75f, -1.0f, -1.0f};
    sgd_case(&h, m0, (const float[4]){0.5f, -2.375f, 0.5f, 4.5f}, v1,
             "SGD momentum");
    /* Nesterov: d = g + 0.5 v = {1, .625, -1.5, -.5} */
    h.nesterov = 1;
    sgd_case(&h, m0, (const float[4]){0.5f, -2.3125f, 0.75f, 4.25f}, v1,
             "SGD Nesterov");
}

static void test_proximal_l1(void **state)
{
    (void)state;
    /* lr 0.5, l1 0.25: threshold 0.125 after the step; with g = 0 the step
     * does nothing, so w = sign(w) max(|w| - 0.125, 0) */
    const float w0[4] = {0.5f, -0.0625f, 0.125f, -2.0f};
    const float want[4] = {0.375f, 0.0f, 0.0f, -1.875f};
    FOR_EACH_TABLE(t) {
        float w[N], g[N] = {0};
        tile(w, w0);
        ht_optim_hyper h = sgd(0.5f);
        h.l1 = 0.25f;
        h.prox_l1 = 1;
        assert_int_equal(ht_optim_step(N, w, g, NULL, NULL, &h), HT_OK);
        expect_tiled(w, want, 0.0f, "proximal L1", ht_isa_known(t));
        /* exact zeros, positive zero, counted by the sparsity kernel */
        size_t zeros = 0;
        for (size_t i = 0; i < N; i++)
            if (i % 4 == 1 || i % 4 == 2) {
                uint32_t u;
                memcpy(&u, &w[i], 4);
                assert_int_equal(u, 0u);
                zeros++;
            }
        assert_int_equal(ht_kernels_active()->count_zeros(N, w), zeros);
        /* the subgradient form never gives exact zeros here: it moves
         * -0.0625 by 0.125 to +0.0625 */
        tile(w, w0);
        h.prox_l1 = 0;
        assert_int_equal(ht_optim_step(N, w, g, NULL, NULL, &h), HT_OK);
        expect_tiled(w, (const float[4]){0.375f, 0.0625f, 0.0f, -1.875f}, 0.0f,
                     "L1 subgradient", ht_isa_known(t));
    }
}

static ht_optim_hyper adam(int kind, int t)
{
    ht_optim_hyper h = {0};
    h.kind = kind;
    h.lr = 0.01f;
    h.beta1 = 0.9f;
    h.beta2 = 0.999f;
    h.eps = 1e-3f;
    h.bc1 = (float)(1.0 - pow(0.9, t));
    h.bc2 = (float)(1.0 - pow(0.999, t));
    return h;
}

static void test_adam(void **state)
{
    (void)state;
    FOR_EACH_TABLE(t) {
        float w[N], g[N], m[N] = {0}, v[N] = {0};
        tile(w, W0);
        tile(g, G0);
        for (int step = 1; step <= 3; step++) {
            ht_optim_hyper h = adam(HT_OPT_ADAM, step);
            assert_int_equal(ht_optim_step(N, w, g, m, v, &h), HT_OK);
        }
        float want[4];
        for (int i = 0; i < 4; i++)
            want[i] = W0[i] - 3 * 0.01f * G0[i] / (fabsf(G0[i]) + 1e-3f);
        expect_tiled(w, want, 2e-6f, "Adam, 3 steps", ht_isa_known(t));
        /* m after 3 steps = (1 - 0.9^3) g, v = (1 - 0.999^3) g^2 */
        float wm[4], wv[4];
        for (int i = 0; i < 4; i++) {
            wm[i] = (float)((1 - pow(0.9, 3)) * G0[i]);
            wv[i] = (float)((1 - pow(0.999, 3)) * G0[i] * G0[i]);
        }
        /* tolerances cover 0.9f, 0.999f not being exact in binary: 1 -
         * 0.999f is 4.7e-5 relative off 0.001 */
        expect_tiled(m, wm, 1e-6f, "Adam m", ht_isa_known(t));
        expect_tiled(v, wv, 1e-7f, "Adam v", ht_isa_known(t));
    }
}

static void test_adam_l2_and_adamw(void **state)
{
    (void)state;
    FOR_EACH_TABLE(t) {
        /* Adam + coupled L2, one step: g' = g + 0.5 w = {1, -.75, -1, 2} */
        float w[N], g[N], m[N] = {0}, v[N] = {0};
        tile(w, W0);
        tile(g, G0);
        ht_optim_hyper h = adam(HT_OPT_ADAM, 1);
        h.l2 = 0.5f;
        assert_int_equal(ht_optim_step(N, w, g, m, v, &h), HT_OK);
        const float gp[4] = {1.0f, -0.75f, -1.0f, 2.0f};
        float want[4];
        for (int i = 0; i < 4; i++)
            want[i] = W0[i] - 0.01f * gp[i] / (fabsf(gp[i]) + 1e-3f);
        expect_tiled(w, want, 2e-6f, "Adam + L2", ht_isa_known(t));

        /* AdamW, one step: w (1 - lr wd) - lr g/(|g|+eps), decay 0.5 */
        tile(w, W0);
        memset(m, 0, sizeof m);
        memset(v, 0, sizeof v);
        h = adam(HT_OPT_ADAMW, 1);
        h.weight_decay = 0.5f;
        assert_int_equal(ht_optim_step(N, w, g, m, v, &h), HT_OK);
        for (int i = 0; i < 4; i++)
            want[i] = W0[i] * (1 - 0.005f) - 0.01f * G0[i] / (fabsf(G0[i]) + 1e-3f);
        expect_tiled(w, want, 2e-6f, "AdamW", ht_isa_known(t));

        /* AdamW + proximal L1 (lr 0.01 * l1 10 = threshold 0.1) */
        tile(w, (const float[4]){0.05f, -0.5f, 0.0f, 1.0f});
        float g0[N] = {0};
        memset(m, 0, sizeof m);
        memset(v, 0, sizeof v);
        h = adam(HT_OPT_ADAMW, 1);
        h.l1 = 10.0f;
        h.prox_l1 = 1;
        assert_int_equal(ht_optim_step(N, w, g0, m, v, &h), HT_OK);
        expect_tiled(w, (const float[4]){0.0f, -0.4f, 0.0f, 0.9f}, 1e-6f,
                     "AdamW + proximal L1", ht_isa_known(t));
        assert_int_equal(ht_kernels_active()->count_zeros(N, w), 10);
    }
}

static void test_l1_l2_grad(void **state)
{
    (void)state;
    FOR_EACH_TABLE(t) {
        float w[N], g[N];
        tile(w, (const float[4]){-3.0f, 0.0f, -0.0f, 2.0f});
        tile(g, (const float[4]){1.0f, 1.0f, 1.0f, 1.0f});
        assert_int_equal(ht_l1_grad(N, 0.5f, w, g), HT_OK);
        expect_tiled(g, (const float[4]){0.5f, 1.0f, 1.0f, 1.5f}, 0.0f,
                     "ht_l1_grad", ht_isa_known(t));
        assert_int_equal(ht_l2_grad(N, 0.25f, w, g), HT_OK);
        expect_tiled(g, (const float[4]){-0.25f, 1.0f, 1.0f, 2.0f}, 0.0f,
                     "ht_l2_grad", ht_isa_known(t));
    }
}

static void test_bad_args(void **state)
{
    (void)state;
    float w[4] = {0}, g[4] = {0}, m[4] = {0}, v[4] = {0};
    ht_optim_hyper h = sgd(-1.0f);
    assert_int_equal(ht_optim_step(4, w, g, m, v, &h), HT_ERR_ARG);
    assert_true(strlen(ht_last_error()) > 0);
    h = sgd(NAN);
    assert_int_equal(ht_optim_step(4, w, g, m, v, &h), HT_ERR_ARG);
    h = sgd(0.1f);
    h.kind = 7;
    assert_int_equal(ht_optim_step(4, w, g, m, v, &h), HT_ERR_ARG);
    h = sgd(0.1f);
    h.momentum = 0.9f;
    assert_int_equal(ht_optim_step(4, w, g, NULL, NULL, &h), HT_ERR_ARG);
    h = adam(HT_OPT_ADAM, 1);
    h.bc1 = 0.0f;
    assert_int_equal(ht_optim_step(4, w, g, m, v, &h), HT_ERR_ARG);
    /* beta1, beta2 in [0,1), eps finite and > 0, as ht_config demands;
     * each refused before anything is written */
    static const float bad_beta[] = {-0.1f, 1.0f, NAN};
    static const float bad_eps[] = {0.0f, -1e-8f, NAN, INFINITY};
    for (size_t i = 0; i < 3; i++) {
        for (int which = 0; which < 2; which++) {
            h = adam(HT_OPT_ADAMW, 1);
            *(which ? &h.beta2 : &h.beta1) = bad_beta[i];
            w[0] = 1.0f;
            assert_int_equal(ht_optim_step(4, w, g, m, v, &h), HT_ERR_ARG);
            assert_true(w[0] == 1.0f);
        }
    }
    for (size_t i = 0; i < 4; i++) {
        h = adam(HT_OPT_ADAM, 1);
        h.eps = bad_eps[i];
        assert_int_equal(ht_optim_step(4, w, g, m, v, &h), HT_ERR_ARG);
        assert_non_null(strstr(ht_last_error(), "eps"));
    }
    h = adam(HT_OPT_ADAM, 1);
    assert_int_equal(ht_optim_step(4, w, g, m, NULL, &h), HT_ERR_ARG);
    assert_int_equal(ht_optim_step(4, w, g, m, v, NULL), HT_ERR_ARG);
    assert_int_equal(ht_l1_grad(4, -0.1f, w, g), HT_ERR_ARG);
    assert_int_equal(ht_l2_grad(4, INFINITY, w, g), HT_ERR_ARG);
    assert_int_equal(ht_l2_grad(4, 0.1f, NULL, g), HT_ERR_ARG);
    /* n == 0 needs no arrays */
    h = sgd(0.1f);
    assert_int_equal(ht_optim_step(0, NULL, NULL, NULL, NULL, &h), HT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd),
        cmocka_unit_test(test_proximal_l1),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_adam_l2_and_adamw),
        cmocka_unit_test(test_l1_l2_grad),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
