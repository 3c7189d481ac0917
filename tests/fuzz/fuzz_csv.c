/* Fuzz target: ht_dataset_load_csv on arbitrary bytes. The first byte
 * picks classification, regression or inputs only; the rest is the file
 * (raw, or gzip: the reader inflates it). A load either
 * succeeds with a consistent data set or fails with a status and a message;
 * the sanitizers catch the rest. */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "hpctrain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const ht_target_kind kinds[3] = {HT_TARGET_CLASS,
                                            HT_TARGET_REGRESSION,
                                            HT_TARGET_NONE};
    const ht_target_kind kind = kinds[data[0] % 3];
    char path[32];
    int fd = fuzz_file(data + 1, size - 1, path);
    FUZZ_CHECK(fd >= 0); /* an environment failure, not a finding */
    ht_dataset *ds = NULL;
    ht_status s = ht_dataset_load_csv(path, kind, &ds);
    fuzz_check_dataset(s, ds);
    close(fd);
    return 0;
}
