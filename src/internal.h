/* Internal helpers shared by src/: the kernel table, threads, memory. */
#ifndef HT_INTERNAL_H
#define HT_INTERNAL_H

#include <stddef.h>

#include "hpctrain.h"
#include "../simd/table.h"

/* 64-byte aligned allocation (cache line, and the packing contract);
 * NULL on failure or size 0. Free with ht_aligned_free (NULL is a no-op). */
void *ht_aligned_alloc(size_t bytes);
void ht_aligned_free(void *p);

/* Threads to use for `flops` of work: at most ht_get_num_threads(), at least
 * 1, and no more than one per HT_MIN_FLOPS_PER_THREAD so small operations
 * stay on few threads. */
#define HT_MIN_FLOPS_PER_THREAD 4.0e6
int ht_threads_for_work(double flops);

/* omp_get_thread_num(), or 0 without OpenMP. */
int ht_thread_num(void);

#endif
