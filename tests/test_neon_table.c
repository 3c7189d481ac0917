/* On aarch64: the NEON table is complete and hand-written, i.e. every kernel
 * entry differs from the scalar twin's, it is the default table where the
 * CPU reports ASIMD (getauxval, as under qemu), and ht_isa_get_info reports
 * it. Elsewhere the tests skip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hpctrain.h"
#include "table.h"
#include "testutil.h"

#if defined(__aarch64__) && defined(HT_HAVE_NEON)

#define ENTRY(f) {#f, offsetof(ht_kernels, f)}

typedef struct entry {
    const char *name;
    size_t off;
} entry;

/* Every function pointer of ht_kernels, in declaration order. */
static const entry entries[] = {
    ENTRY(pack_a), ENTRY(pack_b), ENTRY(gemm_ukr),
    ENTRY(gemm_dot), ENTRY(gemm_bcast), /* optional: NULL in the scalar table */
    ENTRY(bias_add), ENTRY(bias_grad), ENTRY(relu_fwd), ENTRY(relu_bwd),
    ENTRY(softmax_xent_fwd), ENTRY(softmax_xent_bwd),
    ENTRY(l1_grad), ENTRY(l2_grad), ENTRY(optim_step),
    ENTRY(dropout_mask), ENTRY(dropout_fwd), ENTRY(dropout_bwd),
    ENTRY(dropout_fwd2), ENTRY(dropout_mask2),
    ENTRY(count_zeros),
};

typedef void (*any_fn)(void);

static any_fn get(const ht_kernels *k, size_t off)
{
    any_fn f;
    memcpy(&f, (const char *)k + off, sizeof f);
    return f;
}

static void test_every_entry_hand_written(void **state)
{
    (void)state;
    ht_kernels s, n;
    ht_kernels_init_scalar(&s);
    ht_kernels_init_neon(&n);
    /* A table that grows must grow this list (and the NEON table) too. */
    const size_t last = offsetof(ht_kernels, count_zeros) + sizeof(any_fn);
    if (sizeof(ht_kernels) > last)
        fail_msg("ht_kernels has %zu bytes after count_zeros: a new entry "
                 "needs a NEON kernel and a line in tests/test_neon_table.c",
                 sizeof(ht_kernels) - last);
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        any_fn fs = get(&s, entries[i].off), fn = get(&n, entries[i].off);
        if (fn == NULL)
            fail_msg("neon table: %s is NULL", entries[i].name);
        if (fn == fs)
            fail_msg("neon table: %s is still the scalar twin", entries[i].name);
    }
    assert_string_equal(n.name, "neon");
    assert_int_equal(n.mr, 8);
    assert_int_equal(n.nr, 12);
    assert_true(n.mc % (size_t)n.mr == 0 && n.nc % (size_t)n.nr == 0);
    assert_true(n.small_n_max > 0); /* the small-N paths are in use */
}

static void test_default_is_neon(void **state)
{
    (void)state;
    /* qemu-user emulates AT_HWCAP (ASIMD) for every CPU model, so the
     * default selection must be the NEON table unless overridden. */
    assert_true(ht_isa_available("neon"));
    const char *env = getenv("HPCTRAIN_ISA");
    if (env == NULL || *env == '\0')
        assert_string_equal(ht_isa_name(), "neon");
    assert_int_equal(ht_isa_select("neon"), HT_OK);
    ht_isa_info info;
    assert_int_equal(ht_isa_get_info(&info), HT_OK);
    assert_string_equal(info.name, "neon");
    assert_int_equal(info.mr, 8);
    assert_int_equal(info.nr, 12);
    assert_false(ht_isa_available("avx2"));
    assert_int_equal(ht_isa_select("avx2"), HT_ERR_ISA);
}

#else

static void test_every_entry_hand_written(void **state)
{
    (void)state;
    skip(); /* no NEON table in this build (not aarch64) */
}

static void test_default_is_neon(void **state)
{
    (void)state;
    assert_false(ht_isa_available("neon"));
    skip();
}

#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_entry_hand_written),
        cmocka_unit_test(test_default_is_neon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
