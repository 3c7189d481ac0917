/* Internal pieces of the SGEMM driver (src/gemm*.c). */
#ifndef HT_GEMM_H
#define HT_GEMM_H

#include <stddef.h>

#include "../simd/table.h"

/* Cache sizes in bytes as hwloc reports them for the first core (L1d, L2,
 * L3), with defaults 32 KiB / 256 KiB / 8 MiB for any level hwloc cannot
 * tell. Loads the topology once per process. Thread-safe. */
void ht_cache_sizes(size_t *l1d, size_t *l2, size_t *l3);

/* Sets k->kc, k->mc, k->nc from the cache sizes and k->mr, k->nr:
 *   kc: a KC x NR panel of B fills half of L1d;
 *   mc: an MC x KC block of A fills a quarter of L2;
 *   nc: a KC x NC block of B fills a quarter of L3 (at most 4080 columns).
 * Called by the dispatcher right after a table is filled. */
void ht_gemm_tune_blocking(ht_kernels *k);

/* Packing workspace: a process-wide pool of 64-byte aligned buffers, grown
 * on demand and reused, so a GEMM call does not allocate once warm.
 * Concurrent calls each check out their own buffer. Returns NULL (and no
 * handle) if the allocation fails. Thread-safe; not inside kernels. */
typedef struct ht_gemm_ws ht_gemm_ws;
ht_gemm_ws *ht_gemm_ws_get(size_t floats, float **buf);
void ht_gemm_ws_put(ht_gemm_ws *w);

/* Frees every buffer not checked out (also run at process exit). Call it
 * only while no GEMM runs if it must free everything. Thread-safe. */
void ht_gemm_workspace_release(void);

#endif
