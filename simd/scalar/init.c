/* The scalar table: implements every entry in portable C. */
#include "scalar.h"

void ht_kernels_init_scalar(ht_kernels *k)
{
    *k = (ht_kernels){0};
    k->name = "scalar";
    ht_scalar_init_gemm(k);
    ht_scalar_init_elementwise(k);
}
