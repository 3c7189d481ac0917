/* Pieces of the NEON (AdvSIMD, baseline armv8-a) kernel table. Each file
 * fills its own entries; init.c puts them together. Only built on aarch64. */
#ifndef HT_SIMD_NEON_H
#define HT_SIMD_NEON_H

#include "table.h"

void ht_neon_init_gemm(ht_kernels *k);
void ht_neon_init_smalln(ht_kernels *k);
void ht_neon_init_elementwise(ht_kernels *k);
void ht_neon_init_softmax(ht_kernels *k);
void ht_neon_init_optim(ht_kernels *k);
void ht_neon_init_dropout(ht_kernels *k);

#endif
