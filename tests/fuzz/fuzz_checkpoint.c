/* Fuzz target: ht_model_load on arbitrary bytes. When the first byte is
 * odd, the input's last four bytes are replaced by the CRC-32 of the rest,
 * as a writer would store it, so the fuzzer also reaches the parsing that
 * follows the checksum (configuration, sizes, payload) instead of stopping
 * at a checksum mismatch. A load either gives a model or a status with a
 * message. */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz_input.h"
#include "hpctrain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const int fix_crc = data[0] & 1;
    data++;
    size--;
    unsigned char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    if (fix_crc && size >= 4) {
        /* the checkpoint's CRC is zlib's CRC-32, stored little-endian */
        const uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(size - 4));
        for (int i = 0; i < 4; i++)
            buf[size - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
    }
    char path[32];
    int fd = fuzz_file(buf, size, path);
    free(buf);
    FUZZ_CHECK(fd >= 0); /* an environment failure, not a finding */
    ht_model *m = NULL;
    ht_status s = ht_model_load(path, &m);
    fuzz_report(s == HT_OK, ht_last_error());
    if (s == HT_OK) {
        FUZZ_CHECK(m != NULL);
        ht_model_free(m);
    } else {
        FUZZ_CHECK(m == NULL);
        FUZZ_CHECK(strlen(ht_last_error()) > 0);
    }
    close(fd);
    return 0;
}
