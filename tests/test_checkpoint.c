/* Checkpoints: round trip, resume equals an uninterrupted run bit for bit,
 * truncation and corruption detected, architecture mismatch refused, a
 * failed save leaves the old file intact; the learning-rate warmup (its
 * rates, its steps, its section of the checkpoint, resume through it); the
 * weights hash of version 3 (stored, checked on load under a valid CRC),
 * and versions 1 and 2 still read. */
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
 * (section bit 2), the resumed run continues the ramp from the saved step
 * and ends bitwise equal to the uninterrupted one; a model without warmup
 * is written as version 3 too, with no sections; a zero in the warmup
 * field of a CRC-valid file is refused. */
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
    assert_int_equal(tu_file_byte(path, 8), 3);            /* version 3 */

    ht_config p = c;
    p.warmup_steps = 0;
    ht_model *plain;
    assert_int_equal(ht_model_create(&p, &plain), HT_OK);
    assert_int_equal(ht_model_save(plain, plain_path), HT_OK);
    assert_int_equal(tu_file_byte(plain_path, 8), 3);      /* version 3 */
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

/* Version 3's weights hash sits in the header after has_v: magic, version,
 * header bytes, then the configuration (u32 n_layers, u64 sizes, 19 u32 or
 * f32 fields, u64 batch, u64 seed), i32 epoch, u64 step, u64 n_params,
 * u32 has_m, u32 has_v. The sections word follows it. */
#define CKPT_HASH_AT(n_layers) \
    (CKPT_SIZES_AT + 8 * ((n_layers) + 1) + 19 * 4 + 8 + 8 + 4 + 8 + 8 + 4 + 4)

static unsigned char *slurp(const char *path, size_t *n)
{
    *n = (size_t)file_size(path);
    unsigned char *buf = malloc(*n ? *n : 1);
    assert_non_null(buf);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, *n, f), *n);
    fclose(f);
    return buf;
}

static void spill(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Rewrites the version-3 checkpoint at src, written for n_layers layers,
 * into dst as the earlier builds wrote it: version 2 (sections kept, the
 * hash dropped) or version 1 (the hash and the sections word dropped;
 * there must be no section), header length and CRC fixed. */
static void downgrade(const char *src, const char *dst, size_t n_layers,
                      uint32_t version)
{
    size_t n;
    unsigned char *b = slurp(src, &n);
    assert_int_equal(le32(b + 8), 3);
    const size_t at = CKPT_HASH_AT(n_layers);
    const size_t cut = version == 1 ? 12 : 8;
    if (version == 1)
        assert_int_equal(le32(b + at + 8), 0); /* no sections */
    memmove(b + at, b + at + cut, n - at - cut);
    n -= cut;
    put_le32(b + 8, version);
    put_le32(b + 12, le32(b + 12) - (uint32_t)cut);
    put_le32(b + n - 4, ht_crc32(b, n - 4));
    spill(dst, b, n);
    free(b);
}

/* The hash a save stores is ht_model_hash of the model as saved, the input
 * transform included, at its place in the header; ht_checkpoint_stored_hash
 * gives it back with the version; a load reproduces it. */
static void test_hash_stored(void **state)
{
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "ckpt_hash.bin");
    ht_dataset *ds = make_data();
    for (int with_sections = 0; with_sections < 2; with_sections++) {
        ht_config c = small_config(HT_OPT_ADAM);
        ht_model *m;
        assert_int_equal(ht_model_create(&c, &m), HT_OK);
        assert_int_equal(ht_model_train_epoch(m, ds, NULL, NULL, NULL), HT_OK);
        if (with_sections) {
            float shift[10], scale[10];
            for (int i = 0; i < 10; i++) {
                shift[i] = 0.1f * (float)i;
                scale[i] = 1.0f + 0.5f * (float)i;
            }
            const char *const names[4] = {"a", "b", "c", "d"};
            const uint64_t plain = ht_model_hash(m);
            assert_int_equal(ht_model_set_input_transform(m, shift, scale),
                             HT_OK);
            assert_int_equal(ht_model_set_class_names(m, names, 4), HT_OK);
            assert_true(ht_model_hash(m) != plain); /* the map is hashed */
        }
        const uint64_t h = ht_model_hash(m);
        assert_int_equal(ht_model_save(m, path), HT_OK);
        assert_int_equal(tu_file_byte(path, 8), 3);

        size_t n;
        unsigned char *b = slurp(path, &n);
        assert_true(le64(b + CKPT_HASH_AT(c.n_layers)) == h);
        assert_int_equal(le32(b + CKPT_HASH_AT(c.n_layers) + 8),
                         with_sections ? 3 : 0); /* sections follow it */
        free(b);

        uint64_t stored = 1;
        unsigned version = 0;
        assert_int_equal(ht_checkpoint_stored_hash(path, &stored, &version),
                         HT_OK);
        assert_int_equal(version, 3);
        assert_true(stored == h);

        ht_model *l;
        assert_int_equal(ht_model_load(path, &l), HT_OK);
        assert_true(ht_model_hash(l) == h);
        ht_model_free(l);
        ht_model_free(m);
    }
    assert_int_equal(ht_checkpoint_stored_hash(path, NULL, NULL), HT_ERR_ARG);
    free_data(ds);
    remove(path);
}

/* A version-3 file whose weights, or whose stored hash, were changed and
 * its CRC recomputed passes the CRC; only the hash check refuses it,
 * naming the file and both hashes, and a load_into leaves its model as it
 * was. The weights as loaded are read back through a version-2 copy of
 * the same file (which has no hash to check). */
static void test_hash_mismatch_refused(void **state)
{
    (void)state;
    char path[512], old[512];
    tu_path(path, sizeof path, "ckpt_hash_bad.bin");
    tu_path(old, sizeof old, "ckpt_hash_bad_v2.bin");
    ht_dataset *ds = make_data();
    ht_config c = small_config(HT_OPT_SGD);
    c.warmup_steps = 5;                 /* a section, so version 2 exists */
    ht_model *m, *target;
    assert_int_equal(ht_model_create(&c, &m), HT_OK);
    assert_int_equal(ht_model_train_epoch(m, ds, NULL, NULL, NULL), HT_OK);
    const uint64_t h = ht_model_hash(m);
    c.seed = 99;
    assert_int_equal(ht_model_create(&c, &target), HT_OK);
    const uint64_t target_hash = ht_model_hash(target);
    const int target_epoch = ht_model_epoch(target);

    for (int what = 0; what < 2; what++) {
        assert_int_equal(ht_model_save(m, path), HT_OK);
        size_t n;
        unsigned char *b = slurp(path, &n);
        const size_t params_at = 16 + le32(b + 12);
        if (what == 0)
            b[params_at + 4 * 7] ^= 0x01;   /* one weight's lowest bit */
        else
            b[CKPT_HASH_AT(c.n_layers)] ^= 0x01;
        put_le32(b + n - 4, ht_crc32(b, n - 4));
        spill(path, b, n);
        free(b);

        /* the CRC holds: the header reads back */
        uint64_t stored = 0;
        unsigned version = 0;
        assert_int_equal(ht_checkpoint_stored_hash(path, &stored, &version),
                         HT_OK);
        assert_int_equal(version, 3);
        assert_true(stored == (what == 0 ? h : h ^ 1));

        /* the weights the file holds, read without the check */
        downgrade(path, old, c.n_layers, 2);
        ht_model *w;
        assert_int_equal(ht_model_load(old, &w), HT_OK);
        const uint64_t got = ht_model_hash(w);
        ht_model_free(w);
        if (what == 0)
            assert_true(got != h);
        else
            assert_true(got == h);
        assert_true(got != stored);

        ht_model *l = NULL;
        assert_int_equal(ht_model_load(path, &l), HT_ERR_CHECKSUM);
        assert_null(l);
        char want[256];
        snprintf(want, sizeof want, "ckpt_hash_bad.bin: weights hash "
                 "mismatch: the checkpoint stores %016llx, its weights as "
                 "loaded hash to %016llx", (unsigned long long)stored,
                 (unsigned long long)got);
        if (strstr(ht_last_error(), want) == NULL)
            fail_msg("case %d: '%s'", what, ht_last_error());

        assert_int_equal(ht_model_load_into(target, path), HT_ERR_CHECKSUM);
        assert_true(ht_model_hash(target) == target_hash);
        assert_int_equal(ht_model_epoch(target), target_epoch);
    }
    ht_model_free(target);
    ht_model_free(m);
    free_data(ds);
    remove(path);
    remove(old);
}

/* Versions 1 and 2 are still read: the same model rewritten in each loads
 * with the same weights and the same state, and reports no stored hash;
 * and the seeds of tests/fuzz/corpus/checkpoint, written by builds before
 * version 3, load: their bytes after the first, which is the fuzz
 * target's switch (odd: it rewrites the CRC, done here likewise). */
static void test_old_versions_load(void **state)
{
    (void)state;
    char path[512], old[512];
    tu_path(path, sizeof path, "ckpt_v3.bin");
    tu_path(old, sizeof old, "ckpt_old.bin");
    ht_dataset *ds = make_data();
    for (uint32_t version = 1; version <= 2; version++) {
        ht_config c = small_config(HT_OPT_ADAMW);
        c.warmup_steps = version == 2 ? 7 : 0;
        ht_model *m;
        assert_int_equal(ht_model_create(&c, &m), HT_OK);
        assert_int_equal(ht_model_train_epoch(m, ds, NULL, NULL, NULL), HT_OK);
        assert_int_equal(ht_model_save(m, path), HT_OK);
        downgrade(path, old, c.n_layers, version);
        assert_int_equal(tu_file_byte(old, 8), (int)version);
        uint64_t stored = 1;
        unsigned v = 0;
        assert_int_equal(ht_checkpoint_stored_hash(old, &stored, &v), HT_OK);
        assert_int_equal(v, version);
        assert_true(stored == 0);
        ht_model *l;
        assert_int_equal(ht_model_load(old, &l), HT_OK);
        assert_true(ht_model_hash(l) == ht_model_hash(m));
        assert_true(ht_model_step(l) == ht_model_step(m));
        assert_true(ht_model_config(l)->warmup_steps == c.warmup_steps);
        ht_model_free(l);
        ht_model_free(m);
    }

    static const struct {
        const char *name;
        unsigned version;
    } seeds[] = {{"sgd", 1}, {"adam_crc_fixed", 1}, {"sgd_standardized", 2},
                 {"sgd_class_names", 2}, {"sgd_warmup", 2}};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char seed[1024];
        snprintf(seed, sizeof seed, "%s/../fuzz/corpus/checkpoint/%s",
                 HT_TEST_DATA_DIR, seeds[i].name);
        size_t n;
        unsigned char *b = slurp(seed, &n);
        if (b[0] & 1)   /* the target's switch: it rewrites the CRC */
            put_le32(b + n - 4, ht_crc32(b + 1, n - 5));
        spill(old, b + 1, n - 1);
        free(b);
        ht_model *l = NULL;
        ht_status s = ht_model_load(old, &l);
        if (s != HT_OK)
            fail_msg("seed %s: %s", seeds[i].name, ht_last_error());
        ht_model_free(l);
        uint64_t stored = 1;
        unsigned v = 0;
        assert_int_equal(ht_checkpoint_stored_hash(old, &stored, &v), HT_OK);
        assert_int_equal(v, seeds[i].version);
        assert_true(stored == 0);
    }
    free_data(ds);
    remove(path);
    remove(old);
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
        cmocka_unit_test(test_hash_stored),
        cmocka_unit_test(test_hash_mismatch_refused),
        cmocka_unit_test(test_old_versions_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
