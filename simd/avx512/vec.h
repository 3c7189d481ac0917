/* The vector layer of simd/avx2/vec.h over AVX-512F: the same ht_v* names
 * on 16 floats, so bodies written on that layer (simd/optim_body.h)
 * compile here unchanged. Every operation is the same exact IEEE operation
 * as there, so a body gives the same bits with either layer.
 *
 * Only what those bodies use is here. Compares return vectors of all-ones
 * / all-zeros lanes, as with AVX2, so ht_vand takes them unchanged; the
 * bitwise operations go through the integer forms, which need only
 * AVX512F (the float forms are AVX512DQ, which the table does not
 * require). */
#ifndef HT_SIMD_AVX512_VEC_H
#define HT_SIMD_AVX512_VEC_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define HT_VW 16

typedef __m512 ht_vf;

static inline ht_vf ht_vset1(float x) { return _mm512_set1_ps(x); }
static inline ht_vf ht_vzero(void) { return _mm512_setzero_ps(); }
static inline ht_vf ht_vload(const float *p) { return _mm512_loadu_ps(p); }
static inline void ht_vstore(float *p, ht_vf v) { _mm512_storeu_ps(p, v); }

/* The first r lanes, 0 <= r <= 16. */
static inline __mmask16 ht_vtailmask(size_t r)
{
    return (__mmask16)((1u << r) - 1u);
}
/* Lanes >= r read as 0; masked lanes never fault. */
static inline ht_vf ht_vload_n(const float *p, size_t r)
{
    return _mm512_maskz_loadu_ps(ht_vtailmask(r), p);
}
static inline void ht_vstore_n(float *p, ht_vf v, size_t r)
{
    _mm512_mask_storeu_ps(p, ht_vtailmask(r), v);
}

static inline ht_vf ht_vadd(ht_vf a, ht_vf b) { return _mm512_add_ps(a, b); }
static inline ht_vf ht_vsub(ht_vf a, ht_vf b) { return _mm512_sub_ps(a, b); }
static inline ht_vf ht_vmul(ht_vf a, ht_vf b) { return _mm512_mul_ps(a, b); }
static inline ht_vf ht_vdiv(ht_vf a, ht_vf b) { return _mm512_div_ps(a, b); }
static inline ht_vf ht_vsqrt(ht_vf a) { return _mm512_sqrt_ps(a); }

/* A compare's lanes as a vector mask. */
static inline ht_vf ht_vmask(__mmask16 k)
{
    return _mm512_castsi512_ps(_mm512_maskz_set1_epi32(k, -1));
}
/* An ordered compare: false when either side is NaN, like C's >. */
static inline ht_vf ht_vgt(ht_vf a, ht_vf b)
{
    return ht_vmask(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ));
}

static inline __m512i ht_vbits(ht_vf a) { return _mm512_castps_si512(a); }
static inline ht_vf ht_vand(ht_vf a, ht_vf b)
{
    return _mm512_castsi512_ps(_mm512_and_si512(ht_vbits(a), ht_vbits(b)));
}
static inline ht_vf ht_vor(ht_vf a, ht_vf b)
{
    return _mm512_castsi512_ps(_mm512_or_si512(ht_vbits(a), ht_vbits(b)));
}

static inline ht_vf ht_vsignmask(void) { return _mm512_set1_ps(-0.0f); }
static inline ht_vf ht_vabs(ht_vf a) { return _mm512_abs_ps(a); }

/* sign(a) as the scalar twin computes it: (a > 0) - (a < 0) as a float, so
 * sign(+-0) = +0 and sign(NaN) = +0. */
static inline ht_vf ht_vsign(ht_vf a)
{
    const ht_vf one = ht_vset1(1.0f), zero = ht_vzero();
    return ht_vsub(_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, zero, _CMP_GT_OQ),
                                       one),
                   _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, zero, _CMP_LT_OQ),
                                       one));
}

#endif /* HT_SIMD_AVX512_VEC_H */
