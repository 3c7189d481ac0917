/* Writes the raw bits of hpctrain's dropout generator to stdout, in the
 * order the trainer consumes them, for statistical batteries:
 *
 *   build/bench/dropout_stream | dieharder -a -g 200
 *
 * For step = 0, 1, 2, ...: for each hidden layer l = 1 .. layers, for each
 * row (sample) of the batch: the row's stream, keyed by ht_dropout_key(seed,
 * l, step, row) exactly as src/train.c keys it, for a layer of `cols`
 * units: ceil(cols / 16) steps of the 8 xoshiro128++ lanes, each step's 8
 * 32-bit outputs in lane order (little-endian), which are the 16-bit draws
 * of 16 consecutive elements (simd/rng.h). Defaults: the benchmark
 * configuration 784-1024-1024-10 at batch 128, seed 42 (the trainer's
 * default).
 *
 *   dropout_stream [--seed S] [--layers L] [--rows R] [--cols C] [--words N]
 * --words N stops after N 32-bit words (default: endless; a battery closes
 * the pipe when it has read enough, which ends the program quietly). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpctrain/kernels.h"
#include "../simd/rng.h"

static int parse_u64(const char *flag, const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v ? v : "", &end, 10);
    if (v == NULL || *v == '\0' || *v == '-' || *end != '\0' || errno) {
        fprintf(stderr, "dropout_stream: %s needs a non-negative integer, "
                "got '%s'\n", flag, v ? v : "");
        return -1;
    }
    *out = (uint64_t)x;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t seed = 42, layers = 2, rows = 128, cols = 1024, words = 0;
    for (int i = 1; i < argc; i += 2) {
        uint64_t *dst = !strcmp(argv[i], "--seed")     ? &seed
                        : !strcmp(argv[i], "--layers") ? &layers
                        : !strcmp(argv[i], "--rows")   ? &rows
                        : !strcmp(argv[i], "--cols")   ? &cols
                        : !strcmp(argv[i], "--words")  ? &words
                                                       : NULL;
        if (dst == NULL) {
            fprintf(stderr, "dropout_stream: unknown option '%s'\n", argv[i]);
            return 2;
        }
        if (parse_u64(argv[i], i + 1 < argc ? argv[i + 1] : NULL, dst) != 0)
            return 2;
    }
    if (layers == 0 || rows == 0 || cols == 0 || layers > UINT32_MAX) {
        fprintf(stderr, "dropout_stream: --layers, --rows and --cols must be "
                "positive (layers < 2^32)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);   /* a closed pipe ends us through fwrite */
    const uint64_t steps_per_row = (cols + 15) / 16;
    uint32_t buf[4096];
    size_t fill = 0;
    uint64_t written = 0;
    for (uint64_t step = 0;; step++)
        for (uint64_t l = 1; l <= layers; l++)
            for (uint64_t r = 0; r < rows; r++) {
                ht_rng8 g;
                ht_rng8_seed(&g, ht_dropout_key(seed, (uint32_t)l, step, r));
                for (uint64_t t = 0; t < steps_per_row; t++) {
                    ht_rng8_step(&g, buf + fill);
                    fill += HT_RNG_LANES;
                    if (words && written + fill >= words) {
                        fwrite(buf, 4, (size_t)(words - written), stdout);
                        return fflush(stdout) == 0 ? 0 : 1;
                    }
                    if (fill == sizeof buf / sizeof buf[0]) {
                        if (fwrite(buf, 4, fill, stdout) != fill)
                            return errno == EPIPE ? 0 : 1;
                        written += fill;
                        fill = 0;
                    }
                }
            }
}
