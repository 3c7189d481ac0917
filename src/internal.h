/* Internal helpers shared by src/: the kernel table, threads, memory. */
#ifndef HT_INTERNAL_H
#define HT_INTERNAL_H

#include <stddef.h>

#include "hpctrain.h"
#include "hpctrain/topology.h"
#include "../simd/table.h"

/* 64-byte aligned allocation (cache line, and the packing contract);
 * NULL on failure or size 0. Free with ht_aligned_free (NULL is a no-op). */
void *ht_aligned_alloc(size_t bytes);
void ht_aligned_free(void *p);

/* Node-aware variant for the trainer's slabs: `bytes` on NUMA node `node`
 * (HT_MEM_BIND), interleaved over the topology's CPU-bearing nodes
 * (HT_MEM_INTERLEAVE) or plain (HT_MEM_FIRST_TOUCH), through ht_numa_alloc;
 * t == NULL gives plain first-touch pages. Page-aligned (so 64-byte
 * aligned), untouched: first-touch it with the schedule that will use it
 * (ht_plan_touch_rows / ht_plan_touch_share). *in_force (may be NULL)
 * receives the policy that really holds (first touch when binding was
 * refused; the topology's report records it). NULL on failure with
 * ht_last_error() set: size 0, out of memory, or a topology that is not
 * this system. Free with ht_aligned_free_placed (NULL is a no-op), before
 * the topology. Thread-safe; not inside a parallel region. */
void *ht_aligned_alloc_placed(ht_topology *t, size_t bytes,
                              ht_mem_policy policy, int node,
                              ht_mem_policy *in_force);
void ht_aligned_free_placed(void *p);

/* Threads to use for `flops` of work: at most ht_get_num_threads(), at least
 * 1, and no more than one per HT_MIN_FLOPS_PER_THREAD so small operations
 * stay on few threads. */
#define HT_MIN_FLOPS_PER_THREAD 4.0e6
int ht_threads_for_work(double flops);

/* Tests only: multiplies every minimum work per thread (the one above and
 * the GEMM driver's, gemm.c) so that tests can make small models split
 * every operation over the whole team, as large ones do, and check that
 * no result depends on the split. 1 by default (production never changes
 * it); 0 means no minimum: an operation then runs on every thread it has
 * units of work for. Not part of the public API. Set it outside any
 * parallel region; it is read once per operation. */
extern double ht_test_min_work_scale;

/* omp_get_thread_num(), or 0 without OpenMP. */
int ht_thread_num(void);

#endif
