/* hpctrain topology and NUMA placement, through hwloc.
 *
 * Three layers, kept apart so the logic can be tested on machines we do not
 * have:
 *   1. ht_topology: what the machine looks like (the real one, or a fake
 *      one from an hwloc synthetic string or XML file, loaded in code).
 *   2. ht_plan: a pure function of (topology, threads, batch rows) that says
 *      which thread runs on which PU, which NUMA node owns each thread's
 *      batch rows, and how parameters are placed. No system calls.
 *   3. The apply layer (ht_plan_bind_thread, ht_numa_alloc, the touch
 *      helpers): the only code that binds threads or memory. It refuses a
 *      topology that is not this system (hwloc's hooks for a fake topology
 *      "succeed" without doing anything), falls back to first touch where
 *      binding is not allowed, and records what actually happened so the
 *      report never claims a binding that failed.
 *
 * Placement policy (see docs/numa.md for the reasoning and numbers):
 *   - threads are spread over the NUMA nodes that have usable CPUs, in
 *     contiguous blocks of thread ids (the first nodes take the remainder),
 *     one PU per physical core first, SMT siblings only after every core of
 *     the node has a thread;
 *   - thread t owns batch rows [floor(t*n/T), floor((t+1)*n/T)), a node
 *     owns the union of its threads' rows, so the row block is
 *     proportional to its thread count; the trainer first-touches each
 *     row of its work slab (batch rows, activations, masks, gradients of
 *     activations) from the owning thread, so the row's pages are on that
 *     thread's node. Which threads later read and write a row is the
 *     kernels' business (docs/SCALING.md, section 2): not only the owner.
 *     The training team's GEMM packing buffers: each thread's own (its A
 *     panels, B panels no other thread reads) bound to the thread's node,
 *     the shared one (B panels a grid column of threads shares) placed as
 *     the parameters below;
 *   - parameters, their gradients and optimiser state are INTERLEAVED page
 *     by page over the plan's nodes (bound to the single node when there is
 *     one), not replicated: the arithmetic, and therefore the bits, stay the
 *     same for any thread or node count, and memory is not multiplied.
 *
 * "Usable" PUs are the topology's allowed cpuset (cgroups) intersected with
 * the PUs the process may run on at load time (taskset, numactl; under
 * OMP_PROC_BIND / OMP_PLACES / GOMP_CPU_AFFINITY the union of the OpenMP
 * places, since the runtime has already bound the initial thread to the
 * first one), so a plan never places a thread where the process may not
 * run.
 */
#ifndef HPCTRAIN_TOPOLOGY_H
#define HPCTRAIN_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "../hpctrain.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- topology */

typedef struct ht_topology ht_topology;

/* Loads the topology of the machine this process runs on. Load it before
 * binding any thread: the usable cpuset is the process's PUs at load.
 * If HWLOC_XMLFILE or HWLOC_SYNTHETIC is set in the environment, hwloc
 * loads that instead and ht_topology_is_this_system() says 0, which the
 * apply layer honours (its source names the variable). *out is owned by
 * the caller (ht_topology_free). Thread-safe; not inside a parallel region
 * (it takes milliseconds). */
ht_status ht_topology_load(ht_topology **out);

/* Loads a fake topology from an hwloc synthetic description such as
 * "pack:2 numa:1 core:2 pu:1" (HT_ERR_FORMAT if hwloc rejects it), or from
 * an hwloc XML file (HT_ERR_IO if unreadable, HT_ERR_FORMAT if malformed).
 * Such a topology is never "this system", whatever HWLOC_THISSYSTEM says:
 * plans can be computed on it, nothing can be applied. Thread-safe. */
ht_status ht_topology_load_synthetic(const char *desc, ht_topology **out);
ht_status ht_topology_load_xml(const char *path, ht_topology **out);

/* Frees a topology; NULL is a no-op. Buffers from ht_numa_alloc on it must
 * be freed first. Not concurrently with any other call on the same
 * topology; not inside a parallel region that uses it. */
void ht_topology_free(ht_topology *t);

/* 1 if the topology describes the machine this process runs on, so that
 * binding calls mean something; else 0. Thread-safe. */
int ht_topology_is_this_system(const ht_topology *t);

/* Counts over usable PUs, and cache sizes. Thread-safe (read-only). */
typedef struct ht_topology_summary {
    int packages;        /* packages holding at least one usable PU       */
    int numa_nodes;      /* all NUMA nodes, CPU-less ones included        */
    int cpu_numa_nodes;  /* NUMA nodes with usable PUs = placement domains */
    int cores;           /* physical cores with at least one usable PU    */
    int pus;             /* usable PUs (hardware threads)                 */
    size_t l1d_bytes;    /* size of one L1 data cache; 0 if not reported  */
    size_t l2_bytes;     /* size of one L2; 0 if not reported             */
    size_t l3_bytes;     /* size of one L3; 0 if not reported             */
    uint64_t memory_bytes; /* total NUMA memory hwloc reports; 0 if none   */
} ht_topology_summary;

ht_status ht_topology_summary_get(const ht_topology *t, ht_topology_summary *s);

/* One placement domain (a NUMA node with usable PUs), i in
 * [0, cpu_numa_nodes), in hwloc's logical order. HT_ERR_ARG if out of
 * range. Thread-safe. */
typedef struct ht_domain_info {
    unsigned node_os;      /* OS index of the NUMA node (numactl's number) */
    int cores;             /* usable physical cores in it                  */
    int pus;               /* usable PUs in it                             */
    uint64_t memory_bytes; /* node's local memory; 0 if unknown            */
    char cpus[96];         /* usable PUs by OS index, "0-3,8-11" (cut with
                              "..." when longer)                           */
} ht_domain_info;

ht_status ht_topology_domain(const ht_topology *t, int i, ht_domain_info *out);

/* Default thread count: the usable physical cores, but no more than the
 * OpenMP places when the runtime binds threads to places (OMP_PLACES,
 * OMP_PROC_BIND, GOMP_CPU_AFFINITY; this system only), so no two default
 * threads share a place; or the first value of OMP_NUM_THREADS when set
 * ("8" or "8,2"; nesting is never used), clamped to the usable PUs so a
 * run never oversubscribes (`clamped` says so: report it). HT_ERR_ARG
 * (naming the variable and value) if OMP_NUM_THREADS is set but not a
 * positive integer; out is still filled, with the default that ignores it
 * (libgomp, too, ignores a malformed value). Thread-safe if nobody
 * modifies the environment concurrently. */
typedef struct ht_thread_choice {
    int threads;   /* the choice, >= 1                                    */
    int cores;     /* usable physical cores                               */
    int pus;       /* usable PUs                                          */
    int places;    /* OpenMP places threads are bound to; 0 if unbound    */
    int from_env;  /* 1 if OMP_NUM_THREADS decided                        */
    int clamped;   /* 1 if OMP_NUM_THREADS asked for more than `pus`      */
} ht_thread_choice;

ht_status ht_topology_default_threads(const ht_topology *t,
                                      ht_thread_choice *out);

/* The same choice for this process, computed once (the environment and
 * affinity at the first call), with its counts: those of the process
 * topology (ht_topology_load), or, when that is not this system
 * (HWLOC_XMLFILE, HWLOC_SYNTHETIC) or cannot load, the process's affinity
 * and SMT siblings as the kernel reports them. A malformed OMP_NUM_THREADS
 * gives HT_ERR_ARG with the same message on every call (out is still
 * filled). Thread-safe. */
ht_status ht_process_threads(ht_thread_choice *out);

/* ht_process_threads' `threads`: the default of ht_get_num_threads().
 * Thread-safe. */
int ht_default_threads(void);

/* Writes a multi-line description (source, counts, caches, domains) into
 * buf, always NUL-terminated when len > 0; returns the length the whole
 * text needs, like snprintf. Thread-safe. */
size_t ht_topology_describe(const ht_topology *t, char *buf, size_t len);

/* -------------------------------------------------------------------- plan */

typedef enum ht_mem_policy {
    HT_MEM_FIRST_TOUCH = 0, /* no binding: pages land where first written  */
    HT_MEM_BIND = 1,        /* all pages on one NUMA node                  */
    HT_MEM_INTERLEAVE = 2   /* pages round-robin over the domains' nodes   */
} ht_mem_policy;

/* A static string: "first-touch", "bound", "interleaved". Thread-safe. */
const char *ht_mem_policy_str(ht_mem_policy p);

/* A placement plan. All arrays belong to the plan (one allocation, freed by
 * ht_plan_free) and are read-only for the caller. Domains without threads
 * are left out, so every domain has at least one thread. */
typedef struct ht_plan {
    int n_threads;
    int n_domains;
    size_t n_rows;             /* batch rows partitioned below             */
    int max_smt;               /* most threads sharing one core (1 = none) */
    /* per thread, index tid in [0, n_threads) */
    const int *thread_domain;  /* its domain                                */
    const int *thread_pu;      /* OS index of its PU                        */
    const int *thread_core;    /* logical index of its core                 */
    const int *thread_smt;     /* 0 on the core's first PU, 1 the next ...  */
    const size_t *thread_row_begin, *thread_row_end;   /* [begin, end)     */
    /* per domain, index d in [0, n_domains) */
    const int *domain_node;    /* OS index of its NUMA node                 */
    const int *domain_thread_begin, *domain_thread_end; /* [begin, end)    */
    const size_t *domain_row_begin, *domain_row_end;   /* [begin, end)     */
    /* parameters, gradients, optimiser state: HT_MEM_INTERLEAVE over the
     * domains' nodes when n_domains > 1, else HT_MEM_BIND to domain 0's */
    ht_mem_policy param_policy;
    char topology[160];        /* one-line summary of the source topology  */
} ht_plan;

/* Computes the plan for n_threads threads and a batch of n_rows rows.
 * Pure: reads the topology, makes no system call, same output for the same
 * inputs. HT_ERR_ARG if n_threads < 1 or more than the usable PUs (never
 * oversubscribe). n_rows may be 0 (all row ranges empty). *out is owned by
 * the caller (ht_plan_free). Thread-safe. */
ht_status ht_plan_compute(const ht_topology *t, int n_threads, size_t n_rows,
                          ht_plan **out);

/* Frees a plan; NULL is a no-op. Not while another thread reads it. */
void ht_plan_free(ht_plan *p);

/* Multi-line description of the plan (what `hpctrain info --topology`
 * prints): domains with their threads, rows and PUs, then one line per
 * thread. snprintf-like return. Thread-safe. */
size_t ht_plan_describe(const ht_plan *p, char *buf, size_t len);

/* ------------------------------------------------------------------- apply */

/* Binds the calling thread to plan->thread_pu[tid] (hwloc_set_cpubind,
 * THREAD), then reads the binding back. Call it once per thread at the
 * start of the persistent parallel region, with tid = omp_get_thread_num().
 *   HT_OK: bound and verified; or OMP_PROC_BIND / OMP_PLACES /
 *     GOMP_CPU_AFFINITY was set at topology load, so binding is left to
 *     OpenMP and nothing is changed (the report says so).
 *   HT_ERR_UNSUPPORTED: nothing was bound: the topology is not this
 *     system, hwloc cannot bind threads here, or the OS refused (the
 *     message and the report say which); the caller continues unbound.
 *   HT_ERR_ARG: tid out of range, or the plan names a PU this topology
 *     lacks.
 * Thread-safe; meant to run inside a parallel region, one call per tid. */
ht_status ht_plan_bind_thread(ht_topology *t, const ht_plan *p, int tid);

/* Memory from ht_numa_alloc. `ptr` is page-aligned (so 64-byte aligned),
 * `in_force` is the policy that really holds: it differs from `requested`
 * when binding failed (then HT_MEM_FIRST_TOUCH, with `why`), or when an
 * interleave set has a single node (then HT_MEM_BIND). */
typedef struct ht_numa_buf {
    void *ptr;
    size_t bytes;            /* as requested                               */
    size_t mapped;           /* bytes actually mapped (whole pages)        */
    ht_mem_policy requested;
    ht_mem_policy in_force;
    int node;                /* NUMA node OS index for HT_MEM_BIND, else -1 */
    char why[160];           /* why in_force != requested; "" otherwise    */
    ht_topology *topo;       /* needed to free; must outlive the buffer    */
} ht_numa_buf;

/* Allocates `bytes` (> 0) with hwloc_alloc_membind:
 *   HT_MEM_BIND on NUMA node `node` (OS index, must be allowed),
 *   HT_MEM_INTERLEAVE over the nodes of the first `node` placement domains
 *     (a plan's domains are always the topology's first plan->n_domains,
 *     in order: pass that to interleave over the plan's nodes), or over
 *     every placement domain's node when `node` <= 0 or is larger,
 *   HT_MEM_FIRST_TOUCH plain pages (`node` ignored).
 * If binding is not supported or not permitted (containers without the
 * permission, emulators) the memory is still allocated, in_force is
 * HT_MEM_FIRST_TOUCH, `why` says what failed, and the topology's report
 * records the fallback. Nothing is touched: pages are placed when first
 * written, which for a bound policy is harmless and for first touch means
 * the threads that will use the memory should write it first
 * (ht_plan_touch_rows / ht_plan_touch_share).
 * HT_ERR_UNSUPPORTED for a topology that is not this system, HT_ERR_ARG for
 * a bad policy or node, HT_ERR_NOMEM. The caller frees with ht_numa_free.
 * Thread-safe; not inside a parallel region (mmap is slow). */
ht_status ht_numa_alloc(ht_topology *t, size_t bytes, ht_mem_policy policy,
                        int node, ht_numa_buf *out);

/* Frees and zeroes a buffer; a zeroed or NULL buf is a no-op. Thread-safe
 * on distinct buffers; the buffer's topology must still be alive. */
void ht_numa_free(ht_numa_buf *b);

/* First touch with the plan's static schedule. Thread tid writes zeros to
 * its rows [thread_row_begin, thread_row_end) of a buffer of n_rows rows of
 * row_bytes each (touch_rows), or to its 1/n_threads share of a buffer of
 * `bytes`, split at page boundaries (touch_share, for parameters when
 * interleaving fell back to first touch). Call from every thread of the
 * region, after binding. Thread-safe on distinct tids; no allocation. */
void ht_plan_touch_rows(const ht_plan *p, int tid, void *base,
                        size_t row_bytes);
void ht_plan_touch_share(const ht_plan *p, int tid, void *base, size_t bytes);

/* What the apply layer has actually done on this topology so far. */
typedef struct ht_apply_report {
    int this_system;
    int cpubind_supported;  /* hwloc can bind this thread here             */
    int membind_supported;  /* hwloc can allocate bound memory here        */
    int omp_binding;        /* OMP_PROC_BIND etc. set: binding left to OMP */
    int threads_bound;      /* verified ht_plan_bind_thread successes      */
    int threads_failed;     /* bind attempts that did not hold             */
    int bufs_bound, bufs_interleaved, bufs_first_touch; /* by in_force     */
    int bufs_fallback;      /* of which first touch because binding failed */
    char cpu_policy[192];   /* one line: what holds for threads            */
    char mem_policy[192];   /* one line: what holds for memory             */
    char warning[256];      /* the first failure; "" if none               */
} ht_apply_report;

/* Snapshot of the report. Thread-safe. */
void ht_apply_report_get(ht_topology *t, ht_apply_report *r);

/* Start-up text: threads with the PU each is really bound to (as read back
 * after binding), the CPU and memory policies in force, and at most one
 * "warning:" line. snprintf-like return. Thread-safe. */
size_t ht_apply_describe(ht_topology *t, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* HPCTRAIN_TOPOLOGY_H */
