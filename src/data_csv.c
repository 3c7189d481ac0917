/* CSV reader: the whole file is read into memory once (ht_file_read_text,
 * which inflates gzip), rows are counted with memchr, then parsed in place
 * with a correctly rounded fast path for short decimals and strtof/strtod
 * for the rest. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"
#include "error.h"
#include "fileio.h"

typedef struct csv_ctx {
    const char *path;
    size_t line;        /* 1-based number of the line being parsed        */
    size_t fields;      /* fields per row, from the first data row         */
    size_t fields_line; /* the line that fixed `fields`                    */
    ht_target_kind kind;
    int names;          /* class labels are names, not numbers            */
} csv_ctx;

static int is_blank_char(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int ends_field(char c)
{
    return c == ',' || c == '\n' || c == '\0' || is_blank_char(c);
}

static const char *skip_blank(const char *p)
{
    while (is_blank_char(*p))
        p++;
    return p;
}

/* Whether c can begin a number strtof/strtod accept (digits, sign, point,
 * or the letters of inf/nan); guards against their skipping of newlines. */
static int starts_number(char c)
{
    return ((unsigned)(c - '0') < 10) || c == '-' || c == '+' || c == '.'
           || c == 'i' || c == 'I' || c == 'n' || c == 'N';
}

/* Decimal strings with at most 2^24 as their digits and at most 10 places
 * are m / 10^k with m and 10^k both exact floats, so a single IEEE division
 * gives the correctly rounded value, the same bits strtof returns. That
 * covers pixel values and most written-out features; anything else
 * (exponents, long mantissas, inf/nan, hex) goes to strtof. Needs float
 * arithmetic evaluated in float (FLT_EVAL_METHOD 0). */
static float parse_float(const char *p, const char **endp)
{
#if FLT_EVAL_METHOD == 0
    static const float pow10f[11] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                     1e6f, 1e7f, 1e8f, 1e9f, 1e10f};
    const char *q = p;
    int neg = 0;
    if (*q == '-' || *q == '+')
        neg = *q++ == '-';
    uint32_t m = 0;
    int digits = 0, places = 0, big = 0;
    while ((unsigned)(*q - '0') < 10) {
        if (m > 100000000u)
            big = 1;
        else
            m = m * 10 + (uint32_t)(*q - '0');
        q++;
        digits++;
    }
    if (*q == '.') {
        q++;
        while ((unsigned)(*q - '0') < 10) {
            if (m > 100000000u)
                big = 1;
            else
                m = m * 10 + (uint32_t)(*q - '0');
            q++;
            digits++;
            places++;
        }
    }
    if (digits > 0 && !big && m <= (1u << 24) && places <= 10
        && ends_field(*q)) {
        float v = (float)m / pow10f[places];
        *endp = q;
        return neg ? -v : v;
    }
#endif
    /* strtof would skip a newline and read the next line's number. */
    if (!starts_number(*p)) {
        *endp = p;
        return 0.0f;
    }
    char *e;
    float v = strtof(p, &e);
    *endp = e;
    return v;
}

/* The text of the field at p, for messages: up to the next comma or end of
 * line, trimmed, cut at 40 characters. */
static void field_text(const char *p, char *buf, size_t len)
{
    const char *e = p;
    while (*e && *e != ',' && *e != '\n')
        e++;
    while (e > p && is_blank_char(e[-1]))
        e--;
    size_t n = (size_t)(e - p);
    if (n + 1 > len) {
        ht_snprintf(buf, len, "%.*s...", (int)(len - 4), p);
        return;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
}

static ht_status bad_number(const csv_ctx *c, size_t field, const char *p)
{
    char text[48];
    field_text(p, text, sizeof text);
    if (text[0] == '\0')
        return ht_error(HT_ERR_FORMAT, "%s:%zu: field %zu is empty", c->path,
                        c->line, field);
    return ht_error(HT_ERR_FORMAT, "%s:%zu: field %zu: '%s' is not a number",
                    c->path, c->line, field, text);
}

static ht_status not_finite(const csv_ctx *c, size_t field, const char *p)
{
    char text[48];
    field_text(p, text, sizeof text);
    return ht_error(HT_ERR_FORMAT, "%s:%zu: field %zu: '%s' is not a finite "
                    "number (NaN, Inf or out of float range)", c->path,
                    c->line, field, text);
}

static size_t count_fields(const char *p)
{
    size_t n = 1;
    for (; *p && *p != '\n'; p++)
        n += *p == ',';
    return n;
}

static ht_status ragged(const csv_ctx *c, size_t got)
{
    return ht_error(HT_ERR_FORMAT, "%s:%zu: %zu field%s, expected %zu (as on "
                    "line %zu)", c->path, c->line, got, got == 1 ? "" : "s",
                    c->fields, c->fields_line);
}

/* Parses the class label in the first field: a non-negative integer that
 * fits int32 ("3", "3.0" and "3e0" are all 3). */
static ht_status parse_label(const csv_ctx *c, const char *p,
                             const char **endp, int32_t *out)
{
    const char *q = p;
    int64_t v = 0;
    while ((unsigned)(*q - '0') < 10 && v <= INT32_MAX)
        v = v * 10 + (*q++ - '0');
    if (q == p || !ends_field(*q)) {
        char *e = (char *)p;
        double dv = starts_number(*p) ? strtod(p, &e) : 0.0;
        if (e == p || !ends_field(*e))
            return bad_number(c, 1, p);
        char text[48];
        field_text(p, text, sizeof text);
        if (!isfinite(dv))
            return not_finite(c, 1, p);
        if (dv < 0)
            return ht_error(HT_ERR_FORMAT, "%s:%zu: label '%s' is negative",
                            c->path, c->line, text);
        if (dv != floor(dv))
            return ht_error(HT_ERR_FORMAT, "%s:%zu: label '%s' is not an "
                            "integer", c->path, c->line, text);
        if (dv > INT32_MAX)
            return ht_error(HT_ERR_FORMAT, "%s:%zu: label '%s' is too large",
                            c->path, c->line, text);
        v = (int64_t)dv;
        q = e;
    } else if (v > INT32_MAX) {
        char text[48];
        field_text(p, text, sizeof text);
        return ht_error(HT_ERR_FORMAT, "%s:%zu: label '%s' is too large",
                        c->path, c->line, text);
    }
    *endp = q;
    *out = (int32_t)v;
    return HT_OK;
}

#define MAX_NAME 255 /* bytes of a class name */

/* A named label: the field at p, trimmed; *endp after it. */
static ht_status parse_name(const csv_ctx *c, const char *p,
                            const char **endp, const char **name,
                            size_t *len)
{
    const char *e = p;
    while (*e && *e != ',' && *e != '\n')
        e++;
    *endp = e;
    while (e > p && is_blank_char(e[-1]))
        e--;
    *name = p;
    *len = (size_t)(e - p);
    if (*len == 0)
        return ht_error(HT_ERR_FORMAT, "%s:%zu: field 1: the class name is "
                        "empty", c->path, c->line);
    if (*len > MAX_NAME)
        return ht_error(HT_ERR_FORMAT, "%s:%zu: field 1: a class name of %zu "
                        "bytes (at most %d)", c->path, c->line, *len,
                        MAX_NAME);
    return HT_OK;
}

/* Parses one non-blank line starting at p into x (c->fields - 1 features)
 * and the label or target (or, for named classes, the name's span). On
 * success *next is the start of the next line. */
static ht_status parse_row(const csv_ctx *c, const char *p, float *x,
                           int32_t *label, float *target, const char **name,
                           size_t *name_len, const char **next)
{
    const size_t nf = c->fields;
    const size_t off = c->kind == HT_TARGET_NONE ? 0 : 1; /* x[f - off] */
    for (size_t f = 0; f < nf; f++) {
        const char *q = p;
        p = skip_blank(p);
        const char *start = p;
        if (f == 0 && c->names) {
            ht_status s = parse_name(c, p, &q, name, name_len);
            if (s != HT_OK)
                return s;
        } else if (f == 0 && c->kind == HT_TARGET_CLASS) {
            ht_status s = parse_label(c, p, &q, label);
            if (s != HT_OK)
                return s;
        } else {
            float v = parse_float(p, &q);
            if (q == p || !ends_field(*q))
                return bad_number(c, f + 1, p);
            if (!isfinite(v))
                return not_finite(c, f + 1, p);
            if (f < off)
                *target = v;
            else
                x[f - off] = v;
        }
        p = skip_blank(q);
        if (*p != ',' && *p != '\n' && *p != '\0')
            return bad_number(c, f + 1, start); /* "2 3": junk after it */
        if (*p == ',') {
            if (f + 1 == nf)
                return ragged(c, nf + count_fields(p + 1));
            p++;
        } else if (f + 1 < nf) {
            /* end of line (or of file) before the last field */
            return ragged(c, f + 1);
        }
    }
    /* p is at '\n' or at the terminating NUL */
    *next = *p == '\n' ? p + 1 : p;
    return HT_OK;
}

/* Whether the line at p is blank; *next is the start of the next line. */
static int line_blank(const char *p, const char **next)
{
    const char *nl = strchr(p, '\n');
    const char *e = nl ? nl : p + strlen(p);
    *next = nl ? nl + 1 : e;
    const char *q = skip_blank(p);
    return q >= e;
}

/* Whether the field at p parses whole as a number. */
static int field_is_number(const char *p)
{
    const char *q;
    p = skip_blank(p);
    (void)parse_float(p, &q);
    if (q == p)
        return 0;
    q = skip_blank(q);
    return *q == ',' || *q == '\n' || *q == '\0';
}

/* Whether every field of the line at p parses as a number: a first line
 * that does not is a header. */
static int line_all_numbers(const char *p)
{
    for (;;) {
        const char *q;
        p = skip_blank(p);
        (void)parse_float(p, &q);
        if (q == p)
            return 0;
        p = skip_blank(q);
        if (*p == ',')
            p++;
        else
            return *p == '\n' || *p == '\0';
    }
}

/* A named label's text in the file, and its row. */
typedef struct name_span {
    const char *p;
    size_t len, row;
} name_span;

static int span_cmp(const void *a, const void *b)
{
    const name_span *x = a, *y = b;
    const int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

static int same_name(const name_span *x, const name_span *y)
{
    return x->len == y->len && memcmp(x->p, y->p, x->len) == 0;
}

/* Classes from the rows' names: the distinct names in byte order, each
 * row's label its index. Sorts sp. */
static ht_status number_names(const char *path, name_span *sp, size_t n,
                              ht_dataset *ds)
{
    qsort(sp, n, sizeof *sp, span_cmp);
    size_t k = 0, bytes = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || !same_name(&sp[i], &sp[i - 1])) {
            k++;
            bytes += sp[i].len + 1;
        }
    if (k > INT32_MAX)
        return ht_error(HT_ERR_FORMAT, "%s: %zu class names", path, k);
    char **names = malloc(k * sizeof *names + bytes);
    if (names == NULL)
        return ht_error(HT_ERR_NOMEM, "%s: out of memory for %zu class names",
                        path, k);
    char *text = (char *)(names + k);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || !same_name(&sp[i], &sp[i - 1])) {
            names[j++] = text;
            memcpy(text, sp[i].p, sp[i].len);
            text[sp[i].len] = '\0';
            text += sp[i].len + 1;
        }
        ds->label[sp[i].row] = (int32_t)(j - 1);
    }
    ds->class_names = names;
    ds->n_classes = k;
    return HT_OK;
}

ht_status ht_dataset_load_csv(const char *path, ht_target_kind kind,
                              ht_dataset **out)
{
    if (!path || !out)
        return ht_error(HT_ERR_ARG, "ht_dataset_load_csv: NULL argument");
    if (kind != HT_TARGET_CLASS && kind != HT_TARGET_REGRESSION &&
        kind != HT_TARGET_NONE)
        return ht_error(HT_ERR_ARG, "%s: unknown target kind %d", path,
                        (int)kind);
    void *data;
    size_t len;
    ht_status s = ht_file_read_text(path, &data, &len);
    if (s != HT_OK)
        return s;
    const char *buf = data;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        buf += 3; /* UTF-8 byte order mark */
    if (memchr(buf, '\0', len - (size_t)(buf - (const char *)data))) {
        free(data);
        return ht_error(HT_ERR_FORMAT, "%s: contains NUL bytes: not a text "
                        "CSV file", path);
    }

    csv_ctx c = {path, 0, 0, 0, kind, 0};
    /* First non-blank line: header or first row. */
    const char *p = buf, *next, *first = NULL;
    size_t line = 1, first_line = 0;
    while (*p) {
        if (!line_blank(p, &next)) {
            first = p;
            first_line = line;
            break;
        }
        p = next;
        line++;
    }
    if (!first) {
        free(data);
        return ht_error(HT_ERR_FORMAT, "%s: %s: no data rows", path,
                        len == 0 ? "empty file" : "only blank lines");
    }
    int header = !line_all_numbers(first);

    /* Count the data rows and find the first one; for class labels, look
     * in the same pass for a label that is not a number on a line after
     * the first (named classes). */
    size_t rows = 0, data_line = 0;
    const char *data_start = NULL;
    p = first;
    line = first_line;
    while (*p) {
        if (!line_blank(p, &next)) {
            if (kind == HT_TARGET_CLASS && p != first && !c.names &&
                !field_is_number(p))
                c.names = 1;
            if (!(header && p == first)) {
                if (!data_start) {
                    data_start = p;
                    data_line = line;
                }
                rows++;
            }
        }
        p = next;
        line++;
    }
    /* With named classes the first line is a header only if its features
     * are not all numbers ("species,sl,sw" but not "setosa,5.1,3.5");
     * without, a first line with any non-number is one, as it always was
     * ("label,1,2"). Names can only turn a header into a data row. */
    if (c.names && header) {
        const char *f = first;
        while (*f && *f != ',' && *f != '\n')
            f++;
        if (*f == ',' && line_all_numbers(f + 1)) {
            header = 0;
            data_start = first;
            data_line = first_line;
            rows++;
        }
    }
    if (rows == 0) {
        free(data);
        return ht_error(HT_ERR_FORMAT, "%s: no data rows (only a header on "
                        "line %zu)", path, first_line);
    }
    c.fields = count_fields(data_start);
    c.fields_line = data_line;
    const size_t off = kind == HT_TARGET_NONE ? 0 : 1; /* label columns */
    if (c.fields < 1 + off) {
        free(data);
        return ht_error(HT_ERR_FORMAT, "%s:%zu: 1 field: a row needs a %s and "
                        "at least one feature", path, data_line,
                        kind == HT_TARGET_CLASS ? "label" : "target");
    }

    ht_dataset *ds;
    s = ht_dataset_alloc(rows, c.fields - off,
                         kind == HT_TARGET_REGRESSION ? 1 : 0, path, &ds);
    if (s != HT_OK) {
        free(data);
        return s;
    }
    if (kind == HT_TARGET_NONE) {
        free(ds->label);
        ds->label = NULL;
    }
    const size_t d = ds->d;
    int32_t max_label = 0;
    size_t r = 0;
    name_span *spans = NULL;
    size_t num_line = 0, name_line = 0; /* the first of each, named mode */
    const char *num_at = NULL, *name_at = NULL;
    if (c.names && (spans = malloc(rows * sizeof *spans)) == NULL)
        s = ht_error(HT_ERR_NOMEM, "%s: out of memory for %zu class names",
                     path, rows);
    p = data_start;
    c.line = data_line;
    while (*p && s == HT_OK) {
        if (line_blank(p, &next)) {
            p = next;
        } else {
            int32_t lab = 0;
            float tgt = 0.0f;
            const char *nm = NULL;
            size_t nl = 0;
            s = parse_row(&c, p, ds->x + r * d, &lab, &tgt, &nm, &nl, &next);
            if (spans && s == HT_OK) {
                spans[r].p = nm;
                spans[r].len = nl;
                spans[r].row = r;
                /* numbers and names mixed is a typo far more often than
                 * classes named "3" beside "cat": refuse, naming both */
                const int num = field_is_number(nm);
                size_t *seen = num ? &num_line : &name_line;
                if (*seen == 0) {
                    *seen = c.line;
                    *(num ? &num_at : &name_at) = nm;
                }
                if (num_line && name_line) {
                    char a[48], b[48];
                    field_text(num_at, a, sizeof a);
                    field_text(name_at, b, sizeof b);
                    s = ht_error(HT_ERR_FORMAT, "%s:%zu: label '%s' is a "
                                 "number, but line %zu's label '%s' is a "
                                 "name: the labels must be all class numbers "
                                 "or all class names", path, num_line, a,
                                 name_line, b);
                }
            }
            if (kind == HT_TARGET_CLASS) {
                ds->label[r] = lab;
                if (lab > max_label)
                    max_label = lab;
            } else if (kind == HT_TARGET_REGRESSION) {
                ds->target[r] = tgt;
            }
            r++;
            p = next;
        }
        c.line++;
    }
    if (s == HT_OK && spans)
        s = number_names(path, spans, rows, ds);
    free(spans);
    free(data);
    if (s != HT_OK) {
        ht_dataset_free(ds);
        return s;
    }
    if (kind == HT_TARGET_CLASS && !c.names)
        ds->n_classes = (size_t)max_label + 1;
    *out = ds;
    return HT_OK;
}
