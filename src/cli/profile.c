/* The per-kernel profile table shared by `train --profile` and `bench`. */
#include "cli.h"

void cli_print_profile(FILE *f, const ht_model *m)
{
    ht_profile pr;
    ht_model_profile(m, &pr);
    double total = 0;
    for (int k = 0; k < HT_PROF_COUNT; k++)
        total += pr.seconds[k];
    fprintf(f, "profile (wall seconds per kind of work):\n");
    fprintf(f, "  %-18s %11s %7s %10s %10s\n", "kind", "seconds", "share",
            "calls", "GFLOP/s");
    for (int k = 0; k < HT_PROF_COUNT; k++) {
        double s = pr.seconds[k];
        fprintf(f, "  %-18s %11.6f %6.1f%% %10llu", ht_prof_name((ht_prof_kind)k),
                s, total > 0 ? 100.0 * s / total : 0.0,
                (unsigned long long)pr.calls[k]);
        /* Rates only where they mean something: the GEMMs. */
        if (k <= HT_PROF_GEMM_BWD_WEIGHT && pr.flops[k] > 0 && s > 0)
            fprintf(f, " %10.2f\n", pr.flops[k] / s * 1e-9);
        else
            fprintf(f, " %10s\n", "-");
    }
    fprintf(f, "  %-18s %11.6f %6.1f%%\n", "total", total, total > 0 ? 100.0 : 0.0);
    if (pr.calls[HT_PROF_OPTIM] > 0 && pr.seconds[HT_PROF_OPTIM] == 0.0)
        fprintf(f, "  (the optimiser step runs inside gemm_bwd_weight, tile by "
                "tile, and the biases' inside elementwise: its time is counted "
                "there)\n");
}
