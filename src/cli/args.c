#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"

enum flag_id {
    F_ARCH, F_DROPOUT, F_INPUT_DROPOUT, F_L1, F_L2, F_LR, F_MOMENTUM,
    F_NESTEROV, F_OPTIMIZER, F_WEIGHT_DECAY, F_BETA1, F_BETA2, F_EPS,
    F_PROX_L1, F_REG_BIAS, F_SCHEDULE, F_STEP_EPOCHS, F_GAMMA, F_BATCH,
    F_EPOCHS, F_THREADS, F_SEED, F_LOSS, F_SAVE, F_RESUME, F_PRINT_HASH,
    F_PROFILE, F_VAL, F_DATA, F_TRAIN, F_TEST, F_QUIET, F_MODEL, F_STEPS, F_REPEAT, F_PROFILE_JSON,
    F_LOG, F_CONFUSION, F_PREDICTIONS, F_STANDARDIZE, F_SAVE_BEST, F_PATIENCE,
    F_INPUT, F_OUTPUT, F_TOPOLOGY, F_WARMUP_STEPS, F_OPTIM_COST, F_HELP
};

#define T CLI_TRAIN
#define E CLI_EVAL
#define I CLI_INFO
#define B CLI_BENCH
#define P CLI_PREDICT

typedef struct flag_def {
    const char *name;
    enum flag_id id;
    const char *metavar;  /* NULL: a switch without a value */
    unsigned cmds;
    const char *help;
} flag_def;

/* The order here is the order of --help. */
static const flag_def flags[] = {
    {"--data", F_DATA, "DIR", T | E,
     "IDX directory (default " CLI_DEFAULT_DATA_DIR ")"},
    {"--train", F_TRAIN, "FILE.csv", T, "training CSV (label first)"},
    {"--test", F_TEST, "FILE.csv", T | E, "test CSV"},
    {"--val", F_VAL, "FRAC", T, "split FRAC of training data off for validation"},
    {"--standardize", F_STANDARDIZE, NULL, T,
     "inputs to mean 0, std 1 per feature (fit on training rows)"},
    {"--model", F_MODEL, "FILE", E | P | I,
     "checkpoint to use (required; info: describe it)"},
    {"--input", F_INPUT, "FILE", P,
     "inputs: CSV of features only, or IDX images (required)"},
    {"--output", F_OUTPUT, "FILE", P, "predictions as CSV (atomic; required)"},
    {"--arch", F_ARCH, "A-B-..-Z", T | B, "layer sizes, e.g. 784-1024-1024-10"},
    {"--loss", F_LOSS, "xent|mse", T, "loss (mse loads CSV targets as regression)"},
    {"--dropout", F_DROPOUT, "P", T | B, "dropout on hidden activations, [0,1)"},
    {"--input-dropout", F_INPUT_DROPOUT, "P", T | B, "dropout on inputs, [0,1)"},
    {"--l1", F_L1, "X", T | B, "L1 coefficient (g += l1*sign(w))"},
    {"--l2", F_L2, "X", T | B, "L2 coefficient (g += l2*w)"},
    {"--prox-l1", F_PROX_L1, NULL, T | B, "L1 as soft-thresholding (exact zeros)"},
    {"--reg-bias", F_REG_BIAS, NULL, T | B, "regularise biases too"},
    {"--optimizer", F_OPTIMIZER, "sgd|adam|adamw", T | B, "optimiser"},
    {"--lr", F_LR, "X", T | B, "learning rate"},
    {"--momentum", F_MOMENTUM, "X", T | B, "SGD momentum, [0,1)"},
    {"--nesterov", F_NESTEROV, NULL, T | B, "Nesterov momentum"},
    {"--weight-decay", F_WEIGHT_DECAY, "X", T | B, "AdamW decoupled weight decay"},
    {"--beta1", F_BETA1, "X", T | B, "Adam beta1, [0,1)"},
    {"--beta2", F_BETA2, "X", T | B, "Adam beta2, [0,1)"},
    {"--eps", F_EPS, "X", T | B, "Adam epsilon, > 0"},
    {"--schedule", F_SCHEDULE, "constant|step|cosine", T, "learning-rate schedule"},
    {"--step-epochs", F_STEP_EPOCHS, "N", T, "step schedule: epochs per step"},
    {"--gamma", F_GAMMA, "X", T, "step schedule: factor per step"},
    {"--warmup-steps", F_WARMUP_STEPS, "N", T,
     "raise the rate linearly over the first N steps"},
    {"--batch", F_BATCH, "N", T | I | B, "minibatch size"},
    {"--epochs", F_EPOCHS, "N", T, "total epochs (with --resume: up to N)"},
    {"--steps", F_STEPS, "N", B, "optimiser steps to time (default 20)"},
    {"--repeat", F_REPEAT, "N", B, "timed runs of those steps (default 5)"},
    {"--optim-cost", F_OPTIM_COST, NULL, B,
     "also time the steps without the optimiser, alternated: its cost"},
    {"--threads", F_THREADS, "N", T | E | I | B | P, "OpenMP threads"},
    {"--seed", F_SEED, "N", T | B, "seed for init, shuffling, dropout"},
    {"--save", F_SAVE, "FILE", T, "checkpoint after every epoch (atomic)"},
    {"--resume", F_RESUME, "FILE", T, "continue from a checkpoint"},
    {"--save-best", F_SAVE_BEST, "FILE", T,
     "checkpoint the best validation epoch (needs --val)"},
    {"--patience", F_PATIENCE, "N", T,
     "stop N epochs after the best validation epoch (needs --val)"},
    {"--print-hash", F_PRINT_HASH, NULL, T | E | B, "print a hash of the final weights"},
    {"--profile", F_PROFILE, NULL, T, "print the per-kernel profile at the end"},
    {"--profile-json", F_PROFILE_JSON, "FILE", T | B,
     "write the profile as JSON (atomic)"},
    {"--log", F_LOG, "FILE", T,
     "one CSV row per epoch (atomic; --resume keeps earlier rows)"},
    {"--confusion", F_CONFUSION, NULL, E,
     "per-class recall and the confusion matrix"},
    {"--predictions", F_PREDICTIONS, "FILE", E,
     "each row's prediction as CSV (atomic)"},
    {"--quiet", F_QUIET, NULL, T | E | B, "no progress bar"},
    {"--topology", F_TOPOLOGY, NULL, I,
     "print the NUMA placement plan for --threads and --batch"},
    {"--help", F_HELP, NULL, T | E | I | B | P, "this text"},
};

#undef T
#undef E
#undef I
#undef B
#undef P

static const struct {
    const char *name;
    enum cli_cmd cmd;
    const char *summary;
} commands[] = {
    {"train", CLI_TRAIN, "train an MLP (default: Fashion-MNIST)"},
    {"eval", CLI_EVAL, "evaluate a checkpoint on test data"},
    {"info", CLI_INFO, "CPU, ISA, threads, kernel blocking, hwloc topology"},
    {"bench", CLI_BENCH, "time training steps on random data, per-kernel profile"},
    {"predict", CLI_PREDICT, "a checkpoint's predictions for unlabelled inputs"},
};

const char *cli_cmd_name(enum cli_cmd cmd)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (commands[i].cmd == cmd)
            return commands[i].name;
    return NULL;
}

enum cli_cmd cli_cmd_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].cmd;
    return CLI_NONE;
}

void cli_usage(FILE *f, enum cli_cmd cmd)
{
    if (cmd == CLI_NONE) {
        fprintf(f, "usage: hpctrain COMMAND [FLAGS]\n\ncommands:\n");
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
        fprintf(f, "\n'hpctrain COMMAND --help' lists the flags of a command.\n"
                   "'hpctrain train' with no flags trains the default MLP on\n"
                   "Fashion-MNIST from " CLI_DEFAULT_DATA_DIR ".\n"
                   "Environment: HPCTRAIN_ISA=scalar|avx2|avx512|neon forces a kernel table.\n");
        return;
    }
    fprintf(f, "usage: hpctrain %s [FLAGS]\n\nflags:\n", cli_cmd_name(cmd));
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (!(flags[i].cmds & (unsigned)cmd))
            continue;
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", flags[i].name,
                 flags[i].metavar ? " " : "",
                 flags[i].metavar ? flags[i].metavar : "");
        fprintf(f, "  %-32s %s\n", left, flags[i].help);
    }
}

/* ------------------------------------------------------- strict numbers */

static int bad_value(const char *flag, const char *val, const char *why)
{
    cli_error("%s %s: %s", flag, val, why);
    return CLI_EXIT_USAGE;
}

/* A finite double consuming the whole string (no leading blanks). */
static int parse_double(const char *flag, const char *s, double *out)
{
    char *end;
    if (*s == '\0' || isspace((unsigned char)*s))
        return bad_value(flag, s, "not a number");
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0')
        return bad_value(flag, s, "not a number");
    if (!isfinite(v) || errno == ERANGE)
        return bad_value(flag, s, "must be a finite number");
    *out = v;
    return 0;
}

/* A float-valued flag in [lo, hi] (or [lo, hi) when hi_open). */
static int parse_float_range(const char *flag, const char *s, double lo,
                             double hi, int hi_open, float *out)
{
    double v;
    int rc = parse_double(flag, s, &v);
    if (rc)
        return rc;
    char why[96];
    if (v < lo || v > hi || (hi_open && v == hi)) {
        if (hi == HUGE_VAL)
            snprintf(why, sizeof why, "must be >= %g", lo);
        else
            snprintf(why, sizeof why, "must be in [%g, %g%c", lo, hi,
                     hi_open ? ')' : ']');
        return bad_value(flag, s, why);
    }
    if (!isfinite((float)v))
        return bad_value(flag, s, "out of range for a float");
    *out = (float)v;
    return 0;
}

/* An unsigned decimal integer in [lo, hi], consuming the whole string. */
static int parse_uint(const char *flag, const char *s, unsigned long long lo,
                      unsigned long long hi, unsigned long long *out)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return bad_value(flag, s, "not a non-negative integer");
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0')
        return bad_value(flag, s, "not a non-negative integer");
    if (errno == ERANGE || v < lo || v > hi) {
        char why[96];
        snprintf(why, sizeof why, "must be in [%llu, %llu]", lo, hi);
        return bad_value(flag, s, why);
    }
    *out = v;
    return 0;
}

static int parse_int(const char *flag, const char *s, int lo, int hi, int *out)
{
    unsigned long long v;
    int rc = parse_uint(flag, s, (unsigned long long)lo,
                        (unsigned long long)hi, &v);
    if (rc == 0)
        *out = (int)v;
    return rc;
}

/* "784-1024-10": 2..HT_MAX_LAYERS+1 sizes, each a positive integer. */
static int parse_arch(const char *s, cli_opts *o)
{
    size_t sizes[HT_MAX_LAYERS + 1];
    size_t n = 0;
    const char *p = s;
    if (strlen(s) >= sizeof o->arch_text)
        return bad_value("--arch", s, "too long");
    for (;;) {
        if (!isdigit((unsigned char)*p))
            return bad_value("--arch", s,
                             "expected sizes separated by '-', e.g. 784-1024-10");
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno == ERANGE || v == 0 || v > (1u << 24))
            return bad_value("--arch", s, "each size must be in [1, 16777216]");
        if (n == HT_MAX_LAYERS + 1) {
            char why[64];
            snprintf(why, sizeof why, "at most %d layers", HT_MAX_LAYERS);
            return bad_value("--arch", s, why);
        }
        sizes[n++] = (size_t)v;
        p = end;
        if (*p == '\0')
            break;
        if (*p != '-')
            return bad_value("--arch", s,
                             "expected sizes separated by '-', e.g. 784-1024-10");
        p++;
    }
    if (n < 2)
        return bad_value("--arch", s, "needs at least an input and an output size");
    o->cfg.n_layers = n - 1;
    for (size_t i = 0; i < n; i++)
        o->cfg.sizes[i] = sizes[i];
    o->arch_given = 1;
    snprintf(o->arch_text, sizeof o->arch_text, "%s", s);
    return 0;
}

static int parse_choice(const char *flag, const char *s,
                        const char *const *names, int count, int *out)
{
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    char why[128] = "must be one of ";
    for (int i = 0; i < count; i++) {
        strncat(why, names[i], sizeof why - strlen(why) - 1);
        if (i + 1 < count)
            strncat(why, "|", sizeof why - strlen(why) - 1);
    }
    return bad_value(flag, s, why);
}

/* --------------------------------------------------------------- flags */

static int apply(cli_opts *o, const flag_def *f, const char *v)
{
    ht_config *c = &o->cfg;
    const char *n = f->name;
    unsigned long long u;
    int k, rc = 0;
    static const char *const opt_names[] = {"sgd", "adam", "adamw"};
    static const char *const sched_names[] = {"constant", "step", "cosine"};
    static const char *const loss_names[] = {"xent", "mse"};

    switch (f->id) {
    case F_ARCH: return parse_arch(v, o);
    case F_DROPOUT: return parse_float_range(n, v, 0, 1, 1, &c->dropout);
    case F_INPUT_DROPOUT: return parse_float_range(n, v, 0, 1, 1, &c->input_dropout);
    case F_L1: return parse_float_range(n, v, 0, HUGE_VAL, 0, &c->l1);
    case F_L2: return parse_float_range(n, v, 0, HUGE_VAL, 0, &c->l2);
    case F_LR: return parse_float_range(n, v, 0, HUGE_VAL, 0, &c->lr);
    case F_MOMENTUM: return parse_float_range(n, v, 0, 1, 1, &c->momentum);
    case F_WEIGHT_DECAY: return parse_float_range(n, v, 0, HUGE_VAL, 0, &c->weight_decay);
    case F_BETA1: return parse_float_range(n, v, 0, 1, 1, &c->beta1);
    case F_BETA2: return parse_float_range(n, v, 0, 1, 1, &c->beta2);
    case F_EPS:
        rc = parse_float_range(n, v, 0, HUGE_VAL, 0, &c->eps);
        if (rc == 0 && c->eps == 0.0f)
            return bad_value(n, v, "must be > 0");
        return rc;
    case F_GAMMA:
        rc = parse_float_range(n, v, 0, HUGE_VAL, 0, &c->gamma);
        if (rc == 0 && c->gamma == 0.0f)
            return bad_value(n, v, "must be > 0");
        return rc;
    case F_NESTEROV: c->nesterov = 1; return 0;
    case F_PROX_L1: c->prox_l1 = 1; return 0;
    case F_REG_BIAS: c->reg_bias = 1; return 0;
    case F_OPTIMIZER:
        rc = parse_choice(n, v, opt_names, 3, &k);
        if (rc == 0)
            c->optimizer = (ht_optimizer_kind)k;
        return rc;
    case F_SCHEDULE:
        rc = parse_choice(n, v, sched_names, 3, &k);
        if (rc == 0)
            c->schedule = (ht_lr_schedule)k;
        return rc;
    case F_LOSS:
        rc = parse_choice(n, v, loss_names, 2, &k);
        if (rc == 0)
            c->loss = (ht_loss_kind)k;
        return rc;
    case F_STEP_EPOCHS: return parse_int(n, v, 1, 1000000, &c->step_epochs);
    case F_WARMUP_STEPS:
        rc = parse_uint(n, v, 0, HT_MAX_WARMUP_STEPS, &u);
        if (rc == 0)
            c->warmup_steps = (uint64_t)u;
        return rc;
    case F_BATCH:
        rc = parse_uint(n, v, 1, 1u << 20, &u);
        if (rc == 0)
            c->batch = (size_t)u;
        return rc;
    case F_EPOCHS: return parse_int(n, v, 1, 1000000, &o->epochs);
    case F_STEPS: return parse_int(n, v, 1, 1000000, &o->steps);
    case F_REPEAT: return parse_int(n, v, 1, 1000, &o->repeat);
    case F_THREADS: return parse_int(n, v, 1, 4096, &o->threads);
    case F_SEED:
        rc = parse_uint(n, v, 0, UINT64_MAX, &u);
        if (rc == 0)
            c->seed = (uint64_t)u;
        return rc;
    case F_VAL: {
        double d = 0;
        rc = parse_double(n, v, &d);
        if (rc)
            return rc;
        if (!(d > 0 && d < 1))
            return bad_value(n, v, "must be in (0, 1)");
        o->val = d;
        return 0;
    }
    case F_SAVE: o->save = v; return 0;
    case F_SAVE_BEST: o->save_best = v; return 0;
    case F_PATIENCE: return parse_int(n, v, 1, 1000000, &o->patience);
    case F_RESUME: o->resume = v; return 0;
    case F_MODEL: o->model = v; return 0;
    case F_INPUT: o->input = v; return 0;
    case F_OUTPUT: o->predictions = v; return 0;
    case F_DATA: o->data_dir = v; return 0;
    case F_TRAIN: o->train_csv = v; return 0;
    case F_TEST: o->test_csv = v; return 0;
    case F_PRINT_HASH: o->print_hash = 1; return 0;
    case F_PROFILE: o->profile = 1; return 0;
    case F_PROFILE_JSON: o->profile_json = v; return 0;
    case F_LOG: o->log = v; return 0;
    case F_CONFUSION: o->confusion = 1; return 0;
    case F_STANDARDIZE: o->standardize = 1; return 0;
    case F_PREDICTIONS: o->predictions = v; return 0;
    case F_QUIET: o->quiet = 1; return 0;
    case F_TOPOLOGY: o->topology = 1; return 0;
    case F_OPTIM_COST: o->optim_cost = 1; return 0;
    case F_HELP: o->help = 1; return 0;
    }
    return 0;
}

static const flag_def *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
            return &flags[i];
    return NULL;
}

int cli_parse(enum cli_cmd cmd, int argc, char **argv, int first, cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    ht_config_default(&o->cfg);
    o->epochs = o->cfg.total_epochs > 0 ? o->cfg.total_epochs : 10;
    o->steps = 20;
    o->repeat = 5;

    const char *cname = cli_cmd_name(cmd);
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            cli_error("%s: unexpected argument (see 'hpctrain %s --help')", a, cname);
            return CLI_EXIT_USAGE;
        }
        /* --flag=value is accepted as well as --flag value. */
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const flag_def *f = find_flag(a, len);
        if (f == NULL) {
            cli_error("%.*s: unknown flag (see 'hpctrain %s --help')", (int)len, a, cname);
            return CLI_EXIT_USAGE;
        }
        if (!(f->cmds & (unsigned)cmd)) {
            cli_error("%s: not a flag of 'hpctrain %s' (see 'hpctrain %s --help')",
                      f->name, cname, cname);
            return CLI_EXIT_USAGE;
        }
        const char *v = NULL;
        if (f->metavar) {
            if (eq)
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else {
                cli_error("%s: missing value %s", f->name, f->metavar);
                return CLI_EXIT_USAGE;
            }
        } else if (eq) {
            cli_error("%s: takes no value", a);
            return CLI_EXIT_USAGE;
        }
        int rc = apply(o, f, v);
        if (rc)
            return rc;
        if (f->id == F_HELP)
            return 0;
    }

    /* Combinations that only the command line decides. */
    if (cmd == CLI_TRAIN || cmd == CLI_EVAL) {
        if (o->data_dir && (o->train_csv || o->test_csv)) {
            cli_error("--data %s: cannot be combined with --train/--test CSV files",
                      o->data_dir);
            return CLI_EXIT_USAGE;
        }
    }
    if (cmd == CLI_TRAIN && o->test_csv && !o->train_csv) {
        cli_error("--test %s: needs --train FILE.csv as well", o->test_csv);
        return CLI_EXIT_USAGE;
    }
    if (cmd == CLI_TRAIN && (o->save_best || o->patience) && o->val <= 0) {
        /* choosing an epoch on the test rows would leak them into the model */
        cli_error("%s: needs --val FRAC: the best epoch is chosen on "
                  "validation rows, never on the test set",
                  o->save_best ? "--save-best" : "--patience");
        return CLI_EXIT_USAGE;
    }
    if ((cmd == CLI_EVAL || cmd == CLI_PREDICT) && o->model == NULL) {
        cli_error("--model: required (the checkpoint to %s)",
                  cmd == CLI_EVAL ? "evaluate" : "predict with");
        return CLI_EXIT_USAGE;
    }
    if (cmd == CLI_PREDICT && (o->input == NULL || o->predictions == NULL)) {
        cli_error("%s: required (%s)", o->input ? "--output" : "--input",
                  o->input ? "the CSV file to write"
                           : "the inputs: a CSV of features or IDX images");
        return CLI_EXIT_USAGE;
    }
    o->cfg.total_epochs = o->epochs;
    return 0;
}
