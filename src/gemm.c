/* The SGEMM driver: BLIS-style blocking over NC/KC/MC with packing through
 * the active kernel table, plus the table's small-N paths for narrow
 * outputs.
 *
 * Threads partition output tiles only, never K: the output is cut into a
 * tm x tn grid of MR-row x NR-column panel ranges, one per thread. Threads
 * in a grid column share each packed KC x NC block of B (they pack it
 * together, then meet at a barrier); each packs its own A. K is sliced the
 * same way (kc from K alone) for any thread count, so every element of C
 * sees the same operations in the same order: results are bitwise the same
 * for any number of threads. When all rows fit one MC block (the batch
 * dimension of a training GEMM), threads split columns only and each packs
 * every B panel right before using it (see packed_thread); in a team call,
 * a thread that has finished its own column panels takes what is left of
 * the others' (dyn_thread), which changes who computes a panel, not how.
 * Team calls with a post hook that split rows over one K slice (the
 * weight gradient) hand out row blocks the same way (dyn_rows_thread).
 *
 * Team calls may pass a post hook (the trainer's optimiser step), run on
 * each finished micro-tile; the tiles then go along the rows, and threads
 * that split rows each pack their own copy of B instead of sharing one
 * (see team_plan). The micro-kernel calls, and so C, are the same.
 *
 * Narrow outputs (n <= the table's small_n_max, the 10 classes of an output
 * layer) go to the table's small-N kernels instead, rows split among
 * threads (a B that must first be transposed is split by columns); which
 * path runs depends on the shape alone.
 *
 * ht_sgemm's packing buffers come from a process-wide pool
 * (gemm_workspace.c): a warm call allocates nothing. A team call packs into
 * buffers its caller reserved: one shared (B panels a grid column of
 * threads shares) and, with ht_gemm_team_init_own, one per thread (its A
 * panels and the B panels only it reads), which the trainer places on the
 * thread's node. */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "barrier.h"
#include "error.h"
#include "gemm.h"
#include "internal.h"

/* Below this much work per thread, another thread costs more than it
 * saves (fork/join and a barrier are a few microseconds). On the Zen 5
 * guest, 2 threads, ht_sgemm in a loop, 24 shapes, two builds alternated
 * over 3 rounds: at 1.5e6, shapes of 2.0 to 2.9 MFLOP stayed on one
 * thread, and two ran them 1.19 to 1.64x faster (among them NN 100^3,
 * 128x128x64, 32x1024x32, 1000x1000x1, and the batch-128 output layer's
 * NN 128x10x1024, NT 128x1024x10, TN 1024x10x128), except where a shared
 * B costs a barrier per K slice (below). The batch-64 output layer's 1.3
 * MFLOP still stays on one: NN 64x10x1024 ran 0.92x on two. */
#define GEMM_MIN_FLOPS_PER_THREAD 1.0e6
/* A grid whose threads share B panels (several grid rows) meets at a
 * barrier per K slice and NC block. Each such step must give every thread
 * this much work: NN 16x16x4096 (2.1 MFLOP, 19 K slices of the AVX-512
 * table) ran 0.51x on 2 threads, about 1.7 us lost per barrier. */
#define GEMM_MIN_FLOPS_PER_STEP 0.4e6
/* The same inside a team, where no fork/join is paid and the phase barrier
 * comes anyway: what one thread leaves undone is the cost. At 1.5e6 the
 * output layer's three GEMMs of 784-1024-1024-10 at batch 128 (2.6 MFLOP
 * each) ran on one thread and took longer on a 2-thread team than on a
 * 1-thread one (rows made and used by the other core); at 0.5e6 they use
 * both threads: 0.0165 s against 0.0243 s per 100 steps (`hpctrain bench
 * --threads 2`, per-layer profile, medians of 8 alternated runs). */
#define GEMM_TEAM_MIN_FLOPS_PER_THREAD 0.5e6

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }
static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

static ht_status check_args(int transa, int transb, size_t m, size_t n,
                            size_t k, const float *a, size_t lda,
                            const float *b, size_t ldb, const float *c,
                            size_t ldc, const ht_epilogue *epi)
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
    if (epi && epi->mask && m && n && epi->mask_ld < (n + 31) / 32)
        return ht_error(HT_ERR_ARG, "ht_sgemm_ex: mask_ld=%zu < %zu words for "
                        "n=%zu", epi->mask_ld, (n + 31) / 32, n);
    return HT_OK;
}

/* At most t threads for `flops` of work on `units` independent output
 * pieces, each thread with at least `min_flops` (times
 * ht_test_min_work_scale, 1 outside tests). */
static int work_threads(double flops, double min_flops, size_t units, int t)
{
    /* scale 0 (tests): no floor, and no division by zero */
    const double min = min_flops * ht_test_min_work_scale;
    double by_work = min > 0.0 ? flops / min : (double)t;
    if (by_work < t)
        t = by_work < 1.0 ? 1 : (int)by_work;
    if ((size_t)t > units)
        t = (int)max_sz(units, 1);
    return t;
}

/* Threads for `flops` of work on `units` independent output pieces. */
static int gemm_threads(double flops, size_t units)
{
    if (omp_in_parallel())
        return 1;
    return work_threads(flops, GEMM_MIN_FLOPS_PER_THREAD, units,
                        ht_get_num_threads());
}

/* The epilogue seen by the tile whose top-left element is (row, col). */
static const ht_ukr_epi *tile_epi(const ht_epilogue *epi, size_t row,
                                  size_t col, ht_ukr_epi *ue)
{
    if (epi == NULL)
        return NULL;
    ue->bias = epi->bias ? epi->bias + col : NULL;
    ue->relu = epi->relu;
    ue->mask = epi->mask ? epi->mask + row * epi->mask_ld + col / 32 : NULL;
    ue->mask_ld = epi->mask_ld;
    ue->bit0 = (unsigned)(col % 32);
    ue->scale = epi->scale;
    return ue;
}

/* ------------------------------------------------------- packed path */

typedef struct gemm_plan {
    const ht_kernels *kt;
    size_t m, n, k;
    float alpha, beta;
    const float *a, *b;
    size_t rsa, csa, rsb, csb;
    float *c;
    size_t ldc;
    const ht_epilogue *epi;
    size_t mr, nr, kc, nslices, mc, nc;
    int tm, tn;             /* thread grid: tm row ranges x tn col ranges */
    size_t n_jc;            /* NC blocks per column range (the largest)  */
    size_t bsize, asize;    /* floats per B buffer / per A buffer        */
    /* Buffers (see b_own): the shared B buffers, 2 per grid column, at
     * bbuf; each thread's own buffer (its A panels, then its 2 B buffers
     * when B is its own) at own[id] (a team with per-thread buffers, each
     * on its thread's node) or else at obase + id * ostride. */
    float *bbuf;
    float *const *own;
    float *obase;
    size_t ostride;
    ht_barrier *bar;        /* team mode: the grid's barrier; NULL: omp  */
    const ht_gemm_post *post; /* team mode: finished tiles; or NULL       */
    int consume;            /* post consumes the tiles: they go to scratch */
    int private_b;          /* each thread packs all its B panels itself */
    int dyn;                /* team mode: units claimed at run time: 1
                               column panels (dyn_thread), 2 row blocks
                               (dyn_rows_thread); 0 the static split     */
    uint64_t tag;           /* dynamic: this call's number in the team     */
    const ht_gemm_team *team; /* team mode: claims and the test hook       */
} gemm_plan;

/* Whether each thread packs B into its own buffer: always when it packs
 * all its B panels itself (private_b, the row mode), and whenever the grid
 * has one row (a grid column is one thread; the column mode). Otherwise
 * the tm threads of a grid column share its B buffers. */
static int b_own(const gemm_plan *pl)
{
    return pl->private_b || pl->tm == 1;
}

/* Thread id's own buffer. */
static float *own_buf(const gemm_plan *pl, int id)
{
    return pl->own ? pl->own[id] : pl->obase + (size_t)id * pl->ostride;
}

/* Hands the finished tile (or small-N row block) C[row .. row+m) x
 * [col .. col+n), whose values are at tile (rows ldt apart), to the post
 * hook, if any, while it is still in L1. */
static void post_tile(const ht_gemm_post *post, size_t row, size_t col,
                      size_t m, size_t n, const float *tile, size_t ldt)
{
    if (post && m && n)
        post->fn(post->ctx, row, col, m, n, tile, ldt);
}

/* A consuming hook's tiles (ht_gemm_post.consume), one per thread: room
 * for the largest MR x NR of any table (AVX-512's 8 x 32). A tile stays in
 * L1 from the micro-kernel's stores to the hook's loads, where a tile of
 * C would have cost a write-allocate read and a write-back of its lines:
 * 2 of the 6 memory passes the optimiser's step over a weight matrix made
 * (one thread of a Zen 5 guest: 2.5 to 3.1 % less time per training step of
 * the benchmark configuration, alternated steps in one process). */
#define TILE_SCRATCH 1024
static _Thread_local _Alignas(64) float tile_scratch[TILE_SCRATCH];

/* Where the micro-kernel puts tile (row, col): C, or the thread's scratch
 * tile when the plan's hook consumes its tiles. */
static float *tile_dst(const gemm_plan *pl, size_t row, size_t col,
                       size_t *ldt)
{
    if (pl->consume) {
        *ldt = pl->nr;
        return tile_scratch;
    }
    *ldt = pl->ldc;
    return pl->c + row * pl->ldc + col;
}

/* K slices of equal size, none much over the table's kc: the count
 * depends on K alone, never on the thread count. A K up to 4/3 kc stays
 * one slice: kc fills half of L1 with the B micro-panel, so 4/3 kc fills
 * two thirds, and a second slice would cost a whole extra read and write
 * of C (the batch-256 weight gradients, K = 256 against kc = 192 with the
 * AVX-512 table, one thread of the Zen 5 guest: 181-199 -> 194-201
 * GFLOP/s, two builds' bench_gemm alternated over 3 rounds). */
static size_t slice_kc(size_t k, size_t kc, size_t *nslices)
{
    if (k == 0) {
        *nslices = 1;
        return 0;
    }
    if (k <= kc + kc / 3) {
        *nslices = 1;
        return k;
    }
    size_t ns = ceil_div(k, kc + kc / 8);
    *nslices = ns;
    return ceil_div(k, ns);
}

static void grid_sizes(const gemm_plan *pl, int tm, int tn, size_t *asize,
                       size_t *bsize, size_t *n_jc)
{
    const size_t pm = ceil_div(pl->m, pl->mr), pn = ceil_div(pl->n, pl->nr);
    const size_t rows = ceil_div(pm, (size_t)tm) * pl->mr;
    const size_t cols = ceil_div(pn, (size_t)tn) * pl->nr;
    const size_t mc = min_sz(pl->mc, rows), nc = min_sz(pl->nc, cols);
    /* multiples of 16 floats, so every buffer starts 64-byte aligned */
    *asize = ceil_div(ceil_div(mc, pl->mr) * pl->mr * pl->kc, 16) * 16 + 64;
    *bsize = ceil_div(ceil_div(nc, pl->nr) * pl->nr * pl->kc, 16) * 16 + 64;
    *n_jc = ceil_div(cols, pl->nc);
}

/* Picks the grid tm x tn = t that minimises the slowest thread's padded
 * multiply-adds plus its packing (a packed element weighs ~8 flops), with
 * every thread owning at least one row panel and one column panel.
 * Returns 0 if t threads admit no such grid (t = 3 on 2 x 2 panels). */
static int choose_grid(gemm_plan *pl, int t, int post)
{
    const size_t pm = ceil_div(pl->m, pl->mr), pn = ceil_div(pl->n, pl->nr);
    double best = -1.0;
    /* short K without a post hook (see short_k_thread): split rows, and
     * each thread packs all of B for itself, so a thread writes whole rows
     * of C, the rows that the trainer's row-split elementwise passes then
     * give the same thread */
    if (!post && pl->k < HT_UKR_SHORT_K && pm >= (size_t)t) {
        pl->tm = t;
        pl->tn = 1;
        pl->private_b = 1;
        return 1;
    }
    /* all rows in one MC block: split columns only, so every thread streams
     * its own B panels (see packed_thread). The cost below has no term for
     * reading B panels another core packed, which is what tm > 1 costs:
     * at batch 128 the column split beat the model's choice by ~10% on 2
     * threads and by 1.5-1.7x on 8 and 16 (docs/SCALING.md, sections 3, 6) */
    if (pl->m <= pl->mc && pn >= (size_t)t) {
        pl->tm = 1;
        pl->tn = t;
        return 1;
    }
    for (int tm = t; tm >= 1; tm--) {
        if (t % tm)
            continue;
        const int tn = t / tm;
        if ((size_t)tm > pm || (size_t)tn > pn)
            continue;
        const double rows = (double)(ceil_div(pm, (size_t)tm) * pl->mr);
        const double cols = (double)(ceil_div(pn, (size_t)tn) * pl->nr);
        const double njc = (double)ceil_div((size_t)cols, pl->nc);
        const double kk = (double)pl->k;
        /* without a post hook, tm > 1 shares the grid column's B panels:
         * each thread reads the (tm-1)/tm of them that other cores packed,
         * weighed as packing them again. AVX2 table, 2 threads, NT
         * 256x784x1024 (M over MC = 168): the model without this term
         * chose 2 x 1 by 0.2 %, which ran at 167-174 GFLOP/s, against
         * 189-194 for the 1 x 2 it now picks (bench_gemm, the two builds
         * alternated over 3 rounds) */
        const double shared =
            post ? 0.0 : 8.0 * cols * kk * (double)(tm - 1) / tm;
        const double cost = 2.0 * rows * cols * kk +
                            8.0 * (rows * kk * njc + cols * kk / tm) + shared;
        if (best < 0.0 || cost < best) {
            best = cost;
            pl->tm = tm;
            pl->tn = tn;
        }
    }
    return best >= 0.0;
}

static void range(size_t units, size_t parts, size_t idx, size_t *lo,
                  size_t *hi)
{
    *lo = units * idx / parts;
    *hi = units * (idx + 1) / parts;
}

/* ---------------------------------------------- dynamic column panels
 * A team call whose rows fit one MC block and whose grid splits columns
 * only (the forward and data-gradient GEMMs of a training step) can hand
 * out its column panels at run time: each thread takes the panels of its
 * own static range from the front, then takes what is left of the others'
 * ranges from the back (a thread that arrives late finds its range opened
 * and partly taken). A panel's micro-kernel calls, its packing and the
 * order of its K slices do not depend on which thread runs it, so C is
 * bitwise what the static split gives, for any team size. What it buys: on
 * a machine whose cores do not all run at the same speed (a shared VM, a
 * busy neighbour on one core) the fast threads finish the slow one's
 * panels instead of waiting for it at the next barrier. For that, each
 * thread packs every K slice of A once (rows x K floats, allowed up to
 * half of L2), so a panel can be finished through all its slices by
 * whoever takes it. */

/* Units a claim word can count (see claim_pack): 4095 column panels are
 * 131040 columns at NR = 32; larger calls take the static path. */
#define CLAIM_PANELS ((uint64_t)1 << 12)

/* Floats of one thread's A buffer on the dynamic path: every K slice. */
static size_t dyn_asize(const gemm_plan *pl)
{
    return ceil_div(ceil_div(pl->m, pl->mr) * pl->mr * pl->k, 16) * 16 + 64;
}

/* Whether a team call on t threads takes the dynamic path. */
static int dyn_fits(const gemm_plan *pl, int t, int post)
{
    /* short K: each thread's static columns go along C's rows instead
     * (short_k_thread), where the claimed panels would go down them */
    if (post || t < 2 || pl->tm != 1 || pl->m > pl->mc || pl->k == 0 ||
        pl->k < HT_UKR_SHORT_K)
        return 0;
    const size_t pn = ceil_div(pl->n, pl->nr);
    if (ceil_div(pn, (size_t)t) * pl->nr > pl->nc || pn >= CLAIM_PANELS)
        return 0;
    size_t l1, l2, l3;
    ht_cache_sizes(&l1, &l2, &l3);
    return dyn_asize(pl) * sizeof(float) <= l2 / 2;
}

/* The row mode: a call with a post hook (the trainer's weight gradient and
 * optimiser step) whose grid splits rows only, over one K slice and one NC
 * block, so each thread packs all of B for itself (private_b) and the
 * units handed out are blocks of DYN_ROW_PANELS row micro-panels, packed
 * by whoever takes them; the tiles of a block still go along its rows. */
#define DYN_ROW_PANELS 8

/* Rows of one unit of the row mode: at most the rows the grid gave each
 * thread's A buffer room for. */
static size_t dyn_row_unit(const gemm_plan *pl, int t)
{
    const size_t pm = ceil_div(pl->m, pl->mr);
    const size_t room = min_sz(pl->mc, ceil_div(pm, (size_t)t) * pl->mr);
    return min_sz(DYN_ROW_PANELS * pl->mr, room);
}

static int dyn_rows_fit(const gemm_plan *pl, int t, int post)
{
    if (!post || t < 2 || pl->tm != t || pl->tn != 1 || pl->nslices != 1 ||
        pl->k == 0 || pl->n > pl->nc)
        return 0;
    return ceil_div(pl->m, dyn_row_unit(pl, t)) < CLAIM_PANELS;
}

/* A claim word: the call's tag (its number among the team's calls, 40
 * bits: it never wraps, so a word left from any earlier call, however long
 * ago, is never taken for this one's), then the next and the end of the
 * range of units (column panels, or row blocks in the row mode) its thread
 * still owns (12 bits each). */
#define CLAIM_TAG(w) ((w) >> 24)

static uint64_t claim_pack(uint64_t tag, uint64_t next, uint64_t end)
{
    return (tag & (((uint64_t)1 << 40) - 1)) << 24 | next << 12 | end;
}

/* Takes the next unit of a range: from the front for its owner, from the
 * back for anyone else. 1: *panel taken; 0: the range is empty; -1: the
 * word still holds an earlier call's tag (see claim_open). */
static int claim(ht_gemm_claim *cl, uint64_t tag, int front, size_t *panel)
{
    uint64_t cur = atomic_load_explicit(&cl->word, memory_order_relaxed);
    for (;;) {
        if (CLAIM_TAG(cur) != CLAIM_TAG(claim_pack(tag, 0, 0)))
            return -1;
        const uint64_t next = cur >> 12 & (CLAIM_PANELS - 1);
        const uint64_t end = cur & (CLAIM_PANELS - 1);
        if (next >= end)
            return 0;
        const uint64_t want = front ? claim_pack(tag, next + 1, end)
                                    : claim_pack(tag, next, end - 1);
        if (atomic_compare_exchange_weak_explicit(&cl->word, &cur, want,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *panel = (size_t)(front ? next : end - 1);
            return 1;
        }
    }
}

/* Share `part` of `parts` of the cache lines that pack_b will read for the
 * kb x nn block of B at b (strides rsb, csb), asked into L1. Packing a
 * panel right before use (packed_thread) reads B a row stride apart, in
 * NN calls a page apart, where the hardware prefetchers do not follow; the
 * panel's micro-kernel calls hide these requests. On the Zen 5 guest, one
 * thread, `hpctrain bench` of the benchmark configuration alternated with
 * and without (3 x 3 runs): forward GEMMs 165-171 -> 173-179 GFLOP/s, input
 * gradient 171-173 -> 176-179, the step 7.55-7.73 -> 7.35-7.48 ms; while
 * the host was busier, 8.29-8.49 -> 8.10-8.20 ms (6 pairs); two builds
 * alternated 10 times, medians 7.30 -> 7.07 ms, faster in all 10. Into L2
 * instead of L1: no clear gain. The 2-thread path (dyn_panel) walks each
 * panel through K, and the same requests for its next K slice gained
 * nothing there (6 pairs), so it has none. */
static void prefetch_b_part(const float *b, size_t rsb, size_t csb, size_t kb,
                            size_t nn, size_t part, size_t parts)
{
    size_t lines, len, stride;
    if (csb == 1) {             /* a K row of the panel: nn floats */
        lines = kb;
        len = nn;
        stride = rsb;
    } else if (rsb == 1) {      /* a column of the panel: kb floats */
        lines = nn;
        len = kb;
        stride = csb;
    } else {
        return;                 /* the generic packing: no pattern to ask */
    }
    if (len == 0)
        return;
    const size_t lo = lines * part / parts, hi = lines * (part + 1) / parts;
    for (size_t i = lo; i < hi; i++) {
        const uintptr_t s = (uintptr_t)(b + i * stride);
        const uintptr_t e = (uintptr_t)(b + i * stride + len - 1);
        for (uintptr_t a = s & ~(uintptr_t)63; a <= e; a += 64)
            __builtin_prefetch((const void *)a, 0, 3);
    }
}

/* Runs panel j through every K slice: the micro-kernel calls the static
 * split makes for it, in the same order. */
static void dyn_panel(const gemm_plan *pl, const float *ap, size_t rows_pad,
                      float *bp, size_t j)
{
    const ht_kernels *kt = pl->kt;
    const size_t mr = pl->mr, rows = pl->m;
    const size_t col = j * pl->nr, nn = min_sz(pl->nr, pl->n - col);
    for (size_t sl = 0; sl < pl->nslices; sl++) {
        const size_t pc = sl * pl->kc, kb = min_sz(pl->kc, pl->k - pc);
        const int last = sl + 1 == pl->nslices;
        const float beta = sl == 0 ? pl->beta : 1.0f;
        const float *apk = ap + rows_pad * pc;
        kt->pack_b(kb, nn, pl->b + pc * pl->rsb + col * pl->csb, pl->rsb,
                   pl->csb, bp);
        for (size_t ir = 0; ir < rows; ir += mr) {
            const size_t mm = min_sz(mr, rows - ir);
            ht_ukr_epi ue;
            const ht_ukr_epi *uep =
                last ? tile_epi(pl->epi, ir, col, &ue) : NULL;
            kt->gemm_ukr(kb, pl->alpha, apk + ir * kb, bp, beta,
                         pl->c + ir * pl->ldc + col, pl->ldc, mm, nn, uep);
        }
    }
}

/* Gives thread v's claim word this call's tag and v's static range of the
 * call's units, unless someone already has (v itself, or a thread that got
 * there first: a late thread's units are not waited for). */
static void claim_open(ht_gemm_claim *cl, uint64_t tag, size_t pn, size_t t,
                       size_t v)
{
    size_t lo, hi;
    range(pn, t, v, &lo, &hi);
    uint64_t cur = atomic_load_explicit(&cl->word, memory_order_relaxed);
    while (CLAIM_TAG(cur) != CLAIM_TAG(claim_pack(tag, 0, 0)) &&
           !atomic_compare_exchange_weak_explicit(
               &cl->word, &cur, claim_pack(tag, lo, hi), memory_order_relaxed,
               memory_order_relaxed)) {
    }
}

/* What one unit of a dynamic call runs with: the plan and this thread's
 * packing buffers. */
typedef struct dyn_ctx {
    const gemm_plan *pl;
    float *ap, *bp;
    size_t rows_pad;        /* column mode: A's rows, padded to MR      */
    size_t ur;              /* row mode: rows per block                 */
} dyn_ctx;

/* Thread id's claims of a call of `units` units split over t threads: its
 * own range from the front, then the others' from the back, run(ctx, u)
 * on each unit taken. A word still tagged with an earlier call (the caller
 * separates calls with a barrier, so no thread is in a later one) is
 * opened for its owner first. */
static void dyn_claims(const dyn_ctx *d, int id, size_t t, size_t units,
                       void (*run)(const dyn_ctx *d, size_t u))
{
    const ht_gemm_team *g = d->pl->team;
    const size_t me = (size_t)id;
    size_t u;
    for (size_t i = 0; i < t; i++) {
        const size_t v = (me + i) % t;
        claim_open(&g->claims[v], d->pl->tag, units, t, v);
        while (claim(&g->claims[v], d->pl->tag, v == me, &u) > 0) {
            if (g->panel_hook)
                g->panel_hook(g->hook_ctx, id, u);
            run(d, u);
        }
    }
}

static void col_unit(const dyn_ctx *d, size_t j)
{
    dyn_panel(d->pl, d->ap, d->rows_pad, d->bp, j);
}

static void dyn_thread(const gemm_plan *pl, int id)
{
    float *own = own_buf(pl, id);
    dyn_ctx d = {pl, own, own + dyn_asize(pl),
                 ceil_div(pl->m, pl->mr) * pl->mr, 0};
    for (size_t sl = 0; sl < pl->nslices; sl++) {
        const size_t pc = sl * pl->kc, kb = min_sz(pl->kc, pl->k - pc);
        pl->kt->pack_a(pl->m, kb, pl->a + pc * pl->csa, pl->rsa, pl->csa,
                       d.ap + d.rows_pad * pc);
    }
    dyn_claims(&d, id, (size_t)pl->tn, ceil_div(pl->n, pl->nr), col_unit);
}

/* Row block u of the row mode: packed, then run tile by tile along its
 * rows with the post hook, as packed_thread runs them. */
static void row_unit(const dyn_ctx *d, size_t u)
{
    const gemm_plan *pl = d->pl;
    const size_t mr = pl->mr, nr = pl->nr, kb = pl->k;
    const size_t npan = ceil_div(pl->n, nr);
    const size_t r0 = u * d->ur, rows = min_sz(d->ur, pl->m - r0);
    pl->kt->pack_a(rows, kb, pl->a + r0 * pl->rsa, pl->rsa, pl->csa, d->ap);
    for (size_t ir = 0; ir < rows; ir += mr) {
        const size_t mm = min_sz(mr, rows - ir), row = r0 + ir;
        for (size_t jr = 0; jr < npan; jr++) {
            const size_t col = jr * nr, nn = min_sz(nr, pl->n - col);
            ht_ukr_epi ue;
            size_t ldt;
            float *t = tile_dst(pl, row, col, &ldt);
            pl->kt->gemm_ukr(kb, pl->alpha, d->ap + ir * kb, d->bp + col * kb,
                             pl->beta, t, ldt, mm, nn,
                             tile_epi(pl->epi, row, col, &ue));
            post_tile(pl->post, row, col, mm, nn, t, ldt);
        }
    }
}

/* The row mode's share of thread `id`: all of B packed, then row blocks
 * claimed as dyn_thread claims panels. */
static void dyn_rows_thread(const gemm_plan *pl, int id, size_t asize)
{
    float *own = own_buf(pl, id);
    dyn_ctx d = {pl, own, own + asize, 0, dyn_row_unit(pl, pl->tm)};
    pl->kt->pack_b(pl->k, pl->n, pl->b, pl->rsb, pl->csb, d.bp);
    dyn_claims(&d, id, (size_t)pl->tm, ceil_div(pl->m, d.ur), row_unit);
}

/* The path of a thread that packs its own B panels (b_own: it owns whole
 * columns, or short K split the rows, see choose_grid), without a post
 * hook, for short K (< HT_UKR_SHORT_K in simd/table.h, so one K slice):
 * all its B panels are packed at once (k x nb floats, 40 KiB for the
 * output layer's input gradient, K = 10 and 1024 columns) and the tiles go
 * along the rows, so each row of C is written forward through memory,
 * where the hardware prefetchers follow, instead of a tile's 8 rows a page
 * apart per call. The same micro-kernel calls, so the same C. One thread
 * of the Zen 5 guest, NT 256 x 1024 x 10, ht_sgemm in a loop: 59 -> 165
 * GFLOP/s (with the kernel's C prefetch off for short K; 166-175 in six
 * code layouts, where the old order ran 56-62 in sixteen and 148 in one);
 * K = 16 131 -> 185, K = 32 and over within noise. */
static void short_k_thread(const gemm_plan *pl, size_t row0, size_t rows,
                           size_t mcb, size_t col0, size_t col1, size_t n_jc,
                           float *ap, float *bp)
{
    const ht_kernels *kt = pl->kt;
    const size_t mr = pl->mr, nr = pl->nr, kb = pl->k;
    for (size_t jc = 0; jc < n_jc; jc++) {
        const size_t c_lo = min_sz(col0 + jc * pl->nc, col1);
        const size_t nb = min_sz(pl->nc, col1 - c_lo);
        if (nb == 0)
            continue;
        if (kb)
            kt->pack_b(kb, nb, pl->b + c_lo * pl->csb, pl->rsb, pl->csb, bp);
        for (size_t ic = 0; ic < rows; ic += mcb) {
            const size_t mb = min_sz(mcb, rows - ic);
            if (kb)
                kt->pack_a(mb, kb, pl->a + (row0 + ic) * pl->rsa, pl->rsa,
                           pl->csa, ap);
            for (size_t ir = 0; ir < mb; ir += mr) {
                const size_t mm = min_sz(mr, mb - ir), row = row0 + ic + ir;
                for (size_t j0 = 0; j0 < nb; j0 += nr) {
                    const size_t nn = min_sz(nr, nb - j0), col = c_lo + j0;
                    ht_ukr_epi ue;
                    const ht_ukr_epi *uep = tile_epi(pl->epi, row, col, &ue);
                    kt->gemm_ukr(kb, pl->alpha, ap + ir * kb, bp + j0 * kb,
                                 pl->beta, pl->c + row * pl->ldc + col,
                                 pl->ldc, mm, nn, uep);
                }
            }
        }
    }
}

/* One thread's share: grid cell (r, s) of a tm x tn grid. All threads run
 * the same number of (jc, pc) steps so the barriers match. */
static void packed_thread(const gemm_plan *pl, int tm, int tn, int id)
{
    const ht_kernels *kt = pl->kt;
    const size_t mr = pl->mr, nr = pl->nr;
    const int r = id / tn, s = id % tn;
    size_t p_lo, p_hi, q_lo, q_hi;
    range(ceil_div(pl->m, mr), (size_t)tm, (size_t)r, &p_lo, &p_hi);
    range(ceil_div(pl->n, nr), (size_t)tn, (size_t)s, &q_lo, &q_hi);
    const size_t row0 = p_lo * mr, row1 = min_sz(p_hi * mr, pl->m);
    const size_t col0 = q_lo * nr, col1 = min_sz(q_hi * nr, pl->n);
    size_t asize, bsize, n_jc;
    grid_sizes(pl, tm, tn, &asize, &bsize, &n_jc);
    float *ap = own_buf(pl, id);
    /* this thread's pair of B buffers (alternate K slices) */
    float *bpair = b_own(pl) ? ap + asize : pl->bbuf + (size_t)s * 2 * bsize;
    /* balanced MC blocks over this thread's rows */
    const size_t rows = row1 > row0 ? row1 - row0 : 0;
    const size_t nmb = rows ? ceil_div(rows, pl->mc) : 0;
    const size_t mcb = nmb ? ceil_div(ceil_div(rows, nmb), mr) * mr : 0;
    unsigned iter = 0;

    if (pl->dyn == 1) {
        dyn_thread(pl, id);
        return;
    }
    if (pl->dyn == 2) {
        dyn_rows_thread(pl, id, asize);
        return;
    }
    if (b_own(pl) && pl->post == NULL && pl->k < HT_UKR_SHORT_K) {
        if (rows)
            short_k_thread(pl, row0, rows, mcb, col0, col1, n_jc, ap, bpair);
        return;
    }
    /* A thread that owns whole columns (tm == 1) and whose rows fit one MC
     * block uses each B panel exactly once: pack it right before use, so
     * it goes from memory to L1 and straight into the micro-kernel instead
     * of through a KC x NC block in L2. Same arithmetic either way. */
    if (tm == 1 && nmb == 1 && pl->post == NULL) {
        float *bp = bpair;
        for (size_t jc = 0; jc < n_jc; jc++) {
            const size_t c_lo = min_sz(col0 + jc * pl->nc, col1);
            const size_t nb = min_sz(pl->nc, col1 - c_lo);
            for (size_t sl = 0; sl < pl->nslices; sl++) {
                const size_t pc = sl * pl->kc;
                const size_t kb = pl->k ? min_sz(pl->kc, pl->k - pc) : 0;
                const int last = sl + 1 == pl->nslices;
                const float beta = sl == 0 ? pl->beta : 1.0f;
                if (kb)
                    kt->pack_a(rows, kb, pl->a + row0 * pl->rsa + pc * pl->csa,
                               pl->rsa, pl->csa, ap);
                for (size_t j0 = 0; j0 < nb; j0 += nr) {
                    const size_t nn = min_sz(nr, nb - j0), col = c_lo + j0;
                    if (kb)
                        kt->pack_b(kb, nn, pl->b + pc * pl->rsb + col * pl->csb,
                                   pl->rsb, pl->csb, bp);
                    /* the panel packed next: this slice's next one, else
                     * the next slice's first (none when k = 0, where B may
                     * be NULL) */
                    const float *nxt = NULL;
                    size_t kb2 = 0, nn2 = 0;
                    if (kb && j0 + nr < nb) {
                        nxt = pl->b + pc * pl->rsb + (col + nr) * pl->csb;
                        kb2 = kb;
                        nn2 = min_sz(nr, nb - j0 - nr);
                    } else if (kb && !last) {
                        nxt = pl->b + (pc + pl->kc) * pl->rsb + c_lo * pl->csb;
                        kb2 = min_sz(pl->kc, pl->k - pc - pl->kc);
                        nn2 = min_sz(nr, nb);
                    }
                    const size_t parts = ceil_div(rows, mr);
                    for (size_t ir = 0; ir < rows; ir += mr) {
                        const size_t mm = min_sz(mr, rows - ir), row = row0 + ir;
                        if (nxt)
                            prefetch_b_part(nxt, pl->rsb, pl->csb, kb2, nn2,
                                            ir / mr, parts);
                        ht_ukr_epi ue;
                        const ht_ukr_epi *uep =
                            last ? tile_epi(pl->epi, row, col, &ue) : NULL;
                        kt->gemm_ukr(kb, pl->alpha, ap + ir * kb, bp, beta,
                                     pl->c + row * pl->ldc + col, pl->ldc, mm,
                                     nn, uep);
                    }
                }
            }
        }
        return;
    }

    for (size_t jc = 0; jc < n_jc; jc++) {
        const size_t c_lo = min_sz(col0 + jc * pl->nc, col1);
        const size_t nb = min_sz(pl->nc, col1 - c_lo);
        for (size_t sl = 0; sl < pl->nslices; sl++, iter++) {
            const size_t pc = sl * pl->kc;
            const size_t kb = pl->k ? min_sz(pl->kc, pl->k - pc) : 0;
            const int last = sl + 1 == pl->nslices;
            const float beta = sl == 0 ? pl->beta : 1.0f;
            float *bp = bpair + (iter & 1) * bsize;
            const size_t npan = ceil_div(nb, nr);
            if (kb && npan) {
                size_t lo = 0, hi = npan;
                if (!pl->private_b)
                    range(npan, (size_t)tm, (size_t)r, &lo, &hi);
                if (hi > lo)
                    kt->pack_b(kb, min_sz(hi * nr, nb) - lo * nr,
                               pl->b + pc * pl->rsb + (c_lo + lo * nr) * pl->csb,
                               pl->rsb, pl->csb, bp + lo * nr * kb);
            }
            if (tm > 1 && pl->private_b) {
                /* nothing shared: no one to wait for */
            } else if (tm > 1 && pl->bar) {
                ht_barrier_wait(pl->bar, (unsigned)(tm * tn));
            } else if (tm > 1) {
                #pragma omp barrier
            }
            if (nb == 0)
                continue;
            for (size_t ic = row0; ic < row1; ic += mcb) {
                const size_t mb = min_sz(mcb, row1 - ic);
                if (kb)
                    kt->pack_a(mb, kb, pl->a + ic * pl->rsa + pc * pl->csa,
                               pl->rsa, pl->csa, ap);
                /* Without a post hook each B micro-panel stays in L1 while
                 * the A micro-panels stream past it (BLIS's order). With
                 * one, the tiles go along the rows instead, so the hook's
                 * own accesses (the optimiser reads and writes the tile's
                 * weights and state) run forward through memory 8 rows at
                 * a time rather than jumping a row stride per tile; the
                 * B panels then come from L2 and the A micro-panel stays in
                 * L1. The same micro-kernel calls either way. */
                const size_t outer = pl->post ? ceil_div(mb, mr) : npan;
                const size_t inner = pl->post ? npan : ceil_div(mb, mr);
                for (size_t uo = 0; uo < outer; uo++) {
                    for (size_t ui = 0; ui < inner; ui++) {
                        const size_t jr = pl->post ? ui : uo;
                        const size_t ir = (pl->post ? uo : ui) * mr;
                        const size_t j0 = jr * nr, nn = min_sz(nr, nb - j0);
                        const float *bpan = bp + jr * nr * kb;
                        const size_t mm = min_sz(mr, mb - ir);
                        const size_t row = ic + ir, col = c_lo + j0;
                        ht_ukr_epi ue;
                        const ht_ukr_epi *uep =
                            last ? tile_epi(pl->epi, row, col, &ue) : NULL;
                        size_t ldt;
                        float *t = tile_dst(pl, row, col, &ldt);
                        kt->gemm_ukr(kb, pl->alpha, ap + ir * kb, bpan, beta,
                                     t, ldt, mm, nn, uep);
                        if (last)
                            post_tile(pl->post, row, col, mm, nn, t, ldt);
                    }
                }
            }
        }
    }
}

/* Floats of the packed path's buffers for the plan's grid: the shared B
 * buffers (2 per grid column, when B is not each thread's own) and one
 * thread's own buffer (A panels, plus 2 B buffers when B is its own);
 * each a multiple of 16 floats, so every buffer starts 64-byte aligned. */
static void packed_sizes(const gemm_plan *pl, size_t *shared, size_t *own)
{
    size_t a, b, nj;
    grid_sizes(pl, pl->tm, pl->tn, &a, &b, &nj);
    if (pl->dyn == 1)
        a = dyn_asize(pl);
    *shared = b_own(pl) ? 0 : b * 2 * (size_t)pl->tn;
    *own = a + (b_own(pl) ? 2 * b : 0);
}

/* Whether the grid just chosen for t threads gives each thread enough
 * work between the barriers of a shared B (GEMM_MIN_FLOPS_PER_STEP). */
static int steps_pay(const gemm_plan *pl, int t, double flops)
{
    if (t == 1 || b_own(pl))
        return 1;
    size_t a, b, n_jc;
    grid_sizes(pl, pl->tm, pl->tn, &a, &b, &n_jc);
    const double steps = (double)(pl->nslices * max_sz(n_jc, 1));
    return flops / t / steps >=
           GEMM_MIN_FLOPS_PER_STEP * ht_test_min_work_scale;
}

static ht_status packed_gemm(gemm_plan *pl)
{
    const size_t units = ceil_div(pl->m, pl->mr) * ceil_div(pl->n, pl->nr);
    const double flops = 2.0 * (double)pl->m * (double)pl->n * (double)pl->k;
    int t = gemm_threads(flops, units);
    while (!choose_grid(pl, t, 0) || !steps_pay(pl, t, flops))
        t--;                    /* t = 1 always has the grid 1 x 1 */
    /* room for the chosen grid and for the 1-thread fallback */
    gemm_plan one = *pl;
    one.tm = one.tn = 1;
    size_t sh_t, own_t, sh_1, own_1;
    packed_sizes(pl, &sh_t, &own_t);
    packed_sizes(&one, &sh_1, &own_1);
    const size_t need = max_sz(sh_t + own_t * (size_t)t, sh_1 + own_1);
    float *buf;
    ht_gemm_ws *ws = ht_gemm_ws_get(need, &buf);
    if (ws == NULL)
        return ht_error(HT_ERR_NOMEM, "ht_sgemm: cannot allocate %zu bytes of "
                        "packing workspace", need * sizeof(float));
    one.bbuf = buf;
    one.obase = buf + sh_1;
    one.ostride = own_1;
    if (t == 1) {
        packed_thread(&one, 1, 1, 0);
    } else {
        #pragma omp parallel num_threads(t)
        {
            const int nt = omp_get_num_threads(), id = omp_get_thread_num();
            if (nt == t) {
                gemm_plan p = *pl;
                p.bbuf = buf;
                p.obase = buf + sh_t;
                p.ostride = own_t;
                packed_thread(&p, pl->tm, pl->tn, id);
            } else if (id == 0) {
                /* got fewer threads than asked: one does it all */
                packed_thread(&one, 1, 1, 0);
            }
        }
    }
    ht_gemm_ws_put(ws);
    return HT_OK;
}

/* ------------------------------------------------------- small-N path */

/* Rows of C computed by one call of the small-N kernel, split among
 * threads in blocks of `unit` rows. */
typedef struct smalln_job {
    const ht_kernels *kt;
    int dot;
    size_t m, n, k;
    float alpha, beta;
    const float *a;
    size_t lda;
    const float *b;         /* dot: op(B)^T; bcast: B                   */
    size_t ldbt, rsb, csb;
    float *c;
    size_t ldc;
    const ht_epilogue *epi;
} smalln_job;

/* The small-N path's packing of B: rows j0 .. j1-1 of op(B)^T (n x k,
 * rows k apart, in the pooled workspace) from B (k x n, rows ldb apart),
 * the layout its dot kernel reads, as pack_b makes NR-column panels for
 * the micro-kernel. n <= small_n_max (12), so it is k x n floats, part of
 * the call like any packing, not a transposed copy of the operand made
 * beforehand. The table's transposing kernel where it has one; else each
 * destination row is written front to back: at n = 10 that measured about
 * 1.3x faster than walking B's rows (10 write streams). */
static void pack_bt_dot(const ht_kernels *kt, const float *b, size_t ldb,
                        size_t k, size_t j0, size_t j1, float *bt)
{
    if (kt->pack_bt) {
        kt->pack_bt(b, ldb, k, j0, j1, bt);
        return;
    }
    for (size_t jj = j0; jj < j1; jj++)
        for (size_t p = 0; p < k; p++)
            bt[jj * k + p] = b[p * ldb + jj];
}

static void smalln_rows(const smalln_job *j, size_t i0, size_t i1)
{
    if (i1 <= i0)
        return;
    ht_ukr_epi ue;
    const ht_ukr_epi *uep = tile_epi(j->epi, i0, 0, &ue);
    if (j->dot)
        j->kt->gemm_dot(i1 - i0, j->n, j->k, j->alpha, j->a + i0 * j->lda,
                        j->lda, j->b, j->ldbt, j->beta, j->c + i0 * j->ldc,
                        j->ldc, uep);
    else
        j->kt->gemm_bcast(i1 - i0, j->n, j->k, j->alpha, j->a + i0, j->lda,
                          j->b, j->rsb, j->csb, j->beta, j->c + i0 * j->ldc,
                          j->ldc, uep);
}

static ht_status smalln_gemm(const ht_kernels *kt, int transa, int transb,
                             size_t m, size_t n, size_t k, float alpha,
                             const float *a, size_t lda, const float *b,
                             size_t ldb, float beta, float *c, size_t ldc,
                             const ht_epilogue *epi)
{
    smalln_job j = {kt, !transa, m, n, k, alpha, beta, a, lda, b, 0, 0, 0,
                    c, ldc, epi};
    ht_gemm_ws *ws = NULL;
    if (j.dot) {
        if (transb) {
            j.ldbt = ldb;           /* B is stored n x k: already op(B)^T */
        } else {
            float *bt;
            ws = ht_gemm_ws_get(n * k + 64, &bt);
            if (ws == NULL)
                return ht_error(HT_ERR_NOMEM, "ht_sgemm: cannot allocate %zu "
                                "bytes of workspace", (n * k + 64) * 4);
            pack_bt_dot(kt, b, ldb, k, 0, n, bt);
            j.b = bt;
            j.ldbt = k;
        }
    } else {
        j.rsb = transb ? 1 : ldb;
        j.csb = transb ? ldb : 1;
    }
    const size_t unit = 8, blocks = ceil_div(m, unit);
    const int t = gemm_threads(2.0 * (double)m * (double)n * (double)k, blocks);
    if (t == 1) {
        smalln_rows(&j, 0, m);
    } else {
        #pragma omp parallel num_threads(t)
        {
            const size_t nt = (size_t)omp_get_num_threads();
            const size_t id = (size_t)omp_get_thread_num();
            size_t lo, hi;
            range(blocks, nt, id, &lo, &hi);
            smalln_rows(&j, lo * unit, min_sz(hi * unit, m));
        }
    }
    ht_gemm_ws_put(ws);
    return HT_OK;
}

/* ------------------------------------------------------------ entry */

/* The packed path's plan for one call: strides, blocking, K slices. The
 * grid (tm, tn) and the buffers are set later. */
static void plan_init(gemm_plan *pl, const ht_kernels *kt, int transa,
                      int transb, size_t m, size_t n, size_t k, float alpha,
                      const float *a, size_t lda, const float *b, size_t ldb,
                      float beta, float *c, size_t ldc, const ht_epilogue *epi)
{
    memset(pl, 0, sizeof *pl);
    pl->kt = kt;
    pl->m = m;
    pl->n = n;
    pl->k = k;
    pl->alpha = alpha;
    pl->beta = beta;
    pl->a = a;
    pl->b = b;
    /* element (i,p) of op(A) is a[i*rsa + p*csa]; (p,j) of op(B) likewise */
    pl->rsa = transa ? 1 : lda;
    pl->csa = transa ? lda : 1;
    pl->rsb = transb ? 1 : ldb;
    pl->csb = transb ? ldb : 1;
    pl->c = c;
    pl->ldc = ldc;
    pl->epi = epi;
    pl->mr = (size_t)kt->mr;
    pl->nr = (size_t)kt->nr;
    pl->kc = slice_kc(k, kt->kc, &pl->nslices);
    pl->mc = max_sz(kt->mc / pl->mr * pl->mr, pl->mr);
    pl->nc = max_sz(kt->nc / pl->nr * pl->nr, pl->nr);
}

/* True when the table's small-N kernels take this call. */
static int use_smalln(const ht_kernels *kt, int transa, size_t n, size_t k)
{
    return k > 0 && n <= kt->small_n_max &&
           ((!transa && kt->gemm_dot) || (transa && kt->gemm_bcast));
}

ht_status ht_sgemm_ex(int transa, int transb, size_t m, size_t n, size_t k,
                      float alpha, const float *a, size_t lda,
                      const float *b, size_t ldb, float beta, float *c,
                      size_t ldc, const ht_epilogue *epi)
{
    ht_status s = ht_runtime_init();
    if (s != HT_OK)
        return s;
    s = check_args(transa, transb, m, n, k, a, lda, b, ldb, c, ldc, epi);
    if (s != HT_OK)
        return s;
    if (m == 0 || n == 0)
        return HT_OK;
    const ht_kernels *kt = ht_kernels_active();
    if (use_smalln(kt, transa, n, k))
        return smalln_gemm(kt, transa, transb, m, n, k, alpha, a, lda, b, ldb,
                           beta, c, ldc, epi);

    gemm_plan pl;
    plan_init(&pl, kt, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc, epi);
    return packed_gemm(&pl);
}

ht_status ht_sgemm(int transa, int transb, size_t m, size_t n, size_t k,
                   float alpha, const float *a, size_t lda, const float *b,
                   size_t ldb, float beta, float *c, size_t ldc)
{
    return ht_sgemm_ex(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c,
                       ldc, NULL);
}

/* ------------------------------------------------------------ team */

/* The team entry: the same plans as ht_sgemm_ex, run by the first t of a
 * running team's threads, meeting at the team's own barrier, packing into
 * the workspace the team reserved beforehand. Every thread of the team
 * computes the same plan from the same arguments, so they agree on t, on
 * the grid and on whether the call fails, without talking to each other. */

static double gemm_flops(size_t m, size_t n, size_t k)
{
    return 2.0 * (double)m * (double)n * (double)k;
}

/* The plan of a team call: small-N (returns 1) or packed (returns 0, *pl
 * with its grid), with its thread count *t and the floats it needs in the
 * team's shared buffer (*shared) and in each thread's own (*own). With a
 * post hook the tiles go along the rows (packed_thread), so every
 * micro-kernel call reads its B panel from L2: when rows are split among
 * threads, each thread then packs every B panel of its columns itself,
 * into its own L2, rather than half of them into the other core's. */
static int team_plan(int team, const ht_kernels *kt, int transa, int transb,
                     size_t m, size_t n, size_t k, float alpha, const float *a,
                     size_t lda, const float *b, size_t ldb, float beta,
                     float *c, size_t ldc, const ht_epilogue *epi, int post,
                     int can_dyn, gemm_plan *pl, int *t, size_t *shared,
                     size_t *own)
{
    if (use_smalln(kt, transa, n, k)) {
        *t = work_threads(gemm_flops(m, n, k), GEMM_TEAM_MIN_FLOPS_PER_THREAD,
                          ceil_div(m, 8), team);
        /* the dot kernel's op(B)^T, packed by all, read by all */
        *shared = !transa && !transb ? n * k + 64 : 0;
        *own = 0;
        return 1;
    }
    plan_init(pl, kt, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc, epi);
    const size_t units = ceil_div(m, pl->mr) * ceil_div(n, pl->nr);
    *t = work_threads(gemm_flops(m, n, k), GEMM_TEAM_MIN_FLOPS_PER_THREAD,
                      units, team);
    while (!choose_grid(pl, *t, post))
        (*t)--;                 /* as packed_gemm: 1 x 1 always fits */
    pl->private_b = pl->private_b || (post && pl->tm > 1);
    pl->dyn = !can_dyn                  ? 0
              : dyn_fits(pl, *t, post)      ? 1
              : dyn_rows_fit(pl, *t, post)  ? 2
                                            : 0;
    packed_sizes(pl, shared, own);
    return 0;
}

/* Floats of the claim words of a team of `size` (none for one thread). */
static size_t claim_floats(int size)
{
    return size > 1 ? (size_t)size * (sizeof(ht_gemm_claim) / sizeof(float))
                    : 0;
}

size_t ht_gemm_team_claim_floats(int size)
{
    return claim_floats(size);
}

void ht_sgemm_team_ws_split(int team, int transa, int transb, size_t m,
                            size_t n, size_t k, int post, size_t *shared,
                            size_t *own, int *threads)
{
    *shared = *own = 0;
    if (threads)
        *threads = 0;
    if (m == 0 || n == 0 || team < 1)
        return;
    gemm_plan pl;
    int t;
    team_plan(team, ht_kernels_active(), transa, transb, m, n, k, 1.0f, NULL,
              1, NULL, 1, 0.0f, NULL, 1, NULL, post != 0, 1, &pl, &t, shared,
              own);
    if (threads)
        *threads = t;
}

size_t ht_sgemm_team_ws_floats(int team, int transa, int transb, size_t m,
                               size_t n, size_t k, int post)
{
    size_t shared, own;
    int t;
    ht_sgemm_team_ws_split(team, transa, transb, m, n, k, post, &shared, &own,
                           &t);
    const size_t need = shared + own * (size_t)t;
    /* and the claim words, one 64-byte line per thread (ht_gemm_team_init) */
    return need ? need + claim_floats(team) : 0;
}

void ht_gemm_team_init(ht_gemm_team *g, int size, float *ws, size_t ws_floats)
{
    ht_gemm_team_init_own(g, size, ws, ws_floats, NULL, 0);
}

void ht_gemm_team_init_own(ht_gemm_team *g, int size, float *ws,
                           size_t ws_floats, float *const *own,
                           size_t own_floats)
{
    g->size = size;
    g->own = own;
    g->own_floats = own ? own_floats : 0;
    g->claims = NULL;
    g->panel_hook = NULL;
    g->hook_ctx = NULL;
    if (size > 1 && ws_floats >= claim_floats(size)) {
        /* tag 0 is no call's: every call counts from 1 */
        g->claims = (ht_gemm_claim *)(void *)ws;
        for (int i = 0; i < size; i++) {
            atomic_init(&g->claims[i].word, 0);
            g->claims[i].calls = 0;
        }
        ws += claim_floats(size);
        ws_floats -= claim_floats(size);
    }
    g->ws = ws;
    g->ws_floats = ws_floats;
    ht_barrier_init(&g->bar);
}

/* Small-N rows for thread tid of t; thread 0 first transposes B into the
 * workspace when the dot kernel needs op(B)^T and B is not stored so. */
static void smalln_team(ht_gemm_team *g, int tid, int t, const ht_kernels *kt,
                        int transa, int transb, size_t m, size_t n, size_t k,
                        float alpha, const float *a, size_t lda,
                        const float *b, size_t ldb, float beta, float *c,
                        size_t ldc, const ht_epilogue *epi,
                        const ht_gemm_post *post)
{
    smalln_job j = {kt, !transa, m, n, k, alpha, beta, a, lda, b, 0, 0, 0,
                    c, ldc, epi};
    if (j.dot && transb) {
        j.ldbt = ldb;
    } else if (j.dot) {
        float *bt = g->ws;
        size_t lo, hi;
        range(n, (size_t)t, (size_t)tid, &lo, &hi);
        pack_bt_dot(kt, b, ldb, k, lo, hi, bt);
        ht_barrier_wait(&g->bar, (unsigned)t);
        j.b = bt;
        j.ldbt = k;
    } else {
        j.rsb = transb ? 1 : ldb;
        j.csb = transb ? ldb : 1;
    }
    const size_t unit = 8, blocks = ceil_div(m, unit);
    size_t lo, hi;
    range(blocks, (size_t)t, (size_t)tid, &lo, &hi);
    const size_t i0 = lo * unit, i1 = min_sz(hi * unit, m);
    smalln_rows(&j, i0, i1);
    if (i1 > i0)
        post_tile(post, i0, 0, i1 - i0, n, c + i0 * ldc, ldc);
}

ht_status ht_sgemm_team(ht_gemm_team *g, int tid, int transa, int transb,
                        size_t m, size_t n, size_t k, float alpha,
                        const float *a, size_t lda, const float *b,
                        size_t ldb, float beta, float *c, size_t ldc,
                        const ht_epilogue *epi)
{
    return ht_sgemm_team_post(g, tid, transa, transb, m, n, k, alpha, a, lda,
                              b, ldb, beta, c, ldc, epi, NULL);
}

ht_status ht_sgemm_team_post(ht_gemm_team *g, int tid, int transa,
                             int transb, size_t m, size_t n, size_t k,
                             float alpha, const float *a, size_t lda,
                             const float *b, size_t ldb, float beta, float *c,
                             size_t ldc, const ht_epilogue *epi,
                             const ht_gemm_post *post)
{
    if (g == NULL || tid < 0 || tid >= g->size)
        return ht_error(HT_ERR_ARG, "ht_sgemm_team: thread %d outside a team "
                        "of %d", tid, g ? g->size : 0);
    /* every thread of the team enters every call, so the counts agree and
     * tag a call's claim words the same on every thread */
    const uint64_t tag = g->claims ? ++g->claims[tid].calls : 0;
    ht_status s = check_args(transa, transb, m, n, k, a, lda, b, ldb, c, ldc,
                             epi);
    if (s != HT_OK)
        return s;
    if (m == 0 || n == 0)
        return HT_OK;
    const ht_kernels *kt = ht_kernels_active();
    gemm_plan pl;
    int t;
    size_t shared, own;
    const int small = team_plan(g->size, kt, transa, transb, m, n, k, alpha,
                                a, lda, b, ldb, beta, c, ldc, epi,
                                post != NULL, g->claims != NULL, &pl, &t,
                                &shared, &own);
    if (g->own && (shared > g->ws_floats || own > g->own_floats))
        return ht_error(HT_ERR_ARG, "ht_sgemm_team: %zu x %zu x %zu needs %zu "
                        "shared and %zu per-thread floats of workspace, the "
                        "team reserved %zu and %zu", m, n, k, shared, own,
                        g->ws_floats, g->own_floats);
    if (!g->own && shared + own * (size_t)t > g->ws_floats)
        return ht_error(HT_ERR_ARG, "ht_sgemm_team: %zu x %zu x %zu needs %zu "
                        "floats of workspace, the team reserved %zu", m, n, k,
                        shared + own * (size_t)t, g->ws_floats);
    if (tid >= t)
        return HT_OK;
    if (small) {
        smalln_team(g, tid, t, kt, transa, transb, m, n, k, alpha, a, lda, b,
                    ldb, beta, c, ldc, epi, post);
        return HT_OK;
    }
    pl.bbuf = g->ws;
    if (g->own) {
        pl.own = g->own;
    } else {
        pl.obase = g->ws + shared;
        pl.ostride = own;
    }
    pl.bar = &g->bar;
    pl.post = post;
    /* C is not read (beta = 0) and each tile is final after one K slice */
    pl.consume = post && post->consume && pl.nslices == 1 &&
                 pl.beta == 0.0f && pl.mr * pl.nr <= TILE_SCRATCH;
    pl.team = g;
    pl.tag = tag;
    packed_thread(&pl, pl.tm, pl.tn, tid);
    return HT_OK;
}
