/* `hpctrain bench`: training steps on random in-memory data with the
 * per-kernel profile, with --optim-cost the optimiser step's own time, and
 * the first layer's three GEMM shapes alone. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void *alloc64(size_t bytes)
{
    size_t rounded = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, rounded ? rounded : 64);
}

/* A data set the CLI owns (freed here, not by ht_dataset_free). */
static int random_dataset(size_t n, size_t d, size_t classes, uint64_t seed,
                          ht_dataset *ds)
{
    memset(ds, 0, sizeof *ds);
    ds->x = alloc64(n * d * sizeof(float));
    ds->label = alloc64(n * sizeof(int32_t));
    if (ds->x == NULL || ds->label == NULL) {
        free(ds->x);
        free(ds->label);
        cli_error("bench: cannot allocate %zu x %zu random rows", n, d);
        return CLI_EXIT_RUNTIME;
    }
    uint64_t s = seed;
    for (size_t i = 0; i < n * d; i++)
        ds->x[i] = (float)(splitmix64(&s) >> 40) * (1.0f / 16777216.0f);
    for (size_t i = 0; i < n; i++)
        ds->label[i] = (int32_t)(splitmix64(&s) % classes);
    ds->n = n;
    ds->d = d;
    ds->n_classes = classes;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds per call over 5 samples of enough calls to last ~50 ms. */
static ht_status time_sgemm(int ta, int tb, size_t m, size_t n, size_t k,
                           const float *a, size_t lda, const float *b,
                           size_t ldb, float *c, size_t ldc, double *secs)
{
    ht_status s = ht_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    if (s != HT_OK)
        return s;
    double t0 = cli_now();
    s = ht_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    double one = cli_now() - t0;
    int reps = one > 0 ? (int)(0.05 / one) + 1 : 1000;
    if (reps > 1000)
        reps = 1000;
    double sample[5];
    for (int r = 0; r < 5 && s == HT_OK; r++) {
        t0 = cli_now();
        for (int i = 0; i < reps && s == HT_OK; i++)
            s = ht_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
        sample[r] = (cli_now() - t0) / reps;
    }
    if (s != HT_OK)
        return s;
    qsort(sample, 5, sizeof sample[0], cmp_double);
    *secs = sample[2];
    return s;
}

static int bench_gemms(const ht_config *cfg, uint64_t seed)
{
    size_t mb = cfg->batch, d = cfg->sizes[0], h = cfg->sizes[1];
    size_t big = d * h;
    if (mb * d > big)
        big = mb * d;
    if (mb * h > big)
        big = mb * h;
    float *a = alloc64(big * sizeof(float)), *b = alloc64(big * sizeof(float));
    float *c = alloc64(big * sizeof(float));
    int rc = 0;
    if (!a || !b || !c) {
        cli_error("bench: cannot allocate GEMM operands");
        rc = CLI_EXIT_RUNTIME;
    }
    uint64_t s = seed ^ 0x5bd1e995ull;
    for (size_t i = 0; rc == 0 && i < big; i++) {
        a[i] = (float)(splitmix64(&s) >> 40) * (1.0f / 16777216.0f) - 0.5f;
        b[i] = (float)(splitmix64(&s) >> 40) * (1.0f / 16777216.0f) - 0.5f;
    }
    /* Layer 0 with batch m, d inputs, h outputs:
     *   forward      Y  = X W        m x h, k = d
     *   bwd data     dX = dY W^T     m x d, k = h
     *   bwd weight   dW = X^T dY     d x h, k = m */
    struct {
        const char *name;
        int ta, tb;
        size_t m, n, k, lda, ldb;
    } shapes[3] = {
        {"gemm_fwd         X*W", HT_NO_TRANS, HT_NO_TRANS, mb, h, d, d, h},
        {"gemm_bwd_data    dY*W^T", HT_NO_TRANS, HT_TRANS, mb, d, h, h, h},
        {"gemm_bwd_weight  X^T*dY", HT_TRANS, HT_NO_TRANS, d, h, mb, d, h},
    };
    if (rc == 0)
        printf("sgemm alone, first layer (median of 5):\n");
    for (int i = 0; rc == 0 && i < 3; i++) {
        double secs = 0;
        ht_status st = time_sgemm(shapes[i].ta, shapes[i].tb, shapes[i].m,
                                  shapes[i].n, shapes[i].k, a, shapes[i].lda,
                                  b, shapes[i].ldb, c, shapes[i].n, &secs);
        if (st != HT_OK) {
            rc = cli_lib_error("bench: ht_sgemm", st);
            break;
        }
        double gf = 2.0 * (double)shapes[i].m * (double)shapes[i].n *
                    (double)shapes[i].k / secs * 1e-9;
        printf("  %-24s m %5zu n %5zu k %5zu  %9.1f us  %8.2f GFLOP/s\n",
               shapes[i].name, shapes[i].m, shapes[i].n, shapes[i].k,
               secs * 1e6, gf);
    }
    free(a);
    free(b);
    free(c);
    return rc;
}

/* Bytes the fused optimiser step moves per parameter, besides the
 * gradient (which it reads from the tile the GEMM just wrote, in L1): the
 * weight, read and written, and each state tensor, read and written. */
static size_t optim_bytes_per_param(const ht_config *c)
{
    if (c->optimizer != HT_OPT_SGD)
        return 3 * 2 * sizeof(float); /* w, m, v */
    return (c->momentum != 0.0f ? 2 : 1) * 2 * sizeof(float);
}

/* The value at quantile q of sorted v[0..n), by linear interpolation. */
static double quantile(const double *v, size_t n, double q)
{
    const double pos = q * (double)(n - 1);
    const size_t i = (size_t)pos;
    return i + 1 < n ? v[i] + (pos - (double)i) * (v[i + 1] - v[i]) : v[n - 1];
}

/* The optimiser step's own cost, which the profile cannot separate (it
 * runs inside the weight-gradient GEMM, tile by tile, while each tile is
 * in L1). Pairs of one-batch runs on the same batch: a training step
 * (ht_model_train_epoch on a one-batch view: forward, backward, optimiser)
 * and a gradient-only step (ht_model_batch_grad: forward and backward, no
 * update), their order swapped every pair so neither always finds the
 * other's data in cache. The median of the pairs' differences is the
 * optimiser's time. Pairs of single steps, not of whole runs: the machine
 * changes speed over seconds, and a difference of two runs timed seconds
 * apart carried that drift (estimates 0.7 to 1.7 ms for the same step in
 * two runs of the benchmark configuration on this VM). Both halves open
 * one parallel region per step. Advances the model's epoch count by one
 * per pair and adds to its profile: call after printing it. */
static int bench_optim_cost(ht_model *m, const ht_config *cfg,
                            const ht_dataset *data, size_t pairs)
{
    const size_t bs = cfg->batch;
    double *v = malloc(3 * pairs * sizeof *v);
    if (v == NULL) {
        cli_error("bench: cannot allocate %zu timings", 3 * pairs);
        return CLI_EXIT_RUNTIME;
    }
    double *diff = v, *train_s = v + pairs, *grad_s = v + 2 * pairs;
    const size_t batches = data->n / bs;
    ht_status s = HT_OK;
    for (size_t i = 0; s == HT_OK && i < pairs; i++) {
        ht_dataset b = *data;
        b.x = data->x + i % batches * bs * data->d;
        b.label = data->label + i % batches * bs;
        b.n = bs;
        double t[2] = {0, 0};
        for (int h = 0; s == HT_OK && h < 2; h++) {
            const int train = (h + (int)(i & 1)) & 1;
            const double t0 = cli_now();
            double loss;
            s = train ? ht_model_train_epoch(m, &b, NULL, NULL, NULL)
                      : ht_model_batch_grad(m, &b, NULL, bs, 1, &loss);
            t[train] = cli_now() - t0;
        }
        train_s[i] = t[1];
        grad_s[i] = t[0];
        diff[i] = t[1] - t[0];
    }
    int rc = 0;
    if (s != HT_OK) {
        rc = cli_lib_error("bench --optim-cost", s);
    } else {
        qsort(diff, pairs, sizeof diff[0], cmp_double);
        qsort(train_s, pairs, sizeof train_s[0], cmp_double);
        qsort(grad_s, pairs, sizeof grad_s[0], cmp_double);
        const double d = quantile(diff, pairs, 0.5);
        const double t = quantile(train_s, pairs, 0.5);
        size_t params = 0;
        for (size_t l = 0; l < cfg->n_layers; l++)
            params += (cfg->sizes[l] + 1) * cfg->sizes[l + 1];
        const size_t bpp = optim_bytes_per_param(cfg);
        const double bytes = (double)params * (double)bpp;
        printf("optimiser step (one-batch training step minus gradient-only "
               "step, %zu alternated pairs, medians):\n", pairs);
        printf("  step %.4g ms, gradient-only %.4g ms; difference %.4g ms "
               "(quartiles %.4g to %.4g)\n", 1e3 * t,
               1e3 * quantile(grad_s, pairs, 0.5), 1e3 * d,
               1e3 * quantile(diff, pairs, 0.25),
               1e3 * quantile(diff, pairs, 0.75));
        if (d > 0)
            printf("  the optimiser: %.1f%% of the step; %zu parameters x %zu "
                   "bytes = %.4g MB in %.4g ms: %.2f GB/s\n", 100.0 * d / t,
                   params, bpp, bytes * 1e-6, 1e3 * d, bytes / d * 1e-9);
        else
            printf("  the optimiser: below the timing noise\n");
    }
    free(v);
    return rc;
}

int cli_bench(const cli_opts *o)
{
    ht_config cfg = o->cfg;
    if (!o->arch_given) {
        /* The default hidden layers between Fashion-MNIST's sizes. */
        cfg.sizes[0] = 784;
        cfg.sizes[cfg.n_layers] = 10;
    }
    if (ht_config_check(&cfg) != HT_OK) {
        cli_error("invalid configuration: %s", ht_last_error());
        return CLI_EXIT_USAGE;
    }
    int rc = o->profile_json ? cli_check_out_path("--profile-json",
                                                  o->profile_json)
                             : 0;
    if (rc == 0)
        rc = cli_runtime_start(o, "bench", 1, (unsigned long long)cfg.seed);
    if (rc)
        return rc;
    size_t warm_steps = o->steps < 3 ? (size_t)o->steps : 3;
    size_t n = cfg.batch * (size_t)o->steps;
    ht_dataset data;
    rc = random_dataset(n, cfg.sizes[0], cfg.sizes[cfg.n_layers], cfg.seed, &data);
    if (rc)
        return rc;
    ht_dataset warm = data;   /* a prefix view of the same rows */
    warm.n = cfg.batch * warm_steps;

    char arch[256];
    cli_format_arch(&cfg, arch, sizeof arch);
    printf("bench: arch %s, batch %zu, %d steps on random data (%zu warm-up)\n",
           arch, cfg.batch, o->steps, warm_steps);
    ht_model *m = NULL;
    ht_status s = ht_model_create(&cfg, &m);
    ht_epoch_stats st;
    if (s == HT_OK) {
        cli_print_placement(m);
        s = ht_model_train_epoch(m, &warm, NULL, NULL, &st);
    }
    /* Machines are shared and noisy: time several runs, quote the median
     * and the range; the profile adds up all of them. */
    double secs[1000], sorted[1000];
    const int reps = o->repeat;
    if (s == HT_OK)
        ht_model_profile_reset(m);
    for (int r = 0; s == HT_OK && r < reps; r++) {
        s = ht_model_train_epoch(m, &data, NULL, NULL, &st);
        secs[r] = st.seconds;
    }
    if (s != HT_OK) {
        rc = cli_lib_error("bench", s);
    } else {
        memcpy(sorted, secs, (size_t)reps * sizeof secs[0]);
        qsort(sorted, (size_t)reps, sizeof sorted[0], cmp_double);
        /* the median; of an even count, the mean of the middle two */
        const double med = (sorted[(reps - 1) / 2] + sorted[reps / 2]) / 2;
        printf("train: %.0f samples/s, median of %d runs (%.4g s for %zu "
               "samples, %.4g ms/step; runs %.4g to %.4g s)\n",
               (double)n / med, reps, med, n, 1e3 * med / o->steps, sorted[0],
               sorted[reps - 1]);
        /* the weights after every run: the same for any thread count */
        if (o->print_hash)
            printf("weights hash %016llx\n",
                   (unsigned long long)ht_model_hash(m));
        if (reps > 1)
            printf("(the profile below adds up all %d runs)\n", reps);
        cli_print_profile(stdout, m);
        if (o->profile_json)
            rc = cli_write_profile_json(o->profile_json, m, "bench", secs,
                                        reps, n);
        fflush(stdout);
        if (rc == 0 && o->optim_cost)
            rc = bench_optim_cost(m, &cfg, &data,
                                  (size_t)o->steps * (size_t)reps);
        if (rc == 0)
            rc = bench_gemms(&cfg, cfg.seed);
    }
    ht_model_free(m);
    free(data.x);
    free(data.label);
    return rc;
}
