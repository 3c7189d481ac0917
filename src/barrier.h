/* A spinning barrier for a sub-team of a running OpenMP team (src/barrier.c).
 *
 * Inside the trainer's persistent parallel region an operation may use only
 * the first t of the team's T threads; those t must meet without the other
 * T - t, which `#pragma omp barrier` cannot do (it waits for the whole team
 * and, as a task scheduling point, for every pending task as well). */
#ifndef HT_BARRIER_H
#define HT_BARRIER_H

#include <stdatomic.h>

typedef struct ht_barrier {
    atomic_uint arrived;     /* threads arrived in the current episode      */
    atomic_uint generation;  /* bumped by the last arrival: the "sense"     */
} ht_barrier;

/* Zeroes the barrier. Not while any thread waits on it. */
void ht_barrier_init(ht_barrier *b);

/* Waits until n threads (n >= 1) have called it in this episode. Every
 * participant of one episode passes the same n; episodes must not overlap
 * (the next one starts after all n have returned from the previous one,
 * which holds when each participant calls it in program order). n may
 * change between episodes. Full memory fence: writes before the call are
 * visible to every participant after it. Thread-safe; meant for parallel
 * regions; no allocation. */
void ht_barrier_wait(ht_barrier *b, unsigned n);

#endif
