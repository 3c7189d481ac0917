/* The AVX2+FMA table: starts from the scalar table and overrides what this
 * folder implements. */
#include "avx2.h"

void ht_kernels_init_avx2(ht_kernels *k)
{
    ht_kernels_init_scalar(k);
    k->name = "avx2";
    ht_avx2_init_gemm(k);
    ht_avx2_init_elementwise(k);
}
