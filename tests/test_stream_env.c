/* HPCTRAIN_STREAM_STORES at the library level. The variable is read once
 * per process, so this executable sets it before its first hpctrain call:
 * "off" must make ht_stream_stores false at every size, while the
 * threshold it reports is still the auto rule's, and must leave
 * ht_runtime_init and the dropout API working. The bad-value error is tested
 * through the CLI (tests/cli_bad_input.sh), which starts a process per
 * value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hpctrain.h"
#include "hpctrain/kernels.h"
#include "testutil.h"

static void test_off(void **state)
{
    (void)state;
    assert_int_equal(ht_runtime_init(), HT_OK);
    size_t min_bytes = 0;
    const char *bad = "unset";
    assert_int_equal(ht_stream_policy(&min_bytes, &bad), 0);
    assert_null(bad);
    assert_true(min_bytes > 0);
    assert_int_equal(ht_stream_stores(min_bytes), 0);
    assert_int_equal(ht_stream_stores(SIZE_MAX / 2), 0);
    assert_int_equal(ht_stream_stores(0), 0);
}

/* The dropout API under "off": the same bits as row-by-row calls. */
static void test_dropout_off(void **state)
{
    (void)state;
    const size_t cols = 1024, mld = cols / 32, rows = 67;
    float *x = malloc(rows * cols * 4), *y = malloc(rows * cols * 4);
    float *one = malloc(cols * 4);
    uint32_t *m = malloc(rows * mld * 4), *m1 = malloc(mld * 4);
    assert_non_null(x); assert_non_null(y); assert_non_null(one);
    assert_non_null(m); assert_non_null(m1);
    tu_fill(x, rows * cols, 3, -1.0f, 1.0f);
    assert_int_equal(ht_dropout_forward(rows, cols, x, cols, y, cols, 0.25f,
                                        5, 2, 1, 0, m, mld), HT_OK);
    for (size_t i = 0; i < rows; i += rows / 7 + 1) {
        assert_int_equal(ht_dropout_forward(1, cols, x + i * cols, cols, one,
                                            cols, 0.25f, 5, 2, 1, i, m1, mld),
                         HT_OK);
        assert_memory_equal(one, y + i * cols, cols * 4);
        assert_memory_equal(m1, m + i * mld, mld * 4);
    }
    free(x); free(y); free(one); free(m); free(m1);
}

int main(void)
{
    if (setenv("HPCTRAIN_STREAM_STORES", "off", 1) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_dropout_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
