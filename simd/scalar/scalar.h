/* Pieces of the scalar table, also reused by other ISAs' init functions. */
#ifndef HT_SIMD_SCALAR_H
#define HT_SIMD_SCALAR_H

#include "table.h"

void ht_scalar_init_gemm(ht_kernels *k);
void ht_scalar_init_elementwise(ht_kernels *k);

#endif
