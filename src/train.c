/* Training and inference of the MLP: forward, loss, backward, the fused
 * optimiser step, epochs, evaluation, all inside ONE OpenMP parallel
 * region per call (per epoch, per evaluation, per prediction).
 *
 * Shapes (B = rows in the batch, L = layers, n_l = cfg.sizes[l]):
 *   act[l]   B x n_l      input of layer l (act[0] = batch, after input dropout)
 *   W_l      n_l x n_l+1  b_l  n_l+1
 *   act[l+1] B x n_l+1    = dropout(relu(act[l] W_l + b_l)) for hidden layers,
 *                           act[L-1] W_{L-1} + b_{L-1} (logits) for the last
 *
 * The team walks the batches and layers together; a barrier separates two
 * operations only where data flows between them. Each operation splits its
 * work into a fixed partition: row blocks of the batch (dropout, ReLU
 * backward), output tiles (GEMM, as the driver's plan for that shape),
 * column blocks of 64 (bias gradients, each column summed over rows in
 * order). The regulariser + optimiser step is fused into the backward
 * pass: each tile of a weight gradient is applied by the thread that
 * computed it, right after the micro-kernel made it and while it is in L1
 * (ht_sgemm_team_post; the driver then walks the tiles along the rows, so
 * the step's reads and writes of w and its state run forward through
 * memory), and each bias block right after its column sums. So the
 * input-gradient GEMM of a layer runs before its weight-gradient GEMM, as
 * it reads the old weights. An operation with little work runs on the
 * first t_op threads only (work-based, as the old
 * fork/join code chose), the others go straight to the next barrier. No
 * partition changes what is computed for an element, and every reduction
 * runs in a fixed order, so the results are bitwise identical for any
 * number of threads.
 *
 * Data loading overlaps compute: the input batch is double-buffered; at
 * the start of step i thread 0 creates OpenMP tasks that gather the rows
 * of step i+1 into the other buffer. Threads waiting at an OpenMP barrier
 * run them (a barrier completes only when the tasks created before it
 * have run, so they are done before step i+1 starts).
 *
 * Thread 0 (the calling thread) times each phase from its start to the
 * barrier that ends it (model->prof) and calls the progress callback
 * between steps, outside the timed phases.
 */
#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../simd/rng.h"
#include "dataset_internal.h"
#include "error.h"
#include "gemm.h"
#include "internal.h"
#include "model_internal.h"

static size_t n_out(const ht_model *m) { return m->cfg.sizes[m->cfg.n_layers]; }

static ht_status check_data(const ht_model *m, const ht_dataset *ds)
{
    const ht_config *c = &m->cfg;
    if (ds == NULL || ds->x == NULL)
        return ht_error(HT_ERR_ARG, "data set is empty (NULL)");
    if (ds->n == 0)
        return ht_error(HT_ERR_SHAPE, "data set has no rows");
    if (ds->d != c->sizes[0])
        return ht_error(HT_ERR_SHAPE, "data has %zu features per row but the "
                        "architecture's input size is %zu", ds->d, c->sizes[0]);
    if (c->loss == HT_LOSS_XENT) {
        if (ds->label == NULL)
            return ht_error(HT_ERR_SHAPE, "cross-entropy needs class labels, "
                            "the data set has none");
        for (size_t i = 0; i < ds->n; i++)
            if (ds->label[i] < 0 || (size_t)ds->label[i] >= n_out(m))
                return ht_error(HT_ERR_SHAPE, "label %d at row %zu is out of "
                                "range for %zu outputs", (int)ds->label[i], i,
                                n_out(m));
    } else {
        if (ds->target == NULL || ds->n_targets != n_out(m))
            return ht_error(HT_ERR_SHAPE, "MSE needs %zu numeric targets per "
                            "row, the data set has %zu", n_out(m),
                            ds->target ? ds->n_targets : 0);
    }
    return HT_OK;
}


/* Permutation of 0..n-1 for an epoch, a pure function of (seed, epoch). */
static ht_status shuffle(ht_model *m, size_t n)
{
    if (m->perm_cap < n) {
        size_t *p = realloc(m->perm, n * sizeof *p);
        if (p == NULL)
            return ht_error(HT_ERR_NOMEM, "cannot allocate a permutation of "
                            "%zu rows", n);
        m->perm = p;
        m->perm_cap = n;
    }
    ht_permutation(m->perm, n, ht_mix64(m->cfg.seed ^ 0x5EED5EED5EEDull) ^
                                   ht_mix64((uint64_t)m->epoch));
    return HT_OK;
}

static void penalty_and_sparsity(const ht_model *m, double *penalty,
                                 double *sparsity, double *layer_sparsity)
{
    const ht_config *c = &m->cfg;
    const ht_kernels *k = ht_kernels_active();
    double l1s = 0.0, l2s = 0.0;
    size_t zeros = 0, total = 0;
    for (size_t l = 0; l < HT_MAX_LAYERS; l++)
        layer_sparsity[l] = 0.0;
    for (size_t l = 0; l < c->n_layers; l++) {
        const float *w = m->params + m->w_off[l];
        const size_t n = c->sizes[l] * c->sizes[l + 1];
        for (size_t i = 0; i < n; i++) {
            l1s += fabs((double)w[i]);
            l2s += (double)w[i] * w[i];
        }
        const size_t z = k->count_zeros(n, w);
        layer_sparsity[l] = n ? (double)z / (double)n : 0.0;
        zeros += z;
        total += n;
        if (c->reg_bias) {
            const float *b = m->params + m->b_off[l];
            for (size_t i = 0; i < c->sizes[l + 1]; i++) {
                l1s += fabs((double)b[i]);
                l2s += (double)b[i] * b[i];
            }
        }
    }
    *penalty = c->l1 * l1s + 0.5 * c->l2 * l2s;
    *sparsity = total ? (double)zeros / (double)total : 0.0;
}


/* Rows per gather task: a few tasks per batch, so several waiting threads
 * can share the copy. */
#define GATHER_ROWS 32
/* Columns per bias-gradient block. */
#define DB_COLS 64

enum run_mode { RUN_TRAIN, RUN_GRAD, RUN_EVAL, RUN_PREDICT };

/* What one parallel region does, and what it leaves behind. Shared by the
 * team; thread 0 writes the results, any thread may record a failure. */
typedef struct run_ctx {
    ht_model *m;
    enum run_mode mode;
    const ht_dataset *ds;     /* rows come from here                      */
    const size_t *idx;        /* row order (permutation), or NULL: 0..n-1 */
    size_t n, bs;             /* rows in all, rows per step               */
    int dropout;              /* draw dropout masks (train, or grad(1))   */
    int backward, optimise;
    uint64_t step0;           /* m->step at entry                         */
    float *pred;              /* RUN_PREDICT output, n x n_out            */
    ht_progress_fn progress;
    void *user;

    ht_gemm_team gt;

    double loss_sum, last_loss;
    size_t correct;

    atomic_int failed_phase;  /* 0, or the barrier after which all stop   */
    ht_status status;
    char msg[512];
} run_ctx;

/* Threads for an elementwise pass over `n` floats out of a team of nt:
 * below ~64 K elements one thread does it faster than a barrier costs. */
static int op_threads(int nt, size_t n)
{
    int t = ht_threads_for_work((double)n * 64.0);
    return t < nt ? t : nt;
}

/* Threads for a row phase of `elems` elements (ht_sched_row_threads):
 * those it has work for, or every thread on its own rows under a plan
 * with several NUMA domains. Per-row work: the same bits either way. */
static int row_threads(const ht_model *m, int nt, size_t elems)
{
    return ht_sched_row_threads(m->plan, nt, op_threads(nt, elems));
}

static void range(size_t n, int parts, int idx, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)idx / (size_t)parts;
    *hi = n * (size_t)(idx + 1) / (size_t)parts;
}

/* Seconds this OS thread has spent in row-gather tasks, ever: a task runs
 * on whichever thread of the team picks it up, mostly one waiting at a
 * barrier, and that time is work, not waiting. */
static _Thread_local double tl_gather_s;

/* Per-thread view of the team: its id, the team size, the phases passed
 * (the same count on every thread), thread 0's phase clock; this thread's
 * own phase clock, its seconds per kind (from leaving one barrier to
 * leaving the next) and the part of them spent waiting at the closing
 * barrier, and its gather clock at the start of the region (all added to
 * the model's profile when the region ends, so no thread writes shared
 * counters per phase). */
typedef struct team_pos {
    int tid, nt;
    int phase;
    double t0;
    double tprev;
    double team[HT_PROF_COUNT];
    double wait[HT_PROF_COUNT];
    double gather0;
} team_pos;

/* Records the first failure; every thread stops after the barrier that
 * ends the current phase (the same one on all threads). */
static void fail(run_ctx *r, const team_pos *p, ht_status s)
{
    int expect = 0;
    if (atomic_compare_exchange_strong(&r->failed_phase, &expect,
                                       p->phase + 1)) {
        r->status = s;
        ht_snprintf(r->msg, sizeof r->msg, "%s", ht_last_error());
    }
}

/* Ends a phase of `kind` (a GEMM kind's `layer`, or -1): barrier; every
 * thread books its own phase time and its wait at the barrier, thread 0
 * the phase's wall time, flops and call. Returns 1 if the team must stop. */
static int sync_phase(run_ctx *r, team_pos *p, int kind, int layer,
                      double flops)
{
    const double arrive = ht_now(), g0 = tl_gather_s;
    #pragma omp barrier
    const double now = ht_now();
    p->phase++;
    /* the gather tasks ran inside [arrive, now]; clamp the rounding */
    const double w = (now - arrive) - (tl_gather_s - g0);
    p->wait[kind] += w > 0.0 ? w : 0.0;
    p->team[kind] += now - p->tprev;
    p->tprev = now;
    if (p->tid == 0) {
        const double dt = now - p->t0;
        ht_profile *pr = &r->m->prof;
        pr->seconds[kind] += dt;
        pr->flops[kind] += flops;
        pr->calls[kind]++;
        if (kind < HT_PROF_LAYER_KINDS && layer >= 0) {
            pr->layer_seconds[kind][layer] += dt;
            pr->layer_flops[kind][layer] += flops;
            pr->layer_calls[kind][layer]++;
        }
        p->t0 = now;
    }
    const int f = atomic_load(&r->failed_phase);
    return f != 0 && f <= p->phase;
}

/* Thread 0 restarts its phase clock (after untimed work). */
static void phase_clock(team_pos *p)
{
    if (p->tid == 0)
        p->t0 = p->tprev = ht_now();
}

/* --------------------------------------------------------------- data */

/* Copies `count` rows starting at position `pos` of the run's row order
 * into rows [dst_row, dst_row+count) of input buffer `buf`. */
static void gather_rows(const run_ctx *r, int buf, size_t pos, size_t count,
                        size_t dst_row)
{
    const ht_model *m = r->m;
    const ht_dataset *ds = r->ds;
    const size_t d = ds->d;
    float *x = m->xbuf[buf] + dst_row * d;
    int32_t *lab = ds->label ? m->labbuf[buf] + dst_row : NULL;
    float *tgt = NULL;
    if (m->cfg.loss == HT_LOSS_MSE && ds->target)
        tgt = m->tgtbuf[buf] + dst_row * ds->n_targets;
    if (r->idx) {
        ht_dataset_gather(ds, r->idx + pos, count, x, lab, tgt);
    } else {
        memcpy(x, ds->x + pos * d, count * d * sizeof(float));
        if (lab)
            memcpy(lab, ds->label + pos, count * sizeof(int32_t));
        if (tgt)
            memcpy(tgt, ds->target + pos * ds->n_targets,
                   count * ds->n_targets * sizeof(float));
    }
    /* while the rows are still in cache */
    ht_input_norm_apply(m, x, count);
}

static size_t step_rows(const run_ctx *r, size_t step)
{
    const size_t start = step * r->bs;
    return r->n - start < r->bs ? r->n - start : r->bs;
}

/* Tasks of step `step`'s gather: one per GATHER_ROWS rows. */
static size_t gather_chunks(const run_ctx *r, size_t step)
{
    return (step_rows(r, step) + GATHER_ROWS - 1) / GATHER_ROWS;
}

/* Thread 0: tasks that gather chunks [c0, c1) of step `step`'s rows into
 * buffer step & 1. */
static void spawn_gather(run_ctx *r, size_t step, size_t c0, size_t c1)
{
    const size_t B = step_rows(r, step), start = step * r->bs;
    const int buf = (int)(step & 1);
    for (size_t r0 = c0 * GATHER_ROWS; r0 < B && r0 < c1 * GATHER_ROWS;
         r0 += GATHER_ROWS) {
        const size_t cnt = B - r0 < GATHER_ROWS ? B - r0 : GATHER_ROWS;
        #pragma omp task firstprivate(r, buf, start, r0, cnt)
        {
            const double t0 = ht_now();
            gather_rows(r, buf, start + r0, cnt, r0);
            tl_gather_s += ht_now() - t0;
        }
    }
}

/* ------------------------------------------------------------ phases */

/* Input dropout and the masks of every hidden layer for this thread's
 * rows: a mask is a pure function of (seed, layer, step, row), so pairing
 * rows for the two-row kernels changes no bit. */
static void dropout_rows(const run_ctx *r, const team_pos *p, size_t B,
                         uint64_t step, float *x)
{
    const ht_model *m = r->m;
    const ht_config *c = &m->cfg;
    const ht_kernels *k = ht_kernels_active();
    const size_t L = c->n_layers, d = c->sizes[0];
    size_t elems = c->input_dropout > 0.0f ? B * d : 0;
    if (c->dropout > 0.0f)
        for (size_t l = 0; l + 1 < L; l++)
            elems += B * c->sizes[l + 1];
    const int t = row_threads(m, p->nt, elems);
    if (p->tid >= t)
        return;
    size_t lo, hi;
    range(B, t, p->tid, &lo, &hi);
    if (c->input_dropout > 0.0f) {
        const uint32_t thr = ht_dropout_threshold(c->input_dropout);
        const float scale = ht_dropout_scale(c->input_dropout);
        const size_t ld = m->mask_ld[0];
        size_t i = lo;
        /* in place (stream 0): the rows were just read, their lines are
         * already in cache */
        for (; i + 2 <= hi; i += 2)     /* two rows' generators at once */
            k->dropout_fwd2(ht_dropout_key(c->seed, 0, step, i),
                            ht_dropout_key(c->seed, 0, step, i + 1), d, thr,
                            scale, x + i * d, x + (i + 1) * d, x + i * d,
                            x + (i + 1) * d, m->mask[0] + i * ld,
                            m->mask[0] + (i + 1) * ld, 0);
        for (; i < hi; i++)
            k->dropout_fwd(ht_dropout_key(c->seed, 0, step, i), d, thr, scale,
                           x + i * d, x + i * d, m->mask[0] + i * ld, 0);
    }
    if (c->dropout > 0.0f) {
        const uint32_t thr = ht_dropout_threshold(c->dropout);
        for (size_t l = 0; l + 1 < L; l++) {
            const size_t out = c->sizes[l + 1], ld = m->mask_ld[l + 1];
            const uint32_t layer = (uint32_t)(l + 1);
            uint32_t *mk = m->mask[l + 1];
            size_t i = lo;
            for (; i + 2 <= hi; i += 2)
                k->dropout_mask2(ht_dropout_key(c->seed, layer, step, i),
                                 ht_dropout_key(c->seed, layer, step, i + 1),
                                 out, thr, mk + i * ld, mk + (i + 1) * ld);
            for (; i < hi; i++)
                k->dropout_mask(ht_dropout_key(c->seed, layer, step, i), out,
                                thr, mk + i * ld);
        }
    }
}

/* Per-row losses into m->loss_row; returns their sum (fixed order). For
 * cross-entropy also leaves the softmax in m->probs. Thread 0 only. */
static double loss_rows(ht_model *m, size_t B, const int32_t *labels,
                        const float *targets)
{
    const ht_kernels *k = ht_kernels_active();
    const size_t C = n_out(m);
    const float *h = m->act[m->cfg.n_layers];
    if (m->cfg.loss == HT_LOSS_XENT) {
        /* probs stay in cache: the backward pass reads them next */
        k->softmax_xent_fwd(B, C, h, C, labels, m->probs, C, m->loss_row, 0);
    } else {
        for (size_t i = 0; i < B; i++) {
            double s = 0.0;
            for (size_t j = 0; j < C; j++) {
                double e = (double)h[i * C + j] - targets[i * C + j];
                s += e * e;
            }
            m->loss_row[i] = (float)(0.5 * s);
        }
    }
    double sum = 0.0;
    for (size_t i = 0; i < B; i++)
        sum += m->loss_row[i];
    return sum;
}

/* The loss phase, thread 0 only: loss, its gradient into dbuf[0], the
 * accuracy count, or the predictions. */
static void loss_phase(run_ctx *r, size_t step, size_t B, int buf)
{
    ht_model *m = r->m;
    const ht_kernels *k = ht_kernels_active();
    const size_t L = m->cfg.n_layers, C = n_out(m);
    const int32_t *lab = m->labbuf[buf];
    const float *tgt = m->tgtbuf[buf];
    if (r->mode == RUN_PREDICT) {
        const float *h = m->act[L];
        if (m->cfg.loss == HT_LOSS_XENT) {
            k->softmax_xent_fwd(B, C, h, C, NULL, m->probs, C, NULL, 0);
            h = m->probs;
        }
        memcpy(r->pred + step * r->bs * C, h, B * C * sizeof(float));
        return;
    }
    const double bl = loss_rows(m, B, lab, tgt);
    r->last_loss = bl;
    if (r->mode == RUN_EVAL && m->cfg.loss == HT_LOSS_XENT) {
        for (size_t i = 0; i < B; i++) {
            const float *pr = m->probs + i * C;
            size_t best = 0;
            for (size_t j = 1; j < C; j++)
                if (pr[j] > pr[best])
                    best = j;
            r->correct += (int32_t)best == lab[i];
        }
    }
    if (!r->backward)
        return;
    const float inv_b = 1.0f / (float)B;
    float *dz = m->dbuf[0];
    if (m->cfg.loss == HT_LOSS_XENT) {
        /* stream 0: the next GEMM reads dz at once, from cache */
        k->softmax_xent_bwd(B, C, m->probs, C, lab, inv_b, dz, C, 0);
    } else {
        const float *h = m->act[L];
        for (size_t i = 0; i < B * C; i++)
            dz[i] = (h[i] - tgt[i]) * inv_b;
    }
}

/* The hyperparameters of step `step` for weights (hw) and biases (hb). */
static void optim_hypers(const run_ctx *r, uint64_t step, ht_optim_hyper *hw,
                         ht_optim_hyper *hb)
{
    const ht_config *c = &r->m->cfg;
    const double tt = (double)step + 1.0;
    *hw = (ht_optim_hyper){
        .kind = c->optimizer, .lr = ht_lr_at(c, r->m->epoch, step),
        .momentum = c->momentum, .nesterov = c->nesterov,
        .beta1 = c->beta1, .beta2 = c->beta2, .eps = c->eps,
        .bc1 = (float)(1.0 - pow(c->beta1, tt)),
        .bc2 = (float)(1.0 - pow(c->beta2, tt)),
        .weight_decay = c->weight_decay, .l1 = c->l1, .l2 = c->l2,
        .prox_l1 = c->prox_l1,
    };
    *hb = *hw;
    if (!c->reg_bias) {
        hb->weight_decay = 0.0f;
        hb->l1 = 0.0f;
        hb->l2 = 0.0f;
    }
}

/* The fused regulariser + optimiser step on a block of one tensor, rows
 * of `ld` elements (the tensor's params and state share offsets; the
 * gradient comes with the block). It runs on a block as soon as its
 * gradient is final: a tile of the weight gradient right after the
 * micro-kernel that computed it (the GEMM driver's post hook, while the
 * tile is in L1, mostly in the driver's scratch), a block of a bias gradient
 * right after its column sums. Elementwise, so any split gives the same
 * bits. Measured against the separate pass it replaced (one thread, six
 * alternated epochs): the weight-gradient GEMM and the step together took
 * 2.54 s instead of 2.92 s per epoch of the benchmark configuration; on
 * two threads about level, and 4 % less once each thread packed its own
 * B panels (gemm.c). Walking the tiles down the columns instead (each
 * tile's rows a row stride apart) made it slower than the pass. */
typedef struct optim_ctx {
    const ht_kernels *k;
    float *w, *m, *v;
    size_t rows, ld;
    const ht_optim_hyper *h;
} optim_ctx;

/* Columns ahead of the current tile whose parameters and state the hook
 * asks the cache for: the driver's tiles go along the rows, so these are
 * the tile after next (AVX-512's 32 columns; four of AVX2's 16). */
#define OPTIM_AHEAD_COLS 64

/* The tile the driver hands over next but one touches rows of w and state
 * that nothing has read since the last step, from L3 or DRAM, a row stride
 * apart, too many streams for the hardware prefetchers. Asking for them
 * one tile early hides that latency behind the micro-kernel. On a Zen 5
 * guest, single training steps alternated with and without it in one
 * process (hpctrain bench --optim-cost's pairing, 400 pairs): 0.37-0.63 ms
 * less of a 7.7-9.7 ms step on one thread, 0.09-0.10 ms of 4.7-4.9 ms on
 * two. These are read prefetches. An early trial of rw = 1 here (0.16-0.24
 * ms slower on one thread) did not test a write prefetch: for baseline
 * x86-64 GCC emits PREFETCHT0 for it. A real PREFETCHW (inline asm, same
 * bits, 2 threads, alternated runs of one binary) gave 1.025x and 1.052x
 * in one hour (28 pairs, 26 faster) and 0.996x and 0.991x in a later one
 * (28 pairs, 10 faster); on one thread 0.995x. Not kept (docs/PERFORMANCE.md).
 * Past a row's end the next tile is at the start of the next row panel. */
static void optim_prefetch(const optim_ctx *o, size_t row, size_t col,
                           size_t mm, size_t nn)
{
    size_t r = row, c = col + OPTIM_AHEAD_COLS;
    if (c >= o->ld) {
        c -= o->ld;
        r += mm;
    }
    if (r + mm > o->rows || c >= o->ld)
        return;
    const size_t n = c + nn <= o->ld ? nn : o->ld - c;
    for (size_t i = 0; i < mm; i++) {
        const size_t off = (r + i) * o->ld + c;
        for (size_t j = 0; j < n; j += 16) {
            __builtin_prefetch(o->w + off + j, 0, 3);
            if (o->m)
                __builtin_prefetch(o->m + off + j, 0, 3);
            if (o->v)
                __builtin_prefetch(o->v + off + j, 0, 3);
        }
    }
}

/* The step on block (row, col, mm x nn) of the tensor, its gradient at
 * g (rows ldg apart): the GEMM's scratch tile, or the tensor's gradient. */
static void optim_block(void *ctx, size_t row, size_t col, size_t mm,
                        size_t nn, const float *g, size_t ldg)
{
    const optim_ctx *o = ctx;
    const size_t off = row * o->ld + col;
    if (mm > 1)
        optim_prefetch(o, row, col, mm, nn);
    o->k->optim_tile(mm, nn, o->ld, o->w + off, g, ldg,
                     o->m ? o->m + off : NULL, o->v ? o->v + off : NULL, o->h);
}

/* The optimiser of tensor (params offset `off`, `rows` rows of `ld`). */
static optim_ctx optim_of(const ht_model *m, size_t off, size_t rows,
                          size_t ld, const ht_optim_hyper *h)
{
    return (optim_ctx){ht_kernels_active(), m->params + off,
                       m->opt_m ? m->opt_m + off : NULL,
                       m->opt_v ? m->opt_v + off : NULL, rows, ld, h};
}

/* Bias gradient of a layer with `out` outputs from dz (B x out): this
 * thread's blocks of DB_COLS columns, each summed over rows in order;
 * then, with opt, the optimiser step on the same columns of the bias. */
static void bias_grad_part(const team_pos *p, size_t B, size_t out,
                           const float *dz, float *db, const optim_ctx *opt)
{
    const ht_kernels *k = ht_kernels_active();
    const int t = op_threads(p->nt, B * out);
    if (p->tid >= t)
        return;
    size_t lo, hi;
    range((out + DB_COLS - 1) / DB_COLS, t, p->tid, &lo, &hi);
    for (size_t jb = lo; jb < hi; jb++) {
        const size_t j0 = jb * DB_COLS;
        const size_t nj = out - j0 < DB_COLS ? out - j0 : DB_COLS;
        memset(db + j0, 0, nj * sizeof(float));
        k->bias_grad(B, nj, dz + j0, out, db + j0);
        if (opt)
            optim_block((void *)opt, 0, j0, 1, nj, db + j0, nj);
    }
}

/* dx = relu'(y) * dx * scale over this thread's rows (y = act[l]), scale
 * the dropout scale when the forward pass applied dropout, else 1. */
static void relu_bwd_part(const run_ctx *r, const team_pos *p, size_t B,
                          size_t in, const float *y, float *dx)
{
    const ht_config *c = &r->m->cfg;
    const ht_kernels *k = ht_kernels_active();
    const int t = row_threads(r->m, p->nt, B * in);
    if (p->tid >= t)
        return;
    const float scale = r->dropout ? ht_dropout_scale(c->dropout) : 1.0f;
    size_t lo, hi;
    range(B, t, p->tid, &lo, &hi);
    for (size_t i = lo; i < hi; i++)
        k->relu_bwd(in, y + i * in, dx + i * in, scale, dx + i * in);
}

/* The next step's gather, spread over this step's GEMM phases by their
 * weights (in x out): thread 0 spawns a phase's share right before it, so
 * the tasks run on whichever thread reaches that phase's barrier first, in
 * the time it would wait there; the output layer's short phases, which
 * have no such time, get none. All of them at the step's start ran at the
 * first barrier, the dropout phase's, which two threads then both spent
 * gathering (Zen 5 guest, 2 threads: that phase 67 us of a 4.65 ms step,
 * 14 us after). next: that step, or 0 if none; *done: the weight of the
 * phases before this one, of `total`. */
static void gather_share(run_ctx *r, const team_pos *p, size_t next,
                         size_t *done, size_t weight, size_t total)
{
    if (p->tid == 0 && next != 0) {
        const size_t n = gather_chunks(r, next);
        spawn_gather(r, next, n * *done / total,
                     n * (*done + weight) / total);
    }
    *done += weight;
}

/* One step on buffer `buf` (B rows), gathering step `next`'s rows (0:
 * none) on the way. Returns 1 if the team must stop. */
static int run_step(run_ctx *r, team_pos *p, size_t step, size_t B, int buf,
                    size_t next)
{
    ht_model *m = r->m;
    const ht_config *c = &m->cfg;
    const size_t L = c->n_layers;
    const uint64_t gstep = r->step0 + step;
    float *x = m->xbuf[buf];
    ht_status s;
    /* the GEMM phases' weights: forward, input and weight gradients */
    size_t total = 0, done = 0;
    for (size_t l = 0; l < L; l++)
        total += c->sizes[l] * c->sizes[l + 1] *
                 (r->backward ? (l > 0 ? 3 : 2) : 1);

    if (r->dropout && (c->dropout > 0.0f || c->input_dropout > 0.0f)) {
        dropout_rows(r, p, B, gstep, x);
        if (sync_phase(r, p, HT_PROF_DROPOUT, -1, 0.0))
            return 1;
    }
    for (size_t l = 0; l < L; l++) {
        const size_t in = c->sizes[l], out = c->sizes[l + 1];
        const int last = l + 1 == L;
        const int drop = r->dropout && !last && c->dropout > 0.0f;
        ht_epilogue epi = {
            .bias = m->params + m->b_off[l],
            .relu = !last,
            .mask = drop ? m->mask[l + 1] : NULL,
            .mask_ld = m->mask_ld[l + 1],
            .scale = drop ? ht_dropout_scale(c->dropout) : 1.0f,
        };
        gather_share(r, p, next, &done, in * out, total);
        s = ht_sgemm_team(&r->gt, p->tid, HT_NO_TRANS, HT_NO_TRANS, B, out, in,
                          1.0f, l ? m->act[l] : x, in,
                          m->params + m->w_off[l], out, 0.0f, m->act[l + 1],
                          out, &epi);
        if (s != HT_OK)
            fail(r, p, s);
        if (sync_phase(r, p, HT_PROF_GEMM_FWD, (int)l,
                       2.0 * (double)B * in * out))
            return 1;
    }

    if (p->tid == 0) {
        loss_phase(r, step, B, buf);
        if (r->mode == RUN_TRAIN && !isfinite(r->last_loss))
            fail(r, p, ht_error(HT_ERR_DIVERGED, "loss is %s at epoch %d, "
                                "step %llu (weights kept from the last good "
                                "step)", isnan(r->last_loss) ? "NaN" : "Inf",
                                m->epoch + 1, (unsigned long long)gstep));
    }
    if (sync_phase(r, p, HT_PROF_LOSS, -1, 0.0))
        return 1;
    if (!r->backward)
        return 0;

    float *dz = m->dbuf[0], *dx = m->dbuf[1];
    ht_optim_hyper hw, hb;
    if (r->optimise)
        optim_hypers(r, gstep, &hw, &hb);
    for (size_t l = L; l-- > 0;) {
        const size_t in = c->sizes[l], out = c->sizes[l + 1];
        const float *a = l ? m->act[l] : x;
        float *dw = m->grads + m->w_off[l], *db = m->grads + m->b_off[l];
        /* The input gradient first: it reads W_l, which the weight-gradient
         * GEMM below then updates block by block. */
        if (l > 0) {
            gather_share(r, p, next, &done, in * out, total);
            s = ht_sgemm_team(&r->gt, p->tid, HT_NO_TRANS, HT_TRANS, B, in,
                              out, 1.0f, dz, out, m->params + m->w_off[l], out,
                              0.0f, dx, in, NULL);
            if (s != HT_OK)
                fail(r, p, s);
            if (sync_phase(r, p, HT_PROF_GEMM_BWD_DATA, (int)l,
                           2.0 * (double)B * in * out))
                return 1;
        }
        const optim_ctx ow = optim_of(m, m->w_off[l], in, out, &hw);
        const optim_ctx ob = optim_of(m, m->b_off[l], 1, out, &hb);
        /* the weight gradient's tiles go from the micro-kernel to the
         * optimiser, not to dw (ht_model_grad_weights says so) */
        const ht_gemm_post post = {optim_block, (void *)&ow, 1};
        gather_share(r, p, next, &done, in * out, total);
        s = ht_sgemm_team_post(&r->gt, p->tid, HT_TRANS, HT_NO_TRANS, in, out,
                               B, 1.0f, a, in, dz, out, 0.0f, dw, out, NULL,
                               r->optimise ? &post : NULL);
        if (s != HT_OK)
            fail(r, p, s);
        if (sync_phase(r, p, HT_PROF_GEMM_BWD_WEIGHT, (int)l,
                       2.0 * (double)B * in * out))
            return 1;
        /* dz is still intact (dx is the other buffer): its bias gradient
         * shares the phase with the ReLU backward of dx */
        if (l > 0)
            relu_bwd_part(r, p, B, in, a, dx);
        bias_grad_part(p, B, out, dz, db, r->optimise ? &ob : NULL);
        if (sync_phase(r, p, HT_PROF_ELEMENTWISE, -1,
                       (double)B * ((l > 0 ? in : 0) + out)))
            return 1;
        float *t = dz;
        dz = dx;
        dx = t;
    }
    if (r->optimise && p->tid == 0) {
        /* the step's optimiser work: every parameter, once */
        ht_profile *pr = &m->prof;
        pr->flops[HT_PROF_OPTIM] += (double)m->n_params;
        pr->calls[HT_PROF_OPTIM]++;
    }
    return 0;
}

/* The steps of a run, on one thread of the team. */
static void team_steps(run_ctx *r, team_pos *p)
{
    ht_model *m = r->m;
    ht_sched_enter(m, p->tid, p->nt);
    const size_t nsteps = (r->n + r->bs - 1) / r->bs;
    phase_clock(p);
    if (p->tid == 0)
        spawn_gather(r, 0, 0, gather_chunks(r, 0));
    if (sync_phase(r, p, HT_PROF_DATA, -1, 0.0))
        return;
    for (size_t i = 0; i < nsteps; i++) {
        const size_t B = step_rows(r, i);
        if (run_step(r, p, i, B, (int)(i & 1), i + 1 < nsteps ? i + 1 : 0))
            return;
        if (p->tid == 0) {
            r->loss_sum += r->last_loss;
            if (r->mode == RUN_TRAIN) {
                m->step++;
                if (r->progress)
                    r->progress(i * r->bs + B, r->n,
                                r->loss_sum / (double)(i * r->bs + B),
                                r->user);
            }
            phase_clock(p);
        }
    }
}

/* The body of the region: every thread of the team runs it. */
static void run_team(run_ctx *r)
{
    team_pos p = {omp_get_thread_num(), omp_get_num_threads(), 0, 0.0,
                  ht_now(), {0}, {0}, tl_gather_s};
    team_steps(r, &p);
    /* the tasks are done by now: each ran before a barrier both passed */
    #pragma omp critical(ht_profile_wait)
    {
        for (int k = 0; k < HT_PROF_COUNT; k++) {
            r->m->prof.team_seconds[k] += p.team[k];
            r->m->prof.wait[k] += p.wait[k];
        }
        r->m->prof.gather_seconds += tl_gather_s - p.gather0;
    }
}

/* Largest team-GEMM needs of a run with steps of `bs` rows and a last
 * step of `last` rows (0: none), for any team of 1..T threads (the team
 * OpenMP grants may be smaller than asked): floats of the shared buffer
 * (*shared, without the claim words) and of each thread's own (*own). */
static void ws_need(const ht_model *m, int T, size_t bs, size_t last,
                    int backward, size_t *shared, size_t *own)
{
    const ht_config *c = &m->cfg;
    *shared = *own = 0;
    const size_t rows[2] = {bs, last};
    for (int team = 1; team <= T; team++)
    for (int q = 0; q < 2; q++) {
        const size_t B = rows[q];
        if (B == 0)
            continue;
        for (size_t l = 0; l < c->n_layers; l++) {
            const size_t in = c->sizes[l], out = c->sizes[l + 1];
            /* forward; weight gradient with the optimiser's post hook or
             * without (no optimise); input gradient (not of layer 0) */
            const struct { int ta, tb; size_t m, n, k; int post; } call[4] = {
                {HT_NO_TRANS, HT_NO_TRANS, B, out, in, 0},
                {HT_TRANS, HT_NO_TRANS, in, out, B, 1},
                {HT_TRANS, HT_NO_TRANS, in, out, B, 0},
                {HT_NO_TRANS, HT_TRANS, B, in, out, 0}};
            const int ncalls = !backward ? 1 : l == 0 ? 3 : 4;
            for (int i = 0; i < ncalls; i++) {
                size_t sh, ow;
                ht_sgemm_team_ws_split(team, call[i].ta, call[i].tb, call[i].m,
                                       call[i].n, call[i].k, call[i].post, &sh,
                                       &ow, NULL);
                *shared = sh > *shared ? sh : *shared;
                *own = ow > *own ? ow : *own;
            }
        }
    }
}

ht_status ht_train_reserve_pack(ht_model *m, int T, size_t bs, size_t last,
                                int backward)
{
    size_t shared, own;
    ws_need(m, T, bs, last, backward, &shared, &own);
    return ht_sched_pack(m, T, ht_gemm_team_claim_floats(T) + shared, own);
}

/* Runs the region: makes sure the model's packing buffers fit the largest
 * GEMM (ht_sched_pack: allocated on the first run, reused by the next),
 * opens the one parallel region, returns the first failure with its
 * message. Not inside a parallel region. */
static ht_status run(run_ctx *r)
{
    ht_model *m = r->m;
    if (omp_in_parallel())
        return ht_error(HT_ERR_ARG, "hpctrain: training and inference open "
                        "their own parallel region; do not call them inside "
                        "one");
    const int T = ht_sched_team(m);
    r->step0 = m->step;
    atomic_init(&r->failed_phase, 0);
    r->status = HT_OK;
    const size_t last = r->n % r->bs;
    ht_status s = ht_train_reserve_pack(m, T, r->bs, last, r->backward);
    if (s != HT_OK)
        return s;
    ht_gemm_team_init_own(&r->gt, T, m->pack_shared, m->pack_shared_floats,
                          m->pack_own, m->pack_own_floats);
    const int levels = ht_sched_no_nesting();
    void *caller = ht_sched_caller_save(m);
    #pragma omp parallel num_threads(T)
    {
        if (omp_get_num_threads() == T) {
            run_team(r);
        } else {
            /* fewer threads than asked (OMP_DYNAMIC, thread limit): the
             * GEMM team must be the real team; thread 0 makes it so */
            #pragma omp single
            r->gt.size = omp_get_num_threads();
            run_team(r);
        }
    }
    ht_sched_caller_restore(m, caller);
    ht_sched_restore_nesting(levels);
    /* input buffer 0 is the model's act[0] outside a run */
    m->act[0] = m->xbuf[0];
    if (atomic_load(&r->failed_phase))
        return ht_error(r->status, "%s", r->msg);
    return HT_OK;
}

static void ctx_init(run_ctx *r, ht_model *m, enum run_mode mode,
                     const ht_dataset *ds, const size_t *idx, size_t n)
{
    memset(r, 0, sizeof *r);
    r->m = m;
    r->mode = mode;
    r->ds = ds;
    r->idx = idx;
    r->n = n;
    r->bs = m->cfg.batch;
}

ht_status ht_model_train_epoch(ht_model *m, const ht_dataset *train,
                               ht_progress_fn progress, void *user,
                               ht_epoch_stats *stats)
{
    if (m == NULL)
        return ht_error(HT_ERR_ARG, "ht_model_train_epoch: NULL model");
    ht_status s = check_data(m, train);
    if (s != HT_OK)
        return s;
    const double t0 = ht_now();
    const size_t n = train->n;
    {
        const double ts = ht_now();
        s = shuffle(m, n);
        m->prof.seconds[HT_PROF_DATA] += ht_now() - ts;
        m->prof.calls[HT_PROF_DATA]++;
        if (s != HT_OK)
            return s;
    }
    run_ctx r;
    ctx_init(&r, m, RUN_TRAIN, train, m->perm, n);
    r.dropout = 1;
    r.backward = 1;
    r.optimise = 1;
    r.progress = progress;
    r.user = user;
    s = run(&r);
    if (s != HT_OK)
        return s;
    /* the rate of the epoch's last step (m->step now counts it) */
    const float lr = ht_lr_at(&m->cfg, m->epoch, m->step ? m->step - 1 : 0);
    m->epoch++;
    if (stats) {
        stats->lr = lr;
        stats->loss = r.loss_sum / (double)n;
        stats->seconds = ht_now() - t0;
        stats->samples_per_s = (double)n / stats->seconds;
        penalty_and_sparsity(m, &stats->penalty, &stats->sparsity,
                             stats->layer_sparsity);
    }
    return HT_OK;
}

ht_status ht_model_evaluate(ht_model *m, const ht_dataset *ds,
                            ht_eval_stats *stats)
{
    if (m == NULL || stats == NULL)
        return ht_error(HT_ERR_ARG, "ht_model_evaluate: NULL argument");
    ht_status s = check_data(m, ds);
    if (s != HT_OK)
        return s;
    run_ctx r;
    ctx_init(&r, m, RUN_EVAL, ds, NULL, ds->n);
    s = run(&r);
    if (s != HT_OK)
        return s;
    stats->n = ds->n;
    stats->loss = r.loss_sum / (double)ds->n;
    stats->accuracy = m->cfg.loss == HT_LOSS_XENT
                          ? (double)r.correct / (double)ds->n : 0.0;
    return HT_OK;
}

ht_status ht_model_predict(ht_model *m, const float *x, size_t n, float *out)
{
    if (m == NULL || (n && (x == NULL || out == NULL)))
        return ht_error(HT_ERR_ARG, "ht_model_predict: NULL argument");
    if (n == 0)
        return HT_OK;
    ht_dataset view;
    memset(&view, 0, sizeof view);
    view.n = n;
    view.d = m->cfg.sizes[0];
    view.x = (float *)x;
    run_ctx r;
    ctx_init(&r, m, RUN_PREDICT, &view, NULL, n);
    r.pred = out;
    return run(&r);
}

ht_status ht_model_batch_grad(ht_model *m, const ht_dataset *ds,
                              const size_t *idx, size_t B, int train,
                              double *loss)
{
    if (m == NULL || loss == NULL)
        return ht_error(HT_ERR_ARG, "ht_model_batch_grad: NULL %s",
                        m == NULL ? "model" : "loss");
    if (B == 0 || B > m->cfg.batch)
        return ht_error(HT_ERR_ARG, "batch of %zu rows: must be 1..%zu", B,
                        m->cfg.batch);
    ht_status s = check_data(m, ds);
    if (s != HT_OK)
        return s;
    if (idx == NULL && B > ds->n)
        return ht_error(HT_ERR_ARG, "batch of %zu rows: the data set has %zu",
                        B, ds->n);
    for (size_t i = 0; idx != NULL && i < B; i++)
        if (idx[i] >= ds->n)
            return ht_error(HT_ERR_ARG, "row index %zu (batch position %zu) "
                            "is out of range for %zu rows", idx[i], i, ds->n);
    run_ctx r;
    ctx_init(&r, m, RUN_GRAD, ds, idx, B);
    r.dropout = train;
    r.backward = 1;
    s = run(&r);
    if (s != HT_OK)
        return s;
    *loss = r.last_loss / (double)B;
    return HT_OK;
}
