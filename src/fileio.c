#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <zlib.h>

#include "error.h"
#include "fileio.h"

/* The process umask without changing it: umask() can only be read by
 * setting it, which races with other threads creating files, so read
 * Linux's /proc/self/status instead. Where that is unavailable, assume the
 * strictest common mask so a new file is never more open than intended. */
static mode_t current_umask(void)
{
    mode_t mask = 077;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return mask;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Umask:", 6) == 0) {
            char *end;
            unsigned long v = strtoul(line + 6, &end, 8);
            if (end != line + 6 && v <= 0777)
                mask = (mode_t)v;
            break;
        }
    }
    fclose(f);
    return mask;
}

static int write_full(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        size_t chunk = len > ((size_t)1 << 30) ? ((size_t)1 << 30) : len;
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* fsync the directory holding path so the rename itself is durable. Some
 * file systems cannot fsync a directory (EINVAL); that is not a failure of
 * the write, which is already complete and visible. */
static ht_status sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = malloc(2);
        if (dir)
            strcpy(dir, ".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (!dir)
        return ht_error(HT_ERR_NOMEM, "%s: out of memory syncing directory",
                        path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        ht_status s = ht_error(HT_ERR_IO, "%s: cannot open directory %s to "
                               "sync it: %s", path, dir, strerror(e));
        free(dir);
        return s;
    }
    ht_status s = HT_OK;
    if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP) {
        int e = errno;
        s = ht_error(HT_ERR_IO, "%s: cannot sync directory %s: %s", path, dir,
                     strerror(e));
    }
    close(fd);
    free(dir);
    return s;
}

ht_status ht_file_write_atomic(const char *path, const void *data, size_t len)
{
    if (!path || (!data && len > 0))
        return ht_error(HT_ERR_ARG, "ht_file_write_atomic: NULL %s",
                        path ? "data" : "path");
    static const char suffix[] = ".tmpXXXXXX";
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof suffix);
    if (!tmp)
        return ht_error(HT_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);

    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        ht_status s = ht_error(HT_ERR_IO, "%s: cannot create temporary file "
                               "%s: %s", path, tmp, strerror(e));
        free(tmp);
        return s;
    }

    const char *what;
    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777)
                                       : (0666 & ~current_umask());
    if (fchmod(fd, mode) != 0) {
        what = "cannot set permissions of";
        goto fail;
    }
    if (write_full(fd, data, len) != 0) {
        what = "cannot write";
        goto fail;
    }
    if (fsync(fd) != 0) {
        what = "cannot sync";
        goto fail;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) {
        what = "cannot close";
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        what = "cannot rename over";
        goto fail;
    }
    free(tmp);
    return sync_parent_dir(path);

fail:;
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    ht_status s = ht_error(HT_ERR_IO, "%s: %s temporary file %s: %s", path,
                           what, tmp, strerror(e));
    free(tmp);
    return s;
}

ht_status ht_file_read_all(const char *path, void **data, size_t *len)
{
    if (!path || !data || !len)
        return ht_error(HT_ERR_ARG, "ht_file_read_all: NULL argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return ht_error(HT_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ht_error(HT_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ht_error(HT_ERR_IO, "%s: is a directory", path);
    }
    /* Regular files: one allocation of the right size (plus one byte, which
     * also lets us see EOF without a second growth). Pipes: grow by half. */
    size_t cap = S_ISREG(st.st_mode) && st.st_size >= 0
                     ? (size_t)st.st_size + 1 : 65536;
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size >= SIZE_MAX) {
        close(fd);
        return ht_error(HT_ERR_NOMEM, "%s: too large to read (%jd bytes)",
                        path, (intmax_t)st.st_size);
    }
    unsigned char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return ht_error(HT_ERR_NOMEM, "%s: out of memory reading %zu bytes",
                        path, cap);
    }
    size_t n = 0;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap + cap / 2 + 1;
            if (ncap < cap) {
                free(buf);
                close(fd);
                return ht_error(HT_ERR_NOMEM, "%s: too large to read", path);
            }
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                close(fd);
                return ht_error(HT_ERR_NOMEM, "%s: out of memory reading "
                                "%zu bytes", path, ncap);
            }
            buf = nb;
            cap = ncap;
        }
        size_t want = cap - n;
        if (want > ((size_t)1 << 30))
            want = (size_t)1 << 30;
        ssize_t r = read(fd, buf + n, want);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return ht_error(HT_ERR_IO, "%s: read error: %s", path,
                            strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n == cap) {
        unsigned char *nb = realloc(buf, n + 1);
        if (!nb) {
            free(buf);
            return ht_error(HT_ERR_NOMEM, "%s: out of memory", path);
        }
        buf = nb;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return HT_OK;
}

/* Inflates the gzip members in[0..len) (one or more, back to back, as
 * gzip itself writes and reads them) into a new NUL-terminated buffer. */
static ht_status gunzip(const char *path, const unsigned char *in, size_t len,
                        unsigned char **data, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) /* 16: gzip framing only */
        return ht_error(HT_ERR_NOMEM, "%s: cannot start zlib", path);
    /* a first guess; deflate expands at most 1032:1, so this grows a few
     * times at most for any real file */
    size_t cap = len < ((size_t)1 << 28) ? 4 * len + 4096 : len, n = 0;
    unsigned char *buf = malloc(cap);
    ht_status s = buf ? HT_OK
                      : ht_error(HT_ERR_NOMEM, "%s: out of memory for %zu "
                                 "bytes", path, cap);
    size_t pos = 0;
    while (s == HT_OK) {
        if (cap - n < 2) { /* room for output and the final NUL */
            size_t ncap = cap + cap / 2;
            unsigned char *nb = ncap > cap ? realloc(buf, ncap) : NULL;
            if (nb == NULL) {
                s = ht_error(HT_ERR_NOMEM, "%s: out of memory inflating "
                             "%zu bytes", path, ncap);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        const size_t in_chunk = len - pos < UINT_MAX ? len - pos : UINT_MAX;
        const size_t out_chunk = cap - n - 1 < UINT_MAX ? cap - n - 1 : UINT_MAX;
        z.next_in = (unsigned char *)(uintptr_t)(in + pos);
        z.avail_in = (unsigned)in_chunk;
        z.next_out = buf + n;
        z.avail_out = (unsigned)out_chunk;
        const int r = inflate(&z, Z_NO_FLUSH);
        pos += in_chunk - z.avail_in;
        n += out_chunk - z.avail_out;
        if (r == Z_STREAM_END) {
            if (pos == len)
                break;
            if (len - pos >= 2 && in[pos] == 0x1f && in[pos + 1] == 0x8b) {
                inflateReset(&z); /* the next member */
                continue;
            }
            s = ht_error(HT_ERR_FORMAT, "%s: %zu bytes of trailing data after "
                         "the gzip stream", path, len - pos);
        } else if (r == Z_BUF_ERROR && pos == len) {
            s = ht_error(HT_ERR_FORMAT, "%s: truncated gzip stream (unexpected "
                         "end of file)", path);
        } else if (r == Z_MEM_ERROR) {
            s = ht_error(HT_ERR_NOMEM, "%s: out of memory in zlib", path);
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            s = ht_error(HT_ERR_FORMAT, "%s: corrupt gzip data: %s", path,
                         z.msg ? z.msg : "inflate failed");
        }
    }
    inflateEnd(&z);
    if (s != HT_OK) {
        free(buf);
        return s;
    }
    buf[n] = '\0';
    *data = buf;
    *out_len = n;
    return HT_OK;
}

ht_status ht_file_read_text(const char *path, void **data, size_t *len)
{
    void *raw;
    size_t n;
    ht_status s = ht_file_read_all(path, &raw, &n);
    if (s != HT_OK)
        return s;
    const unsigned char *p = raw;
    if (n < 2 || p[0] != 0x1f || p[1] != 0x8b) {
        *data = raw;
        *len = n;
        return HT_OK;
    }
    unsigned char *out = NULL;
    s = gunzip(path, p, n, &out, &n);
    free(raw);
    if (s != HT_OK)
        return s;
    *data = out;
    *len = n;
    return HT_OK;
}

int ht_file_content_starts(const char *path, const void *magic, size_t len)
{
    gzFile gz = gzopen(path, "rb");
    if (gz == NULL)
        return 0;
    unsigned char b[16];
    const int want = len < sizeof b ? (int)len : (int)sizeof b;
    const int got = gzread(gz, b, (unsigned)want);
    gzclose_r(gz);
    return got == want && memcmp(b, magic, (size_t)want) == 0;
}

uint32_t ht_crc32(const void *data, size_t len)
{
    const unsigned char *p = data;
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len > 0) {
        uInt chunk = len > UINT_MAX ? UINT_MAX : (uInt)len;
        crc = crc32(crc, p, chunk);
        p += chunk;
        len -= chunk;
    }
    return (uint32_t)crc;
}
