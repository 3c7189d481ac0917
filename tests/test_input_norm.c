/* Input standardisation: the fitted map against a double-precision oracle,
 * constant features, refusal of bad maps without a change, a model with
 * the map predicting bit for bit what a plain model predicts on inputs
 * standardised beforehand (training included), and the map through a
 * checkpoint (its section of a version-3 file) and --resume. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hpctrain.h"
#include "testutil.h"

#define N 203
#define D 9
#define C 3

/* Features at very different scales and offsets (feature j is about
 * 10^(j-4) wide around 7*10^(j-4)); feature 4 is constant; labels from
 * the first three raw-unit features. */
static ht_dataset *make_data(uint64_t seed)
{
    ht_dataset *ds = calloc(1, sizeof *ds);
    ds->n = N;
    ds->d = D;
    ds->x = malloc(N * D * sizeof(float));
    ds->label = malloc(N * sizeof(int32_t));
    ds->n_classes = C;
    tu_fill(ds->x, N * D, seed, -1, 1);
    for (size_t i = 0; i < N; i++) {
        float *x = ds->x + i * D;
        int32_t best = 0;
        for (int j = 1; j < C; j++)
            if (x[j] > x[best])
                best = j;
        ds->label[i] = best;
        for (size_t j = 0; j < D; j++) {
            const float s = powf(10.0f, (float)j - 4.0f);
            x[j] = j == 4 ? 0.1f : 7.0f * s + s * x[j];
        }
    }
    return ds;
}

static void free_data(ht_dataset *ds)
{
    free(ds->x);
    free(ds->label);
    free(ds);
}

static ht_config config(void)
{
    ht_config c;
    ht_config_default(&c);
    c.n_layers = 2;
    c.sizes[0] = D; c.sizes[1] = 16; c.sizes[2] = C;
    c.batch = 16;
    c.dropout = 0.2f;
    c.schedule = HT_SCHED_CONSTANT;
    c.lr = 0.05f;
    return c;
}

static void test_fit_matches_oracle(void **state)
{
    (void)state;
    ht_dataset *ds = make_data(1);
    ht_config c = config();
    ht_model *m;
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    assert_int_equal(ht_model_input_transform(m, NULL, NULL), 0);
    assert_int_equal(ht_model_fit_standardize(m, ds), HT_OK);
    const float *shift, *scale;
    assert_int_equal(ht_model_input_transform(m, &shift, &scale), 1);
    for (size_t j = 0; j < D; j++) {
        long double mu = 0, ss = 0;
        for (size_t i = 0; i < N; i++)
            mu += ds->x[i * D + j];
        mu /= N;
        for (size_t i = 0; i < N; i++)
            ss += (ds->x[i * D + j] - mu) * (ds->x[i * D + j] - mu);
        if (j == 4) {
            /* constant: maps to exactly 0 */
            assert_true(shift[j] == 0.1f && scale[j] == 1.0f);
            continue;
        }
        const double sd = sqrt((double)(ss / N));
        assert_true(fabs(shift[j] - (double)mu) <= 1e-6 * fabs((double)mu));
        assert_true(fabs(scale[j] * sd - 1.0) <= 1e-6);
    }
    /* applied by the model: mean 0 and variance 1 per feature */
    float *z = malloc(N * D * sizeof(float));
    for (size_t i = 0; i < N * D; i++)
        z[i] = (ds->x[i] - shift[i % D]) * scale[i % D];
    for (size_t j = 0; j < D; j++) {
        double s1 = 0, s2 = 0;
        for (size_t i = 0; i < N; i++) {
            s1 += z[i * D + j];
            s2 += (double)z[i * D + j] * z[i * D + j];
        }
        if (j == 4) {
            assert_true(s1 == 0 && s2 == 0);
        } else {
            assert_true(fabs(s1 / N) < 1e-5);
            assert_true(fabs(s2 / N - 1.0) < 1e-5);
        }
    }
    free(z);
    ht_model_free(m);
    free_data(ds);
}

static void test_bad_input_changes_nothing(void **state)
{
    (void)state;
    ht_dataset *ds = make_data(2);
    ht_config c = config();
    ht_model *m;
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    assert_int_equal(ht_model_fit_standardize(m, ds), HT_OK);
    const uint64_t h = ht_model_hash(m);
    float shift[D] = {0}, scale[D];
    for (size_t j = 0; j < D; j++)
        scale[j] = 1.0f;
    scale[3] = 0.0f;
    assert_int_equal(ht_model_set_input_transform(m, shift, scale), HT_ERR_ARG);
    assert_non_null(strstr(ht_last_error(), "feature 3"));
    scale[3] = 1.0f;
    shift[5] = NAN;
    assert_int_equal(ht_model_set_input_transform(m, shift, scale), HT_ERR_ARG);
    assert_int_equal(ht_model_set_input_transform(m, shift, NULL), HT_ERR_ARG);
    ds->d = D - 1;
    assert_int_equal(ht_model_fit_standardize(m, ds), HT_ERR_SHAPE);
    ds->d = D;
    const size_t n = ds->n;
    ds->n = 0;
    assert_int_equal(ht_model_fit_standardize(m, ds), HT_ERR_SHAPE);
    ds->n = n;
    assert_true(ht_model_hash(m) == h);
    /* removing it: back to the plain model's hash */
    ht_model *plain;
    assert_int_equal(ht_model_create(&c, &plain), HT_OK);
    assert_true(ht_model_hash(plain) != h);
    assert_int_equal(ht_model_set_input_transform(m, NULL, NULL), HT_OK);
    assert_int_equal(ht_model_input_transform(m, NULL, NULL), 0);
    assert_true(ht_model_hash(m) == ht_model_hash(plain));
    ht_model_free(plain);
    ht_model_free(m);
    free_data(ds);
}

/* The map is exactly z = (x - shift) * scale in float, applied before
 * everything else: training and predicting through it equals training
 * and predicting a plain model on z, bit for bit. */
static void test_same_as_prestandardised(void **state)
{
    (void)state;
    ht_dataset *ds = make_data(3), *zs = make_data(3);
    ht_config c = config();
    ht_model *a, *b;
    assert_int_equal(ht_model_create(&c, &a), HT_OK);
    assert_int_equal(ht_model_create(&c, &b), HT_OK);
    assert_int_equal(ht_model_fit_standardize(a, ds), HT_OK);
    const float *shift, *scale;
    ht_model_input_transform(a, &shift, &scale);
    for (size_t i = 0; i < N * D; i++)
        zs->x[i] = (ds->x[i] - shift[i % D]) * scale[i % D];
    for (int e = 0; e < 3; e++) {
        assert_int_equal(ht_model_train_epoch(a, ds, NULL, NULL, NULL), HT_OK);
        assert_int_equal(ht_model_train_epoch(b, zs, NULL, NULL, NULL), HT_OK);
    }
    for (size_t l = 0; l < c.n_layers; l++)
        assert_memory_equal(ht_model_weights(a, l), ht_model_weights(b, l),
                            c.sizes[l] * c.sizes[l + 1] * sizeof(float));
    float pa[N * C], pb[N * C];
    assert_int_equal(ht_model_predict(a, ds->x, N, pa), HT_OK);
    assert_int_equal(ht_model_predict(b, zs->x, N, pb), HT_OK);
    assert_memory_equal(pa, pb, sizeof pa);
    ht_eval_stats ea, eb;
    assert_int_equal(ht_model_evaluate(a, ds, &ea), HT_OK);
    assert_int_equal(ht_model_evaluate(b, zs, &eb), HT_OK);
    assert_true(ea.loss == eb.loss && ea.accuracy == eb.accuracy);
    /* the raw features are far from what the plain model was trained on */
    assert_int_equal(ht_model_evaluate(b, ds, &eb), HT_OK);
    assert_true(eb.loss != ea.loss);
    ht_model_free(a);
    ht_model_free(b);
    free_data(ds);
    free_data(zs);
}

static void test_checkpoint_and_resume(void **state)
{
    (void)state;
    char path[512], plain_path[512];
    tu_path(path, sizeof path, "ckpt_norm.bin");
    tu_path(plain_path, sizeof plain_path, "ckpt_norm_plain.bin");
    ht_dataset *ds = make_data(4);
    ht_config c = config();
    ht_model *full, *half, *loaded, *resumed;
    assert_int_equal(ht_model_create(&c, &full), HT_OK);
    assert_int_equal(ht_model_fit_standardize(full, ds), HT_OK);
    for (int e = 0; e < 3; e++)
        assert_int_equal(ht_model_train_epoch(full, ds, NULL, NULL, NULL), HT_OK);

    assert_int_equal(ht_model_create(&c, &half), HT_OK);
    assert_int_equal(ht_model_fit_standardize(half, ds), HT_OK);
    assert_int_equal(ht_model_train_epoch(half, ds, NULL, NULL, NULL), HT_OK);
    assert_int_equal(ht_model_save(half, path), HT_OK);
    assert_int_equal(tu_file_byte(path, 8), 3);

    assert_int_equal(ht_model_load(path, &loaded), HT_OK);
    assert_true(ht_model_hash(loaded) == ht_model_hash(half));
    const float *s1, *c1, *s2, *c2;
    assert_int_equal(ht_model_input_transform(loaded, &s1, &c1), 1);
    ht_model_input_transform(half, &s2, &c2);
    assert_memory_equal(s1, s2, D * sizeof(float));
    assert_memory_equal(c1, c2, D * sizeof(float));

    /* a fresh model (no map) resumed from it gets the map, and finishes
     * exactly as the uninterrupted run */
    assert_int_equal(ht_model_create(&c, &resumed), HT_OK);
    assert_int_equal(ht_model_load_into(resumed, path), HT_OK);
    for (int e = 1; e < 3; e++)
        assert_int_equal(ht_model_train_epoch(resumed, ds, NULL, NULL, NULL), HT_OK);
    assert_true(ht_model_hash(resumed) == ht_model_hash(full));

    /* a plain model's checkpoint has no map (version 3 all the same), and
     * loading it into a model that has a map removes the map */
    ht_model *plain;
    assert_int_equal(ht_model_create(&c, &plain), HT_OK);
    assert_int_equal(ht_model_save(plain, plain_path), HT_OK);
    assert_int_equal(tu_file_byte(plain_path, 8), 3);
    assert_int_equal(ht_model_load_into(resumed, plain_path), HT_OK);
    assert_int_equal(ht_model_input_transform(resumed, NULL, NULL), 0);
    assert_true(ht_model_hash(resumed) == ht_model_hash(plain));

    ht_model_free(plain);
    ht_model_free(full);
    ht_model_free(half);
    ht_model_free(loaded);
    ht_model_free(resumed);
    free_data(ds);
    remove(path);
    remove(plain_path);
}

/* A version-2 file whose map holds a zero scale (CRC fixed up, so only the
 * map's check can refuse it) is a format error, not a model. */
static void test_bad_map_in_checkpoint(void **state)
{
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "ckpt_norm_bad.bin");
    ht_dataset *ds = make_data(5);
    ht_config c = config();
    ht_model *m;
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    assert_int_equal(ht_model_fit_standardize(m, ds), HT_OK);
    assert_int_equal(ht_model_save(m, path), HT_OK);
    /* the last scale is the last float before the CRC */
    const float zero = 0.0f;
    assert_int_equal(tu_patch_before_crc(path, 4, &zero, 4), 0);
    ht_model *bad = NULL;
    assert_int_equal(ht_model_load(path, &bad), HT_ERR_FORMAT);
    assert_null(bad);
    assert_non_null(strstr(ht_last_error(), "input transform"));
    ht_model_free(m);
    free_data(ds);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_matches_oracle),
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_same_as_prestandardised),
        cmocka_unit_test(test_checkpoint_and_resume),
        cmocka_unit_test(test_bad_map_in_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
