/* Shared declarations of the hpctrain executable: the commands, error
 * reporting, data resolution, progress display and profile printing.
 * The CLI is single-threaded; the library opens the parallel regions. */
#ifndef HT_CLI_H
#define HT_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "hpctrain.h"
#include "hpctrain/topology.h"
#include "args.h"

/* Exit codes: usage errors are determined from the command line alone;
 * runtime errors involve files, data or training. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_RUNTIME = 1, CLI_EXIT_USAGE = 2 };

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* Prints "hpctrain: <message>\n" on stderr: the one line of a failure. */
void cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/* Prints a library failure as one line: ht_last_error() (or the status
 * name when empty), prefixed by `what` unless the message already names
 * it. Returns CLI_EXIT_RUNTIME. */
int cli_lib_error(const char *what, ht_status s);

/* A failure of ht_runtime_init (or of a call that ran it) as one line
 * naming the environment variable at fault. Returns CLI_EXIT_RUNTIME. */
int cli_runtime_error(ht_status s);

/* A library failure about the file given to `flag`: "--resume f: why". */
int cli_lib_error_file(const char *flag, const char *path, ht_status s);

/* Commands: each returns the process exit code. */
int cli_train(const cli_opts *o);
int cli_eval(const cli_opts *o);
int cli_info(const cli_opts *o);
int cli_bench(const cli_opts *o);
int cli_predict(const cli_opts *o);

/* Checks --threads, or else OMP_NUM_THREADS, against the PUs this process
 * may use (ht_process_threads, which fills *c): more than that, or a
 * malformed OMP_NUM_THREADS, is one line naming the flag or variable and
 * the PU count. 0 or an exit code. */
int cli_check_threads(const cli_opts *o, ht_thread_choice *c);

/* The line for `what` (a flag or variable; `value` follows it) asking for
 * more threads than the pus PUs it may use; returns the exit code. */
int cli_threads_too_many(const char *what, const char *value, int pus);

/* Common start-of-run setup: runtime init, --threads checked
 * (cli_check_threads), and the line naming the ISA, thread count (and why
 * the default is below the cores, if it is) and seed. Returns 0 or an
 * exit code. */
int cli_runtime_start(const cli_opts *o, const char *cmd, int show_seed,
                      unsigned long long seed);

/* eval and predict: checks that --model exists (before the start line),
 * then cli_runtime_start(cmd), then loads it into *m (the caller frees).
 * 0, or an exit code after one line naming --model. */
int cli_open_model(const cli_opts *o, const char *cmd, ht_model **m);

/* Prints m's threads, their binding and the memory policy really in
 * force (ht_model_placement_describe), for train and bench. */
void cli_print_placement(const ht_model *m);

/* Checks, before any work, that the file given to `flag` can be written:
 * a file name in an existing, writable directory. 0 or an exit code after
 * one line naming the flag. */
int cli_check_out_path(const char *flag, const char *path);

/* Checks that path names a regular file that exists: 0, or an exit code
 * after one line naming it, prefixed by flag ("--input") unless NULL. */
int cli_check_readable(const char *flag, const char *path);

/* Formats sizes[0..n] as "784-1024-10" into buf. */
void cli_format_arch(const ht_config *cfg, char *buf, size_t len);

/* ------------------------------------------------------------------ data */

/* The data sets of one run. Any pointer may be NULL. Names are for
 * messages: the file a problem with that set should be reported against. */
typedef struct cli_data {
    ht_dataset *train, *val, *test;
    char train_x[1024], train_y[1024];  /* features file, labels file      */
    char test_x[1024], test_y[1024];
} cli_data;

/* Resolves --data / --train / --test to loaded data sets. want_train: load
 * the training set (train); otherwise only the test set (eval). Returns 0,
 * or an exit code after printing one line. */
int cli_data_load(const cli_opts *o, int want_train, cli_data *d);

/* Output size the data calls for: n_classes (classification) or n_targets
 * (regression) over train and test. */
size_t cli_data_outputs(const cli_data *d);

/* Features per row of the loaded data. */
size_t cli_data_inputs(const cli_data *d);

/* Checks that cfg's input and output sizes match the data, and that every
 * label fits the output layer. `source` names where the sizes came from
 * ("--arch", "model m.ckpt"). Returns 0 or an exit code after one line. */
int cli_data_check(const cli_data *d, const ht_config *cfg,
                   const char *source);

/* Splits o->val of the training set off as d->val (seeded). 0 or exit. */
int cli_data_split(const cli_opts *o, uint64_t seed, cli_data *d);

/* Renumbers d->test's named classes as names (n of them; NULL: numbered
 * classes) of `owner` (for messages: "train.csv", "model m.ckpt"); named
 * against numbered is an error. 0 or an exit code after one line. */
int cli_data_classes(cli_data *d, const char *const *names, size_t n,
                     const char *owner);

/* Formats up to max of n names as "a, b, c" (then ", ... (n in all)"). */
void cli_format_names(const char *const *names, size_t n, size_t max,
                      char *buf, size_t len);

void cli_data_free(cli_data *d);

/* -------------------------------------------------------------- progress */

double cli_now(void);   /* monotonic seconds */

typedef struct cli_progress {
    int enabled;        /* 0 under --quiet or when stdout is no TTY        */
    int epoch, epochs;
    double t0, last;    /* epoch start, last redraw                        */
    int drawn;          /* a line is on screen and needs clearing          */
} cli_progress;

void cli_progress_init(cli_progress *p, int quiet);
void cli_progress_begin(cli_progress *p, int epoch, int epochs);
/* ht_progress_fn; user is a cli_progress. */
void cli_progress_cb(size_t done, size_t total, double loss, void *user);
void cli_progress_end(cli_progress *p);

/* --------------------------------------------------------------- profile */

/* Prints the per-kernel table of m's profile to f. */
void cli_print_profile(FILE *f, const ht_model *m);

/* Writes m's profile, per kind and per layer, as one JSON object to path
 * (atomically: the old file or the whole new one), with the command, the
 * kernel table, thread count, architecture and batch; `bench` adds its
 * timed runs (seconds of `samples` samples each). 0, or an exit code after
 * one line naming the file. */
int cli_write_profile_json(const char *path, const ht_model *m,
                           const char *command, const double *run_seconds,
                           int runs, size_t samples);

/* eval --confusion / --predictions over ds (labels and outputs checked
 * against m, and --confusion against an MSE model, by the caller); for
 * predict (o->cmd), the --output CSV of a set without labels or targets.
 * 0, or an exit code after one line. */
int cli_eval_reports(const cli_opts *o, ht_model *m, const ht_dataset *ds);

/* ------------------------------------------------------------ interrupt */

/* SIGINT / SIGTERM while training (src/cli/interrupt.c): after arm, the
 * first signal is recorded (cli_interrupted returns its number, else 0)
 * and the second one ends the process; disarm restores the old handlers.
 * Not reentrant: one training loop at a time. */
void cli_interrupt_arm(void);
void cli_interrupt_disarm(void);
int cli_interrupted(void);

/* ------------------------------------------------------------ epoch log */

/* --log: the epochs of a run as CSV (src/cli/log.c has the format). */
typedef struct cli_log {
    const char *path;
    char *buf;          /* the whole file as it is on disk                 */
    size_t len, cap;
    int xent;           /* accuracy columns filled (classification)        */
    size_t n_layers;    /* entries of the layer_sparsity field             */
} cli_log;

/* Writes the header (resumed_epoch < 0: a new log), or, when resuming at
 * resumed_epoch, keeps an existing log's rows up to that epoch (a missing
 * file starts a new log; a file that is not an epoch log is an error).
 * 0, or an exit code after one line naming the file. */
int cli_log_open(cli_log *l, const char *path, int resumed_epoch, int xent,
                 size_t n_layers);

/* Adds epoch's row (val, test may be NULL) and rewrites the file. */
int cli_log_epoch(cli_log *l, int epoch, const ht_epoch_stats *st,
                  const ht_eval_stats *val, const ht_eval_stats *test);

void cli_log_free(cli_log *l);

/* The best validation epoch of a run (--save-best, --patience); epoch 0:
 * none yet. cli_best_update: whether `ev` (epoch `epoch`'s validation
 * figures) is strictly better (classification: higher accuracy, ties to
 * lower loss; MSE: lower loss), recording it if so. cli_best_resume: on
 * --resume, the best so far from --save-best's file evaluated on d->val
 * (nothing if there is no file). cli_best_report: the final line, with
 * the saved model's test score when there is test data. The last two
 * return 0 or an exit code after one line. */
typedef struct cli_best {
    int epoch;
    double acc, loss;
} cli_best;
int cli_best_update(const ht_config *c, const ht_eval_stats *ev, int epoch,
                    cli_best *b);
int cli_best_resume(const cli_opts *o, const cli_data *d, const ht_model *m,
                    cli_best *b);
int cli_best_report(const cli_opts *o, const cli_data *d,
                    const ht_config *cfg, const cli_best *b);

#endif
