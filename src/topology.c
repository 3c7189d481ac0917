/* Loading a topology (real, synthetic, XML) and the read-only queries on
 * it: counts, caches, placement domains, the default thread count. */
#define _GNU_SOURCE   /* sched_getaffinity, CPU_ALLOC */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <omp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "topology_internal.h"

void ht_buf_append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *dst = *pos < len ? buf + *pos : NULL;
    size_t room = *pos < len ? len - *pos : 0;
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        *pos += (size_t)n;
}

void ht_bitmap_list(char *buf, size_t len, hwloc_const_bitmap_t set)
{
    if (len == 0)
        return;
    int n = hwloc_bitmap_list_snprintf(buf, len, set);
    if (n >= 0 && (size_t)n >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
}

void ht_topo_count(const ht_topology *t, hwloc_const_bitmap_t cpus,
                   int *cores, int *pus)
{
    hwloc_bitmap_t in = hwloc_bitmap_alloc();
    hwloc_bitmap_and(in, cpus, t->usable);
    *pus = hwloc_bitmap_weight(in);
    if (hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_CORE) <= 0) {
        *cores = *pus;
    } else {
        int n = 0;
        hwloc_obj_t c = NULL;
        while ((c = hwloc_get_next_obj_by_type(t->h, HWLOC_OBJ_CORE, c)))
            n += hwloc_bitmap_intersects(c->cpuset, in);
        *cores = n;
    }
    hwloc_bitmap_free(in);
}

/* NUMA nodes with usable PUs become placement domains. The most local
 * nodes (smallest cpusets) claim their PUs first, so a memory-only node
 * attached high in the tree (CXL, HBM in flat mode, a second node per
 * package) gets no PUs that a closer node already has and is left out. */
static ht_status find_domains(ht_topology *t)
{
    int n = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_NUMANODE);
    if (n <= 0)
        return ht_error(HT_ERR_FORMAT, "topology %s has no NUMA node",
                        t->source);
    hwloc_obj_t *order = calloc((size_t)n, sizeof *order);
    t->dom_node = calloc((size_t)n, sizeof *t->dom_node);
    t->dom_cpus = calloc((size_t)n, sizeof *t->dom_cpus);
    hwloc_bitmap_t claimed = hwloc_bitmap_alloc();
    hwloc_bitmap_t *mine = calloc((size_t)n, sizeof *mine);
    if (!order || !t->dom_node || !t->dom_cpus || !claimed || !mine) {
        free(order);
        free(mine);
        hwloc_bitmap_free(claimed);
        return ht_error(HT_ERR_NOMEM, "topology: out of memory");
    }
    for (int i = 0; i < n; i++)
        order[i] = hwloc_get_obj_by_type(t->h, HWLOC_OBJ_NUMANODE, (unsigned)i);
    /* insertion sort by usable weight, then logical index: n is small */
    for (int i = 1; i < n; i++) {
        hwloc_obj_t x = order[i];
        int j = i - 1;
        for (; j >= 0; j--) {
            hwloc_bitmap_t a = hwloc_bitmap_alloc(), b = hwloc_bitmap_alloc();
            hwloc_bitmap_and(a, order[j]->cpuset, t->usable);
            hwloc_bitmap_and(b, x->cpuset, t->usable);
            int wa = hwloc_bitmap_weight(a), wb = hwloc_bitmap_weight(b);
            hwloc_bitmap_free(a);
            hwloc_bitmap_free(b);
            if (wa < wb || (wa == wb && order[j]->logical_index < x->logical_index))
                break;
            order[j + 1] = order[j];
        }
        order[j + 1] = x;
    }
    for (int i = 0; i < n; i++) {
        hwloc_bitmap_t s = hwloc_bitmap_alloc();
        hwloc_bitmap_and(s, order[i]->cpuset, t->usable);
        hwloc_bitmap_andnot(s, s, claimed);
        hwloc_bitmap_or(claimed, claimed, s);
        mine[order[i]->logical_index] = s;
    }
    /* domains in the nodes' logical order */
    for (int i = 0; i < n; i++) {
        if (!hwloc_bitmap_iszero(mine[i])) {
            t->dom_node[t->n_domains] =
                hwloc_get_obj_by_type(t->h, HWLOC_OBJ_NUMANODE, (unsigned)i);
            t->dom_cpus[t->n_domains++] = mine[i];
        } else {
            hwloc_bitmap_free(mine[i]);
        }
    }
    free(mine);
    free(order);
    hwloc_bitmap_free(claimed);
    if (t->n_domains == 0)
        return ht_error(HT_ERR_FORMAT, "topology %s: no NUMA node has a "
                        "usable PU", t->source);
    return HT_OK;
}

static const char *const omp_bind_vars[] = {"OMP_PROC_BIND", "OMP_PLACES",
                                            "GOMP_CPU_AFFINITY"};

#define N_OMP_BIND_VARS (sizeof omp_bind_vars / sizeof omp_bind_vars[0])

static int omp_bind_env(void)
{
    for (size_t i = 0; i < N_OMP_BIND_VARS; i++) {
        const char *v = getenv(omp_bind_vars[i]);
        if (v && *v)
            return 1;
    }
    return 0;
}

static void read_omp_env(ht_topology *t)
{
    size_t pos = 0;
    t->omp_env[0] = '\0';
    for (size_t i = 0; i < N_OMP_BIND_VARS; i++) {
        const char *v = getenv(omp_bind_vars[i]);
        if (!v || !*v)
            continue;
        t->omp_binding = 1;
        ht_buf_append(t->omp_env, sizeof t->omp_env, &pos, "%s%s=%s",
                      pos ? " " : "", omp_bind_vars[i], v);
    }
}

/* The PUs of the OpenMP places into set; returns how many places there
 * are (0 when the runtime has none). */
static int omp_place_cpus(hwloc_bitmap_t set)
{
    hwloc_bitmap_zero(set);
    const int n = omp_get_num_places();
    for (int p = 0; p < n; p++) {
        const int k = omp_get_place_num_procs(p);
        int *ids = k > 0 ? malloc((size_t)k * sizeof *ids) : NULL;
        if (ids == NULL)
            continue;
        omp_get_place_proc_ids(p, ids);
        for (int j = 0; j < k; j++)
            if (ids[j] >= 0)
                hwloc_bitmap_set(set, (unsigned)ids[j]);
        free(ids);
    }
    return n > 0 ? n : 0;
}

#if defined(__linux__)
/* The calling thread's affinity, from the kernel: for when hwloc describes
 * another machine, whose binding hooks are no-ops. */
static int os_affinity(hwloc_bitmap_t set)
{
    /* the kernel's CPU count is not known here: grow until it fits */
    for (int n = 1024; n <= (1 << 22); n *= 4) {
        cpu_set_t *cs = CPU_ALLOC(n);
        if (cs == NULL)
            return -1;
        const size_t sz = CPU_ALLOC_SIZE(n);
        CPU_ZERO_S(sz, cs);
        if (sched_getaffinity(0, sz, cs) == 0) {
            hwloc_bitmap_zero(set);
            const int bits = (int)(sz * 8);
            for (int i = 0, left = CPU_COUNT_S(sz, cs); left > 0 && i < bits;
                 i++)
                if (CPU_ISSET_S(i, sz, cs)) {
                    hwloc_bitmap_set(set, (unsigned)i);
                    left--;
                }
            CPU_FREE(cs);
            return 0;
        }
        const int e = errno;
        CPU_FREE(cs);
        if (e != EINVAL)
            return -1;
    }
    return -1;
}

/* Physical cores among the PUs of set, from the kernel's SMT sibling
 * lists: a PU counts unless a lower sibling is in set too; a PU whose list
 * cannot be read counts as a core. */
static int os_cores(hwloc_const_bitmap_t set)
{
    hwloc_bitmap_t sib = hwloc_bitmap_alloc();
    int n = 0, pu;
    hwloc_bitmap_foreach_begin(pu, set) {
        char path[96], line[512];
        ht_snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/"
                    "topology/thread_siblings_list", pu);
        FILE *f = fopen(path, "r");
        int lo = -1;
        if (sib && f && fgets(line, sizeof line, f)) {
            /* hwloc's list parser keeps nothing of a line ending in '\n' */
            line[strcspn(line, "\n")] = '\0';
            if (hwloc_bitmap_list_sscanf(sib, line) == 0) {
                hwloc_bitmap_and(sib, sib, set);
                lo = hwloc_bitmap_first(sib);
            }
        }
        if (f)
            fclose(f);
        n += lo < 0 || lo >= pu;
    } hwloc_bitmap_foreach_end();
    hwloc_bitmap_free(sib);
    return n;
}
#else
static int os_affinity(hwloc_bitmap_t set)
{
    (void)set;
    return -1;
}

static int os_cores(hwloc_const_bitmap_t set)
{
    return hwloc_bitmap_weight(set);
}
#endif

/* The PUs this process may run on, into set: 0, or -1 if unknown.
 * Under OMP_PROC_BIND / OMP_PLACES / GOMP_CPU_AFFINITY (omp_vars) the
 * OpenMP runtime binds the initial thread to its first place before main,
 * so the process binding then shows that one place; the places themselves
 * are cut from the affinity the process started with (taskset, numactl),
 * so their union is what its threads may use. When OpenMP does not bind,
 * the binding is the process's own. Without those variables the runtime
 * is not asked: starting it here would make LLVM's libomp set affinities
 * (fatal where that is refused) and parse OMP_NUM_THREADS (it aborts on a
 * malformed one) before the caller could report anything. h: this
 * system's topology, or NULL to ask the kernel. *places: how many places
 * OpenMP binds threads to, 0 if it does not bind them. */
static int process_cpus(hwloc_topology_t h, hwloc_bitmap_t set, int omp_vars,
                        int *places)
{
    hwloc_bitmap_zero(set);
    const int np = omp_vars ? omp_place_cpus(set) : 0;
    const int binds = omp_vars && omp_get_proc_bind() != omp_proc_bind_false;
    *places = binds ? np : 0;
    int known = np > 0;
    if (!known || !binds) {
        hwloc_bitmap_t b = hwloc_bitmap_alloc();
        if (b && (h ? hwloc_get_cpubind(h, b, HWLOC_CPUBIND_PROCESS)
                    : os_affinity(b)) == 0) {
            if (known)
                hwloc_bitmap_and(set, set, b);
            else
                hwloc_bitmap_copy(set, b);
            known = 1;
        }
        hwloc_bitmap_free(b);
    }
    return known && !hwloc_bitmap_iszero(set) ? 0 : -1;
}

/* The variable that made hwloc load another machine, as NAME=value, in
 * the order hwloc looks at them. */
static void redirect_env(char *buf, size_t len)
{
    static const char *const vars[] = {"HWLOC_FSROOT", "HWLOC_CPUID_PATH",
                                       "HWLOC_SYNTHETIC", "HWLOC_XMLFILE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            ht_snprintf(buf, len, "%s=%s", vars[i], v);
            return;
        }
    }
    ht_snprintf(buf, len, "HWLOC_XMLFILE or HWLOC_SYNTHETIC set?");
}

static ht_status finish(hwloc_topology_t h, int fake, const char *source,
                        ht_topology **out)
{
    ht_topology *t = calloc(1, sizeof *t);
    if (!t) {
        hwloc_topology_destroy(h);
        return ht_error(HT_ERR_NOMEM, "topology: out of memory");
    }
    t->h = h;
    snprintf(t->source, sizeof t->source, "%s", source);
    /* A synthetic description is never a machine, whatever
     * HWLOC_THISSYSTEM claims; its binding hooks are no-ops. */
    const char *backend = hwloc_obj_get_info_by_name(
        hwloc_get_root_obj(h), "Backend");
    t->fake = fake || !hwloc_topology_is_thissystem(h) ||
              (backend && strcmp(backend, "Synthetic") == 0);
    if (!fake && t->fake) {
        char why[112];
        redirect_env(why, sizeof why);
        ht_snprintf(t->source, sizeof t->source, "not this system (%s)", why);
    }
    pthread_mutex_init(&t->lock, NULL);
    t->usable = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(h));
    ht_status s = t->usable ? HT_OK : ht_error(HT_ERR_NOMEM, "topology: out of memory");
    /* whatever the OpenMP variables say: a default that counted PUs the
     * process may not use would put two threads on one PU */
    read_omp_env(t);
    if (s == HT_OK && !t->fake) {
        hwloc_bitmap_t p = hwloc_bitmap_alloc();
        if (p && process_cpus(h, p, t->omp_binding, &t->omp_places) == 0 &&
            hwloc_bitmap_intersects(p, t->usable))
            hwloc_bitmap_and(t->usable, t->usable, p);
        hwloc_bitmap_free(p);
    }
    if (s == HT_OK)
        s = find_domains(t);
    if (s == HT_OK) {
        t->n_slots = hwloc_bitmap_weight(t->usable);
        t->slots = calloc((size_t)t->n_slots, sizeof *t->slots);
        if (!t->slots)
            s = ht_error(HT_ERR_NOMEM, "topology: out of memory");
    }
    if (s != HT_OK) {
        ht_topology_free(t);
        return s;
    }
    *out = t;
    return HT_OK;
}

ht_status ht_topology_load(ht_topology **out)
{
    if (!out)
        return ht_error(HT_ERR_ARG, "ht_topology_load: out is NULL");
    *out = NULL;
    hwloc_topology_t h;
    if (hwloc_topology_init(&h) != 0)
        return ht_error(HT_ERR_NOMEM, "hwloc_topology_init failed");
    if (hwloc_topology_load(h) != 0) {
        int e = errno;
        hwloc_topology_destroy(h);
        return ht_error(HT_ERR_IO, "hwloc cannot read this machine's "
                        "topology: %s", strerror(e));
    }
    return finish(h, 0, "this system", out);
}

ht_status ht_topology_load_synthetic(const char *desc, ht_topology **out)
{
    if (!out || !desc)
        return ht_error(HT_ERR_ARG, "ht_topology_load_synthetic: NULL argument");
    *out = NULL;
    hwloc_topology_t h;
    if (hwloc_topology_init(&h) != 0)
        return ht_error(HT_ERR_NOMEM, "hwloc_topology_init failed");
    if (hwloc_topology_set_synthetic(h, desc) != 0 ||
        hwloc_topology_load(h) != 0) {
        hwloc_topology_destroy(h);
        return ht_error(HT_ERR_FORMAT, "synthetic topology \"%s\": hwloc "
                        "rejects it (see hwloc's synthetic syntax, e.g. "
                        "\"pack:2 numa:1 core:4 pu:2\")", desc);
    }
    char src[128];
    ht_snprintf(src, sizeof src, "synthetic \"%s\"", desc);
    return finish(h, 1, src, out);
}

ht_status ht_topology_load_xml(const char *path, ht_topology **out)
{
    if (!out || !path)
        return ht_error(HT_ERR_ARG, "ht_topology_load_xml: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ht_error(HT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fclose(f);
    hwloc_topology_t h;
    if (hwloc_topology_init(&h) != 0)
        return ht_error(HT_ERR_NOMEM, "hwloc_topology_init failed");
    if (hwloc_topology_set_xml(h, path) != 0 || hwloc_topology_load(h) != 0) {
        hwloc_topology_destroy(h);
        return ht_error(HT_ERR_FORMAT, "%s: not an hwloc XML topology "
                        "(make one with lstopo --of xml)", path);
    }
    char src[128];
    ht_snprintf(src, sizeof src, "XML \"%s\"", path);
    return finish(h, 1, src, out);
}

void ht_topology_free(ht_topology *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n_domains; i++)
        hwloc_bitmap_free(t->dom_cpus[i]);
    free(t->dom_cpus);
    free(t->dom_node);
    free(t->slots);
    hwloc_bitmap_free(t->usable);
    pthread_mutex_destroy(&t->lock);
    hwloc_topology_destroy(t->h);
    free(t);
}

int ht_topology_is_this_system(const ht_topology *t)
{
    return t && !t->fake;
}

static size_t cache_size(const ht_topology *t, hwloc_obj_type_t type)
{
    hwloc_obj_t c = NULL;
    while ((c = hwloc_get_next_obj_by_type(t->h, type, c)))
        if (c->attr && c->attr->cache.type != HWLOC_OBJ_CACHE_INSTRUCTION)
            return (size_t)c->attr->cache.size;
    return 0;
}

ht_status ht_topology_summary_get(const ht_topology *t, ht_topology_summary *s)
{
    if (!t || !s)
        return ht_error(HT_ERR_ARG, "ht_topology_summary_get: NULL argument");
    memset(s, 0, sizeof *s);
    hwloc_obj_t p = NULL;
    while ((p = hwloc_get_next_obj_by_type(t->h, HWLOC_OBJ_PACKAGE, p)))
        s->packages += hwloc_bitmap_intersects(p->cpuset, t->usable);
    s->numa_nodes = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_NUMANODE);
    s->cpu_numa_nodes = t->n_domains;
    ht_topo_count(t, t->usable, &s->cores, &s->pus);
    s->l1d_bytes = cache_size(t, HWLOC_OBJ_L1CACHE);
    s->l2_bytes = cache_size(t, HWLOC_OBJ_L2CACHE);
    s->l3_bytes = cache_size(t, HWLOC_OBJ_L3CACHE);
    hwloc_obj_t n = NULL;
    while ((n = hwloc_get_next_obj_by_type(t->h, HWLOC_OBJ_NUMANODE, n)))
        s->memory_bytes += n->attr ? n->attr->numanode.local_memory : 0;
    return HT_OK;
}

ht_status ht_topology_domain(const ht_topology *t, int i, ht_domain_info *out)
{
    if (!t || !out)
        return ht_error(HT_ERR_ARG, "ht_topology_domain: NULL argument");
    if (i < 0 || i >= t->n_domains)
        return ht_error(HT_ERR_ARG, "ht_topology_domain: domain %d out of "
                        "[0, %d)", i, t->n_domains);
    memset(out, 0, sizeof *out);
    out->node_os = t->dom_node[i]->os_index;
    ht_topo_count(t, t->dom_cpus[i], &out->cores, &out->pus);
    out->memory_bytes = t->dom_node[i]->attr
                            ? t->dom_node[i]->attr->numanode.local_memory : 0;
    ht_bitmap_list(out->cpus, sizeof out->cpus, t->dom_cpus[i]);
    return HT_OK;
}

/* First entry of OMP_NUM_THREADS ("8" or "8,4"); 0 if unset; -1 if bad. */
static long omp_num_threads_env(const char **raw)
{
    const char *v = getenv("OMP_NUM_THREADS");
    *raw = v;
    if (!v || !*v)
        return 0;
    const char *p = v;
    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    errno = 0;
    char *end;
    long n = strtol(p, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || n < 1 || n > INT_MAX || (*end && *end != ','))
        return -1;
    return n;
}

/* The choice from the counts (see ht_topology_default_threads). */
static ht_status choose_threads(int cores, int pus, int places,
                                ht_thread_choice *out)
{
    memset(out, 0, sizeof *out);
    out->cores = cores;
    out->pus = pus;
    out->places = places;
    out->threads = cores > 0 ? cores : 1;
    /* OpenMP binds each thread to a place: a thread past the last place
     * would share a place, and maybe its one PU, with another */
    if (places > 0 && out->threads > places)
        out->threads = places;
    const char *raw;
    long n = omp_num_threads_env(&raw);
    if (n < 0)
        return ht_error(HT_ERR_ARG, "OMP_NUM_THREADS=\"%s\": expected a "
                        "positive integer (or a list such as \"8,2\")", raw);
    if (n > 0) {
        out->from_env = 1;
        out->threads = (int)n;
        if (out->threads > out->pus && out->pus > 0) {
            out->threads = out->pus;
            out->clamped = 1;
        }
    }
    return HT_OK;
}

ht_status ht_topology_default_threads(const ht_topology *t,
                                      ht_thread_choice *out)
{
    if (!t || !out)
        return ht_error(HT_ERR_ARG, "ht_topology_default_threads: NULL argument");
    int cores, pus;
    ht_topo_count(t, t->usable, &cores, &pus);
    return choose_threads(cores, pus, t->omp_places, out);
}

/* This process's cores and PUs from the kernel and the OpenMP runtime, for
 * when hwloc cannot describe this machine. */
static void os_counts(int *cores, int *pus, int *places)
{
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    *places = 0;
    if (set && process_cpus(NULL, set, omp_bind_env(), places) == 0) {
        *pus = hwloc_bitmap_weight(set);
        *cores = os_cores(set);
    } else {
        const long n = sysconf(_SC_NPROCESSORS_ONLN);
        *pus = *cores = n > 0 && n < INT_MAX ? (int)n : 1;
    }
    hwloc_bitmap_free(set);
}

/* Loaded once: the default is asked for on every parallel region's
 * sizing, and the trainer binds threads and places memory through this
 * topology, so its apply report is the process's. Never freed. */
static ht_topology *process_topo;
static ht_thread_choice process_choice;
static ht_status process_status;
static char process_why[256];
static pthread_once_t process_once = PTHREAD_ONCE_INIT;

static void load_process_topo(void)
{
    if (ht_topology_load(&process_topo) != HT_OK)
        process_topo = NULL;
    int cores, pus, places;
    if (process_topo && !process_topo->fake) {
        ht_topo_count(process_topo, process_topo->usable, &cores, &pus);
        places = process_topo->omp_places;
    } else {
        /* HWLOC_XMLFILE / HWLOC_SYNTHETIC describe another machine: its
         * cores say nothing about how many threads this one can run */
        os_counts(&cores, &pus, &places);
    }
    /* a malformed OMP_NUM_THREADS still leaves threads = physical cores,
     * which is also what libgomp falls back to (it ignores the value) */
    process_status = choose_threads(cores, pus, places, &process_choice);
    if (process_status != HT_OK)
        ht_snprintf(process_why, sizeof process_why, "%s", ht_last_error());
}

ht_status ht_process_threads(ht_thread_choice *out)
{
    if (!out)
        return ht_error(HT_ERR_ARG, "ht_process_threads: out is NULL");
    pthread_once(&process_once, load_process_topo);
    *out = process_choice;
    return process_status == HT_OK ? HT_OK
                                   : ht_error(process_status, "%s", process_why);
}

ht_topology *ht_process_topology(void)
{
    pthread_once(&process_once, load_process_topo);
    return process_topo;
}

int ht_default_threads(void)
{
    pthread_once(&process_once, load_process_topo);
    return process_choice.threads >= 1 ? process_choice.threads : 1;
}

static void fmt_bytes(char *buf, size_t len, uint64_t b)
{
    if (b >= (1ull << 30) && b % (1ull << 30) == 0)
        ht_snprintf(buf, len, "%llu GiB", (unsigned long long)(b >> 30));
    else if (b >= (1ull << 20))
        ht_snprintf(buf, len, "%llu MiB", (unsigned long long)(b >> 20));
    else if (b >= (1ull << 10))
        ht_snprintf(buf, len, "%llu KiB", (unsigned long long)(b >> 10));
    else
        ht_snprintf(buf, len, "%llu B", (unsigned long long)b);
}

size_t ht_topology_describe(const ht_topology *t, char *buf, size_t len)
{
    size_t pos = 0;
    if (len)
        buf[0] = '\0';
    ht_topology_summary s;
    if (ht_topology_summary_get(t, &s) != HT_OK) {
        ht_buf_append(buf, len, &pos, "topology: none\n");
        return pos;
    }
    ht_buf_append(buf, len, &pos, "topology: %s\n", t->source);
    ht_buf_append(buf, len, &pos, "  %d package%s, %d NUMA node%s (%d with "
                  "usable CPUs), %d physical cores, %d PUs usable\n",
                  s.packages, s.packages == 1 ? "" : "s", s.numa_nodes,
                  s.numa_nodes == 1 ? "" : "s", s.cpu_numa_nodes, s.cores,
                  s.pus);
    char c1[32], c2[32], c3[32];
    fmt_bytes(c1, sizeof c1, s.l1d_bytes);
    fmt_bytes(c2, sizeof c2, s.l2_bytes);
    fmt_bytes(c3, sizeof c3, s.l3_bytes);
    ht_buf_append(buf, len, &pos, "  caches (one instance): L1d %s, L2 %s, "
                  "L3 %s%s\n", s.l1d_bytes ? c1 : "-", s.l2_bytes ? c2 : "-",
                  s.l3_bytes ? c3 : "-",
                  s.l1d_bytes || s.l2_bytes || s.l3_bytes ? "" :
                  " (not reported)");
    for (int i = 0; i < t->n_domains; i++) {
        ht_domain_info d;
        ht_topology_domain(t, i, &d);
        char mem[32];
        fmt_bytes(mem, sizeof mem, d.memory_bytes);
        ht_buf_append(buf, len, &pos, "  domain %d: NUMA node P#%u, %d cores, "
                      "%d PUs (%s), %s\n", i, d.node_os, d.cores, d.pus,
                      d.cpus, d.memory_bytes ? mem : "memory size unknown");
    }
    return pos;
}
