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

double ht_test_min_work_scale = 1.0;

int ht_threads_for_work(double flops)
{
    int t = ht_get_num_threads();
    const double min = HT_MIN_FLOPS_PER_THREAD * ht_test_min_work_scale;
    /* min 0 (tests): no floor, and no division by zero */
    double by_work = min > 0.0 ? flops / min : (double)t;
    if (by_work < t)
        t = by_work < 1.0 ? 1 : (int)by_work;
    return t;
}

int ht_thread_num(void)
{
    return omp_get_thread_num();
}
