/* The per-kernel profile table shared by `train --profile` and `bench`. */
#include "cli.h"

/* The wait column: the share of the team's thread-seconds in a kind spent
 * at the barrier that closes it; "-" where no phase of the kind ran in a
 * team (the shuffle before a region is timed outside one). */
static void print_wait(FILE *f, const ht_profile *pr, int k)
{
    if (pr->team_seconds[k] > 0)
        fprintf(f, " %6.1f%%\n", 100.0 * pr->wait[k] / pr->team_seconds[k]);
    else
        fprintf(f, " %7s\n", "-");
}

static void print_rate(FILE *f, double flops, double s)
{
    if (flops > 0 && s > 0)
        fprintf(f, " %10.2f", flops / s * 1e-9);
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
                "there)\n");
}
