/* The AVX2+FMA table: the scalar table with the AVX2 kernels on top. */
#include "avx2.h"

void ht_kernels_init_avx2(ht_kernels *k)
{
    ht_kernels_init_scalar(k);
    k->name = "avx2";
    ht_avx2_init_elementwise(k);
}
