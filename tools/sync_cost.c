/* What synchronisation costs on this machine, for docs/SCALING.md: an
 * empty fork/join parallel region (what the old trainer paid per
 * operation), an OpenMP barrier inside a persistent region, and the
 * scheduler's own sub-team barrier (src/barrier.c). Medians of 7 runs of
 * 20000 crossings, per crossing, for 1..T threads.
 *
 * Build: cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -fopenmp -Isrc \
 *           tools/sync_cost.c src/barrier.c -o build/sync_cost
 * Run:   build/sync_cost [max_threads]   (under the exclusive lock) */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "barrier.h"

#define N 20000
#define REPS 7

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, REPS, sizeof *v, cmp);
    return v[REPS / 2];
}

int main(int argc, char **argv)
{
    int maxt = argc > 1 ? atoi(argv[1]) : omp_get_max_threads();
    static ht_barrier bar;
    ht_barrier_init(&bar);
    printf("threads  fork/join(us)  omp barrier(us)  ht_barrier(us)\n");
    for (int t = 1; t <= maxt; t++) {
        double fj[REPS], ob[REPS], hb[REPS];
        for (int r = 0; r < REPS; r++) {
            double t0 = omp_get_wtime();
            for (int i = 0; i < N; i++) {
                #pragma omp parallel num_threads(t)
                {
                    __asm__ volatile("" ::: "memory");
                }
            }
            fj[r] = (omp_get_wtime() - t0) / N * 1e6;
            double t1 = 0.0, t2 = 0.0, t3 = 0.0;
            #pragma omp parallel num_threads(t)
            {
                #pragma omp barrier
                #pragma omp master
                t1 = omp_get_wtime();
                for (int i = 0; i < N; i++) {
                    #pragma omp barrier
                }
                #pragma omp master
                t2 = omp_get_wtime();
                for (int i = 0; i < N; i++)
                    ht_barrier_wait(&bar, (unsigned)omp_get_num_threads());
                #pragma omp master
                t3 = omp_get_wtime();
            }
            ob[r] = (t2 - t1) / N * 1e6;
            hb[r] = (t3 - t2) / N * 1e6;
        }
        printf("%7d  %13.3f  %15.3f  %14.3f\n", t, median(fj), median(ob),
               median(hb));
    }
    return 0;
}
