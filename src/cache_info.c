/* Cache sizes from hwloc, read once, and the SGEMM block sizes derived from
 * them (BLIS's analytical rule of thumb: B's micro-panel in half of L1, A's
 * block in a quarter of L2 so the B panels and C tiles streaming past do not
 * evict it, B's block in a share of L3). On a 2 MiB L2, MC = 336 ran 2048^3
 * at 77 GFLOP/s against 70-74 for MC = 678 (half of L2). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Size in bytes of cpu0's cache of `level` (data or unified) from Linux's
 * sysfs, the files hwloc's own Linux backend reads; 0 if none. */
static size_t sysfs_cache(int level)
{
    for (int i = 0; i < 8; i++) {
        char path[96], type[32] = "";
        int lv = 0;
        unsigned long kb = 0;
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            return 0;
        const int ok = fscanf(f, "%d", &lv) == 1;
        fclose(f);
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (!ok || lv != level || (f = fopen(path, "r")) == NULL)
            continue;
        const int tok = fscanf(f, "%31s", type) == 1;
        fclose(f);
        if (!tok || strcmp(type, "Instruction") == 0)
            continue;
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        const int sok = fscanf(f, "%luK", &kb) == 1;
        fclose(f);
        if (sok)
            return (size_t)kb << 10;
    }
    return 0;
}

/* Some virtual machines have no cache directory in sysfs (an Oxide "Turin"
 * guest here). glibc's sysconf reads CPUID on x86 itself, so it still knows
 * this machine's caches; 0 where it does not. */
static size_t sysconf_cache(int level)
{
    long v = -1;
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE) &&      \
    defined(_SC_LEVEL3_CACHE_SIZE)
    v = sysconf(level == 1   ? _SC_LEVEL1_DCACHE_SIZE
                : level == 2 ? _SC_LEVEL2_CACHE_SIZE
                             : _SC_LEVEL3_CACHE_SIZE);
#else
    (void)level;
#endif
    return v > 0 ? (size_t)v : 0;
}

/* This machine's cache of `level` without hwloc's word for it. */
static size_t own_cache(int level)
{
    const size_t s = sysfs_cache(level);
    return s != 0 ? s : sysconf_cache(level);
}

static void read_caches(void)
{
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0)
        return;
    /* HWLOC_XMLFILE / HWLOC_SYNTHETIC make hwloc load another machine (for
     * planning tests), and no hwloc call overrides them. The block sizes,
     * and with KC the bits of every GEMM, must not follow an environment
     * variable: read this machine's caches from sysfs or sysconf then. */
    if (hwloc_topology_load(t) == 0) {
        const int here = hwloc_topology_is_thissystem(t);
        static const hwloc_obj_type_t type[3] = {
            HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L3CACHE};
        static const size_t least[3] = {4u << 10, 32u << 10, 256u << 10};
        size_t *dst[3] = {&cache_l1, &cache_l2, &cache_l3};
        for (int i = 0; i < 3; i++) {
            /* this machine's hwloc may know no caches either (a build
             * without its CPUID backend): the same fallback then, so the
             * blocking never depends on where the sizes came from */
            size_t s = here ? level_size(t, type[i]) : 0;
            if (s == 0)
                s = own_cache(i + 1);
            if (s >= least[i])
                *dst[i] = s;
        }
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

/* HPCTRAIN_STREAM_STORES, read once: unset, empty or "auto" -> 1 (the
 * size rule), "off" -> 0; anything else is kept for the error message. */
static int stream_auto = 1;
static char stream_bad[64];
static pthread_once_t stream_once = PTHREAD_ONCE_INIT;

static void read_stream_mode(void)
{
    const char *v = getenv("HPCTRAIN_STREAM_STORES");
    if (v == NULL || *v == '\0' || strcmp(v, "auto") == 0)
        return;
    if (strcmp(v, "off") == 0)
        stream_auto = 0;
    else
        snprintf(stream_bad, sizeof stream_bad, "%s", v);
}

int ht_stream_policy(size_t *min_bytes, const char **bad)
{
    pthread_once(&stream_once, read_stream_mode);
    size_t l1, l2, l3;
    ht_cache_sizes(&l1, &l2, &l3);
    if (min_bytes)
        *min_bytes = l3 / 4 > l2 * 4 ? l3 / 4 : l2 * 4;
    if (bad)
        *bad = stream_bad[0] ? stream_bad : NULL;
    return stream_auto;
}

int ht_stream_stores(size_t bytes)
{
    size_t min_bytes;
    return ht_stream_policy(&min_bytes, NULL) && bytes >= min_bytes;
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
