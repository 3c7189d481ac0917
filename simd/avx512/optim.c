/* The fused optimiser step with 16 lanes: the body of simd/optim_body.h
 * over the AVX-512 vector layer, bitwise the AVX2 kernel's and the scalar
 * twin's results (optim_body.h says why).
 *
 * Why it has an AVX-512 body, unlike the other memory-bound kernels: out
 * of cache it is bound by memory, but with the parameters in cache it is
 * bound by arithmetic, Adam most. On the Zen 5 guest, one thread (medians
 * of 3 runs of bench_elementwise, isa:1 against isa:2): SGD-momentum + L2
 * at 64 Ki floats 6.8-7.9 -> 5.3-6.3 us, Adam + L2 29.1-29.7 -> 15.8-16.2
 * us, and at 1 Mi floats 515 -> 313-322 us. Inside the trainer's
 * weight-gradient GEMM (src/train.c, optim_block), where its weights and
 * state stream from L3 or memory, the benchmark configuration's step was
 * about 1 % faster (16 alternated pairs of runs, 12 faster), and an Adam
 * configuration's no faster. */
#include "avx512.h"
#include "vec.h"
#include "../optim_body.h"

void ht_avx512_optim_init(ht_kernels *k)
{
    k->optim_step = optim_step_v;
    k->optim_tile = optim_tile_v;
}
