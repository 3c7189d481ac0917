/* The NEON table: starts from the scalar table so no entry is ever left
 * NULL, then overrides every entry with a hand-written AdvSIMD kernel
 * (tests/test_neon_table.c checks that none is still the scalar twin). */
#include "neon.h"

void ht_kernels_init_neon(ht_kernels *k)
{
    ht_kernels_init_scalar(k);
    k->name = "neon";
    ht_neon_init_gemm(k);
    ht_neon_init_smalln(k);
    ht_neon_init_elementwise(k);
    ht_neon_init_softmax(k);
    ht_neon_init_optim(k);
    ht_neon_init_dropout(k);
}
