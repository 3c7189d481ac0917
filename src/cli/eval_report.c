/* eval's per-row reports: --confusion (per-class recall and the confusion
 * matrix) and --predictions FILE (each row's prediction as CSV), and
 * predict's --output (the same CSV without the label or target columns,
 * for inputs that have none). Both take
 * the model's outputs from ht_model_predict, whose probabilities are the
 * bits ht_model_evaluate scores, and the same first-maximum argmax, so the
 * matrix's diagonal adds up to exactly the accuracy eval prints. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../fileio.h"

/* Rows per ht_model_predict call: bounds the output buffer whatever the
 * data set's size. */
#define PREDICT_CHUNK 8192

typedef struct report {
    const char *cmd, *flag; /* "eval", "--predictions" for messages     */
    const ht_dataset *ds;
    size_t outs;            /* outputs per row                          */
    int xent;
    const char *const *names; /* the model's class names, or NULL       */
    size_t *conf;           /* classes x classes counts, or NULL        */
    FILE *csv;              /* --predictions text, or NULL              */
} report;

static size_t argmax(const float *p, size_t n)
{
    size_t best = 0;
    for (size_t j = 1; j < n; j++)
        if (p[j] > p[best])
            best = j;
    return best;
}

static void csv_header(const report *r)
{
    fputs("row", r->csv);
    if (r->xent) {
        fputs(r->ds->label ? ",label,predicted" : ",predicted", r->csv);
        for (size_t j = 0; j < r->outs; j++)
            fprintf(r->csv, ",p_%zu", j);
    } else {
        for (size_t j = 0; r->ds->target && j < r->outs; j++)
            fprintf(r->csv, ",target_%zu", j);
        for (size_t j = 0; j < r->outs; j++)
            fprintf(r->csv, ",output_%zu", j);
    }
    fputc('\n', r->csv);
}

/* %.9g: every float's exact value survives the round trip */
static void csv_row(const report *r, size_t i, const float *out)
{
    fprintf(r->csv, "%zu", i);
    if (r->xent) {
        /* named classes by name (they hold no comma or line break) */
        const size_t k = argmax(out, r->outs);
        if (r->ds->label && r->names)
            fprintf(r->csv, ",%s", r->names[r->ds->label[i]]);
        else if (r->ds->label)
            fprintf(r->csv, ",%d", (int)r->ds->label[i]);
        if (r->names)
            fprintf(r->csv, ",%s", r->names[k]);
        else
            fprintf(r->csv, ",%zu", k);
    } else {
        for (size_t j = 0; r->ds->target && j < r->outs; j++)
            fprintf(r->csv, ",%.9g", (double)r->ds->target[i * r->outs + j]);
    }
    for (size_t j = 0; j < r->outs; j++)
        fprintf(r->csv, ",%.9g", (double)out[j]);
    fputc('\n', r->csv);
}

static int predict_all(ht_model *m, report *r)
{
    const ht_dataset *ds = r->ds;
    const size_t chunk = ds->n < PREDICT_CHUNK ? ds->n : PREDICT_CHUNK;
    float *out = malloc((chunk ? chunk : 1) * r->outs * sizeof *out);
    if (out == NULL) {
        cli_error("%s: cannot allocate %zu bytes for predictions", r->cmd,
                  chunk * r->outs * sizeof *out);
        return CLI_EXIT_RUNTIME;
    }
    for (size_t i0 = 0; i0 < ds->n; i0 += chunk) {
        const size_t n = ds->n - i0 < chunk ? ds->n - i0 : chunk;
        ht_status s = ht_model_predict(m, ds->x + i0 * ds->d, n, out);
        if (s != HT_OK) {
            free(out);
            return cli_lib_error(r->cmd, s);
        }
        for (size_t i = 0; i < n; i++) {
            const float *o = out + i * r->outs;
            if (r->conf)
                r->conf[(size_t)ds->label[i0 + i] * r->outs + argmax(o, r->outs)]++;
            if (r->csv)
                csv_row(r, i0 + i, o);
        }
    }
    free(out);
    return 0;
}

/* Recall per class and the matrix; wide ones (over 20 classes) as recall
 * only, which stays readable. */
static void print_confusion(const report *r)
{
    const size_t c = r->outs, *k = r->conf;
    size_t correct = 0;
    for (size_t i = 0; i < c; i++)
        correct += k[i * c + i];
    printf("confusion (rows: true class, columns: predicted class)\n");
    const int full = c <= 20;
    printf("  %5s", "class");
    if (full)
        for (size_t j = 0; j < c; j++)
            printf(" %6zu", j);
    printf(" %7s %7s\n", "rows", "recall");
    for (size_t i = 0; i < c; i++) {
        size_t rows = 0;
        for (size_t j = 0; j < c; j++)
            rows += k[i * c + j];
        printf("  %5zu", i);
        if (full)
            for (size_t j = 0; j < c; j++)
                printf(" %6zu", k[i * c + j]);
        if (rows)
            printf(" %7zu %7.4f\n", rows, (double)k[i * c + i] / (double)rows);
        else
            printf(" %7zu %7s\n", rows, "-");
    }
    printf("  correct %zu of %zu\n", correct, r->ds->n);
    if (r->names) {
        printf("  classes:");
        for (size_t i = 0; i < c; i++)
            printf(" %zu %s%s", i, r->names[i], i + 1 < c ? "," : "\n");
    }
}

int cli_eval_reports(const cli_opts *o, ht_model *m, const ht_dataset *ds)
{
    const ht_config *mc = ht_model_config(m);
    const int predict = o->cmd == CLI_PREDICT;
    report r = {predict ? "predict" : "eval",
                predict ? "--output" : "--predictions", ds,
                mc->sizes[mc->n_layers], mc->loss == HT_LOSS_XENT,
                ht_model_class_names(m), NULL, NULL};
    char *text = NULL;
    size_t len = 0;
    if (o->confusion &&
        (r.conf = calloc(r.outs * r.outs, sizeof *r.conf)) == NULL) {
        cli_error("--confusion: cannot allocate a %zu x %zu matrix", r.outs,
                  r.outs);
        return CLI_EXIT_RUNTIME;
    }
    if (o->predictions && (r.csv = open_memstream(&text, &len)) == NULL) {
        free(r.conf);
        cli_error("%s %s: cannot allocate the text", r.flag, o->predictions);
        return CLI_EXIT_RUNTIME;
    }
    if (r.csv)
        csv_header(&r);
    int rc = predict_all(m, &r);
    if (r.csv && fclose(r.csv) != 0 && rc == 0) {
        cli_error("%s %s: cannot allocate the text", r.flag, o->predictions);
        rc = CLI_EXIT_RUNTIME;
    }
    if (rc == 0 && r.conf)
        print_confusion(&r);
    if (rc == 0 && o->predictions) {
        ht_status s = ht_file_write_atomic(o->predictions, text, len);
        if (s != HT_OK)
            rc = cli_lib_error_file(r.flag, o->predictions, s);
        else
            printf("predictions: %s, %zu rows\n", o->predictions, ds->n);
    }
    free(text);
    free(r.conf);
    return rc;
}
