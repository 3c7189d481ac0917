/* `train --save-best` and `--patience`: the best validation epoch so far,
 * the comparison that decides it, its recovery on --resume and the final
 * report. */
#include <sys/stat.h>

#include "cli.h"

/* Classification: higher accuracy, ties to lower loss; MSE: lower loss.
 * Strictly better only, so a later epoch that merely equals the best does
 * not replace it (and a redone epoch after --resume changes nothing). */
static int better(const ht_config *c, const ht_eval_stats *ev,
                  const cli_best *b)
{
    if (b->epoch == 0)
        return 1;
    if (c->loss == HT_LOSS_XENT && ev->accuracy != b->acc)
        return ev->accuracy > b->acc;
    return ev->loss < b->loss;
}

static void print_val_score(const ht_config *c, const cli_best *b)
{
    if (c->loss == HT_LOSS_XENT)
        printf("val acc %.4f", b->acc);
    else
        printf("val loss %.6g", b->loss);
}

/* A resumed run takes the best so far from --save-best's file, if there is
 * one, by evaluating it on this run's validation rows, so the patience
 * count and the next comparison go on where they stopped. */
int cli_best_resume(const cli_opts *o, const cli_data *d, const ht_model *m,
                    cli_best *b)
{
    struct stat st;
    if (o->save_best == NULL || o->resume == NULL ||
        stat(o->save_best, &st) != 0)
        return 0;
    ht_model *bm = NULL;
    ht_status s = ht_model_load(o->save_best, &bm);
    if (s != HT_OK)
        return cli_lib_error_file("--save-best", o->save_best, s);
    const ht_config *a = ht_model_config(bm), *c = ht_model_config(m);
    int same = a->n_layers == c->n_layers && a->loss == c->loss;
    for (size_t l = 0; same && l <= c->n_layers; l++)
        same = a->sizes[l] == c->sizes[l];
    int rc = 0;
    if (!same) {
        char theirs[256], mine[256];
        cli_format_arch(a, theirs, sizeof theirs);
        cli_format_arch(c, mine, sizeof mine);
        cli_error("--save-best %s: checkpoint architecture %s differs from "
                  "this run's %s", o->save_best, theirs, mine);
        rc = CLI_EXIT_RUNTIME;
    } else {
        ht_eval_stats ev;
        s = ht_model_evaluate(bm, d->val, &ev);
        if (s != HT_OK) {
            rc = cli_lib_error("--save-best", s);
        } else {
            b->epoch = ht_model_epoch(bm);
            b->acc = ev.accuracy;
            b->loss = ev.loss;
            printf("best so far: epoch %d, ", b->epoch);
            print_val_score(c, b);
            printf(" (%s)\n", o->save_best);
        }
    }
    ht_model_free(bm);
    return rc;
}

int cli_best_update(const ht_config *c, const ht_eval_stats *ev, int epoch,
                    cli_best *b)
{
    if (!better(c, ev, b))
        return 0;
    b->epoch = epoch;
    b->acc = ev->accuracy;
    b->loss = ev->loss;
    return 1;
}

/* "best val epoch 7: val acc 0.8912, test acc 0.8850 (best.ckpt)": the
 * --save-best checkpoint, evaluated on the test rows if there are any. */
int cli_best_report(const cli_opts *o, const cli_data *d,
                    const ht_config *cfg, const cli_best *b)
{
    printf("best val epoch %d: ", b->epoch);
    print_val_score(cfg, b);
    if (d->test) {
        ht_model *bm = NULL;
        ht_status s = ht_model_load(o->save_best, &bm);
        ht_eval_stats ev;
        if (s == HT_OK)
            s = ht_model_evaluate(bm, d->test, &ev);
        ht_model_free(bm);
        if (s != HT_OK) {
            printf("\n");
            return cli_lib_error_file("--save-best", o->save_best, s);
        }
        if (cfg->loss == HT_LOSS_XENT)
            printf(", test acc %.4f", ev.accuracy);
        else
            printf(", test loss %.6g", ev.loss);
    }
    printf(" (%s)\n", o->save_best);
    return 0;
}
