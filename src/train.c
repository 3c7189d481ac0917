/* Training and inference of the MLP: forward, loss, backward, the fused
 * optimiser step, epochs, evaluation.
 *
 * Shapes (B = rows in the batch, L = layers, n_l = cfg.sizes[l]):
 *   act[l]   B x n_l      input of layer l (act[0] = batch, after input dropout)
 *   W_l      n_l x n_l+1  b_l  n_l+1
 *   act[l+1] B x n_l+1    = dropout(relu(act[l] W_l + b_l)) for hidden layers,
 *                           act[L-1] W_{L-1} + b_{L-1} (logits) for the last
 * Every parallel loop below splits rows or elements into a fixed partition
 * whose arithmetic does not depend on the thread count, and every reduction
 * runs in a fixed order, so results are bitwise identical for any number of
 * threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../simd/rng.h"
#include "dataset_internal.h"
#include "error.h"
#include "internal.h"
#include "model_internal.h"

#define PROF_BEGIN() double prof_t0_ = ht_now()
#define PROF_END(m, kind, fl)                                  \
    do {                                                       \
        (m)->prof.seconds[kind] += ht_now() - prof_t0_;        \
        (m)->prof.flops[kind] += (fl);                         \
        (m)->prof.calls[kind]++;                               \
    } while (0)

/* Threads for an elementwise pass over `n` floats: below ~64 K elements a
 * pass is faster on one thread than the fork/join costs. */
static int threads_for_elems(size_t n)
{
    return ht_threads_for_work((double)n * 64.0);
}

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

/* Copies rows idx[0..B) of ds (NULL: rows 0..B-1) into the batch buffers. */
static void gather(ht_model *m, const ht_dataset *ds, const size_t *idx,
                   size_t B)
{
    PROF_BEGIN();
    float *tgt = m->cfg.loss == HT_LOSS_MSE ? m->targets : NULL;
    if (idx) {
        ht_dataset_gather(ds, idx, B, m->act[0], m->labels, tgt);
    } else {
        memcpy(m->act[0], ds->x, B * ds->d * sizeof(float));
        if (ds->label)
            memcpy(m->labels, ds->label, B * sizeof(int32_t));
        if (ds->target && tgt)
            memcpy(tgt, ds->target, B * ds->n_targets * sizeof(float));
    }
    PROF_END(m, HT_PROF_DATA, 0.0);
}

static ht_status forward(ht_model *m, size_t B, int train)
{
    const ht_config *c = &m->cfg;
    const ht_kernels *k = ht_kernels_active();
    const size_t L = c->n_layers;

    if (train && c->input_dropout > 0.0f) {
        PROF_BEGIN();
        const size_t d = c->sizes[0];
        const uint32_t thr = ht_dropout_threshold(c->input_dropout);
        const float scale = 1.0f / (1.0f - c->input_dropout);
        #pragma omp parallel for schedule(static) num_threads(threads_for_elems(B * d))
        for (size_t i = 0; i < B; i++)
            k->dropout_fwd(ht_dropout_key(c->seed, 0, m->step, i), d, thr,
                           scale, m->act[0] + i * d, m->act[0] + i * d,
                           m->mask[0] + i * m->mask_ld[0]);
        PROF_END(m, HT_PROF_DROPOUT, 0.0);
    }
    for (size_t l = 0; l < L; l++) {
        const size_t in = c->sizes[l], out = c->sizes[l + 1];
        const int last = l + 1 == L;
        const int drop = train && !last && c->dropout > 0.0f;
        if (drop) {
            PROF_BEGIN();
            const uint32_t thr = ht_dropout_threshold(c->dropout);
            const size_t ld = m->mask_ld[l + 1];
            #pragma omp parallel for schedule(static) num_threads(threads_for_elems(B * out))
            for (size_t i = 0; i < B; i++)
                k->dropout_mask(ht_dropout_key(c->seed, (uint32_t)(l + 1),
                                               m->step, i),
                                out, thr, m->mask[l + 1] + i * ld);
            PROF_END(m, HT_PROF_DROPOUT, 0.0);
        }
        ht_epilogue epi = {
            .bias = m->params + m->b_off[l],
            .relu = !last,
            .mask = drop ? m->mask[l + 1] : NULL,
            .mask_ld = m->mask_ld[l + 1],
            .scale = drop ? 1.0f / (1.0f - c->dropout) : 1.0f,
        };
        ht_status s;
        {
        PROF_BEGIN();
        s = ht_sgemm_ex(HT_NO_TRANS, HT_NO_TRANS, B, out, in, 1.0f,
                                  m->act[l], in, m->params + m->w_off[l], out,
                                  0.0f, m->act[l + 1], out, &epi);
        PROF_END(m, HT_PROF_GEMM_FWD, 2.0 * (double)B * in * out);
        }
        if (s != HT_OK)
            return s;
    }
    return HT_OK;
}

/* Per-row losses into m->loss_row; returns their sum (fixed order). For
 * cross-entropy also leaves the softmax in m->probs. */
static double loss_rows(ht_model *m, size_t B)
{
    PROF_BEGIN();
    const ht_kernels *k = ht_kernels_active();
    const size_t C = n_out(m);
    const float *h = m->act[m->cfg.n_layers];
    if (m->cfg.loss == HT_LOSS_XENT) {
        k->softmax_xent_fwd(B, C, h, C, m->labels, m->probs, C, m->loss_row);
    } else {
        for (size_t i = 0; i < B; i++) {
            double s = 0.0;
            for (size_t j = 0; j < C; j++) {
                double e = (double)h[i * C + j] - m->targets[i * C + j];
                s += e * e;
            }
            m->loss_row[i] = (float)(0.5 * s);
        }
    }
    double sum = 0.0;
    for (size_t i = 0; i < B; i++)
        sum += m->loss_row[i];
    PROF_END(m, HT_PROF_LOSS, 0.0);
    return sum;
}

static ht_status backward(ht_model *m, size_t B)
{
    const ht_config *c = &m->cfg;
    const ht_kernels *k = ht_kernels_active();
    const size_t L = c->n_layers, C = n_out(m);
    const float inv_b = 1.0f / (float)B;
    float *dz = m->dbuf[0], *dx = m->dbuf[1];

    {
        PROF_BEGIN();
        if (c->loss == HT_LOSS_XENT) {
            k->softmax_xent_bwd(B, C, m->probs, C, m->labels, inv_b, dz, C);
        } else {
            const float *h = m->act[L];
            for (size_t i = 0; i < B * C; i++)
                dz[i] = (h[i] - m->targets[i]) * inv_b;
        }
        PROF_END(m, HT_PROF_LOSS, 0.0);
    }
    for (size_t l = L; l-- > 0;) {
        const size_t in = c->sizes[l], out = c->sizes[l + 1];
        float *dw = m->grads + m->w_off[l], *db = m->grads + m->b_off[l];
        ht_status s;
        {
            PROF_BEGIN();
            s = ht_sgemm(HT_TRANS, HT_NO_TRANS, in, out, B, 1.0f, m->act[l],
                         in, dz, out, 0.0f, dw, out);
            PROF_END(m, HT_PROF_GEMM_BWD_WEIGHT, 2.0 * (double)B * in * out);
        }
        if (s != HT_OK)
            return s;
        {
            PROF_BEGIN();
            /* column blocks: each column is summed over rows in order */
            const size_t cb = 64, nblk = (out + cb - 1) / cb;
            #pragma omp parallel for schedule(static) num_threads(threads_for_elems(B * out))
            for (size_t jb = 0; jb < nblk; jb++) {
                const size_t j0 = jb * cb, nj = out - j0 < cb ? out - j0 : cb;
                memset(db + j0, 0, nj * sizeof(float));
                k->bias_grad(B, nj, dz + j0, out, db + j0);
            }
            PROF_END(m, HT_PROF_ELEMENTWISE, (double)B * out);
        }
        if (l == 0)
            break;
        {
            PROF_BEGIN();
            s = ht_sgemm(HT_NO_TRANS, HT_TRANS, B, in, out, 1.0f, dz, out,
                         m->params + m->w_off[l], out, 0.0f, dx, in);
            PROF_END(m, HT_PROF_GEMM_BWD_DATA, 2.0 * (double)B * in * out);
            if (s != HT_OK)
                return s;
        }
        {
            PROF_BEGIN();
            const float scale = c->dropout > 0.0f ? 1.0f / (1.0f - c->dropout)
                                                  : 1.0f;
            const float *y = m->act[l];
            #pragma omp parallel for schedule(static) num_threads(threads_for_elems(B * in))
            for (size_t i = 0; i < B; i++)
                k->relu_bwd(in, y + i * in, dx + i * in, scale, dx + i * in);
            PROF_END(m, HT_PROF_ELEMENTWISE, (double)B * in);
        }
        float *t = dz;
        dz = dx;
        dx = t;
    }
    return HT_OK;
}

static float lr_at(const ht_config *c, int epoch)
{
    switch (c->schedule) {
    case HT_SCHED_STEP:
        return c->lr * powf(c->gamma, (float)(epoch / c->step_epochs));
    case HT_SCHED_COSINE: {
        int e = epoch < c->total_epochs ? epoch : c->total_epochs;
        return (float)(c->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * e /
                                                c->total_epochs)));
    }
    default:
        return c->lr;
    }
}

/* Fused regulariser + optimiser step over every tensor, split into fixed
 * chunks of elements (elementwise, so any split gives the same bits). */
static void optimise(ht_model *m)
{
    PROF_BEGIN();
    const ht_config *c = &m->cfg;
    const ht_kernels *k = ht_kernels_active();
    const double t = (double)m->step + 1.0;
    ht_optim_hyper hw = {
        .kind = c->optimizer, .lr = lr_at(c, m->epoch),
        .momentum = c->momentum, .nesterov = c->nesterov,
        .beta1 = c->beta1, .beta2 = c->beta2, .eps = c->eps,
        .bc1 = (float)(1.0 - pow(c->beta1, t)),
        .bc2 = (float)(1.0 - pow(c->beta2, t)),
        .weight_decay = c->weight_decay, .l1 = c->l1, .l2 = c->l2,
        .prox_l1 = c->prox_l1,
    };
    ht_optim_hyper hb = hw;
    if (!c->reg_bias) {
        hb.weight_decay = 0.0f;
        hb.l1 = 0.0f;
        hb.l2 = 0.0f;
    }
    enum { CHUNK = 16384 };
    double total = 0.0;
    for (size_t l = 0; l < c->n_layers; l++) {
        const size_t segs[2][2] = {
            {m->w_off[l], c->sizes[l] * c->sizes[l + 1]},
            {m->b_off[l], c->sizes[l + 1]}};
        for (int s = 0; s < 2; s++) {
            const size_t off = segs[s][0], n = segs[s][1];
            const ht_optim_hyper *h = s == 0 ? &hw : &hb;
            const size_t nchunks = (n + CHUNK - 1) / CHUNK;
            total += (double)n;
            #pragma omp parallel for schedule(static) num_threads(threads_for_elems(n))
            for (size_t ch = 0; ch < nchunks; ch++) {
                const size_t o = off + ch * CHUNK;
                const size_t len = n - ch * CHUNK < CHUNK ? n - ch * CHUNK : CHUNK;
                k->optim_step(len, m->params + o, m->grads + o,
                              m->opt_m ? m->opt_m + o : NULL,
                              m->opt_v ? m->opt_v + o : NULL, h);
            }
        }
    }
    PROF_END(m, HT_PROF_OPTIM, total);
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
                                 double *sparsity)
{
    const ht_config *c = &m->cfg;
    double l1s = 0.0, l2s = 0.0;
    size_t zeros = 0, total = 0;
    for (size_t l = 0; l < c->n_layers; l++) {
        const float *w = m->params + m->w_off[l];
        const size_t n = c->sizes[l] * c->sizes[l + 1];
        for (size_t i = 0; i < n; i++) {
            l1s += fabs((double)w[i]);
            l2s += (double)w[i] * w[i];
            zeros += w[i] == 0.0f;
        }
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
    const size_t n = train->n, bs = m->cfg.batch;
    {
        PROF_BEGIN();
        s = shuffle(m, n);
        PROF_END(m, HT_PROF_DATA, 0.0);
        if (s != HT_OK)
            return s;
    }
    double loss_sum = 0.0;
    for (size_t start = 0; start < n; start += bs) {
        const size_t B = n - start < bs ? n - start : bs;
        gather(m, train, m->perm + start, B);
        s = forward(m, B, 1);
        if (s != HT_OK)
            return s;
        const double bl = loss_rows(m, B);
        if (!isfinite(bl))
            return ht_error(HT_ERR_DIVERGED, "loss is %s at epoch %d, step "
                            "%llu (weights kept from the last good step)",
                            isnan(bl) ? "NaN" : "Inf", m->epoch + 1,
                            (unsigned long long)m->step);
        s = backward(m, B);
        if (s != HT_OK)
            return s;
        optimise(m);
        m->step++;
        loss_sum += bl;
        if (progress)
            progress(start + B, n, loss_sum / (double)(start + B), user);
    }
    m->epoch++;
    if (stats) {
        stats->loss = loss_sum / (double)n;
        stats->seconds = ht_now() - t0;
        stats->samples_per_s = (double)n / stats->seconds;
        penalty_and_sparsity(m, &stats->penalty, &stats->sparsity);
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
    const size_t bs = m->cfg.batch, C = n_out(m);
    double loss = 0.0;
    size_t correct = 0;
    for (size_t start = 0; start < ds->n; start += bs) {
        const size_t B = ds->n - start < bs ? ds->n - start : bs;
        /* contiguous rows: gather with an offset data view */
        ht_dataset view = *ds;
        view.x = ds->x + start * ds->d;
        view.label = ds->label ? ds->label + start : NULL;
        view.target = ds->target ? ds->target + start * ds->n_targets : NULL;
        gather(m, &view, NULL, B);
        s = forward(m, B, 0);
        if (s != HT_OK)
            return s;
        loss += loss_rows(m, B);
        if (m->cfg.loss == HT_LOSS_XENT) {
            for (size_t i = 0; i < B; i++) {
                const float *p = m->probs + i * C;
                size_t best = 0;
                for (size_t j = 1; j < C; j++)
                    if (p[j] > p[best])
                        best = j;
                correct += (int32_t)best == m->labels[i];
            }
        }
    }
    stats->n = ds->n;
    stats->loss = loss / (double)ds->n;
    stats->accuracy = m->cfg.loss == HT_LOSS_XENT
                          ? (double)correct / (double)ds->n : 0.0;
    return HT_OK;
}

ht_status ht_model_predict(ht_model *m, const float *x, size_t n, float *out)
{
    if (m == NULL || (n && (x == NULL || out == NULL)))
        return ht_error(HT_ERR_ARG, "ht_model_predict: NULL argument");
    const size_t bs = m->cfg.batch, d = m->cfg.sizes[0], C = n_out(m);
    for (size_t start = 0; start < n; start += bs) {
        const size_t B = n - start < bs ? n - start : bs;
        memcpy(m->act[0], x + start * d, B * d * sizeof(float));
        ht_status s = forward(m, B, 0);
        if (s != HT_OK)
            return s;
        const float *h = m->act[m->cfg.n_layers];
        if (m->cfg.loss == HT_LOSS_XENT) {
            ht_kernels_active()->softmax_xent_fwd(B, C, h, C, NULL, m->probs,
                                                  C, NULL);
            h = m->probs;
        }
        memcpy(out + start * C, h, B * C * sizeof(float));
    }
    return HT_OK;
}

ht_status ht_model_batch_grad(ht_model *m, const ht_dataset *ds,
                              const size_t *idx, size_t B, int train,
                              double *loss)
{
    if (B == 0 || B > m->cfg.batch)
        return ht_error(HT_ERR_ARG, "batch of %zu rows: must be 1..%zu", B,
                        m->cfg.batch);
    ht_status s = check_data(m, ds);
    if (s != HT_OK)
        return s;
    gather(m, ds, idx, B);
    s = forward(m, B, train);
    if (s != HT_OK)
        return s;
    *loss = loss_rows(m, B) / (double)B;
    return backward(m, B);
}
