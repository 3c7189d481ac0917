#include <omp.h>

#include "internal.h"

/* 0: the default, ht_default_threads() (physical cores of the allowed
 * cpuset, or OMP_NUM_THREADS clamped to the usable PUs) */
static int requested;

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
