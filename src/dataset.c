#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"
#include "error.h"
#include "fileio.h"
#include "internal.h"
#include "rng.h"

ht_status ht_dataset_alloc(size_t n, size_t d, size_t n_targets,
                           const char *what, ht_dataset **out)
{
    if (d != 0 && n > SIZE_MAX / sizeof(float) / d)
        return ht_error(HT_ERR_NOMEM, "%s: %zu x %zu features do not fit in "
                        "memory", what, n, d);
    if (n_targets != 0 && n > SIZE_MAX / sizeof(float) / n_targets)
        return ht_error(HT_ERR_NOMEM, "%s: %zu x %zu targets do not fit in "
                        "memory", what, n, n_targets);
    ht_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return ht_error(HT_ERR_NOMEM, "%s: out of memory", what);
    ds->n = n;
    ds->d = d;
    ds->n_targets = n_targets;
    /* ht_aligned_alloc(0) is NULL; keep x valid even for an empty set. */
    ds->x = ht_aligned_alloc(n * d != 0 ? n * d * sizeof(float) : 64);
    if (n_targets == 0)
        ds->label = malloc(n ? n * sizeof(int32_t) : 1);
    else
        ds->target = malloc(n ? n * n_targets * sizeof(float) : 1);
    if (!ds->x || (n_targets == 0 ? !ds->label : !ds->target)) {
        ht_dataset_free(ds);
        return ht_error(HT_ERR_NOMEM, "%s: out of memory for %zu x %zu "
                        "floats", what, n, d);
    }
    *out = ds;
    return HT_OK;
}

void ht_dataset_free(ht_dataset *ds)
{
    if (!ds)
        return;
    ht_aligned_free(ds->x);
    free(ds->label);
    free(ds->target);
    free(ds->class_names);
    free(ds);
}

void ht_dataset_gather(const ht_dataset *ds, const size_t *idx, size_t count,
                       float *x_out, int32_t *label_out, float *target_out)
{
    const size_t d = ds->d, t = ds->n_targets;
    for (size_t i = 0; i < count; i++) {
        size_t r = idx[i];
        memcpy(x_out + i * d, ds->x + r * d, d * sizeof(float));
        if (label_out && ds->label)
            label_out[i] = ds->label[r];
        if (target_out && ds->target)
            memcpy(target_out + i * t, ds->target + r * t, t * sizeof(float));
    }
}

char **ht_names_dup(const char *const *names, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(names[i]) + 1;
    char **out = malloc(n * sizeof *out + bytes + 1);
    if (out == NULL)
        return NULL;
    char *text = (char *)(out + n);
    for (size_t i = 0; i < n; i++) {
        const size_t len = strlen(names[i]) + 1;
        memcpy(text, names[i], len);
        out[i] = text;
        text += len;
    }
    return out;
}

static int name_ix_cmp(const void *a, const void *b)
{
    const ht_name_ix *x = a, *y = b;
    const int c = strcmp(x->s, y->s);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

ht_name_ix *ht_names_sorted(const char *const *names, size_t n, size_t *dup)
{
    ht_name_ix *v = malloc((n ? n : 1) * sizeof *v);
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        v[i] = (ht_name_ix){names[i], i};
    qsort(v, n, sizeof *v, name_ix_cmp);
    *dup = n;
    for (size_t i = 1; i < n && *dup == n; i++)
        if (strcmp(v[i].s, v[i - 1].s) == 0)
            *dup = i;
    return v;
}

ht_status ht_dataset_use_classes(ht_dataset *ds, const char *const *names,
                                 size_t n)
{
    if (ds == NULL || (n && names == NULL))
        return ht_error(HT_ERR_ARG, "ht_dataset_use_classes: NULL argument");
    if (ds->label == NULL || ds->class_names == NULL)
        return ht_error(HT_ERR_SHAPE, "the data's classes are %s, not named",
                        ds->label ? "numbered" : "absent (no labels)");
    /* old index -> new index, every old class found before anything moves;
     * sorted, so a million classes cost n log n, not n^2 */
    size_t dup;
    ht_name_ix *sorted = ht_names_sorted(names, n, &dup);
    int32_t *map = malloc((ds->n_classes ? ds->n_classes : 1) * sizeof *map);
    char **copy = ht_names_dup(names, n);
    ht_status s = HT_OK;
    if (sorted == NULL || map == NULL || copy == NULL)
        s = ht_error(HT_ERR_NOMEM, "out of memory renumbering %zu classes", n);
    else if (dup < n)
        s = ht_error(HT_ERR_SHAPE, "class name '%s' given twice",
                     sorted[dup].s);
    for (size_t c = 0; s == HT_OK && c < ds->n_classes; c++) {
        const ht_name_ix key = {ds->class_names[c], 0};
        size_t lo = 0, hi = n; /* first entry >= key by name */
        while (lo < hi) {
            const size_t mid = lo + (hi - lo) / 2;
            if (strcmp(sorted[mid].s, key.s) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < n && strcmp(sorted[lo].s, key.s) == 0)
            map[c] = (int32_t)sorted[lo].i;
        else
            s = ht_error(HT_ERR_SHAPE, "class '%s' is not among the %zu "
                         "classes", key.s, n);
    }
    free(sorted);
    if (s != HT_OK) {
        free(map);
        free(copy);
        return s;
    }
    for (size_t r = 0; r < ds->n; r++)
        ds->label[r] = map[ds->label[r]];
    free(map);
    free(ds->class_names);
    ds->class_names = copy;
    ds->n_classes = n;
    return HT_OK;
}

void ht_permutation(size_t *perm, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n; i-- > 1;) {
        uint64_t bound = (uint64_t)i + 1;
        uint64_t reject_below = (0 - bound) % bound; /* 2^64 mod bound */
        uint64_t r;
        do
            r = ht_splitmix64_next(&s);
        while (r < reject_below);
        size_t j = (size_t)(r % bound);
        size_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
}

/* A new data set holding rows idx[0..count) of src, same shape otherwise. */
static ht_status subset(const ht_dataset *src, const size_t *idx,
                        size_t count, const char *what, ht_dataset **out)
{
    ht_dataset *ds;
    ht_status s = ht_dataset_alloc(count, src->d, src->target ? src->n_targets
                                                              : 0, what, &ds);
    if (s != HT_OK)
        return s;
    ht_dataset_gather(src, idx, count, ds->x, ds->label, ds->target);
    /* Both sides keep the source's class count, so a model sized from the
     * training split also fits a validation split that misses a class. */
    ds->n_classes = src->n_classes;
    if (src->class_names &&
        (ds->class_names = ht_names_dup((const char *const *)src->class_names,
                                        src->n_classes)) == NULL) {
        ht_dataset_free(ds);
        return ht_error(HT_ERR_NOMEM, "%s: out of memory for %zu class names",
                        what, src->n_classes);
    }
    *out = ds;
    return HT_OK;
}

ht_status ht_dataset_split(const ht_dataset *src, double frac, uint64_t seed,
                           ht_dataset **train, ht_dataset **val)
{
    if (!src || !train || !val)
        return ht_error(HT_ERR_ARG, "ht_dataset_split: NULL argument");
    if (!(frac > 0.0 && frac < 1.0))
        return ht_error(HT_ERR_ARG, "validation fraction %g is not in (0,1)",
                        frac);
    if ((src->label == NULL) == (src->target == NULL))
        return ht_error(HT_ERR_ARG, "ht_dataset_split: data set has %s",
                        src->label ? "both labels and targets"
                                   : "neither labels nor targets");
    double nv = floor(frac * (double)src->n + 0.5);
    size_t n_val = (size_t)nv;
    if (n_val == 0 || n_val >= src->n)
        return ht_error(HT_ERR_ARG, "validation fraction %g of %zu rows leaves "
                        "the %s set empty", frac, src->n,
                        n_val == 0 ? "validation" : "training");
    size_t n_train = src->n - n_val;
    size_t *perm = malloc(src->n * sizeof *perm);
    if (!perm)
        return ht_error(HT_ERR_NOMEM, "ht_dataset_split: out of memory for a "
                        "permutation of %zu rows", src->n);
    ht_permutation(perm, src->n, seed);
    ht_dataset *tr = NULL, *va = NULL;
    ht_status s = subset(src, perm, n_train, "training split", &tr);
    if (s == HT_OK)
        s = subset(src, perm + n_train, n_val, "validation split", &va);
    free(perm);
    if (s != HT_OK) {
        ht_dataset_free(tr);
        return s;
    }
    *train = tr;
    *val = va;
    return HT_OK;
}

ht_status ht_dataset_load_inputs(const char *path, ht_dataset **out)
{
    if (!path || !out)
        return ht_error(HT_ERR_ARG, "ht_dataset_load_inputs: NULL argument");
    /* IDX begins with two zero bytes; the CSV reader refuses NUL bytes, so
     * no CSV does */
    static const unsigned char idx_magic[2] = {0, 0};
    return ht_file_content_starts(path, idx_magic, 2)
               ? ht_dataset_load_idx_images(path, out)
               : ht_dataset_load_csv(path, HT_TARGET_NONE, out);
}
