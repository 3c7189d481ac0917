/* Input standardisation: a per-feature affine map x' = (x - shift) * scale
 * that the model applies to every row it reads, as the row is copied into
 * the batch buffer (train.c, gather_rows), so training, evaluation and
 * prediction all see the same inputs and a checkpoint carries the map
 * with the weights.
 *
 * Fitting is serial and in row order (sums in double), so the map, and
 * hence every later bit, is the same for any thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model_internal.h"

ht_status ht_model_set_input_transform(ht_model *m, const float *shift,
                                       const float *scale)
{
    if (m == NULL || (shift == NULL) != (scale == NULL))
        return ht_error(HT_ERR_ARG, "ht_model_set_input_transform: NULL "
                        "model, or only one of shift and scale");
    const size_t d = m->cfg.sizes[0];
    if (shift == NULL) {
        free(m->in_shift);
        m->in_shift = m->in_scale = NULL;
        return HT_OK;
    }
    for (size_t j = 0; j < d; j++)
        if (!isfinite(shift[j]) || !isfinite(scale[j]) || scale[j] == 0.0f)
            return ht_error(HT_ERR_ARG, "input transform, feature %zu: shift "
                            "%g, scale %g (both must be finite, scale "
                            "non-zero)", j, (double)shift[j],
                            (double)scale[j]);
    float *p = m->in_shift ? m->in_shift : malloc(2 * d * sizeof(float));
    if (p == NULL)
        return ht_error(HT_ERR_NOMEM, "input transform: out of memory for "
                        "%zu features", d);
    /* shift and scale may alias the model's own arrays (a copy from one
     * model to itself): memmove */
    memmove(p, shift, d * sizeof(float));
    memmove(p + d, scale, d * sizeof(float));
    m->in_shift = p;
    m->in_scale = p + d;
    return HT_OK;
}

int ht_model_input_transform(const ht_model *m, const float **shift,
                             const float **scale)
{
    if (shift)
        *shift = m->in_shift;
    if (scale)
        *scale = m->in_scale;
    return m->in_shift != NULL;
}

ht_status ht_model_fit_standardize(ht_model *m, const ht_dataset *ds)
{
    if (m == NULL || ds == NULL)
        return ht_error(HT_ERR_ARG, "ht_model_fit_standardize: NULL argument");
    const size_t d = m->cfg.sizes[0], n = ds->n;
    if (ds->d != d)
        return ht_error(HT_ERR_SHAPE, "standardize: the data has %zu features, "
                        "the model %zu inputs", ds->d, d);
    if (n == 0)
        return ht_error(HT_ERR_SHAPE, "standardize: the data has no rows");
    double *mean = calloc(2 * d, sizeof(double));
    float *lo = malloc(2 * d * sizeof(float)), *out = malloc(2 * d * sizeof(float));
    if (mean == NULL || lo == NULL || out == NULL) {
        free(mean);
        free(lo);
        free(out);
        return ht_error(HT_ERR_NOMEM, "standardize: out of memory for %zu "
                        "features", d);
    }
    double *var = mean + d;
    float *hi = lo + d;
    memcpy(lo, ds->x, d * sizeof(float));
    memcpy(hi, ds->x, d * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        const float *x = ds->x + i * d;
        for (size_t j = 0; j < d; j++) {
            mean[j] += x[j];
            lo[j] = x[j] < lo[j] ? x[j] : lo[j];
            hi[j] = x[j] > hi[j] ? x[j] : hi[j];
        }
    }
    for (size_t j = 0; j < d; j++)
        mean[j] /= (double)n;
    /* Two passes: the deviations from the mean, not E[x^2] - E[x]^2,
     * which cancels for features far from zero. */
    for (size_t i = 0; i < n; i++) {
        const float *x = ds->x + i * d;
        for (size_t j = 0; j < d; j++) {
            const double e = x[j] - mean[j];
            var[j] += e * e;
        }
    }
    float *shift = out, *scale = out + d;
    for (size_t j = 0; j < d; j++) {
        const double sd = sqrt(var[j] / (double)n);
        /* A constant feature (lo == hi, decided on the floats themselves,
         * since the double mean of equal floats need not equal them) maps
         * to exactly 0; anything else has sd > 0. A float scale that
         * overflows (sd below ~3e-39) is refused rather than made up. */
        if (lo[j] == hi[j]) {
            shift[j] = lo[j];
            scale[j] = 1.0f;
        } else {
            shift[j] = (float)mean[j];
            scale[j] = (float)(1.0 / sd);
        }
    }
    ht_status s = HT_OK;
    for (size_t j = 0; j < d && s == HT_OK; j++)
        if (!isfinite(scale[j]))
            s = ht_error(HT_ERR_FORMAT, "standardize: feature %zu has a "
                         "standard deviation too small for a float scale "
                         "(%g)", j, sqrt(var[j] / (double)n));
    if (s == HT_OK)
        s = ht_model_set_input_transform(m, shift, scale);
    free(mean);
    free(lo);
    free(out);
    return s;
}

void ht_input_norm_apply(const ht_model *m, float *x, size_t rows)
{
    const float *shift = m->in_shift, *scale = m->in_scale;
    if (shift == NULL)
        return;
    const size_t d = m->cfg.sizes[0];
    for (size_t i = 0; i < rows; i++) {
        float *xi = x + i * d;
        for (size_t j = 0; j < d; j++)
            xi[j] = (xi[j] - shift[j]) * scale[j];
    }
}
