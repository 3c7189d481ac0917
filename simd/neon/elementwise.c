/* NEON dense-layer and regulariser kernels: bias add and gradient, ReLU
 * forward and backward, L1 and L2 gradients, counting zeros.
 *
 * Each applies the scalar twin's IEEE operations in the same order (no FMA,
 * compares written so NaN goes the same way), so its results are bitwise
 * those of simd/scalar/elementwise.c; tests/test_neon.c checks that.
 * Tails shorter than one vector use the same operations on single lanes. */
#include <arm_neon.h>

#include "neon.h"

static inline float32x4_t and_mask(float32x4_t x, uint32x4_t keep)
{
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(x), keep));
}

static void bias_add_neon(size_t m, size_t n, const float *bias, float *c,
                          size_t ldc)
{
    for (size_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        size_t j = 0;
        for (; j + 8 <= n; j += 8) {
            vst1q_f32(ci + j, vaddq_f32(vld1q_f32(ci + j), vld1q_f32(bias + j)));
            vst1q_f32(ci + j + 4, vaddq_f32(vld1q_f32(ci + j + 4),
                                            vld1q_f32(bias + j + 4)));
        }
        for (; j + 4 <= n; j += 4)
            vst1q_f32(ci + j, vaddq_f32(vld1q_f32(ci + j), vld1q_f32(bias + j)));
        for (; j < n; j++)
            ci[j] += bias[j];
    }
}

/* Column strips held in registers while the rows stream past: each column's
 * sum still runs over i in increasing order, starting from db[j]. */
static void bias_grad_neon(size_t m, size_t n, const float *dy, size_t lddy,
                           float *db)
{
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        float32x4_t s0 = vld1q_f32(db + j), s1 = vld1q_f32(db + j + 4);
        float32x4_t s2 = vld1q_f32(db + j + 8), s3 = vld1q_f32(db + j + 12);
        for (size_t i = 0; i < m; i++) {
            const float *r = dy + i * lddy + j;
            s0 = vaddq_f32(s0, vld1q_f32(r));
            s1 = vaddq_f32(s1, vld1q_f32(r + 4));
            s2 = vaddq_f32(s2, vld1q_f32(r + 8));
            s3 = vaddq_f32(s3, vld1q_f32(r + 12));
        }
        vst1q_f32(db + j, s0);
        vst1q_f32(db + j + 4, s1);
        vst1q_f32(db + j + 8, s2);
        vst1q_f32(db + j + 12, s3);
    }
    for (; j + 4 <= n; j += 4) {
        float32x4_t s = vld1q_f32(db + j);
        for (size_t i = 0; i < m; i++)
            s = vaddq_f32(s, vld1q_f32(dy + i * lddy + j));
        vst1q_f32(db + j, s);
    }
    for (; j < n; j++) {
        float s = db[j];
        for (size_t i = 0; i < m; i++)
            s += dy[i * lddy + j];
        db[j] = s;
    }
}

/* `stream` is ignored, as in dropout.c. */
static void relu_fwd_neon(size_t n, const float *x, float *y, int stream)
{
    (void)stream;
    const float32x4_t zero = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);
        /* x > 0 ? x : 0 (not vmaxq: NaN must give 0 as in the scalar twin) */
        vst1q_f32(y + i, and_mask(a, vcgtq_f32(a, zero)));
        vst1q_f32(y + i + 4, and_mask(b, vcgtq_f32(b, zero)));
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t a = vld1q_f32(x + i);
        vst1q_f32(y + i, and_mask(a, vcgtq_f32(a, zero)));
    }
    for (; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void relu_bwd_neon(size_t n, const float *y, const float *dy,
                          float scale, float *dx)
{
    const float32x4_t zero = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32x4_t on = vcgtq_f32(vld1q_f32(y + i), zero);
        vst1q_f32(dx + i, and_mask(vmulq_n_f32(vld1q_f32(dy + i), scale), on));
    }
    for (; i < n; i++)
        dx[i] = y[i] > 0.0f ? dy[i] * scale : 0.0f;
}

/* sign(w) as a float: (w > 0) - (w < 0), 0 for 0 and NaN. Compare masks are
 * -1 / 0 as integers, so lt - gt is exactly that difference. */
static inline float32x4_t sign4(float32x4_t w)
{
    const float32x4_t zero = vdupq_n_f32(0.0f);
    int32x4_t gt = vreinterpretq_s32_u32(vcgtq_f32(w, zero));
    int32x4_t lt = vreinterpretq_s32_u32(vcltq_f32(w, zero));
    return vcvtq_f32_s32(vsubq_s32(lt, gt));
}

static void l1_grad_neon(size_t n, float l1, const float *w, float *g)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t t = vmulq_n_f32(sign4(vld1q_f32(w + i)), l1);
        vst1q_f32(g + i, vaddq_f32(vld1q_f32(g + i), t));
    }
    for (; i < n; i++)
        g[i] += l1 * (float)((w[i] > 0.0f) - (w[i] < 0.0f));
}

static void l2_grad_neon(size_t n, float l2, const float *w, float *g)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t t0 = vmulq_n_f32(vld1q_f32(w + i), l2);
        float32x4_t t1 = vmulq_n_f32(vld1q_f32(w + i + 4), l2);
        vst1q_f32(g + i, vaddq_f32(vld1q_f32(g + i), t0));
        vst1q_f32(g + i + 4, vaddq_f32(vld1q_f32(g + i + 4), t1));
    }
    for (; i + 4 <= n; i += 4)
        vst1q_f32(g + i, vaddq_f32(vld1q_f32(g + i),
                                   vmulq_n_f32(vld1q_f32(w + i), l2)));
    for (; i < n; i++)
        g[i] += l2 * w[i];
}

/* x == 0 in 4 lanes: the compare mask's top bit (1 per zero) is added into
 * two 64-bit lane counters, so no count can overflow. */
static size_t count_zeros_neon(size_t n, const float *x)
{
    const float32x4_t zero = vdupq_n_f32(0.0f);
    uint64x2_t acc = vdupq_n_u64(0);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint32x4_t z0 = vshrq_n_u32(vceqq_f32(vld1q_f32(x + i), zero), 31);
        uint32x4_t z1 = vshrq_n_u32(vceqq_f32(vld1q_f32(x + i + 4), zero), 31);
        acc = vpadalq_u32(acc, vaddq_u32(z0, z1));
    }
    for (; i + 4 <= n; i += 4)
        acc = vpadalq_u32(acc, vshrq_n_u32(vceqq_f32(vld1q_f32(x + i), zero), 31));
    size_t z = (size_t)(vgetq_lane_u64(acc, 0) + vgetq_lane_u64(acc, 1));
    for (; i < n; i++)
        z += x[i] == 0.0f;
    return z;
}

void ht_neon_init_elementwise(ht_kernels *k)
{
    k->bias_add = bias_add_neon;
    k->bias_grad = bias_grad_neon;
    k->relu_fwd = relu_fwd_neon;
    k->relu_bwd = relu_bwd_neon;
    k->l1_grad = l1_grad_neon;
    k->l2_grad = l2_grad_neon;
    k->count_zeros = count_zeros_neon;
}
