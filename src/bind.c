/* Thread binding, and the log of what the apply layer really did. A
 * binding counts only once it has been read back from the kernel; on a
 * fake topology nothing is attempted, because hwloc's dummy hooks would
 * "succeed" without doing anything. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "topology_internal.h"

static void cpu_failed(ht_topology *t, int tid, int pu, const char *why)
{
    pthread_mutex_lock(&t->lock);
    t->slots[tid].state = HT_SLOT_FAILED;
    t->slots[tid].pu = pu;
    t->threads_failed++;
    if (!t->cpu_fail[0])
        ht_snprintf(t->cpu_fail, sizeof t->cpu_fail, "%s", why);
    pthread_mutex_unlock(&t->lock);
}

void ht_plan_bind_skipped(ht_topology *t, const ht_plan *p, int tid)
{
    if (!t || !p || t->fake || t->omp_binding || tid < 0 ||
        tid >= p->n_threads || tid >= t->n_slots)
        return;
    pthread_mutex_lock(&t->lock);
    const int unset = t->slots[tid].state == HT_SLOT_NONE;
    pthread_mutex_unlock(&t->lock);
    /* only thread tid writes its own slot, so nothing else can set it
     * between the check and the write */
    if (unset)
        cpu_failed(t, tid, p->thread_pu[tid],
                   "not tried: another thread's binding was refused");
}

static void read_back(ht_topology *t, char *got, size_t len)
{
    hwloc_bitmap_t b = hwloc_bitmap_alloc();
    if (b && hwloc_get_cpubind(t->h, b, HWLOC_CPUBIND_THREAD) == 0)
        ht_bitmap_list(got, len, b);
    else
        ht_snprintf(got, len, "?");
    hwloc_bitmap_free(b);
}

ht_status ht_plan_bind_thread(ht_topology *t, const ht_plan *p, int tid)
{
    if (!t || !p)
        return ht_error(HT_ERR_ARG, "ht_plan_bind_thread: NULL argument");
    if (tid < 0 || tid >= p->n_threads || tid >= t->n_slots)
        return ht_error(HT_ERR_ARG, "ht_plan_bind_thread: thread %d out of "
                        "[0, %d)", tid, p->n_threads);
    if (t->fake)
        return ht_error(HT_ERR_UNSUPPORTED, "ht_plan_bind_thread: topology "
                        "%s is not this system; nothing bound", t->source);
    const int pu = p->thread_pu[tid];
    hwloc_obj_t obj = hwloc_get_pu_obj_by_os_index(t->h, (unsigned)pu);
    if (!obj)
        return ht_error(HT_ERR_ARG, "ht_plan_bind_thread: the plan puts "
                        "thread %d on PU P#%d, which this topology lacks",
                        tid, pu);
    char got[48];
    if (t->omp_binding) {
        read_back(t, got, sizeof got);
        pthread_mutex_lock(&t->lock);
        t->slots[tid].state = HT_SLOT_OMP;
        t->slots[tid].pu = pu;
        memcpy(t->slots[tid].got, got, sizeof got);
        pthread_mutex_unlock(&t->lock);
        return HT_OK;
    }
    char why[160];
    const struct hwloc_topology_support *sup = hwloc_topology_get_support(t->h);
    if (!sup->cpubind->set_thisthread_cpubind) {
        ht_snprintf(why, sizeof why, "hwloc cannot bind threads on this system");
        cpu_failed(t, tid, pu, why);
        return ht_error(HT_ERR_UNSUPPORTED, "thread %d not bound: %s", tid, why);
    }
    if (hwloc_set_cpubind(t->h, obj->cpuset, HWLOC_CPUBIND_THREAD) != 0) {
        ht_snprintf(why, sizeof why, "hwloc_set_cpubind(PU P#%d): %s", pu,
                    strerror(errno));
        cpu_failed(t, tid, pu, why);
        return ht_error(HT_ERR_UNSUPPORTED, "thread %d not bound: %s", tid, why);
    }
    hwloc_bitmap_t b = hwloc_bitmap_alloc();
    int ok = b && hwloc_get_cpubind(t->h, b, HWLOC_CPUBIND_THREAD) == 0 &&
             hwloc_bitmap_isequal(b, obj->cpuset);
    if (b)
        ht_bitmap_list(got, sizeof got, b);
    hwloc_bitmap_free(b);
    if (!ok) {
        ht_snprintf(why, sizeof why, "asked for PU P#%d, the kernel reports "
                    "%s", pu, got);
        cpu_failed(t, tid, pu, why);
        return ht_error(HT_ERR_UNSUPPORTED, "thread %d not bound: %s", tid, why);
    }
    pthread_mutex_lock(&t->lock);
    if (t->slots[tid].state != HT_SLOT_BOUND)
        t->threads_bound++;
    t->slots[tid].state = HT_SLOT_BOUND;
    t->slots[tid].pu = pu;
    memcpy(t->slots[tid].got, got, sizeof got);
    pthread_mutex_unlock(&t->lock);
    return HT_OK;
}

void ht_topo_log_buf(ht_topology *t, const ht_numa_buf *b)
{
    pthread_mutex_lock(&t->lock);
    switch (b->in_force) {
    case HT_MEM_BIND: t->bufs_bound++; break;
    case HT_MEM_INTERLEAVE: t->bufs_interleaved++; break;
    case HT_MEM_FIRST_TOUCH: t->bufs_first_touch++; break;
    }
    if (b->requested != HT_MEM_FIRST_TOUCH && b->in_force == HT_MEM_FIRST_TOUCH) {
        t->bufs_fallback++;
        if (!t->mem_fail[0])
            ht_snprintf(t->mem_fail, sizeof t->mem_fail, "%s", b->why);
    }
    pthread_mutex_unlock(&t->lock);
}

void ht_apply_report_get(ht_topology *t, ht_apply_report *r)
{
    memset(r, 0, sizeof *r);
    if (!t)
        return;
    const struct hwloc_topology_support *sup = hwloc_topology_get_support(t->h);
    pthread_mutex_lock(&t->lock);
    r->this_system = !t->fake;
    r->cpubind_supported = !t->fake && sup->cpubind->set_thisthread_cpubind;
    r->membind_supported = !t->fake && sup->membind->alloc_membind;
    r->omp_binding = t->omp_binding;
    r->threads_bound = t->threads_bound;
    r->threads_failed = t->threads_failed;
    r->bufs_bound = t->bufs_bound;
    r->bufs_interleaved = t->bufs_interleaved;
    r->bufs_first_touch = t->bufs_first_touch;
    r->bufs_fallback = t->bufs_fallback;
    int asked = t->threads_bound + t->threads_failed;
    if (t->fake)
        ht_snprintf(r->cpu_policy, sizeof r->cpu_policy, "plan only: %s is "
                    "not this system, nothing bound", t->source);
    else if (t->omp_binding)
        ht_snprintf(r->cpu_policy, sizeof r->cpu_policy, "binding left to "
                    "OpenMP (%s)", t->omp_env);
    else if (asked == 0)
        ht_snprintf(r->cpu_policy, sizeof r->cpu_policy, "not bound (no "
                    "thread has been bound yet)");
    else if (t->threads_failed == 0)
        ht_snprintf(r->cpu_policy, sizeof r->cpu_policy, "threads bound per "
                    "plan (%d of %d verified)", t->threads_bound, asked);
    else
        ht_snprintf(r->cpu_policy, sizeof r->cpu_policy, "%s (%d of %d "
                    "threads bound): %s", t->threads_bound ? "partly bound"
                    : "not bound", t->threads_bound, asked, t->cpu_fail);
    int nbuf = t->bufs_bound + t->bufs_interleaved + t->bufs_first_touch;
    if (t->fake)
        ht_snprintf(r->mem_policy, sizeof r->mem_policy, "plan only: "
                    "nothing allocated");
    else if (nbuf == 0)
        ht_snprintf(r->mem_policy, sizeof r->mem_policy, "no placed "
                    "buffers yet");
    else if (t->bufs_fallback)
        ht_snprintf(r->mem_policy, sizeof r->mem_policy, "first-touch only "
                    "for %d of %d buffers (binding refused: %s)",
                    t->bufs_fallback, nbuf, t->mem_fail);
    else
        ht_snprintf(r->mem_policy, sizeof r->mem_policy, "%d buffer%s bound "
                    "to a node, %d interleaved, %d first-touch by request",
                    t->bufs_bound, t->bufs_bound == 1 ? "" : "s",
                    t->bufs_interleaved, t->bufs_first_touch);
    if (t->cpu_fail[0] && t->mem_fail[0])
        ht_snprintf(r->warning, sizeof r->warning, "binding not allowed here; "
                    "running with first-touch placement only (threads: %s; "
                    "memory: %s)", t->cpu_fail, t->mem_fail);
    else if (t->cpu_fail[0])
        ht_snprintf(r->warning, sizeof r->warning, "threads are not bound "
                    "(%s); pages go where threads first touch them",
                    t->cpu_fail);
    else if (t->mem_fail[0])
        ht_snprintf(r->warning, sizeof r->warning, "memory binding not "
                    "allowed here (%s); falling back to first-touch",
                    t->mem_fail);
    pthread_mutex_unlock(&t->lock);
}

size_t ht_apply_describe(ht_topology *t, char *buf, size_t len)
{
    size_t pos = 0;
    if (len)
        buf[0] = '\0';
    if (!t) {
        ht_buf_append(buf, len, &pos, "placement: none\n");
        return pos;
    }
    ht_apply_report r;
    ht_apply_report_get(t, &r);
    ht_buf_append(buf, len, &pos, "threads: %s\n", r.cpu_policy);
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->n_slots; i++) {
        const ht_bind_slot *s = &t->slots[i];
        if (s->state == HT_SLOT_BOUND)
            ht_buf_append(buf, len, &pos, "  thread %d: bound to PU %s\n", i,
                          s->got);
        else if (s->state == HT_SLOT_OMP)
            ht_buf_append(buf, len, &pos, "  thread %d: OpenMP placed it on "
                          "PUs %s (plan: P#%d)\n", i, s->got, s->pu);
        else if (s->state == HT_SLOT_FAILED)
            ht_buf_append(buf, len, &pos, "  thread %d: NOT bound (plan: PU "
                          "P#%d)\n", i, s->pu);
    }
    pthread_mutex_unlock(&t->lock);
    ht_buf_append(buf, len, &pos, "memory: %s\n", r.mem_policy);
    if (r.warning[0])
        ht_buf_append(buf, len, &pos, "warning: %s\n", r.warning);
    return pos;
}
