/* --log FILE: the run's epochs as CSV, one row per epoch, for plots and
 * benchmark scripts. The whole file is rewritten atomically after every
 * epoch (it is small), so a crash leaves the previous version, never a torn
 * row. With --resume an existing log keeps its rows up to the checkpoint's
 * epoch, and the rows after it (written by a run that got further than its
 * last checkpoint) are dropped, since the resumed run recomputes them. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "../fileio.h"

static const char log_header[] =
    "epoch,loss,penalty,sparsity,lr,val_accuracy,val_loss,test_accuracy,"
    "test_loss,seconds,samples_per_s,layer_sparsity\n";
/* The header before layer_sparsity: such a log is resumed with its rows
 * given an empty last field. */
static const char log_header_v1[] =
    "epoch,loss,penalty,sparsity,lr,val_accuracy,val_loss,test_accuracy,"
    "test_loss,seconds,samples_per_s\n";

static int append(cli_log *l, const char *fmt, ...) CLI_PRINTF(2, 3);

static int append(cli_log *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if (l->len + (size_t)n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        while (cap < l->len + (size_t)n + 1)
            cap *= 2;
        char *nb = realloc(l->buf, cap);
        if (nb == NULL)
            return -1;
        l->buf = nb;
        l->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(l->buf + l->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    l->len += (size_t)n;
    return 0;
}

static int write_out(cli_log *l)
{
    ht_status s = ht_file_write_atomic(l->path, l->buf, l->len);
    return s == HT_OK ? 0 : cli_lib_error_file("--log", l->path, s);
}

/* Keeps the rows of an existing log up to `epoch`; the file must start
 * with this version's header. */
static int keep_rows(cli_log *l, int epoch)
{
    struct stat sb;
    if (stat(l->path, &sb) != 0 && errno == ENOENT)
        return append(l, "%s", log_header) ? -2 : 0;
    void *data = NULL;
    size_t len = 0;
    ht_status s = ht_file_read_all(l->path, &data, &len);
    if (s != HT_OK)
        return cli_lib_error_file("--log", l->path, s);
    const char *text = data;
    size_t hl = sizeof log_header - 1;
    const size_t hl1 = sizeof log_header_v1 - 1;
    const int v1 = len >= hl1 && memcmp(text, log_header_v1, hl1) == 0;
    if (v1)
        hl = hl1;
    else if (len < hl || memcmp(text, log_header, hl) != 0) {
        free(data);
        cli_error("--log %s: exists and does not start with the epoch log's "
                  "header; refusing to resume into it", l->path);
        return CLI_EXIT_RUNTIME;
    }
    int rc = append(l, "%s", log_header) ? -2 : 0;
    for (const char *p = text + hl; rc == 0 && p < text + len;) {
        const char *eol = memchr(p, '\n', (size_t)(text + len - p));
        if (eol == NULL)
            break;              /* no torn row survives an atomic write */
        char *end;
        long e = strtol(p, &end, 10);
        if (end == p || *end != ',' || e < 1) {
            free(data);
            cli_error("--log %s: line '%.*s' is not an epoch row", l->path,
                      (int)(eol - p > 60 ? 60 : eol - p), p);
            return CLI_EXIT_RUNTIME;
        }
        if (e <= epoch)
            rc = append(l, "%.*s%s\n", (int)(eol - p), p, v1 ? "," : "")
                     ? -2 : 0;
        p = eol + 1;
    }
    free(data);
    return rc;
}

int cli_log_open(cli_log *l, const char *path, int resumed_epoch, int xent,
                 size_t n_layers)
{
    memset(l, 0, sizeof *l);
    l->path = path;
    l->xent = xent;
    l->n_layers = n_layers;
    int rc = resumed_epoch >= 0 ? keep_rows(l, resumed_epoch)
                                : (append(l, "%s", log_header) ? -2 : 0);
    if (rc == -2) {
        cli_error("--log %s: cannot allocate the text", path);
        rc = CLI_EXIT_RUNTIME;
    }
    return rc ? rc : write_out(l);
}

/* "acc,loss" of a set, or ",," fields left empty where they do not apply
 * (no such set; accuracy under MSE). */
static int eval_fields(cli_log *l, const ht_eval_stats *ev)
{
    if (ev == NULL)
        return append(l, ",,");
    if (l->xent)
        return append(l, ",%.6f,%.8g", ev->accuracy, ev->loss);
    return append(l, ",,%.8g", ev->loss);
}

/* The per-layer sparsity as one field, layers separated by '/' (a
 * column per layer would make the header depend on the architecture). */
static int layer_fields(cli_log *l, const ht_epoch_stats *st)
{
    for (size_t i = 0; i < l->n_layers; i++)
        if (append(l, "%s%.6f", i ? "/" : "", st->layer_sparsity[i]))
            return -1;
    return 0;
}

int cli_log_epoch(cli_log *l, int epoch, const ht_epoch_stats *st,
                  const ht_eval_stats *val, const ht_eval_stats *test)
{
    /* lr is a float: 7 digits print 0.05 as 0.05 */
    if (append(l, "%d,%.8g,%.8g,%.6f,%.7g", epoch, st->loss, st->penalty,
               st->sparsity, st->lr) ||
        eval_fields(l, val) || eval_fields(l, test) ||
        append(l, ",%.6f,%.1f,", st->seconds, st->samples_per_s) ||
        layer_fields(l, st) || append(l, "\n")) {
        cli_error("--log %s: cannot allocate the text", l->path);
        return CLI_EXIT_RUNTIME;
    }
    return write_out(l);
}

void cli_log_free(cli_log *l)
{
    free(l->buf);
    l->buf = NULL;
}
