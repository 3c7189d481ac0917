/* The SGEMM packing workspace pool: buffers outlive calls, so a warm GEMM
 * never allocates; each call checks one out, so concurrent calls on
 * different threads never share one. Memory comes from ht_aligned_alloc
 * (the allocation layer that places memory on NUMA nodes). */
#include <pthread.h>
#include <stdlib.h>

#include "gemm.h"
#include "internal.h"

struct ht_gemm_ws {
    float *buf;
    size_t cap;             /* floats */
    struct ht_gemm_ws *next;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static ht_gemm_ws *idle;
static _Atomic unsigned long allocations; /* for tests: see gemm.h */

unsigned long ht_gemm_ws_allocations(void)
{
    return allocations;
}
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void release_at_exit(void) { ht_gemm_workspace_release(); }
static void register_exit(void) { atexit(release_at_exit); }

ht_gemm_ws *ht_gemm_ws_get(size_t floats, float **buf)
{
    pthread_once(&exit_once, register_exit);
    pthread_mutex_lock(&pool_lock);
    ht_gemm_ws *w = idle;
    if (w)
        idle = w->next;
    pthread_mutex_unlock(&pool_lock);
    if (w == NULL) {
        allocations++;
        w = calloc(1, sizeof *w);
        if (w == NULL)
            return NULL;
    }
    if (w->cap < floats) {
        ht_aligned_free(w->buf);
        allocations++;
        /* a little headroom so a slightly larger shape does not regrow */
        size_t cap = floats + floats / 4 + 1024;
        w->buf = ht_aligned_alloc(cap * sizeof(float));
        w->cap = w->buf ? cap : 0;
        if (w->buf == NULL) {
            ht_gemm_ws_put(w);
            return NULL;
        }
    }
    *buf = w->buf;
    return w;
}

void ht_gemm_ws_put(ht_gemm_ws *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&pool_lock);
    w->next = idle;
    idle = w;
    pthread_mutex_unlock(&pool_lock);
}

void ht_gemm_workspace_release(void)
{
    pthread_mutex_lock(&pool_lock);
    ht_gemm_ws *w = idle;
    idle = NULL;
    pthread_mutex_unlock(&pool_lock);
    while (w) {
        ht_gemm_ws *next = w->next;
        ht_aligned_free(w->buf);
        free(w);
        w = next;
    }
}
