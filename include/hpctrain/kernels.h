/* hpctrain kernel-level API: the regularisers, the optimiser step and
 * dropout on plain arrays, through the active kernel table, so they can be
 * benchmarked, profiled and tested alone.
 *
 * Every function here is single-threaded (it never opens a parallel region),
 * may be called from inside a parallel region on disjoint data, never
 * allocates, and is thread-safe on disjoint outputs. Pointers need no
 * particular alignment. Each calls ht_runtime_init() and returns its error.
 *
 * Conventions (see README "Regularisation and dropout"):
 *   L1 gradient is the sign:  g += l1 * sign(w), sign(0) = 0.
 *   L2 gradient is the scale: g += l2 * w.
 *   Dropout is inverted: y = x * keep * s, keep ~ Bernoulli(q), where
 *   q = 1 - p_q is the keep rate of p quantised to the masks' 16-bit
 *   draws and s = 1/q (ht_dropout_scale), so that E[y] = x exactly.
 *   A dropout mask is a pure function of (seed, layer, step, row):
 *   whichever thread or kernel table produces it, the bits are the same.
 */
#ifndef HPCTRAIN_KERNELS_H
#define HPCTRAIN_KERNELS_H

#include "../hpctrain.h"

#ifdef __cplusplus
extern "C" {
#endif

/* g[i] += l1 * sign(w[i]) for i < n, sign(0) = 0. l1 >= 0 and finite,
 * else HT_ERR_ARG. g may not alias w. */
ht_status ht_l1_grad(size_t n, float l1, const float *w, float *g);

/* g[i] += l2 * w[i] for i < n. l2 >= 0 and finite, else HT_ERR_ARG. */
ht_status ht_l2_grad(size_t n, float l2, const float *w, float *g);

/* Hyper-parameters of one fused optimiser step over one parameter tensor.
 * The step, for each element (gradient g of the mean loss, read only):
 *   g' = g + l1*sign(w) + l2*w          (l1 skipped here if prox_l1)
 *   SGD:   v = momentum*v + g'; d = nesterov ? g' + momentum*v : v
 *          w -= lr * d                   (momentum 0: plain SGD, v unused)
 *   Adam:  m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'^2
 *          w -= lr * (m/bc1) / (sqrt(v/bc2) + eps),  bc = 1 - beta^t
 *   AdamW: as Adam, and first w -= lr*weight_decay*w
 *   prox_l1: afterwards w = sign(w) * max(|w| - lr*l1, 0) (exact zeros). */
typedef struct ht_optim_hyper {
    int kind;                 /* HT_OPT_SGD, HT_OPT_ADAM, HT_OPT_ADAMW     */
    float lr;
    float momentum;
    int nesterov;
    float beta1, beta2, eps;
    float bc1, bc2;           /* 1 - beta1^t, 1 - beta2^t for step t >= 1  */
    float weight_decay;
    float l1, l2;
    int prox_l1;
} ht_optim_hyper;

/* One fused step over n parameters: w (in/out), g (in), state m and v
 * (in/out; m is the SGD velocity; v is used by Adam/AdamW only and may be
 * NULL for SGD; m may be NULL for SGD with momentum 0). HT_ERR_ARG, with
 * nothing written, for an unknown kind, lr, l1, l2, momentum or
 * weight_decay negative or not finite, and for Adam/AdamW beta1 or beta2
 * outside [0,1), eps not finite and > 0, or bc1, bc2 not > 0. */
ht_status ht_optim_step(size_t n, float *w, const float *g, float *m,
                        float *v, const ht_optim_hyper *h);

/* The 64-bit stream key of one row's dropout mask (splitmix64 chain over
 * seed, layer, step, row). */
uint64_t ht_dropout_key(uint64_t seed, uint32_t layer, uint64_t step,
                        uint64_t row);

/* Whether an output of `bytes` bytes should be written around the caches
 * (non-temporal stores): true when it would fill at least a quarter of the
 * shared last-level cache hwloc reports (8 MiB assumed when it reports
 * none) and four times L2. Such an output is evicted, by itself or by the
 * other threads' data, before a later pass could read it back, so the
 * read-for-ownership of each line that a cached store costs (a third of a
 * copy's traffic) buys nothing. A training step's activations (batch x
 * layer width) stay far below it. The dropout API and the benchmarks pass
 * it to the kernels; results are the same either way. The environment
 * variable HPCTRAIN_STREAM_STORES=off makes it always false (on some
 * machines plain stores measure faster: docs/PERFORMANCE.md); "auto",
 * empty or unset is the rule above, and any other value makes
 * ht_runtime_init() fail. Loads the topology once per process;
 * thread-safe. */
int ht_stream_stores(size_t bytes);

/* The policy behind ht_stream_stores: returns 1 when outputs of at least
 * *min_bytes bytes are streamed (the default, HPCTRAIN_STREAM_STORES unset
 * or "auto"), 0 when never ("off"). *bad (either pointer may be NULL) is
 * the variable's value when it is none of these (the policy is then the
 * default), else NULL: static storage, the first 63 bytes of the value,
 * never to be freed. Reads the variable once per process. Thread-safe. */
int ht_stream_policy(size_t *min_bytes, const char **bad);

/* Integer drop threshold for probability p in [0,1): a 16-bit draw r
 * (simd/rng.h) drops the element when r < threshold, threshold =
 * round(p * 2^16), at most 65535 (p is quantised to 1/65536). */
uint32_t ht_dropout_threshold(float p);

/* The scale of kept elements for drop probability p in [0,1): 1/q, q =
 * (65536 - ht_dropout_threshold(p)) / 65536 the exact keep rate of the
 * masks, rounded to float. Not 1/(1-p): the two differ by the
 * quantisation of p, relatively by up to 2^-17/(1-p), which near p = 1
 * would bias E[y] (at p = 0.99999 the masks keep 1/65536 and 1/(1-p)
 * would inflate E[y] by half). Equal to 1/(1-p) whenever p*65536 is an
 * integer (p = 0.5, 0.25, ...). 1 for p <= 0. Pure; thread-safe. */
float ht_dropout_scale(float p);

/* Writes the keep-bits of one row of n elements to bits[0..ceil(n/32)):
 * bit j of the row is (bits[j/32] >> (j%32)) & 1; unused high bits of the
 * last word are 0. p in [0,1), else HT_ERR_ARG. */
ht_status ht_dropout_mask(uint64_t key, size_t n, float p, uint32_t *bits);

/* Inverted dropout over `rows` rows of `cols` elements:
 *   y[i][j] = keep(i,j) ? x[i][j] * ht_dropout_scale(p) : 0
 * with row i's mask from ht_dropout_key(seed, layer, step, row0 + i),
 * written as bits to mask + i*mask_ld (mask_ld >= ceil(cols/32)). y may
 * equal x (in place, then with ldy == ldx, else HT_ERR_ARG); otherwise
 * they must not overlap. ldx, ldy >= cols. p == 0 copies x and sets every
 * bit. Rows are not processed in order: row i goes with row i + rows/2. */
ht_status ht_dropout_forward(size_t rows, size_t cols,
                             const float *x, size_t ldx,
                             float *y, size_t ldy, float p,
                             uint64_t seed, uint32_t layer, uint64_t step,
                             uint64_t row0, uint32_t *mask, size_t mask_ld);

/* Backward of ht_dropout_forward with the same mask:
 *   dx[i][j] = keep(i,j) ? dy[i][j] * ht_dropout_scale(p) : 0.  dx may
 * equal dy (in place, then with lddx == lddy, else HT_ERR_ARG); otherwise
 * they must not overlap. */
ht_status ht_dropout_backward(size_t rows, size_t cols,
                              const float *dy, size_t lddy,
                              float *dx, size_t lddx, float p,
                              const uint32_t *mask, size_t mask_ld);

/* Information about the active kernel table, for `hpctrain info` and
 * benchmark context. Thread-safe; fields valid for the process. */
typedef struct ht_isa_info {
    const char *name;      /* "scalar", "avx2", "neon"                      */
    int mr, nr;            /* SGEMM micro-tile                              */
    size_t mc, kc, nc;     /* cache blocking in use                         */
} ht_isa_info;
ht_status ht_isa_get_info(ht_isa_info *info);

#ifdef __cplusplus
}
#endif

#endif /* HPCTRAIN_KERNELS_H */
