/* The ht_topology object, shared by topology.c (load, queries), placement.c
 * (the pure plan), bind.c and numa_alloc.c (the apply layer). */
#ifndef HT_TOPOLOGY_INTERNAL_H
#define HT_TOPOLOGY_INTERNAL_H

#include <pthread.h>

#include <hwloc.h>

#include "hpctrain/topology.h"

/* What happened to one thread id's binding. */
enum { HT_SLOT_NONE = 0, HT_SLOT_BOUND, HT_SLOT_FAILED, HT_SLOT_OMP };

typedef struct ht_bind_slot {
    int state;        /* HT_SLOT_*                                           */
    int pu;           /* PU the plan asked for                               */
    char got[48];     /* cpuset read back after binding, as a list           */
} ht_bind_slot;

struct ht_topology {
    hwloc_topology_t h;
    int fake;                 /* synthetic/XML by our API, or hwloc says so */
    char source[128];         /* "this system", "synthetic \"...\"", ...    */
    hwloc_bitmap_t usable;    /* allowed cpuset ∩ the process's PUs at load
                                 (its binding, or the union of the OpenMP
                                 places: see process_cpus in topology.c)  */

    /* placement domains: NUMA nodes with usable PUs, logical order; a PU
     * shared with an earlier node's cpuset stays with the earlier one */
    int n_domains;
    hwloc_obj_t *dom_node;
    hwloc_bitmap_t *dom_cpus;

    /* OpenMP binding variables, read once at load */
    int omp_binding;
    char omp_env[96];
    int omp_places;           /* places OpenMP binds threads to; 0 if it
                                 does not bind (or a fake topology)       */

    /* apply log, guarded by lock */
    pthread_mutex_t lock;
    int n_slots;              /* = usable PUs: the most threads a plan has */
    ht_bind_slot *slots;
    int threads_bound, threads_failed;
    int bufs_bound, bufs_interleaved, bufs_first_touch, bufs_fallback;
    char cpu_fail[160];       /* first thread-binding failure              */
    char mem_fail[160];       /* first memory-binding failure              */
};

/* Counts of usable cores and PUs inside cpus (a subset of usable). A
 * topology without Core objects counts each PU as a core. */
void ht_topo_count(const ht_topology *t, hwloc_const_bitmap_t cpus,
                   int *cores, int *pus);

/* Appends formatted text at *pos of buf[len] (never overflowing, always
 * terminated) and advances *pos by the full length, so the final *pos is
 * what the whole text needs. */
void ht_buf_append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* hwloc bitmap as a list ("0-3,8"), cut with "..." to fit len. */
void ht_bitmap_list(char *buf, size_t len, hwloc_const_bitmap_t set);

/* The topology of this machine, loaded once per process (the one
 * ht_default_threads reads); NULL if hwloc cannot load it. Never freed;
 * its apply report is the process's. Thread-safe. */
ht_topology *ht_process_topology(void);

/* ht_numa_alloc's interleave set: the nodes of the first k placement
 * domains, or of all of them when k <= 0 or k > n_domains. */
void ht_interleave_nodes(const ht_topology *t, int k, hwloc_bitmap_t set);

/* Records a memory allocation's outcome in the apply log. */
void ht_topo_log_buf(ht_topology *t, const ht_numa_buf *b);

/* Records thread tid as not bound when it skips ht_plan_bind_thread
 * because another thread's binding was already refused, unless its slot
 * already says what happened: so the report counts every thread of the
 * plan, not only those that tried. No-op on a fake topology, under OpenMP
 * binding, or for a tid outside the plan. Thread-safe; one call per tid. */
void ht_plan_bind_skipped(ht_topology *t, const ht_plan *p, int tid);

#endif
