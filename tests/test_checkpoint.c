/* Checkpoints: round trip, resume equals an uninterrupted run bit for bit,
 * truncation and corruption detected, architecture mismatch refused, a
 * failed save leaves the old file intact; the learning-rate warmup (its
 * rates, its steps, its section of the checkpoint, resume through it). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "fileio.h"
#include "hpctrain.h"
#include "testutil.h"

static ht_dataset *make_data(void)
{
    ht_dataset *ds = calloc(1, sizeof *ds);
    ds->n = 300;
    ds->d = 10;
    ds->x = malloc(300 * 10 * sizeof(float));
    ds->label = malloc(300 * sizeof(int32_t));
    ds->n_classes = 4;
    tu_fill(ds->x, 3000, 1, 0, 1);
    for (size_t i = 0; i < 300; i++) {
        int32_t best = 0;
        for (int j = 1; j < 4; j++)
            if (ds->x[i * 10 + j] > ds->x[i * 10 + best])
                best = j;
        ds->label[i] = best;
    }
    return ds;
}

static void free_data(ht_dataset *ds)
{
    free(ds->x);
    free(ds->label);
    free(ds);
}

static ht_config small_config(ht_optimizer_kind opt)
{
    ht_config c;
    ht_config_default(&c);
    c.schedule = HT_SCHED_CONSTANT;
    c.l2 = 0.0f;
    c.n_layers = 2;
    c.sizes[0] = 10; c.sizes[1] = 24; c.sizes[2] = 4;
    c.batch = 32;
    c.dropout = 0.25f;
    c.optimizer = opt;
    c.lr = opt == HT_OPT_SGD ? 0.05f : 0.003f;
    c.weight_decay = opt == HT_OPT_ADAMW ? 0.01f : 0.0f;
    return c;
}

/* Three epochs in one run against one epoch, a checkpoint at `path` (left
 * there for the caller), a load and two more epochs in a fresh model: the
 * loaded model is the saved one, and the resumed run ends bitwise equal. */
static void check_resume(const ht_config *c, const ht_dataset *ds,
                         const char *path)
{
    ht_model *full, *half, *resumed;
    assert_int_equal(ht_model_create(c, &full), HT_OK);
    for (int e = 0; e < 3; e++)
        assert_int_equal(ht_model_train_epoch(full, ds, NULL, NULL, NULL), HT_OK);

    assert_int_equal(ht_model_create(c, &half), HT_OK);
    assert_int_equal(ht_model_train_epoch(half, ds, NULL, NULL, NULL), HT_OK);
    assert_int_equal(ht_model_save(half, path), HT_OK);

    /* load as a new model */
    ht_model *loaded;
    assert_int_equal(ht_model_load(path, &loaded), HT_OK);
    assert_true(ht_model_hash(loaded) == ht_model_hash(half));
    assert_int_equal(ht_model_epoch(loaded), 1);
    assert_true(ht_model_step(loaded) == ht_model_step(half));
    assert_true(ht_model_config(loaded)->warmup_steps == c->warmup_steps);
    ht_model_free(loaded);

    /* resume into a fresh model and finish: identical to the full run */
    assert_int_equal(ht_model_create(c, &resumed), HT_OK);
    assert_int_equal(ht_model_load_into(resumed, path), HT_OK);
    for (int e = 1; e < 3; e++)
        assert_int_equal(ht_model_train_epoch(resumed, ds, NULL, NULL, NULL), HT_OK);
    assert_true(ht_model_hash(resumed) == ht_model_hash(full));
    ht_model_free(full);
    ht_model_free(half);
    ht_model_free(resumed);
}

static void resume_matches(ht_optimizer_kind opt)
{
    char path[512];
    tu_path(path, sizeof path, "ckpt_resume.bin");
    ht_dataset *ds = make_data();
    ht_config c = small_config(opt);
    check_resume(&c, ds, path);
    free_data(ds);
    remove(path);
}

static void test_resume_sgd(void **state) { (void)state; resume_matches(HT_OPT_SGD); }
static void test_resume_adamw(void **state) { (void)state; resume_matches(HT_OPT_ADAMW); }

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void test_truncated_and_corrupted(void **state)
{
    (void)state;
    char path[512], bad[512];
    tu_path(path, sizeof path, "ckpt_good.bin");
    tu_path(bad, sizeof bad, "ckpt_bad.bin");
    ht_config c = small_config(HT_OPT_ADAM);
    ht_model *m, *out = NULL;
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    assert_int_equal(ht_model_save(m, path), HT_OK);
    const long n = file_size(path);
    unsigned char *buf = malloc((size_t)n);
    FILE *f = fopen(path, "rb");
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);

    /* truncations at several points, including inside the header */
    const long cuts[] = {0, 5, 20, 60, n / 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        f = fopen(bad, "wb");
        fwrite(buf, 1, (size_t)cuts[i], f);
        fclose(f);
        ht_status s = ht_model_load(bad, &out);
        if (s != HT_ERR_FORMAT && s != HT_ERR_CHECKSUM)
            fail_msg("truncated at %ld bytes: status %d", cuts[i], (int)s);
        assert_null(out);
        assert_non_null(strstr(ht_last_error(), "ckpt_bad.bin"));
    }
    /* one flipped bit anywhere in the payload */
    const long flips[] = {100, n / 3, n - 10};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        buf[flips[i]] ^= 0x10;
        f = fopen(bad, "wb");
        fwrite(buf, 1, (size_t)n, f);
        fclose(f);
        buf[flips[i]] ^= 0x10;
        assert_int_equal(ht_model_load(bad, &out), HT_ERR_CHECKSUM);
    }
    /* not a checkpoint at all */
    f = fopen(bad, "wb");
    fputs("hello, world, this is not a checkpoint file at all", f);
    fclose(f);
    assert_int_equal(ht_model_load(bad, &out), HT_ERR_FORMAT);
    tu_path(bad, sizeof bad, "does_not_exist.bin");
    assert_int_equal(ht_model_load(bad, &out), HT_ERR_IO);
    free(buf);
    ht_model_free(m);
    remove(path);
    tu_path(bad, sizeof bad, "ckpt_bad.bin");
    remove(bad);
}

/* Offset of the configuration in a checkpoint: magic, version, header
 * bytes, n_layers; then sizes[0..n_layers] as u64, then the dropout f32. */
#define CKPT_SIZES_AT (8 + 4 + 4 + 4)

/* Saves a model of small_config(opt) to path with `len` bytes at `at`
 * replaced by `bytes` and the CRC recomputed, as a damaged file rewritten
 * by a tool (or a crafted one) would be: only the parser stands between
 * it and the model. */
static void save_patched(const char *path, ht_optimizer_kind opt, size_t at,
                         const void *bytes, size_t len)
{
    ht_config c = small_config(opt);
    ht_model *m;
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    assert_int_equal(ht_model_save(m, path), HT_OK);
    ht_model_free(m);
    const size_t n = (size_t)file_size(path);
    assert_true(at + len + 4 <= n);
    unsigned char *buf = malloc(n);
    FILE *f = fopen(path, "rb");
    assert_int_equal(fread(buf, 1, n, f), n);
    fclose(f);
    memcpy(buf + at, bytes, len);
    const uint32_t crc = ht_crc32(buf, n - 4); /* stored little-endian */
    memcpy(buf + n - 4, &crc, 4);
    f = fopen(path, "wb");
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
    free(buf);
}

/* A header naming a huge layer under a matching checksum: the reader must
 * refuse it from the sizes alone, before it allocates anything. Found by
 * tests/fuzz/fuzz_checkpoint: a 395-byte file made the reader build a
 * model of 3 GB before it noticed that the payload was missing. */
static void test_huge_layer_refused_before_alloc(void **state)
{
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "ckpt_huge.bin");
    const uint64_t huge = (uint64_t)1 << 24;
    save_patched(path, HT_OPT_ADAM, CKPT_SIZES_AT + 8, &huge, 8); /* sizes[1] */
    ht_model *out = NULL;
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    assert_int_equal(ht_model_load(path, &out), HT_ERR_FORMAT);
    getrusage(RUSAGE_SELF, &after);
    assert_null(out);
    assert_non_null(strstr(ht_last_error(), "does not match its architecture"));
    /* ru_maxrss is in KiB: the model it names would take gigabytes */
    assert_true(after.ru_maxrss - before.ru_maxrss < 64 * 1024);
    remove(path);
}

/* A header whose configuration is invalid (dropout 2) under a matching
 * checksum: the message names the file and the configuration's own
 * complaint, once. (The reader passes ht_last_error() into its own
 * message; the fuzz corpus showed that this used to garble it.) */
static void test_invalid_config_message(void **state)
{
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "ckpt_cfg.bin");
    const float two = 2.0f;
    const size_t n_layers = small_config(HT_OPT_SGD).n_layers;
    save_patched(path, HT_OPT_SGD, CKPT_SIZES_AT + 8 * (n_layers + 1), &two,
                 4);
    ht_model *out = NULL;
    assert_int_equal(ht_model_load(path, &out), HT_ERR_FORMAT);
    assert_null(out);
    const char *msg = ht_last_error();
    assert_non_null(strstr(msg, "ckpt_cfg.bin: invalid configuration in "
                                "checkpoint: dropout 2: must be in [0,1)"));
    assert_null(strstr(strstr(msg, "invalid configuration") + 1,
                       "invalid configuration"));
    remove(path);
}

static void test_architecture_mismatch(void **state)
{
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "ckpt_arch.bin");
    ht_config c = small_config(HT_OPT_SGD);
    ht_model *a, *b;
    assert_int_equal(ht_model_create(&c, &a), HT_OK);
    assert_int_equal(ht_model_save(a, path), HT_OK);
    c.sizes[1] = 25;
    assert_int_equal(ht_model_create(&c, &b), HT_OK);
    const uint64_t before = ht_model_hash(b);
    assert_int_equal(ht_model_load_into(b, path), HT_ERR_SHAPE);
    assert_non_null(strstr(ht_last_error(), "10-24-4"));
    assert_true(ht_model_hash(b) == before);
    ht_model_free(a);
    ht_model_free(b);
    remove(path);
}

static void test_failed_save_keeps_old(void **state)
{
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "ckpt_keep.bin");
    ht_config c = small_config(HT_OPT_SGD);
    ht_model *m;
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    assert_int_equal(ht_model_save(m, path), HT_OK);
    const uint64_t h = ht_model_hash(m);
    assert_int_equal(ht_model_save(m, "/nonexistent-dir/x/ckpt.bin"), HT_ERR_IO);
    assert_non_null(strstr(ht_last_error(), "/nonexistent-dir/x/ckpt.bin"));
    ht_model *l;
    assert_int_equal(ht_model_load(path, &l), HT_OK);
    assert_true(ht_model_hash(l) == h);
    ht_model_free(l);
    ht_model_free(m);
    remove(path);
}

/* ht_lr_at: the schedule's rate times (step+1)/warmup while step <
 * warmup, in one rounding; the schedule alone after it. */
static void test_lr_at_warmup(void **state)
{
    (void)state;
    ht_config c = small_config(HT_OPT_SGD);
    c.lr = 0.05f;
    assert_true(ht_lr_at(&c, 0, 0) == 0.05f);   /* no warmup */
    c.warmup_steps = 4;
    assert_int_equal(ht_config_check(&c), HT_OK);
    assert_true(ht_lr_at(&c, 0, 0) == 0.05f * 0.25f);
    assert_true(ht_lr_at(&c, 0, 1) == 0.05f * 0.5f);
    assert_true(ht_lr_at(&c, 0, 2) == (float)((double)0.05f * 3.0 / 4.0));
    assert_true(ht_lr_at(&c, 0, 3) == 0.05f);
    assert_true(ht_lr_at(&c, 7, 1000) == 0.05f);
    /* on top of a schedule: the epoch's rate, scaled */
    c.schedule = HT_SCHED_COSINE;
    c.total_epochs = 10;
    c.warmup_steps = 10;
    const float cos2 = ht_lr_at(&c, 2, 10);
    assert_true(cos2 == (float)(0.05 * 0.5 * (1.0 + cos(3.14159265358979323846 * 2 / 10))));
    assert_true(ht_lr_at(&c, 2, 1) == (float)((double)cos2 * 2.0 / 10.0));
    c.schedule = HT_SCHED_STEP;
    c.step_epochs = 1;
    c.gamma = 0.5f;
    assert_true(ht_lr_at(&c, 1, 4) == (float)((double)0.025f * 5.0 / 10.0));
    c.warmup_steps = HT_MAX_WARMUP_STEPS + 1;
    assert_int_equal(ht_config_check(&c), HT_ERR_ARG);
    assert_non_null(strstr(ht_last_error(), "warmup_steps"));
}

/* The trainer takes exactly ht_lr_at's rate: with one step per epoch, a
 * warmup-4 run's first two steps equal runs at the fixed rates lr/4 and
 * then lr/2 (the second resumed from the first's checkpoint). */
static void test_warmup_steps_in_training(void **state)
{
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "ckpt_warm_step.bin");
    ht_dataset *ds = make_data();
    ht_config w = small_config(HT_OPT_SGD);
    w.batch = ds->n;                 /* one step per epoch */
    w.warmup_steps = 4;
    ht_config f = w;
    f.warmup_steps = 0;
    f.lr = w.lr * 0.25f;
    ht_model *mw, *mf, *mf2;
    assert_int_equal(ht_model_create(&w, &mw), HT_OK);
    assert_int_equal(ht_model_create(&f, &mf), HT_OK);
    ht_epoch_stats st;
    assert_int_equal(ht_model_train_epoch(mw, ds, NULL, NULL, &st), HT_OK);
    assert_true(st.lr == w.lr * 0.25f);
    assert_int_equal(ht_model_train_epoch(mf, ds, NULL, NULL, NULL), HT_OK);
    assert_true(ht_model_hash(mw) == ht_model_hash(mf));
    assert_int_equal(ht_model_save(mf, path), HT_OK);
    f.lr = w.lr * 0.5f;
    assert_int_equal(ht_model_create(&f, &mf2), HT_OK);
    assert_int_equal(ht_model_load_into(mf2, path), HT_OK);
    assert_int_equal(ht_model_train_epoch(mw, ds, NULL, NULL, &st), HT_OK);
    assert_true(st.lr == w.lr * 0.5f);
    assert_int_equal(ht_model_train_epoch(mf2, ds, NULL, NULL, NULL), HT_OK);
    assert_true(ht_model_hash(mw) == ht_model_hash(mf2));
    /* and the warmup did change the run: a plain one differs */
    ht_model *plain;
    ht_config p = w;
    p.warmup_steps = 0;
    assert_int_equal(ht_model_create(&p, &plain), HT_OK);
    for (int e = 0; e < 2; e++)
        assert_int_equal(ht_model_train_epoch(plain, ds, NULL, NULL, NULL), HT_OK);
    assert_true(ht_model_hash(plain) != ht_model_hash(mw));
    ht_model_free(plain);
    ht_model_free(mw);
    ht_model_free(mf);
    ht_model_free(mf2);
    free_data(ds);
    remove(path);
}

/* A warmup that spans the save point: the checkpoint keeps warmup_steps
 * (version 2, section bit 2), the resumed run continues the ramp from the
 * saved step and ends bitwise equal to the uninterrupted one; a model
 * without warmup still writes version 1; a zero in the warmup field of a
 * CRC-valid file is refused. */
static void test_warmup_checkpoint_resume(void **state)
{
    (void)state;
    char path[512], plain_path[512];
    tu_path(path, sizeof path, "ckpt_warm.bin");
    tu_path(plain_path, sizeof plain_path, "ckpt_nowarm.bin");
    ht_dataset *ds = make_data();
    ht_config c = small_config(HT_OPT_SGD);
    c.warmup_steps = 15;             /* 10 steps per epoch: ends in epoch 2 */
    check_resume(&c, ds, path);
    assert_int_equal(tu_file_byte(path, 8), 2);            /* version 2 */

    ht_config p = c;
    p.warmup_steps = 0;
    ht_model *plain;
    assert_int_equal(ht_model_create(&p, &plain), HT_OK);
    assert_int_equal(ht_model_save(plain, plain_path), HT_OK);
    assert_int_equal(tu_file_byte(plain_path, 8), 1);      /* version 1 */
    ht_model_free(plain);

    /* the warmup field is the header's last 8 bytes */
    uint32_t hlen = 0;
    for (int i = 0; i < 4; i++)
        hlen |= (uint32_t)tu_file_byte(path, 12 + i) << (8 * i);
    const long len = file_size(path);
    const uint64_t zero = 0;
    assert_int_equal(tu_patch_before_crc(path, (size_t)(len - 4) - (16 + hlen - 8),
                                         &zero, 8), 0);
    ht_model *loaded = NULL;
    assert_int_equal(ht_model_load(path, &loaded), HT_ERR_FORMAT);
    assert_non_null(strstr(ht_last_error(), "header"));
    free_data(ds);
    remove(path);
    remove(plain_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_sgd),
        cmocka_unit_test(test_resume_adamw),
        cmocka_unit_test(test_truncated_and_corrupted),
        cmocka_unit_test(test_huge_layer_refused_before_alloc),
        cmocka_unit_test(test_invalid_config_message),
        cmocka_unit_test(test_architecture_mismatch),
        cmocka_unit_test(test_failed_save_keeps_old),
        cmocka_unit_test(test_lr_at_warmup),
        cmocka_unit_test(test_warmup_steps_in_training),
        cmocka_unit_test(test_warmup_checkpoint_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
