/* Measured FMA peak of this machine for single-precision fused
 * multiply-adds of the vector width it is built for: 8-wide AVX2 by
 * default, 16-wide AVX-512 when built with -mavx512f (the peak for
 * hpctrain's avx512 table). 12 independent accumulator chains per thread
 * (more than latency x ports on any such core), run for a fixed time on
 * 1..T threads; prints GFLOP/s per thread count, best of 5. It is the
 * denominator of "% of peak" in docs/SCALING.md and bench/compare_torch.sh.
 *
 * Build (a tool, not part of the library; needs an AVX2+FMA CPU):
 *   cc -O2 -mavx2 -mfma -fopenmp tools/fma_peak.c -o build/fma_peak
 *   cc -O2 -mavx512f -mfma -fopenmp tools/fma_peak.c -o build/fma_peak512
 * Run: build/fma_peak [max_threads]   (default: OpenMP's thread count) */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define CHAINS 12
#define INNER 4096L

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#else
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#endif

/* FMA flops done by one thread in `iters` outer iterations. The chains
 * are separate variables, not an array, so they stay in registers at any
 * optimisation level (an array indexed in a loop that is not unrolled
 * goes through memory and measures store-forwarding latency instead). */
static double run(long iters, float *sink)
{
    const vec a = SET1(0.999999f), b = SET1(1e-7f);
    vec c0 = SET1(0.0f), c1 = SET1(1.0f), c2 = SET1(2.0f), c3 = SET1(3.0f);
    vec c4 = SET1(4.0f), c5 = SET1(5.0f), c6 = SET1(6.0f), c7 = SET1(7.0f);
    vec c8 = SET1(8.0f), c9 = SET1(9.0f), c10 = SET1(10.0f);
    vec c11 = SET1(11.0f);
    for (long it = 0; it < iters * INNER; it++) {
        c0 = FMA(c0, a, b);
        c1 = FMA(c1, a, b);
        c2 = FMA(c2, a, b);
        c3 = FMA(c3, a, b);
        c4 = FMA(c4, a, b);
        c5 = FMA(c5, a, b);
        c6 = FMA(c6, a, b);
        c7 = FMA(c7, a, b);
        c8 = FMA(c8, a, b);
        c9 = FMA(c9, a, b);
        c10 = FMA(c10, a, b);
        c11 = FMA(c11, a, b);
    }
    vec s = ADD(ADD(ADD(c0, c1), ADD(c2, c3)), ADD(ADD(c4, c5), ADD(c6, c7)));
    s = ADD(s, ADD(ADD(c8, c9), ADD(c10, c11)));
    float out[LANES];
    STORE(out, s);
    *sink = out[0];
    return (double)iters * INNER * CHAINS * LANES * 2;
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
        printf("threads %d  %.1f GFLOP/s  (%.1f per thread, %d-lane FMA)\n",
               t, best, best / t, LANES);
    }
    return sink == 12345.0f;  /* keeps the work alive */
}
