/* Row-wise softmax + cross-entropy forward in AVX2 with a vectorised exp.
 *
 * exp: Cody-Waite reduction x = n*ln2 + r (|r| <= ln2/2, ln2 split in two
 * so n*ln2_hi is exact), the Cephes degree-6 polynomial for e^r, then the
 * product with 2^n built in the exponent field. Domain x <= 0 (the
 * inputs are z - max). Error: 0.991 ulp at most (|result - e^x| over the
 * ulp of the float nearest e^x) for x in [-87.3, 0], measured against
 * double exp on every 97th float of that range (1.15e7 points) when this
 * was written; tests/test_kernels.c checks the softmax built on it against
 * the scalar twin's expf with a relative tolerance. Below -87.3 (where
 * e^x is subnormal, < 1.2e-38) it returns 0.
 *
 * Two layouts. Rows of up to 16 classes (the usual classifier head: 10)
 * go 16 (or 8) at a time, one row per lane after an in-register transpose, so
 * the row sum runs in the twin's order and the loss uses a vector log.
 * Longer rows go one at a time along the row; their sum is accumulated in
 * 8 lanes and reduced in a fixed order, so it differs from the twin's
 * sequential sum by rounding (a few ulp), and the loss (libm logf) with
 * it. */
#include <math.h>

#include "avx2.h"
#include "vec.h"

/* e^x for x <= 0 (softmax feeds it z - max): no overflow path, and 2^n
 * comes straight from the rounding constant: t = x*log2(e) + (1.5*2^23 +
 * 127) rounds x*log2(e) to the integer n in t's low mantissa bits, already
 * offset by the exponent bias, so (bits of t) << 23 is the float 2^n. */
static inline __m256 exp_avx2(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.3f);
    const __m256 magic = _mm256_set1_ps(12583039.0f); /* 1.5*2^23 + 127 */
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    const __m256 ln2_hi = _mm256_set1_ps(0.693359375f);
    const __m256 ln2_lo = _mm256_set1_ps(-2.12194440e-4f);
    __m256 keep = _mm256_cmp_ps(x, lo, _CMP_GE_OQ);
    x = _mm256_max_ps(x, lo);
    __m256 t = _mm256_fmadd_ps(x, log2e, magic);
    __m256 n = _mm256_sub_ps(t, magic); /* exact: an integer in [-126, 0] */
    __m256 r = _mm256_fnmadd_ps(n, ln2_hi, x);
    r = _mm256_fnmadd_ps(n, ln2_lo, r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    __m256 s2n = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
    return _mm256_and_ps(keep, _mm256_mul_ps(p, s2n));
}

/* Natural log of positive normal x (Cephes logf: x = 2^e * m with m in
 * [sqrt(1/2), sqrt(2)), a degree-9 polynomial in m - 1). Used on row sums,
 * which lie in [1, n]. Error 0.77 ulp at most on [1, 2^24] (measured against
 * double log on every 61st float there when this was written). */
static inline __m256 log_avx2(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256i xi = _mm256_castps_si256(x);
    __m256i ei = _mm256_sub_epi32(_mm256_srli_epi32(xi, 23),
                                  _mm256_set1_epi32(126));
    /* mantissa in [0.5, 1) */
    __m256 mt = _mm256_castsi256_ps(_mm256_or_si256(
        _mm256_and_si256(xi, _mm256_set1_epi32(0x007fffff)),
        _mm256_set1_epi32(0x3f000000)));
    __m256 e = _mm256_cvtepi32_ps(ei);
    __m256 small = _mm256_cmp_ps(mt, _mm256_set1_ps(0.707106781186547524f),
                                 _CMP_LT_OQ);
    /* m < sqrt(1/2): use 2m - 1 and e - 1, else m - 1 */
    e = _mm256_sub_ps(e, _mm256_and_ps(small, one));
    mt = _mm256_sub_ps(_mm256_add_ps(mt, _mm256_and_ps(small, mt)), one);
    __m256 z = _mm256_mul_ps(mt, mt);
    __m256 y = _mm256_set1_ps(7.0376836292e-2f);
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(-1.1514610310e-1f));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(1.1676998740e-1f));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(-1.2420140846e-1f));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(1.4249322787e-1f));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(-1.6668057665e-1f));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(2.0000714765e-1f));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(-2.4999993993e-1f));
    y = _mm256_fmadd_ps(y, mt, _mm256_set1_ps(3.3333331174e-1f));
    y = _mm256_mul_ps(_mm256_mul_ps(y, mt), z);
    y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
    y = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.5f), y);
    return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f),
                           _mm256_add_ps(mt, y));
}

/* In-register transpose of an 8x8 block: r[k] = row k in, column k out. */
static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
        u[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44);
        u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xEE);
        u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);
        u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xEE);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
    }
}

#define SMALL_N 16

#if defined(__GNUC__)
#define HT_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define HT_ALWAYS_INLINE inline
#endif

/* nb (1 or 2) blocks of eight rows of n <= SMALL_N classes, one row per
 * lane: each block is transposed in registers so max, exp, sum and scale
 * are vertical (no horizontal reductions, one vector log per block). The
 * sum runs over j in increasing order per row, the twin's order. A block
 * is a chain of dependent steps (max, then exp, then the sum, the divide,
 * the log); two blocks in lockstep give the core two chains to overlap. */
static HT_ALWAYS_INLINE void softmax_blocks(int nb, size_t n, const float *z,
                                            size_t ldl, const int32_t *label,
                                            float *p, size_t ldp, float *loss)
{
    /* transposed in place, 8 columns at a time; columns n .. c+7 of the
     * last group are zero (masked loads) and never enter max or sum.
     * (No copies between arrays: GCC turns those into rep movs.) */
    __m256 col[2][SMALL_N + 8], mx[2], sum[2];
    for (int b = 0; b < nb; b++) {
        const float *zb = z + (size_t)b * 8 * ldl;
        col[b][0] = ht_vzero(); /* n >= 1; this only tells the compiler so */
        for (size_t c = 0; c < n; c += 8) {
            const size_t w = n - c < 8 ? n - c : 8;
            for (int k = 0; k < 8; k++)
                col[b][c + (size_t)k] =
                    w == 8 ? ht_vload(zb + (size_t)k * ldl + c)
                           : ht_vload_n(zb + (size_t)k * ldl + c, w);
            transpose8(col[b] + c);
        }
        /* max is exact in any order: two chains, half the latency */
        __m256 ma = col[b][0], mb = col[b][n > 1 ? 1 : 0];
        size_t j = 2;
        for (; j + 1 < n; j += 2) {
            ma = _mm256_max_ps(ma, col[b][j]);
            mb = _mm256_max_ps(mb, col[b][j + 1]);
        }
        if (j < n)
            ma = _mm256_max_ps(ma, col[b][j]);
        mx[b] = _mm256_max_ps(ma, mb);
        sum[b] = ht_vzero();
    }
    for (size_t j = 0; j < n; j++)
        for (int b = 0; b < nb; b++) {
            col[b][j] = exp_avx2(ht_vsub(col[b][j], mx[b]));
            sum[b] = ht_vadd(sum[b], col[b][j]);
        }
    for (int b = 0; b < nb; b++) {
        const __m256 inv = ht_vdiv(ht_vset1(1.0f), sum[b]);
        for (size_t j = 0; j < n; j++)
            col[b][j] = ht_vmul(col[b][j], inv);
        float *pb = p + (size_t)b * 8 * ldp;
        for (size_t c = 0; c < n; c += 8) {
            const size_t w = n - c < 8 ? n - c : 8;
            transpose8(col[b] + c);
            for (int k = 0; k < 8; k++) {
                if (w == 8)
                    ht_vstore(pb + (size_t)k * ldp + c, col[b][c + (size_t)k]);
                else
                    ht_vstore_n(pb + (size_t)k * ldp + c,
                                col[b][c + (size_t)k], w);
            }
        }
    }
    if (label)
        for (int b = 0; b < nb; b++) {
            float ls[8], ms[8];
            ht_vstore(ls, log_avx2(sum[b]));
            ht_vstore(ms, mx[b]);
            const float *zb = z + (size_t)b * 8 * ldl;
            for (size_t k = 0; k < 8; k++)
                loss[8 * b + k] =
                    ls[k] - (zb[k * ldl + (size_t)label[8 * b + k]] - ms[k]);
        }
}

static void softmax16_small(size_t n, const float *z, size_t ldl,
                            const int32_t *label, float *p, size_t ldp,
                            float *loss)
{
    softmax_blocks(2, n, z, ldl, label, p, ldp, loss);
}

static void softmax8_small(size_t n, const float *z, size_t ldl,
                           const int32_t *label, float *p, size_t ldp,
                           float *loss)
{
    softmax_blocks(1, n, z, ldl, label, p, ldp, loss);
}

static void softmax_xent_fwd_avx2(size_t m, size_t n, const float *logits,
                                  size_t ldl, const int32_t *label,
                                  float *probs, size_t ldp, float *loss_row)
{
    if (n <= SMALL_N) {
        size_t i = 0;
        for (; i + 16 <= m; i += 16)
            softmax16_small(n, logits + i * ldl, ldl, label ? label + i : NULL,
                            probs + i * ldp, ldp, label ? loss_row + i : NULL);
        for (; i + 8 <= m; i += 8)
            softmax8_small(n, logits + i * ldl, ldl, label ? label + i : NULL,
                           probs + i * ldp, ldp, label ? loss_row + i : NULL);
        logits += i * ldl;
        probs += i * ldp;
        if (label) {
            label += i;
            loss_row += i;
        }
        m -= i;
    }
    const size_t nv = n - n % HT_VW, r = n % HT_VW;
    const __m256 tail = _mm256_castsi256_ps(ht_vtailmask(r));
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (size_t i = 0; i < m; i++) {
        const float *z = logits + i * ldl;
        float *p = probs + i * ldp;
        __m256 vm = ninf;
        for (size_t j = 0; j < nv; j += HT_VW)
            vm = _mm256_max_ps(vm, ht_vload(z + j));
        if (r)
            vm = _mm256_max_ps(vm, ht_vsel(tail, ht_vload_n(z + nv, r), ninf));
        const float mx = ht_vhmax(vm);
        const __m256 vmx = ht_vset1(mx);
        __m256 acc = ht_vzero();
        for (size_t j = 0; j < nv; j += HT_VW) {
            __m256 e = exp_avx2(ht_vsub(ht_vload(z + j), vmx));
            ht_vstore(p + j, e);
            acc = ht_vadd(acc, e);
        }
        if (r) {
            __m256 e = ht_vand(tail,
                               exp_avx2(ht_vsub(ht_vload_n(z + nv, r), vmx)));
            ht_vstore_n(p + nv, e, r);
            acc = ht_vadd(acc, e);
        }
        const float sum = ht_vhsum(acc);
        const __m256 inv = ht_vset1(1.0f / sum);
        for (size_t j = 0; j < nv; j += HT_VW)
            ht_vstore(p + j, ht_vmul(ht_vload(p + j), inv));
        if (r)
            ht_vstore_n(p + nv, ht_vmul(ht_vload_n(p + nv, r), inv), r);
        if (label)
            loss_row[i] = logf(sum) - (z[label[i]] - mx);
    }
}

void ht_avx2_init_softmax(ht_kernels *k)
{
    k->softmax_xent_fwd = softmax_xent_fwd_avx2;
}
