/* AVX2 elementwise kernels of a dense layer and the regularisers, over the
 * vector layer in vec.h. Each gives bitwise the scalar twin's result: the
 * same IEEE operations in the same order per element (the library is
 * compiled with -ffp-contract=off and no FMA is used here).
 *
 * These passes are memory-bound from L2 outwards; one vector per iteration
 * keeps the loop short and the out-of-order core keeps enough loads in
 * flight. bias_grad is the exception that needs a layout choice (below). */
#include "avx2.h"
#include "vec.h"

static void bias_add_avx2(size_t m, size_t n, const float *bias, float *c,
                          size_t ldc)
{
    const size_t nv = n - n % HT_VW, r = n % HT_VW;
    for (size_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        for (size_t j = 0; j < nv; j += HT_VW)
            ht_vstore(ci + j, ht_vadd(ht_vload(ci + j), ht_vload(bias + j)));
        if (r)
            ht_vstore_n(ci + nv, ht_vadd(ht_vload_n(ci + nv, r),
                                         ht_vload_n(bias + nv, r)), r);
    }
}

/* db[j] += dy[0][j] + ... in increasing i, like the twin. Narrow column
 * blocks (the trainer's, 64 columns of a wider dy) take rows eight at a
 * time with db[j] held in a register, so dy is read as eight row streams
 * (more lines in flight than one) while db is loaded and stored once per
 * eight rows instead of once per row. Long rows (n >= 256) are read one
 * after the other instead: one stream that runs on from row to row, which
 * the hardware prefetcher follows, where eight streams jump eight rows
 * at every block. Out of cache (64 Mi floats, 1024 columns) that took
 * bench_elementwise's bias_grad from 0.78-0.82 to 0.88-0.94 of the triad
 * at 1 and 2 threads; in cache the two orders measured within 2 %. */
static void bias_grad_avx2(size_t m, size_t n, const float *dy, size_t lddy,
                           float *db)
{
    const size_t nv = n - n % HT_VW, r = n % HT_VW;
    size_t i = 0;
    if (n < 256)
        for (; i + 8 <= m; i += 8) {
            const float *d = dy + i * lddy;
            for (size_t j = 0; j < nv; j += HT_VW) {
                ht_vf a = ht_vload(db + j);
                for (size_t k = 0; k < 8; k++)
                    a = ht_vadd(a, ht_vload(d + k * lddy + j));
                ht_vstore(db + j, a);
            }
            if (r) {
                ht_vf a = ht_vload_n(db + nv, r);
                for (size_t k = 0; k < 8; k++)
                    a = ht_vadd(a, ht_vload_n(d + k * lddy + nv, r));
                ht_vstore_n(db + nv, a, r);
            }
        }
    for (; i < m; i++) {
        const float *d0 = dy + i * lddy;
        for (size_t j = 0; j < nv; j += HT_VW)
            ht_vstore(db + j, ht_vadd(ht_vload(db + j), ht_vload(d0 + j)));
        if (r)
            ht_vstore_n(db + nv, ht_vadd(ht_vload_n(db + nv, r),
                                         ht_vload_n(d0 + nv, r)), r);
    }
}

/* x > 0 ? x : +0, NaN -> +0 as in the twin. */
static inline ht_vf relu_v(ht_vf x)
{
    return ht_vand(ht_vgt(x, ht_vzero()), x);
}

static void relu_fwd_avx2(size_t n, const float *x, float *y, int stream)
{
    if (stream && n >= 32) {
        /* plain stores up to a 64-byte boundary, then whole lines with
         * non-temporal stores (see softmax_bwd_stream), the last partial
         * line plain */
        size_t i = 0;
        for (; ((uintptr_t)(y + i) & 63u) != 0; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        for (; i + 16 <= n; i += 16) {
            _mm256_stream_ps(y + i, relu_v(ht_vload(x + i)));
            _mm256_stream_ps(y + i + 8, relu_v(ht_vload(x + i + 8)));
        }
        for (; i < n; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        _mm_sfence();
        return;
    }
    const size_t nv = n - n % HT_VW, r = n % HT_VW;
    for (size_t i = 0; i < nv; i += HT_VW)
        ht_vstore(y + i, relu_v(ht_vload(x + i)));
    if (r)
        ht_vstore_n(y + nv, relu_v(ht_vload_n(x + nv, r)), r);
}

/* y > 0 ? dy*scale : +0. Reading y (the output after ReLU and dropout)
 * covers a dropout mask too: dropped elements are exactly 0. */
static inline ht_vf relu_bwd_v(ht_vf y, ht_vf dy, ht_vf scale)
{
    return ht_vand(ht_vgt(y, ht_vzero()), ht_vmul(dy, scale));
}

static void relu_bwd_avx2(size_t n, const float *y, const float *dy,
                          float scale, float *dx)
{
    const ht_vf s = ht_vset1(scale);
    const size_t nv = n - n % HT_VW, r = n % HT_VW;
    for (size_t i = 0; i < nv; i += HT_VW)
        ht_vstore(dx + i, relu_bwd_v(ht_vload(y + i), ht_vload(dy + i), s));
    if (r)
        ht_vstore_n(dx + nv, relu_bwd_v(ht_vload_n(y + nv, r),
                                        ht_vload_n(dy + nv, r), s), r);
}

/* g + l1*sign(w): the product first, as in the twin. */
static void l1_grad_avx2(size_t n, float l1, const float *w, float *g)
{
    const ht_vf c = ht_vset1(l1);
    const size_t nv = n - n % HT_VW, r = n % HT_VW;
    for (size_t i = 0; i < nv; i += HT_VW)
        ht_vstore(g + i, ht_vadd(ht_vload(g + i),
                                 ht_vmul(c, ht_vsign(ht_vload(w + i)))));
    if (r)
        ht_vstore_n(g + nv, ht_vadd(ht_vload_n(g + nv, r),
                                    ht_vmul(c, ht_vsign(ht_vload_n(w + nv, r)))),
                    r);
}

static void l2_grad_avx2(size_t n, float l2, const float *w, float *g)
{
    const ht_vf c = ht_vset1(l2);
    const size_t nv = n - n % HT_VW, r = n % HT_VW;
    for (size_t i = 0; i < nv; i += HT_VW)
        ht_vstore(g + i, ht_vadd(ht_vload(g + i), ht_vmul(c, ht_vload(w + i))));
    if (r)
        ht_vstore_n(g + nv, ht_vadd(ht_vload_n(g + nv, r),
                                    ht_vmul(c, ht_vload_n(w + nv, r))), r);
}

static inline __m256i count_eq0(__m256i acc, const float *p)
{
    /* a compare mask lane is -1: subtracting it counts */
    return _mm256_sub_epi32(
        acc, _mm256_castps_si256(ht_veq(ht_vload(p), ht_vzero())));
}

/* Zeros counted in 32-bit lane counters, folded into a size_t every 2^20
 * vectors, long before a lane could overflow. The array is read as four
 * quarters in lockstep: a single read stream leaves the hardware
 * prefetchers too little to do (measured about 0.8 of the triad's
 * bandwidth from DRAM on one core), four streams keep more lines in
 * flight. */
static size_t count_zeros_avx2(size_t n, const float *x)
{
    const size_t q = n / (4 * HT_VW) * HT_VW; /* elements per quarter */
    const float *x1 = x + q, *x2 = x + 2 * q, *x3 = x + 3 * q;
    size_t total = 0;
    uint32_t lanes[HT_VW];
    for (size_t i0 = 0; i0 < q;) {
        const size_t end = q - i0 > ((size_t)HT_VW << 20)
                               ? i0 + ((size_t)HT_VW << 20) : q;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t i = i0; i < end; i += HT_VW) {
            a0 = count_eq0(a0, x + i);
            a1 = count_eq0(a1, x1 + i);
            a2 = count_eq0(a2, x2 + i);
            a3 = count_eq0(a3, x3 + i);
        }
        a0 = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3));
        _mm256_storeu_si256((__m256i *)lanes, a0);
        for (int l = 0; l < HT_VW; l++)
            total += lanes[l];
        i0 = end;
    }
    size_t i = 4 * q;
    __m256i a = _mm256_setzero_si256();
    for (; i + HT_VW <= n; i += HT_VW) /* fewer than 4 vectors */
        a = count_eq0(a, x + i);
    _mm256_storeu_si256((__m256i *)lanes, a);
    for (int l = 0; l < HT_VW; l++)
        total += lanes[l];
    if (i < n) {
        /* masked-off lanes load as 0.0f: count only the first n - i */
        const size_t r = n - i;
        unsigned bits = ht_vmovemask(ht_veq(ht_vload_n(x + i, r), ht_vzero()));
        for (size_t l = 0; l < r; l++)
            total += (bits >> l) & 1u;
    }
    return total;
}

/* The flat path (ldp == ldd == n) with streaming stores. The output goes
 * out in whole 64-byte lines of dlogits: a line written partly by
 * non-temporal stores and partly by plain ones (or partly by two threads)
 * costs a partial-line write to memory, far more than the RFO saved. A
 * streamed line must not be read back, so each line's label fix-ups are
 * applied in registers: the labels that fall in the line become a 16-bit
 * mask, and the line is probs*scale - (mask & scale). x - 0 is x (also
 * for -0), so the bits are the plain path's.
 * From DRAM (64 Mi floats, 10 classes, alternated with a triad; 12
 * rounds of old and new builds) this runs at 0.82-0.94 of the triad on one
 * thread and 0.74-0.88 on two. The version before computed chunks of 2048
 * floats into a stack buffer, fixed the labels there with scalar stores
 * and streamed the buffer out: 0.55-0.81 (mostly 0.67-0.71) and 0.54-0.71,
 * and 0.80-0.83 on one thread with the fix-ups left out. Streaming
 * probs*scale alone, no labels read, ran at 1.20. Also measured and dropped: a fixed count of
 * candidate rows per line without the inner branch (0.45-0.50: the next
 * line's rows then wait for this line's labels), and label masks built a
 * chunk ahead (0.70-0.79) or in a ring of lines one row at a time
 * (0.75-0.78). */
static void softmax_bwd_stream(size_t m, size_t n, const float *probs,
                               const int32_t *label, float scale,
                               float *dlogits)
{
    const size_t len = m * n;
    if (len == 0)
        return;
    const ht_vf s = ht_vset1(scale);
    const __m256i bit_lo = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i bit_hi = _mm256_slli_epi32(bit_lo, 8);
    /* head: plain stores up to the first 64-byte boundary */
    size_t a = 0;
    while (a < len && ((uintptr_t)(dlogits + a) & 63u) != 0)
        a++;
    /* r: the first row whose label element is at or after a; e: its flat
     * index, len once every row is done */
    size_t r = a / n;
    size_t e = r < m ? r * n + (size_t)label[r] : len;
    if (e < a) {
        r++;
        e = r < m ? r * n + (size_t)label[r] : len;
    }
    size_t j = a;
    for (; j + 16 <= len; j += 16) {
        unsigned bits = 0;
        while (e < j + 16) {
            bits |= 1u << (e - j);
            r++;
            e = r < m ? r * n + (size_t)label[r] : len;
        }
        const __m256i b = _mm256_set1_epi32((int)bits);
        const ht_vf f0 = _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(
                             _mm256_and_si256(b, bit_lo), bit_lo)), s);
        const ht_vf f1 = _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(
                             _mm256_and_si256(b, bit_hi), bit_hi)), s);
        _mm256_stream_ps(dlogits + j,
                         ht_vsub(ht_vmul(ht_vload(probs + j), s), f0));
        _mm256_stream_ps(dlogits + j + 8,
                         ht_vsub(ht_vmul(ht_vload(probs + j + 8), s), f1));
    }
    /* a last partial line (only at the end of the output): plain stores,
     * then the labels left, which all fall in it */
    for (size_t x = j; x < len; x++)
        dlogits[x] = probs[x] * scale;
    for (; r < m; r++)
        dlogits[r * n + (size_t)label[r]] -= scale;
    /* the head, row by row as the plain path computes it */
    for (size_t x = 0; x < a; x++)
        dlogits[x] = probs[x] * scale;
    for (size_t i = 0; i * n < a; i++) {
        const size_t x = i * n + (size_t)label[i];
        if (x < a)
            dlogits[x] -= scale;
    }
    _mm_sfence();
}

/* dlogits = probs*scale, then -scale at the label, as the twin. Rows of
 * one contiguous block (ld == n on both sides, the usual layout) are done
 * as one flat pass per 64 rows, so a 10-class row does not pay a masked
 * tail each; the label fix-ups follow while the block is in L1.
 * The flat pass goes in pieces of BWD_PB floats, each first prefetching
 * the piece BWD_PF floats ahead in both arrays (never past the end of
 * probs): with one read and one write stream the hardware prefetchers
 * alone kept this at 0.77-0.89 ns per element from DRAM on one core (64 Mi
 * floats, 10 classes, about 0.8 of the triad), with the prefetches
 * 0.69-0.72 when the machine was quiet. */
#define BWD_PB 256
#define BWD_PF 512
static void softmax_xent_bwd_avx2(size_t m, size_t n, const float *probs,
                                  size_t ldp, const int32_t *label,
                                  float scale, float *dlogits, size_t ldd,
                                  int stream)
{
    const ht_vf s = ht_vset1(scale);
    if (stream && ldp == n && ldd == n) {
        softmax_bwd_stream(m, n, probs, label, scale, dlogits);
        return;
    }
    if (ldp == n && ldd == n) {
        const float *pend = probs + m * n; /* prefetch only inside */
        for (size_t i0 = 0; i0 < m; i0 += 64) {
            const size_t rows = m - i0 < 64 ? m - i0 : 64, len = rows * n;
            const float *p = probs + i0 * n;
            float *d = dlogits + i0 * n;
            const size_t lv = len - len % HT_VW, lr = len % HT_VW;
            for (size_t j0 = 0; j0 < lv; j0 += BWD_PB) {
                const size_t j1 = lv - j0 < BWD_PB ? lv : j0 + BWD_PB;
                if (BWD_PF + BWD_PB <= (size_t)(pend - (p + j0)))
                    for (size_t o = 0; o < BWD_PB; o += 16) {
                        _mm_prefetch((const char *)(p + j0 + BWD_PF + o),
                                     _MM_HINT_T0);
                        _mm_prefetch((const char *)(d + j0 + BWD_PF + o),
                                     _MM_HINT_T0);
                    }
                for (size_t j = j0; j < j1; j += HT_VW)
                    ht_vstore(d + j, ht_vmul(ht_vload(p + j), s));
            }
            if (lr)
                ht_vstore_n(d + lv, ht_vmul(ht_vload_n(p + lv, lr), s), lr);
            for (size_t i = 0; i < rows; i++)
                d[i * n + (size_t)label[i0 + i]] -= scale;
        }
        return;
    }
    const size_t nv = n - n % HT_VW, r = n % HT_VW;
    for (size_t i = 0; i < m; i++) {
        const float *p = probs + i * ldp;
        float *d = dlogits + i * ldd;
        for (size_t j = 0; j < nv; j += HT_VW)
            ht_vstore(d + j, ht_vmul(ht_vload(p + j), s));
        if (r)
            ht_vstore_n(d + nv, ht_vmul(ht_vload_n(p + nv, r), s), r);
        d[(size_t)label[i]] -= scale;
    }
}

void ht_avx2_init_elementwise(ht_kernels *k)
{
    k->bias_add = bias_add_avx2;
    k->bias_grad = bias_grad_avx2;
    k->relu_fwd = relu_fwd_avx2;
    k->relu_bwd = relu_bwd_avx2;
    k->l1_grad = l1_grad_avx2;
    k->l2_grad = l2_grad_avx2;
    k->count_zeros = count_zeros_avx2;
    k->softmax_xent_bwd = softmax_xent_bwd_avx2;
    ht_avx2_init_softmax(k);
    ht_avx2_init_optim(k);
    ht_avx2_init_dropout(k);
}
