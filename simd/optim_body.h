/* The fused optimiser step written once over a vector layer: ht_vf and the
 * ht_v* operations of simd/avx2/vec.h, simd/avx512/vec.h or
 * simd/neon/vec.h, whichever the including file put first (each table's
 * optimiser file is those two includes and its init function). One pass reads w, g
 * and the state and writes w and the state, with the L1 sign and L2 scale
 * terms folded into the gradient and the proximal L1 shrink after the
 * step.
 *
 * Bitwise equal to optim_step_scalar: per element the same IEEE operations
 * in the same order (no FMA; the constants the twin computes per element,
 * such as 1 - beta1 or lr * weight_decay, are computed once here in the
 * same float arithmetic). sqrt and division are correctly rounded in both.
 * The vector width changes which elements share a register, never an
 * element's operations, so every layer gives the same bits.
 *
 * The twin branches on the optimiser per element; here each combination of
 * (kind, momentum on, Nesterov, proximal) is its own loop, made by inlining
 * one body with constant flags. */
#ifndef HT_SIMD_OPTIM_BODY_H
#define HT_SIMD_OPTIM_BODY_H

#include "table.h"

#if defined(__GNUC__)
#define HT_OPT_INLINE inline __attribute__((always_inline))
#else
#define HT_OPT_INLINE inline
#endif

typedef struct consts {
    ht_vf lr, l1g, l2, mom, b1, omb1, b2, omb2, bc1, bc2, eps, lrwd, thr;
} consts;

/* l1t = 0 drops the term l1g*sign(w) when l1g is 0 (no L1, or proximal
 * L1): adding that +-0 changes g only when g = -0 and w >= 0, and then the
 * + l2*w that follows (l2 >= 0, so l2*w is +0 or positive) gives the same
 * bits either way; so the result is the twin's, for a third less work. */
static HT_OPT_INLINE ht_vf step_v(const consts *c, int kind, int use_mom,
                                  int nesterov, int prox, int l1t, ht_vf w,
                                  ht_vf g, ht_vf *m, ht_vf *v)
{
    ht_vf gi = ht_vadd(l1t ? ht_vadd(g, ht_vmul(c->l1g, ht_vsign(w))) : g,
                       ht_vmul(c->l2, w));
    if (kind == HT_OPT_SGD) {
        ht_vf d = gi;
        if (use_mom) {
            ht_vf vi = ht_vadd(ht_vmul(c->mom, *m), gi);
            *m = vi;
            d = nesterov ? ht_vadd(gi, ht_vmul(c->mom, vi)) : vi;
        }
        w = ht_vsub(w, ht_vmul(c->lr, d));
    } else {
        if (kind == HT_OPT_ADAMW)
            w = ht_vsub(w, ht_vmul(c->lrwd, w));
        ht_vf mi = ht_vadd(ht_vmul(c->b1, *m), ht_vmul(c->omb1, gi));
        ht_vf vi = ht_vadd(ht_vmul(c->b2, *v), ht_vmul(ht_vmul(c->omb2, gi), gi));
        *m = mi;
        *v = vi;
        ht_vf num = ht_vmul(c->lr, ht_vdiv(mi, c->bc1));
        ht_vf den = ht_vadd(ht_vsqrt(ht_vdiv(vi, c->bc2)), c->eps);
        w = ht_vsub(w, ht_vdiv(num, den));
    }
    if (prox) {
        /* sign(w) * max(|w| - thr, 0); NaN and a <= 0 give +0 as in the twin */
        ht_vf sgn = ht_vand(w, ht_vsignmask());
        ht_vf a = ht_vsub(ht_vabs(w), c->thr);
        w = ht_vand(ht_vgt(a, ht_vzero()), ht_vor(a, sgn));
    }
    return w;
}

static HT_OPT_INLINE void run_row(size_t n, float *w, const float *g,
                                  float *m, float *v, const consts *c,
                                  int kind, int use_mom, int nesterov,
                                  int prox, int l1t)
{
    const int has_m = kind != HT_OPT_SGD || use_mom;
    const int has_v = kind != HT_OPT_SGD;
    const size_t nv = n - n % HT_VW, r = n % HT_VW;
    for (size_t i = 0; i < nv; i += HT_VW) {
        ht_vf mi = has_m ? ht_vload(m + i) : ht_vzero();
        ht_vf vi = has_v ? ht_vload(v + i) : ht_vzero();
        ht_vf wi = step_v(c, kind, use_mom, nesterov, prox, l1t, ht_vload(w + i),
                          ht_vload(g + i), &mi, &vi);
        ht_vstore(w + i, wi);
        if (has_m)
            ht_vstore(m + i, mi);
        if (has_v)
            ht_vstore(v + i, vi);
    }
    if (r) {
        ht_vf mi = has_m ? ht_vload_n(m + nv, r) : ht_vzero();
        ht_vf vi = has_v ? ht_vload_n(v + nv, r) : ht_vzero();
        ht_vf wi = step_v(c, kind, use_mom, nesterov, prox, l1t,
                          ht_vload_n(w + nv, r), ht_vload_n(g + nv, r), &mi,
                          &vi);
        ht_vstore_n(w + nv, wi, r);
        if (has_m)
            ht_vstore_n(m + nv, mi, r);
        if (has_v)
            ht_vstore_n(v + nv, vi, r);
    }
}

/* rows x n, rows ld apart (g's ldg apart); m and v may be NULL where the
 * kind has none */
static HT_OPT_INLINE void run(size_t rows, size_t n, size_t ld, float *w,
                              const float *g, size_t ldg, float *m,
                              float *v, const consts *c, int kind,
                              int use_mom, int nesterov, int prox, int l1t)
{
    for (size_t i = 0; i < rows; i++) {
        const size_t o = i * ld;
        run_row(n, w + o, g + i * ldg, m ? m + o : NULL, v ? v + o : NULL, c,
                kind, use_mom, nesterov, prox, l1t);
    }
}

/* The table entries (ht_kernels.optim_tile, .optim_step): static, so the
 * one file of each table that includes this header owns its copy. */
static void optim_tile_v(size_t rows, size_t n, size_t ld, float *w,
                         const float *g, size_t ldg, float *m, float *v,
                         const ht_optim_hyper *h)
{
    /* nothing to do, and the pointers may be NULL (ht_optim_step(0, ...)),
     * where even w + 0 is undefined */
    if (rows == 0 || n == 0)
        return;
    consts c;
    c.lr = ht_vset1(h->lr);
    c.l1g = ht_vset1(h->prox_l1 ? 0.0f : h->l1);
    c.l2 = ht_vset1(h->l2);
    c.mom = ht_vset1(h->momentum);
    c.b1 = ht_vset1(h->beta1);
    c.omb1 = ht_vset1(1.0f - h->beta1);
    c.b2 = ht_vset1(h->beta2);
    c.omb2 = ht_vset1(1.0f - h->beta2);
    c.bc1 = ht_vset1(h->bc1);
    c.bc2 = ht_vset1(h->bc2);
    c.eps = ht_vset1(h->eps);
    c.lrwd = ht_vset1(h->lr * h->weight_decay);
    c.thr = ht_vset1(h->lr * h->l1);
    const int p = h->prox_l1 != 0;
    const int l1t = !p && h->l1 != 0.0f;
#define RUN(kind, mom, nest, prox)                                           \
    do {                                                                     \
        if (l1t)                                                             \
            run(rows, n, ld, w, g, ldg, m, v, &c, kind, mom, nest, prox, 1); \
        else                                                                 \
            run(rows, n, ld, w, g, ldg, m, v, &c, kind, mom, nest, prox, 0); \
    } while (0)
    switch (h->kind) {
    case HT_OPT_SGD:
        if (h->momentum == 0.0f) {
            if (p)
                RUN(HT_OPT_SGD, 0, 0, 1);
            else
                RUN(HT_OPT_SGD, 0, 0, 0);
        } else if (h->nesterov) {
            if (p)
                RUN(HT_OPT_SGD, 1, 1, 1);
            else
                RUN(HT_OPT_SGD, 1, 1, 0);
        } else {
            if (p)
                RUN(HT_OPT_SGD, 1, 0, 1);
            else
                RUN(HT_OPT_SGD, 1, 0, 0);
        }
        break;
    case HT_OPT_ADAM:
        if (p)
            RUN(HT_OPT_ADAM, 0, 0, 1);
        else
            RUN(HT_OPT_ADAM, 0, 0, 0);
        break;
    default: /* HT_OPT_ADAMW; the public API has checked the kind */
        if (p)
            RUN(HT_OPT_ADAMW, 0, 0, 1);
        else
            RUN(HT_OPT_ADAMW, 0, 0, 0);
        break;
    }
#undef RUN
}

static void optim_step_v(size_t n, float *w, const float *g, float *m,
                         float *v, const ht_optim_hyper *h)
{
    optim_tile_v(1, n, n, w, g, n, m, v, h);
}

#endif /* HT_SIMD_OPTIM_BODY_H */
