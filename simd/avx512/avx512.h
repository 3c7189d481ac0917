/* Pieces of the AVX-512 table (simd/avx512/), each filled by its own file.
 * The table extends the AVX2+FMA one: every AVX-512 CPU has AVX2 and FMA.
 * Only the kernels bound by arithmetic gain from 16-float registers: the
 * SGEMM paths, the softmax forward, whose exp makes it slower than memory
 * with 8 lanes, the dropout generator, and the optimiser step, whose Adam
 * (two divisions and a square root per element) is bound by arithmetic
 * even from L3. The other elementwise kernels are bound by memory, where
 * wider registers buy nothing.
 * Needs AVX512F and AVX512BW (the dropout's 16-bit compare): every
 * AVX-512 CPU since Skylake-SP has both (simd/dispatch.c checks). */
#ifndef HT_SIMD_AVX512_H
#define HT_SIMD_AVX512_H

#include "table.h"

/* SGEMM: the 8x32 micro-kernel and its packing routines. */
void ht_avx512_init_gemm(ht_kernels *k);
void ht_avx512_gemm_pack_init(ht_kernels *k);
/* SGEMM: the small-N (output layer) paths with 16 lanes. */
void ht_avx512_gemm_smalln_init(ht_kernels *k);
/* Softmax + cross-entropy forward, 16 rows per register. */
void ht_avx512_softmax_init(ht_kernels *k);
/* Two-row dropout (fwd2, mask2): both rows' generators in one register. */
void ht_avx512_dropout_init(ht_kernels *k);
/* The fused optimiser step (optim_step, optim_tile), 16 lanes. */
void ht_avx512_optim_init(ht_kernels *k);

#endif
