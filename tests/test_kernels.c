/* Every elementwise entry of every kernel table this build and CPU can run,
 * against the scalar twin (simd/scalar/elementwise.c), over awkward sizes
 * (0, 1, 7, 17, 255, 1003), unaligned pointers and special values, with
 * guard words after each output that must stay untouched.
 *
 * Equality: bitwise for everything except softmax_xent_fwd, whose vector
 * exp (about 1 ulp) and 8-lane row sum differ from expf and a sequential
 * sum by rounding (the AVX-512 and AVX2 tables' agree bitwise): probabilities within 2e-6 relative, losses within
 * 2e-6*(1+|loss|) (the observed worst case is below 1e-6). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hpctrain.h"
#include "rng.h"
#include "table.h"
#include "testutil.h"

static const size_t sizes[] = {0, 1, 7, 17, 255, 1003};
#define N_SIZES (sizeof sizes / sizeof sizes[0])
#define GUARD 24       /* floats after every output that must not change */
#define CANARY 0x7fa5a5a5u

static ht_kernels scalar;

/* The next available table after index *t, or NULL when none is left. */
static const ht_kernels *next_table(size_t *t)
{
    for (; ht_isa_known(*t); (*t)++) {
        if (!ht_isa_available(ht_isa_known(*t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(*t)), HT_OK);
        (*t)++;
        return ht_kernels_active();
    }
    return NULL;
}

/* A buffer of n floats at a chosen misalignment (in floats) from a 64-byte
 * boundary, followed by GUARD canary words. */
typedef struct buf {
    float *base, *p;
    size_t n;
} buf;

static buf buf_new(size_t n, size_t misalign)
{
    buf b;
    b.base = aligned_alloc(64, ((n + misalign + GUARD) * 4 + 63) / 64 * 64);
    assert_non_null(b.base);
    b.p = b.base + misalign;
    b.n = n;
    uint32_t c = CANARY;
    for (size_t i = 0; i < n + GUARD; i++)
        memcpy(&b.p[i], &c, 4);
    return b;
}

static void buf_check_guard(const buf *b)
{
    for (size_t i = b->n; i < b->n + GUARD; i++) {
        uint32_t c;
        memcpy(&c, &b->p[i], 4);
        if (c != CANARY)
            fail_msg("write past the end: element %zu of a %zu-float buffer",
                     i, b->n);
    }
}

/* Uniform values with special ones sprinkled in: +-0, tiny, subnormal,
 * and (when allow_nan) NaN and +-inf. */
static void fill_special(float *x, size_t n, uint64_t seed, int allow_nan)
{
    tu_fill(x, n, seed, -2.0f, 2.0f);
    uint64_t s = seed * 7 + 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = tu_rand(&s) % 16;
        if (r == 0)
            x[i] = 0.0f;
        else if (r == 1)
            x[i] = -0.0f;
        else if (r == 2)
            x[i] = 1e-40f;
        else if (r == 3)
            x[i] = -1e-30f;
        else if (r == 4 && allow_nan)
            x[i] = NAN;
        else if (r == 5 && allow_nan)
            x[i] = (i & 1) ? INFINITY : -INFINITY;
    }
}

static void expect_same(const float *a, const float *b, size_t n,
                        const char *what, const char *isa, size_t size)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], 4) != 0)
            fail_msg("%s [%s] n=%zu: element %zu is %a, scalar twin %a", what,
                     isa, size, i, (double)a[i], (double)b[i]);
}

static void test_unary(void **state)
{
    (void)state;
    size_t t = 0;
    for (const ht_kernels *k; (k = next_table(&t)) != NULL;)
        for (size_t si = 0; si < N_SIZES; si++)
            for (size_t mis = 0; mis < 3; mis += 1) {
                size_t n = sizes[si];
                buf x = buf_new(n, mis), y = buf_new(n, (mis + 1) % 3);
                buf g = buf_new(n, (mis + 2) % 3), r = buf_new(n, 0);
                buf r2 = buf_new(n, 0);
                fill_special(x.p, n, 10 + n, 1);
                fill_special(y.p, n, 20 + n, 1);
                /* relu_fwd, also in place */
                k->relu_fwd(n, x.p, g.p, 0);
                scalar.relu_fwd(n, x.p, r.p, 0);
                expect_same(g.p, r.p, n, "relu_fwd", k->name, n);
                k->relu_fwd(n, x.p, g.p, 1); /* streaming stores */
                expect_same(g.p, r.p, n, "relu_fwd streamed", k->name, n);
                memcpy(g.p, x.p, n * 4);
                k->relu_fwd(n, g.p, g.p, 1);
                expect_same(g.p, r.p, n, "relu_fwd in place", k->name, n);
                /* relu_bwd: y after relu/dropout has exact zeros */
                scalar.relu_fwd(n, y.p, r2.p, 0);
                k->relu_bwd(n, r2.p, x.p, 1.25f, g.p);
                scalar.relu_bwd(n, r2.p, x.p, 1.25f, r.p);
                expect_same(g.p, r.p, n, "relu_bwd", k->name, n);
                /* count_zeros */
                assert_int_equal(k->count_zeros(n, x.p),
                                 scalar.count_zeros(n, x.p));
                assert_int_equal(k->count_zeros(n, r2.p),
                                 scalar.count_zeros(n, r2.p));
                /* l1_grad, l2_grad: g += coef * f(w) */
                for (int which = 0; which < 2; which++) {
                    fill_special(g.p, n, 30 + n, 0);
                    memcpy(r.p, g.p, n * 4);
                    if (which == 0) {
                        k->l1_grad(n, 0.375f, x.p, g.p);
                        scalar.l1_grad(n, 0.375f, x.p, r.p);
                    } else {
                        k->l2_grad(n, 0.1f, x.p, g.p);
                        scalar.l2_grad(n, 0.1f, x.p, r.p);
                    }
                    expect_same(g.p, r.p, n, which ? "l2_grad" : "l1_grad",
                                k->name, n);
                }
                buf_check_guard(&g);
                buf_check_guard(&x);
                free(x.base); free(y.base); free(g.base); free(r.base);
                free(r2.base);
            }
}

static void test_l1_sign_of_zero(void **state)
{
    (void)state;
    const float w[4] = {0.0f, -0.0f, 3.0f, -1e-40f};
    size_t t = 0;
    for (const ht_kernels *k; (k = next_table(&t)) != NULL;) {
        float g[4] = {1.0f, 1.0f, 1.0f, 1.0f};
        k->l1_grad(4, 0.5f, w, g);
        assert_true(g[0] == 1.0f && g[1] == 1.0f); /* sign(+-0) = 0 */
        assert_true(g[2] == 1.5f && g[3] == 0.5f);
    }
}

static void test_bias(void **state)
{
    (void)state;
    static const size_t ms[] = {0, 1, 3, 9, 17};
    size_t t = 0;
    for (const ht_kernels *k; (k = next_table(&t)) != NULL;)
        for (size_t mi = 0; mi < 5; mi++)
            for (size_t si = 0; si < N_SIZES; si++) {
                size_t m = ms[mi], n = sizes[si], ld = n + (m + n) % 5;
                buf c = buf_new(m * ld, 1), r = buf_new(m * ld, 0);
                buf b = buf_new(n, 3), db = buf_new(n, 2), rb = buf_new(n, 0);
                fill_special(c.p, m * ld, 40 + n, 0);
                fill_special(b.p, n, 41 + n, 0);
                fill_special(db.p, n, 42 + n, 0);
                memcpy(r.p, c.p, m * ld * 4);
                memcpy(rb.p, db.p, n * 4);
                k->bias_add(m, n, b.p, c.p, ld);
                scalar.bias_add(m, n, b.p, r.p, ld);
                expect_same(c.p, r.p, m * ld, "bias_add", k->name, n);
                k->bias_grad(m, n, c.p, ld, db.p);
                scalar.bias_grad(m, n, r.p, ld, rb.p);
                expect_same(db.p, rb.p, n, "bias_grad", k->name, n);
                buf_check_guard(&c);
                buf_check_guard(&db);
                free(c.base); free(r.base); free(b.base); free(db.base);
                free(rb.base);
            }
}

/* One softmax_xent_fwd + bwd check: m rows of n classes, row stride ld
 * (the padding between rows must stay untouched; in the logits it holds
 * NaN, so a kernel that let it into a max or a sum would fail). */
static void check_softmax(const ht_kernels *k, size_t m, size_t n, size_t ld)
{
    const size_t len = m ? (m - 1) * ld + n : 0;
    /* logits exactly as long as the block, so ASan sees any read past it */
    float *z = malloc((len ? len : 1) * sizeof *z);
    buf p = buf_new(m * ld, 2), rp = buf_new(m * ld, 0);
    buf p2 = buf_new(m * ld, 1), d = buf_new(m * ld, 3);
    buf rd = buf_new(m * ld, 0);
    float *loss = malloc((m + 1) * sizeof *loss);
    float *rloss = malloc((m + 1) * sizeof *rloss);
    int32_t *label = malloc((m + 1) * sizeof *label);
    assert_true(z && loss && rloss && label);
    for (size_t i = 0; i < m; i++) {
        tu_fill(z + i * ld, n, 50 + n + 1000 * i, -20.0f, 20.0f);
        for (size_t j = n; j < ld && i + 1 < m; j++)
            z[i * ld + j] = NAN;
    }
    /* row 1: a huge spread, so most exps underflow (flush to 0) */
    if (m > 1)
        for (size_t j = 0; j < n; j++)
            z[ld + j] = -150.0f * (float)j / (float)n;
    /* rows 2 and 12: all equal */
    for (size_t j = 0; j < n; j++) {
        if (m > 2)
            z[2 * ld + j] = 3.0f;
        if (m > 12)
            z[12 * ld + j] = 3.0f;
    }
    /* rows 9 and 20: a huge spread in the second and third 8-row blocks */
    for (size_t j = 0; j < n; j++) {
        if (m > 9)
            z[9 * ld + j] = 100.0f * (float)(j % 3) - 120.0f;
        if (m > 20)
            z[20 * ld + j] = 100.0f * (float)(j % 3) - 120.0f;
    }
    for (size_t i = 0; i < m; i++)
        label[i] = (int32_t)((i * 7919) % n);
    /* row 3: a masked logit (-inf, not the label) has probability 0 */
    if (m > 3 && n > 1)
        z[3 * ld + ((size_t)label[3] + 1) % n] = -INFINITY;
    loss[m] = rloss[m] = 12345.0f; /* one past the last row: untouched */
    memcpy(rp.p, p.p, m * ld * 4); /* padding copied too */
    memcpy(p2.p, p.p, m * ld * 4);
    k->softmax_xent_fwd(m, n, z, ld, label, p.p, ld, loss, 0);
    scalar.softmax_xent_fwd(m, n, z, ld, label, rp.p, ld, rloss, 0);
    for (size_t i = 0; i < m; i++) {
        double e = tu_max_rel_err(p.p + i * ld, rp.p + i * ld, n, 1e-37, 2e-6);
        if (!(e <= 1.0))
            fail_msg("softmax probs [%s] m=%zu n=%zu ld=%zu row %zu: err %g",
                     k->name, m, n, ld, i, e);
        if (!(fabsf(loss[i] - rloss[i]) <= 2e-6f * (1.0f + fabsf(rloss[i]))))
            fail_msg("softmax loss [%s] m=%zu n=%zu ld=%zu row %zu: %g vs %g",
                     k->name, m, n, ld, i, (double)loss[i], (double)rloss[i]);
        /* padding between rows untouched */
        expect_same(p.p + i * ld + n, rp.p + i * ld + n, ld - n,
                    "softmax padding", k->name, n);
    }
    if (loss[m] != 12345.0f)
        fail_msg("softmax [%s] m=%zu n=%zu: loss written past row m-1",
                 k->name, m, n);
    /* without labels: the same probabilities, bitwise */
    k->softmax_xent_fwd(m, n, z, ld, NULL, p2.p, ld, NULL, 0);
    expect_same(p2.p, p.p, m * ld, "softmax without labels", k->name, n);
    /* streaming stores (stream = 1): the same bits, into a 64-byte aligned
     * output (where a kernel may stream) and a misaligned one (where it
     * must fall back), padding and guard untouched */
    for (size_t mis = 0; mis < 2; mis++) {
        buf ps = buf_new(m * ld, mis);
        float *ls = malloc((m + 1) * sizeof *ls);
        assert_non_null(ls);
        memcpy(ps.p, rp.p, m * ld * 4); /* the same padding as p */
        ls[m] = 12345.0f;
        k->softmax_xent_fwd(m, n, z, ld, label, ps.p, ld, ls, 1);
        expect_same(ps.p, p.p, m * ld, "softmax streamed", k->name, n);
        expect_same(ls, loss, m, "softmax streamed loss", k->name, n);
        if (ls[m] != 12345.0f)
            fail_msg("softmax [%s] stream m=%zu n=%zu: loss written past "
                     "row m-1", k->name, m, n);
        buf_check_guard(&ps);
        free(ps.base);
        free(ls);
    }
    /* backward on the scalar probabilities: bitwise */
    fill_special(d.p, m * ld, 51, 0);
    memcpy(rd.p, d.p, m * ld * 4);
    k->softmax_xent_bwd(m, n, rp.p, ld, label, 0.125f, d.p, ld, 0);
    scalar.softmax_xent_bwd(m, n, rp.p, ld, label, 0.125f, rd.p, ld, 0);
    expect_same(d.p, rd.p, m * ld, "softmax_xent_bwd", k->name, n);
    if (n > 0) {
        /* the rows reread as m*ld/n contiguous rows (ld == n), the layout
         * with a flat fast path, into a 64-byte aligned output (where a
         * kernel streams whole lines) and into d (3 floats past a line
         * start: a plain head first) */
        const size_t mc = m * ld / n;
        int32_t *lab = malloc((mc + 1) * sizeof *lab);
        assert_non_null(lab);
        for (size_t i = 0; i < mc; i++)
            lab[i] = (int32_t)((i * 31) % n);
        buf da = buf_new(m * ld, 0);
        fill_special(d.p, m * ld, 52, 0);
        memcpy(rd.p, d.p, m * ld * 4);
        scalar.softmax_xent_bwd(mc, n, rp.p, n, lab, 0.5f, rd.p, n, 0);
        for (int st = 0; st < 4; st++) { /* st & 1: streaming stores */
            float *out = st & 2 ? da.p : d.p;
            k->softmax_xent_bwd(mc, n, rp.p, n, lab, 0.5f, out, n, st & 1);
            expect_same(out, rd.p, mc * n, "softmax_xent_bwd ld=n", k->name,
                        n);
        }
        buf_check_guard(&da);
        free(da.base);
        free(lab);
    }
    buf_check_guard(&p);
    buf_check_guard(&p2);
    buf_check_guard(&d);
    free(z); free(p.base); free(rp.base); free(p2.base); free(d.base);
    free(rd.base); free(loss); free(rloss); free(label);
}

static void test_softmax(void **state)
{
    (void)state;
    /* widths around the 8-rows-at-once path (n <= 16: 4-, 2- and
     * 1-column pieces) and beyond */
    static const size_t ns[] = {1,  2,  3,  4,  5,  6,   7,   8,  9,
                                10, 11, 13, 15, 16, 17, 255, 1003};
    /* rows: 29 = three blocks of 8 and five more, padded (ld = n+3);
     * 93 contiguous rows reach the prefetching loop (more than 8 + 64
     * rows), cross a 64-row group of deferred losses and end in 8 + 5;
     * 13 = 8 + 5; 16 exactly; 8, one block (streamed: only the final
     * flush writes it); 5 (no block) */
    static const size_t shapes[][2] = {{29, 3}, {93, 0}, {13, 1}, {16, 0},
                                       {8, 0},  {5, 2},  {0, 0}};
    size_t t = 0;
    for (const ht_kernels *k; (k = next_table(&t)) != NULL;)
        for (size_t si = 0; si < sizeof ns / sizeof ns[0]; si++)
            for (size_t hi = 0; hi < sizeof shapes / sizeof shapes[0]; hi++)
                check_softmax(k, shapes[hi][0], ns[si], ns[si] + shapes[hi][1]);
}

/* The AVX-512 softmax forward (16 rows per register) applies the AVX2
 * kernel's operations in its order, lane by lane, and hands it the rows
 * after the last block of 16: the two tables' probabilities and losses
 * must be equal bits, for every width around the 16-class limit, padded
 * and contiguous rows, rows with special logits, and with the AVX-512
 * kernel streaming its stores. */
static void test_softmax_avx512_is_avx2(void **state)
{
    (void)state;
    if (!ht_isa_available("avx2") || !ht_isa_available("avx512"))
        skip();
    /* 16-row blocks two at a time, then one, then the AVX2 kernel:
     * 47 = 32 + 15, 64 = 2 x 32, 93 = 2 x 32 + 16 + 13, 143 = 4 x 32 + 15 */
    static const size_t ms[] = {1, 15, 16, 17, 29, 32, 47, 64, 93, 143, 255};
    enum { MMAX = 255, LDMAX = 20 };
    float *z = malloc(MMAX * LDMAX * sizeof *z);
    /* 64-byte aligned, so the streaming run below may stream */
    float *p[2] = {aligned_alloc(64, 20480), aligned_alloc(64, 20480)};
    float *loss[2] = {malloc((MMAX + 1) * 4), malloc((MMAX + 1) * 4)};
    int32_t *label = malloc(MMAX * sizeof *label);
    assert_true(z && p[0] && p[1] && loss[0] && loss[1] && label);
    static const char *const isa[2] = {"avx2", "avx512"};
    for (size_t im = 0; im < sizeof ms / sizeof ms[0]; im++)
        for (size_t n = 1; n <= 17; n++)
            for (size_t pad = 0; pad <= 3; pad += 3) {
                const size_t m = ms[im], ld = n + pad;
                tu_fill(z, MMAX * LDMAX, 60 + n + 100 * m, -20.0f, 20.0f);
                for (size_t i = 0; i < m; i++)
                    label[i] = (int32_t)((i * 7919 + n) % n);
                /* special rows in the first and the second block of 16 */
                for (size_t r = 3; r < m; r += 16) {
                    z[r * ld] = NAN;
                    if (r + 1 < m)
                        z[(r + 1) * ld + (n - 1)] = INFINITY;
                    if (r + 2 < m)
                        z[(r + 2) * ld + n / 2] = -INFINITY;
                    if (r + 4 < m)
                        for (size_t j = 0; j < n; j++)
                            z[(r + 4) * ld + j] = -150.0f * (float)j;
                }
                for (int t = 0; t < 2; t++) {
                    assert_int_equal(ht_isa_select(isa[t]), HT_OK);
                    tu_fill(p[t], MMAX * LDMAX, 61, -1, 1);
                    tu_fill(loss[t], MMAX + 1, 62, -1, 1);
                    /* avx512 with streaming stores, avx2 without */
                    ht_kernels_active()->softmax_xent_fwd(
                        m, n, z, ld, label, p[t], ld, loss[t], t);
                }
                if (memcmp(p[0], p[1], MMAX * LDMAX * 4) != 0 ||
                    memcmp(loss[0], loss[1], (MMAX + 1) * 4) != 0)
                    fail_msg("softmax m=%zu n=%zu ld=%zu: avx512 differs "
                             "from avx2", m, n, ld);
            }
    free(z); free(p[0]); free(p[1]); free(loss[0]); free(loss[1]);
    free(label);
}

/* The optimiser's w, m, v against the reference copies: equal bits, and
 * nothing written past their ends. */
static void expect_optim_state(const buf *w, const buf *m, const buf *v,
                               const buf *rw, const buf *rm, const buf *rv,
                               size_t len, const char *what, const char *isa,
                               size_t n)
{
    char name[48];
    snprintf(name, sizeof name, "%s w", what);
    expect_same(w->p, rw->p, len, name, isa, n);
    snprintf(name, sizeof name, "%s m", what);
    expect_same(m->p, rm->p, len, name, isa, n);
    snprintf(name, sizeof name, "%s v", what);
    expect_same(v->p, rv->p, len, name, isa, n);
    buf_check_guard(w);
    buf_check_guard(m);
    buf_check_guard(v);
}

static void test_optim_step(void **state)
{
    (void)state;
    ht_optim_hyper hs[16];
    size_t nh = 0;
    {
        /* SGD-momentum with no L1 term, with and without L2: the SIMD
         * kernels drop the l1*sign(w) term there (see the AVX2 one) */
        ht_optim_hyper h = {0};
        h.kind = HT_OPT_SGD;
        h.lr = 0.05f;
        h.momentum = 0.9f;
        h.l2 = 1e-2f;
        hs[nh++] = h;
        h.l2 = 0.0f;
        hs[nh++] = h;
    }
    for (int prox = 0; prox < 2; prox++) {
        ht_optim_hyper h = {0};
        h.kind = HT_OPT_SGD;
        h.lr = 0.05f;
        h.l1 = 1e-3f;
        h.l2 = 1e-2f;
        h.prox_l1 = prox;
        hs[nh++] = h;                       /* plain SGD */
        h.momentum = 0.9f;
        hs[nh++] = h;                       /* momentum */
        h.nesterov = 1;
        hs[nh++] = h;                       /* Nesterov */
        h.nesterov = 0;
        h.kind = HT_OPT_ADAM;
        h.lr = 1e-3f;
        h.l1 = 0.3f; /* big enough to make zeros with the proximal form */
        h.beta1 = 0.9f;
        h.beta2 = 0.999f;
        h.eps = 1e-8f;
        h.bc1 = 1.0f - 0.9f * 0.9f * 0.9f;
        h.bc2 = 1.0f - 0.999f * 0.999f * 0.999f;
        hs[nh++] = h;                       /* Adam */
        h.kind = HT_OPT_ADAMW;
        h.weight_decay = 0.01f;
        hs[nh++] = h;                       /* AdamW */
        h.l1 = 0.0f;
        h.l2 = 0.0f;
        hs[nh++] = h;                       /* AdamW, no regulariser */
    }
    size_t t = 0;
    for (const ht_kernels *k; (k = next_table(&t)) != NULL;)
        for (size_t hi = 0; hi < nh; hi++)
            for (size_t si = 0; si < N_SIZES; si++) {
                const ht_optim_hyper *h = &hs[hi];
                size_t n = sizes[si], mis = (hi + si) % 4;
                buf w = buf_new(n, mis), g = buf_new(n, (mis + 1) % 4);
                buf m = buf_new(n, (mis + 2) % 4), v = buf_new(n, (mis + 3) % 4);
                buf rw = buf_new(n, 0), rm = buf_new(n, 0), rv = buf_new(n, 0);
                fill_special(w.p, n, 60 + n, 0);
                if (hi < 2) /* the no-L1 cases: signed zeros in g too */
                    fill_special(g.p, n, 61 + n, 0);
                else
                    tu_fill(g.p, n, 61 + n, -1.0f, 1.0f);
                tu_fill(m.p, n, 62 + n, -0.1f, 0.1f);
                tu_fill(v.p, n, 63 + n, 0.0f, 0.01f);
                memcpy(rw.p, w.p, n * 4);
                memcpy(rm.p, m.p, n * 4);
                memcpy(rv.p, v.p, n * 4);
                int has_m = h->kind != HT_OPT_SGD || h->momentum != 0.0f;
                int has_v = h->kind != HT_OPT_SGD;
                /* two steps, so state written by the kernel is read back */
                for (int step = 0; step < 2; step++) {
                    k->optim_step(n, w.p, g.p, has_m ? m.p : NULL,
                                  has_v ? v.p : NULL, h);
                    scalar.optim_step(n, rw.p, g.p, has_m ? rm.p : NULL,
                                      has_v ? rv.p : NULL, h);
                }
                expect_optim_state(&w, &m, &v, &rw, &rm, &rv, n, "optim_step",
                                   k->name, n);
                if (h->prox_l1 && h->l1 > 0.2f && n > 100)
                    assert_true(scalar.count_zeros(n, w.p) > n / 10);
                free(w.base); free(g.base); free(m.base); free(v.base);
                free(rw.base); free(rm.base); free(rv.base);
            }
}

/* optim_tile: the same bits as optim_step row by row, on tiles inside
 * padded rows (ld > n: the padding is never touched), the gradient's rows
 * at their own stride (a scratch tile, ldg = n, or a tensor, ldg = ld),
 * for every table. */
static void test_optim_tile(void **state)
{
    (void)state;
    static const size_t shapes[][4] = {
        /* rows, n, ld, ldg */
        {8, 32, 1024, 32}, {8, 16, 40, 40}, {6, 16, 16, 16}, {1, 7, 9, 7},
        {3, 1, 5, 1}, {5, 17, 33, 19}, {0, 4, 8, 4}, {7, 0, 3, 3},
        {8, 32, 1024, 1024},
    };
    ht_optim_hyper hs[3] = {{0}, {0}, {0}};
    hs[0].kind = HT_OPT_SGD;
    hs[0].lr = 0.05f;
    hs[0].momentum = 0.9f;
    hs[0].l2 = 1e-2f;
    hs[1] = hs[0];
    hs[1].l1 = 1e-3f;
    hs[1].nesterov = 1;
    hs[2].kind = HT_OPT_ADAMW;
    hs[2].lr = 1e-3f;
    hs[2].beta1 = 0.9f;
    hs[2].beta2 = 0.999f;
    hs[2].eps = 1e-8f;
    hs[2].bc1 = 0.1f;
    hs[2].bc2 = 0.001f;
    hs[2].weight_decay = 0.01f;
    hs[2].l1 = 0.3f;
    hs[2].prox_l1 = 1;
    size_t t = 0;
    for (const ht_kernels *k; (k = next_table(&t)) != NULL;)
        for (size_t hi = 0; hi < 3; hi++)
            for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
                const size_t rows = shapes[si][0], n = shapes[si][1];
                const size_t ld = shapes[si][2], len = rows * ld + 1;
                const size_t ldg = shapes[si][3], glen = rows * ldg + 1;
                const ht_optim_hyper *h = &hs[hi];
                const int has_v = h->kind != HT_OPT_SGD;
                buf w = buf_new(len, 1), g = buf_new(glen, 0);
                buf m = buf_new(len, 2), v = buf_new(len, 3);
                buf rw = buf_new(len, 0), rm = buf_new(len, 0);
                buf rv = buf_new(len, 0);
                fill_special(w.p, len, 70 + si, 0);
                fill_special(g.p, glen, 71 + si, 0);
                tu_fill(m.p, len, 72 + si, -0.1f, 0.1f);
                tu_fill(v.p, len, 73 + si, 0.0f, 0.01f);
                memcpy(rw.p, w.p, len * 4);
                memcpy(rm.p, m.p, len * 4);
                memcpy(rv.p, v.p, len * 4);
                k->optim_tile(rows, n, ld, w.p, g.p, ldg, m.p,
                              has_v ? v.p : NULL, h);
                for (size_t i = 0; i < rows; i++)
                    scalar.optim_step(n, rw.p + i * ld, g.p + i * ldg,
                                      rm.p + i * ld,
                                      has_v ? rv.p + i * ld : NULL, h);
                expect_optim_state(&w, &m, &v, &rw, &rm, &rv, len, "optim_tile",
                                   k->name, n);
                free(w.base); free(g.base); free(m.base); free(v.base);
                free(rw.base); free(rm.base); free(rv.base);
            }
}

static void test_dropout_tables(void **state)
{
    (void)state;
    static const float ps[] = {0.0f, 0.1f, 0.5f, 0.9f, 0.999f};
    static const size_t ns[] = {0, 1, 7, 8, 17, 31, 32, 33, 63, 64, 65, 255,
                                1003};
    size_t t = 0;
    /* st = 1: the streaming-store hint, taken only where y is 32-byte
     * aligned (y's misalignment cycles through 0, 1, 2 floats) */
    for (const ht_kernels *k; (k = next_table(&t)) != NULL;)
      for (int st = 0; st < 2; st++)
        for (size_t pi = 0; pi < 5; pi++)
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                const size_t n = ns[ni], nw = (n + 31) / 32;
                const uint32_t thr = ht_dropout_threshold(ps[pi]);
                const float scale = 1.0f / (1.0f - ps[pi]);
                const uint64_t key = ht_dropout_key(7, (uint32_t)pi, ni, n);
                buf x = buf_new(n, ni % 3), y = buf_new(n, (ni + 1) % 3);
                buf ry = buf_new(n, 0), bits = buf_new(nw, 1);
                buf rbits = buf_new(nw, 0);
                uint32_t *b = (uint32_t *)bits.p, *rb = (uint32_t *)rbits.p;
                fill_special(x.p, n, 70 + n, 1);
                k->dropout_mask(key, n, thr, b);
                scalar.dropout_mask(key, n, thr, rb);
                assert_memory_equal(b, rb, nw * 4);
                if (n % 32)
                    assert_int_equal(rb[nw - 1] >> (n % 32), 0);
                memset(b, 0, nw * 4);
                k->dropout_fwd(key, n, thr, scale, x.p, y.p, b, st);
                scalar.dropout_fwd(key, n, thr, scale, x.p, ry.p, rb, 0);
                assert_memory_equal(b, rb, nw * 4);
                expect_same(y.p, ry.p, n, "dropout_fwd", k->name, n);
                /* in place */
                memcpy(y.p, x.p, n * 4);
                k->dropout_fwd(key, n, thr, scale, y.p, y.p, b, st);
                expect_same(y.p, ry.p, n, "dropout_fwd in place", k->name, n);
                /* two rows at once: row 1 is x reversed, in place */
                {
                    buf x1 = buf_new(n, st ? 0 : 2), b1 = buf_new(nw, 0);
                    buf ry1 = buf_new(n, 0), rb1 = buf_new(nw, 0);
                    uint32_t *bb1 = (uint32_t *)b1.p, *rbb1 = (uint32_t *)rb1.p;
                    for (size_t j = 0; j < n; j++)
                        x1.p[j] = x.p[n - 1 - j];
                    scalar.dropout_fwd(key ^ 1, n, thr, scale, x1.p, ry1.p, rbb1, 0);
                    k->dropout_fwd2(key, key ^ 1, n, thr, scale, x.p, x1.p, y.p,
                                    x1.p, b, bb1, st);
                    assert_memory_equal(b, rb, nw * 4);
                    assert_memory_equal(bb1, rbb1, nw * 4);
                    expect_same(y.p, ry.p, n, "dropout_fwd2 row 0", k->name, n);
                    expect_same(x1.p, ry1.p, n, "dropout_fwd2 row 1", k->name, n);
                    buf_check_guard(&x1);
                    buf_check_guard(&b1);
                    free(x1.base); free(b1.base); free(ry1.base); free(rb1.base);
                }
                /* backward from the bits, out of place and in place */
                k->dropout_bwd(n, x.p, rb, scale, y.p, st);
                expect_same(y.p, ry.p, n, "dropout_bwd", k->name, n);
                memcpy(y.p, x.p, n * 4);
                k->dropout_bwd(n, y.p, rb, scale, y.p, st);
                expect_same(y.p, ry.p, n, "dropout_bwd in place", k->name, n);
                if (thr == 0)
                    for (size_t j = 0; j < n; j++)
                        assert_true((rb[j / 32] >> (j % 32)) & 1u);
                buf_check_guard(&y);
                buf_check_guard(&bits);
                free(x.base); free(y.base); free(ry.base); free(bits.base);
                free(rbits.base);
            }
}

/* Thresholds at and beyond the 16-bit range: 65535 keeps only draws of
 * 65535; anything larger (outside ht_dropout_threshold's range) drops all,
 * as the scalar's r >= thr says. Every entry of every table, bitwise. */
static void test_dropout_thr_edges(void **state)
{
    (void)state;
    static const uint32_t thrs[] = {1u, 32768u, 65535u, 65536u, 0xFFFFFFFFu};
    static const size_t ns[] = {1, 16, 47, 100};
    size_t t = 0;
    for (const ht_kernels *k; (k = next_table(&t)) != NULL;)
        for (size_t it = 0; it < 5; it++)
            for (size_t in = 0; in < 4; in++) {
                const size_t n = ns[in], nw = (n + 31) / 32;
                const uint32_t thr = thrs[it];
                const uint64_t k0 = ht_dropout_key(3, 1, 2, in), k1 = k0 + 1;
                uint32_t b[2][5], r[2][5];
                float x[2][100], y[2][101], ry[2][101];
                for (size_t j = 0; j < n; j++) {
                    x[0][j] = (float)j - 20.5f;
                    x[1][j] = 3.25f - (float)j;
                }
                memset(b, 0xab, sizeof b);
                memset(r, 0xab, sizeof r);
                memset(y, 0xab, sizeof y);
                memset(ry, 0xab, sizeof ry);
                k->dropout_mask2(k0, k1, n, thr, b[0], b[1]);
                scalar.dropout_mask(k0, n, thr, r[0]);
                scalar.dropout_mask(k1, n, thr, r[1]);
                assert_memory_equal(b, r, sizeof b);
                k->dropout_fwd2(k0, k1, n, thr, 2.0f, x[0], x[1], y[0], y[1],
                                b[0], b[1], 0);
                scalar.dropout_fwd(k0, n, thr, 2.0f, x[0], ry[0], r[0], 0);
                scalar.dropout_fwd(k1, n, thr, 2.0f, x[1], ry[1], r[1], 0);
                assert_memory_equal(b, r, sizeof b);
                assert_memory_equal(y, ry, sizeof y); /* guards included */
                k->dropout_mask(k0, n, thr, b[0]);
                assert_memory_equal(b[0], r[0], nw * 4);
                if (thr > 0xFFFFu)
                    for (size_t w = 0; w < nw; w++)
                        assert_int_equal(b[0][w], 0);
            }
}

/* Many keys and lengths at one p: the bits of every table equal the
 * scalar's, so a lane or tail bug cannot hide behind a lucky key. */
static void test_dropout_many_keys(void **state)
{
    (void)state;
    enum { N = 1000 };
    uint32_t a[(N + 31) / 32], r[(N + 31) / 32];
    size_t t = 0;
    uint32_t a1[(N + 31) / 32 + 1], r1[(N + 31) / 32 + 1];
    for (const ht_kernels *k; (k = next_table(&t)) != NULL;)
        for (uint64_t row = 0; row < 500 / HT_TEST_SCALE; row++) {
            size_t n = N - row % 97, nw = (n + 31) / 32;
            uint64_t key = ht_dropout_key(123, 4, 5, row);
            uint32_t thr = (uint32_t)(row * 0x9E3779B9u) >> 16; /* 16-bit */
            k->dropout_mask(key, n, thr, a);
            scalar.dropout_mask(key, n, thr, r);
            assert_memory_equal(a, r, nw * 4);
            /* two rows at once; the word after row 1 must stay untouched */
            a1[nw] = 0xdeadbeefu;
            k->dropout_mask2(key ^ 7, key, n, thr, r1, a1);
            assert_memory_equal(a1, r, nw * 4);
            assert_int_equal(a1[nw], 0xdeadbeefu);
            scalar.dropout_mask(key ^ 7, n, thr, a);
            assert_memory_equal(a, r1, nw * 4);
        }
}

/* Raw keys at the edges of the SIMD seeders' 64-bit lane arithmetic
 * (splitmix64 on 64-bit lanes, its multiplies built from 32-bit ones):
 * zero, all ones, single high and low bits, carries across the 32-bit
 * halves, and keys that make one lane's splitmix state (key ^ lane gamma)
 * or its first input (that plus the splitmix increment) zero or all ones. */
static void test_dropout_edge_keys(void **state)
{
    (void)state;
    enum { N = 77, NW = (N + 31) / 32 };
    const uint64_t inc = HT_SPLITMIX_GAMMA;
    uint64_t keys[8 + 4 * HT_RNG_LANES];
    size_t nk = 0;
    keys[nk++] = 0;
    keys[nk++] = 1;
    keys[nk++] = ~0ull;
    keys[nk++] = 1ull << 63;
    keys[nk++] = 0xFFFFFFFFull;
    keys[nk++] = 1ull << 32;
    keys[nk++] = 0x7FFFFFFF80000000ull;
    keys[nk++] = inc;
    for (uint64_t l = 1; l <= HT_RNG_LANES; l++) {
        const uint64_t g = l * HT_RNG_LANE_GAMMA;
        keys[nk++] = g;                 /* lane state 0 */
        keys[nk++] = ~g;                /* lane state all ones */
        keys[nk++] = g ^ (0 - inc);     /* lane's first input 0 */
        keys[nk++] = g ^ (0 - 2 * inc); /* lane's second input 0 */
    }
    uint32_t a[NW], r[NW], a1[NW], r1[NW];
    size_t t = 0;
    for (const ht_kernels *k; (k = next_table(&t)) != NULL;)
        for (size_t i = 0; i < nk; i++) {
            const uint32_t thr = ht_dropout_threshold(0.5f);
            scalar.dropout_mask(keys[i], N, thr, r);
            scalar.dropout_mask(keys[(i + 1) % nk], N, thr, r1);
            k->dropout_mask(keys[i], N, thr, a);
            assert_memory_equal(a, r, sizeof a);
            k->dropout_mask2(keys[i], keys[(i + 1) % nk], N, thr, a, a1);
            assert_memory_equal(a, r, sizeof a);
            assert_memory_equal(a1, r1, sizeof a1);
        }
}

int main(void)
{
    ht_kernels_init_scalar(&scalar);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary),
        cmocka_unit_test(test_l1_sign_of_zero),
        cmocka_unit_test(test_bias),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_softmax_avx512_is_avx2),
        cmocka_unit_test(test_optim_step),
        cmocka_unit_test(test_optim_tile),
        cmocka_unit_test(test_dropout_tables),
        cmocka_unit_test(test_dropout_many_keys),
        cmocka_unit_test(test_dropout_edge_keys),
        cmocka_unit_test(test_dropout_thr_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
