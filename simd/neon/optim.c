/* The fused optimiser step with 4 lanes (SGD, momentum, Nesterov, Adam,
 * AdamW, each with L1 sign / L2 gradient terms or proximal L1, per
 * include/hpctrain/kernels.h): the body of simd/optim_body.h over the NEON
 * vector layer, so w, m and v are bitwise the scalar table's (and the x86
 * tables'); tests/test_neon.c checks that. Until this body was shared, this
 * file had a copy of its own with the same operations. */
#include "neon.h"
#include "vec.h"
#include "../optim_body.h"

void ht_neon_init_optim(ht_kernels *k)
{
    k->optim_step = optim_step_v;
    k->optim_tile = optim_tile_v;
}
