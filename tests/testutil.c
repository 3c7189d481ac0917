#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

#include "testutil.h"

uint64_t tu_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void tu_fill(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        double u = (double)(tu_rand(&s) >> 11) * (1.0 / 9007199254740992.0);
        x[i] = (float)(lo + (hi - lo) * u);
    }
}

void tu_gemm_ref(int ta, int tb, size_t m, size_t n, size_t k, float alpha,
                 const float *a, size_t lda, const float *b, size_t ldb,
                 float beta, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0.0;
            for (size_t p = 0; p < k; p++) {
                double av = ta ? a[p * lda + i] : a[i * lda + p];
                double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += av * bv;
            }
            double v = alpha * s;
            if (beta != 0.0f)
                v += (double)beta * c[i * ldc + j];
            c[i * ldc + j] = (float)v;
        }
}

double tu_max_rel_err(const float *x, const float *y, size_t n, double atol,
                      double rtol)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)x[i] - y[i]) / (atol + rtol * fabs((double)y[i]));
        if (!(e <= worst))
            worst = e; /* NaN propagates as a failure */
    }
    return worst;
}

void tu_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", HT_TEST_TMPDIR, name);
}

int tu_file_byte(const char *path, long at)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    int c = fseek(f, at, SEEK_SET) == 0 ? fgetc(f) : EOF;
    fclose(f);
    return c == EOF ? -1 : c;
}

int tu_patch_before_crc(const char *path, size_t at, const void *bytes,
                        size_t n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    unsigned char *buf = len > 0 ? malloc((size_t)len) : NULL;
    int ok = buf && (size_t)len >= 4 + at && at >= n &&
             (rewind(f), fread(buf, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    if (ok) {
        memcpy(buf + len - 4 - (long)at, bytes, n);
        const uint32_t crc = ht_crc32(buf, (size_t)len - 4);
        memcpy(buf + len - 4, &crc, 4); /* stored little-endian */
        ok = (f = fopen(path, "wb")) != NULL;
        ok = ok && fwrite(buf, 1, (size_t)len, f) == (size_t)len;
        ok = f && fclose(f) == 0 && ok;
    }
    free(buf);
    return ok ? 0 : -1;
}
