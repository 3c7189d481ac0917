/* The AVX-512 table: the AVX2+FMA table with the SGEMM packed and small-N
 * paths, the softmax forward and the two-row dropout replaced (see
 * avx512.h for why only those). */
#include "avx512.h"

void ht_kernels_init_avx512(ht_kernels *k)
{
    ht_kernels_init_avx2(k);
    k->name = "avx512";
    ht_avx512_init_gemm(k);
    ht_avx512_gemm_smalln_init(k);
    ht_avx512_softmax_init(k);
    ht_avx512_dropout_init(k);
    ht_avx512_optim_init(k);
}
