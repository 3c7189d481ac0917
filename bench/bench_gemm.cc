// SGEMM benchmarks: hpctrain's ht_sgemm against OpenBLAS's cblas_sgemm in
// one run, over square sizes and the MLP training shapes (784-1024-1024-10,
// batch 256 and 64), at 1 and 2 threads (HT_BENCH_THREADS=1,4,16 for
// others); plus the fused dense forward
// against GEMM + separate bias and ReLU passes, and the nine GEMMs of one
// training step. Counters: GFLOP/s, and %peak against an FMA throughput
// loop measured at start-up (per thread used) at the width of the active
// kernel table: AVX2 FMA on x86-64 (AVX-512 FMA when the avx512 table is
// active), NEON FMLA (vfmaq_f32) on aarch64.
//
//   OPENBLAS_CORETYPE=Haswell build/bench/bench_gemm
//       --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
//       --benchmark_out=gemm.json --benchmark_out_format=json
//       && python3 tools/gemm_ratio.py gemm.json
// (one line; about 2.5 minutes on 2 cores). Random interleaving spreads
// each benchmark's repetitions over the run, so a burst of other work on a
// shared machine does not land on one shape's repetitions only.
//
// OpenBLAS 0.3.21 does not know recent Xeons and falls back to its SSE3
// "Prescott" kernels; OPENBLAS_CORETYPE=Haswell makes it use its AVX2
// kernels, the fair peer for hpctrain's avx2 table (HPCTRAIN_ISA=avx2), and
// OPENBLAS_CORETYPE=SkylakeX its AVX-512 ones, the peer for the avx512
// table (context: openblas_core, hpctrain_isa).
#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "hpctrain.h"
#include "hpctrain/kernels.h"

#if defined(HT_HAVE_OPENBLAS)
#include <cblas.h>
#endif

namespace {

double g_peak1 = 0.0;  // GFLOP/s of one core's FMA loop
std::vector<int> g_threads = {1, 2};  // HT_BENCH_THREADS
std::map<int, double> g_peakT;        // [t]: GFLOP/s of t concurrent FMA loops

#if defined(__x86_64__)
// 12 independent FMA chains (latency 4 x 2 ports needs >= 8) on ymm, in
// named variables so the compiler keeps every chain in a register.
constexpr double kPeakFlopPerIter = 12 * 8 * 2;  // 192
__attribute__((target("avx2,fma"))) float fma_loop(long iters)
{
    __m256 a0 = _mm256_set1_ps(0.50f), a1 = _mm256_set1_ps(0.51f);
    __m256 a2 = _mm256_set1_ps(0.52f), a3 = _mm256_set1_ps(0.53f);
    __m256 a4 = _mm256_set1_ps(0.54f), a5 = _mm256_set1_ps(0.55f);
    __m256 a6 = _mm256_set1_ps(0.56f), a7 = _mm256_set1_ps(0.57f);
    __m256 a8 = _mm256_set1_ps(0.58f), a9 = _mm256_set1_ps(0.59f);
    __m256 a10 = _mm256_set1_ps(0.60f), a11 = _mm256_set1_ps(0.61f);
    const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    for (long i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, b, c);
        a1 = _mm256_fmadd_ps(a1, b, c);
        a2 = _mm256_fmadd_ps(a2, b, c);
        a3 = _mm256_fmadd_ps(a3, b, c);
        a4 = _mm256_fmadd_ps(a4, b, c);
        a5 = _mm256_fmadd_ps(a5, b, c);
        a6 = _mm256_fmadd_ps(a6, b, c);
        a7 = _mm256_fmadd_ps(a7, b, c);
        a8 = _mm256_fmadd_ps(a8, b, c);
        a9 = _mm256_fmadd_ps(a9, b, c);
        a10 = _mm256_fmadd_ps(a10, b, c);
        a11 = _mm256_fmadd_ps(a11, b, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}

// The same 12 chains on zmm: the peak of the avx512 table.
constexpr double kPeakFlopPerIter512 = 12 * 16 * 2;  // 384
__attribute__((target("avx512f"))) float fma_loop512(long iters)
{
    __m512 a0 = _mm512_set1_ps(0.50f), a1 = _mm512_set1_ps(0.51f);
    __m512 a2 = _mm512_set1_ps(0.52f), a3 = _mm512_set1_ps(0.53f);
    __m512 a4 = _mm512_set1_ps(0.54f), a5 = _mm512_set1_ps(0.55f);
    __m512 a6 = _mm512_set1_ps(0.56f), a7 = _mm512_set1_ps(0.57f);
    __m512 a8 = _mm512_set1_ps(0.58f), a9 = _mm512_set1_ps(0.59f);
    __m512 a10 = _mm512_set1_ps(0.60f), a11 = _mm512_set1_ps(0.61f);
    const __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
    for (long i = 0; i < iters; i++) {
        a0 = _mm512_fmadd_ps(a0, b, c);
        a1 = _mm512_fmadd_ps(a1, b, c);
        a2 = _mm512_fmadd_ps(a2, b, c);
        a3 = _mm512_fmadd_ps(a3, b, c);
        a4 = _mm512_fmadd_ps(a4, b, c);
        a5 = _mm512_fmadd_ps(a5, b, c);
        a6 = _mm512_fmadd_ps(a6, b, c);
        a7 = _mm512_fmadd_ps(a7, b, c);
        a8 = _mm512_fmadd_ps(a8, b, c);
        a9 = _mm512_fmadd_ps(a9, b, c);
        a10 = _mm512_fmadd_ps(a10, b, c);
        a11 = _mm512_fmadd_ps(a11, b, c);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    float out[16];
    _mm512_storeu_ps(out, s);
    return out[0];
}

#elif defined(__aarch64__)
// 16 independent FMLA chains on 128-bit vectors (latency 4 x up to 4 pipes
// on Neoverse V1/V2 needs 16; N1's 2 pipes need 8), in named variables so
// the compiler keeps every chain in a register (16 of the 32). Each chain
// is a += b*c, the accumulating form FMLA computes in place (a = a*b + c
// would cost a register move per FMLA); a grows by 1e-7 a step, so it stays
// normal and finite for any iteration count used here.
constexpr double kPeakFlopPerIter = 16 * 4 * 2;  // 128
float fma_loop(long iters)
{
    float32x4_t a0 = vdupq_n_f32(0.50f), a1 = vdupq_n_f32(0.51f);
    float32x4_t a2 = vdupq_n_f32(0.52f), a3 = vdupq_n_f32(0.53f);
    float32x4_t a4 = vdupq_n_f32(0.54f), a5 = vdupq_n_f32(0.55f);
    float32x4_t a6 = vdupq_n_f32(0.56f), a7 = vdupq_n_f32(0.57f);
    float32x4_t a8 = vdupq_n_f32(0.58f), a9 = vdupq_n_f32(0.59f);
    float32x4_t a10 = vdupq_n_f32(0.60f), a11 = vdupq_n_f32(0.61f);
    float32x4_t a12 = vdupq_n_f32(0.62f), a13 = vdupq_n_f32(0.63f);
    float32x4_t a14 = vdupq_n_f32(0.64f), a15 = vdupq_n_f32(0.65f);
    const float32x4_t b = vdupq_n_f32(0.9999999f), c = vdupq_n_f32(1e-7f);
    for (long i = 0; i < iters; i++) {
        a0 = vfmaq_f32(a0, b, c);
        a1 = vfmaq_f32(a1, b, c);
        a2 = vfmaq_f32(a2, b, c);
        a3 = vfmaq_f32(a3, b, c);
        a4 = vfmaq_f32(a4, b, c);
        a5 = vfmaq_f32(a5, b, c);
        a6 = vfmaq_f32(a6, b, c);
        a7 = vfmaq_f32(a7, b, c);
        a8 = vfmaq_f32(a8, b, c);
        a9 = vfmaq_f32(a9, b, c);
        a10 = vfmaq_f32(a10, b, c);
        a11 = vfmaq_f32(a11, b, c);
        a12 = vfmaq_f32(a12, b, c);
        a13 = vfmaq_f32(a13, b, c);
        a14 = vfmaq_f32(a14, b, c);
        a15 = vfmaq_f32(a15, b, c);
    }
    float32x4_t s = vaddq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)),
                              vaddq_f32(vaddq_f32(a4, a5), vaddq_f32(a6, a7)));
    s = vaddq_f32(s, vaddq_f32(vaddq_f32(vaddq_f32(a8, a9), vaddq_f32(a10, a11)),
                               vaddq_f32(vaddq_f32(a12, a13), vaddq_f32(a14, a15))));
    return vgetq_lane_f32(s, 0);
}
#else
#error "bench_gemm: the FMA peak loop has versions for x86-64 and aarch64 only"
#endif

// Best of 5 runs of `threads` concurrent FMA loops, GFLOP/s in total, at
// the active table's width.
double measure_peak(int threads)
{
    float (*loop)(long) = fma_loop;
    double flop_per_iter = kPeakFlopPerIter;
#if defined(__x86_64__)
    if (std::strcmp(ht_isa_name(), "avx512") == 0) {
        loop = fma_loop512;
        flop_per_iter = kPeakFlopPerIter512;
    }
#endif
    const long iters = 20000000;  // 3.84 GFLOP per thread on x86, 2.56 on Arm
    double best = 0.0;
    volatile float sink = 0.0f;
    for (int rep = 0; rep < 5; rep++) {
        std::vector<std::thread> ts;
        std::vector<float> res((size_t)threads);
        auto t0 = std::chrono::steady_clock::now();
        for (int t = 0; t < threads; t++)
            ts.emplace_back([&res, t, iters, loop] { res[(size_t)t] = loop(iters); });
        for (auto &t : ts)
            t.join();
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        sink = sink + res[0];
        double g = flop_per_iter * (double)iters * threads / s * 1e-9;
        if (g > best)
            best = g;
    }
    (void)sink;
    return best;
}

float *alloc_fill(size_t n, unsigned seed)
{
    void *p = nullptr;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0)
        std::abort();
    float *x = static_cast<float *>(p);
    unsigned s = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) & 0xFFFF) / 65536.0f - 0.5f;
    }
    return x;
}

struct Gemm {
    int ta, tb;
    size_t m, n, k;
    size_t lda() const { return ta ? m : k; }
    size_t ldb() const { return tb ? k : n; }
    size_t asz() const { return m * k; }
    size_t bsz() const { return k * n; }
    double flops() const { return 2.0 * (double)m * (double)n * (double)k; }
};

enum Impl { HPCTRAIN = 0, OPENBLAS = 1 };

void set_threads(int t)
{
    ht_set_num_threads(t);
#if defined(HT_HAVE_OPENBLAS)
    openblas_set_num_threads(t);
#endif
}

void run_gemm(Impl impl, const Gemm &g, const float *a, const float *b, float *c)
{
    if (impl == HPCTRAIN) {
        if (ht_sgemm(g.ta, g.tb, g.m, g.n, g.k, 1.0f, a, g.lda(), b, g.ldb(),
                     0.0f, c, g.n) != HT_OK) {
            std::fprintf(stderr, "ht_sgemm: %s\n", ht_last_error());
            std::abort();
        }
    } else {
#if defined(HT_HAVE_OPENBLAS)
        cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans,
                    g.tb ? CblasTrans : CblasNoTrans, (int)g.m, (int)g.n,
                    (int)g.k, 1.0f, a, (int)g.lda(), b, (int)g.ldb(), 0.0f, c,
                    (int)g.n);
#endif
    }
}

void set_counters(benchmark::State &st, double flops, int threads)
{
    st.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9,
        benchmark::Counter::kIsIterationInvariantRate);
    st.counters["%peak"] = benchmark::Counter(flops * 1e-9 * 100.0 / g_peakT[threads],
        benchmark::Counter::kIsIterationInvariantRate);
}

void bm_gemm(benchmark::State &st, Impl impl, Gemm g, int threads)
{
    float *a = alloc_fill(g.asz(), 1), *b = alloc_fill(g.bsz(), 2);
    float *c = alloc_fill(g.m * g.n, 3);
    set_threads(threads);
    run_gemm(impl, g, a, b, c);  // warm: workspace, thread pool
    for (auto _ : st) {
        run_gemm(impl, g, a, b, c);
        benchmark::DoNotOptimize(c);
        benchmark::ClobberMemory();
    }
    set_counters(st, g.flops(), threads);
    std::free(a); std::free(b); std::free(c);
}

// The nine GEMMs of one training step of 784-1024-1024-10 at `batch`:
// per layer forward X*W (NN), input gradient dY*W^T (NT), weight gradient
// X^T*dY (TN).
std::vector<Gemm> mlp_shapes(size_t batch)
{
    const size_t sz[4] = {784, 1024, 1024, 10};
    std::vector<Gemm> v;
    for (int l = 0; l < 3; l++) {
        const size_t in = sz[l], out = sz[l + 1];
        v.push_back({0, 0, batch, out, in});
        v.push_back({0, 1, batch, in, out});
        v.push_back({1, 0, in, out, batch});
    }
    return v;
}

void bm_step(benchmark::State &st, Impl impl, size_t batch, int threads)
{
    std::vector<Gemm> gs = mlp_shapes(batch);
    std::vector<float *> as, bs, cs;
    double flops = 0.0;
    for (size_t i = 0; i < gs.size(); i++) {
        as.push_back(alloc_fill(gs[i].asz(), 10 + (unsigned)i));
        bs.push_back(alloc_fill(gs[i].bsz(), 20 + (unsigned)i));
        cs.push_back(alloc_fill(gs[i].m * gs[i].n, 30 + (unsigned)i));
        flops += gs[i].flops();
    }
    set_threads(threads);
    for (size_t i = 0; i < gs.size(); i++)
        run_gemm(impl, gs[i], as[i], bs[i], cs[i]);
    for (auto _ : st) {
        for (size_t i = 0; i < gs.size(); i++)
            run_gemm(impl, gs[i], as[i], bs[i], cs[i]);
        benchmark::ClobberMemory();
    }
    set_counters(st, flops, threads);
    for (size_t i = 0; i < gs.size(); i++) {
        std::free(as[i]); std::free(bs[i]); std::free(cs[i]);
    }
}

// Dense forward Y = relu(X*W + bias): fused epilogue vs separate passes.
void bm_dense(benchmark::State &st, int fused, Impl impl, Gemm g, int threads)
{
    float *a = alloc_fill(g.asz(), 1), *b = alloc_fill(g.bsz(), 2);
    float *c = alloc_fill(g.m * g.n, 3), *bias = alloc_fill(g.n, 4);
    set_threads(threads);
    const ht_epilogue epi = {bias, 1, nullptr, 0, 1.0f};
    auto once = [&] {
        if (fused) {
            if (ht_sgemm_ex(g.ta, g.tb, g.m, g.n, g.k, 1.0f, a, g.lda(), b,
                            g.ldb(), 0.0f, c, g.n, &epi) != HT_OK)
                std::abort();
            return;
        }
        run_gemm(impl, g, a, b, c);
        for (size_t i = 0; i < g.m; i++) {
            float *ci = c + i * g.n;
            for (size_t j = 0; j < g.n; j++)
                ci[j] += bias[j];
        }
        for (size_t i = 0; i < g.m * g.n; i++)
            c[i] = c[i] > 0.0f ? c[i] : 0.0f;
    };
    once();
    for (auto _ : st) {
        once();
        benchmark::ClobberMemory();
    }
    set_counters(st, g.flops(), threads);
    std::free(a); std::free(b); std::free(c); std::free(bias);
}

std::string shape_name(const Gemm &g)
{
    char buf[96];
    std::snprintf(buf, sizeof buf, "%c%c/%zux%zux%zu", g.ta ? 'T' : 'N',
                  g.tb ? 'T' : 'N', g.m, g.n, g.k);
    return buf;
}

// HT_BENCH_THREADS: the thread counts to run, comma-separated (default
// "1,2"), e.g. "1,2,4,8,16" on a larger machine. False, with one line on
// stderr naming the value, if it is not a list of counts in 1..1024.
bool parse_threads(const char *env, std::vector<int> *out)
{
    if (env == nullptr || *env == '\0')
        return true;
    std::vector<int> ts;
    const char *p = env;
    for (;;) {
        char *end = nullptr;
        errno = 0;
        long t = std::strtol(p, &end, 10);
        if (end == p || errno != 0 || t < 1 || t > 1024 ||
            (*end != ',' && *end != '\0')) {
            std::fprintf(stderr, "bench_gemm: HT_BENCH_THREADS=%s: expected thread "
                         "counts in 1..1024 separated by commas\n", env);
            return false;
        }
        if (std::find(ts.begin(), ts.end(), (int)t) == ts.end())
            ts.push_back((int)t);
        if (*end == '\0')
            break;
        p = end + 1;
    }
    *out = ts;
    return true;
}

const char *impl_name(Impl i) { return i == HPCTRAIN ? "hpctrain" : "openblas"; }

void register_all()
{
    std::vector<Impl> impls = {HPCTRAIN};
#if defined(HT_HAVE_OPENBLAS)
    impls.push_back(OPENBLAS);
#endif
    struct Fam { std::string name; std::vector<Gemm> shapes; };
    std::vector<Fam> fams;
    Fam sq{"square", {}};
    for (size_t s : {128, 256, 512, 1024, 2048})
        sq.shapes.push_back({0, 0, s, s, s});
    fams.push_back(sq);
    fams.push_back({"mlp_b256", mlp_shapes(256)});
    fams.push_back({"mlp_b64", mlp_shapes(64)});
    for (const Fam &f : fams)
        for (const Gemm &g : f.shapes)
            for (int t : g_threads)
                for (Impl im : impls) {
                    std::string name = "sgemm/" + f.name + "/" + shape_name(g) +
                                       "/" + impl_name(im) + "/threads:" +
                                       std::to_string(t);
                    benchmark::RegisterBenchmark(name.c_str(), bm_gemm, im, g, t)
                        ->UseRealTime()->Unit(benchmark::kMicrosecond);
                }
    for (int t : g_threads)
        for (Impl im : impls) {
            std::string name = std::string("step9/mlp_b256/") + impl_name(im) +
                               "/threads:" + std::to_string(t);
            benchmark::RegisterBenchmark(name.c_str(), bm_step, im, (size_t)256, t)
                ->UseRealTime()->Unit(benchmark::kMicrosecond);
        }
    const Gemm d{0, 0, 256, 1024, 1024};
    for (int t : g_threads) {
        std::string sfx = "/" + shape_name(d) + "/threads:" + std::to_string(t);
        benchmark::RegisterBenchmark(("dense_fwd/fused/hpctrain" + sfx).c_str(),
                                     bm_dense, 1, HPCTRAIN, d, t)
            ->UseRealTime()->Unit(benchmark::kMicrosecond);
        for (Impl im : impls)
            benchmark::RegisterBenchmark(
                (std::string("dense_fwd/separate/") + impl_name(im) + sfx).c_str(),
                bm_dense, 0, im, d, t)
                ->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
}

}  // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    if (ht_runtime_init() != HT_OK) {
        std::fprintf(stderr, "hpctrain: %s\n", ht_last_error());
        return 1;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        std::fprintf(stderr, "bench_gemm: the peak loop needs AVX2+FMA\n");
        return 1;
    }
#endif  // aarch64: AdvSIMD FMLA is baseline armv8-a
    if (!parse_threads(std::getenv("HT_BENCH_THREADS"), &g_threads))
        return 1;
    for (int t : g_threads)
        g_peakT[t] = measure_peak(t);
    g_peak1 = g_peakT.count(1) ? g_peakT[1] : measure_peak(1);
    ht_isa_info info;
    ht_isa_get_info(&info);
    char buf[128];
    benchmark::AddCustomContext("hpctrain_isa", info.name);
    std::snprintf(buf, sizeof buf, "MR=%d NR=%d MC=%zu KC=%zu NC=%zu", info.mr,
                  info.nr, info.mc, info.kc, info.nc);
    benchmark::AddCustomContext("hpctrain_blocking", buf);
    for (int t : g_threads) {
        std::snprintf(buf, sizeof buf, "%.1f", g_peakT[t]);
        benchmark::AddCustomContext("fma_peak_gflops_" + std::to_string(t) +
                                        (t == 1 ? "thread" : "threads"), buf);
    }
#if defined(HT_HAVE_OPENBLAS)
    benchmark::AddCustomContext("openblas_core", openblas_get_corename());
    benchmark::AddCustomContext("openblas_config", openblas_get_config());
    // The pthread build's threads inherit the caller's binding and share
    // one core in a process that binds its OpenMP threads (see above):
    // name the build so a ratio against it can be discounted.
    {
        const int par = openblas_get_parallel();
        benchmark::AddCustomContext("openblas_parallel",
                                    par == 2   ? "openmp"
                                    : par == 1 ? "pthreads"
                                               : "sequential");
    }
#else
    benchmark::AddCustomContext("openblas_core", "none (built without OpenBLAS)");
#endif
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    ht_set_num_threads(0);  // OpenBLAS keeps its own setting
    return 0;
}
