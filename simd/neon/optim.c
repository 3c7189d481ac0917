/* NEON fused optimiser step (SGD, momentum, Nesterov, Adam, AdamW, each with
 * L1 sign / L2 gradient terms or proximal L1), per include/hpctrain/kernels.h.
 *
 * The body applies the scalar twin's IEEE operations in the same order
 * (vmulq/vaddq/vdivq/vsqrtq are correctly rounded and nothing is fused:
 * -ffp-contract=off), so the updated w, m and v are bitwise the scalar
 * table's; tests/test_neon.c checks that. The hyper-parameter branches are
 * resolved once per call: step4() is inlined into one loop per case with
 * constant flags. A tail of r < 4 elements runs the same body on padded
 * copies. */
#include <arm_neon.h>
#include <string.h>

#include "neon.h"

#if defined(__GNUC__)
#define HT_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define HT_ALWAYS_INLINE inline
#endif

enum { K_SGD, K_MOMENTUM, K_NESTEROV, K_ADAM, K_ADAMW };

typedef struct consts {
    float32x4_t lr, l1g, l2, mom, b1, omb1, b2, omb2, bc1, bc2, eps, lrwd, thr;
} consts;

static inline float32x4_t sign4(float32x4_t w)
{
    const float32x4_t zero = vdupq_n_f32(0.0f);
    int32x4_t gt = vreinterpretq_s32_u32(vcgtq_f32(w, zero));
    int32x4_t lt = vreinterpretq_s32_u32(vcltq_f32(w, zero));
    return vcvtq_f32_s32(vsubq_s32(lt, gt));
}

static HT_ALWAYS_INLINE void step4(const consts *c, int kind, int prox,
                                   float *w, const float *g, float *m,
                                   float *v)
{
    float32x4_t wi = vld1q_f32(w);
    /* g' = (g + l1*sign(w)) + l2*w */
    float32x4_t gi = vaddq_f32(vaddq_f32(vld1q_f32(g),
                                         vmulq_f32(c->l1g, sign4(wi))),
                               vmulq_f32(c->l2, wi));
    if (kind == K_SGD) {
        wi = vsubq_f32(wi, vmulq_f32(c->lr, gi));
    } else if (kind == K_MOMENTUM || kind == K_NESTEROV) {
        float32x4_t vi = vaddq_f32(vmulq_f32(c->mom, vld1q_f32(m)), gi);
        vst1q_f32(m, vi);
        float32x4_t d = kind == K_NESTEROV
                            ? vaddq_f32(gi, vmulq_f32(c->mom, vi)) : vi;
        wi = vsubq_f32(wi, vmulq_f32(c->lr, d));
    } else {
        if (kind == K_ADAMW)
            wi = vsubq_f32(wi, vmulq_f32(c->lrwd, wi));
        float32x4_t mi = vaddq_f32(vmulq_f32(c->b1, vld1q_f32(m)),
                                   vmulq_f32(c->omb1, gi));
        float32x4_t vi = vaddq_f32(vmulq_f32(c->b2, vld1q_f32(v)),
                                   vmulq_f32(vmulq_f32(c->omb2, gi), gi));
        vst1q_f32(m, mi);
        vst1q_f32(v, vi);
        /* (lr * (m/bc1)) / (sqrt(v/bc2) + eps) */
        float32x4_t num = vmulq_f32(c->lr, vdivq_f32(mi, c->bc1));
        float32x4_t den = vaddq_f32(vsqrtq_f32(vdivq_f32(vi, c->bc2)), c->eps);
        wi = vsubq_f32(wi, vdivq_f32(num, den));
    }
    if (prox) {
        /* w = |w| > thr ? copysign(|w| - thr, w) : 0 */
        const uint32x4_t signbit = vdupq_n_u32(0x80000000u);
        float32x4_t a = vsubq_f32(vabsq_f32(wi), c->thr);
        uint32x4_t pos = vcgtq_f32(a, vdupq_n_f32(0.0f));
        float32x4_t s = vbslq_f32(signbit, wi, a);
        wi = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(s), pos));
    }
    vst1q_f32(w, wi);
}

static HT_ALWAYS_INLINE void run_row(const consts *c, int kind, int prox,
                                     size_t n, float *w, const float *g,
                                     float *m, float *v)
{
    const int has_m = kind != K_SGD, has_v = kind == K_ADAM || kind == K_ADAMW;
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        step4(c, kind, prox, w + i, g + i, has_m ? m + i : NULL,
              has_v ? v + i : NULL);
    const size_t r = n - i;
    if (r) {
        float tw[4] = {0}, tg[4] = {0}, tm[4] = {0}, tv[4] = {0};
        memcpy(tw, w + i, r * sizeof(float));
        memcpy(tg, g + i, r * sizeof(float));
        if (has_m)
            memcpy(tm, m + i, r * sizeof(float));
        if (has_v)
            memcpy(tv, v + i, r * sizeof(float));
        step4(c, kind, prox, tw, tg, tm, tv);
        memcpy(w + i, tw, r * sizeof(float));
        if (has_m)
            memcpy(m + i, tm, r * sizeof(float));
        if (has_v)
            memcpy(v + i, tv, r * sizeof(float));
    }
}

/* rows x n, rows ld apart (g's ldg apart); m and v may be NULL where the
 * kind has none */
static HT_ALWAYS_INLINE void run(const consts *c, int kind, int prox,
                                 size_t rows, size_t n, size_t ld, float *w,
                                 const float *g, size_t ldg, float *m,
                                 float *v)
{
    for (size_t i = 0; i < rows; i++) {
        const size_t o = i * ld;
        run_row(c, kind, prox, n, w + o, g + i * ldg, m ? m + o : NULL,
                v ? v + o : NULL);
    }
}

#define RUN_CASE(kind)                                                       \
    do {                                                                     \
        if (h->prox_l1)                                                      \
            run(&c, kind, 1, rows, n, ld, w, g, ldg, m, v);                              \
        else                                                                 \
            run(&c, kind, 0, rows, n, ld, w, g, ldg, m, v);                              \
    } while (0)

static void optim_tile_neon(size_t rows, size_t n, size_t ld, float *w,
                            const float *g, size_t ldg, float *m, float *v,
                            const ht_optim_hyper *h)
{
    consts c;
    c.lr = vdupq_n_f32(h->lr);
    c.l1g = vdupq_n_f32(h->prox_l1 ? 0.0f : h->l1);
    c.l2 = vdupq_n_f32(h->l2);
    c.mom = vdupq_n_f32(h->momentum);
    c.b1 = vdupq_n_f32(h->beta1);
    c.omb1 = vdupq_n_f32(1.0f - h->beta1);
    c.b2 = vdupq_n_f32(h->beta2);
    c.omb2 = vdupq_n_f32(1.0f - h->beta2);
    c.bc1 = vdupq_n_f32(h->bc1);
    c.bc2 = vdupq_n_f32(h->bc2);
    c.eps = vdupq_n_f32(h->eps);
    c.lrwd = vdupq_n_f32(h->lr * h->weight_decay);
    c.thr = vdupq_n_f32(h->lr * h->l1);
    if (h->kind == HT_OPT_SGD) {
        if (h->momentum == 0.0f)
            RUN_CASE(K_SGD);
        else if (h->nesterov)
            RUN_CASE(K_NESTEROV);
        else
            RUN_CASE(K_MOMENTUM);
    } else if (h->kind == HT_OPT_ADAMW) {
        RUN_CASE(K_ADAMW);
    } else {
        RUN_CASE(K_ADAM);
    }
}

static void optim_step_neon(size_t n, float *w, const float *g, float *m,
                            float *v, const ht_optim_hyper *h)
{
    optim_tile_neon(1, n, n, w, g, n, m, v, h);
}

void ht_neon_init_optim(ht_kernels *k)
{
    k->optim_step = optim_step_neon;
    k->optim_tile = optim_tile_neon;
}
