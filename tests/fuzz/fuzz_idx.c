/* Fuzz target: ht_dataset_load_idx on an arbitrary image file and label
 * file, raw or gzip (the reader decides by content), then
 * ht_dataset_load_inputs on the image file alone. The first two bytes give
 * the length of the label file (at most the rest); the image file is what
 * remains. */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "hpctrain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t nlab = (size_t)data[0] | (size_t)data[1] << 8;
    data += 2;
    size -= 2;
    if (nlab > size)
        nlab = size;
    char ipath[32], lpath[32];
    int lfd = fuzz_file(data, nlab, lpath);
    int ifd = fuzz_file(data + nlab, size - nlab, ipath);
    FUZZ_CHECK(lfd >= 0 && ifd >= 0); /* an environment failure */
    ht_dataset *ds = NULL;
    ht_status s = ht_dataset_load_idx(ipath, lpath, &ds);
    fuzz_check_dataset(s, ds);
    /* the image file alone, as predict reads it: by content, IDX images
     * or (when it does not start with the IDX magic) a CSV of features */
    ds = NULL;
    s = ht_dataset_load_inputs(ipath, &ds);
    FUZZ_CHECK(s != HT_OK || ds->label == NULL);
    fuzz_check_dataset(s, ds);
    close(lfd);
    close(ifd);
    return 0;
}
