/* Cache sizes from hwloc, read once, and the SGEMM block sizes derived from
 * them (BLIS's analytical rule of thumb: B's micro-panel in half of L1, A's
 * block in a quarter of L2 so the B panels and C tiles streaming past do not
 * evict it, B's block in a share of L3). On a 2 MiB L2, MC = 336 ran 2048^3
 * at 77 GFLOP/s against 70-74 for MC = 678 (half of L2). */
#include <pthread.h>

#include <hwloc.h>

#include "gemm.h"
#include "hpctrain/kernels.h"

static size_t cache_l1 = 32u << 10, cache_l2 = 256u << 10, cache_l3 = 8u << 20;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static size_t level_size(hwloc_topology_t t, hwloc_obj_type_t type)
{
    hwloc_obj_t o = hwloc_get_next_obj_by_type(t, type, NULL);
    if (o == NULL || o->attr == NULL)
        return 0;
    return (size_t)o->attr->cache.size;
}

static void read_caches(void)
{
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0)
        return;
    if (hwloc_topology_load(t) == 0) {
        size_t s;
        if ((s = level_size(t, HWLOC_OBJ_L1CACHE)) >= (4u << 10))
            cache_l1 = s;
        if ((s = level_size(t, HWLOC_OBJ_L2CACHE)) >= (32u << 10))
            cache_l2 = s;
        if ((s = level_size(t, HWLOC_OBJ_L3CACHE)) >= (256u << 10))
            cache_l3 = s;
    }
    hwloc_topology_destroy(t);
}

void ht_cache_sizes(size_t *l1d, size_t *l2, size_t *l3)
{
    pthread_once(&cache_once, read_caches);
    *l1d = cache_l1;
    *l2 = cache_l2;
    *l3 = cache_l3;
}

int ht_stream_stores(size_t bytes)
{
    size_t l1, l2, l3;
    ht_cache_sizes(&l1, &l2, &l3);
    return bytes >= l3 / 4 && bytes >= l2 * 4;
}

static size_t clamp(size_t v, size_t lo, size_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void ht_gemm_tune_blocking(ht_kernels *k)
{
    size_t l1, l2, l3;
    ht_cache_sizes(&l1, &l2, &l3);
    const size_t mr = (size_t)k->mr, nr = (size_t)k->nr;
    size_t kc = clamp(l1 / 2 / (nr * sizeof(float)), 64, 1024) / 8 * 8;
    size_t mc = clamp(l2 / 4 / (kc * sizeof(float)), mr, 4096) / mr * mr;
    size_t nc = clamp(l3 / 4 / (kc * sizeof(float)), nr, 4080) / nr * nr;
    k->kc = kc;
    k->mc = mc;
    k->nc = nc;
}
