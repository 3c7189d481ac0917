/* How long one cache line takes to go from one CPU to another and back:
 * two threads, bound to PUs A and B, hand a counter to each other through
 * one line, 10^6 times; prints the median over 7 runs of the round trip.
 * Two PUs behind one L3 pass the line through it; behind different L3s
 * (AMD CCDs, sockets) through the fabric, which is what the trainer's
 * barriers, claim words and shared panels pay on such a machine.
 *
 * Build: cc -O2 -std=c11 -D_GNU_SOURCE -pthread tools/line_pingpong.c \
 *           -o build/line_pingpong
 * Run:   build/line_pingpong [A B]   (default 0 1; under the exclusive lock) */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define TRIPS 1000000
#define REPS 7

static _Alignas(64) atomic_long line;

static void *pong(void *arg)
{
    (void)arg;
    for (long i = 0; i < (long)TRIPS * REPS; i++) {
        while (atomic_load_explicit(&line, memory_order_acquire) != 2 * i + 1) {
        }
        atomic_store_explicit(&line, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const int a = argc > 2 ? atoi(argv[1]) : 0;
    const int b = argc > 2 ? atoi(argv[2]) : 1;
    cpu_set_t sa, sb;
    CPU_ZERO(&sa);
    CPU_SET(a, &sa);
    CPU_ZERO(&sb);
    CPU_SET(b, &sb);
    pthread_attr_t attr;
    pthread_t t;
    /* the partner is bound before it starts, or never starts */
    if (pthread_setaffinity_np(pthread_self(), sizeof sa, &sa) != 0 ||
        pthread_attr_init(&attr) != 0 ||
        pthread_attr_setaffinity_np(&attr, sizeof sb, &sb) != 0 ||
        pthread_create(&t, &attr, pong, NULL) != 0) {
        fprintf(stderr, "line_pingpong: cannot bind to PUs %d and %d\n", a, b);
        return 1;
    }
    pthread_attr_destroy(&attr);
    double ns[REPS];
    long i = 0;
    for (int r = 0; r < REPS; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long j = 0; j < TRIPS; j++, i++) {
            atomic_store_explicit(&line, 2 * i + 1, memory_order_release);
            while (atomic_load_explicit(&line, memory_order_acquire) != 2 * i + 2) {
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ns[r] = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
                 (double)(t1.tv_nsec - t0.tv_nsec)) / TRIPS;
    }
    pthread_join(t, NULL);
    qsort(ns, REPS, sizeof ns[0], cmp);
    printf("PU %d <-> PU %d: cache-line round trip %.1f ns (median of %d x %d; "
           "min %.1f, max %.1f)\n", a, b, ns[REPS / 2], REPS, TRIPS, ns[0],
           ns[REPS - 1]);
    return 0;
}
