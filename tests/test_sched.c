/* The persistent-region scheduler: the sub-team barrier, the team GEMM
 * entry against ht_sgemm_ex bit for bit (every team size, sub-teams
 * included; its post hook sees each block of C once, final), training that
 * is bitwise the same for 1, 2, 3, 4 threads (also with every operation
 * split over every thread: ht_test_min_work_scale = 0) and
 * bitwise the same as the per-operation fork/join trainer it replaced
 * (re-implemented here from the public GEMM and the kernel table), the
 * progress callback on the calling thread, and evaluate/predict across
 * thread counts. */
#include <math.h>
#include <omp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hwloc.h>

#include "barrier.h"
#include "dataset_internal.h"
#include "gemm.h"
#include "hpctrain.h"
#include "hpctrain/kernels.h"
#include "internal.h"
#include "model_internal.h"
#include "rng.h"
#include "testutil.h"

/* ------------------------------------------------------------ barrier */

/* Sub-teams of changing size meet many times; after each episode every
 * participant must see every other participant's write of that episode. */
static void test_barrier_subteams(void **state)
{
    (void)state;
    enum { T = 4, EPISODES = 3000 / HT_TEST_SCALE };
    static ht_barrier bar;
    static int slot[T];
    int bad = 0;
    ht_barrier_init(&bar);
    #pragma omp parallel num_threads(T) reduction(+ : bad)
    {
        const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        for (int e = 0; e < EPISODES; e++) {
            /* runs of 8 episodes with the same members, 1..nt of them */
            const int n = 1 + (e / 8) % nt;
            if (tid < n) {
                slot[tid] = e;
                ht_barrier_wait(&bar, (unsigned)n);
                for (int i = 0; i < n; i++)
                    bad += slot[i] != e;
                ht_barrier_wait(&bar, (unsigned)n);
            }
            /* before the members change the whole team meets, as the
             * trainer's barriers separate two GEMMs */
            if (e % 8 == 7) {
                #pragma omp barrier
            }
        }
    }
    assert_int_equal(bad, 0);
}

/* ---------------------------------------------------------- team GEMM */

typedef struct shape {
    int ta, tb;
    size_t m, n, k;
    int epi;
} shape;

/* The post hook's view: each block's tile must already hold its final
 * values (bitwise those of ht_sgemm_ex), be C itself unless the hook
 * consumes its tiles, and no element may be posted twice. */
typedef struct post_seen {
    const float *c, *c_ref;
    size_t ldc, m, n;
    int *hits;          /* per element of C, atomically counted */
    int bad;            /* a block not yet final, or out of range */
    int consume;        /* the hook was registered as C's only reader */
    int scratch;        /* tiles handed over outside C (atomic) */
} post_seen;

static void post_check(void *ctx, size_t row, size_t col, size_t mm,
                       size_t nn, const float *tile, size_t ldt)
{
    post_seen *ps = ctx;
    if (row + mm > ps->m || col + nn > ps->n) {
        #pragma omp atomic
        ps->bad++;
        return;
    }
    if (tile != ps->c + row * ps->ldc + col) {
        #pragma omp atomic
        ps->scratch++;
        if (!ps->consume) {
            #pragma omp atomic
            ps->bad++;
        }
    }
    for (size_t i = row; i < row + mm; i++)
        for (size_t j = col; j < col + nn; j++) {
            const size_t e = i * ps->ldc + j;
            const float *v = tile + (i - row) * ldt + (j - col);
            if (memcmp(v, &ps->c_ref[e], sizeof(float)) != 0) {
                #pragma omp atomic
                ps->bad++;
            }
            #pragma omp atomic
            ps->hits[i * ps->n + j]++;
        }
}

/* One team call of sh's shape (alpha 1.25) on a team of `team` threads,
 * with post (may be NULL); the number of threads that failed, or 1000 if
 * the region got fewer threads. */
static int team_call(ht_gemm_team *g, int team, const shape *sh,
                     const float *a, size_t lda, const float *b, size_t ldb,
                     float beta, float *c, size_t ldc, const ht_epilogue *e,
                     const ht_gemm_post *post)
{
    int fails = 0;
    #pragma omp parallel num_threads(team) reduction(+ : fails)
    {
        if (omp_get_num_threads() == team)
            fails += ht_sgemm_team_post(g, omp_get_thread_num(), sh->ta,
                                        sh->tb, sh->m, sh->n, sh->k, 1.25f, a,
                                        lda, b, ldb, beta, c, ldc, e,
                                        post) != HT_OK;
        else
            fails = 1000;
    }
    return fails;
}

/* Tiles that check_team_gemm's consuming hooks got outside C. */
static long consumed_tiles;

static void check_team_gemm(const shape *sh, int team)
{
    const size_t m = sh->m, n = sh->n, k = sh->k;
    const size_t lda = (sh->ta ? m : k) + 3, ldb = (sh->tb ? k : n) + 1;
    const size_t ldc = n + 5, arows = sh->ta ? k : m, brows = sh->tb ? n : k;
    float *a = malloc(arows * lda * sizeof(float));
    float *b = malloc(brows * ldb * sizeof(float));
    float *c_ref = malloc(m * ldc * sizeof(float));
    float *c_team = malloc(m * ldc * sizeof(float));
    float *bias = malloc(n * sizeof(float));
    const size_t mask_ld = (n + 31) / 32 + 1;
    uint32_t *mask = malloc(m * mask_ld * sizeof(uint32_t));
    tu_fill(a, arows * lda, 1 + m, -1.0f, 1.0f);
    tu_fill(b, brows * ldb, 2 + n, -1.0f, 1.0f);
    tu_fill(c_ref, m * ldc, 3, -1.0f, 1.0f);
    memcpy(c_team, c_ref, m * ldc * sizeof(float));
    tu_fill(bias, n, 4, -0.5f, 0.5f);
    uint64_t s = 5;
    for (size_t i = 0; i < m * mask_ld; i++)
        mask[i] = (uint32_t)tu_rand(&s);
    ht_epilogue epi = {.bias = bias, .relu = 1, .mask = mask,
                       .mask_ld = mask_ld, .scale = 2.0f};
    const ht_epilogue *e = sh->epi ? &epi : NULL;
    const float beta = sh->epi ? 0.0f : 0.5f;
    assert_int_equal(ht_sgemm_ex(sh->ta, sh->tb, m, n, k, 1.25f, a, lda, b,
                                 ldb, beta, c_ref, ldc, e), HT_OK);

    const size_t need = ht_sgemm_team_ws_floats(team, sh->ta, sh->tb, m, n, k,
                                                0);
    const size_t need_post = ht_sgemm_team_ws_floats(team, sh->ta, sh->tb, m,
                                                     n, k, 1);
    const size_t most = need > need_post ? need : need_post;
    float *ws = ht_aligned_alloc((most + 16) * sizeof(float));
    ht_gemm_team g;
    ht_gemm_team_init(&g, team, ws, most + 16);
    int fails = team_call(&g, team, sh, a, lda, b, ldb, beta, c_team, ldc, e,
                          NULL);
    assert_int_equal(fails, 0);
    if (memcmp(c_ref, c_team, m * ldc * sizeof(float)) != 0)
        fail_msg("team of %d differs from ht_sgemm_ex: ta=%d tb=%d %zux%zux%zu "
                 "epi=%d", team, sh->ta, sh->tb, m, n, k, sh->epi);

    /* again with a post hook (from the same C input as c_ref had) */
    int *hits = calloc(m * n + 1, sizeof(int));
    assert_non_null(hits);
    tu_fill(c_team, m * ldc, 3, -1.0f, 1.0f);
    post_seen ps = {c_team, c_ref, ldc, m, n, hits, 0, 0, 0};
    const ht_gemm_post post = {post_check, &ps, 0};
    fails = team_call(&g, team, sh, a, lda, b, ldb, beta, c_team, ldc, e,
                      &post);
    assert_int_equal(fails, 0);
    if (ps.bad)
        fail_msg("post hook, team of %d, %zux%zux%zu: %d elements not final "
                 "or out of range", team, m, n, k, ps.bad);
    for (size_t i = 0; i < m * n; i++)
        if (hits[i] != 1)
            fail_msg("post hook, team of %d, %zux%zux%zu: element (%zu, %zu) "
                     "posted %d times", team, m, n, k, i / n, i % n, hits[i]);
    free(hits);

    /* a consuming hook, beta = 0 (the trainer's weight gradient): the same
     * values reach the hook once each, from C or a scratch tile, and each
     * element of C is either final or never written */
    {
        float *c0 = malloc(m * ldc * sizeof(float));
        float *fill = malloc(m * ldc * sizeof(float));
        int *hits0 = calloc(m * n + 1, sizeof(int));
        assert_non_null(c0);
        assert_non_null(fill);
        assert_non_null(hits0);
        tu_fill(fill, m * ldc, 9, -1.0f, 1.0f);
        memcpy(c0, fill, m * ldc * sizeof(float));
        assert_int_equal(ht_sgemm_ex(sh->ta, sh->tb, m, n, k, 1.25f, a, lda, b,
                                     ldb, 0.0f, c0, ldc, e), HT_OK);
        memcpy(c_team, fill, m * ldc * sizeof(float));
        post_seen pc = {c_team, c0, ldc, m, n, hits0, 0, 1, 0};
        const ht_gemm_post consume = {post_check, &pc, 1};
        fails = team_call(&g, team, sh, a, lda, b, ldb, 0.0f, c_team, ldc, e,
                          &consume);
        assert_int_equal(fails, 0);
        if (pc.bad)
            fail_msg("consuming hook, team of %d, %zux%zux%zu: %d elements "
                     "not final or out of range", team, m, n, k, pc.bad);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < ldc; j++) {
                const size_t el = i * ldc + j;
                const int kept = memcmp(&c_team[el], &fill[el], 4) == 0;
                if (j < n && hits0[i * n + j] != 1)
                    fail_msg("consuming hook, team of %d, %zux%zux%zu: (%zu, "
                             "%zu) posted %d times", team, m, n, k, i, j,
                             hits0[i * n + j]);
                if (!kept && (j >= n || memcmp(&c_team[el], &c0[el], 4) != 0))
                    fail_msg("consuming hook, team of %d, %zux%zux%zu: C(%zu, "
                             "%zu) neither final nor untouched", team, m, n, k,
                             i, j);
            }
        consumed_tiles += pc.scratch;
        free(c0);
        free(fill);
        free(hits0);
    }

    /* too little workspace: every thread says so, nothing hangs (the
     * plain call, then the one with a post hook, each one float short) */
    if (need > 0) {
        ht_gemm_team_init(&g, team, ws, need - 1);
        int refused = 0;
        #pragma omp parallel num_threads(team) reduction(+ : refused)
        refused += ht_sgemm_team(&g, omp_get_thread_num(), sh->ta, sh->tb, m,
                                 n, k, 1.0f, a, lda, b, ldb, 0.0f, c_team,
                                 ldc, NULL) == HT_ERR_ARG;
        assert_int_equal(refused, team);
    }
    if (need_post > 0) {
        ht_gemm_team_init(&g, team, ws, need_post - 1);
        int refused = 0;
        #pragma omp parallel num_threads(team) reduction(+ : refused)
        refused += ht_sgemm_team_post(&g, omp_get_thread_num(), sh->ta,
                                      sh->tb, m, n, k, 1.0f, a, lda, b, ldb,
                                      0.0f, c_team, ldc, NULL,
                                      &post) == HT_ERR_ARG;
        assert_int_equal(refused, team);
    }
    ht_aligned_free(ws);

    /* per-thread buffers (the trainer's layout): the same C, each thread
     * of the call packs into its own buffer and nowhere past it, threads
     * the call does not use leave theirs alone, and a buffer one float
     * short (own or shared) is refused by every thread */
    for (int with_post = 0; with_post < 2; with_post++) {
        size_t sh_need, own_need;
        int t;
        ht_sgemm_team_ws_split(team, sh->ta, sh->tb, m, n, k, with_post,
                               &sh_need, &own_need, &t);
        const size_t claims = ht_gemm_team_claim_floats(team), guard = 16;
        float *shared = ht_aligned_alloc((claims + sh_need + guard) *
                                         sizeof(float));
        for (size_t j = claims + sh_need; j < claims + sh_need + guard; j++)
            shared[j] = -7.0f;
        float *own[4];
        for (int i = 0; i < team; i++) {
            own[i] = ht_aligned_alloc((own_need + guard) * sizeof(float));
            for (size_t j = 0; j < own_need + guard; j++)
                own[i][j] = -7.0f;
        }
        tu_fill(c_team, m * ldc, 3, -1.0f, 1.0f);
        int *hits2 = calloc(m * n + 1, sizeof(int));
        post_seen ps2 = {c_team, c_ref, ldc, m, n, hits2, 0, 0, 0};
        const ht_gemm_post post2 = {post_check, &ps2, 0};
        ht_gemm_team_init_own(&g, team, shared, claims + sh_need, own,
                              own_need);
        #pragma omp parallel num_threads(team) reduction(+ : fails)
        fails += ht_sgemm_team_post(&g, omp_get_thread_num(), sh->ta, sh->tb,
                                    m, n, k, 1.25f, a, lda, b, ldb, beta,
                                    c_team, ldc, e,
                                    with_post ? &post2 : NULL) != HT_OK;
        assert_int_equal(fails, 0);
        assert_int_equal(ps2.bad, 0);
        if (memcmp(c_ref, c_team, m * ldc * sizeof(float)) != 0)
            fail_msg("own buffers, team of %d differs from ht_sgemm_ex: "
                     "%zux%zux%zu post=%d", team, m, n, k, with_post);
        for (size_t j = claims + sh_need; j < claims + sh_need + guard; j++)
            if (shared[j] != -7.0f)
                fail_msg("a thread wrote past the shared buffer "
                         "(%zux%zux%zu)", m, n, k);
        for (int i = 0; i < team; i++) {
            size_t changed = 0;
            for (size_t j = 0; j < own_need + guard; j++) {
                changed += own[i][j] != -7.0f;
                if (j >= own_need && own[i][j] != -7.0f)
                    fail_msg("thread %d wrote past its buffer (%zux%zux%zu)",
                             i, m, n, k);
            }
            if (i >= t && changed)
                fail_msg("thread %d of %d is idle but its buffer changed "
                         "(%zux%zux%zu)", i, t, m, n, k);
            if (i < t && own_need && !changed)
                fail_msg("thread %d packed nothing into its own buffer "
                         "(%zux%zux%zu)", i, m, n, k);
        }
        for (int shorter = 0; shorter < 2; shorter++) {
            if ((shorter ? sh_need : own_need) == 0)
                continue;
            ht_gemm_team_init_own(&g, team, shared,
                                  claims + sh_need - (size_t)shorter, own,
                                  own_need - (size_t)!shorter);
            int refused = 0;
            #pragma omp parallel num_threads(team) reduction(+ : refused)
            refused += ht_sgemm_team_post(&g, omp_get_thread_num(), sh->ta,
                                          sh->tb, m, n, k, 1.0f, a, lda, b,
                                          ldb, 0.0f, c_team, ldc, NULL,
                                          with_post ? &post2 : NULL) ==
                       HT_ERR_ARG;
            assert_int_equal(refused, team);
        }
        for (size_t i = 0; with_post && i < m * n; i++)
            if (hits2[i] != 1)
                fail_msg("own buffers, post hook: element %zu posted %d "
                         "times", i, hits2[i]);
        free(hits2);
        for (int i = 0; i < team; i++)
            ht_aligned_free(own[i]);
        ht_aligned_free(shared);
    }
    free(a);
    free(b);
    free(c_ref);
    free(c_team);
    free(bias);
    free(mask);
}

static void test_team_gemm_bitwise(void **state)
{
    (void)state;
    const shape shapes[] = {
        {0, 0, 128, 1024, 784, 1},  /* forward, first layer        */
        {0, 0, 128, 10, 1024, 1},   /* forward, last layer: small N */
        {1, 0, 784, 1024, 128, 0},  /* weight gradient             */
        {1, 0, 1024, 10, 128, 0},   /* weight gradient, small N    */
        {0, 1, 128, 1024, 10, 0},   /* data gradient, K = 10       */
        {0, 1, 37, 300, 71, 0},
        {0, 0, 5, 3, 2, 1},
        {1, 1, 67, 45, 300, 0},
        {0, 0, 33, 7, 129, 0},
        {0, 1, 19, 9, 64, 1},
        {0, 0, 12, 32, 6000, 0},    /* 2 x 2 panels: no grid for 3 */
        {1, 0, 12, 40, 6000, 1},
    };
    consumed_tiles = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int team = 1; team <= 4; team++)
            check_team_gemm(&shapes[i], team);
    /* the weight gradient's shape (one K slice) did go through scratch */
    assert_true(consumed_tiles > 0);
}

/* The dynamic units (column panels; row blocks with a post hook): the last
 * thread of the team holds on to its first unit until another thread has
 * taken one from the back of its range, so stealing happens every run (if
 * it arrives late, the others may take its whole range). Its range is the
 * top one, so another thread's taking a unit at or above the range's start
 * is a steal. C must still be bitwise what ht_sgemm_ex gives, the post
 * hook must see every element once, and no unit may run twice. */
typedef struct steal_log {
    int slow;
    _Atomic long slow_first;  /* the slow thread's first unit, or -1     */
    _Atomic long other_max;   /* the highest unit another thread took    */
    _Atomic int *by;          /* per unit: how often it was taken        */
} steal_log;

static void steal_hook(void *ctx, int tid, size_t unit)
{
    steal_log *L = ctx;
    atomic_fetch_add(&L->by[unit], 1);
    if (tid != L->slow) {
        long cur = atomic_load(&L->other_max);
        while ((long)unit > cur &&
               !atomic_compare_exchange_weak(&L->other_max, &cur, (long)unit)) {
        }
    } else if (atomic_load(&L->slow_first) < 0) {
        atomic_store(&L->slow_first, (long)unit);
        const double t0 = omp_get_wtime();
        while (atomic_load(&L->other_max) <= (long)unit &&
               omp_get_wtime() - t0 < 20.0) {
        }
    }
}

/* Counts post-hook elements (the hook must run on every element once). */
typedef struct post_count {
    _Atomic long elements;
} post_count;

static void count_post(void *ctx, size_t row, size_t col, size_t m, size_t n,
                       const float *tile, size_t ldt)
{
    (void)row;
    (void)col;
    (void)tile;
    (void)ldt;
    atomic_fetch_add(&((post_count *)ctx)->elements, (long)(m * n));
}

/* One team call of op(A) (m x k, transposed if ta) x B with the steal hook
 * on, checked against ht_sgemm_ex. */
static void check_steal(const char *isa, int team, int ta, size_t m, size_t n,
                        size_t k, int with_post)
{
    const size_t lda = (ta ? m : k) + 3, ldb = n + 1, ldc = n + 2;
    const size_t arows = ta ? k : m;
    float *a = malloc(arows * lda * sizeof(float));
    float *b = malloc(k * ldb * sizeof(float));
    float *c_ref = malloc(m * ldc * sizeof(float));
    float *c_team = malloc(m * ldc * sizeof(float));
    float *bias = malloc(n * sizeof(float));
    tu_fill(a, arows * lda, 11, -1.0f, 1.0f);
    tu_fill(b, k * ldb, 12, -1.0f, 1.0f);
    tu_fill(bias, n, 13, -0.5f, 0.5f);
    ht_epilogue epi = {.bias = bias, .relu = 1, .scale = 1.0f};
    tu_fill(c_ref, m * ldc, 14, -1.0f, 1.0f);
    memcpy(c_team, c_ref, m * ldc * sizeof(float));
    assert_int_equal(ht_sgemm_ex(ta, 0, m, n, k, 0.75f, a, lda, b, ldb, 0.5f,
                                 c_ref, ldc, &epi), HT_OK);
    const size_t need = ht_sgemm_team_ws_floats(team, ta, 0, m, n, k,
                                                with_post);
    float *ws = ht_aligned_alloc(need * sizeof(float));
    ht_gemm_team g;
    ht_gemm_team_init(&g, team, ws, need);
    const size_t most = (m > n ? m : n) + 1;
    steal_log L = {.slow = team - 1};
    atomic_init(&L.slow_first, -1);
    atomic_init(&L.other_max, -1);
    L.by = calloc(most, sizeof *L.by);
    g.panel_hook = steal_hook;
    g.hook_ctx = &L;
    post_count pc;
    atomic_init(&pc.elements, 0);
    const ht_gemm_post post = {count_post, &pc, 0};
    int fails = 0;
    #pragma omp parallel num_threads(team) reduction(+ : fails)
    {
        if (omp_get_num_threads() == team)
            fails += ht_sgemm_team_post(&g, omp_get_thread_num(), ta, 0, m, n,
                                        k, 0.75f, a, lda, b, ldb, 0.5f, c_team,
                                        ldc, &epi,
                                        with_post ? &post : NULL) != HT_OK;
        else
            fails = 1000;
    }
    assert_int_equal(fails, 0);
    /* units 0 .. units-1, each taken once; the slow thread owned the top
     * range [units*(team-1)/team, units) */
    size_t units = 0;
    while (units < most && atomic_load(&L.by[units]) == 1)
        units++;
    for (size_t u = units; u < most; u++)
        if (atomic_load(&L.by[u]) != 0)
            fail_msg("%s: unit %zu taken %d times (units 0..%zu once)", isa,
                     u, atomic_load(&L.by[u]), units);
    const long slow_lo = (long)(units * (size_t)(team - 1) / (size_t)team);
    if (units == 0 || atomic_load(&L.other_max) < slow_lo)
        fail_msg("%s, team of %d, %s %zux%zux%zu: no unit of thread %d was "
                 "taken by another (%zu units)", isa, team,
                 with_post ? "post" : "plain", m, n, k, L.slow, units);
    if (with_post && atomic_load(&pc.elements) != (long)(m * n))
        fail_msg("%s, team of %d: the post hook saw %ld elements of %zu", isa,
                 team, atomic_load(&pc.elements), m * n);
    if (memcmp(c_ref, c_team, m * ldc * sizeof(float)) != 0)
        fail_msg("%s, team of %d, %s %zux%zux%zu: stolen units differ from "
                 "ht_sgemm_ex", isa, team, with_post ? "post" : "plain", m, n,
                 k);
    free(L.by);
    ht_aligned_free(ws);
    free(a);
    free(b);
    free(c_ref);
    free(c_team);
    free(bias);
}

static void test_team_gemm_steal(void **state)
{
    (void)state;
    char active[32];
    snprintf(active, sizeof active, "%s", ht_isa_name());
    int tables = 0;
    for (size_t isa = 0; ht_isa_known(isa); isa++) {
        const char *name = ht_isa_known(isa);
        if (!ht_isa_available(name))
            continue;
        assert_int_equal(ht_isa_select(name), HT_OK);
        ht_isa_info info;
        assert_int_equal(ht_isa_get_info(&info), HT_OK);
        const size_t mr = (size_t)info.mr, nr = (size_t)info.nr;
        size_t l1, l2, l3;
        ht_cache_sizes(&l1, &l2, &l3);
        /* columns: odd rows and columns (edge tiles), three K slices where
         * all of A fits the path's bound (half of L2) */
        size_t k = 2 * (size_t)info.kc + 7;
        const size_t kmax = l2 / 2 / sizeof(float) / (3 * mr) - 32;
        if (k > kmax)
            k = kmax;
        /* rows (with a post hook): one K slice, more rows than one MC block
         * (so the grid splits rows), an edge tile in each direction */
        const size_t krow = (size_t)info.kc < 100 ? (size_t)info.kc : 100;
        for (int team = 2; team <= 3; team++) {
            check_steal(name, team, 0, 2 * mr + 1, 24 * nr + 5, k, 0);
            check_steal(name, team, 1, (size_t)info.mc + 8 * mr * 3 + 5,
                        16 * nr + 1, krow, 1);
        }
        tables++;
    }
    assert_true(tables >= 1);
    assert_int_equal(ht_isa_select(active), HT_OK);
}

/* A claim word left from a call long ago: between two calls that split
 * columns dynamically come 65535 calls small enough for one thread, in
 * which thread 1 takes no part, so when the second wide call starts, its
 * word carries a tag exactly 65536 calls old. The second call must still
 * compute every panel: a tag that wrapped at 16 bits would make the old
 * word look like this call's, already empty (checked: that version fails
 * here). */
static void test_team_gemm_stale_claims(void **state)
{
    (void)state;
    const size_t m = 64, n = 1000, k = 300;
    float *a = malloc(m * k * sizeof(float)), *b = malloc(k * n * sizeof(float));
    float *c_ref = malloc(m * n * sizeof(float));
    float *c1 = malloc(m * n * sizeof(float)), *c2 = malloc(m * n * sizeof(float));
    float tiny_a = 1.0f, tiny_b = 2.0f, tiny_c = 0.0f;
    tu_fill(a, m * k, 21, -1.0f, 1.0f);
    tu_fill(b, k * n, 22, -1.0f, 1.0f);
    assert_int_equal(ht_sgemm(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c_ref, n),
                     HT_OK);
    const size_t need = ht_sgemm_team_ws_floats(2, 0, 0, m, n, k, 0);
    float *ws = ht_aligned_alloc(need * sizeof(float));
    ht_gemm_team g;
    ht_gemm_team_init(&g, 2, ws, need);
    int fails = 0;
    #pragma omp parallel num_threads(2) reduction(+ : fails)
    {
        const int tid = omp_get_thread_num();
        if (omp_get_num_threads() != 2) {
            fails = 1000;
        } else {
            fails += ht_sgemm_team(&g, tid, 0, 0, m, n, k, 1.0f, a, k, b, n,
                                   0.0f, c1, n, NULL) != HT_OK;
            #pragma omp barrier
            for (int i = 0; i < 65535; i++) {
                fails += ht_sgemm_team(&g, tid, 0, 0, 1, 1, 1, 1.0f, &tiny_a,
                                       1, &tiny_b, 1, 0.0f, &tiny_c, 1,
                                       NULL) != HT_OK;
                #pragma omp barrier
            }
            fails += ht_sgemm_team(&g, tid, 0, 0, m, n, k, 1.0f, a, k, b, n,
                                   0.0f, c2, n, NULL) != HT_OK;
        }
    }
    assert_int_equal(fails, 0);
    assert_true(tiny_c == 2.0f);
    assert_memory_equal(c1, c_ref, m * n * sizeof(float));
    assert_memory_equal(c2, c_ref, m * n * sizeof(float));
    ht_aligned_free(ws);
    free(a);
    free(b);
    free(c_ref);
    free(c1);
    free(c2);
}

/* -------------------------------------------- the fork/join reference */

/* The trainer as it was before the persistent region: one operation after
 * another through ht_sgemm_ex and the kernel table (the partitions only
 * ever split rows, tiles and chunks, so running them serially here gives
 * the arithmetic the old code did for any thread count). Uses the
 * model's buffers and the same step/epoch bookkeeping. */
static float ref_lr(const ht_config *c) { return c->lr; }

static void ref_epoch(ht_model *m, const ht_dataset *ds)
{
    const ht_config *c = &m->cfg;
    const ht_kernels *k = ht_kernels_active();
    const size_t L = c->n_layers, n = ds->n, bs = c->batch;
    const size_t C = c->sizes[L];
    size_t *perm = malloc(n * sizeof *perm);
    ht_permutation(perm, n, ht_mix64(c->seed ^ 0x5EED5EED5EEDull) ^
                                ht_mix64((uint64_t)m->epoch));
    for (size_t start = 0; start < n; start += bs) {
        const size_t B = n - start < bs ? n - start : bs;
        float *x = m->xbuf[0];
        int32_t *lab = m->labbuf[0];
        ht_dataset_gather(ds, perm + start, B, x, lab, NULL);
        if (c->input_dropout > 0.0f) {
            const size_t d = c->sizes[0];
            const uint32_t thr = ht_dropout_threshold(c->input_dropout);
            const float scale = ht_dropout_scale(c->input_dropout);
            for (size_t i = 0; i < B; i++)
                k->dropout_fwd(ht_dropout_key(c->seed, 0, m->step, i), d, thr,
                               scale, x + i * d, x + i * d,
                               m->mask[0] + i * m->mask_ld[0], 0);
        }
        for (size_t l = 0; l < L; l++) {
            const size_t in = c->sizes[l], out = c->sizes[l + 1];
            const int last = l + 1 == L, drop = !last && c->dropout > 0.0f;
            if (drop) {
                const uint32_t thr = ht_dropout_threshold(c->dropout);
                for (size_t i = 0; i < B; i++)
                    k->dropout_mask(ht_dropout_key(c->seed, (uint32_t)(l + 1),
                                                   m->step, i),
                                    out, thr,
                                    m->mask[l + 1] + i * m->mask_ld[l + 1]);
            }
            ht_epilogue epi = {
                .bias = m->params + m->b_off[l], .relu = !last,
                .mask = drop ? m->mask[l + 1] : NULL,
                .mask_ld = m->mask_ld[l + 1],
                .scale = drop ? ht_dropout_scale(c->dropout) : 1.0f};
            assert_int_equal(ht_sgemm_ex(0, 0, B, out, in, 1.0f,
                                         l ? m->act[l] : x, in,
                                         m->params + m->w_off[l], out, 0.0f,
                                         m->act[l + 1], out, &epi), HT_OK);
        }
        k->softmax_xent_fwd(B, C, m->act[L], C, lab, m->probs, C, m->loss_row,
                            0);
        float *dz = m->dbuf[0], *dx = m->dbuf[1];
        k->softmax_xent_bwd(B, C, m->probs, C, lab, 1.0f / (float)B, dz, C, 0);
        for (size_t l = L; l-- > 0;) {
            const size_t in = c->sizes[l], out = c->sizes[l + 1];
            const float *a = l ? m->act[l] : x;
            float *db = m->grads + m->b_off[l];
            assert_int_equal(ht_sgemm(1, 0, in, out, B, 1.0f, a, in, dz, out,
                                      0.0f, m->grads + m->w_off[l], out), HT_OK);
            for (size_t j0 = 0; j0 < out; j0 += 64) {
                const size_t nj = out - j0 < 64 ? out - j0 : 64;
                memset(db + j0, 0, nj * sizeof(float));
                k->bias_grad(B, nj, dz + j0, out, db + j0);
            }
            if (l == 0)
                break;
            assert_int_equal(ht_sgemm(0, 1, B, in, out, 1.0f, dz, out,
                                      m->params + m->w_off[l], out, 0.0f, dx,
                                      in), HT_OK);
            const float scale = ht_dropout_scale(c->dropout);
            for (size_t i = 0; i < B; i++)
                k->relu_bwd(in, a + i * in, dx + i * in, scale, dx + i * in);
            float *t = dz;
            dz = dx;
            dx = t;
        }
        const double tt = (double)m->step + 1.0;
        ht_optim_hyper hw = {
            .kind = c->optimizer, .lr = ref_lr(c), .momentum = c->momentum,
            .nesterov = c->nesterov, .beta1 = c->beta1, .beta2 = c->beta2,
            .eps = c->eps, .bc1 = (float)(1.0 - pow(c->beta1, tt)),
            .bc2 = (float)(1.0 - pow(c->beta2, tt)),
            .weight_decay = c->weight_decay, .l1 = c->l1, .l2 = c->l2,
            .prox_l1 = c->prox_l1};
        ht_optim_hyper hb = hw;
        hb.weight_decay = hb.l1 = hb.l2 = 0.0f;
        for (size_t l = 0; l < L; l++) {
            const size_t nw = c->sizes[l] * c->sizes[l + 1];
            k->optim_step(nw, m->params + m->w_off[l], m->grads + m->w_off[l],
                          m->opt_m ? m->opt_m + m->w_off[l] : NULL,
                          m->opt_v ? m->opt_v + m->w_off[l] : NULL, &hw);
            k->optim_step(c->sizes[l + 1], m->params + m->b_off[l],
                          m->grads + m->b_off[l],
                          m->opt_m ? m->opt_m + m->b_off[l] : NULL,
                          m->opt_v ? m->opt_v + m->b_off[l] : NULL, &hb);
        }
        m->step++;
    }
    m->epoch++;
    free(perm);
}

/* n rows of d features in `classes` blobs. */
static ht_dataset *blobs(size_t n, size_t d, size_t classes, uint64_t seed)
{
    ht_dataset *ds = calloc(1, sizeof *ds);
    ds->n = n;
    ds->d = d;
    ds->n_classes = classes;
    ds->x = malloc(n * d * sizeof(float));
    ds->label = malloc(n * sizeof(int32_t));
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        const int32_t c = (int32_t)(tu_rand(&s) % classes);
        ds->label[i] = c;
        for (size_t j = 0; j < d; j++)
            ds->x[i * d + j] = (float)((size_t)c == j % classes) +
                               (float)(tu_rand(&s) >> 40) / 16777216.0f - 0.5f;
    }
    return ds;
}

static void free_blobs(ht_dataset *ds)
{
    free(ds->x);
    free(ds->label);
    free(ds);
}

static void small_config(ht_config *c, int adam)
{
    ht_config_default(c);
    c->n_layers = 3;
    c->sizes[0] = 40;
    c->sizes[1] = 200;
    c->sizes[2] = 72;
    c->sizes[3] = 5;
    c->dropout = 0.3f;
    c->input_dropout = 0.1f;
    c->batch = 48;               /* 700 rows: a partial last batch */
    c->lr = adam ? 0.002f : 0.05f;
    c->l2 = 1e-4f;
    c->l1 = adam ? 1e-5f : 0.0f;
    c->optimizer = adam ? HT_OPT_ADAM : HT_OPT_SGD;
    c->schedule = HT_SCHED_CONSTANT;   /* the reference trainer's rate */
    c->seed = 99;
}

typedef struct progress_log {
    int calls, off_thread, bad_order;
    size_t last;
} progress_log;

static void progress_cb(size_t done, size_t total, double loss, void *user)
{
    progress_log *p = user;
    (void)loss;
    p->calls++;
    p->off_thread += omp_get_thread_num() != 0;
    p->bad_order += done <= p->last || done > total;
    p->last = done;
}

static uint64_t train_with(int threads, int adam, const ht_dataset *ds,
                           float *pred, double *acc)
{
    ht_set_num_threads(threads);
    ht_config c;
    small_config(&c, adam);
    ht_model *m;
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    for (int e = 0; e < 3; e++) {
        progress_log pl = {0, 0, 0, 0};
        ht_epoch_stats st;
        assert_int_equal(ht_model_train_epoch(m, ds, progress_cb, &pl, &st),
                         HT_OK);
        assert_int_equal(pl.calls, (int)((ds->n + c.batch - 1) / c.batch));
        assert_int_equal(pl.off_thread, 0);
        assert_int_equal(pl.bad_order, 0);
        assert_int_equal(pl.last, ds->n);
    }
    ht_eval_stats ev;
    assert_int_equal(ht_model_evaluate(m, ds, &ev), HT_OK);
    *acc = ev.accuracy;
    assert_int_equal(ht_model_predict(m, ds->x, ds->n, pred), HT_OK);
    const uint64_t h = ht_model_hash(m);
    ht_model_free(m);
    ht_set_num_threads(0);
    return h;
}

static void test_threads_bitwise(void **state)
{
    (void)state;
    ht_dataset *ds = blobs(700, 40, 5, 3);
    for (int adam = 0; adam <= 1; adam++) {
        float *p1 = malloc(ds->n * 5 * sizeof(float));
        float *pt = malloc(ds->n * 5 * sizeof(float));
        double a1, at;
        const uint64_t h1 = train_with(1, adam, ds, p1, &a1);
        assert_true(a1 > 0.8);
        for (int t = 2; t <= 4; t++) {
            const uint64_t ht = train_with(t, adam, ds, pt, &at);
            if (ht != h1)
                fail_msg("%s: weights differ between 1 and %d threads",
                         adam ? "adam" : "sgd", t);
            assert_true(at == a1);
            assert_memory_equal(p1, pt, ds->n * 5 * sizeof(float));
        }
        free(p1);
        free(pt);
    }
    free_blobs(ds);
}

/* The persistent region gives the bits of the fork/join trainer. */
static void test_same_as_fork_join(void **state)
{
    (void)state;
    ht_dataset *ds = blobs(700, 40, 5, 4);
    ht_config c;
    small_config(&c, 0);
    ht_model *ref, *m;
    ht_set_num_threads(2);
    assert_int_equal(ht_model_create(&c, &ref), HT_OK);
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    for (int e = 0; e < 2; e++) {
        ref_epoch(ref, ds);
        assert_int_equal(ht_model_train_epoch(m, ds, NULL, NULL, NULL), HT_OK);
    }
    assert_int_equal(ht_model_step(m), ht_model_step(ref));
    if (ht_model_hash(m) != ht_model_hash(ref))
        fail_msg("persistent region %016llx, fork/join reference %016llx",
                 (unsigned long long)ht_model_hash(m),
                 (unsigned long long)ht_model_hash(ref));
    ht_model_free(ref);
    ht_model_free(m);
    ht_set_num_threads(0);
    free_blobs(ds);
}

/* ---------------------------------- every operation on every thread */

/* ht_test_min_work_scale = 0 lifts the minimum work per thread, so that
 * a model this small splits every operation over the whole team. Without
 * it the models above run dropout, the ReLU backward and the bias
 * gradients on one thread and some GEMMs on fewer than the team, and a
 * partition that depended on the thread count there would go unseen. The
 * fixtures set the knob and put it (and the thread count and table) back,
 * also when a test fails. */
static char all_threads_isa[32];

static int all_threads_setup(void **state)
{
    (void)state;
    snprintf(all_threads_isa, sizeof all_threads_isa, "%s", ht_isa_name());
    ht_test_min_work_scale = 0.0;
    return 0;
}

static int all_threads_teardown(void **state)
{
    (void)state;
    ht_test_min_work_scale = 1.0;
    ht_set_num_threads(0);
    return ht_isa_select(all_threads_isa) == HT_OK ? 0 : -1;
}

/* Every split uneven: batches of 50 and a last one of 30 (230 rows) over 3
 * and 4 threads, so rows start at odd indices and the two-row dropout
 * kernels pair them differently; 37 inputs; hidden layers of 200 and 196
 * outputs give their bias gradients four 64-column blocks, one per thread.
 * Dropout on inputs and hidden layers, L1 + L2, warmup, and SGD with
 * momentum or Adam. */
static void all_threads_config(ht_config *c, int adam)
{
    ht_config d;
    ht_config_default(&d);
    small_config(c, adam);       /* its dropout, L2, optimiser and rates */
    c->sizes[0] = 37;
    c->sizes[2] = 196;
    c->batch = 50;
    c->momentum = adam ? 0.0f : 0.9f;
    c->l1 = 1e-5f;
    c->warmup_steps = 3;
    c->schedule = d.schedule;
    c->seed = 17;
}

/* Which threads of a team computed blocks of C: the post hook runs on the
 * thread that computed each block. On the dynamic paths a thread that
 * starts late may find all its units taken by the others, so the panel
 * hook holds each thread after its first unit (always one of its own)
 * until every thread has one (at most 10 s). */
enum { ALL_T = 4 };

typedef struct who_worked {
    _Atomic int started;
    _Atomic int seen[ALL_T];
    _Atomic long blocks[ALL_T];
} who_worked;

static void who_first_unit(void *ctx, int tid, size_t unit)
{
    who_worked *w = ctx;
    (void)unit;
    if (atomic_exchange(&w->seen[tid], 1))
        return;
    atomic_fetch_add(&w->started, 1);
    const double t0 = omp_get_wtime();
    while (atomic_load(&w->started) < ALL_T && omp_get_wtime() - t0 < 10.0) {
    }
}

static void who_post(void *ctx, size_t row, size_t col, size_t m, size_t n,
                     const float *tile, size_t ldt)
{
    (void)row;
    (void)col;
    (void)tile;
    (void)ldt;
    (void)m;
    (void)n;
    atomic_fetch_add(&((who_worked *)ctx)->blocks[omp_get_thread_num()], 1);
}

/* Threads of a team of ALL_T that computed blocks of op(A) op(B), m x n x k.
 * The post hook does not change the thread count of a call's plan (only
 * how B is packed and which units are claimed), so this is also the count
 * of the same call without one. */
static int gemm_workers(int ta, int tb, size_t m, size_t n, size_t k)
{
    const size_t lda = ta ? m : k, ldb = tb ? k : n;
    float *a = malloc(m * k * sizeof(float)), *b = malloc(k * n * sizeof(float));
    float *c = malloc(m * n * sizeof(float));
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    tu_fill(a, m * k, 31, -1.0f, 1.0f);
    tu_fill(b, k * n, 32, -1.0f, 1.0f);
    const size_t need = ht_sgemm_team_ws_floats(ALL_T, ta, tb, m, n, k, 1);
    float *ws = ht_aligned_alloc((need + 16) * sizeof(float));
    assert_non_null(ws);
    ht_gemm_team g;
    ht_gemm_team_init(&g, ALL_T, ws, need + 16);
    who_worked w;
    atomic_init(&w.started, 0);
    for (int i = 0; i < ALL_T; i++) {
        atomic_init(&w.seen[i], 0);
        atomic_init(&w.blocks[i], 0);
    }
    g.panel_hook = who_first_unit;
    g.hook_ctx = &w;
    const ht_gemm_post post = {who_post, &w, 0};
    int fails = 0;
    #pragma omp parallel num_threads(ALL_T) reduction(+ : fails)
    {
        if (omp_get_num_threads() == ALL_T)
            fails += ht_sgemm_team_post(&g, omp_get_thread_num(), ta, tb, m, n,
                                        k, 1.0f, a, lda, b, ldb, 0.0f, c, n,
                                        NULL, &post) != HT_OK;
        else
            fails = 1000;
    }
    assert_int_equal(fails, 0);
    int workers = 0;
    for (int i = 0; i < ALL_T; i++)
        workers += atomic_load(&w.blocks[i]) > 0;
    ht_aligned_free(ws);
    free(a);
    free(b);
    free(c);
    return workers;
}

/* The knob reaches every split of the model below: an elementwise pass of
 * any size gets the whole team (its rows or column blocks then go one
 * range per thread), and every team GEMM of a step (forward, input and
 * weight gradients, at 50 and 30 rows) has all four threads computing. */
static void test_all_threads_work(void **state)
{
    (void)state;
    ht_set_num_threads(ALL_T);
    assert_int_equal(ht_threads_for_work(1.0), ALL_T);
    ht_config c;
    all_threads_config(&c, 0);
    static const size_t rows[] = {50, 30};
    for (size_t r = 0; r < 2; r++)
        for (size_t l = 0; l < c.n_layers; l++) {
            const size_t B = rows[r], in = c.sizes[l], out = c.sizes[l + 1];
            const int fwd = gemm_workers(0, 0, B, out, in);
            const int dx = l ? gemm_workers(0, 1, B, in, out) : ALL_T;
            const int dw = gemm_workers(1, 0, in, out, B);
            if (fwd != ALL_T || dx != ALL_T || dw != ALL_T)
                fail_msg("layer %zu, %zu rows: %d, %d, %d of %d threads "
                         "compute the forward, input- and weight-gradient "
                         "GEMMs", l, B, fwd, dx, dw, ALL_T);
        }
    /* without the knob the same passes stay on one thread */
    ht_test_min_work_scale = 1.0;
    const int by_default = ht_threads_for_work(50.0 * 200.0 * 64.0);
    ht_test_min_work_scale = 0.0;
    assert_int_equal(by_default, 1);
}

/* Five steps (the last of 30 rows) on 1, 2, 3 and 4 threads with every
 * operation split over all of them; the weights must be bitwise the same.
 * On every table this CPU has (its MR and NR change the GEMM splits);
 * under emulation on the active one only (four emulated threads are slow). */
static uint64_t train_all_split(int threads, int adam, const ht_dataset *ds)
{
    ht_set_num_threads(threads);
    ht_config c;
    all_threads_config(&c, adam);
    ht_model *m;
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    assert_int_equal(ht_model_train_epoch(m, ds, NULL, NULL, NULL), HT_OK);
    assert_int_equal(ht_model_step(m), 5);
    const uint64_t h = ht_model_hash(m);
    ht_model_free(m);
    return h;
}

static void test_threads_bitwise_all_split(void **state)
{
    (void)state;
    ht_dataset *ds = blobs(230, 37, 5, 8);
    for (size_t isa = 0; ht_isa_known(isa); isa++) {
        const char *name = ht_isa_known(isa);
        if (!ht_isa_available(name) ||
            (HT_TEST_SCALE > 1 && strcmp(name, all_threads_isa) != 0))
            continue;
        assert_int_equal(ht_isa_select(name), HT_OK);
        for (int adam = 0; adam <= 1; adam++) {
            const uint64_t h1 = train_all_split(1, adam, ds);
            for (int t = 2; t <= ALL_T; t++)
                if (train_all_split(t, adam, ds) != h1)
                    fail_msg("%s, %s: weights differ between 1 and %d threads "
                             "with every operation split", name,
                             adam ? "adam" : "sgd with momentum", t);
        }
    }
    free_blobs(ds);
}

/* Start-up text: names the thread count, never claims a binding it did not
 * read back, states the memory policy. */
static void test_placement_text(void **state)
{
    (void)state;
    ht_config c;
    small_config(&c, 0);
    ht_model *m;
    ht_set_num_threads(1);
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    char buf[1024];
    const size_t need = ht_model_placement_describe(m, buf, sizeof buf);
    assert_true(need < sizeof buf);
    assert_non_null(strstr(buf, "threads: 1"));
    assert_non_null(strstr(buf, "\nmemory: parameters "));
    if (strstr(buf, "t0->PU") == NULL)
        assert_true(strstr(buf, "not bound") || strstr(buf, "NOT bound") ||
                    strstr(buf, "OpenMP"));
    char small[8];
    assert_int_equal(ht_model_placement_describe(m, small, sizeof small), need);
    assert_int_equal(strlen(small), sizeof small - 1);
    ht_model_free(m);
    ht_set_num_threads(0);
}

/* A small model (small_config, SGD) on two threads and 100 rows of blobs
 * for it, for the tests of what a region leaves behind. */
static ht_model *two_thread_model(ht_dataset **ds)
{
    *ds = blobs(100, 40, 5, 6);
    ht_config c;
    small_config(&c, 0);
    ht_model *m;
    ht_set_num_threads(2);
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    return m;
}

/* Training opens its own region: inside a user's parallel region it says
 * so instead of nesting or oversubscribing. */
static void test_refused_inside_region(void **state)
{
    (void)state;
    ht_dataset *ds;
    ht_model *m = two_thread_model(&ds);
    const uint64_t h0 = ht_model_hash(m);
    ht_status s_train = HT_OK, s_eval = HT_OK;
    int team = 0;
    #pragma omp parallel num_threads(2)
    {
        #pragma omp master
        {
            team = omp_get_num_threads();
            ht_eval_stats ev;
            s_train = ht_model_train_epoch(m, ds, NULL, NULL, NULL);
            s_eval = ht_model_evaluate(m, ds, &ev);
        }
    }
    if (team == 2) {
        assert_int_equal(s_train, HT_ERR_ARG);
        assert_int_equal(s_eval, HT_ERR_ARG);
        assert_non_null(strstr(ht_last_error(), "parallel region"));
        assert_true(ht_model_hash(m) == h0);
    }
    ht_model_free(m);
    ht_set_num_threads(0);
    free_blobs(ds);
}

/* Where a trained model's memory really is (hwloc_get_area_memlocation,
 * which sees only pages that exist, so an untouched buffer fails too):
 * parameters on the plan's nodes, each thread's work rows and own GEMM
 * packing buffer on its node, the shared packing buffer on the plan's
 * nodes. Warm epochs keep the packing buffers and take nothing from the
 * process-wide pool: the team packs only into the model's buffers. */
static int nodes_of(hwloc_topology_t h, const void *p, size_t bytes,
                    hwloc_bitmap_t set)
{
    return hwloc_get_area_memlocation(h, p, bytes, set,
                                      HWLOC_MEMBIND_BYNODESET);
}

/* What test_model_memory_placement holds, released on every way out. */
typedef struct placed_model {
    ht_dataset *ds;
    ht_model *m;
    hwloc_topology_t h;
    hwloc_bitmap_t where, want, plan_nodes;
} placed_model;

static void placed_model_free(placed_model *pm)
{
    hwloc_bitmap_free(pm->where);
    hwloc_bitmap_free(pm->want);
    hwloc_bitmap_free(pm->plan_nodes);
    if (pm->h)
        hwloc_topology_destroy(pm->h);
    ht_model_free(pm->m);
    ht_set_num_threads(0);
    free_blobs(pm->ds);
}

static void test_model_memory_placement(void **state)
{
    (void)state;
    placed_model pm = {blobs(700, 40, 5, 9), NULL, NULL, NULL, NULL, NULL};
    const ht_dataset *ds = pm.ds;
    ht_config c;
    small_config(&c, 1);        /* Adam: both moment slabs */
    ht_set_num_threads(2);
    assert_int_equal(ht_model_create(&c, &pm.m), HT_OK);
    ht_model *m = pm.m;
    assert_int_equal(ht_model_train_epoch(m, ds, NULL, NULL, NULL), HT_OK);
    float *own0 = m->pack_own ? m->pack_own[0] : NULL;
    const float *shared0 = m->pack_shared;
    /* an empty pool: any checkout during the epoch would allocate */
    ht_gemm_workspace_release();
    const unsigned long pool0 = ht_gemm_ws_allocations();
    assert_int_equal(ht_model_train_epoch(m, ds, NULL, NULL, NULL), HT_OK);
    assert_true(ht_gemm_ws_allocations() == pool0);
    assert_ptr_equal(m->pack_own ? m->pack_own[0] : NULL, own0);
    assert_ptr_equal(m->pack_shared, shared0);
    const ht_plan *p = m->plan;
    if (p == NULL || m->pack_own == NULL) {
        /* no plan: no topology, a fake one, or OpenMP binding variables */
        placed_model_free(&pm);
        skip();
    }
    assert_int_equal(m->pack_threads, p->n_threads);

    assert_int_equal(hwloc_topology_init(&pm.h), 0);
    assert_int_equal(hwloc_topology_load(pm.h), 0);
    hwloc_topology_t h = pm.h;
    hwloc_bitmap_t where = pm.where = hwloc_bitmap_alloc();
    hwloc_bitmap_t want = pm.want = hwloc_bitmap_alloc();
    hwloc_bitmap_t plan_nodes = pm.plan_nodes = hwloc_bitmap_alloc();
    for (int d = 0; d < p->n_domains; d++)
        hwloc_bitmap_set(plan_nodes, (unsigned)p->domain_node[d]);
    if (nodes_of(h, m->params, sizeof(float), where) != 0) {
        placed_model_free(&pm);
        skip();     /* qemu-user: no move_pages */
    }
    const size_t pbytes = m->n_params * sizeof(float);
    const float *slabs[] = {m->params, m->grads, m->opt_m, m->opt_v};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(nodes_of(h, slabs[i], pbytes, where), 0);
        assert_false(hwloc_bitmap_iszero(where));
        assert_true(hwloc_bitmap_isincluded(where, plan_nodes));
    }
    for (int tid = 0; tid < p->n_threads; tid++) {
        hwloc_bitmap_only(want,
                          (unsigned)p->domain_node[p->thread_domain[tid]]);
        const size_t b = p->thread_row_begin[tid], e = p->thread_row_end[tid];
        for (size_t i = 0; i < m->n_rowbufs && e > b; i++) {
            const char *base = m->rowbuf[i].base;
            const size_t rb = m->rowbuf[i].row_bytes;
            assert_int_equal(nodes_of(h, base + b * rb, (e - b) * rb, where),
                             0);
            if (!hwloc_bitmap_isequal(where, want))
                fail_msg("work rows [%zu,%zu) of row buffer %zu are not on "
                         "thread %d's node", b, e, i, tid);
        }
        assert_int_equal(nodes_of(h, m->pack_own[tid],
                                  m->pack_own_floats * sizeof(float), where),
                         0);
        if (!hwloc_bitmap_isequal(where, want))
            fail_msg("thread %d's packing buffer is not on its node", tid);
    }
    assert_int_equal(nodes_of(h, m->pack_shared,
                              m->pack_shared_floats * sizeof(float), where),
                     0);
    assert_false(hwloc_bitmap_iszero(where));
    assert_true(hwloc_bitmap_isincluded(where, plan_nodes));
    placed_model_free(&pm);
}

/* The team size may change between runs, also above the usable PUs (the
 * model then has no plan, so nothing to place by): the packing buffers are
 * made again for each new team, training goes on, and the weights are the
 * bits of a model trained on one thread all along. */
static void test_team_size_changes(void **state)
{
    (void)state;
    ht_dataset *ds = blobs(700, 40, 5, 10);
    ht_config c;
    small_config(&c, 0);
    ht_model *m, *ref;
    ht_set_num_threads(1);
    assert_int_equal(ht_model_create(&c, &ref), HT_OK);
    for (int e = 0; e < 3; e++)
        assert_int_equal(ht_model_train_epoch(ref, ds, NULL, NULL, NULL),
                         HT_OK);
    ht_set_num_threads(2);
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    assert_int_equal(ht_model_train_epoch(m, ds, NULL, NULL, NULL), HT_OK);
    int pus = 2;
    ht_topology_summary ts;
    if (m->topo && ht_topology_summary_get(m->topo, &ts) == HT_OK)
        pus = ts.pus;
    const int sizes[2] = {pus + 1, 1};
    for (int i = 0; i < 2; i++) {
        ht_set_num_threads(sizes[i]);
        if (ht_model_train_epoch(m, ds, NULL, NULL, NULL) != HT_OK)
            fail_msg("training on %d threads after 2: %s", sizes[i],
                     ht_last_error());
        assert_int_equal(m->pack_threads, sizes[i]);
    }
    assert_true(ht_model_hash(m) == ht_model_hash(ref));
    ht_model_free(m);
    ht_model_free(ref);
    ht_set_num_threads(0);
    free_blobs(ds);
}

/* The calling thread is thread 0 of the library's regions and is bound to
 * the plan's PU while they run; afterwards it has its own binding back
 * (the old code left it on one PU, and so every thread the host created
 * later). */
static void test_caller_binding_kept(void **state)
{
    (void)state;
    hwloc_topology_t h;
    assert_int_equal(hwloc_topology_init(&h), 0);
    assert_int_equal(hwloc_topology_load(h), 0);
    hwloc_bitmap_t before = hwloc_bitmap_alloc(), after = hwloc_bitmap_alloc();
    /* start from every PU the process may use (an earlier test's model
     * may have bound this thread, with the old code for good) */
    hwloc_bitmap_t all = hwloc_bitmap_alloc();
    const int got_all = hwloc_get_proc_cpubind(h, 0, all, HWLOC_CPUBIND_PROCESS);
    if (got_all == 0)
        (void)hwloc_set_cpubind(h, all, HWLOC_CPUBIND_THREAD);
    hwloc_bitmap_free(all);
    if (hwloc_get_cpubind(h, before, HWLOC_CPUBIND_THREAD) != 0) {
        hwloc_bitmap_free(before);
        hwloc_bitmap_free(after);
        hwloc_topology_destroy(h);
        skip();     /* no binding support (qemu-user) */
    }
    ht_dataset *ds;
    ht_model *m = two_thread_model(&ds);
    assert_int_equal(hwloc_get_cpubind(h, after, HWLOC_CPUBIND_THREAD), 0);
    assert_true(hwloc_bitmap_isequal(before, after));
    assert_int_equal(ht_model_train_epoch(m, ds, NULL, NULL, NULL), HT_OK);
    ht_eval_stats ev;
    assert_int_equal(ht_model_evaluate(m, ds, &ev), HT_OK);
    assert_int_equal(hwloc_get_cpubind(h, after, HWLOC_CPUBIND_THREAD), 0);
    if (!hwloc_bitmap_isequal(before, after)) {
        char b[64], a[64];
        hwloc_bitmap_list_snprintf(b, sizeof b, before);
        hwloc_bitmap_list_snprintf(a, sizeof a, after);
        fail_msg("caller bound to PUs %s before, %s after", b, a);
    }
    ht_model_free(m);
    ht_set_num_threads(0);
    free_blobs(ds);
    hwloc_bitmap_free(before);
    hwloc_bitmap_free(after);
    hwloc_topology_destroy(h);
}

/* Row phases follow the plan's rows when there are several NUMA domains:
 * every thread then works on its own rows (first touched on its node);
 * with one domain, no plan, or a plan for another team size, a phase
 * keeps the threads its work asks for. */
static void test_row_threads_by_plan(void **state)
{
    (void)state;
    static const struct { const char *topo; int threads, domains; } cases[] = {
        {"pack:2 numa:1 core:4 pu:1", 8, 2},
        {"pack:4 numa:1 core:2 pu:2", 8, 4},
        {"pack:1 numa:1 core:8 pu:1", 8, 1},
        {"pack:2 numa:1 core:4 pu:1", 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ht_topology *t;
        ht_plan *p;
        assert_int_equal(ht_topology_load_synthetic(cases[i].topo, &t), HT_OK);
        assert_int_equal(ht_plan_compute(t, cases[i].threads, 128, &p), HT_OK);
        assert_int_equal(p->n_domains, cases[i].domains);
        const int nt = cases[i].threads, many = p->n_domains > 1;
        for (int want = 1; want <= nt; want++) {
            assert_int_equal(ht_sched_row_threads(p, nt, want),
                             many ? nt : want);
            if (nt > 1)     /* a team the plan was not made for */
                assert_int_equal(ht_sched_row_threads(p, nt - 1, want),
                                 want);
        }
        /* the rows thread i then takes are the plan's own */
        for (int tid = 0; many && tid < nt; tid++) {
            assert_int_equal(128 * (size_t)tid / (size_t)nt,
                             p->thread_row_begin[tid]);
            assert_int_equal(128 * (size_t)(tid + 1) / (size_t)nt,
                             p->thread_row_end[tid]);
        }
        ht_plan_free(p);
        ht_topology_free(t);
    }
    assert_int_equal(ht_sched_row_threads(NULL, 8, 3), 3);
}

/* The library limits nesting only for its own regions: the host program's
 * setting is back after creating, training and evaluating a model (the
 * old code left it at 1 for good). */
static void test_host_nesting_kept(void **state)
{
    (void)state;
    const int before = omp_get_max_active_levels();
    omp_set_max_active_levels(3);
    const int host = omp_get_max_active_levels(); /* the runtime may cap it */
    ht_dataset *ds;
    ht_model *m = two_thread_model(&ds);
    assert_int_equal(omp_get_max_active_levels(), host);
    assert_int_equal(ht_model_train_epoch(m, ds, NULL, NULL, NULL), HT_OK);
    assert_int_equal(omp_get_max_active_levels(), host);
    ht_eval_stats ev;
    assert_int_equal(ht_model_evaluate(m, ds, &ev), HT_OK);
    assert_int_equal(omp_get_max_active_levels(), host);
    ht_model_free(m);
    ht_set_num_threads(0);
    free_blobs(ds);
    omp_set_max_active_levels(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_barrier_subteams),
        cmocka_unit_test(test_team_gemm_bitwise),
        cmocka_unit_test(test_team_gemm_steal),
        cmocka_unit_test(test_team_gemm_stale_claims),
        cmocka_unit_test(test_threads_bitwise),
        cmocka_unit_test(test_same_as_fork_join),
        cmocka_unit_test_setup_teardown(test_all_threads_work,
                                        all_threads_setup,
                                        all_threads_teardown),
        cmocka_unit_test_setup_teardown(test_threads_bitwise_all_split,
                                        all_threads_setup,
                                        all_threads_teardown),
        cmocka_unit_test(test_placement_text),
        cmocka_unit_test(test_refused_inside_region),
        cmocka_unit_test(test_host_nesting_kept),
        cmocka_unit_test(test_model_memory_placement),
        cmocka_unit_test(test_team_size_changes),
        cmocka_unit_test(test_caller_binding_kept),
        cmocka_unit_test(test_row_threads_by_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
