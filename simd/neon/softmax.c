/* NEON softmax + cross-entropy, forward (vectorised exp) and backward.
 *
 * exp_neon: x = n*ln2 + r with n = round(x/ln2) and |r| <= ln2/2 (Cody-Waite:
 * ln2 split into a high part with trailing zero bits and a low part, both
 * subtracted with FMA), exp(r) by the Cephes expf degree-7 polynomial
 * ((r + r^2 * P5(r)) + 1), times 2^n built in the exponent field as two
 * factors 2^(n/2) * 2^(n - n/2) so results down to the smallest subnormal
 * and up to overflow come out right. Inputs below -104 (exp < 2^-150,
 * rounds to 0) give 0, NaN stays NaN, large inputs overflow to +inf.
 * Error: below 1 ulp. A sweep of 1.6e7 evenly spaced points over
 * [-104, 88.7] against double exp measured at most 0.996 ulp (glibc expf:
 * 0.502); tests/test_neon.c checks it through the softmax against expf at
 * 3e-7 relative (2.5 ulp: both errors plus the shared division).
 *
 * The softmax sums e^(z-max) in four lanes and adds the lanes at the end,
 * so probabilities and loss differ from the scalar twin (sequential sum,
 * libm expf) by rounding only. The backward pass is bitwise the twin's. */
#include <arm_neon.h>
#include <math.h>

#include "neon.h"

static inline float32x4_t exp_neon(float32x4_t x)
{
    const float32x4_t lo = vdupq_n_f32(-104.0f), hi = vdupq_n_f32(89.0f);
    const uint32x4_t tiny = vcltq_f32(x, lo);
    x = vminq_f32(vmaxq_f32(x, lo), hi); /* FMAX/FMIN keep NaN */
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    float32x4_t y = vaddq_f32(vfmaq_f32(r, p, vmulq_f32(r, r)),
                              vdupq_n_f32(1.0f));
    /* n in [-151, 129]: each half in [-76, 65] is a normal power of two */
    const int32x4_t ni = vcvtq_s32_f32(n);
    const int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    const int32x4_t bias = vdupq_n_s32(127);
    const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
    y = vmulq_f32(vmulq_f32(y, s1), s2);
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(y), tiny));
}

/* Loads r < 4 floats, the other lanes `fill`. */
static inline float32x4_t load_tail(const float *p, size_t r, float fill)
{
    float b[4] = {fill, fill, fill, fill};
    for (size_t i = 0; i < r; i++)
        b[i] = p[i];
    return vld1q_f32(b);
}

static void softmax_xent_fwd_neon(size_t m, size_t n, const float *logits,
                                  size_t ldl, const int32_t *label,
                                  float *probs, size_t ldp, float *loss_row,
                                  int stream)
{
    (void)stream; /* NEON has no non-temporal store worth using here */
    const size_t nv = n & ~(size_t)3, r = n - nv;
    for (size_t i = 0; i < m; i++) {
        const float *z = logits + i * ldl;
        float *p = probs + i * ldp;
        float32x4_t vmx = vdupq_n_f32(z[0]);
        for (size_t j = 0; j < nv; j += 4)
            vmx = vmaxq_f32(vmx, vld1q_f32(z + j));
        if (r)
            vmx = vmaxq_f32(vmx, load_tail(z + nv, r, z[0]));
        const float mx = vmaxvq_f32(vmx);
        vmx = vdupq_n_f32(mx);

        float32x4_t vs = vdupq_n_f32(0.0f);
        for (size_t j = 0; j < nv; j += 4) {
            float32x4_t e = exp_neon(vsubq_f32(vld1q_f32(z + j), vmx));
            vst1q_f32(p + j, e);
            vs = vaddq_f32(vs, e);
        }
        if (r) {
            /* padding lanes are -inf: exp gives exactly 0 */
            float32x4_t e = exp_neon(vsubq_f32(load_tail(z + nv, r, -INFINITY), vmx));
            float b[4];
            vst1q_f32(b, e);
            for (size_t j = 0; j < r; j++)
                p[nv + j] = b[j];
            vs = vaddq_f32(vs, e);
        }
        const float sum = vaddvq_f32(vs);
        const float inv = 1.0f / sum;
        for (size_t j = 0; j < nv; j += 4)
            vst1q_f32(p + j, vmulq_n_f32(vld1q_f32(p + j), inv));
        for (size_t j = nv; j < n; j++)
            p[j] *= inv;
        if (label)
            loss_row[i] = logf(sum) - (z[label[i]] - mx);
    }
}

static void softmax_xent_bwd_neon(size_t m, size_t n, const float *probs,
                                  size_t ldp, const int32_t *label,
                                  float scale, float *dlogits, size_t ldd,
                                  int stream)
{
    (void)stream; /* see dropout.c */
    for (size_t i = 0; i < m; i++) {
        const float *p = probs + i * ldp;
        float *d = dlogits + i * ldd;
        size_t j = 0;
        for (; j + 4 <= n; j += 4)
            vst1q_f32(d + j, vmulq_n_f32(vld1q_f32(p + j), scale));
        for (; j < n; j++)
            d[j] = p[j] * scale;
        d[label[i]] -= scale;
    }
}

void ht_neon_init_softmax(ht_kernels *k)
{
    k->softmax_xent_fwd = softmax_xent_fwd_neon;
    k->softmax_xent_bwd = softmax_xent_bwd_neon;
}
