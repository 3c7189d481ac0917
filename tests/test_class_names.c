/* A model's class names: checked when set (count, length, commas, line
 * breaks, duplicates) with nothing changed on refusal; carried by
 * checkpoints (a section, alone or with an input transform); taken over by
 * ht_model_load_into (and removed when the checkpoint has none); a damaged
 * names section refused. */
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

static const char *const iris[3] = {"setosa", "versicolor", "virginica"};

static ht_model *model(void)
{
    ht_config c;
    ht_config_default(&c);
    c.n_layers = 2;
    c.sizes[0] = 4; c.sizes[1] = 8; c.sizes[2] = 3;
    c.batch = 8;
    ht_model *m;
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    return m;
}

static void test_set_checks(void **state)
{
    (void)state;
    ht_model *m = model();
    assert_null(ht_model_class_names(m));
    assert_int_equal(ht_model_set_class_names(m, iris, 2), HT_ERR_SHAPE);
    const char *comma[3] = {"a", "b,c", "d"}, *nl[3] = {"a", "b", "c\n"};
    const char *dup[3] = {"a", "b", "a"}, *empty[3] = {"a", "", "c"};
    char longname[300];
    memset(longname, 'x', 256);
    longname[256] = '\0';
    const char *lng[3] = {"a", longname, "c"};
    assert_int_equal(ht_model_set_class_names(m, iris, 3), HT_OK);
    const char *const *bad[] = {comma, nl, dup, empty, lng};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ht_model_set_class_names(m, bad[i], 3), HT_ERR_ARG);
        assert_string_equal(ht_model_class_names(m)[1], "versicolor");
    }
    longname[255] = '\0';
    assert_int_equal(ht_model_set_class_names(m, lng, 3), HT_OK);
    assert_int_equal(strlen(ht_model_class_names(m)[1]), 255);
    assert_int_equal(ht_model_set_class_names(m, NULL, 0), HT_OK);
    assert_null(ht_model_class_names(m));
    ht_model_free(m);
}

static void test_checkpoint(void **state)
{
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "ckpt_names.bin");
    for (int with_map = 0; with_map < 2; with_map++) {
        ht_model *m = model();
        assert_int_equal(ht_model_set_class_names(m, iris, 3), HT_OK);
        const float shift[4] = {1, 2, 3, 4}, scale[4] = {0.5f, 2, 1, 4};
        if (with_map)
            assert_int_equal(ht_model_set_input_transform(m, shift, scale),
                             HT_OK);
        assert_int_equal(ht_model_save(m, path), HT_OK);
        assert_int_equal(tu_file_byte(path, 8), 3);
        ht_model *l;
        assert_int_equal(ht_model_load(path, &l), HT_OK);
        for (int i = 0; i < 3; i++)
            assert_string_equal(ht_model_class_names(l)[i], iris[i]);
        assert_int_equal(ht_model_input_transform(l, NULL, NULL), with_map);
        assert_true(ht_model_hash(l) == ht_model_hash(m));

        /* load_into: the names come with the state; a plain checkpoint
         * takes them away */
        ht_model *r = model();
        assert_int_equal(ht_model_load_into(r, path), HT_OK);
        assert_string_equal(ht_model_class_names(r)[2], "virginica");
        ht_model *plain = model();
        char ppath[512];
        tu_path(ppath, sizeof ppath, "ckpt_names_plain.bin");
        assert_int_equal(ht_model_save(plain, ppath), HT_OK);
        assert_int_equal(tu_file_byte(ppath, 8), 3);
        assert_int_equal(ht_model_load_into(r, ppath), HT_OK);
        assert_null(ht_model_class_names(r));
        assert_int_equal(ht_model_input_transform(r, NULL, NULL), 0);
        remove(ppath);
        ht_model_free(plain);
        ht_model_free(r);
        ht_model_free(l);
        ht_model_free(m);
    }
    remove(path);
}

static void test_damaged_names(void **state)
{
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "ckpt_names_bad.bin");
    static const struct {
        size_t at;          /* bytes before the CRC where the edit starts */
        const char *bytes;
        size_t n;
        const char *msg;
    } cases[] = {
        /* "virginica" is the last 9 bytes: a comma in it */
        {9, ",", 1, "comma"},
        /* its length word claims 200 bytes */
        {13, "\310\0\0\0", 4, "truncated or malformed class names"},
        /* a NUL inside */
        {5, "\0", 1, "NUL"},
        /* "aaa, bbb, ccc" made "aaa, bbb, bbb" */
        {3, "bbb", 3, "both named"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ht_model *m = model();
        assert_int_equal(ht_model_set_class_names(m, iris, 3), HT_OK);
        assert_int_equal(ht_model_save(m, path), HT_OK);
        ht_model_free(m);
        if (i == 3) {
            /* names of equal length, the last overwritten by the second */
            const char *const abc[3] = {"aaa", "bbb", "ccc"};
            m = model();
            assert_int_equal(ht_model_set_class_names(m, abc, 3), HT_OK);
            assert_int_equal(ht_model_save(m, path), HT_OK);
            ht_model_free(m);
        }
        assert_int_equal(tu_patch_before_crc(path, cases[i].at, cases[i].bytes,
                                             cases[i].n), 0);
        ht_model *l = NULL;
        ht_status s = ht_model_load(path, &l);
        if (s != HT_ERR_FORMAT || strstr(ht_last_error(), cases[i].msg) == NULL)
            fail_msg("case %zu: status %d, '%s'", i, s, ht_last_error());
        assert_null(l);
    }
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_checks),
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_damaged_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
