/* Model lifetime: slabs, initialisation, accessors, hash, profile. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../simd/rng.h"
#include "error.h"
#include "internal.h"
#include "model_internal.h"

double ht_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Rounds a float count up to a whole number of 64-byte lines. */
static size_t pad16(size_t n) { return (n + 15) & ~(size_t)15; }

/* The parameter slab's layout: layer l's weights, then its biases, each
 * padded. Fills w_off and b_off when they are not NULL; returns the total. */
static size_t param_layout(const ht_config *c, size_t *w_off, size_t *b_off)
{
    size_t off = 0;
    for (size_t l = 0; l < c->n_layers; l++) {
        if (w_off)
            w_off[l] = off;
        off += pad16(c->sizes[l] * c->sizes[l + 1]);
        if (b_off)
            b_off[l] = off;
        off += pad16(c->sizes[l + 1]);
    }
    return off;
}

size_t ht_config_n_params(const ht_config *c, int *need_m, int *need_v)
{
    *need_m = c->optimizer != HT_OPT_SGD || c->momentum != 0.0f;
    *need_v = c->optimizer != HT_OPT_SGD;
    return param_layout(c, NULL, NULL);
}

ht_status ht_model_alloc(ht_model *m)
{
    const ht_config *c = &m->cfg;
    const size_t L = c->n_layers, B = c->batch;
    size_t maxw = 0;
    int need_m, need_v;
    const size_t off = ht_config_n_params(c, &need_m, &need_v);
    param_layout(c, m->w_off, m->b_off);
    for (size_t l = 0; l <= L; l++)
        maxw = c->sizes[l] > maxw ? c->sizes[l] : maxw;
    m->n_params = off;

    /* work slab: activations (act[0] is input buffer 0), the second input
     * buffer, probs, two gradient buffers, masks, labels and targets (two
     * each), per-row losses. Every piece is batch rows of some width. */
    size_t wsz = 0, nrb = 0;
    size_t rb_off[2 * HT_MAX_LAYERS + 12], rb_row[2 * HT_MAX_LAYERS + 12];
#define ROWBUF(off_var, row_floats)                                   \
    do {                                                              \
        (off_var) = wsz;                                              \
        rb_off[nrb] = wsz;                                            \
        rb_row[nrb++] = (row_floats);                                 \
        wsz += pad16(B * (row_floats));                               \
    } while (0)
    size_t act_off[HT_MAX_LAYERS + 1], mask_off[HT_MAX_LAYERS + 1];
    size_t x1_off, probs_off, d0, d1, lab_off[2], tgt_off[2], loss_off;
    for (size_t l = 0; l <= L; l++)
        ROWBUF(act_off[l], c->sizes[l]);
    ROWBUF(x1_off, c->sizes[0]);
    ROWBUF(probs_off, c->sizes[L]);
    ROWBUF(d0, maxw);
    ROWBUF(d1, maxw);
    for (size_t l = 0; l <= L; l++) {
        m->mask_ld[l] = (c->sizes[l] + 31) / 32;
        ROWBUF(mask_off[l], m->mask_ld[l]);
    }
    for (int i = 0; i < 2; i++) {
        ROWBUF(lab_off[i], 1);
        ROWBUF(tgt_off[i], c->sizes[L]);
    }
    ROWBUF(loss_off, 1);
#undef ROWBUF

    ht_status s = ht_sched_alloc(m, off, need_m, need_v, wsz);
    if (s != HT_OK)
        return s;
    m->n_rowbufs = nrb;
    for (size_t i = 0; i < nrb; i++) {
        m->rowbuf[i].base = m->work + rb_off[i];
        m->rowbuf[i].row_bytes = rb_row[i] * sizeof(float);
    }
    for (size_t l = 0; l <= L; l++) {
        m->act[l] = m->work + act_off[l];
        m->mask[l] = (uint32_t *)(m->work + mask_off[l]);
    }
    m->xbuf[0] = m->act[0];
    m->xbuf[1] = m->work + x1_off;
    m->probs = m->work + probs_off;
    m->dbuf[0] = m->work + d0;
    m->dbuf[1] = m->work + d1;
    for (int i = 0; i < 2; i++) {
        m->labbuf[i] = (int32_t *)(m->work + lab_off[i]);
        m->tgtbuf[i] = m->work + tgt_off[i];
    }
    m->labels = m->labbuf[0];
    m->targets = m->tgtbuf[0];
    m->loss_row = m->work + loss_off;
    /* the training team's packing buffers, so that the first-touch region
     * below places them too (a run grows them if it needs more) */
    s = ht_train_reserve_pack(m, ht_sched_team(m), c->batch, 0, 1);
    if (s != HT_OK)
        return s;
    ht_sched_first_touch(m, off);
    return HT_OK;
}

/* He/Kaiming uniform: U(-sqrt(6/fan_in), sqrt(6/fan_in)), one splitmix64
 * stream per layer so the init does not depend on the other layers. */
static void init_weights(ht_model *m)
{
    const ht_config *c = &m->cfg;
    for (size_t l = 0; l < c->n_layers; l++) {
        float *w = m->params + m->w_off[l];
        const size_t n = c->sizes[l] * c->sizes[l + 1];
        const double bound = sqrt(6.0 / (double)c->sizes[l]);
        uint64_t s = ht_mix64(c->seed ^ 0x1A17A11CEull) + l;
        for (size_t i = 0; i < n; i++) {
            double u = (double)(ht_splitmix64_next(&s) >> 11) *
                       (1.0 / 9007199254740992.0);
            w[i] = (float)((2.0 * u - 1.0) * bound);
        }
    }
}

ht_status ht_model_create(const ht_config *cfg, ht_model **out)
{
    ht_status s = ht_runtime_init();
    if (s != HT_OK)
        return s;
    if (out == NULL)
        return ht_error(HT_ERR_ARG, "ht_model_create: NULL out");
    *out = NULL;
    s = ht_config_check(cfg);
    if (s != HT_OK)
        return s;
    ht_model *m = calloc(1, sizeof *m);
    if (m == NULL)
        return ht_error(HT_ERR_NOMEM, "ht_model_create: out of memory");
    m->cfg = *cfg;
    s = ht_model_alloc(m);
    if (s != HT_OK) {
        ht_model_free(m);
        return s;
    }
    init_weights(m);
    *out = m;
    return HT_OK;
}

void ht_model_free(ht_model *m)
{
    if (m == NULL)
        return;
    ht_sched_free(m);
    free(m->perm);
    free(m->in_shift);
    free(m->class_names);
    free(m);
}

const ht_config *ht_model_config(const ht_model *m) { return &m->cfg; }
int ht_model_epoch(const ht_model *m) { return m->epoch; }
uint64_t ht_model_step(const ht_model *m) { return m->step; }

float *ht_model_weights(ht_model *m, size_t layer)
{
    return layer < m->cfg.n_layers ? m->params + m->w_off[layer] : NULL;
}

float *ht_model_bias(ht_model *m, size_t layer)
{
    return layer < m->cfg.n_layers ? m->params + m->b_off[layer] : NULL;
}

const float *ht_model_grad_weights(const ht_model *m, size_t layer)
{
    return layer < m->cfg.n_layers ? m->grads + m->w_off[layer] : NULL;
}

const float *ht_model_grad_bias(const ht_model *m, size_t layer)
{
    return layer < m->cfg.n_layers ? m->grads + m->b_off[layer] : NULL;
}

uint64_t ht_model_hash(const ht_model *m)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t l = 0; l < m->cfg.n_layers; l++) {
        const size_t nw = m->cfg.sizes[l] * m->cfg.sizes[l + 1];
        const unsigned char *p = (const unsigned char *)(m->params + m->w_off[l]);
        for (size_t i = 0; i < nw * sizeof(float); i++)
            h = (h ^ p[i]) * 0x100000001b3ull;
        p = (const unsigned char *)(m->params + m->b_off[l]);
        for (size_t i = 0; i < m->cfg.sizes[l + 1] * sizeof(float); i++)
            h = (h ^ p[i]) * 0x100000001b3ull;
    }
    if (m->in_shift) {
        const unsigned char *p = (const unsigned char *)m->in_shift;
        for (size_t i = 0; i < 2 * m->cfg.sizes[0] * sizeof(float); i++)
            h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

static const char *const prof_names[HT_PROF_COUNT] = {
    "gemm_fwd", "gemm_bwd_data", "gemm_bwd_weight", "elementwise",
    "dropout", "loss", "optim", "data"};

const char *ht_prof_name(ht_prof_kind k)
{
    return (unsigned)k < HT_PROF_COUNT ? prof_names[k] : "unknown";
}

void ht_model_profile(const ht_model *m, ht_profile *out)
{
    *out = m->prof;
}

void ht_model_profile_reset(ht_model *m)
{
    memset(&m->prof, 0, sizeof m->prof);
}
