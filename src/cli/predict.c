/* `hpctrain predict --model FILE --input FILE --output FILE`: a
 * checkpoint's outputs for inputs without labels, as CSV. The input is a
 * CSV of features only or an IDX image file, raw or gzip, told apart by
 * content (ht_dataset_load_inputs). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int load_input(const char *path, ht_dataset **ds)
{
    int rc = cli_check_readable("--input", path);
    if (rc)
        return rc;
    ht_status s = ht_dataset_load_inputs(path, ds);
    if (s == HT_OK)
        return 0;
    const char *msg = ht_last_error();
    return msg && strstr(msg, path) ? cli_lib_error(NULL, s)
                                    : cli_lib_error_file("--input", path, s);
}

int cli_predict(const cli_opts *o)
{
    int rc = cli_check_out_path("--output", o->predictions);
    if (rc)
        return rc;
    if (strcmp(o->predictions, o->model) == 0 ||
        strcmp(o->predictions, o->input) == 0) {
        cli_error("--output %s: also given as --%s", o->predictions,
                  strcmp(o->predictions, o->model) == 0 ? "model" : "input");
        return CLI_EXIT_USAGE;
    }
    ht_model *m = NULL;
    rc = cli_open_model(o, "predict", &m);
    if (rc)
        return rc;
    ht_dataset *ds = NULL;
    rc = load_input(o->input, &ds);
    const ht_config *mc = ht_model_config(m);
    char arch[256];
    cli_format_arch(mc, arch, sizeof arch);
    if (rc == 0 && ds->d != mc->sizes[0]) {
        cli_error("--input %s: %zu features per row, but model %s (%s) takes "
                  "%zu%s", o->input, ds->d, o->model, arch, mc->sizes[0],
                  ds->d == mc->sizes[0] + 1
                      ? " (a label column? predict reads features only; "
                        "eval takes labelled data)"
                      : "");
        rc = CLI_EXIT_RUNTIME;
    }
    if (rc == 0) {
        printf("model: %s, %s, epoch %d\n", o->model, arch, ht_model_epoch(m));
        if (ht_model_input_transform(m, NULL, NULL))
            printf("input: standardized per feature (the map in %s)\n",
                   o->model);
        printf("input: %s, %zu rows x %zu features\n", o->input, ds->n, ds->d);
        fflush(stdout);
        rc = cli_eval_reports(o, m, ds);
    }
    ht_dataset_free(ds);
    ht_model_free(m);
    return rc;
}
