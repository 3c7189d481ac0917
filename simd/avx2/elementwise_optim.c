/* The fused optimiser step with 8 lanes: the body of optim_body.h over
 * the AVX2 vector layer (its comment gives the conventions and why the
 * results are bitwise the scalar twin's). */
#include "avx2.h"
#include "vec.h"
#include "../optim_body.h"

static void optim_tile_avx2(size_t rows, size_t n, size_t ld, float *w,
                            const float *g, size_t ldg, float *m, float *v,
                            const ht_optim_hyper *h)
{
    optim_tile_body(rows, n, ld, w, g, ldg, m, v, h);
}

static void optim_step_avx2(size_t n, float *w, const float *g, float *m,
                            float *v, const ht_optim_hyper *h)
{
    optim_tile_avx2(1, n, n, w, g, n, m, v, h);
}

void ht_avx2_init_optim(ht_kernels *k)
{
    k->optim_step = optim_step_avx2;
    k->optim_tile = optim_tile_avx2;
}
