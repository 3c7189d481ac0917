/* The fused optimiser step with 8 lanes: the body of optim_body.h over
 * the AVX2 vector layer (its comment gives the conventions and why the
 * results are bitwise the scalar twin's). */
#include "avx2.h"
#include "vec.h"
#include "../optim_body.h"

void ht_avx2_init_optim(ht_kernels *k)
{
    k->optim_step = optim_step_v;
    k->optim_tile = optim_tile_v;
}
