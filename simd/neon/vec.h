/* The vector layer of simd/avx2/vec.h over NEON (AdvSIMD): the same ht_v*
 * names on 4 floats, so bodies written on that layer (simd/optim_body.h)
 * compile here unchanged. Every operation is the same exact IEEE operation
 * as there (vdivq_f32 and vsqrtq_f32 are correctly rounded; nothing is
 * fused, the build has -ffp-contract=off), so a body gives the same bits
 * with any layer.
 *
 * Only what those bodies use is here. Compares return vectors of all-ones
 * / all-zeros lanes, as with AVX2.
 * NEON has no masked loads or stores, so the tail moves go through a
 * zeroed 4-float copy: lanes >= r read as 0, and only r floats of memory
 * are touched. */
#ifndef HT_SIMD_NEON_VEC_H
#define HT_SIMD_NEON_VEC_H

#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HT_VW 4

typedef float32x4_t ht_vf;

static inline ht_vf ht_vset1(float x) { return vdupq_n_f32(x); }
static inline ht_vf ht_vzero(void) { return vdupq_n_f32(0.0f); }
static inline ht_vf ht_vload(const float *p) { return vld1q_f32(p); }
static inline void ht_vstore(float *p, ht_vf v) { vst1q_f32(p, v); }

/* The first r < 4 lanes; lanes >= r read as 0. */
static inline ht_vf ht_vload_n(const float *p, size_t r)
{
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(t, p, r * sizeof(float));
    return vld1q_f32(t);
}
static inline void ht_vstore_n(float *p, ht_vf v, size_t r)
{
    float t[4];
    vst1q_f32(t, v);
    memcpy(p, t, r * sizeof(float));
}

static inline ht_vf ht_vadd(ht_vf a, ht_vf b) { return vaddq_f32(a, b); }
static inline ht_vf ht_vsub(ht_vf a, ht_vf b) { return vsubq_f32(a, b); }
static inline ht_vf ht_vmul(ht_vf a, ht_vf b) { return vmulq_f32(a, b); }
static inline ht_vf ht_vdiv(ht_vf a, ht_vf b) { return vdivq_f32(a, b); }
static inline ht_vf ht_vsqrt(ht_vf a) { return vsqrtq_f32(a); }

static inline uint32x4_t ht_vbits(ht_vf a) { return vreinterpretq_u32_f32(a); }
static inline ht_vf ht_vfrom(uint32x4_t a) { return vreinterpretq_f32_u32(a); }

/* An ordered compare: false when either side is NaN, like C's >. */
static inline ht_vf ht_vgt(ht_vf a, ht_vf b) { return ht_vfrom(vcgtq_f32(a, b)); }

static inline ht_vf ht_vand(ht_vf a, ht_vf b)
{
    return ht_vfrom(vandq_u32(ht_vbits(a), ht_vbits(b)));
}
static inline ht_vf ht_vor(ht_vf a, ht_vf b)
{
    return ht_vfrom(vorrq_u32(ht_vbits(a), ht_vbits(b)));
}

static inline ht_vf ht_vsignmask(void) { return vdupq_n_f32(-0.0f); }
static inline ht_vf ht_vabs(ht_vf a) { return vabsq_f32(a); }

/* sign(a) as the scalar twin computes it: (a > 0) - (a < 0) as a float, so
 * sign(+-0) = +0 and sign(NaN) = +0. The compares' all-ones lanes are -1
 * as integers: (a < 0) - (a > 0) in integers is the sign, converted. */
static inline ht_vf ht_vsign(ht_vf a)
{
    const int32x4_t gt = vreinterpretq_s32_u32(vcgtq_f32(a, ht_vzero()));
    const int32x4_t lt = vreinterpretq_s32_u32(vcltq_f32(a, ht_vzero()));
    return vcvtq_f32_s32(vsubq_s32(lt, gt));
}

#endif /* HT_SIMD_NEON_VEC_H */
