/* Replays fuzz inputs without libFuzzer, so that every build (gcc, the
 * sanitizer build, CI) runs the corpus and the reproducers of past
 * findings through the same target. Each argument is a file or a
 * directory of files; a file is one input, except a *.pack file, which
 * holds many (pack.py: 4-byte little-endian length, then the bytes). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fuzz_replay: %s: cannot open\n", path);
        return 1;
    }
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            unsigned char *nb = realloc(buf, cap *= 2);
            if (nb == NULL)
                free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "fuzz_replay: %s: out of memory\n", path);
        return 1;
    }
    const size_t plen = strlen(path);
    if (plen < 5 || strcmp(path + plen - 5, ".pack") != 0) {
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        return 0;
    }
    size_t pos = 0, count = 0;
    while (pos < len) {
        if (len - pos < 4) {
            fprintf(stderr, "fuzz_replay: %s: truncated record at byte %zu\n",
                    path, pos);
            free(buf);
            return 1;
        }
        const size_t n = (size_t)buf[pos] | (size_t)buf[pos + 1] << 8 |
                         (size_t)buf[pos + 2] << 16 | (size_t)buf[pos + 3] << 24;
        pos += 4;
        if (n > len - pos) {
            fprintf(stderr, "fuzz_replay: %s: record %zu runs past the end\n",
                    path, count);
            free(buf);
            return 1;
        }
        /* a copy of its own, so a read past the record's end is caught */
        unsigned char *one = malloc(n ? n : 1);
        if (one == NULL) {
            free(buf);
            return 1;
        }
        memcpy(one, buf + pos, n);
        LLVMFuzzerTestOneInput(one, n);
        free(one);
        pos += n;
        count++;
    }
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int bad = 0, n = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "fuzz_replay: %s: not found\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i]);
            n++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (d == NULL) {
            fprintf(stderr, "fuzz_replay: %s: cannot list\n", argv[i]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
            bad |= run_file(p);
            n++;
        }
        closedir(d);
    }
    printf("fuzz_replay: %d files\n", n);
    return bad || n == 0;
}
