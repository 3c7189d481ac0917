/* Where a model's threads run and where its memory lives: the team size,
 * the placement plan (kept in the model, remade only when the team size
 * changes), binding at the start of each parallel region, and the slabs
 * allocated through the NUMA layer and first-touched with the plan's
 * static schedule (which the trainer's row phases follow when the plan
 * has several domains: ht_sched_row_threads).
 * Policy (docs/numa.md): parameters, gradients and optimiser state bound
 * to the node (one node) or interleaved (several); the work slab (batch
 * rows, activations, masks, gradients of activations) first-touched row
 * by row by the bound thread that owns the rows; each thread's GEMM
 * packing buffer bound to its node, the shared one placed like the
 * parameters. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"
#include "model_internal.h"
#include "topology_internal.h"

/* Whether the process topology is this machine: under HWLOC_XMLFILE or
 * HWLOC_SYNTHETIC it describes another one, whose PUs and nodes mean
 * nothing here, so nothing is planned, bound or placed. */
static int placeable(const ht_model *m)
{
    return m->topo && ht_topology_is_this_system(m->topo);
}

int ht_sched_no_nesting(void)
{
    const int levels = omp_get_max_active_levels();
    omp_set_max_active_levels(1);
    return levels;
}

void ht_sched_restore_nesting(int levels)
{
    omp_set_max_active_levels(levels);
}

int ht_sched_team(ht_model *m)
{
    int T = ht_get_num_threads();
    if (T < 1)
        T = 1;
    if (m->plan_threads != T) {
        ht_plan_free(m->plan);
        m->plan = NULL;
        m->plan_threads = T;
        ht_topology_summary ts;
        /* more threads than usable PUs (an explicit request) run unbound:
         * a plan never oversubscribes */
        if (placeable(m) && ht_topology_summary_get(m->topo, &ts) == HT_OK &&
            T <= ts.pus &&
            ht_plan_compute(m->topo, T, m->cfg.batch, &m->plan) != HT_OK)
            m->plan = NULL;
    }
    return T;
}

static void touch_share(const ht_model *m, int tid, int nt, void *base,
                        size_t bytes);

/* A fresh shared packing buffer's first touch where it is not placed: each
 * thread of the full team its share, after binding (ht_sched_pack). The
 * per-thread buffers need no such pass: only their own thread ever writes
 * them, so their pages are first touched on its node anyway, and only
 * those a run uses become resident. */
static void touch_pack(ht_model *m, int tid, int nt)
{
    if (m->pack_fresh == NULL || tid >= m->pack_threads ||
        !m->pack_fresh[tid] || nt != m->pack_threads)
        return;
    m->pack_fresh[tid] = 0;
    if (m->pack_shared_in_force == HT_MEM_FIRST_TOUCH)
        touch_share(m, tid, nt, m->pack_shared,
                    m->pack_shared_floats * sizeof(float));
}

int ht_sched_row_threads(const ht_plan *plan, int nt, int want)
{
    if (plan != NULL && plan->n_domains > 1 && plan->n_threads == nt)
        return nt;
    return want;
}

void *ht_sched_caller_save(const ht_model *m)
{
    if (!placeable(m) || m->plan == NULL || m->topo->omp_binding)
        return NULL;
    hwloc_bitmap_t b = hwloc_bitmap_alloc();
    if (b && hwloc_get_cpubind(m->topo->h, b, HWLOC_CPUBIND_THREAD) != 0) {
        hwloc_bitmap_free(b);
        b = NULL;
    }
    return b;
}

void ht_sched_caller_restore(const ht_model *m, void *saved)
{
    if (saved == NULL)
        return;
    /* best effort: it is the binding the thread had a moment ago */
    (void)hwloc_set_cpubind(m->topo->h, saved, HWLOC_CPUBIND_THREAD);
    hwloc_bitmap_free(saved);
}

void ht_sched_enter(ht_model *m, int tid, int nt)
{
    int refused;
    #pragma omp atomic read
    refused = m->bind_refused;
    if (m->plan != NULL && nt == m->plan->n_threads) {
        if (refused) {
            /* counted as not bound, so the report covers every thread */
            ht_plan_bind_skipped(m->topo, m->plan, tid);
        } else if (ht_plan_bind_thread(m->topo, m->plan, tid) != HT_OK) {
            /* The report already says why; retrying every region would
             * only repeat the failure. Benign race: every writer stores
             * 1. */
            #pragma omp atomic write
            m->bind_refused = 1;
        }
    }
    touch_pack(m, tid, nt);
}

/* Rows [lo, hi) of n for thread tid of nt: the plan's schedule. */
static void rows_of(size_t n, int nt, int tid, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)tid / (size_t)nt;
    *hi = n * (size_t)(tid + 1) / (size_t)nt;
}

/* Zeroes this thread's share of a parameter slab: page-aligned slices so
 * that, under first touch, whole pages go to the thread's node. */
static void touch_share(const ht_model *m, int tid, int nt, void *base,
                        size_t bytes)
{
    if (base == NULL)
        return;
    if (m->plan && nt == m->plan->n_threads) {
        ht_plan_touch_share(m->plan, tid, base, bytes);
        return;
    }
    const size_t page = 4096, pages = (bytes + page - 1) / page;
    size_t lo, hi;
    rows_of(pages, nt, tid, &lo, &hi);
    lo *= page;
    hi = hi * page < bytes ? hi * page : bytes;
    if (hi > lo)
        memset((char *)base + lo, 0, hi - lo);
}

static void touch_rows(const ht_model *m, int tid, int nt, void *base,
                       size_t row_bytes)
{
    if (m->plan && nt == m->plan->n_threads) {
        ht_plan_touch_rows(m->plan, tid, base, row_bytes);
        return;
    }
    size_t lo, hi;
    rows_of(m->cfg.batch, nt, tid, &lo, &hi);
    if (hi > lo)
        memset((char *)base + lo * row_bytes, 0, (hi - lo) * row_bytes);
}

static float *alloc_slab(ht_model *m, size_t floats, ht_mem_policy policy,
                         ht_mem_policy *in_force)
{
    /* interleaving takes the count of leading domains: the plan's */
    const int node = !m->plan ? -1
                     : policy == HT_MEM_INTERLEAVE ? m->plan->n_domains
                                                   : m->plan->domain_node[0];
    /* no plan (more threads than PUs were asked for): nothing to place by */
    ht_topology *t = placeable(m) && m->plan ? m->topo : NULL;
    return ht_aligned_alloc_placed(t, floats * sizeof(float),
                                   t ? policy : HT_MEM_FIRST_TOUCH, node,
                                   in_force);
}

ht_status ht_sched_alloc(ht_model *m, size_t param_floats, int need_m,
                         int need_v, size_t work_floats)
{
    m->topo = ht_process_topology();
    (void)ht_sched_team(m);
    m->param_policy = m->plan ? m->plan->param_policy : HT_MEM_FIRST_TOUCH;
    ht_mem_policy pf = HT_MEM_FIRST_TOUCH, wf = HT_MEM_FIRST_TOUCH;
    m->params = alloc_slab(m, param_floats, m->param_policy, &pf);
    m->grads = m->params ? alloc_slab(m, param_floats, m->param_policy, &pf)
                         : NULL;
    m->opt_m = need_m && m->grads
                   ? alloc_slab(m, param_floats, m->param_policy, &pf) : NULL;
    m->opt_v = need_v && m->grads
                   ? alloc_slab(m, param_floats, m->param_policy, &pf) : NULL;
    m->work = m->grads ? alloc_slab(m, work_floats, HT_MEM_FIRST_TOUCH, &wf)
                       : NULL;
    if (!m->params || !m->grads || (need_m && !m->opt_m) ||
        (need_v && !m->opt_v) || !m->work)
        return ht_error(HT_ERR_NOMEM, "model: cannot allocate %zu parameters "
                        "and %zu floats of work space: %s", param_floats,
                        work_floats, ht_last_error());
    m->param_in_force = pf;
    m->work_in_force = wf;
    return HT_OK;
}

void ht_sched_first_touch(ht_model *m, size_t param_floats)
{
    const int T = ht_sched_team(m);
    const size_t pbytes = param_floats * sizeof(float);
    const int levels = ht_sched_no_nesting();
    void *caller = ht_sched_caller_save(m);
    #pragma omp parallel num_threads(T)
    {
        const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        ht_sched_enter(m, tid, nt);
        touch_share(m, tid, nt, m->params, pbytes);
        touch_share(m, tid, nt, m->grads, pbytes);
        touch_share(m, tid, nt, m->opt_m, pbytes);
        touch_share(m, tid, nt, m->opt_v, pbytes);
        for (size_t i = 0; i < m->n_rowbufs; i++)
            touch_rows(m, tid, nt, m->rowbuf[i].base, m->rowbuf[i].row_bytes);
    }
    ht_sched_caller_restore(m, caller);
    ht_sched_restore_nesting(levels);
}

static void pack_free(ht_model *m)
{
    ht_aligned_free_placed(m->pack_shared);
    for (int i = 0; m->pack_own && i < m->pack_threads; i++)
        ht_aligned_free_placed(m->pack_own[i]);
    free(m->pack_own);
    free(m->pack_fresh);
    m->pack_shared = NULL;
    m->pack_own = NULL;
    m->pack_fresh = NULL;
    m->pack_shared_floats = m->pack_own_floats = 0;
    m->pack_threads = 0;
}

ht_status ht_sched_pack(ht_model *m, int T, size_t shared, size_t own)
{
    /* at least one float each, so the buffers exist and are placed */
    shared = shared ? shared : 1;
    own = own ? own : 1;
    if (m->pack_own && m->pack_threads == T && m->pack_shared_floats >= shared
        && m->pack_own_floats >= own)
        return HT_OK;
    /* grow both together: a rare event (first run, larger batch, other
     * team size), and one code path */
    shared = shared > m->pack_shared_floats ? shared : m->pack_shared_floats;
    own = own > m->pack_own_floats ? own : m->pack_own_floats;
    pack_free(m);
    ht_mem_policy sf = HT_MEM_FIRST_TOUCH, of = HT_MEM_BIND;
    /* the current plan's parameter policy: the team size, and so the plan,
     * may have changed since the parameters were placed */
    m->pack_shared = alloc_slab(
        m, shared, m->plan ? m->plan->param_policy : HT_MEM_FIRST_TOUCH, &sf);
    m->pack_own = calloc((size_t)T, sizeof *m->pack_own);
    m->pack_fresh = calloc((size_t)T, 1);
    int ok = m->pack_shared && m->pack_own && m->pack_fresh;
    m->pack_threads = m->pack_own ? T : 0;
    ht_topology *t = placeable(m) && m->plan && m->plan->n_threads == T
                         ? m->topo : NULL;
    for (int i = 0; ok && i < T; i++) {
        ht_mem_policy f = HT_MEM_FIRST_TOUCH;
        const int node = t ? m->plan->domain_node[m->plan->thread_domain[i]]
                           : -1;
        m->pack_own[i] = ht_aligned_alloc_placed(
            t, own * sizeof(float), t ? HT_MEM_BIND : HT_MEM_FIRST_TOUCH, node,
            &f);
        ok = m->pack_own[i] != NULL;
        if (f != HT_MEM_BIND)
            of = HT_MEM_FIRST_TOUCH;
        m->pack_fresh[i] = 1;
    }
    if (!ok) {
        pack_free(m);
        return ht_error(HT_ERR_NOMEM, "cannot allocate %zu + %d x %zu floats "
                        "of GEMM packing buffers: %s", shared, T, own,
                        ht_last_error());
    }
    m->pack_shared_floats = shared;
    m->pack_own_floats = own;
    m->pack_shared_in_force = sf;
    m->pack_own_in_force = of;
    return HT_OK;
}

void ht_sched_free(ht_model *m)
{
    pack_free(m);
    ht_aligned_free_placed(m->params);
    ht_aligned_free_placed(m->grads);
    ht_aligned_free_placed(m->opt_m);
    ht_aligned_free_placed(m->opt_v);
    ht_aligned_free_placed(m->work);
    ht_plan_free(m->plan);
    m->params = m->grads = m->opt_m = m->opt_v = m->work = NULL;
    m->plan = NULL;
}

size_t ht_model_placement_describe(const ht_model *m, char *buf, size_t len)
{
    size_t pos = 0;
    if (len)
        buf[0] = '\0';
    if (m == NULL)
        return 0;
    const int T = ht_get_num_threads();
    ht_topology *t = m->topo;
    if (t == NULL) {
        ht_buf_append(buf, len, &pos, "threads: %d, not bound (no hwloc "
                      "topology)\nmemory: first-touch\n", T);
        return pos;
    }
    ht_apply_report r;
    ht_apply_report_get(t, &r);
    ht_buf_append(buf, len, &pos, "threads: %d", T);
    if (!placeable(m)) {
        ht_buf_append(buf, len, &pos, ", not bound");
    } else if (m->plan == NULL) {
        ht_topology_summary ts;
        if (ht_topology_summary_get(t, &ts) == HT_OK && T > ts.pus)
            ht_buf_append(buf, len, &pos, ", not bound (%d threads on %d "
                          "usable PUs: oversubscribed as asked)", T, ts.pus);
        else
            ht_buf_append(buf, len, &pos, ", not bound (no plan)");
    } else {
        ht_buf_append(buf, len, &pos, ", %s", r.cpu_policy);
        pthread_mutex_lock(&t->lock);
        const char *sep = ":";
        for (int i = 0; i < T && i < t->n_slots; i++) {
            const ht_bind_slot *s = &t->slots[i];
            if (s->state == HT_SLOT_BOUND)
                ht_buf_append(buf, len, &pos, "%s t%d->PU %s", sep, i, s->got);
            else if (s->state == HT_SLOT_OMP)
                ht_buf_append(buf, len, &pos, "%s t%d on PUs %s", sep, i,
                              s->got);
            else if (s->state == HT_SLOT_FAILED)
                ht_buf_append(buf, len, &pos, "%s t%d NOT bound", sep, i);
            sep = ",";
        }
        pthread_mutex_unlock(&t->lock);
    }
    ht_buf_append(buf, len, &pos, "\nmemory: parameters %s%s, work rows "
                  "%s by their threads",
                  ht_mem_policy_str(m->param_in_force),
                  m->param_in_force == HT_MEM_BIND && m->plan
                      ? (m->plan->n_domains == 1 ? " (one node)" : "")
                      : "",
                  ht_mem_policy_str(m->work_in_force));
    if (m->pack_own)
        ht_buf_append(buf, len, &pos, ", GEMM packing buffers %s",
                      m->pack_own_in_force == HT_MEM_BIND
                          ? "bound to their threads' nodes"
                          : "first-touch by their threads");
    if (m->param_in_force != m->param_policy)
        ht_buf_append(buf, len, &pos, " (asked %s)",
                      ht_mem_policy_str(m->param_policy));
    ht_buf_append(buf, len, &pos, "\n");
    if (!placeable(m))
        ht_buf_append(buf, len, &pos, "warning: the hwloc topology is %s: "
                      "threads are not bound and memory is not placed "
                      "(plain pages, first touch)\n", t->source);
    else if (r.warning[0])
        ht_buf_append(buf, len, &pos, "warning: %s\n", r.warning);
    return pos;
}
