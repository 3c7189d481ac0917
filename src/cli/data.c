/* Resolving --data / --train / --test to loaded data sets, and checking
 * the data against an architecture before anything is trained. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char *const idx_names[4] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
};

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* One IDX file of the directory: the name, else name.gz. */
static int resolve_idx(const char *dir, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", dir, name);
    if (is_file(out))
        return 0;
    snprintf(out, len, "%s/%s.gz", dir, name);
    if (is_file(out))
        return 0;
    snprintf(out, len, "%s/%s", dir, name);
    cli_error("%s: missing file (neither %s nor %s.gz in %s)", out, name, name, dir);
    return CLI_EXIT_RUNTIME;
}

int cli_check_readable(const char *flag, const char *path)
{
    struct stat st;
    const char *sep = flag ? " " : "";
    if (flag == NULL)
        flag = "";
    if (stat(path, &st) != 0) {
        cli_error("%s%s%s: cannot open: %s", flag, sep, path, strerror(errno));
        return CLI_EXIT_RUNTIME;
    }
    if (!S_ISREG(st.st_mode)) {
        cli_error("%s%s%s: not a regular file", flag, sep, path);
        return CLI_EXIT_RUNTIME;
    }
    return 0;
}

/* A load failure: the library's line, prefixed by the file unless it
 * already names one of the files involved. */
static int load_error(ht_status s, const char *a, const char *b)
{
    const char *msg = ht_last_error();
    if (msg && *msg && (strstr(msg, a) || (b && strstr(msg, b))))
        return cli_lib_error(NULL, s);
    return cli_lib_error(a, s);
}

static int load_idx_pair(const char *dir, int first, char *x, char *y,
                         size_t len, ht_dataset **out)
{
    int rc = resolve_idx(dir, idx_names[first], x, len);
    if (rc == 0)
        rc = resolve_idx(dir, idx_names[first + 1], y, len);
    if (rc)
        return rc;
    ht_status s = ht_dataset_load_idx(x, y, out);
    return s == HT_OK ? 0 : load_error(s, x, y);
}

static int load_csv(const char *path, ht_loss_kind loss, char *x, char *y,
                    size_t len, ht_dataset **out)
{
    snprintf(x, len, "%s", path);
    snprintf(y, len, "%s", path);
    int rc = cli_check_readable(NULL, path);
    if (rc)
        return rc;
    ht_status s = ht_dataset_load_csv(path, loss == HT_LOSS_MSE
                                                 ? HT_TARGET_REGRESSION
                                                 : HT_TARGET_CLASS, out);
    return s == HT_OK ? 0 : load_error(s, path, NULL);
}

int cli_data_load(const cli_opts *o, int want_train, cli_data *d)
{
    memset(d, 0, sizeof *d);
    int rc = 0;
    size_t len = sizeof d->train_x;
    if (o->train_csv || o->test_csv) {
        if (want_train && o->train_csv)
            rc = load_csv(o->train_csv, o->cfg.loss, d->train_x, d->train_y,
                          len, &d->train);
        if (rc == 0 && o->test_csv)
            rc = load_csv(o->test_csv, o->cfg.loss, d->test_x, d->test_y,
                          len, &d->test);
        if (rc == 0 && !want_train && !o->test_csv) {
            cli_error("--train %s: eval needs test data (--test FILE.csv)",
                      o->train_csv);
            rc = CLI_EXIT_USAGE;
        }
    } else {
        const char *dir = o->data_dir ? o->data_dir : CLI_DEFAULT_DATA_DIR;
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            cli_error("%s: data directory not found%s", dir,
                      o->data_dir ? "" : " (install dataset-fashion-mnist or "
                                         "give --data DIR / --train FILE.csv)");
            return CLI_EXIT_RUNTIME;
        }
        if (want_train)
            rc = load_idx_pair(dir, 0, d->train_x, d->train_y, len, &d->train);
        if (rc == 0)
            rc = load_idx_pair(dir, 2, d->test_x, d->test_y, len, &d->test);
    }
    if (rc == 0 && d->train && d->test && d->train->d != d->test->d) {
        cli_error("%s: %zu features per row, but the training data %s has %zu",
                  d->test_x, d->test->d, d->train_x, d->train->d);
        rc = CLI_EXIT_RUNTIME;
    }
    if (rc == 0 && d->train && d->test && d->train->n_targets != d->test->n_targets) {
        cli_error("%s: %zu target%s per row, but the training data %s has %zu",
                  d->test_x, d->test->n_targets,
                  d->test->n_targets == 1 ? "" : "s", d->train_x,
                  d->train->n_targets);
        rc = CLI_EXIT_RUNTIME;
    }
    if (rc)
        cli_data_free(d);
    return rc;
}

static size_t set_outputs(const ht_dataset *ds)
{
    if (ds == NULL)
        return 0;
    return ds->target ? ds->n_targets : ds->n_classes;
}

size_t cli_data_outputs(const cli_data *d)
{
    /* The training data decides; a test label beyond it is reported as
     * out of range by cli_data_check. */
    return d->train ? set_outputs(d->train) : set_outputs(d->test);
}

size_t cli_data_inputs(const cli_data *d)
{
    return d->train ? d->train->d : d->test ? d->test->d : 0;
}

/* Every label of ds must index an output of the model. */
static int check_labels(const ht_dataset *ds, const char *file, size_t out,
                        const char *source)
{
    if (ds == NULL || ds->label == NULL)
        return 0;
    for (size_t i = 0; i < ds->n; i++)
        if (ds->label[i] < 0 || (size_t)ds->label[i] >= out) {
            cli_error("%s: data row %zu: label %d out of range for %s "
                      "(%zu outputs)", file, i + 1, (int)ds->label[i],
                      source, out);
            return CLI_EXIT_RUNTIME;
        }
    return 0;
}

static int check_set(const ht_dataset *ds, const char *fx, const char *fy,
                     const ht_config *cfg, const char *source, int exact_out)
{
    if (ds == NULL)
        return 0;
    size_t in = cfg->sizes[0], out = cfg->sizes[cfg->n_layers];
    if (ds->d != in) {
        cli_error("%s: input size %zu does not match the data: %s has %zu "
                  "features per row", source, in, fx, ds->d);
        return CLI_EXIT_RUNTIME;
    }
    if (cfg->loss == HT_LOSS_XENT && ds->label == NULL) {
        cli_error("%s: has regression targets; --loss xent needs class labels",
                  fx);
        return CLI_EXIT_RUNTIME;
    }
    if (ds->target) {
        if (ds->n_targets != out) {
            cli_error("%s: output size %zu does not match the data: %s has "
                      "%zu target%s per row", source, out, fx, ds->n_targets,
                      ds->n_targets == 1 ? "" : "s");
            return CLI_EXIT_RUNTIME;
        }
        return 0;
    }
    int rc = check_labels(ds, fy, out, source);
    if (rc == 0 && exact_out && ds->n_classes != out) {
        cli_error("%s: output size %zu does not match the data: %s has %zu "
                  "classes", source, out, fy, ds->n_classes);
        return CLI_EXIT_RUNTIME;
    }
    return rc;
}

int cli_data_check(const cli_data *d, const ht_config *cfg, const char *source)
{
    /* For training the output layer must equal the classes of the training
     * data; a test or evaluation set may lack some classes. */
    int rc = check_set(d->train, d->train_x, d->train_y, cfg, source, 1);
    if (rc == 0)
        rc = check_set(d->test, d->test_x, d->test_y, cfg, source, 0);
    return rc;
}

int cli_data_split(const cli_opts *o, uint64_t seed, cli_data *d)
{
    if (o->val <= 0 || d->train == NULL)
        return 0;
    ht_dataset *tr = NULL, *va = NULL;
    ht_status s = ht_dataset_split(d->train, o->val, seed, &tr, &va);
    if (s != HT_OK) {
        char what[64];
        snprintf(what, sizeof what, "--val %g", o->val);
        return cli_lib_error(what, s);
    }
    ht_dataset_free(d->train);
    d->train = tr;
    d->val = va;
    return 0;
}

void cli_data_free(cli_data *d)
{
    ht_dataset_free(d->train);
    ht_dataset_free(d->val);
    ht_dataset_free(d->test);
    d->train = d->val = d->test = NULL;
}

/* "setosa, versicolor, virginica" (at most `max` names, then "..."). */
void cli_format_names(const char *const *names, size_t n, size_t max,
                      char *buf, size_t len)
{
    size_t pos = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && pos + 1 < len; i++) {
        if (i == max) {
            snprintf(buf + pos, len - pos, ", ... (%zu in all)", n);
            return;
        }
        snprintf(buf + pos, len - pos, i ? ", %s" : "%s", names[i]);
        pos += strlen(buf + pos);
    }
}

/* The test set's classes numbered as `names` (the training data's or the
 * model's): named classes renumbered, and numbered against named refused
 * either way, naming both sides. */
int cli_data_classes(cli_data *d, const char *const *names, size_t n,
                     const char *owner)
{
    ht_dataset *t = d->test;
    if (t == NULL || t->label == NULL)
        return 0;
    if ((names == NULL) != (t->class_names == NULL)) {
        cli_error("%s: %s classes, but %s has %s classes", d->test_y,
                  t->class_names ? "named" : "numbered", owner,
                  names ? "named" : "numbered");
        return CLI_EXIT_RUNTIME;
    }
    if (names == NULL)
        return 0;
    ht_status s = ht_dataset_use_classes(t, names, n);
    if (s != HT_OK) {
        cli_error("%s: %s of %s", d->test_y, ht_last_error(), owner);
        return CLI_EXIT_RUNTIME;
    }
    return 0;
}
