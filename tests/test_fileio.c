/* Internal file helpers: atomic replacement (success, overwrite, every way
 * to fail leaving the old file and no temporary behind), whole-file reads,
 * CRC-32 against the standard check values. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "hpctrain.h"
#include "testutil.h"

/* Number of entries in dir whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void assert_no_temp(const char *name)
{
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s.tmp", name);
    assert_int_equal(count_prefixed(HT_TEST_TMPDIR, prefix), 0);
}

static void assert_file_is(const char *path, const void *want, size_t len)
{
    void *got = NULL;
    size_t n = 0;
    assert_int_equal(ht_file_read_all(path, &got, &n), HT_OK);
    assert_int_equal(n, len);
    if (len)
        assert_memory_equal(got, want, len);
    assert_int_equal(((char *)got)[n], '\0');
    free(got);
}

static void assert_msg_has(const char *needle)
{
    if (!strstr(ht_last_error(), needle))
        fail_msg("message '%s' lacks '%s'", ht_last_error(), needle);
}

static void test_roundtrip_and_overwrite(void **state)
{
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "fio_round.bin");
    unlink(path);
    size_t len = 300000;
    unsigned char *buf = malloc(len);
    assert_non_null(buf);
    uint64_t s = 7;
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)tu_rand(&s);
    assert_int_equal(ht_file_write_atomic(path, buf, len), HT_OK);
    assert_file_is(path, buf, len);
    /* Replace with shorter content: no stale tail may survive. */
    assert_int_equal(ht_file_write_atomic(path, "new", 3), HT_OK);
    assert_file_is(path, "new", 3);
    assert_int_equal(ht_file_write_atomic(path, NULL, 0), HT_OK);
    assert_file_is(path, "", 0);
    assert_no_temp("fio_round.bin");
    free(buf);
}

static void test_permissions(void **state)
{
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "fio_mode.bin");
    unlink(path);
    mode_t mask = umask(022);
    assert_int_equal(ht_file_write_atomic(path, "a", 1), HT_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    /* A replaced file keeps its mode, not mkstemp's 0600. */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(ht_file_write_atomic(path, "b", 1), HT_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    umask(mask);
}

static void test_missing_dir(void **state)
{
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "fio_no_such_dir/x.bin");
    assert_int_equal(ht_file_write_atomic(path, "abc", 3), HT_ERR_IO);
    assert_msg_has(path);
    assert_msg_has(strerror(ENOENT));
}

/* A write that fails midway (file size limit: EFBIG) must leave the old
 * file as it was and remove the temporary file. */
static void test_failed_write_keeps_old(void **state)
{
    (void)state;
    char path[512];
    tu_path(path, sizeof path, "fio_keep.bin");
    const char old[] = "the old content";
    assert_int_equal(ht_file_write_atomic(path, old, sizeof old), HT_OK);

    size_t len = 1 << 16;
    char *big = calloc(1, len);
    assert_non_null(big);
    struct rlimit saved, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = saved;
    lim.rlim_cur = 4096;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    ht_status s = ht_file_write_atomic(path, big, len);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(s, HT_ERR_IO);
    assert_msg_has(path);
    assert_msg_has(strerror(EFBIG));
    assert_file_is(path, old, sizeof old);
    assert_no_temp("fio_keep.bin");
    free(big);
}

/* rename() over a non-empty directory fails after the temporary file is
 * complete: the directory must survive and the temporary must go. */
static void test_rename_fails(void **state)
{
    (void)state;
    char dir[512], inner[600];
    tu_path(dir, sizeof dir, "fio_isdir");
    mkdir(dir, 0755);
    snprintf(inner, sizeof inner, "%s/keep", dir);
    FILE *f = fopen(inner, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(ht_file_write_atomic(dir, "x", 1), HT_ERR_IO);
    assert_msg_has(dir);
    struct stat st;
    assert_int_equal(stat(inner, &st), 0);
    assert_no_temp("fio_isdir");
}

static void test_readonly_dir(void **state)
{
    (void)state;
    if (geteuid() == 0)
        skip(); /* root ignores directory permissions */
    char dir[512], path[600];
    tu_path(dir, sizeof dir, "fio_rodir");
    mkdir(dir, 0755);
    chmod(dir, 0755);
    snprintf(path, sizeof path, "%s/f.bin", dir);
    assert_int_equal(ht_file_write_atomic(path, "old", 3), HT_OK);
    assert_int_equal(chmod(dir, 0555), 0);
    ht_status s = ht_file_write_atomic(path, "new!", 4);
    chmod(dir, 0755);
    assert_int_equal(s, HT_ERR_IO);
    assert_msg_has(path);
    assert_file_is(path, "old", 3);
    assert_int_equal(count_prefixed(dir, "f.bin.tmp"), 0);
}

static void test_read_errors(void **state)
{
    (void)state;
    void *data = (void *)&data;
    size_t len = 12345;
    char path[512];
    tu_path(path, sizeof path, "fio_missing.bin");
    unlink(path);
    assert_int_equal(ht_file_read_all(path, &data, &len), HT_ERR_IO);
    assert_msg_has(path);
    assert_msg_has(strerror(ENOENT));
    assert_ptr_equal(data, (void *)&data);
    assert_int_equal(len, 12345);
    assert_int_equal(ht_file_read_all(HT_TEST_TMPDIR, &data, &len), HT_ERR_IO);
    assert_msg_has("directory");
}

/* /proc files report size 0: the reader must grow past its first guess. */
static void test_read_unsized(void **state)
{
    (void)state;
    void *data;
    size_t len;
    if (access("/proc/self/status", R_OK) != 0)
        skip();
    assert_int_equal(ht_file_read_all("/proc/self/status", &data, &len),
                     HT_OK);
    assert_true(len > 0);
    assert_int_equal(strlen(data), len);
    assert_non_null(strstr(data, "Name:"));
    free(data);
}

static void test_crc32(void **state)
{
    (void)state;
    assert_int_equal(ht_crc32("123456789", 9), 0xCBF43926u);
    assert_int_equal(ht_crc32(NULL, 0), 0u);
    assert_int_equal(ht_crc32("a", 1), 0xE8B7BE43u);
    /* one bit flipped changes it */
    assert_int_not_equal(ht_crc32("123456788", 9), 0xCBF43926u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_overwrite),
        cmocka_unit_test(test_permissions),
        cmocka_unit_test(test_missing_dir),
        cmocka_unit_test(test_failed_write_keeps_old),
        cmocka_unit_test(test_rename_fails),
        cmocka_unit_test(test_readonly_dir),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_read_unsized),
        cmocka_unit_test(test_crc32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
