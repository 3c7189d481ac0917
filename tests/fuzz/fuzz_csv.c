/* Fuzz target: ht_dataset_load_csv on arbitrary bytes. The first byte
 * picks classification or regression; the rest is the file. A load either
 * succeeds with a consistent data set or fails with a status and a message;
 * the sanitizers catch the rest. */
#define _GNU_SOURCE /* memfd_create */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "hpctrain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const ht_target_kind kind =
        (data[0] & 1) ? HT_TARGET_REGRESSION : HT_TARGET_CLASS;
    char path[32];
    int fd = fuzz_file(data + 1, size - 1, path);
    FUZZ_CHECK(fd >= 0); /* an environment failure, not a finding */
    ht_dataset *ds = NULL;
    ht_status s = ht_dataset_load_csv(path, kind, &ds);
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
    close(fd);
    return 0;
}
