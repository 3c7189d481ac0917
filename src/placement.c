/* The placement plan: a pure function of (topology, threads, batch rows).
 * It reads topology objects only; binding and allocation live in bind.c
 * and numa_alloc.c, so this file can be tested on any fake machine. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "topology_internal.h"

const char *ht_mem_policy_str(ht_mem_policy p)
{
    switch (p) {
    case HT_MEM_FIRST_TOUCH: return "first-touch";
    case HT_MEM_BIND: return "bound";
    case HT_MEM_INTERLEAVE: return "interleaved";
    }
    return "unknown";
}

/* floor(i * n / parts) without overflowing i * n */
static size_t split(size_t n, size_t parts, size_t i)
{
    return i * (n / parts) + i * (n % parts) / parts;
}

/* Hands out `n` items one at a time round-robin over the domains that still
 * have capacity, so counts differ by at most one where capacities allow
 * and the first domains take the remainder. */
static void round_robin(int n, int d, const int *cap, int *count)
{
    while (n > 0) {
        int gave = 0;
        for (int i = 0; i < d && n > 0; i++)
            if (count[i] < cap[i]) {
                count[i]++;
                n--;
                gave = 1;
            }
        if (!gave)
            break;
    }
}

/* A domain's PUs in placement order: the first PU of every core (cores in
 * logical order), then every core's second PU, and so on. */
typedef struct slots {
    int *pu, *core, *smt;  /* [pus] */
    int cores, pus;
} slots;

static void domain_slots(const ht_topology *t, int d, slots *s, int *grp_core,
                         int *grp_start, int *grp_pu)
{
    hwloc_topology_t h = t->h;
    const int have_cores = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_CORE) > 0;
    hwloc_bitmap_t in = hwloc_bitmap_alloc();
    int ng = 0, np = 0, maxw = 0;
    hwloc_obj_t c = NULL;
    hwloc_obj_type_t group_type = have_cores ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
    while ((c = hwloc_get_next_obj_by_type(h, group_type, c))) {
        hwloc_bitmap_and(in, c->cpuset, t->dom_cpus[d]);
        if (hwloc_bitmap_iszero(in))
            continue;
        grp_core[ng] = (int)c->logical_index;
        grp_start[ng] = np;
        hwloc_obj_t pu = NULL;
        while ((pu = hwloc_get_next_obj_inside_cpuset_by_type(h, in,
                                                  HWLOC_OBJ_PU, pu)))
            grp_pu[np++] = (int)pu->os_index;
        if (np - grp_start[ng] > maxw)
            maxw = np - grp_start[ng];
        ng++;
    }
    grp_start[ng] = np;
    hwloc_bitmap_free(in);
    s->cores = ng;
    s->pus = 0;
    for (int k = 0; k < maxw; k++)
        for (int g = 0; g < ng; g++)
            if (grp_start[g] + k < grp_start[g + 1]) {
                s->pu[s->pus] = grp_pu[grp_start[g] + k];
                s->core[s->pus] = grp_core[g];
                s->smt[s->pus] = k;
                s->pus++;
            }
}

ht_status ht_plan_compute(const ht_topology *t, int n_threads, size_t n_rows,
                          ht_plan **out)
{
    if (!t || !out)
        return ht_error(HT_ERR_ARG, "ht_plan_compute: NULL argument");
    *out = NULL;
    const int total = hwloc_bitmap_weight(t->usable);
    if (n_threads < 1 || n_threads > total)
        return ht_error(HT_ERR_ARG, "ht_plan_compute: %d threads on %d usable "
                        "PUs (need 1..%d; more would oversubscribe)",
                        n_threads, total, total);
    const int nd = t->n_domains, T = n_threads;
    /* scratch: per-domain slots, then grouping buffers */
    size_t nint = (size_t)nd * 3 * (size_t)total + 3 * (size_t)total + 1 +
                  4 * (size_t)nd;
    int *scratch = calloc(nint, sizeof *scratch);
    /* plan block: struct, size_t arrays, int arrays */
    size_t nsz = 2 * (size_t)T + 2 * (size_t)nd;
    size_t nin = 4 * (size_t)T + 3 * (size_t)nd;
    size_t head = (sizeof(ht_plan) + sizeof(size_t) - 1) / sizeof(size_t);
    size_t *blk = calloc(head + nsz + (nin * sizeof(int) + sizeof(size_t) - 1)
                         / sizeof(size_t), sizeof(size_t));
    if (!scratch || !blk) {
        free(scratch);
        free(blk);
        return ht_error(HT_ERR_NOMEM, "ht_plan_compute: out of memory");
    }
    slots *sl = (slots *)calloc((size_t)nd, sizeof *sl);
    if (!sl) {
        free(scratch);
        free(blk);
        return ht_error(HT_ERR_NOMEM, "ht_plan_compute: out of memory");
    }
    int *sp = scratch;
    int *grp_core = sp; sp += total;
    int *grp_start = sp; sp += total + 1;
    int *grp_pu = sp; sp += total;
    int *cap1 = sp; sp += nd;
    int *cap2 = sp; sp += nd;
    int *cnt = sp; sp += nd;
    int *extra = sp; sp += nd;
    for (int d = 0; d < nd; d++) {
        sl[d].pu = sp; sp += total;
        sl[d].core = sp; sp += total;
        sl[d].smt = sp; sp += total;
        domain_slots(t, d, &sl[d], grp_core, grp_start, grp_pu);
        cap1[d] = sl[d].cores;
        cap2[d] = sl[d].pus - sl[d].cores;
    }
    /* one thread per physical core everywhere before any SMT sibling */
    int cores_total = 0;
    for (int d = 0; d < nd; d++)
        cores_total += cap1[d];
    int first = T < cores_total ? T : cores_total;
    round_robin(first, nd, cap1, cnt);
    round_robin(T - first, nd, cap2, extra);

    ht_plan *p = (ht_plan *)blk;
    size_t *zs = blk + head;
    int *is = (int *)(zs + nsz);
    size_t *trb = zs, *tre = zs + T, *drb = zs + 2 * T, *dre = drb + nd;
    int *tdom = is, *tpu = is + T, *tcore = is + 2 * T, *tsmt = is + 3 * T;
    int *dnode = is + 4 * T, *dtb = dnode + nd, *dte = dtb + nd;
    int used = 0, tid = 0, max_smt = 1;
    for (int d = 0; d < nd; d++) {
        int c = cnt[d] + extra[d];
        if (c == 0)
            continue;
        dnode[used] = (int)t->dom_node[d]->os_index;
        dtb[used] = tid;
        for (int j = 0; j < c; j++, tid++) {
            tdom[tid] = used;
            tpu[tid] = sl[d].pu[j];
            tcore[tid] = sl[d].core[j];
            tsmt[tid] = sl[d].smt[j];
            if (tsmt[tid] + 1 > max_smt)
                max_smt = tsmt[tid] + 1;
            trb[tid] = split(n_rows, (size_t)T, (size_t)tid);
            tre[tid] = split(n_rows, (size_t)T, (size_t)tid + 1);
        }
        dte[used] = tid;
        drb[used] = trb[dtb[used]];
        dre[used] = tre[tid - 1];
        used++;
    }
    free(sl);
    free(scratch);
    if (tid != T) { /* cannot happen: T <= total = sum of capacities */
        free(blk);
        return ht_error(HT_ERR_ARG, "ht_plan_compute: placed %d of %d threads",
                        tid, T);
    }
    p->n_threads = T;
    p->n_domains = used;
    p->n_rows = n_rows;
    p->max_smt = max_smt;
    p->thread_domain = tdom;
    p->thread_pu = tpu;
    p->thread_core = tcore;
    p->thread_smt = tsmt;
    p->thread_row_begin = trb;
    p->thread_row_end = tre;
    p->domain_node = dnode;
    p->domain_thread_begin = dtb;
    p->domain_thread_end = dte;
    p->domain_row_begin = drb;
    p->domain_row_end = dre;
    p->param_policy = used > 1 ? HT_MEM_INTERLEAVE : HT_MEM_BIND;
    int cores, pus;
    ht_topo_count(t, t->usable, &cores, &pus);
    ht_snprintf(p->topology, sizeof p->topology, "%s: %d NUMA domain%s, %d "
                "cores, %d PUs usable", t->source, nd, nd == 1 ? "" : "s",
                cores, pus);
    *out = p;
    return HT_OK;
}

void ht_plan_free(ht_plan *p)
{
    free(p);
}

size_t ht_plan_describe(const ht_plan *p, char *buf, size_t len)
{
    size_t pos = 0;
    if (len)
        buf[0] = '\0';
    if (!p) {
        ht_buf_append(buf, len, &pos, "plan: none\n");
        return pos;
    }
    ht_buf_append(buf, len, &pos, "plan: %d thread%s on %d NUMA domain%s, "
                  "%zu batch rows, %s\n", p->n_threads,
                  p->n_threads == 1 ? "" : "s", p->n_domains,
                  p->n_domains == 1 ? "" : "s", p->n_rows,
                  p->max_smt > 1 ? "SMT siblings used" : "one thread per core");
    ht_buf_append(buf, len, &pos, "  topology: %s\n", p->topology);
    ht_buf_append(buf, len, &pos, "  parameters, gradients, optimiser state: "
                  "%s", p->param_policy == HT_MEM_INTERLEAVE
                  ? "interleaved over nodes" : "bound to node");
    for (int d = 0; d < p->n_domains; d++)
        ht_buf_append(buf, len, &pos, "%s%d", d ? "," : " ", p->domain_node[d]);
    /* what the trainer does (src/sched.c), and no more: which threads then
     * read or write a row is up to the kernels (docs/SCALING.md) */
    ht_buf_append(buf, len, &pos, "\n  work rows (batch, activations, masks, "
                  "their gradients): first-touched by the row's owner thread, "
                  "on its node\n  GEMM packing buffers: each thread's own "
                  "(its A panels, B panels no other thread reads) bound to "
                  "its node; the shared one (B panels a grid column shares) "
                  "placed as the parameters\n");
    for (int d = 0; d < p->n_domains; d++) {
        ht_buf_append(buf, len, &pos, "  domain %d: node P#%d, threads "
                      "[%d,%d), rows [%zu,%zu), PUs", d, p->domain_node[d],
                      p->domain_thread_begin[d], p->domain_thread_end[d],
                      p->domain_row_begin[d], p->domain_row_end[d]);
        for (int i = p->domain_thread_begin[d]; i < p->domain_thread_end[d]; i++)
            ht_buf_append(buf, len, &pos, "%s%d",
                          i == p->domain_thread_begin[d] ? " " : ",",
                          p->thread_pu[i]);
        ht_buf_append(buf, len, &pos, "\n");
    }
    for (int i = 0; i < p->n_threads; i++)
        ht_buf_append(buf, len, &pos, "  thread %d: PU P#%d (core L#%d%s), "
                      "node P#%d, rows [%zu,%zu)\n", i, p->thread_pu[i],
                      p->thread_core[i], p->thread_smt[i] ? ", SMT sibling" : "",
                      p->domain_node[p->thread_domain[i]],
                      p->thread_row_begin[i], p->thread_row_end[i]);
    return pos;
}

void ht_plan_touch_rows(const ht_plan *p, int tid, void *base,
                        size_t row_bytes)
{
    if (!p || !base || tid < 0 || tid >= p->n_threads)
        return;
    size_t b = p->thread_row_begin[tid], e = p->thread_row_end[tid];
    memset((char *)base + b * row_bytes, 0, (e - b) * row_bytes);
}

void ht_plan_touch_share(const ht_plan *p, int tid, void *base, size_t bytes)
{
    if (!p || !base || tid < 0 || tid >= p->n_threads)
        return;
    long ps = sysconf(_SC_PAGESIZE);
    size_t page = ps > 0 ? (size_t)ps : 4096;
    size_t pages = (bytes + page - 1) / page, T = (size_t)p->n_threads;
    size_t b = split(pages, T, (size_t)tid) * page;
    size_t e = split(pages, T, (size_t)tid + 1) * page;
    if (e > bytes)
        e = bytes;
    if (b < e)
        memset((char *)base + b, 0, e - b);
}
