/* Internal pieces of the SGEMM driver (src/gemm*.c). */
#ifndef HT_GEMM_H
#define HT_GEMM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../simd/table.h"
#include "barrier.h"

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
/* How many allocations the pool has made since the process started (a
 * pool entry or a buffer grown): tests check that warm calls add none.
 * Thread-safe. */
unsigned long ht_gemm_ws_allocations(void);

/* Frees every buffer not checked out (also run at process exit). Call it
 * only while no GEMM runs if it must free everything. Thread-safe. */
void ht_gemm_workspace_release(void);

/* One thread's claims on the dynamic paths of the team calls (gemm.c), a
 * cache line each: `word` holds the call's number and the range of units
 * (column panels or row blocks) the thread still owns (taken by CAS);
 * `calls` counts the team calls the thread has entered (only the thread
 * itself touches it). */
typedef struct ht_gemm_claim {
    _Atomic uint64_t word;
    uint64_t calls;
    unsigned char pad[48];
} ht_gemm_claim;

/* --------------------------------------------------------------- team
 * SGEMM inside a running parallel region (the trainer's persistent team):
 * every thread of the team calls ht_sgemm_team with the same arguments and
 * its own tid in [0, size). The call computes the plan ht_sgemm_ex would
 * compute for min(size, work-based) threads, where a team thread needs a
 * third of the work a forked one does (the same kind of grid, K slices and
 * small-N choice, so the same bits as ht_sgemm for any team size); threads
 * tid >= t return at once, the first t compute their output tiles, meeting
 * at the team's own barrier (never an OpenMP barrier, never a nested
 * region). Each thread returns the same status (errors come from the
 * arguments and the workspace size only). The caller separates two calls
 * (and any use of C) with a barrier of the whole team. */
typedef struct ht_gemm_team {
    int size;            /* threads in the team                          */
    float *ws;           /* shared packing workspace, 64-byte aligned    */
    size_t ws_floats;
    /* Each thread's own packing buffer (64-byte aligned, own_floats each),
     * or NULL: then a call lays the threads' buffers out in ws. */
    float *const *own;
    size_t own_floats;
    ht_barrier bar;
    /* Per thread, its unit claims (dynamic calls, gemm.c); NULL when the
     * workspace had no room for them (then every call is static). */
    ht_gemm_claim *claims;
    /* Tests only: runs on each unit a thread claims on a dynamic path,
     * before computing it (NULL: nothing). */
    void (*panel_hook)(void *ctx, int tid, size_t panel);
    void *hook_ctx;
} ht_gemm_team;

/* Sets up a team of `size` threads over a workspace the caller owns
 * (ws_floats >= the largest ht_sgemm_team_ws_floats of the calls to come,
 * which includes one 64-byte line per thread for the unit claims, taken
 * from the front of ws). Call once, outside the calls. */
void ht_gemm_team_init(ht_gemm_team *g, int size, float *ws, size_t ws_floats);

/* The same, with a buffer per thread: thread i packs its A panels (and its
 * B panels, when no other thread reads them) into own[i], which the caller
 * can place on thread i's NUMA node; ws holds the claim words (at its
 * front, ht_gemm_team_claim_floats(size)), the B panels that threads of a
 * grid column share and the small-N path's packed B. The caller owns the
 * buffers and the array, which must outlive the team's calls; own_floats
 * >= the largest *own of ht_sgemm_team_ws_split over the calls to come,
 * ws_floats >= the claims plus the largest *shared. Call once, outside the
 * calls. */
void ht_gemm_team_init_own(ht_gemm_team *g, int size, float *ws,
                           size_t ws_floats, float *const *own,
                           size_t own_floats);

/* Floats of the claim words at the front of a team's ws (0 for size 1). */
size_t ht_gemm_team_claim_floats(int size);

/* What one team call of this shape needs with per-thread buffers: floats
 * in the shared ws (*shared, claims not included) and in each thread's own
 * buffer (*own), and the threads it runs on (*threads, may be NULL); all
 * 0 for an empty call. post as for ht_sgemm_team_ws_floats. Thread-safe. */
void ht_sgemm_team_ws_split(int team, int transa, int transb, size_t m,
                            size_t n, size_t k, int post, size_t *shared,
                            size_t *own, int *threads);

/* Floats of workspace one team call of this shape needs (0 for an empty
 * one), with a post hook (ht_sgemm_team_post with post != NULL) or
 * without. Thread-safe; may run anywhere. */
size_t ht_sgemm_team_ws_floats(int team, int transa, int transb, size_t m,
                               size_t n, size_t k, int post);

/* C = alpha op(A) op(B) + beta C with the epilogue (as ht_sgemm_ex), by
 * the team. HT_ERR_ARG for bad arguments or too little workspace. Inside a
 * parallel region whose threads are the team; no allocation. */
ht_status ht_sgemm_team(ht_gemm_team *g, int tid, int transa, int transb,
                        size_t m, size_t n, size_t k, float alpha,
                        const float *a, size_t lda, const float *b,
                        size_t ldb, float beta, float *c, size_t ldc,
                        const ht_epilogue *epi);

/* Work on finished blocks of C: fn(ctx, row, col, m, n, tile, ldt) runs
 * once for each block C[row .. row+m) x [col .. col+n) of a team call, on
 * the thread that computed it, right after its last K slice: a micro-tile
 * (MR x NR at most) on the packed path, still in L1, with the tiles of a
 * row block visited left to right (so what fn reads and writes beside C,
 * row-major like C, is walked forward); a block of rows on the small-N
 * path. The block's values are at tile (rows ldt apart): C itself, or,
 * with consume, possibly a scratch tile of the thread's. The blocks tile C
 * exactly once; which thread gets which block depends on the team size,
 * so fn must treat every element alike (elementwise work: the same bits
 * for any split). fn may read and write the tile and any memory no other
 * thread touches during the call; it must not wait for other threads.
 * consume != 0 says fn is C's only reader: a call with beta = 0 and one K
 * slice then hands fn its packed-path tiles in scratch and never stores
 * them to C (the weight gradient goes from the micro-kernel to the
 * optimiser without a trip through memory); elsewhere C is written as
 * without a hook. The micro-kernel calls, and so the values, are the same
 * with or without a hook. Not thread-safe across calls sharing a team (as
 * ht_sgemm_team). */
typedef struct ht_gemm_post {
    void (*fn)(void *ctx, size_t row, size_t col, size_t m, size_t n,
               const float *tile, size_t ldt);
    void *ctx;
    int consume;
} ht_gemm_post;

/* ht_sgemm_team, with post (may be NULL) on every finished block. */
ht_status ht_sgemm_team_post(ht_gemm_team *g, int tid, int transa,
                             int transb, size_t m, size_t n, size_t k,
                             float alpha, const float *a, size_t lda,
                             const float *b, size_t ldb, float beta, float *c,
                             size_t ldc, const ht_epilogue *epi,
                             const ht_gemm_post *post);

#endif
