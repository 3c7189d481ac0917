// What the NUMA layer costs on this machine, and what the rejected
// alternative (replicated parameters with a node-level reduction) would add
// to every step. On a one-node machine no locality can be gained, so these
// are pure overheads; docs/numa.md puts them next to the step time.
//
//   BM_ReplicaSync/P      per-step extra work of replication over 2 nodes:
//                         g0 += g1 (reduce the two gradient replicas) and
//                         w1 = w0 (broadcast the updated weights), P floats,
//                         on one thread (the bench targets get no OpenMP flags)
//   BM_Alloc/bytes        ht_aligned_alloc + first touch + free (baseline)
//   BM_NumaAlloc/bytes/policy  ht_numa_alloc + first touch + free, policy
//                         0 = first touch (hwloc_alloc: fresh pages, no mbind),
//                         1 = bound to the plan's node (hwloc_alloc_membind)
//   BM_BindThread         ht_plan_bind_thread on the calling thread
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <vector>

extern "C" {
#include "hpctrain.h"
#include "hpctrain/topology.h"
}

namespace {

ht_topology *topo()
{
    static ht_topology *t = [] {
        ht_topology *x = nullptr;
        if (ht_topology_load(&x) != HT_OK)
            std::fprintf(stderr, "bench_numa: %s\n", ht_last_error());
        return x;
    }();
    return t;
}

void BM_ReplicaSync(benchmark::State &st)
{
    const size_t n = static_cast<size_t>(st.range(0));
    std::vector<float> g0(n, 1.0f), g1(n, 2.0f), w0(n, 3.0f), w1(n, 0.0f);
    for (auto _ : st) {
        float *a = g0.data(), *b = g1.data(), *w = w0.data(), *r = w1.data();
        for (size_t i = 0; i < n; i++) {
            a[i] += b[i];
            r[i] = w[i];
        }
        benchmark::DoNotOptimize(a);
        benchmark::DoNotOptimize(r);
        benchmark::ClobberMemory();
    }
    // reduce: read 2, write 1; broadcast: read 1, write 1 (floats)
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) *
                         static_cast<int64_t>(5 * n * sizeof(float)));
}
// 784-512-256-10 (default, 0.54 M), 784-1024-1024-10 (1.86 M), 16 M
BENCHMARK(BM_ReplicaSync)->Arg(535818)->Arg(1863690)->Arg(16 << 20)
    ->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_Alloc(benchmark::State &st)
{
    const size_t bytes = static_cast<size_t>(st.range(0));
    for (auto _ : st) {
        void *p = nullptr;
        if (posix_memalign(&p, 64, bytes) != 0) {
            st.SkipWithError("posix_memalign failed");
            break;
        }
        std::memset(p, 0, bytes);
        benchmark::DoNotOptimize(p);
        std::free(p);
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) *
                         static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Alloc)->Arg(1 << 20)->Arg(16 << 20)->Unit(benchmark::kMicrosecond);

void BM_NumaAlloc(benchmark::State &st)
{
    const size_t bytes = static_cast<size_t>(st.range(0));
    const ht_mem_policy pol = static_cast<ht_mem_policy>(st.range(1));
    ht_topology *t = topo();
    ht_plan *p = nullptr;
    if (!t || ht_plan_compute(t, 1, 1, &p) != HT_OK) {
        st.SkipWithError("no topology or plan");
        return;
    }
    int in_force = -1;
    for (auto _ : st) {
        ht_numa_buf b;
        if (ht_numa_alloc(t, bytes, pol, p->domain_node[0], &b) != HT_OK) {
            st.SkipWithError(ht_last_error());
            break;
        }
        std::memset(b.ptr, 0, bytes);
        benchmark::DoNotOptimize(b.ptr);
        in_force = b.in_force;
        ht_numa_free(&b);
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) *
                         static_cast<int64_t>(bytes));
    st.counters["in_force"] = in_force;
    ht_plan_free(p);
}
BENCHMARK(BM_NumaAlloc)->ArgsProduct({{1 << 20, 16 << 20}, {0, 1}})
    ->ArgNames({"bytes", "policy"})->Unit(benchmark::kMicrosecond);

void BM_BindThread(benchmark::State &st)
{
    ht_topology *t = topo();
    ht_plan *p = nullptr;
    if (!t || ht_plan_compute(t, 1, 1, &p) != HT_OK) {
        st.SkipWithError("no topology or plan");
        return;
    }
    for (auto _ : st) {
        ht_status s = ht_plan_bind_thread(t, p, 0);
        benchmark::DoNotOptimize(s);
    }
    ht_plan_free(p);
}
BENCHMARK(BM_BindThread)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
