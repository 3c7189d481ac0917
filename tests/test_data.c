/* Data loading: IDX files of every element type, raw and gzip, good and
 * damaged in every way the loader promises to name; CSV files good and
 * bad with file:line messages, the decimal fast path against strtof; the
 * seeded split and the row gather; the real Fashion-MNIST test set when
 * installed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "dataset_internal.h"
#include "hpctrain.h"
#include "testutil.h"

/* ---------------------------------------------------------------- helpers */

static void assert_msg_has(const char *needle)
{
    if (!strstr(ht_last_error(), needle))
        fail_msg("message '%s' lacks '%s'", ht_last_error(), needle);
}

/* A path under the test directory. A ring of buffers, so a test may hold
 * a few dozen at once (more than any test here uses). */
static const char *tmp(const char *name)
{
    static char buf[64][512];
    static int next;
    char *p = buf[next++ % 64];
    tu_path(p, 512, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t len, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        assert_non_null(g);
        if (len)
            assert_int_equal(gzwrite(g, data, (unsigned)len), (int)len);
        assert_int_equal(gzclose(g), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        if (len)
            assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
    }
}

static void write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text), 0);
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* An IDX file in memory. */
typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_be(buf *b, uint64_t v, size_t bytes)
{
    unsigned char t[8];
    for (size_t i = 0; i < bytes; i++)
        t[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    put(b, t, bytes);
}

/* Header for `type` with ndims sizes. */
static void idx_header(buf *b, unsigned type, unsigned ndims,
                       const uint32_t *dims)
{
    unsigned char h[4] = {0, 0, (unsigned char)type, (unsigned char)ndims};
    put(b, h, 4);
    for (unsigned i = 0; i < ndims; i++)
        put_be(b, dims[i], 4);
}

/* Appends values converted to `type`, big-endian. */
static void idx_values(buf *b, unsigned type, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (type) {
        case 0x08: put_be(b, (uint8_t)v[i], 1); break;
        case 0x09: put_be(b, (uint8_t)(int8_t)v[i], 1); break;
        case 0x0B: put_be(b, (uint16_t)(int16_t)v[i], 2); break;
        case 0x0C: put_be(b, (uint32_t)(int32_t)v[i], 4); break;
        case 0x0D: {
            float f = (float)v[i];
            uint32_t u;
            memcpy(&u, &f, 4);
            put_be(b, u, 4);
            break;
        }
        case 0x0E: {
            uint64_t u;
            memcpy(&u, &v[i], 8);
            put_be(b, u, 8);
            break;
        }
        default: fail();
        }
    }
}

/* Writes a complete IDX file of n*d values. */
static void write_idx(const char *path, int gz, unsigned type, unsigned ndims,
                      const uint32_t *dims, const double *v, size_t count)
{
    buf b = {0};
    idx_header(&b, type, ndims, dims);
    idx_values(&b, type, v, count);
    write_bytes(path, b.p, b.n, gz);
    free(b.p);
}

static void write_labels(const char *path, int gz, const int *lab, size_t n)
{
    double *v = malloc((n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = lab[i];
    uint32_t dim = (uint32_t)n;
    write_idx(path, gz, 0x08, 1, &dim, v, n);
    free(v);
}

static void truncate_to(const char *path, long size)
{
    assert_int_equal(truncate(path, size), 0);
}

/* Expects a failure with status s naming `file`, and *out untouched. */
static void expect_idx_fail(const char *img, const char *lab, ht_status s,
                            const char *file, const char *needle)
{
    ht_dataset *ds = (ht_dataset *)&ds;
    ht_status got = ht_dataset_load_idx(img, lab, &ds);
    if (got != s)
        fail_msg("expected status %d, got %d (%s)", s, got, ht_last_error());
    assert_ptr_equal(ds, (ht_dataset *)&ds);
    assert_msg_has(file);
    if (needle)
        assert_msg_has(needle);
}

/* ------------------------------------------------------------------- IDX */

static const int labels5[5] = {0, 3, 1, 3, 2};

static void test_idx_ubyte(void **state)
{
    (void)state;
    uint32_t dims[3] = {5, 3, 4};
    double v[60];
    for (int i = 0; i < 60; i++)
        v[i] = (i * 37 + 11) % 256;
    v[0] = 0;
    v[1] = 255;
    /* raw, gzip, mixed, and a raw file named .gz: content decides */
    for (int mode = 0; mode < 4; mode++) {
        const char *img = tmp(mode == 3 ? "u_raw_named.gz" : "u_img.idx");
        const char *lab = tmp("u_lab.idx");
        write_idx(img, mode == 1 || mode == 2, 0x08, 3, dims, v, 60);
        write_labels(lab, mode == 1, labels5, 5);
        ht_dataset *ds = NULL;
        assert_int_equal(ht_dataset_load_idx(img, lab, &ds), HT_OK);
        assert_int_equal(ds->n, 5);
        assert_int_equal(ds->d, 12);
        assert_int_equal(ds->n_classes, 4);
        assert_null(ds->target);
        assert_int_equal(ds->n_targets, 0);
        for (int i = 0; i < 60; i++)
            if (!(fabs(ds->x[i] - v[i] / 255.0) <= 6e-8))
                fail_msg("pixel %d: %.9g vs %.9g", i, (double)ds->x[i],
                         v[i] / 255.0);
        assert_true(ds->x[0] == 0.0f && ds->x[1] == 1.0f);
        for (int i = 0; i < 5; i++)
            assert_int_equal(ds->label[i], labels5[i]);
        assert_int_equal((uintptr_t)ds->x % 64, 0);
        ht_dataset_free(ds);
    }
    ht_dataset_free(NULL);
}

static void test_idx_types_and_dims(void **state)
{
    (void)state;
    static const unsigned types[] = {0x09, 0x0B, 0x0C, 0x0D, 0x0E};
    static const double vals[5][6] = {
        {-128, 127, 0, -1, 5, 100},
        {-32768, 32767, -300, 0, 7, 12345},
        {-2147483647.0 - 1, 16777216, -5, 0, 99, 1 << 20},
        {1.5, -0.25, 3.0e38, -1e-30, 0, 7},
        {0.1, -2.5, 1e-300, 123456.789, -3.0e38, 0},
    };
    for (int t = 0; t < 5; t++) {
        for (int gz = 0; gz < 2; gz++) {
            /* 3 items of d = 2 in four layouts: 1-dim has d = 1 */
            uint32_t dims4[4] = {3, 1, 2, 1};
            const char *img = tmp("t_img.idx"), *lab = tmp("t_lab.idx");
            write_idx(img, gz, types[t], 4, dims4, vals[t], 6);
            /* labels as short */
            double lv[3] = {2, 0, 40};
            uint32_t ld = 3;
            write_idx(lab, gz, 0x0B, 1, &ld, lv, 3);
            ht_dataset *ds = NULL;
            if (ht_dataset_load_idx(img, lab, &ds) != HT_OK)
                fail_msg("type 0x%02x: %s", types[t], ht_last_error());
            assert_int_equal(ds->n, 3);
            assert_int_equal(ds->d, 2);
            assert_int_equal(ds->n_classes, 41);
            assert_int_equal(ds->label[2], 40);
            for (int i = 0; i < 6; i++)
                if (ds->x[i] != (float)vals[t][i])
                    fail_msg("type 0x%02x elem %d: %.9g vs %.9g", types[t], i,
                             (double)ds->x[i], vals[t][i]);
            ht_dataset_free(ds);
        }
    }
    /* one dimension: each item is a scalar (d = 1); labels as int */
    uint32_t d1 = 3;
    double v1[3] = {4, 5, 6}, l1[3] = {1, 1, 0};
    write_idx(tmp("t1_img.idx"), 0, 0x0C, 1, &d1, v1, 3);
    write_idx(tmp("t1_lab.idx"), 0, 0x0C, 1, &d1, l1, 3);
    ht_dataset *ds = NULL;
    assert_int_equal(ht_dataset_load_idx(tmp("t1_img.idx"), tmp("t1_lab.idx"),
                                         &ds), HT_OK);
    assert_int_equal(ds->d, 1);
    assert_int_equal(ds->n_classes, 2);
    assert_true(ds->x[2] == 6.0f);
    ht_dataset_free(ds);
}

static void test_idx_nonfinite(void **state)
{
    (void)state;
    uint32_t dims[2] = {3, 2};
    int lab[3] = {0, 1, 0};
    write_labels(tmp("nf_lab.idx"), 0, lab, 3);
    double v[6] = {1, 2, 3, 4, NAN, 6};
    write_idx(tmp("nf_nan.idx"), 1, 0x0D, 2, dims, v, 6);
    expect_idx_fail(tmp("nf_nan.idx"), tmp("nf_lab.idx"), HT_ERR_FORMAT,
                    "nf_nan.idx", "element 4 (image 2, index 0) is NaN");
    v[4] = 0;
    v[3] = -INFINITY;
    write_idx(tmp("nf_inf.idx"), 0, 0x0E, 2, dims, v, 6);
    expect_idx_fail(tmp("nf_inf.idx"), tmp("nf_lab.idx"), HT_ERR_FORMAT,
                    "nf_inf.idx", "element 3 (image 1, index 1) is infinite");
    v[3] = 1e300;
    write_idx(tmp("nf_big.idx"), 0, 0x0E, 2, dims, v, 6);
    expect_idx_fail(tmp("nf_big.idx"), tmp("nf_lab.idx"), HT_ERR_FORMAT,
                    "nf_big.idx", "out of float range");
}

/* Images and labels for the damage tests: 300 images of 28x28. */
#define DN 300
static void write_good_pair(const char *img, const char *lab, int gz)
{
    uint32_t dims[3] = {DN, 28, 28};
    double *v = malloc(DN * 784 * sizeof *v);
    uint64_t s = 99;
    for (size_t i = 0; i < DN * 784; i++)
        v[i] = (double)(tu_rand(&s) % 256);
    write_idx(img, gz, 0x08, 3, dims, v, DN * 784);
    int l[DN];
    for (int i = 0; i < DN; i++)
        l[i] = (int)(tu_rand(&s) % 10);
    write_labels(lab, gz, l, DN);
    free(v);
}

static void test_idx_truncated(void **state)
{
    (void)state;
    const char *img = tmp("tr_img.idx"), *lab = tmp("tr_labels.idx");
    write_good_pair(img, lab, 0);
    truncate_to(lab, 8 + DN - 1);
    expect_idx_fail(img, lab, HT_ERR_FORMAT, "tr_labels.idx",
                    "truncated: expected 300 labels, got 299");
    write_good_pair(img, lab, 0);
    truncate_to(img, 16 + 784 * 10 + 5);
    expect_idx_fail(img, lab, HT_ERR_FORMAT, "tr_img.idx",
                    "truncated: expected 300 images, got 10");
    truncate_to(img, 10); /* inside the dimension list */
    expect_idx_fail(img, lab, HT_ERR_FORMAT, "tr_img.idx", "truncated");
    truncate_to(img, 2); /* inside the magic */
    expect_idx_fail(img, lab, HT_ERR_FORMAT, "tr_img.idx", "truncated");
    truncate_to(img, 0);
    expect_idx_fail(img, lab, HT_ERR_FORMAT, "tr_img.idx", "truncated");

    /* gzip cut anywhere: inside the data, inside the 8-byte trailer,
     * right after the data, inside the gzip header */
    const char *gimg = tmp("tr_img.idx.gz"), *glab = tmp("tr_labels.idx.gz");
    write_good_pair(gimg, glab, 1);
    long gsize = file_size(gimg);
    long cuts[] = {gsize - 1, gsize - 4, gsize - 8, gsize - 9, gsize / 2, 40,
                   12, 5};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        write_good_pair(gimg, glab, 1);
        truncate_to(gimg, cuts[c]);
        ht_dataset *ds = NULL;
        ht_status s = ht_dataset_load_idx(gimg, glab, &ds);
        if (s != HT_ERR_FORMAT)
            fail_msg("image gzip cut at %ld of %ld: status %d (%s)", cuts[c],
                     gsize, s, ht_last_error());
        assert_msg_has("tr_img.idx.gz");
        assert_msg_has("truncated");
    }
    write_good_pair(gimg, glab, 1);
    truncate_to(gimg, gsize / 2);
    expect_idx_fail(gimg, glab, HT_ERR_FORMAT, "tr_img.idx.gz",
                    "truncated gzip stream: expected 300 images, got");
    long lsize = file_size(glab);
    for (long cut = lsize - 1; cut > 10; cut -= 3) {
        write_good_pair(gimg, glab, 1);
        truncate_to(glab, cut);
        expect_idx_fail(gimg, glab, HT_ERR_FORMAT, "tr_labels.idx.gz",
                        "truncated");
    }
}

/* Images alone: the same floats as the labelled loader, no label array;
 * truncation still reported against the file. */
static void test_idx_images_only(void **state)
{
    (void)state;
    const char *img = tmp("io_img.idx.gz"), *lab = tmp("io_lab.idx.gz");
    write_good_pair(img, lab, 1);
    ht_dataset *a = NULL, *b = NULL;
    assert_int_equal(ht_dataset_load_idx(img, lab, &a), HT_OK);
    assert_int_equal(ht_dataset_load_idx_images(img, &b), HT_OK);
    assert_int_equal(b->n, a->n);
    assert_int_equal(b->d, a->d);
    assert_memory_equal(b->x, a->x, a->n * a->d * sizeof(float));
    assert_null(b->label);
    assert_null(b->target);
    assert_int_equal(b->n_classes, 0);
    ht_dataset_free(a);
    ht_dataset_free(b);
    truncate_to(img, file_size(img) / 2);
    b = (ht_dataset *)&b;
    assert_int_equal(ht_dataset_load_idx_images(img, &b), HT_ERR_FORMAT);
    assert_ptr_equal(b, (ht_dataset *)&b);
    assert_msg_has("io_img.idx.gz");
    assert_msg_has("truncated");
    assert_int_equal(ht_dataset_load_idx_images(tmp("io_missing.idx"), &b),
                     HT_ERR_IO);
    assert_msg_has("io_missing.idx");
}

static void test_idx_corrupt_gzip(void **state)
{
    (void)state;
    const char *img = tmp("cg_img.gz"), *lab = tmp("cg_lab.gz");
    write_good_pair(img, lab, 1);
    long n = file_size(img);
    /* Flip bytes in the middle of the deflate stream and in the CRC. */
    long at[] = {n / 2, n - 6};
    for (int k = 0; k < 2; k++) {
        write_good_pair(img, lab, 1);
        FILE *f = fopen(img, "r+b");
        assert_non_null(f);
        fseek(f, at[k], SEEK_SET);
        int c = fgetc(f);
        fseek(f, at[k], SEEK_SET);
        fputc(c ^ 0x5A, f);
        fclose(f);
        expect_idx_fail(img, lab, HT_ERR_FORMAT, "cg_img.gz", NULL);
    }
}

static void test_idx_bad_headers(void **state)
{
    (void)state;
    const char *img = tmp("bh_img.idx"), *lab = tmp("bh_lab.idx");
    write_good_pair(img, lab, 0);
    write_text(tmp("bh_zip.idx"), "PK\3\4 this is a zip file, not IDX");
    expect_idx_fail(tmp("bh_zip.idx"), lab, HT_ERR_FORMAT, "bh_zip.idx",
                    "bad magic 0x504b0304");
    /* unknown element type */
    buf b = {0};
    uint32_t dims[2] = {1, 1};
    idx_header(&b, 0x0A, 2, dims);
    put_be(&b, 0, 4);
    write_bytes(tmp("bh_type.idx"), b.p, b.n, 0);
    b.n = 0;
    expect_idx_fail(tmp("bh_type.idx"), lab, HT_ERR_FORMAT, "bh_type.idx",
                    "unknown IDX element type 0x0a");
    /* zero dimensions */
    idx_header(&b, 0x08, 0, dims);
    write_bytes(tmp("bh_nodim.idx"), b.p, b.n, 0);
    b.n = 0;
    expect_idx_fail(tmp("bh_nodim.idx"), lab, HT_ERR_FORMAT, "bh_nodim.idx",
                    "zero dimensions");
    /* zero items, and a zero-sized inner dimension */
    uint32_t z[3] = {0, 28, 28};
    idx_header(&b, 0x08, 3, z);
    write_bytes(tmp("bh_empty.idx"), b.p, b.n, 0);
    b.n = 0;
    expect_idx_fail(tmp("bh_empty.idx"), lab, HT_ERR_FORMAT, "bh_empty.idx",
                    "zero images");
    uint32_t z2[3] = {DN, 28, 0};
    idx_header(&b, 0x08, 3, z2);
    write_bytes(tmp("bh_zdim.idx"), b.p, b.n, 0);
    b.n = 0;
    expect_idx_fail(tmp("bh_zdim.idx"), lab, HT_ERR_FORMAT, "bh_zdim.idx",
                    "dimension 2 is zero");
    free(b.p);
    /* arguments swapped: the image file given as labels */
    expect_idx_fail(lab, img, HT_ERR_FORMAT, "bh_img.idx", "swapped");
    /* float labels */
    double lv[DN] = {0};
    uint32_t ld = DN;
    write_idx(tmp("bh_flab.idx"), 0, 0x0D, 1, &ld, lv, DN);
    expect_idx_fail(img, tmp("bh_flab.idx"), HT_ERR_FORMAT, "bh_flab.idx",
                    "integer");
    /* a negative label */
    lv[7] = -3;
    write_idx(tmp("bh_nlab.idx"), 0, 0x09, 1, &ld, lv, DN);
    expect_idx_fail(img, tmp("bh_nlab.idx"), HT_ERR_FORMAT, "bh_nlab.idx",
                    "label 7 is -3");
    /* trailing bytes after the data: the sizes are wrong */
    FILE *f = fopen(img, "ab");
    fputc(0, f);
    fclose(f);
    expect_idx_fail(img, lab, HT_ERR_FORMAT, "bh_img.idx", "trailing data");
}

static void test_idx_count_mismatch(void **state)
{
    (void)state;
    const char *img = tmp("cm_img.idx"), *lab = tmp("cm_lab.idx");
    write_good_pair(img, lab, 0);
    int l[DN - 1] = {0};
    write_labels(lab, 1, l, DN - 1);
    expect_idx_fail(img, lab, HT_ERR_SHAPE, "cm_img.idx has 300 images",
                    "cm_lab.idx has 299 labels");
}

static void test_idx_missing(void **state)
{
    (void)state;
    const char *img = tmp("mi_img.idx"), *lab = tmp("mi_lab.idx");
    write_good_pair(img, lab, 0);
    unlink(tmp("mi_none.idx"));
    expect_idx_fail(tmp("mi_none.idx"), lab, HT_ERR_IO, "mi_none.idx",
                    "No such file");
    expect_idx_fail(img, tmp("mi_none.idx"), HT_ERR_IO, "mi_none.idx",
                    "label file");
    expect_idx_fail(HT_TEST_TMPDIR, lab, HT_ERR_IO, HT_TEST_TMPDIR,
                    "directory");
    ht_dataset *ds;
    assert_int_equal(ht_dataset_load_idx(NULL, lab, &ds), HT_ERR_ARG);
}

/* Headers that promise absurd sizes are refused before any allocation
 * (under ASan a multi-terabyte malloc would abort the test). */
static void test_idx_absurd_header(void **state)
{
    (void)state;
    const char *lab = tmp("ab_lab.idx");
    int l[2] = {0, 1};
    write_labels(lab, 0, l, 2);
    uint32_t over[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    for (int gz = 0; gz < 2; gz++) {
        buf b = {0};
        idx_header(&b, 0x0E, 4, over);
        put_be(&b, 0, 8);
        write_bytes(tmp("ab_over.idx"), b.p, b.n, gz);
        expect_idx_fail(tmp("ab_over.idx"), lab, HT_ERR_FORMAT, "ab_over.idx",
                        "overflow");
        b.n = 0;
        uint32_t huge[3] = {0x7FFFFFFFu, 1000, 1000};
        idx_header(&b, 0x08, 3, huge);
        put_be(&b, 0, 8);
        write_bytes(tmp("ab_huge.idx"), b.p, b.n, gz);
        expect_idx_fail(tmp("ab_huge.idx"), lab, HT_ERR_FORMAT, "ab_huge.idx",
                        "truncated");
        free(b.p);
    }
    /* a label file promising 4 billion labels */
    buf b = {0};
    uint32_t nl = 0xFFFFFFF0u;
    idx_header(&b, 0x08, 1, &nl);
    put_be(&b, 0, 2);
    write_bytes(tmp("ab_lab2.idx"), b.p, b.n, 1);
    uint32_t id[2] = {0xFFFFFFF0u, 1};
    b.n = 0;
    idx_header(&b, 0x08, 2, id);
    put_be(&b, 0, 2);
    write_bytes(tmp("ab_img2.idx"), b.p, b.n, 1);
    expect_idx_fail(tmp("ab_img2.idx"), tmp("ab_lab2.idx"), HT_ERR_FORMAT,
                    "ab_img2.idx", "truncated");
    free(b.p);
}

#define FMNIST "/usr/share/datasets/fashion-mnist/"

static void test_idx_fashion_mnist(void **state)
{
    (void)state;
    const char *img = FMNIST "t10k-images-idx3-ubyte.gz";
    const char *lab = FMNIST "t10k-labels-idx1-ubyte.gz";
    if (access(img, R_OK) != 0 || access(lab, R_OK) != 0)
        skip();
    ht_dataset *ds = NULL;
    if (ht_dataset_load_idx(img, lab, &ds) != HT_OK)
        fail_msg("%s", ht_last_error());
    assert_int_equal(ds->n, 10000);
    assert_int_equal(ds->d, 784);
    assert_int_equal(ds->n_classes, 10);
    size_t per_class[10] = {0};
    for (size_t i = 0; i < ds->n; i++) {
        assert_in_range(ds->label[i], 0, 9);
        per_class[ds->label[i]]++;
    }
    for (int c = 0; c < 10; c++)
        assert_int_equal(per_class[c], 1000); /* the test set is balanced */
    float lo = 1, hi = 0;
    double sum = 0;
    for (size_t i = 0; i < ds->n * ds->d; i++) {
        float v = ds->x[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
        /* every pixel is k/255 for an integer k */
        double k = v * 255.0;
        if (!(fabs(k - floor(k + 0.5)) < 1e-4))
            fail_msg("pixel %zu = %.9g is not k/255", i, (double)v);
    }
    assert_true(lo == 0.0f && hi == 1.0f);
    /* Fashion-MNIST's mean pixel is about 0.286 */
    double mean = sum / (double)(ds->n * ds->d);
    assert_true(mean > 0.27 && mean < 0.30);
    ht_dataset_free(ds);
}

/* ------------------------------------------------------------------- CSV */

static void expect_csv_fail(const char *text, ht_target_kind kind,
                            ht_status s, const char *needle)
{
    const char *path = tmp("bad.csv");
    write_text(path, text);
    ht_dataset *ds = (ht_dataset *)&ds;
    ht_status got = ht_dataset_load_csv(path, kind, &ds);
    if (got != s)
        fail_msg("csv '%s': expected status %d, got %d (%s)", text, s, got,
                 ht_last_error());
    assert_ptr_equal(ds, (ht_dataset *)&ds);
    assert_msg_has("bad.csv");
    if (!strstr(ht_last_error(), needle))
        fail_msg("csv '%s': message '%s' lacks '%s'", text, ht_last_error(),
                 needle);
}

static void test_csv_good(void **state)
{
    (void)state;
    const char *path = tmp("good.csv");
    write_text(path, "\xEF\xBB\xBFlabel, a ,b,c\r\n\r\n1, 0.5 ,2,3\r\n  \n"
                     "0,-1.25,1e3,4\n\n\t2\t,0,.5,-0\n\n");
    ht_dataset *ds = NULL;
    if (ht_dataset_load_csv(path, HT_TARGET_CLASS, &ds) != HT_OK)
        fail_msg("%s", ht_last_error());
    assert_int_equal(ds->n, 3);
    assert_int_equal(ds->d, 3);
    assert_int_equal(ds->n_classes, 3);
    assert_null(ds->target);
    static const float want[9] = {0.5f, 2, 3, -1.25f, 1000, 4, 0, 0.5f, -0.0f};
    static const int32_t wl[3] = {1, 0, 2};
    assert_memory_equal(ds->x, want, sizeof want);
    assert_memory_equal(ds->label, wl, sizeof wl);
    ht_dataset_free(ds);

    /* no header, no final newline; labels "3.0" and "2e0" are integers */
    write_text(path, "3.0,1,2\n0,4,5\n2e0,6,7");
    assert_int_equal(ht_dataset_load_csv(path, HT_TARGET_CLASS, &ds), HT_OK);
    assert_int_equal(ds->n, 3);
    assert_int_equal(ds->n_classes, 4);
    assert_int_equal(ds->label[0], 3);
    assert_int_equal(ds->label[2], 2);
    assert_true(ds->x[5] == 7.0f);
    ht_dataset_free(ds);

    /* regression: the first column is a numeric target */
    write_text(path, "y,x1,x2\n-1.5,1,2\n2.5e2,3,4\n");
    assert_int_equal(ht_dataset_load_csv(path, HT_TARGET_REGRESSION, &ds),
                     HT_OK);
    assert_int_equal(ds->n, 2);
    assert_int_equal(ds->d, 2);
    assert_null(ds->label);
    assert_int_equal(ds->n_classes, 0);
    assert_int_equal(ds->n_targets, 1);
    assert_true(ds->target[0] == -1.5f && ds->target[1] == 250.0f);
    ht_dataset_free(ds);
}

/* Inputs only (HT_TARGET_NONE): every column is a feature, a label-looking
 * first column included; one column is enough; errors as for labelled
 * files, with field numbers counted from 1 over all columns. */
static void test_csv_features_only(void **state)
{
    (void)state;
    const char *path = tmp("feat.csv");
    write_text(path, "a,b,c\n1, 0.5 ,2\n\n-3,1e3,-0\n");
    ht_dataset *ds = NULL;
    if (ht_dataset_load_csv(path, HT_TARGET_NONE, &ds) != HT_OK)
        fail_msg("%s", ht_last_error());
    assert_int_equal(ds->n, 2);
    assert_int_equal(ds->d, 3);
    assert_null(ds->label);
    assert_null(ds->target);
    assert_int_equal(ds->n_classes, 0);
    assert_int_equal(ds->n_targets, 0);
    static const float want[6] = {1, 0.5f, 2, -3, 1000, -0.0f};
    assert_memory_equal(ds->x, want, sizeof want);
    ht_dataset_free(ds);

    write_text(path, "7\n-2.5\n");
    assert_int_equal(ht_dataset_load_csv(path, HT_TARGET_NONE, &ds), HT_OK);
    assert_int_equal(ds->n, 2);
    assert_int_equal(ds->d, 1);
    assert_true(ds->x[0] == 7.0f && ds->x[1] == -2.5f);
    ht_dataset_free(ds);

    expect_csv_fail("1,2\n3,x\n", HT_TARGET_NONE, HT_ERR_FORMAT,
                    "bad.csv:2: field 2");
    expect_csv_fail("1,2\n3\n", HT_TARGET_NONE, HT_ERR_FORMAT,
                    "1 field, expected 2");
    expect_csv_fail("1,nan\n", HT_TARGET_NONE, HT_ERR_FORMAT, "bad.csv:1");
    ds = (ht_dataset *)&ds;
    assert_int_equal(ht_dataset_load_csv(path, (ht_target_kind)3, &ds),
                     HT_ERR_ARG);
    assert_ptr_equal(ds, (ht_dataset *)&ds);
}

/* Reads a whole file into a new buffer (the caller frees). */
static unsigned char *slurp(const char *path, size_t *len)
{
    long n = file_size(path);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *p = malloc((size_t)n + 1);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* gzip CSV (by content, whatever the name): the same set as the raw file,
 * also when gzip members are concatenated (large enough that the output
 * buffer grows); a cut, a damaged byte, trailing junk and gzipped binary
 * are format errors naming the file; nothing is returned on failure. */
static void test_csv_gzip(void **state)
{
    (void)state;
    size_t cap = 1 << 20, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, "label,a,b\n");
    for (int i = 0; len + 64 < cap / 2; i++)
        len += (size_t)snprintf(text + len, cap - len, "%d,%d.25,%d\n", i % 7,
                                i, -3 * i);
    const size_t half = len;
    for (int i = 0; len + 64 < cap; i++) /* a second member's rows */
        len += (size_t)snprintf(text + len, cap - len, "%d,0.5,%d\n", i % 3, i);
    const char *raw = tmp("gz_raw.csv"), *gz = tmp("gz_data.bin");
    write_bytes(raw, text, len, 0);
    write_bytes(gz, text, half, 1);
    /* append the second member */
    const char *gz2 = tmp("gz_member2.gz");
    write_bytes(gz2, text + half, len - half, 1);
    size_t n1, n2;
    unsigned char *m1 = slurp(gz, &n1), *m2 = slurp(gz2, &n2);
    unsigned char *both = malloc(n1 + n2);
    memcpy(both, m1, n1);
    memcpy(both + n1, m2, n2);
    write_bytes(gz, both, n1 + n2, 0);
    ht_dataset *a = NULL, *b = NULL;
    assert_int_equal(ht_dataset_load_csv(raw, HT_TARGET_CLASS, &a), HT_OK);
    if (ht_dataset_load_csv(gz, HT_TARGET_CLASS, &b) != HT_OK)
        fail_msg("%s", ht_last_error());
    assert_true(a->n > 20000 && b->n == a->n && b->d == a->d);
    assert_memory_equal(a->x, b->x, a->n * a->d * sizeof(float));
    assert_memory_equal(a->label, b->label, a->n * sizeof(int32_t));
    ht_dataset_free(a);
    ht_dataset_free(b);

    const size_t n = n1 + n2;
    const size_t cuts[] = {n - 1, n - 4, n - 9, n1 + 5, n1, n1 / 2, 11, 3};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        write_bytes(gz, both, cuts[c], 0);
        b = (ht_dataset *)&b;
        ht_status s = ht_dataset_load_csv(gz, HT_TARGET_CLASS, &b);
        if (c == 4) {
            /* the first member alone is a whole gzip file */
            assert_int_equal(s, HT_OK);
            ht_dataset_free(b);
            continue;
        }
        if (s != HT_ERR_FORMAT)
            fail_msg("cut at %zu of %zu: status %d (%s)", cuts[c], n, s,
                     ht_last_error());
        assert_ptr_equal(b, (ht_dataset *)&b);
        assert_msg_has("gz_data.bin");
        assert_msg_has("truncated");
    }
    unsigned char *bad = malloc(n + 3);
    memcpy(bad, both, n);
    bad[n1 / 2] ^= 0x55;
    write_bytes(gz, bad, n, 0);
    b = (ht_dataset *)&b;
    assert_int_equal(ht_dataset_load_csv(gz, HT_TARGET_CLASS, &b), HT_ERR_FORMAT);
    assert_ptr_equal(b, (ht_dataset *)&b);
    assert_msg_has("gz_data.bin");
    bad[n1 / 2] ^= 0x55;
    memcpy(bad + n, "xyz", 3);
    write_bytes(gz, bad, n + 3, 0);
    assert_int_equal(ht_dataset_load_csv(gz, HT_TARGET_CLASS, &b), HT_ERR_FORMAT);
    assert_msg_has("3 bytes of trailing data after the gzip stream");
    const unsigned char bin[6] = {'1', ',', 0, '2', '\n', 0};
    write_bytes(gz, bin, sizeof bin, 1);
    assert_int_equal(ht_dataset_load_csv(gz, HT_TARGET_CLASS, &b), HT_ERR_FORMAT);
    assert_msg_has("NUL bytes");
    free(bad);
    free(both);
    free(m1);
    free(m2);
    free(text);
}

/* ht_dataset_load_inputs tells IDX images from a features CSV by content,
 * raw or gzip, whatever the file is called. */
static void test_load_inputs(void **state)
{
    (void)state;
    const char *img = tmp("in_img.csv"), *lab = tmp("in_lab.idx");
    for (int gz = 0; gz < 2; gz++) {
        write_good_pair(img, lab, gz);
        ht_dataset *a = NULL, *b = NULL;
        assert_int_equal(ht_dataset_load_idx(img, lab, &a), HT_OK);
        assert_int_equal(ht_dataset_load_inputs(img, &b), HT_OK);
        assert_int_equal(b->d, 784);
        assert_null(b->label);
        assert_memory_equal(a->x, b->x, a->n * a->d * sizeof(float));
        ht_dataset_free(a);
        ht_dataset_free(b);
        const char *csv = tmp("in_feat.idx");
        write_bytes(csv, "x,y\n1,2\n3,4\n", 12, gz);
        assert_int_equal(ht_dataset_load_inputs(csv, &b), HT_OK);
        assert_int_equal(b->n, 2);
        assert_int_equal(b->d, 2);
        assert_null(b->label);
        assert_true(b->x[3] == 4.0f);
        ht_dataset_free(b);
    }
    ht_dataset *b = (ht_dataset *)&b;
    assert_int_equal(ht_dataset_load_inputs(tmp("in_none"), &b), HT_ERR_IO);
    assert_ptr_equal(b, (ht_dataset *)&b);
}

/* Named classes: as soon as one label is not a number, every label is a
 * name; classes are the distinct names in byte order; a first line is a
 * header only if its features are not numbers; split keeps the names and
 * ht_dataset_use_classes renumbers to another list or refuses. */
static void test_csv_names(void **state)
{
    (void)state;
    const char *path = tmp("names.csv");
    write_text(path, "setosa, 5.1,3.5\n virginica ,6.3,3.3\n\nversicolor,7,3.2\n"
                     "setosa,4.9,3\nIris 10,1,1\nI,2,2\n");
    ht_dataset *ds = NULL;
    if (ht_dataset_load_csv(path, HT_TARGET_CLASS, &ds) != HT_OK)
        fail_msg("%s", ht_last_error());
    assert_int_equal(ds->n, 6);   /* the first line is data, not a header */
    assert_int_equal(ds->d, 2);
    assert_int_equal(ds->n_classes, 5);
    static const char *const want[5] = {"I", "Iris 10", "setosa",
                                        "versicolor", "virginica"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(ds->class_names[i], want[i]);
    static const int32_t wl[6] = {2, 4, 3, 2, 1, 0};
    assert_memory_equal(ds->label, wl, sizeof wl);
    assert_true(ds->x[0] == 5.1f && ds->x[11] == 2.0f);

    /* a split keeps the names; renumbering to a longer list in another
     * order moves every label with its name */
    ht_dataset *tr, *va;
    assert_int_equal(ht_dataset_split(ds, 0.5, 3, &tr, &va), HT_OK);
    assert_non_null(va->class_names);
    assert_string_equal(va->class_names[4], "virginica");
    ht_dataset_free(va);
    static const char *const other[6] = {"virginica", "x", "setosa",
                                         "Iris 10", "versicolor", "I"};
    ht_dataset *copy;
    assert_int_equal(ht_dataset_split(ds, 0.5, 3, &copy, &va), HT_OK);
    ht_dataset_free(va);
    assert_int_equal(ht_dataset_use_classes(copy, other, 6), HT_OK);
    assert_int_equal(copy->n_classes, 6);
    for (size_t r = 0; r < copy->n; r++)
        assert_string_equal(other[copy->label[r]],
                            tr->class_names[tr->label[r]]);
    /* a list missing a class, or with a duplicate: refused, unchanged */
    const int32_t l0 = copy->label[0];
    assert_int_equal(ht_dataset_use_classes(copy, other + 1, 5), HT_ERR_SHAPE);
    assert_msg_has("'virginica' is not among the 5 classes");
    static const char *const dup[3] = {"a", "b", "a"};
    assert_int_equal(ht_dataset_use_classes(copy, dup, 3), HT_ERR_SHAPE);
    assert_int_equal(copy->label[0], l0);
    assert_int_equal(copy->n_classes, 6);
    ht_dataset_free(copy);
    ht_dataset_free(tr);
    ht_dataset_free(ds);

    /* header detection: features that are not numbers make a header */
    write_text(path, "species,a,b\ncat,1,2\ndog,3,4\n");
    assert_int_equal(ht_dataset_load_csv(path, HT_TARGET_CLASS, &ds), HT_OK);
    assert_int_equal(ds->n, 2);
    assert_string_equal(ds->class_names[1], "dog");
    ht_dataset_free(ds);
    /* numbered classes as before: "label,1,2" is still a header */
    write_text(path, "label,1,2\n0,1,2\n1,3,4\n");
    assert_int_equal(ht_dataset_load_csv(path, HT_TARGET_CLASS, &ds), HT_OK);
    assert_int_equal(ds->n, 2);
    assert_null(ds->class_names);
    assert_int_equal(ht_dataset_use_classes(ds, other, 6), HT_ERR_SHAPE);
    assert_msg_has("numbered");
    ht_dataset_free(ds);

    expect_csv_fail("a,1\n ,2\n", HT_TARGET_CLASS, HT_ERR_FORMAT,
                    "bad.csv:2: field 1: the class name is empty");
    char longname[400];
    memset(longname, 'n', 256);
    strcpy(longname + 256, ",1\nb,2\n");
    expect_csv_fail(longname, HT_TARGET_CLASS, HT_ERR_FORMAT,
                    "bad.csv:1: field 1: a class name of 256 bytes");
    expect_csv_fail("a,1\nb,x\n", HT_TARGET_CLASS, HT_ERR_FORMAT,
                    "bad.csv:2: field 2: 'x' is not a number");
    /* a typo in a column of class numbers is not a new class */
    expect_csv_fail("label,a\n0,1\n1,2\n\n 7 ,3\nseven,4\n2,5\n",
                    HT_TARGET_CLASS, HT_ERR_FORMAT,
                    "bad.csv:2: label '0' is a number, but line 6's label "
                    "'seven' is a name");
}

static void test_csv_errors(void **state)
{
    (void)state;
    const ht_target_kind C = HT_TARGET_CLASS, R = HT_TARGET_REGRESSION;
    expect_csv_fail("1,2,3\n4,abc,6\n", C, HT_ERR_FORMAT,
                    "bad.csv:2: field 2: 'abc' is not a number");
    expect_csv_fail("a,b,c,d\n1,2,3,4\n1,2,3\n", C, HT_ERR_FORMAT,
                    "bad.csv:3: 3 fields, expected 4 (as on line 2)");
    expect_csv_fail("1,2\n\n1,2,3\n", C, HT_ERR_FORMAT,
                    "bad.csv:3: 3 fields, expected 2 (as on line 1)");
    expect_csv_fail("1,2,3\n1,2,3,\n", C, HT_ERR_FORMAT,
                    "bad.csv:2: 4 fields, expected 3");
    expect_csv_fail("1,2,3\n1,nan,3\n", C, HT_ERR_FORMAT,
                    "bad.csv:2: field 2: 'nan' is not a finite number");
    expect_csv_fail("1,2,3\n1,2,-inf\n", R, HT_ERR_FORMAT,
                    "bad.csv:2: field 3: '-inf' is not a finite");
    expect_csv_fail("1,2,3\n1,1e39,3\n", C, HT_ERR_FORMAT,
                    "bad.csv:2: field 2: '1e39' is not a finite");
    expect_csv_fail("1,2,3\nInfinity,2,3\n", R, HT_ERR_FORMAT,
                    "bad.csv:2: field 1: 'Infinity' is not a finite");
    expect_csv_fail("", C, HT_ERR_FORMAT, "empty file");
    expect_csv_fail("\n  \r\n\n", C, HT_ERR_FORMAT, "no data rows");
    expect_csv_fail("label,x\n\n", C, HT_ERR_FORMAT, "no data rows");
    expect_csv_fail("1.5,2,3\n", C, HT_ERR_FORMAT,
                    "bad.csv:1: label '1.5' is not an integer");
    expect_csv_fail("0,1\n-1,2,\n", C, HT_ERR_FORMAT, "bad.csv:2: label '-1' "
                    "is negative");
    expect_csv_fail("0,1\n3000000000,2\n", C, HT_ERR_FORMAT,
                    "bad.csv:2: label '3000000000' is too large");
    expect_csv_fail("1,2\nx,3\n", R, HT_ERR_FORMAT,
                    "bad.csv:2: field 1: 'x' is not a number");
    expect_csv_fail("1,2,3\n1,,3\n", C, HT_ERR_FORMAT,
                    "bad.csv:2: field 2 is empty");
    expect_csv_fail("1,2,3\n1,2,\n", C, HT_ERR_FORMAT,
                    "bad.csv:2: field 3 is empty");
    expect_csv_fail("1,2,3\n1,2 3,4\n", C, HT_ERR_FORMAT,
                    "bad.csv:2: field 2: '2 3' is not a number");
    expect_csv_fail("1,2,3\n1,0x,4\n", C, HT_ERR_FORMAT,
                    "bad.csv:2: field 2: '0x' is not a number");
    expect_csv_fail("a,b\r\n\r\n1,2\r\n\r\n1,x\r\n", C, HT_ERR_FORMAT,
                    "bad.csv:5: field 2: 'x' is not a number");
    expect_csv_fail("1\n2\n", C, HT_ERR_FORMAT, "bad.csv:1: 1 field");
    static const char nul[] = "1,2\n1,2\0,3\n";
    write_bytes(tmp("nul.csv"), nul, sizeof nul - 1, 0);
    ht_dataset *dn = NULL;
    assert_int_equal(ht_dataset_load_csv(tmp("nul.csv"), C, &dn),
                     HT_ERR_FORMAT);
    assert_msg_has("nul.csv: contains NUL");
    /* the label column is a number for regression, so negatives are fine */
    const char *path = tmp("neg.csv");
    write_text(path, "-1,2\n-7.5,3\n");
    ht_dataset *ds = NULL;
    assert_int_equal(ht_dataset_load_csv(path, R, &ds), HT_OK);
    ht_dataset_free(ds);
    unlink(tmp("nonexistent.csv"));
    assert_int_equal(ht_dataset_load_csv(tmp("nonexistent.csv"), C, &ds),
                     HT_ERR_IO);
    assert_msg_has("nonexistent.csv");
    assert_int_equal(ht_dataset_load_csv(path, (ht_target_kind)7, &ds),
                     HT_ERR_ARG);
}

/* The decimal fast path must give strtof's bits for every form. */
static void test_csv_matches_strtof(void **state)
{
    (void)state;
    const size_t rows = 1000 / HT_TEST_SCALE + 10, cols = 12;
    size_t cap = rows * cols * 40 + 64;
    char *text = malloc(cap), *p = text;
    char (*strs)[40] = malloc(rows * cols * sizeof *strs);
    assert_non_null(text);
    assert_non_null(strs);
    uint64_t s = 2024;
    for (size_t r = 0; r < rows; r++) {
        p += sprintf(p, "%zu", r % 10);
        for (size_t c = 0; c < cols; c++) {
            char *f = strs[r * cols + c];
            uint64_t u = tu_rand(&s);
            unsigned kind = (unsigned)(u % 8);
            uint64_t mant = (u >> 8) % (kind < 4 ? 40000000u : 100000u);
            int places = (int)((u >> 40) % 13);
            const char *sign = (u >> 50) & 1 ? "-" : "";
            switch (kind) {
            case 0: sprintf(f, "%s%llu", sign, (unsigned long long)mant); break;
            case 1: case 2: case 3: {
                /* m with `places` decimals, maybe beyond 2^24 digits */
                char digits[32];
                int nd = sprintf(digits, "%0*llu", places + 1,
                                 (unsigned long long)mant);
                sprintf(f, "%s%.*s.%s", sign, nd - places, digits,
                        digits + nd - places);
                break;
            }
            case 4: sprintf(f, "%s%llue%d", sign, (unsigned long long)mant,
                            (int)((u >> 44) % 40) - 20); break;
            case 5: sprintf(f, "%s.%llu", sign, (unsigned long long)mant); break;
            case 6: sprintf(f, "%s%llu.", sign, (unsigned long long)mant); break;
            default: sprintf(f, "%.9g", (double)(u >> 11) * 1e-10); break;
            }
            p += sprintf(p, ",%s", f);
        }
        p += sprintf(p, "\n");
    }
    const char *path = tmp("strtof.csv");
    write_bytes(path, text, (size_t)(p - text), 0);
    ht_dataset *ds = NULL;
    if (ht_dataset_load_csv(path, HT_TARGET_CLASS, &ds) != HT_OK)
        fail_msg("%s", ht_last_error());
    assert_int_equal(ds->n, rows);
    assert_int_equal(ds->d, cols);
    for (size_t i = 0; i < rows * cols; i++) {
        float want = strtof(strs[i], NULL);
        if (memcmp(&want, &ds->x[i], sizeof want) != 0)
            fail_msg("'%s': got %.9g, strtof %.9g", strs[i], (double)ds->x[i],
                     (double)want);
    }
    ht_dataset_free(ds);
    free(strs);
    free(text);
}

/* --------------------------------------------------------- split, gather */

static ht_dataset *make_set(size_t n, size_t d, int regression)
{
    ht_dataset *ds = NULL;
    assert_int_equal(ht_dataset_alloc(n, d, regression ? 2 : 0, "test", &ds),
                     HT_OK);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < d; k++)
            ds->x[i * d + k] = (float)(i * 10 + k);
        if (regression) {
            ds->target[2 * i] = (float)i;
            ds->target[2 * i + 1] = -(float)i;
        } else {
            ds->label[i] = (int32_t)(i % 7);
        }
    }
    ds->n_classes = regression ? 0 : 7;
    return ds;
}

/* Row index encoded in x[row*d]. */
static size_t row_id(const ht_dataset *ds, size_t r)
{
    return (size_t)ds->x[r * ds->d] / 10;
}

static void test_split(void **state)
{
    (void)state;
    const size_t n = 101, d = 3;
    ht_dataset *src = make_set(n, d, 0);
    float *xcopy = malloc(n * d * sizeof *xcopy);
    memcpy(xcopy, src->x, n * d * sizeof *xcopy);
    ht_dataset *tr = NULL, *va = NULL;
    assert_int_equal(ht_dataset_split(src, 0.2, 42, &tr, &va), HT_OK);
    assert_int_equal(va->n, 20); /* round(20.2) */
    assert_int_equal(tr->n, 81);
    assert_int_equal(tr->d, d);
    assert_int_equal(tr->n_classes, 7);
    assert_int_equal(va->n_classes, 7);
    assert_memory_equal(src->x, xcopy, n * d * sizeof *xcopy);
    size_t perm[101];
    ht_permutation(perm, n, 42);
    int seen[101] = {0};
    for (size_t i = 0; i < n; i++) {
        const ht_dataset *part = i < 81 ? tr : va;
        size_t r = i < 81 ? i : i - 81;
        size_t id = row_id(part, r);
        assert_int_equal(id, perm[i]);
        seen[id]++;
        for (size_t k = 0; k < d; k++)
            assert_true(part->x[r * d + k] == (float)(id * 10 + k));
        assert_int_equal(part->label[r], (int32_t)(id % 7));
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(seen[i], 1);
    /* same seed: same split; other seed: another order */
    ht_dataset *tr2, *va2;
    assert_int_equal(ht_dataset_split(src, 0.2, 42, &tr2, &va2), HT_OK);
    assert_memory_equal(tr->x, tr2->x, tr->n * d * sizeof(float));
    assert_memory_equal(va->label, va2->label, va->n * sizeof(int32_t));
    ht_dataset_free(tr2);
    ht_dataset_free(va2);
    assert_int_equal(ht_dataset_split(src, 0.2, 43, &tr2, &va2), HT_OK);
    assert_memory_not_equal(tr->x, tr2->x, tr->n * d * sizeof(float));
    ht_dataset_free(tr2);
    ht_dataset_free(va2);
    ht_dataset_free(tr);
    ht_dataset_free(va);

    /* bad fractions leave the outputs alone */
    const double bad[] = {0.0, 1.0, -0.1, 1.5, NAN, 0.001, 0.999};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tr = va = (ht_dataset *)&tr;
        assert_int_equal(ht_dataset_split(src, bad[i], 1, &tr, &va),
                         HT_ERR_ARG);
        assert_ptr_equal(tr, (ht_dataset *)&tr);
        assert_ptr_equal(va, (ht_dataset *)&tr);
    }
    assert_int_equal(ht_dataset_split(src, 0.001, 1, &tr, &va), HT_ERR_ARG);
    assert_msg_has("validation set empty");
    assert_int_equal(ht_dataset_split(src, 0.999, 1, &tr, &va), HT_ERR_ARG);
    assert_msg_has("training set empty");
    free(xcopy);
    ht_dataset_free(src);

    /* tiny: 3 rows at 0.5 -> round(1.5) = 2 validation rows */
    src = make_set(3, 1, 1);
    assert_int_equal(ht_dataset_split(src, 0.5, 9, &tr, &va), HT_OK);
    assert_int_equal(tr->n, 1);
    assert_int_equal(va->n, 2);
    assert_null(va->label);
    assert_int_equal(va->n_targets, 2);
    for (size_t r = 0; r < 2; r++) {
        size_t id = row_id(va, r);
        assert_true(va->target[2 * r] == (float)id);
        assert_true(va->target[2 * r + 1] == -(float)id);
    }
    ht_dataset_free(tr);
    ht_dataset_free(va);
    ht_dataset_free(src);
}

/* Each of the 24 orders of 4 elements is about equally likely. */
static void test_permutation_uniform(void **state)
{
    (void)state;
    const int trials = 48000 / HT_TEST_SCALE;
    int count[256] = {0};
    for (int t = 0; t < trials; t++) {
        size_t p[4];
        ht_permutation(p, 4, (uint64_t)t * 7919u + 1);
        count[p[0] * 64 + p[1] * 16 + p[2] * 4 + p[3]]++;
    }
    double expect = trials / 24.0, chi2 = 0;
    int distinct = 0;
    for (int i = 0; i < 256; i++)
        if (count[i]) {
            distinct++;
            chi2 += (count[i] - expect) * (count[i] - expect) / expect;
        }
    assert_int_equal(distinct, 24);
    /* 23 degrees of freedom: P(chi2 > 60) < 1e-4 */
    if (!(chi2 < 60))
        fail_msg("chi2 = %g over 24 orders", chi2);
    size_t one = 99;
    ht_permutation(&one, 1, 5);
    assert_int_equal(one, 0);
}

static void test_gather(void **state)
{
    (void)state;
    ht_dataset *ds = make_set(10, 4, 0);
    size_t idx[4] = {5, 0, 5, 9};
    float x[16];
    int32_t lab[4];
    ht_dataset_gather(ds, idx, 4, x, lab, NULL);
    for (size_t i = 0; i < 4; i++) {
        assert_memory_equal(x + 4 * i, ds->x + 4 * idx[i], 4 * sizeof(float));
        assert_int_equal(lab[i], ds->label[idx[i]]);
    }
    ht_dataset_gather(ds, idx, 2, x, NULL, NULL);
    ht_dataset_free(ds);
    ds = make_set(10, 4, 1);
    float tg[8];
    ht_dataset_gather(ds, idx, 4, x, lab, tg);
    for (size_t i = 0; i < 4; i++)
        assert_true(tg[2 * i] == (float)idx[i] && tg[2 * i + 1] == -(float)idx[i]);
    ht_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_ubyte),
        cmocka_unit_test(test_idx_types_and_dims),
        cmocka_unit_test(test_idx_nonfinite),
        cmocka_unit_test(test_idx_truncated),
        cmocka_unit_test(test_idx_images_only),
        cmocka_unit_test(test_idx_corrupt_gzip),
        cmocka_unit_test(test_idx_bad_headers),
        cmocka_unit_test(test_idx_count_mismatch),
        cmocka_unit_test(test_idx_missing),
        cmocka_unit_test(test_idx_absurd_header),
        cmocka_unit_test(test_idx_fashion_mnist),
        cmocka_unit_test(test_csv_good),
        cmocka_unit_test(test_csv_features_only),
        cmocka_unit_test(test_csv_gzip),
        cmocka_unit_test(test_load_inputs),
        cmocka_unit_test(test_csv_names),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_csv_matches_strtof),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_permutation_uniform),
        cmocka_unit_test(test_gather),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
