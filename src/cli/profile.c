/* The per-kernel profile shared by `train --profile` and `bench`: the
 * table, and the same figures as JSON for scripts. */
#include <stdlib.h>

#include "cli.h"
#include "fileio.h"

/* GFLOP/s of `flops` in `s` seconds; 0 where there is no rate. */
static double gflops(double flops, double s)
{
    return flops > 0 && s > 0 ? flops / s * 1e-9 : 0.0;
}

/* The share of the team's thread-seconds in kind k spent at the barrier
 * that closes it; -1 where no phase of the kind ran in a team (the shuffle
 * before a region is timed outside one). */
static double wait_share(const ht_profile *pr, int k)
{
    return pr->team_seconds[k] > 0 ? pr->wait[k] / pr->team_seconds[k] : -1.0;
}

static void print_wait(FILE *f, const ht_profile *pr, int k)
{
    const double w = wait_share(pr, k);
    if (w >= 0)
        fprintf(f, " %6.1f%%\n", 100.0 * w);
    else
        fprintf(f, " %7s\n", "-");
}

static void print_rate(FILE *f, double flops, double s)
{
    const double r = gflops(flops, s);
    if (r > 0)
        fprintf(f, " %10.2f", r);
    else
        fprintf(f, " %10s", "-");
}

void cli_print_profile(FILE *f, const ht_model *m)
{
    ht_profile pr;
    ht_model_profile(m, &pr);
    const ht_config *cfg = ht_model_config(m);
    double total = 0;
    for (int k = 0; k < HT_PROF_COUNT; k++)
        total += pr.seconds[k];
    fprintf(f, "profile (wall seconds per kind of work, then per layer):\n");
    fprintf(f, "  %-18s %11s %7s %10s %10s %7s\n", "kind", "seconds", "share",
            "calls", "GFLOP/s", "wait");
    for (int k = 0; k < HT_PROF_COUNT; k++) {
        double s = pr.seconds[k];
        fprintf(f, "  %-18s %11.6f %6.1f%% %10llu", ht_prof_name((ht_prof_kind)k),
                s, total > 0 ? 100.0 * s / total : 0.0,
                (unsigned long long)pr.calls[k]);
        /* Rates only where they mean something: the GEMMs. */
        print_rate(f, k < HT_PROF_LAYER_KINDS ? pr.flops[k] : 0.0, s);
        print_wait(f, &pr, k);
        if (k >= HT_PROF_LAYER_KINDS || cfg->n_layers < 2)
            continue;
        for (size_t l = 0; l < cfg->n_layers && l < HT_MAX_LAYERS; l++) {
            const double ls = pr.layer_seconds[k][l];
            if (pr.layer_calls[k][l] == 0)
                continue;
            char name[48];
            snprintf(name, sizeof name, "L%zu %zux%zu", l + 1, cfg->sizes[l],
                     cfg->sizes[l + 1]);
            fprintf(f, "    %-16s %11.6f %6.1f%% %10llu", name, ls,
                    total > 0 ? 100.0 * ls / total : 0.0,
                    (unsigned long long)pr.layer_calls[k][l]);
            print_rate(f, pr.layer_flops[k][l], ls);
            fprintf(f, "\n");
        }
    }
    fprintf(f, "  %-18s %11.6f %6.1f%%\n", "total", total, total > 0 ? 100.0 : 0.0);
    fprintf(f, "  (wait: the share of all threads' time in a kind spent at the "
            "barrier that ends it: load imbalance and synchronisation)\n");
    fprintf(f, "  (gathering the next batch's rows: %.6f thread-seconds, run "
            "as tasks by threads waiting at barriers: inside the kinds "
            "above)\n", pr.gather_seconds);
    if (pr.calls[HT_PROF_OPTIM] > 0 && pr.seconds[HT_PROF_OPTIM] == 0.0)
        fprintf(f, "  (the optimiser step runs inside gemm_bwd_weight, tile by "
                "tile, and the biases' inside elementwise: its time is counted "
                "there; bench --optim-cost times it on its own)\n");
}

/* A JSON number: finite values as %.9g, anything else as null. */
static void json_num(FILE *f, double v)
{
    if (v == v && v - v == 0.0)
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

static void json_rate(FILE *f, double flops, double s)
{
    json_num(f, gflops(flops, s));
}

static void json_profile(FILE *f, const ht_model *m, const char *command,
                         const double *run_seconds, int runs, size_t samples)
{
    ht_profile pr;
    ht_model_profile(m, &pr);
    const ht_config *cfg = ht_model_config(m);
    fprintf(f, "{\n  \"command\": \"%s\",\n  \"isa\": \"%s\",\n"
            "  \"threads\": %d,\n  \"arch\": [", command, ht_isa_name(),
            ht_get_num_threads());
    for (size_t l = 0; l <= cfg->n_layers; l++)
        fprintf(f, "%s%zu", l ? ", " : "", cfg->sizes[l]);
    fprintf(f, "],\n  \"batch\": %zu,\n", cfg->batch);
    if (runs > 0) {
        fprintf(f, "  \"samples_per_run\": %zu,\n  \"run_seconds\": [",
                samples);
        for (int r = 0; r < runs; r++) {
            fputs(r ? ", " : "", f);
            json_num(f, run_seconds[r]);
        }
        fputs("],\n", f);
    }
    fputs("  \"gather_thread_seconds\": ", f);
    json_num(f, pr.gather_seconds);
    fputs(",\n  \"kinds\": [", f);
    for (int k = 0; k < HT_PROF_COUNT; k++) {
        fprintf(f, "%s\n    {\"kind\": \"%s\", \"seconds\": ", k ? "," : "",
                ht_prof_name((ht_prof_kind)k));
        json_num(f, pr.seconds[k]);
        fprintf(f, ", \"calls\": %llu, \"flops\": ",
                (unsigned long long)pr.calls[k]);
        json_num(f, pr.flops[k]);
        fputs(", \"gflops\": ", f);
        json_rate(f, k < HT_PROF_LAYER_KINDS ? pr.flops[k] : 0.0,
                  pr.seconds[k]);
        fputs(", \"wait_share\": ", f);
        json_num(f, wait_share(&pr, k) >= 0 ? wait_share(&pr, k) : 0.0);
        fputs(", \"layers\": [", f);
        for (size_t l = 0; k < HT_PROF_LAYER_KINDS && l < cfg->n_layers &&
                           l < HT_MAX_LAYERS; l++) {
            fprintf(f, "%s{\"layer\": %zu, \"in\": %zu, \"out\": %zu, "
                    "\"seconds\": ", l ? ", " : "", l + 1, cfg->sizes[l],
                    cfg->sizes[l + 1]);
            json_num(f, pr.layer_seconds[k][l]);
            fprintf(f, ", \"calls\": %llu, \"flops\": ",
                    (unsigned long long)pr.layer_calls[k][l]);
            json_num(f, pr.layer_flops[k][l]);
            fputs(", \"gflops\": ", f);
            json_rate(f, pr.layer_flops[k][l], pr.layer_seconds[k][l]);
            fputs("}", f);
        }
        fputs("]}", f);
    }
    fputs("\n  ]\n}\n", f);
}

int cli_write_profile_json(const char *path, const ht_model *m,
                           const char *command, const double *run_seconds,
                           int runs, size_t samples)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        cli_error("--profile-json %s: cannot allocate the text", path);
        return CLI_EXIT_RUNTIME;
    }
    json_profile(f, m, command, run_seconds, runs, samples);
    if (fclose(f) != 0) {
        free(buf);
        cli_error("--profile-json %s: cannot allocate the text", path);
        return CLI_EXIT_RUNTIME;
    }
    ht_status s = ht_file_write_atomic(path, buf, len);
    free(buf);
    return s == HT_OK ? 0 : cli_lib_error_file("--profile-json", path, s);
}
