/* A thin vector layer over AVX2 so the elementwise kernels (regularisers,
 * optimiser step, ReLU, dropout apply) are written once in terms of
 * ht_v* operations. A NEON port can provide the same names over two
 * float32x4_t (or one, with HT_VW 4) and reuse the bodies.
 *
 * Only what the kernels need is here, and every operation is an exact IEEE
 * operation (no FMA, no approximate reciprocal), so a body written with
 * these gives bitwise the scalar twin's result when it applies the same
 * operations in the same order.
 *
 * Masks are vectors of all-ones / all-zeros lanes (the result of ht_vgt
 * and friends) and combine with ht_vand / ht_vandnot / ht_vsel.
 * Tails: ht_vload_n / ht_vstore_n touch only the first r < HT_VW lanes'
 * memory (masked moves never fault on the lanes they skip). */
#ifndef HT_SIMD_AVX2_VEC_H
#define HT_SIMD_AVX2_VEC_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define HT_VW 8

typedef __m256 ht_vf;

static inline ht_vf ht_vset1(float x) { return _mm256_set1_ps(x); }
static inline ht_vf ht_vzero(void) { return _mm256_setzero_ps(); }
static inline ht_vf ht_vload(const float *p) { return _mm256_loadu_ps(p); }
static inline void ht_vstore(float *p, ht_vf v) { _mm256_storeu_ps(p, v); }

/* Lane mask with the first r lanes set, 0 <= r <= 8. */
static inline __m256i ht_vtailmask(size_t r)
{
    static const int32_t ones_then_zeros[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(ones_then_zeros + 8 - r));
}
/* Lanes >= r read as 0. */
static inline ht_vf ht_vload_n(const float *p, size_t r)
{
    return _mm256_maskload_ps(p, ht_vtailmask(r));
}
static inline void ht_vstore_n(float *p, ht_vf v, size_t r)
{
    _mm256_maskstore_ps(p, ht_vtailmask(r), v);
}

static inline ht_vf ht_vadd(ht_vf a, ht_vf b) { return _mm256_add_ps(a, b); }
static inline ht_vf ht_vsub(ht_vf a, ht_vf b) { return _mm256_sub_ps(a, b); }
static inline ht_vf ht_vmul(ht_vf a, ht_vf b) { return _mm256_mul_ps(a, b); }
static inline ht_vf ht_vdiv(ht_vf a, ht_vf b) { return _mm256_div_ps(a, b); }
static inline ht_vf ht_vsqrt(ht_vf a) { return _mm256_sqrt_ps(a); }
static inline ht_vf ht_vmax(ht_vf a, ht_vf b) { return _mm256_max_ps(a, b); }

/* Ordered compares: false when either side is NaN, like C's > and <. */
static inline ht_vf ht_vgt(ht_vf a, ht_vf b)
{
    return _mm256_cmp_ps(a, b, _CMP_GT_OQ);
}
static inline ht_vf ht_vlt(ht_vf a, ht_vf b)
{
    return _mm256_cmp_ps(a, b, _CMP_LT_OQ);
}
static inline ht_vf ht_veq(ht_vf a, ht_vf b)
{
    return _mm256_cmp_ps(a, b, _CMP_EQ_OQ);
}
static inline ht_vf ht_vand(ht_vf a, ht_vf b) { return _mm256_and_ps(a, b); }
/* ~a & b */
static inline ht_vf ht_vandnot(ht_vf a, ht_vf b)
{
    return _mm256_andnot_ps(a, b);
}
static inline ht_vf ht_vor(ht_vf a, ht_vf b) { return _mm256_or_ps(a, b); }
static inline ht_vf ht_vxor(ht_vf a, ht_vf b) { return _mm256_xor_ps(a, b); }
/* mask ? a : b */
static inline ht_vf ht_vsel(ht_vf mask, ht_vf a, ht_vf b)
{
    return _mm256_blendv_ps(b, a, mask);
}
/* Bit i of the result = lane i of the mask. */
static inline unsigned ht_vmovemask(ht_vf mask)
{
    return (unsigned)_mm256_movemask_ps(mask);
}

static inline ht_vf ht_vsignmask(void) { return _mm256_set1_ps(-0.0f); }
static inline ht_vf ht_vabs(ht_vf a)
{
    return _mm256_andnot_ps(ht_vsignmask(), a);
}

/* sign(a) as the scalar twin computes it: (a > 0) - (a < 0) as a float, so
 * sign(+-0) = +0 and sign(NaN) = +0. */
static inline ht_vf ht_vsign(ht_vf a)
{
    const ht_vf one = ht_vset1(1.0f), zero = ht_vzero();
    return ht_vsub(ht_vand(ht_vgt(a, zero), one), ht_vand(ht_vlt(a, zero), one));
}

/* Horizontal sum in a fixed order (lanes pairwise: 0+4, 1+5, ... then
 * halves again), so a result does not depend on the caller. */
static inline float ht_vhsum(ht_vf a)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a),
                          _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float ht_vhmax(ht_vf a)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a),
                          _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#endif /* HT_SIMD_AVX2_VEC_H */
