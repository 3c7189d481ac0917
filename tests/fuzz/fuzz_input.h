/* Shared by the fuzz targets (which define _GNU_SOURCE first, for
 * memfd_create): the library reads files by path, so each
 * input is put in an anonymous in-memory file (memfd) and handed over as
 * /proc/self/fd/N. Nothing touches the disk. */
#ifndef HT_FUZZ_INPUT_H
#define HT_FUZZ_INPUT_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hpctrain.h"

/* An in-memory file holding data[0..len); its path in path. Returns the fd
 * (close it when done) or -1. */
static inline int fuzz_file(const unsigned char *data, size_t len,
                            char path[32])
{
    int fd = memfd_create("ht-fuzz", 0);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    snprintf(path, 32, "/proc/self/fd/%d", fd);
    return fd;
}

/* The targets' checks hold in every build type (assert would vanish
 * under NDEBUG, which the release test builds define). */
#define FUZZ_CHECK(cond)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,          \
                    __LINE__, #cond);                                      \
            abort();                                                       \
        }                                                                  \
    } while (0)

/* With HT_FUZZ_VERBOSE set, one line per input: "ok" or the error. */
static inline void fuzz_report(int ok, const char *msg)
{
    if (getenv("HT_FUZZ_VERBOSE"))
        fprintf(stderr, "%s\n", ok ? "ok" : msg);
}

/* A data set loader's result, either way: a consistent data set (rows,
 * finite features, labels in [0, n_classes)) freed here, or a failure
 * with a message and no data set. */
static inline void fuzz_check_dataset(ht_status s, ht_dataset *ds)
{
    fuzz_report(s == HT_OK, ht_last_error());
    if (s == HT_OK) {
        FUZZ_CHECK(ds != NULL && ds->n > 0 && ds->d > 0);
        for (size_t i = 0; i < ds->n * ds->d; i++)
            FUZZ_CHECK(isfinite(ds->x[i]));
        for (size_t i = 0; ds->label && i < ds->n; i++)
            FUZZ_CHECK(ds->label[i] >= 0 &&
                       (size_t)ds->label[i] < ds->n_classes);
        ht_dataset_free(ds);
    } else {
        FUZZ_CHECK(ds == NULL);
        FUZZ_CHECK(strlen(ht_last_error()) > 0);
    }
}

#endif
