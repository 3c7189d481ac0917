/* Pieces of the AVX2+FMA table (simd/avx2/), each filled by its own file. */
#ifndef HT_SIMD_AVX2_H
#define HT_SIMD_AVX2_H

#include "table.h"

/* SGEMM: packing, the 6x16 micro-kernel and the small-N paths. */
void ht_avx2_init_gemm(ht_kernels *k);
/* Parts of ht_avx2_init_gemm, one per file. */
void ht_avx2_gemm_pack_init(ht_kernels *k);
void ht_avx2_gemm_smalln_init(ht_kernels *k);

/* Dense-layer elementwise kernels, regularisers, optimiser, dropout. */
void ht_avx2_init_elementwise(ht_kernels *k);
/* Parts of ht_avx2_init_elementwise. */
void ht_avx2_init_optim(ht_kernels *k);
void ht_avx2_init_softmax(ht_kernels *k);
void ht_avx2_init_dropout(ht_kernels *k);

/* The table's softmax_xent_fwd, also the AVX-512 kernel's path for the
 * rows it leaves (simd/avx512/softmax.c). */
void ht_avx2_softmax_xent_fwd(size_t m, size_t n, const float *logits,
                              size_t ldl, const int32_t *label, float *probs,
                              size_t ldp, float *loss_row, int stream);

#endif
