/* Pieces of the AVX2 table, each filled by the file that owns it. */
#ifndef HT_SIMD_AVX2_H
#define HT_SIMD_AVX2_H

#include "table.h"

void ht_avx2_init_gemm(ht_kernels *k);
void ht_avx2_init_elementwise(ht_kernels *k);

/* Called by ht_avx2_init_elementwise. */
void ht_avx2_init_optim(ht_kernels *k);
void ht_avx2_init_softmax(ht_kernels *k);
void ht_avx2_init_dropout(ht_kernels *k);

#endif
