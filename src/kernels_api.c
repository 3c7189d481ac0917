/* The public kernel-level entry points (hpctrain/kernels.h): argument
 * checks, then one call through the active table. */
#include <math.h>

#include "../simd/rng.h"
#include "error.h"
#include "internal.h"

#define INIT_OR_RETURN()                      \
    do {                                      \
        ht_status s_ = ht_runtime_init();     \
        if (s_ != HT_OK)                      \
            return s_;                        \
    } while (0)

static int bad_coef(float x) { return !(x >= 0.0f) || isinf(x); }

ht_status ht_l1_grad(size_t n, float l1, const float *w, float *g)
{
    INIT_OR_RETURN();
    if (bad_coef(l1))
        return ht_error(HT_ERR_ARG, "ht_l1_grad: l1=%g must be finite and >= 0",
                        (double)l1);
    if (n && (!w || !g))
        return ht_error(HT_ERR_ARG, "ht_l1_grad: NULL array");
    ht_kernels_active()->l1_grad(n, l1, w, g);
    return HT_OK;
}

ht_status ht_l2_grad(size_t n, float l2, const float *w, float *g)
{
    INIT_OR_RETURN();
    if (bad_coef(l2))
        return ht_error(HT_ERR_ARG, "ht_l2_grad: l2=%g must be finite and >= 0",
                        (double)l2);
    if (n && (!w || !g))
        return ht_error(HT_ERR_ARG, "ht_l2_grad: NULL array");
    ht_kernels_active()->l2_grad(n, l2, w, g);
    return HT_OK;
}

ht_status ht_optim_step(size_t n, float *w, const float *g, float *m,
                        float *v, const ht_optim_hyper *h)
{
    INIT_OR_RETURN();
    if (!h)
        return ht_error(HT_ERR_ARG, "ht_optim_step: NULL hyper-parameters");
    if (h->kind != HT_OPT_SGD && h->kind != HT_OPT_ADAM &&
        h->kind != HT_OPT_ADAMW)
        return ht_error(HT_ERR_ARG, "ht_optim_step: unknown optimiser %d",
                        h->kind);
    if (bad_coef(h->lr) || bad_coef(h->l1) || bad_coef(h->l2) ||
        bad_coef(h->momentum) || bad_coef(h->weight_decay))
        return ht_error(HT_ERR_ARG, "ht_optim_step: lr, l1, l2, momentum and "
                        "weight_decay must be finite and >= 0");
    /* as the config's check: beta in [0,1), eps > 0 and finite */
    if (h->kind != HT_OPT_SGD &&
        !(h->beta1 >= 0.0f && h->beta1 < 1.0f && h->beta2 >= 0.0f &&
          h->beta2 < 1.0f && h->eps > 0.0f && isfinite(h->eps)))
        return ht_error(HT_ERR_ARG, "ht_optim_step: Adam needs beta1, beta2 "
                        "in [0,1) and a finite eps > 0 (got %g, %g, %g)",
                        (double)h->beta1, (double)h->beta2, (double)h->eps);
    if (h->kind != HT_OPT_SGD && !(h->bc1 > 0.0f && h->bc2 > 0.0f))
        return ht_error(HT_ERR_ARG, "ht_optim_step: Adam needs bias "
                        "corrections bc1, bc2 > 0 (step t >= 1)");
    int need_m = h->kind != HT_OPT_SGD || h->momentum != 0.0f;
    int need_v = h->kind != HT_OPT_SGD;
    if (n && (!w || !g || (need_m && !m) || (need_v && !v)))
        return ht_error(HT_ERR_ARG, "ht_optim_step: NULL array");
    ht_kernels_active()->optim_step(n, w, g, m, v, h);
    return HT_OK;
}

uint64_t ht_dropout_key(uint64_t seed, uint32_t layer, uint64_t step,
                        uint64_t row)
{
    uint64_t h = ht_mix64(seed);
    h = ht_mix64(h ^ layer);
    h = ht_mix64(h ^ step);
    return ht_mix64(h ^ row);
}

uint32_t ht_dropout_threshold(float p)
{
    if (!(p > 0.0f))
        return 0;
    double t = (double)p * 65536.0 + 0.5;
    return t >= 65535.0 ? 65535u : (uint32_t)t;
}

float ht_dropout_scale(float p)
{
    const uint32_t thr = ht_dropout_threshold(p);
    return thr ? (float)(65536.0 / (double)(65536u - thr)) : 1.0f;
}

static ht_status check_p(const char *fn, float p)
{
    if (!(p >= 0.0f && p < 1.0f))
        return ht_error(HT_ERR_ARG, "%s: dropout p=%g must be in [0,1)", fn,
                        (double)p);
    return HT_OK;
}

ht_status ht_dropout_mask(uint64_t key, size_t n, float p, uint32_t *bits)
{
    INIT_OR_RETURN();
    ht_status s = check_p("ht_dropout_mask", p);
    if (s != HT_OK)
        return s;
    if (n && !bits)
        return ht_error(HT_ERR_ARG, "ht_dropout_mask: NULL bits");
    ht_kernels_active()->dropout_mask(key, n, ht_dropout_threshold(p), bits);
    return HT_OK;
}

ht_status ht_dropout_forward(size_t rows, size_t cols, const float *x,
                             size_t ldx, float *y, size_t ldy, float p,
                             uint64_t seed, uint32_t layer, uint64_t step,
                             uint64_t row0, uint32_t *mask, size_t mask_ld)
{
    INIT_OR_RETURN();
    ht_status s = check_p("ht_dropout_forward", p);
    if (s != HT_OK)
        return s;
    if (rows && cols && (!x || !y || !mask))
        return ht_error(HT_ERR_ARG, "ht_dropout_forward: NULL array");
    if (ldx < cols || ldy < cols || mask_ld < (cols + 31) / 32)
        return ht_error(HT_ERR_ARG, "ht_dropout_forward: leading dimension "
                        "too small (ldx=%zu ldy=%zu mask_ld=%zu, cols=%zu)",
                        ldx, ldy, mask_ld, cols);
    if (x == y && ldx != ldy)
        return ht_error(HT_ERR_ARG, "ht_dropout_forward: in place (y == x) "
                        "needs ldy == ldx (ldx=%zu ldy=%zu)", ldx, ldy);
    const ht_kernels *k = ht_kernels_active();
    const uint32_t thr = ht_dropout_threshold(p);
    const float scale = ht_dropout_scale(p);
    const int stream = ht_stream_stores(rows * cols * sizeof(float));
    /* Two rows at once (see dropout_fwd2): row i with row i + h, so that
     * each of the two row streams walks on through memory from one call to
     * the next, as the hardware prefetcher expects. Pairing i with i + 1
     * made each stream jump a row at every call: out of cache the AVX2
     * forward moved 0.72 of the triad that way, 0.86-0.93 this way
     * (bench_elementwise, 64 Mi floats). A row's bits depend on its key
     * only, so the pairing changes no result. */
    const size_t h = rows / 2;
    for (size_t i = 0; i < h; i++) {
        const size_t j = i + h;
        k->dropout_fwd2(ht_dropout_key(seed, layer, step, row0 + i),
                        ht_dropout_key(seed, layer, step, row0 + j), cols,
                        thr, scale, x + i * ldx, x + j * ldx, y + i * ldy,
                        y + j * ldy, mask + i * mask_ld, mask + j * mask_ld,
                        stream);
    }
    if (rows % 2) {
        const size_t i = rows - 1;
        k->dropout_fwd(ht_dropout_key(seed, layer, step, row0 + i), cols, thr,
                       scale, x + i * ldx, y + i * ldy, mask + i * mask_ld,
                       stream);
    }
    return HT_OK;
}

ht_status ht_dropout_backward(size_t rows, size_t cols, const float *dy,
                              size_t lddy, float *dx, size_t lddx, float p,
                              const uint32_t *mask, size_t mask_ld)
{
    INIT_OR_RETURN();
    ht_status s = check_p("ht_dropout_backward", p);
    if (s != HT_OK)
        return s;
    if (rows && cols && (!dy || !dx || !mask))
        return ht_error(HT_ERR_ARG, "ht_dropout_backward: NULL array");
    if (lddy < cols || lddx < cols || mask_ld < (cols + 31) / 32)
        return ht_error(HT_ERR_ARG, "ht_dropout_backward: leading dimension "
                        "too small");
    if (dx == dy && lddx != lddy)
        return ht_error(HT_ERR_ARG, "ht_dropout_backward: in place (dx == "
                        "dy) needs lddx == lddy (lddy=%zu lddx=%zu)", lddy,
                        lddx);
    const ht_kernels *k = ht_kernels_active();
    const float scale = ht_dropout_scale(p);
    const int stream = ht_stream_stores(rows * cols * sizeof(float));
    /* Rows packed end to end, masks too (cols a multiple of 32): one call
     * over all of them is one long stream for the hardware prefetcher,
     * where a call per row restarts it at every row (0.85 -> 1.05 of the
     * triad out of cache, bench_elementwise dropout_bwd). Same bits: the
     * kernel reads element j's keep bit from word j / 32 either way. */
    if (lddy == cols && lddx == cols && cols % 32 == 0 &&
        mask_ld == cols / 32) {
        k->dropout_bwd(rows * cols, dy, mask, scale, dx, stream);
        return HT_OK;
    }
    for (size_t i = 0; i < rows; i++)
        k->dropout_bwd(cols, dy + i * lddy, mask + i * mask_ld, scale,
                       dx + i * lddx, stream);
    return HT_OK;
}
