/* Loading a topology (real, synthetic, XML) and the read-only queries on
 * it: counts, caches, placement domains, the default thread count. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void read_omp_env(ht_topology *t)
{
    static const char *const vars[] = {"OMP_PROC_BIND", "OMP_PLACES",
                                       "GOMP_CPU_AFFINITY"};
    size_t pos = 0;
    t->omp_env[0] = '\0';
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (!v || !*v)
            continue;
        t->omp_binding = 1;
        ht_buf_append(t->omp_env, sizeof t->omp_env, &pos, "%s%s=%s",
                      pos ? " " : "", vars[i], v);
    }
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
    if (!fake && t->fake)
        snprintf(t->source, sizeof t->source, "%s",
                 "not this system (HWLOC_XMLFILE or HWLOC_SYNTHETIC set?)");
    pthread_mutex_init(&t->lock, NULL);
    t->usable = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(h));
    ht_status s = t->usable ? HT_OK : ht_error(HT_ERR_NOMEM, "topology: out of memory");
    if (s == HT_OK && !t->fake) {
        hwloc_bitmap_t b = hwloc_bitmap_alloc();
        if (b && hwloc_get_cpubind(h, b, HWLOC_CPUBIND_PROCESS) == 0 &&
            hwloc_bitmap_intersects(b, t->usable))
            hwloc_bitmap_and(t->usable, t->usable, b);
        hwloc_bitmap_free(b);
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
    read_omp_env(t);
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

ht_status ht_topology_default_threads(const ht_topology *t,
                                      ht_thread_choice *out)
{
    if (!t || !out)
        return ht_error(HT_ERR_ARG, "ht_topology_default_threads: NULL argument");
    memset(out, 0, sizeof *out);
    ht_topo_count(t, t->usable, &out->cores, &out->pus);
    out->threads = out->cores > 0 ? out->cores : 1;
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

/* Computed once: it is asked for on every parallel region's sizing. */
static int process_default = 1;
static pthread_once_t process_once = PTHREAD_ONCE_INIT;

static void compute_process_default(void)
{
    ht_topology *t = NULL;
    if (ht_topology_load(&t) != HT_OK)
        return;
    ht_thread_choice c;
    /* a malformed OMP_NUM_THREADS still leaves c.threads = physical cores,
     * which is also what libgomp falls back to (it ignores the value) */
    (void)ht_topology_default_threads(t, &c);
    process_default = c.threads >= 1 ? c.threads : 1;
    ht_topology_free(t);
}

int ht_default_threads(void)
{
    pthread_once(&process_once, compute_process_default);
    return process_default;
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
