/* `hpctrain eval --model FILE`: test loss and accuracy of a checkpoint,
 * and on request per-class figures and per-row predictions. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* --print-hash: the loaded weights' hash, in the line scripts parse
 * ("weights hash X", as train and bench print it), then the one the
 * checkpoint stores on a line of its own, so that line stays parseable.
 * Loading compared the two and refuses a mismatch, so a format-3 file's
 * stored hash is the loaded one: the file is not read again. */
static void print_hashes(const ht_model *m)
{
    const uint64_t h = ht_model_hash(m);
    const unsigned version = ht_model_checkpoint_version(m);
    printf("weights hash %016llx\n", (unsigned long long)h);
    if (version < 3)
        printf("stored hash none (checkpoint version %u, written before "
               "checkpoints stored it)\n", version);
    else
        printf("stored hash %016llx\n", (unsigned long long)h);
}

int cli_eval(const cli_opts *o)
{
    if (o->predictions) {
        int rc = cli_check_out_path("--predictions", o->predictions);
        if (rc)
            return rc;
        if (strcmp(o->predictions, o->model) == 0) {
            cli_error("--predictions and --model both name %s", o->model);
            return CLI_EXIT_USAGE;
        }
    }
    ht_model *m = NULL;
    int rc = cli_open_model(o, "eval", &m);
    if (rc)
        return rc;
    ht_status s;
    /* The data is read the way the model was trained: MSE models take
     * regression targets from a CSV. */
    const ht_config *mc = ht_model_config(m);
    if (o->confusion && mc->loss != HT_LOSS_XENT) {
        ht_model_free(m);
        cli_error("--confusion: model %s is a regression (mse) model: it has "
                  "no classes", o->model);
        return CLI_EXIT_USAGE;
    }
    cli_opts od = *o;
    od.cfg.loss = mc->loss;

    cli_data d;
    rc = cli_data_load(&od, 0, &d);
    if (rc) {
        ht_model_free(m);
        return rc;
    }
    char arch[256], source[1400];
    cli_format_arch(mc, arch, sizeof arch);
    snprintf(source, sizeof source, "model %s (%s)", o->model, arch);
    if (mc->loss == HT_LOSS_XENT)
        rc = cli_data_classes(&d, ht_model_class_names(m),
                              mc->sizes[mc->n_layers], source);
    if (rc == 0)
        rc = cli_data_check(&d, mc, source);
    if (rc == 0) {
        printf("model: %s, %s, epoch %d\n", o->model, arch, ht_model_epoch(m));
        if (ht_model_input_transform(m, NULL, NULL))
            printf("input: standardized per feature (the map in %s)\n",
                   o->model);
        ht_eval_stats ev;
        s = ht_model_evaluate(m, d.test, &ev);
        if (s != HT_OK) {
            rc = cli_lib_error(d.test_x, s);
        } else {
            printf("test: %s, %zu rows\n", d.test_x, ev.n);
            if (mc->loss == HT_LOSS_XENT)
                printf("test loss %.4f  test accuracy %.4f\n", ev.loss, ev.accuracy);
            else
                printf("test loss %.6g\n", ev.loss);
            if (o->print_hash)
                print_hashes(m);
            if (rc == 0 && (o->confusion || o->predictions))
                rc = cli_eval_reports(o, m, d.test);
        }
    }
    cli_data_free(&d);
    ht_model_free(m);
    return rc;
}
