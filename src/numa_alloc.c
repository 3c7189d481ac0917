/* Node-aware allocation through hwloc_alloc_membind. STRICT is always
 * passed, so a refused binding comes back as an error we can see and
 * report, instead of hwloc silently handing out unbound memory; then the
 * memory is allocated plainly and the policy in force is first touch. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "topology_internal.h"

static size_t page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

void ht_interleave_nodes(const ht_topology *t, int k, hwloc_bitmap_t set)
{
    if (k <= 0 || k > t->n_domains)
        k = t->n_domains;
    hwloc_bitmap_zero(set);
    for (int d = 0; d < k; d++)
        hwloc_bitmap_or(set, set, t->dom_node[d]->nodeset);
}

ht_status ht_numa_alloc(ht_topology *t, size_t bytes, ht_mem_policy policy,
                        int node, ht_numa_buf *out)
{
    if (!out)
        return ht_error(HT_ERR_ARG, "ht_numa_alloc: out is NULL");
    memset(out, 0, sizeof *out);
    out->node = -1;
    if (!t || bytes == 0)
        return ht_error(HT_ERR_ARG, "ht_numa_alloc: %s",
                        t ? "size 0" : "topology is NULL");
    if (policy != HT_MEM_FIRST_TOUCH && policy != HT_MEM_BIND &&
        policy != HT_MEM_INTERLEAVE)
        return ht_error(HT_ERR_ARG, "ht_numa_alloc: unknown policy %d",
                        (int)policy);
    if (t->fake)
        return ht_error(HT_ERR_UNSUPPORTED, "ht_numa_alloc: topology %s is "
                        "not this system; refusing to allocate through "
                        "hwloc's no-op binding hooks", t->source);
    const size_t page = page_size();
    if (bytes > (size_t)-1 - page)
        return ht_error(HT_ERR_NOMEM, "ht_numa_alloc: %zu bytes", bytes);
    const size_t mapped = (bytes + page - 1) / page * page;

    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return ht_error(HT_ERR_NOMEM, "ht_numa_alloc: out of memory");
    ht_mem_policy want = policy;
    if (policy == HT_MEM_BIND) {
        hwloc_obj_t n = node >= 0 ? hwloc_get_numanode_obj_by_os_index(
                                        t->h, (unsigned)node) : NULL;
        if (!n || !hwloc_bitmap_isset(hwloc_topology_get_allowed_nodeset(t->h),
                                      (unsigned)node)) {
            hwloc_bitmap_free(set);
            return ht_error(HT_ERR_ARG, "ht_numa_alloc: NUMA node %d is not "
                            "an allowed node of this machine", node);
        }
        hwloc_bitmap_set(set, (unsigned)node);
        out->node = node;
    } else if (policy == HT_MEM_INTERLEAVE) {
        ht_interleave_nodes(t, node, set);
        if (hwloc_bitmap_weight(set) == 1) {
            want = HT_MEM_BIND; /* interleaving over one node is a bind */
            out->node = hwloc_bitmap_first(set);
            ht_snprintf(out->why, sizeof out->why, "one NUMA node: "
                        "interleaving over it is binding to it");
        }
    }

    void *p = NULL;
    const struct hwloc_topology_support *sup = hwloc_topology_get_support(t->h);
    ht_mem_policy in_force = want;
    if (want != HT_MEM_FIRST_TOUCH) {
        int can = sup->membind->alloc_membind &&
                  (want == HT_MEM_BIND ? sup->membind->bind_membind
                                       : sup->membind->interleave_membind);
        if (!can) {
            ht_snprintf(out->why, sizeof out->why, "hwloc reports no %s "
                        "memory binding on this system",
                        want == HT_MEM_BIND ? "bind" : "interleave");
        } else {
            errno = 0;
            p = hwloc_alloc_membind(t->h, mapped, set,
                                    want == HT_MEM_BIND ? HWLOC_MEMBIND_BIND
                                                        : HWLOC_MEMBIND_INTERLEAVE,
                                    HWLOC_MEMBIND_BYNODESET |
                                    HWLOC_MEMBIND_STRICT);
            if (!p && errno == ENOMEM) {
                hwloc_bitmap_free(set);
                return ht_error(HT_ERR_NOMEM, "ht_numa_alloc: cannot map %zu "
                                "bytes", mapped);
            }
            if (!p) {
                char list[48];
                ht_bitmap_list(list, sizeof list, set);
                ht_snprintf(out->why, sizeof out->why, "hwloc_alloc_membind"
                            "(%s, nodes %s): %s",
                            want == HT_MEM_BIND ? "bind" : "interleave", list,
                            strerror(errno));
            }
        }
        if (!p)
            in_force = HT_MEM_FIRST_TOUCH;
    }
    hwloc_bitmap_free(set);
    if (!p)
        p = hwloc_alloc(t->h, mapped);
    if (!p)
        return ht_error(HT_ERR_NOMEM, "ht_numa_alloc: cannot map %zu bytes",
                        mapped);
    out->ptr = p;
    out->bytes = bytes;
    out->mapped = mapped;
    out->requested = policy;
    out->in_force = in_force;
    out->topo = t;
    if (in_force == HT_MEM_FIRST_TOUCH && policy != HT_MEM_FIRST_TOUCH)
        out->node = -1;
    ht_topo_log_buf(t, out);
    return HT_OK;
}

void ht_numa_free(ht_numa_buf *b)
{
    if (!b || !b->ptr || !b->topo)
        return;
    hwloc_free(b->topo->h, b->ptr, b->mapped);
    memset(b, 0, sizeof *b);
    b->node = -1;
}
