/* `hpctrain train`: data, architecture, checkpoints, the epoch loop. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Sizes from the data when --arch is absent: inputs and outputs from the
 * data, hidden layers from the default configuration. */
static int arch_from_data(const cli_data *d, ht_config *cfg)
{
    size_t in = cli_data_inputs(d), out = cli_data_outputs(d);
    if (in == 0 || out == 0) {
        cli_error("%s: no input features or outputs in the data", d->train_x);
        return CLI_EXIT_RUNTIME;
    }
    cfg->sizes[0] = in;
    cfg->sizes[cfg->n_layers] = out;
    return 0;
}

static int resume(ht_model *m, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        cli_error("--resume %s: cannot open: %s", path, strerror(errno));
        return CLI_EXIT_RUNTIME;
    }
    ht_status s = ht_model_load_into(m, path);
    if (s == HT_OK)
        return 0;
    if (s == HT_ERR_SHAPE) {
        /* Name both architectures: the checkpoint's and this run's. */
        ht_model *other = NULL;
        char mine[256], theirs[256];
        cli_format_arch(ht_model_config(m), mine, sizeof mine);
        if (ht_model_load(path, &other) == HT_OK) {
            cli_format_arch(ht_model_config(other), theirs, sizeof theirs);
            ht_model_free(other);
            cli_error("--resume %s: checkpoint architecture %s differs from "
                      "this run's %s", path, theirs, mine);
            return CLI_EXIT_RUNTIME;
        }
    }
    return cli_lib_error_file("--resume", path, s);
}

/* Named classes go into the model (and so into its checkpoints); a
 * resumed model must have the data's names, in the same order. */
static int class_names(const cli_opts *o, const cli_data *d, ht_model *m)
{
    const ht_dataset *t = d->train;
    const char *const *have = ht_model_class_names(m);
    const char *const *want = (const char *const *)t->class_names;
    if (!o->resume) {
        ht_status s = want ? ht_model_set_class_names(m, want, t->n_classes)
                           : HT_OK;
        return s == HT_OK ? 0 : cli_lib_error(d->train_x, s);
    }
    int same = (have == NULL) == (want == NULL);
    for (size_t i = 0; same && want && i < t->n_classes; i++)
        same = strcmp(have[i], want[i]) == 0;
    if (!same) {
        char a[160] = "numbered", b[160] = "numbered";
        if (have)
            cli_format_names(have, t->n_classes, 6, a, sizeof a);
        if (want)
            cli_format_names(want, t->n_classes, 6, b, sizeof b);
        cli_error("--resume %s: the checkpoint's classes (%s) differ from "
                  "those of %s (%s)", o->resume, a, d->train_x, b);
        return CLI_EXIT_RUNTIME;
    }
    return 0;
}

/* --standardize fits the map on the training rows (after --val has split
 * its rows off, so nothing is learnt from them). A resumed run keeps the
 * checkpoint's map, whatever the flags: its weights were trained on it. */
static int input_transform(const cli_opts *o, const cli_data *d, ht_model *m)
{
    const int have = ht_model_input_transform(m, NULL, NULL);
    if (o->resume) {
        if (o->standardize && !have) {
            cli_error("--standardize: checkpoint %s was trained without it; "
                      "resume without --standardize", o->resume);
            return CLI_EXIT_RUNTIME;
        }
        if (have)
            printf("input: standardized per feature (the map in %s)\n",
                   o->resume);
        return 0;
    }
    if (!o->standardize)
        return 0;
    ht_status s = ht_model_fit_standardize(m, d->train);
    if (s != HT_OK)
        return cli_lib_error("--standardize", s);
    printf("input: standardized per feature (mean and std of the %zu "
           "training rows)\n", d->train->n);
    return 0;
}

static void print_setup(const cli_opts *o, const cli_data *d, const ht_config *c)
{
    static const char *const opt[] = {"sgd", "adam", "adamw"};
    static const char *const sched[] = {"constant", "step", "cosine"};
    char arch[256];
    cli_format_arch(c, arch, sizeof arch);
    printf("data: train %zu x %zu (%s)", d->train->n, d->train->d, d->train_x);
    if (d->val)
        printf(", val %zu", d->val->n);
    if (d->test)
        printf(", test %zu (%s)", d->test->n, d->test_x);
    printf("\n");
    printf("model: %s, loss %s, %s lr %g", arch,
           c->loss == HT_LOSS_MSE ? "mse" : "xent", opt[c->optimizer], c->lr);
    if (c->optimizer == HT_OPT_SGD)
        printf(" momentum %g%s", c->momentum, c->nesterov ? " nesterov" : "");
    else
        printf(" beta1 %g beta2 %g eps %g", c->beta1, c->beta2, c->eps);
    if (c->optimizer == HT_OPT_ADAMW)
        printf(" weight-decay %g", c->weight_decay);
    printf(", schedule %s", sched[c->schedule]);
    if (c->warmup_steps)
        printf(" after %llu warmup steps", (unsigned long long)c->warmup_steps);
    printf(", batch %zu, epochs %d\n", c->batch, o->epochs);
    if (d->train->class_names) {
        char names[400];
        cli_format_names((const char *const *)d->train->class_names,
                         d->train->n_classes, 10, names, sizeof names);
        printf("classes: %s\n", names);
    }
    if (c->dropout > 0 || c->input_dropout > 0 || c->l1 > 0 || c->l2 > 0)
        printf("regularisation: dropout %g, input dropout %g, l1 %g%s, l2 %g%s\n",
               c->dropout, c->input_dropout, c->l1, c->prox_l1 ? " (prox)" : "",
               c->l2, c->reg_bias ? ", biases too" : "");
    fflush(stdout);
}

static int evaluate(ht_model *m, const ht_dataset *ds, const char *name,
                    ht_eval_stats *ev)
{
    ht_status s = ht_model_evaluate(m, ds, ev);
    return s == HT_OK ? 0 : cli_lib_error(name, s);
}

/* " test acc 0.8812" for classification, " test loss 0.0123" for MSE. */
static void print_metric(const ht_config *c, const char *name,
                         const ht_eval_stats *ev)
{
    if (c->loss == HT_LOSS_XENT)
        printf("  %s acc %.4f", name, ev->accuracy);
    else
        printf("  %s loss %.6g", name, ev->loss);
}

static int divergence(const cli_opts *o, int epoch)
{
    struct stat st;
    if (o->save && stat(o->save, &st) == 0)
        cli_error("training diverged at epoch %d: loss is NaN/Inf; try a "
                  "smaller --lr; last good checkpoint %s kept", epoch, o->save);
    else
        cli_error("training diverged at epoch %d: loss is NaN/Inf; try a "
                  "smaller --lr; no checkpoint written", epoch);
    return CLI_EXIT_RUNTIME;
}

/* The epochs still to train: one line, a --log row and a --save each,
 * until the last or until a SIGINT / SIGTERM has arrived (the epoch that
 * was running is finished, logged and saved first). *ev and *have_final:
 * the last test-set evaluation, if any. Returns 0 or an exit code after
 * one line. */
static int epochs(const cli_opts *o, cli_data *d, const ht_config *cfg,
                  ht_model *m, cli_log *lg, ht_eval_stats *ev,
                  int *have_final, cli_best *best)
{
    const int track = d->val && (o->save_best || o->patience);
    cli_progress pg;
    cli_progress_init(&pg, o->quiet);
    for (int e = ht_model_epoch(m); e < o->epochs; e++) {
        ht_epoch_stats st;
        cli_progress_begin(&pg, e + 1, o->epochs);
        ht_status s = ht_model_train_epoch(m, d->train, cli_progress_cb, &pg, &st);
        cli_progress_end(&pg);
        if (s == HT_ERR_DIVERGED)
            return divergence(o, e + 1);
        if (s != HT_OK)
            return cli_lib_error("training", s);
        printf("epoch %d/%d  loss %.4f", ht_model_epoch(m), o->epochs, st.loss);
        if (cfg->l1 > 0 || cfg->l2 > 0)
            printf("  penalty %.4g  sparsity %.3f", st.penalty, st.sparsity);
        /* per layer where zeros can arise: L1 (exact zeros need --prox-l1) */
        if (cfg->l1 > 0 && cfg->n_layers > 1)
            for (size_t l = 0; l < cfg->n_layers; l++)
                printf("%s%.3f%s", l ? "/" : " (layers ",
                       st.layer_sparsity[l], l + 1 < cfg->n_layers ? "" : ")");
        int rc = 0, improved = 0;
        ht_eval_stats vev;
        if (d->val && (rc = evaluate(m, d->val, d->train_x, &vev)) == 0)
            print_metric(cfg, "val", &vev);
        if (rc == 0 && track)
            improved = cli_best_update(cfg, &vev, ht_model_epoch(m), best);
        if (rc == 0 && d->test && (rc = evaluate(m, d->test, d->test_x, ev)) == 0) {
            print_metric(cfg, "test", ev);
            *have_final = 1;
        }
        if (rc == 0 && o->log)
            rc = cli_log_epoch(lg, ht_model_epoch(m), &st,
                               d->val ? &vev : NULL, d->test ? ev : NULL);
        if (rc)
            return rc;
        printf("  %.3f s  %.0f samples/s%s\n", st.seconds, st.samples_per_s,
               improved ? "  best" : "");
        fflush(stdout);
        if (o->save && (s = ht_model_save(m, o->save)) != HT_OK)
            return cli_lib_error_file("--save", o->save, s);
        if (improved && o->save_best &&
            (s = ht_model_save(m, o->save_best)) != HT_OK)
            return cli_lib_error_file("--save-best", o->save_best, s);
        if (cli_interrupted())
            break;
        if (o->patience && ht_model_epoch(m) - best->epoch >= o->patience &&
            ht_model_epoch(m) < o->epochs) {
            printf("early stop after epoch %d: no better validation score "
                   "in the %d epochs since epoch %d\n", ht_model_epoch(m),
                   o->patience, best->epoch);
            break;
        }
    }
    return 0;
}

static int finish(const cli_opts *o, cli_data *d, const ht_config *cfg,
                  ht_model *m, ht_eval_stats *ev, int have_final,
                  const cli_best *best)
{
    const ht_dataset *final_set = d->test ? d->test : d->val ? d->val : d->train;
    const char *final_name = d->test ? "test" : d->val ? "val" : "train";
    const char *final_file = d->test ? d->test_x : d->train_x;
    int rc;
    if (!have_final && (rc = evaluate(m, final_set, final_file, ev)) != 0)
        return rc;
    if (cfg->loss == HT_LOSS_XENT)
        printf("final %s accuracy %.4f\n", final_name, ev->accuracy);
    else
        printf("final %s loss %.6g\n", final_name, ev->loss);
    if (o->save)
        printf("checkpoint %s (epoch %d)\n", o->save, ht_model_epoch(m));
    if (o->save_best && best->epoch > 0 && (rc = cli_best_report(o, d, cfg, best)))
        return rc;
    if (o->print_hash)
        printf("weights hash %016llx\n", (unsigned long long)ht_model_hash(m));
    if (o->profile)
        cli_print_profile(stdout, m);
    return o->profile_json ? cli_write_profile_json(o->profile_json, m, "train",
                                                    NULL, 0, 0)
                           : 0;
}

static int run(const cli_opts *o, cli_data *d, ht_config *cfg)
{
    ht_model *m = NULL;
    ht_status s = ht_model_create(cfg, &m);
    if (s != HT_OK)
        return cli_lib_error("model", s);
    int rc = o->resume ? resume(m, o->resume) : 0;
    if (rc) {
        ht_model_free(m);
        return rc;
    }
    cli_print_placement(m);
    if (o->resume)
        printf("resumed from %s at epoch %d%s\n", o->resume, ht_model_epoch(m),
               ht_model_epoch(m) >= o->epochs ? " (nothing left to train)" : "");
    cli_best best = {0, 0.0, 0.0};
    rc = class_names(o, d, m);
    if (rc == 0)
        rc = input_transform(o, d, m);
    if (rc == 0)
        rc = cli_best_resume(o, d, m, &best);
    if (rc) {
        ht_model_free(m);
        return rc;
    }

    cli_log lg = {0};
    ht_eval_stats ev = {0};
    int have_final = 0;
    if (o->log)
        rc = cli_log_open(&lg, o->log, o->resume ? ht_model_epoch(m) : -1,
                          cfg->loss == HT_LOSS_XENT, cfg->n_layers);
    if (rc == 0) {
        cli_interrupt_arm();
        rc = epochs(o, d, cfg, m, &lg, &ev, &have_final, &best);
        cli_interrupt_disarm();
    }
    const int sig = cli_interrupted();
    if (rc == 0 && sig)
        printf("interrupted by %s after epoch %d of %d\n",
               sig == SIGINT ? "SIGINT" : "SIGTERM", ht_model_epoch(m),
               o->epochs);
    if (rc == 0)
        rc = finish(o, d, cfg, m, &ev, have_final, &best);
    /* the shell's convention for a run ended by a signal */
    if (rc == 0 && sig)
        rc = 128 + sig;
    cli_log_free(&lg);
    ht_model_free(m);
    return rc;
}

/* Two flags naming one file would overwrite each other's output (or, for
 * --log and --resume, the checkpoint being resumed). --save and --resume
 * may name the same checkpoint: that is how a run is continued. */
static int distinct_outputs(const cli_opts *o)
{
    const struct { const char *flag, *path; } f[] = {
        {"--save", o->save}, {"--log", o->log},
        {"--profile-json", o->profile_json}, {"--save-best", o->save_best},
        {"--resume", o->resume}};
    const size_t n = sizeof f / sizeof f[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            if (f[i].path == NULL || f[j].path == NULL ||
                strcmp(f[i].path, f[j].path) != 0)
                continue;
            if (i == 0 && j == n - 1)
                continue;       /* --save and --resume */
            cli_error("%s and %s both name %s", f[i].flag, f[j].flag,
                      f[i].path);
            return CLI_EXIT_USAGE;
        }
    return 0;
}

int cli_train(const cli_opts *o)
{
    ht_config cfg = o->cfg;
    int rc = o->save ? cli_check_out_path("--save", o->save) : 0;
    if (rc == 0 && o->profile_json)
        rc = cli_check_out_path("--profile-json", o->profile_json);
    if (rc == 0 && o->log)
        rc = cli_check_out_path("--log", o->log);
    if (rc == 0 && o->save_best)
        rc = cli_check_out_path("--save-best", o->save_best);
    if (rc == 0)
        rc = distinct_outputs(o);
    if (rc)
        return rc;
    rc = cli_runtime_start(o, "train", 1, (unsigned long long)cfg.seed);
    if (rc)
        return rc;

    cli_data d;
    rc = cli_data_load(o, 1, &d);
    if (rc)
        return rc;
    if (d.train && d.train->label) {
        char owner[1100];
        snprintf(owner, sizeof owner, "the training data %s", d.train_x);
        rc = cli_data_classes(&d, (const char *const *)d.train->class_names,
                              d.train->n_classes, owner);
    }
    char source[300];
    if (rc) {
        /* reported */
    } else if (o->arch_given) {
        snprintf(source, sizeof source, "--arch %s", o->arch_text);
    } else {
        rc = arch_from_data(&d, &cfg);
        char arch[256];
        cli_format_arch(&cfg, arch, sizeof arch);
        snprintf(source, sizeof source, "architecture %s", arch);
    }
    if (rc == 0)
        rc = cli_data_check(&d, &cfg, source);
    if (rc == 0 && ht_config_check(&cfg) != HT_OK) {
        cli_error("invalid configuration: %s", ht_last_error());
        rc = CLI_EXIT_USAGE;
    }
    if (rc == 0)
        rc = cli_data_split(o, cfg.seed, &d);
    if (rc == 0) {
        print_setup(o, &d, &cfg);
        rc = run(o, &d, &cfg);
    }
    cli_data_free(&d);
    return rc;
}
