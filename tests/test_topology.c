/* Topology, placement plan and apply layer.
 *
 * Plans are checked on fake machines (hwloc synthetic strings and an XML
 * file, loaded in code, never through HWLOC_SYNTHETIC/HWLOC_XMLFILE)
 * against an independent hwloc view of the same machine: balance, rows,
 * locality, SMT order. The apply layer must refuse fake machines, since
 * hwloc's hooks for them "succeed" without binding anything. On the real
 * machine: threads bound in an OpenMP region read their binding back, and
 * buffers are where hwloc_get_area_memlocation says. A forked child under
 * a seccomp filter (mbind, set_mempolicy, sched_setaffinity -> EPERM, as
 * in a container) checks the first-touch fallback and its report. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hwloc.h>
#include <omp.h>

#include "hpctrain/topology.h"
#include "internal.h"
#include "testutil.h"
#include "topology_internal.h"

#define XML_2SOCKET HT_TEST_DATA_DIR "/2socket.xml"

/* ------------------------------------------------------------- oracle */

/* An independent hwloc view of the same fake machine. */
static hwloc_topology_t oracle_load(const char *desc, int xml)
{
    hwloc_topology_t h;
    assert_int_equal(hwloc_topology_init(&h), 0);
    if (xml)
        assert_int_equal(hwloc_topology_set_xml(h, desc), 0);
    else
        assert_int_equal(hwloc_topology_set_synthetic(h, desc), 0);
    assert_int_equal(hwloc_topology_load(h), 0);
    return h;
}

static ht_topology *load(const char *desc, int xml)
{
    ht_topology *t = NULL;
    ht_status s = xml ? ht_topology_load_xml(desc, &t)
                      : ht_topology_load_synthetic(desc, &t);
    if (s != HT_OK)
        fail_msg("load %s: %s", desc, ht_last_error());
    return t;
}

/* NUMA nodes with CPUs in the oracle (check_plan is only used on machines
 * with one node per CPU set; the odd layouts have their own test). */
static int cpu_nodes(hwloc_topology_t h)
{
    int n = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_NUMANODE), count = 0;
    for (int i = 0; i < n; i++)
        count += !hwloc_bitmap_iszero(
            hwloc_get_obj_by_type(h, HWLOC_OBJ_NUMANODE, (unsigned)i)->cpuset);
    return count;
}

/* Checks every property a plan promises, against the oracle. */
static void check_plan(const char *desc, int xml, int T, size_t n_rows,
                       int symmetric)
{
    hwloc_topology_t h = oracle_load(desc, xml);
    ht_topology *t = load(desc, xml);
    ht_plan *p = NULL;
    if (ht_plan_compute(t, T, n_rows, &p) != HT_OK)
        fail_msg("%s T=%d: %s", desc, T, ht_last_error());
    const int nodes = cpu_nodes(h);
    assert_int_equal(p->n_threads, T);
    assert_int_equal(p->n_domains, T < nodes ? T : nodes);
    assert_int_equal(p->param_policy,
                     p->n_domains > 1 ? HT_MEM_INTERLEAVE : HT_MEM_BIND);
    /* parameters interleave over exactly the plan's nodes: the plan's
     * domains are the topology's first n_domains, which is what the
     * count ht_numa_alloc takes relies on */
    hwloc_bitmap_t mine = hwloc_bitmap_alloc(), got = hwloc_bitmap_alloc();
    for (int d = 0; d < p->n_domains; d++) {
        ht_domain_info di;
        assert_int_equal(ht_topology_domain(t, d, &di), HT_OK);
        assert_int_equal(p->domain_node[d], (int)di.node_os);
        hwloc_bitmap_set(mine, (unsigned)p->domain_node[d]);
    }
    ht_interleave_nodes(t, p->n_domains, got);
    assert_true(hwloc_bitmap_isequal(got, mine));
    hwloc_bitmap_free(mine);
    hwloc_bitmap_free(got);

    /* distinct PUs: never two threads on one PU */
    hwloc_bitmap_t used = hwloc_bitmap_alloc();
    for (int i = 0; i < T; i++) {
        assert_false(hwloc_bitmap_isset(used, (unsigned)p->thread_pu[i]));
        hwloc_bitmap_set(used, (unsigned)p->thread_pu[i]);
    }
    hwloc_bitmap_free(used);

    /* contiguous thread blocks, first domains take the remainder */
    int lo = T, hi = 0;
    for (int d = 0; d < p->n_domains; d++) {
        int c = p->domain_thread_end[d] - p->domain_thread_begin[d];
        assert_true(c >= 1);
        assert_int_equal(p->domain_thread_begin[d],
                         d ? p->domain_thread_end[d - 1] : 0);
        if (d)
            assert_true(!symmetric ||
                        c <= p->domain_thread_end[d - 1] -
                             p->domain_thread_begin[d - 1]);
        lo = c < lo ? c : lo;
        hi = c > hi ? c : hi;
        for (int i = p->domain_thread_begin[d]; i < p->domain_thread_end[d]; i++)
            assert_int_equal(p->thread_domain[i], d);
    }
    assert_int_equal(p->domain_thread_end[p->n_domains - 1], T);
    if (symmetric)
        assert_true(hi - lo <= 1);

    /* rows: threads tile [0, n) in order with sizes within one; a domain's
     * block is its threads' union, proportional to its thread count */
    size_t next = 0, smin = n_rows, smax = 0;
    for (int i = 0; i < T; i++) {
        assert_int_equal(p->thread_row_begin[i], next);
        next = p->thread_row_end[i];
        size_t sz = p->thread_row_end[i] - p->thread_row_begin[i];
        smin = sz < smin ? sz : smin;
        smax = sz > smax ? sz : smax;
    }
    assert_int_equal(next, n_rows);
    assert_true(smax - smin <= 1);
    for (int d = 0; d < p->n_domains; d++) {
        assert_int_equal(p->domain_row_begin[d],
                         p->thread_row_begin[p->domain_thread_begin[d]]);
        assert_int_equal(p->domain_row_end[d],
                         p->thread_row_end[p->domain_thread_end[d] - 1]);
        double rows = (double)(p->domain_row_end[d] - p->domain_row_begin[d]);
        double share = (double)n_rows *
                       (p->domain_thread_end[d] - p->domain_thread_begin[d]) / T;
        assert_true(rows > share - 1.0 && rows < share + 1.0);
    }

    /* locality: each thread's PU is inside its node's cpuset, and the
     * recorded core is the PU's core */
    for (int i = 0; i < T; i++) {
        hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(h, (unsigned)p->thread_pu[i]);
        hwloc_obj_t node = hwloc_get_numanode_obj_by_os_index(
            h, (unsigned)p->domain_node[p->thread_domain[i]]);
        assert_non_null(pu);
        assert_non_null(node);
        assert_true(hwloc_bitmap_isincluded(pu->cpuset, node->cpuset));
        hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(h, HWLOC_OBJ_CORE, pu);
        if (core)
            assert_int_equal(p->thread_core[i], (int)core->logical_index);
    }

    /* SMT order: inside a domain, smt ranks never decrease, and a sibling
     * is used only when every core of the node already has a thread */
    for (int d = 0; d < p->n_domains; d++) {
        hwloc_obj_t node = hwloc_get_numanode_obj_by_os_index(
            h, (unsigned)p->domain_node[d]);
        int cores = hwloc_get_nbobjs_inside_cpuset_by_type(h, node->cpuset,
                                                           HWLOC_OBJ_CORE);
        int b = p->domain_thread_begin[d], e = p->domain_thread_end[d];
        for (int i = b; i < e; i++) {
            if (i > b)
                assert_true(p->thread_smt[i] >= p->thread_smt[i - 1]);
            if (p->thread_smt[i] > 0)
                assert_true(i - b >= cores * p->thread_smt[i]);
            for (int j = b; j < i; j++)  /* same core => different smt rank */
                if (p->thread_core[j] == p->thread_core[i])
                    assert_true(p->thread_smt[j] != p->thread_smt[i]);
        }
    }

    /* the description names every domain */
    char buf[8192];
    size_t need = ht_plan_describe(p, buf, sizeof buf);
    assert_true(need < sizeof buf);
    assert_int_equal(strlen(buf), need);
    for (int d = 0; d < p->n_domains; d++) {
        char key[64];
        snprintf(key, sizeof key, "domain %d: node P#%d", d, p->domain_node[d]);
        assert_non_null(strstr(buf, key));
    }
    ht_plan_free(p);
    ht_topology_free(t);
    hwloc_topology_destroy(h);
}

/* -------------------------------------------------------- plan tests */

static void test_plan_one_node(void **state)
{
    (void)state;
    const char *d = "pack:1 numa:1 core:2 pu:1";
    check_plan(d, 0, 1, 100, 1);
    check_plan(d, 0, 2, 100, 1);
    ht_topology *t = load(d, 0);
    ht_plan *p = NULL;
    assert_int_equal(ht_plan_compute(t, 3, 100, &p), HT_ERR_ARG);
    assert_null(p);
    assert_non_null(strstr(ht_last_error(), "oversubscribe"));
    assert_int_equal(ht_plan_compute(t, 0, 100, &p), HT_ERR_ARG);
    ht_topology_free(t);
}

static void test_plan_two_sockets(void **state)
{
    (void)state;
    const char *d = "pack:2 numa:1 core:2 pu:1";
    check_plan(d, 0, 4, 256, 1);
    check_plan(d, 0, 3, 256, 1);
    check_plan(d, 0, 1, 256, 1);
    check_plan(d, 0, 3, 2, 1);   /* fewer rows than threads */
    check_plan(d, 0, 4, 0, 1);   /* no rows */
    ht_topology *t = load(d, 0);
    ht_plan *p;
    /* 3 threads: node 0 takes the remainder: PUs 0,1 | 2 */
    assert_int_equal(ht_plan_compute(t, 3, 10, &p), HT_OK);
    assert_int_equal(p->n_domains, 2);
    static const int pu3[] = {0, 1, 2};
    for (int i = 0; i < 3; i++)
        assert_int_equal(p->thread_pu[i], pu3[i]);
    assert_int_equal(p->domain_node[0], 0);
    assert_int_equal(p->domain_node[1], 1);
    assert_int_equal(p->domain_row_end[0], 6);   /* rows [0,3) [3,6) | [6,10) */
    assert_int_equal(p->param_policy, HT_MEM_INTERLEAVE);
    /* the text claims what the trainer does (src/sched.c, ht_sched_pack) */
    char text[4096];
    ht_plan_describe(p, text, sizeof text);
    assert_non_null(strstr(text, "optimiser state: interleaved over nodes 0,1\n"));
    assert_non_null(strstr(text, "first-touched by the row's owner thread"));
    assert_non_null(strstr(text, "GEMM packing buffers: each thread's own "
                                 "(its A panels, B panels no other thread "
                                 "reads) bound to its node"));
    assert_null(strstr(text, "packing buffers, batch rows"));
    ht_plan_free(p);
    /* 1 thread: one domain, parameters bound to its node */
    assert_int_equal(ht_plan_compute(t, 1, 10, &p), HT_OK);
    assert_int_equal(p->n_domains, 1);
    assert_int_equal(p->param_policy, HT_MEM_BIND);
    assert_int_equal(p->domain_row_end[0], 10);
    ht_plan_free(p);
    ht_topology_free(t);
}

static void test_plan_four_nodes_smt(void **state)
{
    (void)state;
    const char *d = "pack:2 numa:2 core:4 pu:2";   /* SNC-2 with SMT */
    static const int ts[] = {1, 3, 4, 7, 16, 17, 20, 31, 32};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        check_plan(d, 0, ts[i], 1000, 1);
    ht_topology *t = load(d, 0);
    ht_plan *p;
    assert_int_equal(ht_plan_compute(t, 16, 64, &p), HT_OK);
    assert_int_equal(p->n_domains, 4);
    assert_int_equal(p->max_smt, 1);   /* 16 threads = 16 cores, no sibling */
    ht_plan_free(p);
    assert_int_equal(ht_plan_compute(t, 20, 64, &p), HT_OK);
    assert_int_equal(p->max_smt, 2);
    for (int dd = 0; dd < 4; dd++)
        assert_int_equal(p->domain_thread_end[dd] - p->domain_thread_begin[dd], 5);
    ht_plan_free(p);
    assert_int_equal(ht_plan_compute(t, 33, 64, &p), HT_ERR_ARG);
    ht_topology_free(t);
}

static void test_plan_four_packages(void **state)
{
    (void)state;
    const char *d = "pack:4 numa:1 core:4 pu:1";
    static const int ts[] = {1, 2, 5, 6, 15, 16};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        check_plan(d, 0, ts[i], 513, 1);
    ht_topology *t = load(d, 0);
    ht_plan *p;
    assert_int_equal(ht_plan_compute(t, 6, 60, &p), HT_OK);
    static const int cnt[] = {2, 2, 1, 1};
    for (int dd = 0; dd < 4; dd++)
        assert_int_equal(p->domain_thread_end[dd] - p->domain_thread_begin[dd],
                         cnt[dd]);
    assert_int_equal(p->domain_row_end[0] - p->domain_row_begin[0], 20);
    assert_int_equal(p->domain_row_end[3] - p->domain_row_begin[3], 10);
    ht_plan_free(p);
    ht_topology_free(t);
}

static void test_plan_xml(void **state)
{
    (void)state;
    check_plan(XML_2SOCKET, 1, 4, 256, 1);
    check_plan(XML_2SOCKET, 1, 3, 255, 1);
    check_plan(XML_2SOCKET, 1, 1, 7, 1);
    ht_topology *t = load(XML_2SOCKET, 1);
    assert_false(ht_topology_is_this_system(t));
    ht_topology_summary s;
    assert_int_equal(ht_topology_summary_get(t, &s), HT_OK);
    assert_int_equal(s.packages, 2);
    assert_int_equal(s.cpu_numa_nodes, 2);
    assert_int_equal(s.cores, 4);
    ht_topology_free(t);
}

static void test_plan_smt_order(void **state)
{
    (void)state;
    /* PUs: core0 {0,1} core1 {2,3} | core2 {4,5} core3 {6,7} */
    const char *d = "pack:2 numa:1 core:2 pu:2";
    ht_topology *t = load(d, 0);
    ht_plan *p;
    assert_int_equal(ht_plan_compute(t, 4, 8, &p), HT_OK);
    static const int pu4[] = {0, 2, 4, 6};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(p->thread_pu[i], pu4[i]);
        assert_int_equal(p->thread_smt[i], 0);
    }
    ht_plan_free(p);
    assert_int_equal(ht_plan_compute(t, 6, 8, &p), HT_OK);
    static const int pu6[] = {0, 2, 1, 4, 6, 5};
    static const int smt6[] = {0, 0, 1, 0, 0, 1};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(p->thread_pu[i], pu6[i]);
        assert_int_equal(p->thread_smt[i], smt6[i]);
    }
    ht_plan_free(p);
    ht_topology_free(t);
    check_plan(d, 0, 6, 100, 1);
    check_plan(d, 0, 8, 100, 1);
}

static void test_plan_memory_only_nodes(void **state)
{
    (void)state;
    /* two memory nodes per package: the first of each gets the CPUs */
    ht_topology *t = load("pack:2 [numa] [numa] core:2 pu:1", 0);
    ht_topology_summary s;
    assert_int_equal(ht_topology_summary_get(t, &s), HT_OK);
    assert_int_equal(s.numa_nodes, 4);
    assert_int_equal(s.cpu_numa_nodes, 2);
    ht_plan *p;
    assert_int_equal(ht_plan_compute(t, 4, 8, &p), HT_OK);
    assert_int_equal(p->n_domains, 2);
    assert_int_equal(p->domain_node[0], 0);
    assert_int_equal(p->domain_node[1], 2);
    ht_plan_free(p);
    ht_topology_free(t);
    /* a machine-wide node (CXL-like) owns no PU a package node has */
    t = load("[numa] pack:2 [numa] core:2 pu:1", 0);
    assert_int_equal(ht_topology_summary_get(t, &s), HT_OK);
    assert_int_equal(s.numa_nodes, 3);
    assert_int_equal(s.cpu_numa_nodes, 2);
    assert_int_equal(ht_plan_compute(t, 4, 8, &p), HT_OK);
    assert_int_equal(p->n_domains, 2);
    assert_int_equal(p->domain_node[0], 0);
    assert_int_equal(p->domain_node[1], 1);
    ht_plan_free(p);
    ht_topology_free(t);
    /* sub-package nodes under L3s, plus a package-wide node each: the
     * sub-package nodes own the CPUs */
    t = load("pack:2 [numa] l3:2 [numa] core:2 pu:1", 0);
    assert_int_equal(ht_topology_summary_get(t, &s), HT_OK);
    assert_int_equal(s.numa_nodes, 6);
    assert_int_equal(s.cpu_numa_nodes, 4);
    assert_int_equal(ht_plan_compute(t, 8, 8, &p), HT_OK);
    static const int nodes[] = {0, 1, 3, 4};
    for (int d = 0; d < 4; d++)
        assert_int_equal(p->domain_node[d], nodes[d]);
    ht_plan_free(p);
    ht_topology_free(t);
}

/* ------------------------------------------------------ query tests */

static void test_load_errors(void **state)
{
    (void)state;
    ht_topology *t = (ht_topology *)&t;
    assert_int_equal(ht_topology_load_synthetic("pack:2 bogus:3", &t),
                     HT_ERR_FORMAT);
    assert_null(t);
    assert_non_null(strstr(ht_last_error(), "bogus"));
    assert_int_equal(ht_topology_load_xml(HT_TEST_DATA_DIR "/missing.xml", &t),
                     HT_ERR_IO);
    assert_non_null(strstr(ht_last_error(), "missing.xml"));
    char path[512];
    tu_path(path, sizeof path, "not_a_topology.xml");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("<html>no</html>\n", f);
    fclose(f);
    assert_int_equal(ht_topology_load_xml(path, &t), HT_ERR_FORMAT);
    assert_int_equal(ht_topology_load_synthetic(NULL, &t), HT_ERR_ARG);
}

static void test_summary_caches(void **state)
{
    (void)state;
    ht_topology *t = load("pack:2 numa:1 l3:1(size=32MiB) l2:2(size=2MiB) "
                          "l1d:1(size=48KiB) core:1 pu:2", 0);
    ht_topology_summary s;
    assert_int_equal(ht_topology_summary_get(t, &s), HT_OK);
    assert_int_equal(s.packages, 2);
    assert_int_equal(s.numa_nodes, 2);
    assert_int_equal(s.cores, 4);
    assert_int_equal(s.pus, 8);
    assert_int_equal(s.l1d_bytes, 48 * 1024);
    assert_int_equal(s.l2_bytes, 2 * 1024 * 1024);
    assert_int_equal(s.l3_bytes, 32 * 1024 * 1024);
    assert_int_equal(s.memory_bytes, 2ull << 30);
    ht_domain_info di;
    assert_int_equal(ht_topology_domain(t, 1, &di), HT_OK);
    assert_int_equal(di.node_os, 1);
    assert_int_equal(di.cores, 2);
    assert_int_equal(di.pus, 4);
    assert_string_equal(di.cpus, "4-7");
    assert_int_equal(ht_topology_domain(t, 2, &di), HT_ERR_ARG);
    char buf[2048], tiny[16];
    size_t need = ht_topology_describe(t, buf, sizeof buf);
    assert_int_equal(strlen(buf), need);
    assert_non_null(strstr(buf, "L1d 48 KiB, L2 2 MiB, L3 32 MiB"));
    assert_non_null(strstr(buf, "domain 1: NUMA node P#1, 2 cores, 4 PUs (4-7)"));
    assert_int_equal(ht_topology_describe(t, tiny, sizeof tiny), need);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);   /* cut, terminated */
    ht_topology_free(t);
}

static void with_env(const char *name, const char *value)
{
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

static void test_default_threads(void **state)
{
    (void)state;
    const char *old = getenv("OMP_NUM_THREADS");
    char saved[64] = "";
    if (old)
        snprintf(saved, sizeof saved, "%s", old);
    ht_topology *t = load("pack:2 numa:2 core:4 pu:2", 0);
    ht_thread_choice c;
    with_env("OMP_NUM_THREADS", NULL);
    assert_int_equal(ht_topology_default_threads(t, &c), HT_OK);
    assert_int_equal(c.threads, 16);   /* physical cores, not 32 PUs */
    assert_int_equal(c.cores, 16);
    assert_int_equal(c.pus, 32);
    assert_int_equal(c.from_env, 0);
    with_env("OMP_NUM_THREADS", "5");
    assert_int_equal(ht_topology_default_threads(t, &c), HT_OK);
    assert_int_equal(c.threads, 5);
    assert_int_equal(c.from_env, 1);
    with_env("OMP_NUM_THREADS", " 8,2");
    assert_int_equal(ht_topology_default_threads(t, &c), HT_OK);
    assert_int_equal(c.threads, 8);
    with_env("OMP_NUM_THREADS", "64");
    assert_int_equal(ht_topology_default_threads(t, &c), HT_OK);
    assert_int_equal(c.threads, 32);
    assert_int_equal(c.clamped, 1);
    static const char *bad[] = {"0", "-3", "abc", "4x", ""};
    for (size_t i = 0; i < 4; i++) {
        with_env("OMP_NUM_THREADS", bad[i]);
        assert_int_equal(ht_topology_default_threads(t, &c), HT_ERR_ARG);
        assert_non_null(strstr(ht_last_error(), "OMP_NUM_THREADS"));
        assert_int_equal(c.threads, 16);   /* still usable: the cores */
    }
    with_env("OMP_NUM_THREADS", bad[4]);   /* empty = unset */
    assert_int_equal(ht_topology_default_threads(t, &c), HT_OK);
    assert_int_equal(c.threads, 16);
    with_env("OMP_NUM_THREADS", old ? saved : NULL);
    ht_topology_free(t);

    /* the process-wide default agrees with the real topology */
    ht_topology *real = NULL;
    assert_int_equal(ht_topology_load(&real), HT_OK);
    int n = ht_default_threads();
    ht_thread_choice pc;
    const ht_status ps = ht_process_threads(&pc);
    assert_int_equal(pc.threads, n);
    assert_true(pc.threads <= pc.pus);   /* never two on one PU */
    if (ht_topology_default_threads(real, &c) == HT_OK) {
        assert_int_equal(ps, HT_OK);
        assert_int_equal(n, c.threads);
        if (ht_topology_is_this_system(real)) {
            assert_int_equal(pc.cores, c.cores);
            assert_int_equal(pc.pus, c.pus);
        }
    }
    assert_true(n >= 1);
    ht_topology_free(real);
}

/* ------------------------------------------------- apply: fake refused */

static void test_apply_refuses_fake(void **state)
{
    (void)state;
    /* even with HWLOC_THISSYSTEM=1, a synthetic machine is not this one */
    const char *old = getenv("HWLOC_THISSYSTEM");
    setenv("HWLOC_THISSYSTEM", "1", 1);
    ht_topology *ts = load("pack:2 numa:1 core:1 pu:1", 0);
    if (old)
        setenv("HWLOC_THISSYSTEM", old, 1);
    else
        unsetenv("HWLOC_THISSYSTEM");
    ht_topology *tx = load(XML_2SOCKET, 1);
    ht_topology *all[2] = {ts, tx};
    for (int k = 0; k < 2; k++) {
        ht_topology *t = all[k];
        assert_false(ht_topology_is_this_system(t));
        ht_plan *p;
        assert_int_equal(ht_plan_compute(t, 2, 10, &p), HT_OK);
        hwloc_topology_t h;
        hwloc_bitmap_t before = hwloc_bitmap_alloc(), after = hwloc_bitmap_alloc();
        assert_int_equal(hwloc_topology_init(&h), 0);
        assert_int_equal(hwloc_topology_load(h), 0);
        hwloc_get_cpubind(h, before, HWLOC_CPUBIND_THREAD);
        assert_int_equal(ht_plan_bind_thread(t, p, 1), HT_ERR_UNSUPPORTED);
        assert_non_null(strstr(ht_last_error(), "not this system"));
        hwloc_get_cpubind(h, after, HWLOC_CPUBIND_THREAD);
        assert_true(hwloc_bitmap_isequal(before, after));   /* untouched */
        hwloc_bitmap_free(before);
        hwloc_bitmap_free(after);
        hwloc_topology_destroy(h);
        ht_numa_buf b;
        assert_int_equal(ht_numa_alloc(t, 1 << 20, HT_MEM_BIND, 1, &b),
                         HT_ERR_UNSUPPORTED);
        assert_null(b.ptr);
        assert_int_equal(ht_numa_alloc(t, 1 << 20, HT_MEM_FIRST_TOUCH, 0, &b),
                         HT_ERR_UNSUPPORTED);
        assert_null(ht_aligned_alloc_placed(t, 4096, HT_MEM_INTERLEAVE, 0, NULL));
        ht_apply_report r;
        ht_apply_report_get(t, &r);
        assert_int_equal(r.this_system, 0);
        assert_int_equal(r.threads_bound, 0);
        assert_int_equal(r.cpubind_supported, 0);
        assert_non_null(strstr(r.cpu_policy, "plan only"));
        ht_plan_free(p);
        ht_topology_free(t);
    }
}

/* --------------------------------------------------- apply: real machine */

static void unset_omp_binding(void)
{
    unsetenv("OMP_PROC_BIND");
    unsetenv("OMP_PLACES");
    unsetenv("GOMP_CPU_AFFINITY");
}

static void test_real_bind_threads(void **state)
{
    (void)state;
    unset_omp_binding();
    ht_topology *t = NULL;
    assert_int_equal(ht_topology_load(&t), HT_OK);
    if (!ht_topology_is_this_system(t)) {
        ht_topology_free(t);
        skip();   /* HWLOC_XMLFILE / HWLOC_SYNTHETIC set in the environment */
    }
    ht_topology_summary s;
    assert_int_equal(ht_topology_summary_get(t, &s), HT_OK);
    const int T = s.pus < 2 ? s.pus : 2;
    ht_plan *p;
    assert_int_equal(ht_plan_compute(t, T, 64, &p), HT_OK);
    ht_status st[2] = {HT_OK, HT_OK};
    int match[2] = {0, 0}, tids = 0;
    hwloc_topology_t h;
    assert_int_equal(hwloc_topology_init(&h), 0);
    assert_int_equal(hwloc_topology_load(h), 0);
    #pragma omp parallel num_threads(T)
    {
        int tid = omp_get_thread_num();
        #pragma omp atomic
        tids++;
        st[tid] = ht_plan_bind_thread(t, p, tid);
        hwloc_bitmap_t b = hwloc_bitmap_alloc();
        hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(h, (unsigned)p->thread_pu[tid]);
        if (pu && hwloc_get_cpubind(h, b, HWLOC_CPUBIND_THREAD) == 0)
            match[tid] = hwloc_bitmap_isequal(b, pu->cpuset);
        hwloc_bitmap_free(b);
    }
    hwloc_topology_destroy(h);
    assert_int_equal(tids, T);
    ht_apply_report r;
    ht_apply_report_get(t, &r);
    char buf[4096];
    ht_apply_describe(t, buf, sizeof buf);
    if (st[0] == HT_ERR_UNSUPPORTED) {
        /* binding refused here: the report must say so, never claim it */
        assert_int_equal(r.threads_bound, 0);
        assert_true(r.warning[0] != '\0');
        assert_null(strstr(buf, "bound to PU"));
        ht_plan_free(p);
        ht_topology_free(t);
        skip();
    }
    for (int i = 0; i < T; i++) {
        assert_int_equal(st[i], HT_OK);
        assert_true(match[i]);
    }
    assert_int_equal(r.threads_bound, T);
    assert_int_equal(r.threads_failed, 0);
    assert_non_null(strstr(r.cpu_policy, "threads bound per plan"));
    char key[64];
    snprintf(key, sizeof key, "thread 0: bound to PU %d", p->thread_pu[0]);
    assert_non_null(strstr(buf, key));
    assert_null(strstr(buf, "warning:"));
    /* out of range */
    assert_int_equal(ht_plan_bind_thread(t, p, T), HT_ERR_ARG);
    ht_plan_free(p);
    ht_topology_free(t);
}

/* Node set that hwloc says holds the pages of [ptr, ptr+len); -1 ENOSYS
 * under emulators. */
static int memlocation(hwloc_topology_t h, const void *ptr, size_t len,
                       hwloc_bitmap_t set)
{
    return hwloc_get_area_memlocation(h, ptr, len, set, HWLOC_MEMBIND_BYNODESET);
}

static void test_real_memory_placement(void **state)
{
    (void)state;
    unset_omp_binding();
    ht_topology *t = NULL;
    assert_int_equal(ht_topology_load(&t), HT_OK);
    if (!ht_topology_is_this_system(t)) {
        ht_topology_free(t);
        skip();
    }
    ht_topology_summary s;
    assert_int_equal(ht_topology_summary_get(t, &s), HT_OK);
    const int T = s.pus < 2 ? s.pus : 2;
    const size_t rows = 512, row_bytes = 4096 * 2;  /* 4 MiB, 2 pages a row */
    ht_plan *p;
    assert_int_equal(ht_plan_compute(t, T, rows, &p), HT_OK);

    /* the first domain's activations, bound to its node */
    ht_numa_buf act;
    assert_int_equal(ht_numa_alloc(t, rows * row_bytes, HT_MEM_BIND,
                                   p->domain_node[0], &act), HT_OK);
    assert_non_null(act.ptr);
    assert_int_equal((uintptr_t)act.ptr % 4096, 0);
    assert_int_equal(act.requested, HT_MEM_BIND);
    /* parameters, interleaved (one node here: that is a bind) */
    ht_numa_buf par;
    assert_int_equal(ht_numa_alloc(t, 3u << 20, HT_MEM_INTERLEAVE, -1, &par),
                     HT_OK);
    if (s.cpu_numa_nodes == 1 && par.in_force != HT_MEM_FIRST_TOUCH) {
        assert_int_equal(par.in_force, HT_MEM_BIND);
        assert_int_equal(par.node, p->domain_node[0]);
    }
    /* first touch by the bound threads, with the plan's schedule */
    #pragma omp parallel num_threads(T)
    {
        int tid = omp_get_thread_num();
        (void)ht_plan_bind_thread(t, p, tid);
        ht_plan_touch_rows(p, tid, act.ptr, row_bytes);
        ht_plan_touch_share(p, tid, par.ptr, par.bytes);
    }
    unsigned char *bytes = act.ptr;
    for (size_t i = 0; i < act.bytes; i += 4096)
        assert_int_equal(bytes[i], 0);

    /* where binding was refused (qemu-user: ENOSYS), the fallback is
     * reported, never claimed */
    if (act.in_force == HT_MEM_FIRST_TOUCH) {
        ht_apply_report fr;
        ht_apply_report_get(t, &fr);
        assert_true(act.why[0] != '\0');
        assert_true(fr.bufs_fallback >= 1);
        assert_true(fr.warning[0] != '\0');
        assert_non_null(strstr(fr.mem_policy, "first-touch only"));
    }

    hwloc_topology_t h;
    assert_int_equal(hwloc_topology_init(&h), 0);
    assert_int_equal(hwloc_topology_load(h), 0);
    hwloc_bitmap_t where = hwloc_bitmap_alloc(), want = hwloc_bitmap_alloc();
    if (memlocation(h, act.ptr, act.bytes, where) != 0) {
        int e = errno;
        hwloc_bitmap_free(where);
        hwloc_bitmap_free(want);
        hwloc_topology_destroy(h);
        ht_numa_free(&act);
        ht_numa_free(&par);
        ht_plan_free(p);
        ht_topology_free(t);
        if (e == ENOSYS)
            skip();   /* qemu-user: no move_pages */
        fail_msg("hwloc_get_area_memlocation: %s", strerror(e));
    }
    if (act.in_force == HT_MEM_BIND) {
        hwloc_bitmap_only(want, (unsigned)p->domain_node[0]);
        char got[64];
        hwloc_bitmap_list_snprintf(got, sizeof got, where);
        if (!hwloc_bitmap_isequal(where, want))
            fail_msg("bound buffer is on nodes %s, plan says %d", got,
                     p->domain_node[0]);
    }
    /* every thread's rows are on its own domain's node (first touch and
     * binding agree; on one node this is node 0 for all) */
    for (int tid = 0; tid < T; tid++) {
        size_t b = p->thread_row_begin[tid], e = p->thread_row_end[tid];
        if (b == e)
            continue;
        assert_int_equal(memlocation(h, bytes + b * row_bytes,
                                     (e - b) * row_bytes, where), 0);
        hwloc_bitmap_only(want, (unsigned)p->domain_node[p->thread_domain[tid]]);
        assert_true(hwloc_bitmap_isequal(where, want));
    }
    /* the interleaved set covers only the plan's nodes */
    assert_int_equal(memlocation(h, par.ptr, par.bytes, where), 0);
    hwloc_bitmap_zero(want);
    for (int d = 0; d < p->n_domains; d++)
        hwloc_bitmap_set(want, (unsigned)p->domain_node[d]);
    assert_true(hwloc_bitmap_isincluded(where, want));

    ht_apply_report r;
    ht_apply_report_get(t, &r);
    assert_int_equal(r.bufs_bound + r.bufs_interleaved + r.bufs_first_touch, 2);
    if (r.bufs_fallback == 0)
        assert_non_null(strstr(r.mem_policy, "bound to a node"));

    /* the slab allocator's node-aware variant */
    ht_mem_policy pol = HT_MEM_INTERLEAVE;
    float *slab = ht_aligned_alloc_placed(t, 1000 * sizeof(float), HT_MEM_BIND,
                                          p->domain_node[0], &pol);
    assert_non_null(slab);
    assert_int_equal((uintptr_t)slab % 64, 0);
    assert_true(pol == HT_MEM_BIND || pol == HT_MEM_FIRST_TOUCH);
    for (int i = 0; i < 1000; i++)
        slab[i] = (float)i;
    assert_int_equal(memlocation(h, slab, 1000 * sizeof(float), where), 0);
    if (pol == HT_MEM_BIND) {
        hwloc_bitmap_only(want, (unsigned)p->domain_node[0]);
        assert_true(hwloc_bitmap_isequal(where, want));
    }
    ht_aligned_free_placed(slab);
    slab = ht_aligned_alloc_placed(NULL, 10, HT_MEM_BIND, 0, &pol);
    assert_non_null(slab);
    assert_int_equal(pol, HT_MEM_FIRST_TOUCH);
    slab[0] = 1.0f;
    ht_aligned_free_placed(slab);
    ht_aligned_free_placed(NULL);
    assert_null(ht_aligned_alloc_placed(t, 0, HT_MEM_BIND, 0, NULL));

    /* bad arguments */
    ht_numa_buf bad;
    assert_int_equal(ht_numa_alloc(t, 4096, HT_MEM_BIND, 4095, &bad), HT_ERR_ARG);
    assert_int_equal(ht_numa_alloc(t, 0, HT_MEM_BIND, 0, &bad), HT_ERR_ARG);
    assert_int_equal(ht_numa_alloc(t, 4096, (ht_mem_policy)7, 0, &bad), HT_ERR_ARG);

    hwloc_bitmap_free(where);
    hwloc_bitmap_free(want);
    hwloc_topology_destroy(h);
    ht_numa_free(&act);
    ht_numa_free(&par);
    ht_numa_free(&act);   /* second free is a no-op */
    ht_plan_free(p);
    ht_topology_free(t);
}

static void test_omp_binding_left_alone(void **state)
{
    (void)state;
    setenv("OMP_PROC_BIND", "close", 1);
    ht_topology *t = NULL;
    ht_status s = ht_topology_load(&t);
    unset_omp_binding();
    assert_int_equal(s, HT_OK);
    if (!ht_topology_is_this_system(t)) {
        ht_topology_free(t);
        skip();
    }
    ht_plan *p;
    assert_int_equal(ht_plan_compute(t, 1, 4, &p), HT_OK);
    hwloc_topology_t h;
    assert_int_equal(hwloc_topology_init(&h), 0);
    assert_int_equal(hwloc_topology_load(h), 0);
    hwloc_bitmap_t before = hwloc_bitmap_alloc(), after = hwloc_bitmap_alloc();
    /* widen first, so a rebind to one PU would show */
    hwloc_set_cpubind(h, hwloc_topology_get_allowed_cpuset(h), HWLOC_CPUBIND_THREAD);
    hwloc_get_cpubind(h, before, HWLOC_CPUBIND_THREAD);
    assert_int_equal(ht_plan_bind_thread(t, p, 0), HT_OK);
    hwloc_get_cpubind(h, after, HWLOC_CPUBIND_THREAD);
    assert_true(hwloc_bitmap_isequal(before, after));
    ht_apply_report r;
    ht_apply_report_get(t, &r);
    assert_int_equal(r.omp_binding, 1);
    assert_int_equal(r.threads_bound, 0);
    assert_non_null(strstr(r.cpu_policy,
                           "binding left to OpenMP (OMP_PROC_BIND=close)"));
    char buf[2048];
    ht_apply_describe(t, buf, sizeof buf);
    assert_non_null(strstr(buf, "thread 0: OpenMP placed it on PUs"));
    hwloc_bitmap_free(before);
    hwloc_bitmap_free(after);
    hwloc_topology_destroy(h);
    ht_plan_free(p);
    ht_topology_free(t);
}

/* ------------------------------------ apply: binding refused (container) */

#include "deny_binding.h"
#if defined(HT_TEST_DENY_BINDING)
#include <sys/wait.h>
#include <unistd.h>

/* Runs in the child; returns 0 if all checks hold, else the failed check. */
static int fallback_child(void)
{
    if (ht_test_deny_binding(1) != 0)
        return 77;
    unset_omp_binding();
    ht_topology *t = NULL;
    if (ht_topology_load(&t) != HT_OK)
        return 2;
    if (!ht_topology_is_this_system(t))
        return 77;
    ht_plan *p;
    if (ht_plan_compute(t, 1, 16, &p) != HT_OK)
        return 3;
    if (ht_plan_bind_thread(t, p, 0) != HT_ERR_UNSUPPORTED)
        return 4;
    if (!strstr(ht_last_error(), "Operation not permitted"))
        return 5;
    ht_numa_buf b;
    if (ht_numa_alloc(t, 1 << 20, HT_MEM_BIND, p->domain_node[0], &b) != HT_OK)
        return 6;
    if (b.in_force != HT_MEM_FIRST_TOUCH || b.requested != HT_MEM_BIND ||
        !strstr(b.why, "Operation not permitted") || !b.ptr)
        return 7;
    memset(b.ptr, 1, b.bytes);   /* usable memory all the same */
    ht_mem_policy pol = HT_MEM_BIND;
    void *slab = ht_aligned_alloc_placed(t, 100000, HT_MEM_INTERLEAVE, -1, &pol);
    if (!slab || pol != HT_MEM_FIRST_TOUCH)
        return 8;
    ht_aligned_free_placed(slab);
    ht_apply_report r;
    ht_apply_report_get(t, &r);
    if (r.threads_bound != 0 || r.threads_failed != 1 || r.bufs_fallback != 2 ||
        r.bufs_first_touch != 2 || r.bufs_bound != 0)
        return 9;
    if (strncmp(r.cpu_policy, "not bound", 9) != 0 ||
        !strstr(r.mem_policy, "first-touch only") || !r.warning[0])
        return 10;
    char buf[4096];
    ht_apply_describe(t, buf, sizeof buf);
    const char *w = strstr(buf, "warning:");
    if (!w || strstr(w + 1, "warning:") || strstr(buf, "bound to PU") ||
        !strstr(buf, "thread 0: NOT bound"))
        return 11;
    ht_numa_free(&b);
    ht_plan_free(p);
    ht_topology_free(t);
    return 0;
}

static void test_binding_refused_fallback(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fallback_child());
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();   /* no seccomp here (qemu-user refuses it) */
    if (WEXITSTATUS(status) != 0)
        fail_msg("fallback check %d failed in the child", WEXITSTATUS(status));
}
#else
static void test_binding_refused_fallback(void **state)
{
    (void)state;
    skip();
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_summary_caches),
        cmocka_unit_test(test_default_threads),
        cmocka_unit_test(test_plan_one_node),
        cmocka_unit_test(test_plan_two_sockets),
        cmocka_unit_test(test_plan_four_nodes_smt),
        cmocka_unit_test(test_plan_four_packages),
        cmocka_unit_test(test_plan_xml),
        cmocka_unit_test(test_plan_smt_order),
        cmocka_unit_test(test_plan_memory_only_nodes),
        cmocka_unit_test(test_apply_refuses_fake),
        cmocka_unit_test(test_real_bind_threads),
        cmocka_unit_test(test_real_memory_placement),
        cmocka_unit_test(test_omp_binding_left_alone),
        cmocka_unit_test(test_binding_refused_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
