/* Scalar elementwise kernels: the fallback and the oracle for every ISA. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rng.h"
#include "scalar.h"

/* keep ? d : +0.0f without a branch: d's bits and an all-ones or all-zero
 * mask, as the vector kernels do it. The condition is a random sign or
 * mask bit, which a branch mispredicts half the time (3.7-4.1 ns per
 * element at 64 Ki floats on a Zen 5 guest, against 0.09 now), and GCC keeps the branch for
 * the ternary even with the product formed first. */
static inline float keep_or_zero(uint32_t keep, float d)
{
    uint32_t b;
    memcpy(&b, &d, sizeof b);
    b &= 0u - keep;
    memcpy(&d, &b, sizeof d);
    return d;
}

static void bias_add_scalar(size_t m, size_t n, const float *bias, float *c,
                            size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            c[i * ldc + j] += bias[j];
}

static void bias_grad_scalar(size_t m, size_t n, const float *dy, size_t lddy,
                             float *db)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            db[j] += dy[i * lddy + j];
}

static void relu_fwd_scalar(size_t n, const float *x, float *y, int stream)
{
    (void)stream;
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void relu_bwd_scalar(size_t n, const float *y, const float *dy,
                            float scale, float *dx)
{
    for (size_t i = 0; i < n; i++) /* y[i] > 0 ? dy[i]*scale : +0 */
        dx[i] = keep_or_zero(y[i] > 0.0f, dy[i] * scale);
}

static void softmax_xent_fwd_scalar(size_t m, size_t n, const float *logits,
                                    size_t ldl, const int32_t *label,
                                    float *probs, size_t ldp, float *loss_row,
                                    int stream)
{
    (void)stream; /* plain stores: the twin is the reference, not fast */
    for (size_t i = 0; i < m; i++) {
        const float *z = logits + i * ldl;
        float *p = probs + i * ldp;
        float mx = z[0];
        for (size_t j = 1; j < n; j++)
            mx = z[j] > mx ? z[j] : mx;
        float sum = 0.0f;
        for (size_t j = 0; j < n; j++) {
            p[j] = expf(z[j] - mx);
            sum += p[j];
        }
        float inv = 1.0f / sum;
        for (size_t j = 0; j < n; j++)
            p[j] *= inv;
        if (label)
            loss_row[i] = logf(sum) - (z[label[i]] - mx);
    }
}

static void softmax_xent_bwd_scalar(size_t m, size_t n, const float *probs,
                                    size_t ldp, const int32_t *label,
                                    float scale, float *dlogits, size_t ldd,
                                    int stream)
{
    (void)stream;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++)
            dlogits[i * ldd + j] = probs[i * ldp + j] * scale;
        dlogits[i * ldd + (size_t)label[i]] -= scale;
    }
}

static inline float sign_scalar(float w)
{
    return (float)((w > 0.0f) - (w < 0.0f));
}

static void l1_grad_scalar(size_t n, float l1, const float *w, float *g)
{
    for (size_t i = 0; i < n; i++)
        g[i] += l1 * sign_scalar(w[i]);
}

static void l2_grad_scalar(size_t n, float l2, const float *w, float *g)
{
    for (size_t i = 0; i < n; i++)
        g[i] += l2 * w[i];
}

static void optim_step_scalar(size_t n, float *w, const float *g, float *m,
                              float *v, const ht_optim_hyper *h)
{
    /* The hyperparameters in locals: read through h, every store to w, m
     * or v (floats, like them) could have changed them, so the compiler
     * reloaded each one per element. */
    const float l1g = h->prox_l1 ? 0.0f : h->l1;
    const float thr = h->lr * h->l1;
    const float lr = h->lr, l2 = h->l2, mom = h->momentum;
    const float b1 = h->beta1, b2 = h->beta2, bc1 = h->bc1, bc2 = h->bc2;
    const float eps = h->eps, wd = h->weight_decay;
    const int kind = h->kind, nesterov = h->nesterov, prox = h->prox_l1;
    for (size_t i = 0; i < n; i++) {
        float wi = w[i];
        float gi = g[i] + l1g * sign_scalar(wi) + l2 * wi;
        if (kind == HT_OPT_SGD) {
            float d = gi;
            if (mom != 0.0f) {
                float vi = mom * m[i] + gi;
                m[i] = vi;
                d = nesterov ? gi + mom * vi : vi;
            }
            wi -= lr * d;
        } else {
            if (kind == HT_OPT_ADAMW)
                wi -= lr * wd * wi;
            float mi = b1 * m[i] + (1.0f - b1) * gi;
            float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            wi -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
        }
        if (prox) {
            float a = fabsf(wi) - thr;
            wi = a > 0.0f ? copysignf(a, wi) : 0.0f;
        }
        w[i] = wi;
    }
}

static void optim_tile_scalar(size_t rows, size_t n, size_t ld, float *w,
                              const float *g, size_t ldg, float *m, float *v,
                              const ht_optim_hyper *h)
{
    for (size_t i = 0; i < rows; i++) {
        const size_t o = i * ld;
        optim_step_scalar(n, w + o, g + i * ldg, m ? m + o : NULL,
                          v ? v + o : NULL, h);
    }
}

/* The reference generator of simd/rng.h, one element at a time. */
static void dropout_mask_scalar(uint64_t key, size_t n, uint32_t thr,
                                uint32_t *bits)
{
    ht_rng8 r;
    ht_rng8_seed(&r, key);
    uint32_t u[HT_RNG_LANES], word = 0;
    for (size_t j = 0; j < n; j++) {
        if (j % 16 == 0)
            ht_rng8_step(&r, u);
        word |= (uint32_t)(ht_rng8_draw(u, (int)(j % 16)) >= thr) << (j % 32);
        if (j % 32 == 31) {
            bits[j / 32] = word;
            word = 0;
        }
    }
    if (n % 32)
        bits[n / 32] = word;
}

/* `stream` is a store hint (simd/table.h): plain C stores ignore it. */
static void dropout_bwd_scalar(size_t n, const float *dy, const uint32_t *bits,
                               float scale, float *dx, int stream)
{
    (void)stream;
    for (size_t j = 0; j < n; j++) /* bit j ? dy[j]*scale : +0 */
        dx[j] = keep_or_zero((bits[j / 32] >> (j % 32)) & 1u, dy[j] * scale);
}

static void dropout_fwd_scalar(uint64_t key, size_t n, uint32_t thr,
                               float scale, const float *x, float *y,
                               uint32_t *bits, int stream)
{
    dropout_mask_scalar(key, n, thr, bits);
    dropout_bwd_scalar(n, x, bits, scale, y, stream);
}

static void dropout_fwd2_scalar(uint64_t key0, uint64_t key1, size_t n,
                                uint32_t thr, float scale, const float *x0,
                                const float *x1, float *y0, float *y1,
                                uint32_t *bits0, uint32_t *bits1, int stream)
{
    dropout_fwd_scalar(key0, n, thr, scale, x0, y0, bits0, stream);
    dropout_fwd_scalar(key1, n, thr, scale, x1, y1, bits1, stream);
}

static void dropout_mask2_scalar(uint64_t key0, uint64_t key1, size_t n,
                                 uint32_t thr, uint32_t *bits0,
                                 uint32_t *bits1)
{
    dropout_mask_scalar(key0, n, thr, bits0);
    dropout_mask_scalar(key1, n, thr, bits1);
}

static size_t count_zeros_scalar(size_t n, const float *x)
{
    size_t z = 0;
    for (size_t i = 0; i < n; i++)
        z += x[i] == 0.0f;
    return z;
}

void ht_scalar_init_elementwise(ht_kernels *k)
{
    k->bias_add = bias_add_scalar;
    k->bias_grad = bias_grad_scalar;
    k->relu_fwd = relu_fwd_scalar;
    k->relu_bwd = relu_bwd_scalar;
    k->softmax_xent_fwd = softmax_xent_fwd_scalar;
    k->softmax_xent_bwd = softmax_xent_bwd_scalar;
    k->l1_grad = l1_grad_scalar;
    k->l2_grad = l2_grad_scalar;
    k->optim_step = optim_step_scalar;
    k->optim_tile = optim_tile_scalar;
    k->dropout_mask = dropout_mask_scalar;
    k->dropout_fwd = dropout_fwd_scalar;
    k->dropout_bwd = dropout_bwd_scalar;
    k->dropout_fwd2 = dropout_fwd2_scalar;
    k->dropout_mask2 = dropout_mask2_scalar;
    k->count_zeros = count_zeros_scalar;
}
