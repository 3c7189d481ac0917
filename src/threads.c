#include <omp.h>

#include "internal.h"

static int requested;   /* 0: the default, ht_default_threads() */

/* The default is the physical cores of the usable cpuset (or
 * OMP_NUM_THREADS), not omp_get_max_threads(), which counts SMT siblings:
 * two threads on one core share its FMA units and gain nothing in GEMM. */
int ht_get_num_threads(void)
{
    return requested > 0 ? requested : ht_default_threads();
}

void ht_set_num_threads(int n)
{
    requested = n > 0 ? n : 0;
}

int ht_threads_for_work(double flops)
{
    int t = ht_get_num_threads();
    double by_work = flops / HT_MIN_FLOPS_PER_THREAD;
    if (by_work < t)
        t = by_work < 1.0 ? 1 : (int)by_work;
    return t;
}

int ht_thread_num(void)
{
    return omp_get_thread_num();
}
