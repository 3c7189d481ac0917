/* Strict command-line parsing for hpctrain: every flag is known to the
 * commands that take it, every number is consumed whole and finite, and
 * every rejection is one line naming the flag and the value. */
#ifndef HT_CLI_ARGS_H
#define HT_CLI_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "hpctrain.h"

/* Bit masks so one flag table can say which commands take a flag. */
enum cli_cmd {
    CLI_NONE = 0,
    CLI_TRAIN = 1,
    CLI_EVAL = 2,
    CLI_INFO = 4,
    CLI_BENCH = 8,
    CLI_PREDICT = 16
};

typedef struct cli_opts {
    enum cli_cmd cmd;
    ht_config cfg;        /* ht_config_default() overridden by flags;
                             sizes are meaningful only if arch_given      */
    int arch_given;
    char arch_text[256];  /* --arch as typed, for messages               */
    int epochs;           /* total epochs (with --resume: up to this)    */
    int threads;          /* 0: library default                          */
    int steps;            /* bench: optimiser steps to time              */
    int repeat;           /* bench: timed runs of those steps            */
    double val;           /* validation fraction; 0: none                */
    const char *save, *resume, *model;
    const char *profile_json; /* train, bench: the profile as JSON here  */
    const char *log;      /* train: per-epoch CSV                        */
    const char *save_best; /* train: checkpoint of the best val epoch    */
    int patience;         /* train: early stop after this many epochs
                             without a better val score; 0: never        */
    const char *predictions; /* eval: per-row predictions as CSV;
                                predict: its --output                   */
    const char *input;    /* predict: the inputs (CSV or IDX images)     */
    int confusion;        /* eval: per-class recall, confusion matrix    */
    int standardize;      /* train: fit an input standardisation         */
    const char *data_dir, *train_csv, *test_csv;
    int print_hash, profile, quiet, help;
    int topology;         /* info: print the placement plan              */
    int optim_cost;       /* bench: time the optimiser step on its own   */
} cli_opts;

/* The data directory used when no --data/--train is given. */
#define CLI_DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"

/* Parses argv[first..argc) for `cmd` into o (which it initialises).
 * Returns 0, or 2 after printing one error line on stderr. */
int cli_parse(enum cli_cmd cmd, int argc, char **argv, int first,
              cli_opts *o);

/* Prints usage for one command (CLI_NONE: the overview) to f. */
void cli_usage(FILE *f, enum cli_cmd cmd);

/* Command name ("train") for a mask bit, or NULL. */
const char *cli_cmd_name(enum cli_cmd cmd);
enum cli_cmd cli_cmd_from_name(const char *name);

#endif
