/* The dropout generator and the public ht_dropout_* API:
 *   - a known answer computed by an independent implementation of the
 *     definition in simd/rng.h (a Python transcription of splitmix64 and
 *     xoshiro128++), so the scalar twin itself is checked;
 *   - bitwise equality of masks and outputs between every available table;
 *   - a statistical battery: keep rate within a binomial bound over 10^7
 *     draws for p in {0.05, 0.1, 0.5, 0.9}, overall and per lane; chi-square
 *     on pairs of bits of every two draws of one step (both halves of a
 *     lane's output among them), consecutive outputs of one lane,
 *     adjacent rows, layers and steps; a runs test along a row and down a
 *     column; rows r and r+1 (and layers, steps, seeds) are not shifted
 *     copies, and a row does not repeat itself at lags 1..64;
 *   - the row-major API: leading dimensions, row0, split calls and OpenMP
 *     threads give the same bits, in-place use, p = 0, finite outputs, and
 *     argument errors.
 * Bounds are 5 standard deviations (or chi-square 3 df at 35, p ~ 1e-7):
 * the seeds are fixed, so the test is deterministic, and a real defect
 * (a dead lane, a shifted stream, a threshold off by a factor) lies far
 * outside them. HT_TEST_SCALE shrinks the draw counts under emulation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hpctrain.h"
#include "hpctrain/kernels.h"
#include "testutil.h"

static int bit(const uint32_t *b, size_t j)
{
    return (int)((b[j / 32] >> (j % 32)) & 1u);
}

/* Keep-bits of row `row` of (seed, layer, step) into b (n bits). */
static void row_mask(uint64_t seed, uint32_t layer, uint64_t step,
                     uint64_t row, size_t n, float p, uint32_t *b)
{
    assert_int_equal(ht_dropout_mask(ht_dropout_key(seed, layer, step, row), n,
                                     p, b), HT_OK);
}

static double pq_of(float p)
{
    return (double)ht_dropout_threshold(p) / 65536.0;
}

static void test_known_answer(void **state)
{
    (void)state;
    const uint64_t key = ht_dropout_key(1, 2, 3, 4);
    assert_true(key == 0xd55ccd4aeb3ccafbull);
    assert_int_equal(ht_dropout_threshold(0.3f), 19661u);
    assert_int_equal(ht_dropout_threshold(0.0f), 0u);
    assert_int_equal(ht_dropout_threshold(0.5f), 32768u);
    assert_int_equal(ht_dropout_threshold(0.99999f), 65535u);
    const uint32_t want[3] = {0xddff13ffu, 0xfffd724du, 0xeabfu};
    for (size_t t = 0; ht_isa_known(t); t++) {
        if (!ht_isa_available(ht_isa_known(t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
        uint32_t b[3] = {0, 0, 0xdeadbeefu};
        assert_int_equal(ht_dropout_mask(key, 80, 0.3f, b), HT_OK);
        assert_memory_equal(b, want, sizeof want);
    }
}

static void test_keep_rate(void **state)
{
    (void)state;
    static const float ps[] = {0.05f, 0.1f, 0.5f, 0.9f};
    const size_t n = 4096, rows = 10000000 / n / HT_TEST_SCALE + 1;
    uint32_t *b = malloc(n / 8);
    assert_non_null(b);
    for (size_t pi = 0; pi < 4; pi++) {
        uint64_t lane[16] = {0}, total = 0;
        for (size_t r = 0; r < rows; r++) {
            row_mask(2024, 1, 7, r, n, ps[pi], b);
            for (size_t j = 0; j < n; j++)
                lane[j % 16] += (uint64_t)bit(b, j);
        }
        const double q = 1.0 - pq_of(ps[pi]);
        const double draws = (double)(rows * n), per = draws / 16;
        for (int l = 0; l < 16; l++) {
            total += lane[l];
            double z = ((double)lane[l] - per * q) / sqrt(per * q * (1 - q));
            if (!(fabs(z) < 5.0))
                fail_msg("p=%g draw %d of a step: %llu kept of %.0f, z=%.2f",
                         (double)ps[pi], l, (unsigned long long)lane[l], per, z);
        }
        double z = ((double)total - draws * q) / sqrt(draws * q * (1 - q));
        if (!(fabs(z) < 5.0))
            fail_msg("p=%g: %llu kept of %.0f draws, z=%.2f", (double)ps[pi],
                     (unsigned long long)total, draws, z);
    }
    free(b);
}

/* Chi-square (3 degrees of freedom) of pair counts c[a*2+b] of (bit a,
 * bit b) against independence at keep probability q. */
static double chi2_pairs(const uint64_t c[4], double q)
{
    double n = (double)(c[0] + c[1] + c[2] + c[3]);
    double e[4] = {(1 - q) * (1 - q), (1 - q) * q, q * (1 - q), q * q};
    double x = 0;
    for (int i = 0; i < 4; i++) {
        double d = (double)c[i] - n * e[i];
        x += d * d / (n * e[i]);
    }
    return x;
}

static void check_chi2(const uint64_t c[4], double q, const char *what,
                       float p)
{
    double x = chi2_pairs(c, q);
    if (!(x < 35.0))
        fail_msg("%s at p=%g: pair chi-square %.1f (3 df, limit 35): "
                 "counts %llu %llu %llu %llu", what, (double)p, x,
                 (unsigned long long)c[0], (unsigned long long)c[1],
                 (unsigned long long)c[2], (unsigned long long)c[3]);
}

static void test_pair_independence(void **state)
{
    (void)state;
    static const float ps[] = {0.1f, 0.5f};
    const size_t n = 2048, rows = 1000 / HT_TEST_SCALE;
    uint32_t *a = malloc(n / 8), *b = malloc(n / 8);
    assert_non_null(a);
    assert_non_null(b);
    for (size_t pi = 0; pi < 2; pi++) {
        const float p = ps[pi];
        const double q = 1.0 - pq_of(p);
        uint64_t lanes[16][16][4] = {{{0}}}, same[4] = {0}, rowc[4] = {0},
                 layc[4] = {0}, stepc[4] = {0};
        for (size_t r = 0; r < rows; r++) {
            row_mask(99, 3, 11, 2 * r, n, p, a);
            /* every pair of the 16 draws of one vector step (ia < ib),
             * including the two halves of one lane's output */
            for (size_t j = 0; j < n; j += 16)
                for (int ia = 0; ia < 16; ia++)
                    for (int ib = ia + 1; ib < 16; ib++)
                        lanes[ia][ib][bit(a, j + (size_t)ia) * 2 +
                                      bit(a, j + (size_t)ib)]++;
            /* the same half of consecutive outputs of one lane: (j, j+16) */
            for (size_t j = 0; j + 16 < n; j++)
                same[bit(a, j) * 2 + bit(a, j + 16)]++;
            row_mask(99, 3, 11, 2 * r + 1, n, p, b);
            for (size_t j = 0; j < n; j++)
                rowc[bit(a, j) * 2 + bit(b, j)]++;
            row_mask(99, 4, 11, 2 * r, n, p, b);
            for (size_t j = 0; j < n; j++)
                layc[bit(a, j) * 2 + bit(b, j)]++;
            row_mask(99, 3, 12, 2 * r, n, p, b);
            for (size_t j = 0; j < n; j++)
                stepc[bit(a, j) * 2 + bit(b, j)]++;
        }
        for (int ia = 0; ia < 16; ia++)
            for (int ib = ia + 1; ib < 16; ib++)
                check_chi2(lanes[ia][ib], q, "a pair of draws of one step", p);
        check_chi2(same, q, "consecutive outputs of a lane", p);
        check_chi2(rowc, q, "adjacent rows", p);
        check_chi2(layc, q, "adjacent layers", p);
        check_chi2(stepc, q, "adjacent steps", p);
    }
    free(a);
    free(b);
}

/* Wald-Wolfowitz runs test on a bit sequence; returns z. */
static double runs_z(const unsigned char *x, size_t n)
{
    double n1 = 0, runs = 1;
    for (size_t i = 0; i < n; i++) {
        n1 += x[i];
        if (i && x[i] != x[i - 1])
            runs++;
    }
    double n0 = (double)n - n1, mu = 2 * n1 * n0 / (double)n + 1;
    double var = (mu - 1) * (mu - 2) / ((double)n - 1);
    return (runs - mu) / sqrt(var);
}

static void test_runs(void **state)
{
    (void)state;
    static const float ps[] = {0.1f, 0.5f};
    const size_t n = 1000000 / HT_TEST_SCALE, rows = 100000 / HT_TEST_SCALE;
    uint32_t *b = malloc((n + 31) / 32 * 4);
    unsigned char *x = malloc(n > rows ? n : rows);
    assert_non_null(b);
    assert_non_null(x);
    for (size_t pi = 0; pi < 2; pi++) {
        /* along one long row */
        row_mask(5, 0, 0, 0, n, ps[pi], b);
        for (size_t j = 0; j < n; j++)
            x[j] = (unsigned char)bit(b, j);
        double z = runs_z(x, n);
        if (!(fabs(z) < 5.0))
            fail_msg("runs along a row, p=%g: z=%.2f", (double)ps[pi], z);
        /* down a column: bit 13 of consecutive rows */
        for (size_t r = 0; r < rows; r++) {
            row_mask(5, 0, 0, r, 32, ps[pi], b);
            x[r] = (unsigned char)bit(b, 13);
        }
        z = runs_z(x, rows);
        if (!(fabs(z) < 5.0))
            fail_msg("runs down a column, p=%g: z=%.2f", (double)ps[pi], z);
    }
    free(b);
    free(x);
}

/* Agreement of a[j] and b[j+s] for every shift |s| <= 64 stays within 6
 * standard deviations of chance: b is not a (shifted) copy of a. */
static void check_not_shifted(const uint32_t *a, const uint32_t *b, size_t n,
                              const char *what)
{
    for (int s = -64; s <= 64; s++) {
        if (s == 0 && a == b)
            continue;
        size_t lo = s < 0 ? (size_t)-s : 0, hi = s > 0 ? n - (size_t)s : n;
        double agree = 0, cnt = (double)(hi - lo);
        for (size_t j = lo; j < hi; j++)
            agree += bit(a, j) == bit(b, (size_t)((ptrdiff_t)j + s));
        double z = (agree - cnt / 2) / sqrt(cnt / 4);
        if (!(fabs(z) < 6.0))
            fail_msg("%s: shift %d agrees on %.0f of %.0f bits (z=%.1f)", what,
                     s, agree, cnt, z);
    }
}

static void test_not_shifted_copies(void **state)
{
    (void)state;
    const size_t n = 4096;
    uint32_t a[4096 / 32], b[4096 / 32];
    for (uint64_t r = 0; r < 40 / HT_TEST_SCALE + 2; r++) {
        row_mask(77, 2, 9, r, n, 0.5f, a);
        check_not_shifted(a, a, n, "row r against itself (lags 1..64)");
        row_mask(77, 2, 9, r + 1, n, 0.5f, b);
        check_not_shifted(a, b, n, "rows r, r+1");
        row_mask(77, 3, 9, r, n, 0.5f, b);
        check_not_shifted(a, b, n, "layers l, l+1");
        row_mask(77, 2, 10, r, n, 0.5f, b);
        check_not_shifted(a, b, n, "steps t, t+1");
        row_mask(78, 2, 9, r, n, 0.5f, b);
        check_not_shifted(a, b, n, "seeds s, s+1");
    }
}

/* A rows x cols forward through the public API on one table. */
typedef struct fwd_case {
    size_t rows, cols, ldx, ldy, mld;
    float p;
    uint64_t seed, step, row0;
    uint32_t layer;
} fwd_case;

static void run_fwd(const fwd_case *c, const float *x, float *y, uint32_t *m)
{
    assert_int_equal(ht_dropout_forward(c->rows, c->cols, x, c->ldx, y, c->ldy,
                                        c->p, c->seed, c->layer, c->step,
                                        c->row0, m, c->mld), HT_OK);
}

static void test_tables_and_api(void **state)
{
    (void)state;
    static const float ps[] = {0.0f, 0.2f, 0.5f, 0.95f};
    fwd_case c = {37, 1003, 1010, 1007, 40, 0, 42, 17, 100, 2};
    float *x = malloc(c.rows * c.ldx * 4), *y = malloc(c.rows * c.ldy * 4);
    float *ry = malloc(c.rows * c.ldy * 4), *y2 = malloc(c.rows * c.ldy * 4);
    uint32_t *m = malloc(c.rows * c.mld * 4), *rm = malloc(c.rows * c.mld * 4);
    uint32_t *m2 = malloc(c.rows * c.mld * 4), *one = malloc(c.mld * 4);
    assert_non_null(x); assert_non_null(y); assert_non_null(ry);
    assert_non_null(y2); assert_non_null(m); assert_non_null(rm);
    assert_non_null(m2); assert_non_null(one);
    tu_fill(x, c.rows * c.ldx, 5, -3.0f, 3.0f);
    for (size_t pi = 0; pi < 4; pi++) {
        c.p = ps[pi];
        /* the definition: 1 / the masks' exact keep rate */
        const uint32_t thr = ht_dropout_threshold(c.p);
        const float scale = (float)(65536.0 / (65536.0 - thr));
        assert_int_equal(ht_isa_select("scalar"), HT_OK);
        memset(ry, 0, c.rows * c.ldy * 4);
        memset(rm, 0, c.rows * c.mld * 4);
        run_fwd(&c, x, ry, rm);
        /* definition: row i's bits are ht_dropout_mask of its key */
        for (size_t i = 0; i < c.rows; i++) {
            row_mask(c.seed, c.layer, c.step, c.row0 + i, c.cols, c.p, one);
            assert_memory_equal(one, rm + i * c.mld, (c.cols + 31) / 32 * 4);
            for (size_t j = 0; j < c.cols; j++) {
                float want = bit(one, j) ? x[i * c.ldx + j] * scale : 0.0f;
                assert_memory_equal(&ry[i * c.ldy + j], &want, 4);
                assert_true(isfinite(ry[i * c.ldy + j]));
                if (c.p == 0.0f)
                    assert_true(bit(one, j) && ry[i * c.ldy + j] == x[i * c.ldx + j]);
            }
        }
        for (size_t t = 0; ht_isa_known(t); t++) {
            if (!ht_isa_available(ht_isa_known(t)))
                continue;
            assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
            memset(y, 0, c.rows * c.ldy * 4);
            memset(m, 0, c.rows * c.mld * 4);
            run_fwd(&c, x, y, m);
            assert_memory_equal(m, rm, c.rows * c.mld * 4);
            assert_memory_equal(y, ry, c.rows * c.ldy * 4);
            /* split in two calls (as two threads would): same bits */
            memset(y2, 0, c.rows * c.ldy * 4);
            memset(m2, 0, c.rows * c.mld * 4);
            fwd_case a = c, b = c;
            a.rows = 20;
            b.rows = c.rows - 20;
            b.row0 = c.row0 + 20;
            run_fwd(&a, x, y2, m2);
            run_fwd(&b, x + 20 * c.ldx, y2 + 20 * c.ldy, m2 + 20 * c.mld);
            assert_memory_equal(m2, rm, c.rows * c.mld * 4);
            assert_memory_equal(y2, ry, c.rows * c.ldy * 4);
            /* OpenMP threads, one row each, in any order */
            memset(y2, 0, c.rows * c.ldy * 4);
            memset(m2, 0, c.rows * c.mld * 4);
            int fails = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(3) reduction(+ : fails)
            for (size_t i = 0; i < c.rows; i++) {
                size_t r = c.rows - 1 - i;
                fails += ht_dropout_forward(1, c.cols, x + r * c.ldx, c.ldx,
                                            y2 + r * c.ldy, c.ldy, c.p, c.seed,
                                            c.layer, c.step, c.row0 + r,
                                            m2 + r * c.mld, c.mld) != HT_OK;
            }
            assert_int_equal(fails, 0);
            assert_memory_equal(m2, rm, c.rows * c.mld * 4);
            assert_memory_equal(y2, ry, c.rows * c.ldy * 4);
            /* in place: y = x */
            for (size_t i = 0; i < c.rows; i++)
                memcpy(y2 + i * c.ldy, x + i * c.ldx, c.cols * 4);
            fwd_case ip = c;
            ip.ldx = c.ldy;
            run_fwd(&ip, y2, y2, m2);
            for (size_t i = 0; i < c.rows; i++)
                assert_memory_equal(y2 + i * c.ldy, ry + i * c.ldy, c.cols * 4);
            /* backward reads the mask: dx = keep ? dy*scale : 0 */
            assert_int_equal(ht_dropout_backward(c.rows, c.cols, x, c.ldx, y2,
                                                 c.ldy, c.p, rm, c.mld), HT_OK);
            for (size_t i = 0; i < c.rows; i++)
                assert_memory_equal(y2 + i * c.ldy, ry + i * c.ldy, c.cols * 4);
        }
    }
    free(x); free(y); free(ry); free(y2); free(m); free(rm); free(m2); free(one);
}

/* Packed rows (ld = cols, a multiple of 32, masks end to end), which the
 * API runs as one stream (forward: rows paired i with i + rows/2;
 * backward: one kernel call), and the same rows with each packing
 * condition broken in turn (the backward's per-row path): every table
 * gives each row the bits of its own key and backward reproduces
 * forward, for even and odd row counts. Outputs start as NaN for each
 * table, so a row or element a table skips cannot pass on another's. */
static void test_packed_rows(void **state)
{
    (void)state;
    static const size_t shapes[][2] = {{1, 32}, {2, 64}, {5, 96}, {8, 288},
                                       {7, 1024}};
    for (size_t si = 0; si < 5; si++) {
        const size_t rows = shapes[si][0], cols = shapes[si][1];
        const size_t n = rows * cols, mld = cols / 32;
        /* room for the padded variants: ld up to cols + 8, mld + 1 */
        const size_t cap = rows * (cols + 8);
        float *x = malloc(n * 4), *y = malloc(cap * 4), *dx = malloc(cap * 4);
        uint32_t *m = malloc(rows * (mld + 1) * 4), *one = malloc(mld * 4);
        assert_non_null(x); assert_non_null(y); assert_non_null(dx);
        assert_non_null(m); assert_non_null(one);
        tu_fill(x, n, 11 + si, -2.0f, 2.0f);
        const float p = 0.3f;
        const uint32_t thr = ht_dropout_threshold(p);
        const float scale = (float)(65536.0 / (65536.0 - thr));
        for (size_t t = 0; ht_isa_known(t); t++) {
            if (!ht_isa_available(ht_isa_known(t)))
                continue;
            assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
            /* variant 0 packed; 1: mask rows one word apart more; 2: dx
             * rows 8 floats apart more (backward per row) */
            for (int v = 0; v < 3; v++) {
                const size_t ml = mld + (v == 1), lx = cols + (v == 2 ? 8 : 0);
                memset(m, 0, rows * (mld + 1) * 4);
                memset(y, 0xFF, cap * 4);
                memset(dx, 0xFF, cap * 4);
                assert_int_equal(ht_dropout_forward(rows, cols, x, cols, y,
                                                    cols, p, 9, 3, 4, 50, m,
                                                    ml), HT_OK);
                assert_int_equal(ht_dropout_backward(rows, cols, x, cols, dx,
                                                     lx, p, m, ml), HT_OK);
                for (size_t i = 0; i < rows; i++) {
                    row_mask(9, 3, 4, 50 + i, cols, p, one);
                    assert_memory_equal(one, m + i * ml, mld * 4);
                    for (size_t j = 0; j < cols; j++) {
                        const float want =
                            bit(one, j) ? x[i * cols + j] * scale : 0.0f;
                        assert_memory_equal(&y[i * cols + j], &want, 4);
                        assert_memory_equal(&dx[i * lx + j], &want, 4);
                    }
                }
            }
        }
        free(x); free(y); free(dx); free(m); free(one);
    }
}

static void test_extreme_p_finite(void **state)
{
    (void)state;
    const float p = nextafterf(1.0f, 0.0f); /* largest p below 1 */
    float x[100], y[100];
    uint32_t m[4];
    tu_fill(x, 100, 3, -1e30f, 1e30f);
    for (size_t t = 0; ht_isa_known(t); t++) {
        if (!ht_isa_available(ht_isa_known(t)))
            continue;
        assert_int_equal(ht_isa_select(ht_isa_known(t)), HT_OK);
        assert_int_equal(ht_dropout_forward(1, 100, x, 100, y, 100, 0.999f, 1,
                                            0, 0, 0, m, 4), HT_OK);
        for (int j = 0; j < 100; j++)
            assert_true(isfinite(y[j]));
        /* p = 1 - 2^-24 keeps 1/65536: x * 65536 is finite for |x| < 5e33 */
        assert_int_equal(ht_dropout_forward(1, 100, x, 100, y, 100, p, 1, 0, 0,
                                            0, m, 4), HT_OK);
        for (int j = 0; j < 100; j++)
            assert_true(isfinite(y[j]));
    }
}

/* Inverted dropout must leave E[y] = x: the scale is the reciprocal of the
 * masks' real keep rate (p quantised to 1/65536), not 1/(1-p). Near p = 1
 * the two differ badly: at p = 0.99999 the masks keep 1/65536 of the
 * elements, and 1/(1-p) = 1e5 would make E[y] = 1.53 x. */
static void test_scale_unbiased(void **state)
{
    (void)state;
    static const float ps[] = {0.05f, 0.1f, 0.2f, 1.0f / 3.0f, 0.5f, 0.9f,
                               0.99f, 0.999f, 0.9999f, 0.99999f};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        const double q = (65536.0 - ht_dropout_threshold(ps[i])) / 65536.0;
        assert_true(fabs((double)ht_dropout_scale(ps[i]) * q - 1.0) <= 0x1p-24);
    }
    assert_true(ht_dropout_scale(nextafterf(1.0f, 0.0f)) == 65536.0f);
    /* dyadic p: exactly the textbook 1/(1-p) */
    static const float dy[] = {0.5f, 0.25f, 0.75f, 0.125f, 0.0f};
    for (size_t i = 0; i < sizeof dy / sizeof dy[0]; i++)
        assert_true(ht_dropout_scale(dy[i]) == 1.0f / (1.0f - dy[i]));
    /* and through the API: the mean of y over 10^7 ones at p = 0.99999
     * (about 153 kept, relative sd 0.08) within 4 sd of 1 */
    enum { COLS = 100000, ROWS = 100 };
    float *x = malloc(COLS * sizeof(float)), *y = malloc(COLS * sizeof(float));
    uint32_t *m = malloc((COLS + 31) / 32 * sizeof(uint32_t));
    assert_non_null(x); assert_non_null(y); assert_non_null(m);
    for (size_t j = 0; j < COLS; j++)
        x[j] = 1.0f;
    double sum = 0.0;
    for (size_t r = 0; r < ROWS; r++) {
        assert_int_equal(ht_dropout_forward(1, COLS, x, COLS, y, COLS,
                                            0.99999f, 7, 1, 3, r, m,
                                            (COLS + 31) / 32), HT_OK);
        for (size_t j = 0; j < COLS; j++)
            sum += y[j];
    }
    const double mean = sum / ((double)COLS * ROWS);
    const double q = 1.0 / 65536.0;
    const double sd = sqrt((1.0 - q) / (q * (double)COLS * ROWS));
    assert_true(fabs(mean - 1.0) <= 4.0 * sd);
    free(x); free(y); free(m);
}

static void test_bad_args(void **state)
{
    (void)state;
    float x[64] = {0}, y[64];
    uint32_t m[4];
    assert_int_equal(ht_dropout_forward(1, 64, x, 64, y, 64, 1.0f, 0, 0, 0, 0,
                                        m, 2), HT_ERR_ARG);
    assert_true(strlen(ht_last_error()) > 0);
    assert_int_equal(ht_dropout_forward(1, 64, x, 64, y, 64, -0.1f, 0, 0, 0, 0,
                                        m, 2), HT_ERR_ARG);
    assert_int_equal(ht_dropout_forward(1, 64, x, 64, y, 64, NAN, 0, 0, 0, 0,
                                        m, 2), HT_ERR_ARG);
    assert_int_equal(ht_dropout_forward(1, 64, x, 64, y, 64, 0.5f, 0, 0, 0, 0,
                                        m, 1), HT_ERR_ARG);
    assert_int_equal(ht_dropout_forward(2, 64, x, 32, y, 64, 0.5f, 0, 0, 0, 0,
                                        m, 2), HT_ERR_ARG);
    assert_int_equal(ht_dropout_forward(1, 64, NULL, 64, y, 64, 0.5f, 0, 0, 0,
                                        0, m, 2), HT_ERR_ARG);
    assert_int_equal(ht_dropout_backward(1, 64, x, 64, y, 64, 0.5f, NULL, 2),
                     HT_ERR_ARG);
    assert_int_equal(ht_dropout_backward(1, 64, x, 64, y, 64, 1.5f, m, 2),
                     HT_ERR_ARG);
    /* in place needs equal leading dimensions */
    assert_int_equal(ht_dropout_forward(1, 32, x, 64, x, 32, 0.5f, 0, 0, 0, 0,
                                        m, 1), HT_ERR_ARG);
    assert_non_null(strstr(ht_last_error(), "in place"));
    assert_int_equal(ht_dropout_backward(1, 32, x, 64, x, 32, 0.5f, m, 1),
                     HT_ERR_ARG);
    assert_non_null(strstr(ht_last_error(), "in place"));
    assert_int_equal(ht_dropout_mask(1, 64, 1.0f, m), HT_ERR_ARG);
    assert_int_equal(ht_dropout_mask(1, 64, 0.5f, NULL), HT_ERR_ARG);
    /* empty shapes are fine, even with NULL arrays */
    assert_int_equal(ht_dropout_forward(0, 64, NULL, 64, NULL, 64, 0.5f, 0, 0,
                                        0, 0, NULL, 2), HT_OK);
    assert_int_equal(ht_dropout_mask(1, 0, 0.5f, NULL), HT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_keep_rate),
        cmocka_unit_test(test_pair_independence),
        cmocka_unit_test(test_runs),
        cmocka_unit_test(test_not_shifted_copies),
        cmocka_unit_test(test_tables_and_api),
        cmocka_unit_test(test_packed_rows),
        cmocka_unit_test(test_extreme_p_finite),
        cmocka_unit_test(test_scale_unbiased),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
