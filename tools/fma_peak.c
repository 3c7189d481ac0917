/* Measured FMA peak of this machine for single-precision AVX2 (8-wide)
 * fused multiply-adds: 12 independent accumulator chains per thread (more
 * than latency x ports on any AVX2 core), run for a fixed time on 1..T
 * threads; prints GFLOP/s per thread count, best of 5. It is the
 * denominator of "% of peak" in docs/SCALING.md and bench/compare_torch.sh.
 *
 * Build (a tool, not part of the library; needs an AVX2+FMA CPU):
 *   cc -O2 -mavx2 -mfma -fopenmp tools/fma_peak.c -o build/fma_peak
 * Run: build/fma_peak [max_threads]   (default: OpenMP's thread count) */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define CHAINS 12
#define INNER 4096L

/* FMA flops done by one thread in `iters` outer iterations. The chains
 * are separate variables, not an array, so they stay in registers at any
 * optimisation level (an array indexed in a loop that is not unrolled
 * goes through memory and measures store-forwarding latency instead). */
static double run(long iters, float *sink)
{
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    __m256 c0 = _mm256_set1_ps(0.0f), c1 = _mm256_set1_ps(1.0f);
    __m256 c2 = _mm256_set1_ps(2.0f), c3 = _mm256_set1_ps(3.0f);
    __m256 c4 = _mm256_set1_ps(4.0f), c5 = _mm256_set1_ps(5.0f);
    __m256 c6 = _mm256_set1_ps(6.0f), c7 = _mm256_set1_ps(7.0f);
    __m256 c8 = _mm256_set1_ps(8.0f), c9 = _mm256_set1_ps(9.0f);
    __m256 c10 = _mm256_set1_ps(10.0f), c11 = _mm256_set1_ps(11.0f);
    for (long it = 0; it < iters * INNER; it++) {
        c0 = _mm256_fmadd_ps(c0, a, b);
        c1 = _mm256_fmadd_ps(c1, a, b);
        c2 = _mm256_fmadd_ps(c2, a, b);
        c3 = _mm256_fmadd_ps(c3, a, b);
        c4 = _mm256_fmadd_ps(c4, a, b);
        c5 = _mm256_fmadd_ps(c5, a, b);
        c6 = _mm256_fmadd_ps(c6, a, b);
        c7 = _mm256_fmadd_ps(c7, a, b);
        c8 = _mm256_fmadd_ps(c8, a, b);
        c9 = _mm256_fmadd_ps(c9, a, b);
        c10 = _mm256_fmadd_ps(c10, a, b);
        c11 = _mm256_fmadd_ps(c11, a, b);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1),
                                           _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5),
                                           _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9),
                                       _mm256_add_ps(c10, c11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    *sink = out[0];
    return (double)iters * INNER * CHAINS * 8 * 2;
}

int main(int argc, char **argv)
{
    int maxt = argc > 1 ? atoi(argv[1]) : omp_get_max_threads();
    if (maxt < 1)
        maxt = 1;
    const long iters = 2000;  /* ~0.1-0.2 s per repetition */
    float sink = 0.0f;
    for (int t = 1; t <= maxt; t++) {
        double best = 0.0;
        for (int rep = 0; rep < 5; rep++) {
            double flops = 0.0, t0 = 0.0, t1 = 0.0;
            #pragma omp parallel num_threads(t) reduction(+ : flops)
            {
                float s;
                #pragma omp barrier
                #pragma omp master
                t0 = omp_get_wtime();
                flops += run(iters, &s);
                #pragma omp barrier
                #pragma omp master
                t1 = omp_get_wtime();
                #pragma omp atomic
                sink += s;
            }
            const double g = flops / (t1 - t0) * 1e-9;
            best = g > best ? g : best;
        }
        printf("threads %d  %.1f GFLOP/s  (%.1f per thread)\n", t, best,
               best / t);
    }
    return sink == 12345.0f;  /* keeps the work alive */
}
