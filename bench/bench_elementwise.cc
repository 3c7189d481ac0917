// Memory-bound kernels of a training step (regularisers, the fused
// optimiser step, ReLU, bias, softmax, dropout) on the scalar and the AVX2
// kernel tables, against a STREAM-like copy and triad and std::memcpy of
// the same size in the same binary.
//
// Shapes: n = 64 Ki floats (256 KiB per array: L2-resident), 1 Mi (4 MiB:
// beyond this machine's 2 MiB L2), 64 Mi (256 MiB: DRAM); 1 and 2 threads,
// the bench splitting each kernel over OpenMP threads statically (rows or
// 32-element aligned ranges). Arguments: n, threads, isa (0 scalar, 1 avx2;
// on aarch64 1 is the neon table; 2 avx512 where the CPU has it, only for
// the kernels that table replaces: softmax_fwd, dropout_fwd (two rows per
// call), dropout_mask2, dropout_fwd_256x1024).
//
// Byte model (SetBytesProcessed; bytes the kernel must move, STREAM style,
// no write-allocate traffic counted), per element:
//   copy a=b 8; triad a=b+s*c 12; memcpy 8;
//   l1_grad, l2_grad: read w, g, write g = 12;
//   sgd (no momentum): read w, g, write w = 12;
//   sgd_mom_l2, nesterov_l1: read w, g, m, write w, m = 20;
//   adam_l2, adamw_prox: read w, g, m, v, write w, m, v = 28;
//   relu_fwd y=relu(x) 8 (streaming stores when ht_stream_stores says so
//   for the whole n, as for dropout_fwd and dropout_bwd); relu_bwd dx from y, dy 12;
//   bias_add (1024 columns) c += b 8; bias_grad db += colsum(dy) 4;
//   softmax_fwd (10 classes) logits -> probs 8 + 8 per row (label, loss);
//   softmax_bwd probs -> dlogits 8 + 4 per row (label);
//   dropout_fwd (1024 columns, p = 0.5, through ht_dropout_forward, which
//   makes two rows per call) x -> y 8 + 1/8 (mask bits);
//   dropout_fwd_256x1024 the PyTorch comparison shape, same model;
//   dropout_fwd_256x1024_rowwise the same through one-row dropout_fwd;
//   dropout_bwd dy, bits -> dx 8 + 1/8 (out of place, and in place as
//   dropout_bwd_inplace); dropout_mask (one row per call) and
//   dropout_mask2 (two rows per call) bits only 1/8;
//   count_zeros 4; xoshiro8_raw_avx2 (the generator alone, the floor of
//   any AVX2 dropout on this generator) 0.
// Counters: GBps (by the byte model), triad_ratio (GBps over the triad's
// GBps at the same n and threads, measured earlier in this run: run the
// whole binary, not a filter that drops the triad), ns_per_elem, and at
// 64 Mi floats triad_ratio_il: the same ratio from medians of calls
// alternated one by one with a triad (see measure()).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

extern "C" {
#include "hpctrain.h"
#include "hpctrain/kernels.h"
#include "../simd/table.h"
#include "../simd/rng.h"
}

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

constexpr size_t kMaxN = size_t(64) << 20;
constexpr size_t kCols = 1024;   // row length for row-shaped kernels
constexpr size_t kClasses = 10;  // softmax width
#if defined(__aarch64__)
const char *const kIsa[] = {"scalar", "neon"};  // isa 1: the build's SIMD table
#else
// isa 2 only for the kernels the avx512 table replaces (softmax_fwd, the
// two-row dropout and the optimiser steps); its other entries are the avx2
// table's
const char *const kIsa[] = {"scalar", "avx2", "avx512"};
#endif

struct Buffers {
    float *a, *b, *c, *d, *e;
    uint32_t *bits;
    int32_t *label;
    float *loss;
};

float *alloc_floats(size_t n)
{
    void *p = nullptr;
    if (posix_memalign(&p, 64, n * sizeof(float)) != 0)
        std::abort();
    return static_cast<float *>(p);
}

// Deterministic values in [lo, hi) without denormals.
void fill(float *x, size_t n, uint64_t seed, float lo, float hi)
{
#pragma omp parallel for schedule(static) num_threads(2)
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (seed + i) * 0x9E3779B97F4A7C15ull;
        z ^= z >> 31;
        z *= 0xBF58476D1CE4E5B9ull;
        z ^= z >> 29;
        x[i] = lo + (hi - lo) * float(z >> 40) * (1.0f / 16777216.0f);
    }
}

// Allocated once for the largest size, touched first by two threads with
// the same static split the kernels use.
Buffers &buffers()
{
    static Buffers B = [] {
        Buffers b;
        b.a = alloc_floats(kMaxN);
        b.b = alloc_floats(kMaxN);
        b.c = alloc_floats(kMaxN);
        b.d = alloc_floats(kMaxN);
        b.e = alloc_floats(kMaxN);
        b.bits = reinterpret_cast<uint32_t *>(alloc_floats(kMaxN / 32));
        b.label = reinterpret_cast<int32_t *>(alloc_floats(kMaxN / kClasses + 1));
        b.loss = alloc_floats(kMaxN / kClasses + 1);
        fill(b.a, kMaxN, 1, -1.0f, 1.0f);
        fill(b.b, kMaxN, 2, -1.0f, 1.0f);
        fill(b.c, kMaxN, 3, -1.0f, 1.0f);
        fill(b.d, kMaxN, 4, 0.0f, 1.0f);
        fill(b.e, kMaxN, 5, -1.0f, 1.0f);
        std::memset(b.bits, 0, kMaxN / 8);
        for (size_t i = 0; i < kMaxN / kClasses + 1; i++)
            b.label[i] = int32_t(i % kClasses);
        return b;
    }();
    return B;
}

// Static split of [0, n) over `threads`, in multiples of `grain`; f(lo, hi).
template <class F>
void split(int threads, size_t n, size_t grain, const F &f)
{
    if (threads <= 1) {
        f(size_t(0), n);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    {
        const size_t t = size_t(omp_get_thread_num()), nt = size_t(omp_get_num_threads());
        const size_t units = (n + grain - 1) / grain;
        const size_t lo = std::min(n, units * t / nt * grain);
        const size_t hi = std::min(n, units * (t + 1) / nt * grain);
        if (lo < hi)
            f(lo, hi);
    }
#else
    f(size_t(0), n);
#endif
}

std::map<std::pair<size_t, int>, double> &triad_gbps()
{
    static std::map<std::pair<size_t, int>, double> m;
    return m;
}

const ht_kernels *select_table(benchmark::State &state, int isa)
{
    if (!ht_isa_available(kIsa[isa]) || ht_isa_select(kIsa[isa]) != HT_OK) {
        state.SkipWithError("kernel table not available on this CPU");
        return nullptr;
    }
    return ht_kernels_active();
}

void run_triad(size_t n, int threads);
constexpr double kTriadBytes = 12.0; // per element: read b, c, write a

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const size_t h = v.size() / 2;
    return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

// Runs body(n, threads) in the timing loop and sets the counters. Out of
// cache (n = kMaxN) each timed call is followed by an untimed triad of the
// same n and threads (timing paused), and triad_ratio_il compares the two
// medians: this machine's memory bandwidth drifts by 10-20 % over minutes,
// so a ratio against a triad measured minutes earlier (triad_ratio) can
// be off by that much; alternating call by call cancels the drift.
template <class Body>
void measure(benchmark::State &state, double bytes_per_iter, const Body &body,
             bool is_triad = false)
{
    const size_t n = size_t(state.range(0));
    const int threads = int(state.range(1));
#ifndef _OPENMP
    if (threads > 1) {
        state.SkipWithError("built without OpenMP for C++");
        return;
    }
#endif
    body(); // warm: page-in, caches, OpenMP pool
    using clk = std::chrono::steady_clock;
    const bool interleave = !is_triad && n >= kMaxN;
    std::vector<double> tk, tt;
    double secs = 0.0;
    for (auto _ : state) {
        const auto t0 = clk::now();
        body();
        benchmark::ClobberMemory();
        const double dt = std::chrono::duration<double>(clk::now() - t0).count();
        secs += dt;
        if (interleave) {
            state.PauseTiming();
            tk.push_back(dt);
            const auto t2 = clk::now();
            run_triad(n, threads);
            benchmark::ClobberMemory();
            tt.push_back(std::chrono::duration<double>(clk::now() - t2).count());
            state.ResumeTiming();
        }
    }
    const double iters = double(state.iterations());
    state.SetBytesProcessed(int64_t(bytes_per_iter * iters));
    const double gbps = bytes_per_iter * iters / secs / 1e9;
    state.counters["GBps"] = gbps;
    state.counters["ns_per_elem"] = secs / iters / double(n) * 1e9;
    auto &tg = triad_gbps();
    if (is_triad)
        tg[{n, threads}] = gbps;
    auto it = tg.find({n, threads});
    if (it != tg.end())
        state.counters["triad_ratio"] = gbps / it->second;
    if (interleave && !tk.empty())
        state.counters["triad_ratio_il"] =
            (bytes_per_iter / median(tk)) / (kTriadBytes * double(n) / median(tt));
}

// ---------------------------------------------------------------- baselines
// Compiled for AVX2 and for the baseline; the loader picks by CPU, so the
// memory peer uses the same vector width as the kernels. (aarch64: one
// version, AdvSIMD being baseline there.)
#if defined(__x86_64__)
#define HT_BENCH_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define HT_BENCH_CLONES
#endif
HT_BENCH_CLONES void triad_loop(
    size_t lo, size_t hi, float *a, const float *b, const float *c, float s)
{
    for (size_t i = lo; i < hi; i++)
        a[i] = b[i] + s * c[i];
}

HT_BENCH_CLONES void copy_loop(
    size_t lo, size_t hi, float *a, const float *b)
{
    for (size_t i = lo; i < hi; i++)
        a[i] = b[i];
}

void run_triad(size_t n, int threads)
{
    Buffers &B = buffers();
    split(threads, n, 32, [&](size_t lo, size_t hi) {
        triad_loop(lo, hi, B.e, B.b, B.c, 0.5f);
    });
}

void BM_triad(benchmark::State &state)
{
    const size_t n = size_t(state.range(0));
    const int threads = int(state.range(1));
    measure(state, kTriadBytes * double(n), [&] { run_triad(n, threads); },
            true);
}

void BM_copy(benchmark::State &state)
{
    Buffers &B = buffers();
    const size_t n = size_t(state.range(0));
    measure(state, 8.0 * double(n), [&] {
        split(int(state.range(1)), n, 32, [&](size_t lo, size_t hi) {
            copy_loop(lo, hi, B.e, B.b);
        });
    });
}

void BM_memcpy(benchmark::State &state)
{
    Buffers &B = buffers();
    const size_t n = size_t(state.range(0));
    measure(state, 8.0 * double(n), [&] {
        split(int(state.range(1)), n, 32, [&](size_t lo, size_t hi) {
            std::memcpy(B.e + lo, B.b + lo, (hi - lo) * sizeof(float));
        });
    });
}

// ------------------------------------------------------------------ kernels
// A flat kernel over [lo, hi) of n elements with `bpe` bytes per element.
template <class F>
void flat(benchmark::State &state, double bpe, const F &f)
{
    const ht_kernels *k = select_table(state, int(state.range(2)));
    if (!k)
        return;
    const size_t n = size_t(state.range(0));
    measure(state, bpe * double(n), [&] {
        split(int(state.range(1)), n, 32,
              [&](size_t lo, size_t hi) { f(k, lo, hi); });
    });
}

void BM_l1_grad(benchmark::State &state)
{
    Buffers &B = buffers();
    flat(state, 12, [&](const ht_kernels *k, size_t lo, size_t hi) {
        k->l1_grad(hi - lo, 1e-6f, B.a + lo, B.b + lo);
    });
}

void BM_l2_grad(benchmark::State &state)
{
    Buffers &B = buffers();
    flat(state, 12, [&](const ht_kernels *k, size_t lo, size_t hi) {
        k->l2_grad(hi - lo, 1e-6f, B.a + lo, B.b + lo);
    });
}

ht_optim_hyper hyper(int kind, float momentum, int nesterov, float l1,
                     float l2, int prox)
{
    ht_optim_hyper h{};
    h.kind = kind;
    h.lr = 1e-6f; // small: repeated steps must not drift into denormals/inf
    h.momentum = momentum;
    h.nesterov = nesterov;
    h.beta1 = 0.9f;
    h.beta2 = 0.999f;
    h.eps = 1e-8f;
    h.bc1 = 0.5f;
    h.bc2 = 0.5f;
    h.weight_decay = 0.01f;
    h.l1 = l1;
    h.l2 = l2;
    h.prox_l1 = prox;
    return h;
}

template <int Kind, int Mom, int Nesterov, int L1, int L2, int Prox>
void BM_optim(benchmark::State &state)
{
    Buffers &B = buffers();
    const ht_optim_hyper h = hyper(Kind, Mom ? 0.9f : 0.0f, Nesterov,
                                   L1 ? 1e-5f : 0.0f, L2 ? 1e-4f : 0.0f, Prox);
    const double bpe = Kind != HT_OPT_SGD ? 28 : Mom ? 20 : 12;
    flat(state, bpe, [&](const ht_kernels *k, size_t lo, size_t hi) {
        k->optim_step(hi - lo, B.a + lo, B.b + lo, B.c + lo, B.d + lo, &h);
    });
}

void BM_relu_fwd(benchmark::State &state)
{
    Buffers &B = buffers();
    // the output of the whole call (all threads' parts): as a trainer would
    const int stream = ht_stream_stores(size_t(state.range(0)) * sizeof(float));
    flat(state, 8, [&](const ht_kernels *k, size_t lo, size_t hi) {
        k->relu_fwd(hi - lo, B.b + lo, B.e + lo, stream);
    });
}

void BM_relu_bwd(benchmark::State &state)
{
    Buffers &B = buffers();
    flat(state, 12, [&](const ht_kernels *k, size_t lo, size_t hi) {
        k->relu_bwd(hi - lo, B.b + lo, B.c + lo, 2.0f, B.e + lo);
    });
}

void BM_count_zeros(benchmark::State &state)
{
    Buffers &B = buffers();
    flat(state, 4, [&](const ht_kernels *k, size_t lo, size_t hi) {
        benchmark::DoNotOptimize(k->count_zeros(hi - lo, B.b + lo));
    });
}

// Row-shaped kernels: rows of `cols`, rows split over threads in runs
// that start on a 64-byte boundary (as the flat kernels' 32-element
// grain does), so every thread's output may be streamed: a kernel streams
// only into 64-byte aligned output, and with 10-float rows an arbitrary
// split left the second thread's softmax output misaligned.
template <class F>
void rows(benchmark::State &state, size_t cols, double bytes_per_row,
          const F &f)
{
    const ht_kernels *k = select_table(state, int(state.range(2)));
    if (!k)
        return;
    const size_t n = size_t(state.range(0)), m = n / cols;
    const size_t grain = 16 / std::gcd(cols, size_t(16));
    measure(state, bytes_per_row * double(m), [&] {
        split(int(state.range(1)), m, grain,
              [&](size_t lo, size_t hi) { f(k, lo, hi); });
    });
}

void BM_bias_add(benchmark::State &state)
{
    Buffers &B = buffers();
    rows(state, kCols, 8.0 * kCols, [&](const ht_kernels *k, size_t lo, size_t hi) {
        k->bias_add(hi - lo, kCols, B.d, B.e + lo * kCols, kCols);
    });
}

// Each thread sums its rows into its own db (as a fixed-partition
// reduction would); the combine of two 1024-float vectors is not timed
// separately, it is negligible.
void BM_bias_grad(benchmark::State &state)
{
    Buffers &B = buffers();
    alignas(64) static float db[2][kCols]; // no line shared by the threads
    rows(state, kCols, 4.0 * kCols, [&](const ht_kernels *k, size_t lo, size_t hi) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        k->bias_grad(hi - lo, kCols, B.b + lo * kCols, kCols, db[t & 1]);
    });
}

void BM_softmax_fwd(benchmark::State &state)
{
    Buffers &B = buffers();
    const int stream = ht_stream_stores(size_t(state.range(0)) * sizeof(float));
    rows(state, kClasses, 8.0 * kClasses + 8,
         [&](const ht_kernels *k, size_t lo, size_t hi) {
             k->softmax_xent_fwd(hi - lo, kClasses, B.b + lo * kClasses,
                                 kClasses, B.label + lo, B.e + lo * kClasses,
                                 kClasses, B.loss + lo, stream);
         });
}

void BM_softmax_bwd(benchmark::State &state)
{
    Buffers &B = buffers();
    const int stream = ht_stream_stores(size_t(state.range(0)) * sizeof(float));
    rows(state, kClasses, 8.0 * kClasses + 4,
         [&](const ht_kernels *k, size_t lo, size_t hi) {
             k->softmax_xent_bwd(hi - lo, kClasses, B.d + lo * kClasses,
                                 kClasses, B.label + lo, 0.01f,
                                 B.e + lo * kClasses, kClasses, stream);
         });
}

// Dropout through the public row-major API (key per row from (seed, layer,
// step, row), as the trainer calls it), p = 0.5, out of place.
constexpr float kP = 0.5f;

void BM_dropout_fwd(benchmark::State &state)
{
    Buffers &B = buffers();
    rows(state, kCols, 8.0 * kCols + kCols / 8.0,
         [&](const ht_kernels *, size_t lo, size_t hi) {
             ht_dropout_forward(hi - lo, kCols, B.b + lo * kCols, kCols,
                                B.e + lo * kCols, kCols, kP, 42, 1, 7, lo,
                                B.bits + lo * (kCols / 32), kCols / 32);
         });
}

void BM_dropout_bwd(benchmark::State &state)
{
    Buffers &B = buffers();
    rows(state, kCols, 8.0 * kCols + kCols / 8.0,
         [&](const ht_kernels *, size_t lo, size_t hi) {
             ht_dropout_backward(hi - lo, kCols, B.b + lo * kCols, kCols,
                                 B.e + lo * kCols, kCols, kP,
                                 B.bits + lo * (kCols / 32), kCols / 32);
         });
}

// In place (dx == dy), as a trainer that owns dy can call it: no
// write-allocate traffic.
void BM_dropout_bwd_inplace(benchmark::State &state)
{
    Buffers &B = buffers();
    rows(state, kCols, 8.0 * kCols + kCols / 8.0,
         [&](const ht_kernels *, size_t lo, size_t hi) {
             ht_dropout_backward(hi - lo, kCols, B.e + lo * kCols, kCols,
                                 B.e + lo * kCols, kCols, kP,
                                 B.bits + lo * (kCols / 32), kCols / 32);
         });
}

// Mask generation alone: the cost of regenerating a mask in backward.
void BM_dropout_mask(benchmark::State &state)
{
    Buffers &B = buffers();
    const uint32_t thr = ht_dropout_threshold(kP);
    rows(state, kCols, kCols / 8.0, [&](const ht_kernels *k, size_t lo, size_t hi) {
        for (size_t i = lo; i < hi; i++)
            k->dropout_mask(ht_dropout_key(42, 1, 7, i), kCols, thr,
                            B.bits + i * (kCols / 32));
    });
}

// The same through dropout_mask2 (two rows per call), the path a trainer
// that makes masks for a GEMM epilogue can use.
void BM_dropout_mask2(benchmark::State &state)
{
    Buffers &B = buffers();
    const uint32_t thr = ht_dropout_threshold(kP);
    rows(state, kCols, kCols / 8.0, [&](const ht_kernels *k, size_t lo, size_t hi) {
        size_t i = lo;
        for (; i + 2 <= hi; i += 2)
            k->dropout_mask2(ht_dropout_key(42, 1, 7, i),
                             ht_dropout_key(42, 1, 7, i + 1), kCols, thr,
                             B.bits + i * (kCols / 32),
                             B.bits + (i + 1) * (kCols / 32));
        for (; i < hi; i++)
            k->dropout_mask(ht_dropout_key(42, 1, 7, i), kCols, thr,
                            B.bits + i * (kCols / 32));
    });
}

// The PyTorch comparison shape: 256 x 1024, one thread, out of place
// (bench/dropout_torch.py times torch.nn.functional.dropout on it).
void BM_dropout_fwd_256x1024(benchmark::State &state)
{
    Buffers &B = buffers();
    const ht_kernels *k = select_table(state, int(state.range(2)));
    if (!k)
        return;
    measure(state, 256 * (8.0 * 1024 + 128), [&] {
        ht_dropout_forward(256, 1024, B.b, 1024, B.e, 1024, kP, 42, 1, 7, 0,
                           B.bits, 32);
    });
}

#if defined(__x86_64__)
// The floor of any AVX2 implementation of simd/rng.h's generator: the 8
// xoshiro128++ lanes stepped in one ymm set with nothing else (outputs
// xor-folded into one register, no compare, no stores). 14 vector uops per
// step, 5 of them shifts that only two ports execute; a step is 16 of
// dropout's 16-bit draws, so n elements take n / 16 steps.
#define HT_ROTL(x, k) \
    _mm256_or_si256(_mm256_slli_epi32((x), (k)), _mm256_srli_epi32((x), 32 - (k)))
__attribute__((target("avx2"))) uint32_t xoshiro8_fold(uint64_t key, size_t n)
{
    ht_rng8 r;
    ht_rng8_seed(&r, key);
    __m256i s0 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(r.s[0]));
    __m256i s1 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(r.s[1]));
    __m256i s2 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(r.s[2]));
    __m256i s3 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(r.s[3]));
    __m256i acc = _mm256_setzero_si256();
    for (size_t i = 0; i < n; i += 16) {
        __m256i out = _mm256_add_epi32(HT_ROTL(_mm256_add_epi32(s0, s3), 7), s0);
        __m256i t = _mm256_slli_epi32(s1, 9);
        s2 = _mm256_xor_si256(s2, s0);
        s3 = _mm256_xor_si256(s3, s1);
        s1 = _mm256_xor_si256(s1, s2);
        s0 = _mm256_xor_si256(s0, s3);
        s2 = _mm256_xor_si256(s2, t);
        s3 = HT_ROTL(s3, 11);
        acc = _mm256_xor_si256(acc, out);
    }
    return uint32_t(_mm256_extract_epi32(acc, 0) ^ _mm256_extract_epi32(acc, 7));
}

void BM_xoshiro8_raw(benchmark::State &state)
{
    if (!ht_isa_available("avx2")) {
        state.SkipWithError("no AVX2");
        return;
    }
    const size_t n = size_t(state.range(0));
    measure(state, 0.0, [&] {
        split(int(state.range(1)), n / kCols, 1, [&](size_t lo, size_t hi) {
            for (size_t i = lo; i < hi; i++)
                benchmark::DoNotOptimize(xoshiro8_fold(i, kCols));
        });
    });
}
#endif

// The same shape one row per call through the table's dropout_fwd (no
// two-row interleave), to show what dropout_fwd2 gains.
void BM_dropout_fwd_256x1024_rowwise(benchmark::State &state)
{
    Buffers &B = buffers();
    const ht_kernels *k = select_table(state, int(state.range(2)));
    if (!k)
        return;
    const uint32_t thr = ht_dropout_threshold(kP);
    const float scale = ht_dropout_scale(kP);
    measure(state, 256 * (8.0 * 1024 + 128), [&] {
        for (size_t i = 0; i < 256; i++)
            k->dropout_fwd(ht_dropout_key(42, 1, 7, i), 1024, thr, scale,
                           B.b + i * 1024, B.e + i * 1024, B.bits + i * 32, 0);
    });
}

void sizes(benchmark::internal::Benchmark *b, bool isa, bool avx512 = false)
{
    std::vector<int64_t> isas{0};
    if (isa)
        isas.push_back(1);
#if defined(__x86_64__)
    if (avx512 && ht_isa_available("avx512"))
        isas.push_back(2);
#else
    (void)avx512;
#endif
    b->ArgsProduct({{int64_t(64) << 10, int64_t(1) << 20, int64_t(64) << 20},
                    {1, 2},
                    isas})
        ->ArgNames({"n", "threads", "isa"})
        ->UseRealTime()
        ->MinTime(0.1);
}

} // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    if (ht_runtime_init() != HT_OK) {
        std::fprintf(stderr, "bench_elementwise: %s\n", ht_last_error());
        return 1;
    }
    benchmark::AddCustomContext("ht_default_isa", ht_isa_name());
    benchmark::AddCustomContext("ht_avx2_available",
                                ht_isa_available("avx2") ? "yes" : "no");
    benchmark::AddCustomContext("isa_arg", std::string("0 = scalar table, 1 = ") +
                                               kIsa[1] + " table" +
#if defined(__x86_64__)
                                               ", 2 = avx512 table (softmax_fwd, dropout)" +
#endif
                                               "");
    benchmark::AddCustomContext("byte_model", "see bench/bench_elementwise.cc");
    buffers();

    // The triad runs first so every later benchmark can report its ratio.
    sizes(benchmark::RegisterBenchmark("triad", BM_triad), false);
    sizes(benchmark::RegisterBenchmark("copy", BM_copy), false);
    sizes(benchmark::RegisterBenchmark("memcpy", BM_memcpy), false);
    sizes(benchmark::RegisterBenchmark("l1_grad", BM_l1_grad), true);
    sizes(benchmark::RegisterBenchmark("l2_grad", BM_l2_grad), true);
    sizes(benchmark::RegisterBenchmark("sgd", BM_optim<HT_OPT_SGD, 0, 0, 0, 0, 0>), true, true);
    sizes(benchmark::RegisterBenchmark("sgd_mom_l2", BM_optim<HT_OPT_SGD, 1, 0, 0, 1, 0>), true, true);
    sizes(benchmark::RegisterBenchmark("nesterov_l1", BM_optim<HT_OPT_SGD, 1, 1, 1, 0, 0>), true, true);
    sizes(benchmark::RegisterBenchmark("adam_l2", BM_optim<HT_OPT_ADAM, 0, 0, 0, 1, 0>), true, true);
    sizes(benchmark::RegisterBenchmark("adamw_prox", BM_optim<HT_OPT_ADAMW, 0, 0, 1, 0, 1>), true, true);
    sizes(benchmark::RegisterBenchmark("relu_fwd", BM_relu_fwd), true);
    sizes(benchmark::RegisterBenchmark("relu_bwd", BM_relu_bwd), true);
    sizes(benchmark::RegisterBenchmark("bias_add", BM_bias_add), true);
    sizes(benchmark::RegisterBenchmark("bias_grad", BM_bias_grad), true);
    sizes(benchmark::RegisterBenchmark("softmax_fwd", BM_softmax_fwd), true, true);
    sizes(benchmark::RegisterBenchmark("softmax_bwd", BM_softmax_bwd), true);
    sizes(benchmark::RegisterBenchmark("dropout_fwd", BM_dropout_fwd), true, true);
    sizes(benchmark::RegisterBenchmark("dropout_bwd", BM_dropout_bwd), true);
    sizes(benchmark::RegisterBenchmark("dropout_bwd_inplace", BM_dropout_bwd_inplace), true);
    sizes(benchmark::RegisterBenchmark("dropout_mask", BM_dropout_mask), true);
    sizes(benchmark::RegisterBenchmark("dropout_mask2", BM_dropout_mask2), true, true);
    sizes(benchmark::RegisterBenchmark("count_zeros", BM_count_zeros), true);
#if defined(__x86_64__)
    benchmark::RegisterBenchmark("xoshiro8_raw_avx2", BM_xoshiro8_raw)
        ->ArgsProduct({{int64_t(64) << 10}, {1}, {1}})
        ->ArgNames({"n", "threads", "isa"})
        ->UseRealTime()
        ->MinTime(0.2);
#endif
    std::vector<int64_t> pt_isas{0, 1};
#if defined(__x86_64__)
    if (ht_isa_available("avx512"))
        pt_isas.push_back(2);
#endif
    benchmark::RegisterBenchmark("dropout_fwd_256x1024", BM_dropout_fwd_256x1024)
        ->ArgsProduct({{256 * 1024}, {1}, pt_isas})
        ->ArgNames({"n", "threads", "isa"})
        ->UseRealTime()
        ->MinTime(0.2);
    benchmark::RegisterBenchmark("dropout_fwd_256x1024_rowwise",
                                 BM_dropout_fwd_256x1024_rowwise)
        ->ArgsProduct({{256 * 1024}, {1}, {1}})
        ->ArgNames({"n", "threads", "isa"})
        ->UseRealTime()
        ->MinTime(0.2);

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
