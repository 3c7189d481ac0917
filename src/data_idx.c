/* IDX (MNIST) reader. An IDX file is a big-endian header
 *   0x00 0x00 <type> <ndims>, then ndims uint32 sizes,
 * followed by the elements in row-major order. Files may be gzip
 * compressed; zlib's gzread passes raw files through unchanged, so one
 * reader serves both and the choice follows the content, not the name. */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "dataset_internal.h"
#include "error.h"

enum {
    IDX_UBYTE = 0x08,
    IDX_SBYTE = 0x09,
    IDX_SHORT = 0x0B,
    IDX_INT = 0x0C,
    IDX_FLOAT = 0x0D,
    IDX_DOUBLE = 0x0E
};

/* Deflate cannot expand data by more than 1032:1, so a gzip file of S bytes
 * holds at most about 1032*S bytes: a header promising more is rejected
 * before anything is allocated. */
#define GZIP_MAX_RATIO 1032u
#define CHUNK_BYTES ((size_t)1 << 18)

typedef struct idx_file {
    const char *path;
    const char *item;    /* "image" or "label", for messages              */
    gzFile gz;
    int gzipped;
    uint64_t file_size;
    unsigned type;
    unsigned ndims;
    size_t esize;        /* bytes per element                             */
    size_t n;            /* dims[0]: items                                */
    size_t d;            /* product of dims[1..]: elements per item       */
    size_t data_bytes;   /* n * d * esize                                 */
    size_t header_bytes; /* 4 + 4 * ndims                                 */
    int cut;             /* the gzip stream ended before its end marker    */
} idx_file;

static size_t type_size(unsigned type)
{
    switch (type) {
    case IDX_UBYTE: case IDX_SBYTE: return 1;
    case IDX_SHORT: return 2;
    case IDX_INT: case IDX_FLOAT: return 4;
    case IDX_DOUBLE: return 8;
    default: return 0;
    }
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8
           | (uint32_t)p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* zlib's message without the "<fd:N>: " prefix gzdopen gives it. */
static const char *gz_message(gzFile gz, int *err)
{
    const char *msg = gzerror(gz, err);
    if (strncmp(msg, "<fd:", 4) == 0) {
        const char *c = strstr(msg, ": ");
        if (c)
            msg = c + 2;
    }
    return msg;
}

/* Reads up to len bytes of `where` (for messages); *got is what arrived.
 * Returns HT_OK when len bytes arrived or the stream ended cleanly (the
 * caller decides whether a short count is truncation); an error for I/O
 * failure or damaged gzip data. A gzip stream cut short sets f->cut so the
 * caller can restate the error with item counts. */
static ht_status read_bytes(idx_file *f, void *buf, size_t len, size_t *got,
                            const char *where)
{
    unsigned char *p = buf;
    *got = 0;
    while (*got < len) {
        size_t want = len - *got;
        if (want > (size_t)INT_MAX)
            want = (size_t)INT_MAX;
        int r = gzread(f->gz, p + *got, (unsigned)want);
        if (r > 0)
            *got += (size_t)r;
        if (r < 0 || (size_t)r < want) {
            int err;
            const char *msg = gz_message(f->gz, &err);
            if (err == Z_ERRNO)
                return ht_error(HT_ERR_IO, "%s: read error: %s", f->path,
                                strerror(errno));
            if (err == Z_BUF_ERROR) {
                f->cut = 1;
                return ht_error(HT_ERR_FORMAT, "%s: truncated gzip stream "
                                "(%s) in the %s", f->path, msg, where);
            }
            if (err != Z_OK)
                return ht_error(HT_ERR_FORMAT, "%s: corrupt gzip data: %s",
                                f->path, msg);
            if (r <= 0)
                return HT_OK; /* clean end of stream */
        }
    }
    return HT_OK;
}

static void idx_close(idx_file *f)
{
    if (f->gz)
        gzclose_r(f->gz);
    f->gz = NULL;
}

static ht_status idx_open(idx_file *f, const char *path, const char *item)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->item = item;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return ht_error(HT_ERR_IO, "%s: cannot open %s file: %s", path, item,
                        strerror(e));
    }
    struct stat st;
    unsigned char magic[2];
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ht_error(HT_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ht_error(HT_ERR_IO, "%s: is a directory, not an IDX %s file",
                        path, item);
    }
    f->file_size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX;
    /* pread leaves the offset at 0 for gzdopen. */
    f->gzipped = pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f
                 && magic[1] == 0x8b;
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        close(fd);
        return ht_error(HT_ERR_NOMEM, "%s: out of memory opening", path);
    }
    gzbuffer(f->gz, 1u << 17);
    return HT_OK;
}

/* Reads and checks the header; fills type, ndims, n, d, data_bytes. */
static ht_status idx_header(idx_file *f)
{
    unsigned char h[4];
    size_t got;
    ht_status s = read_bytes(f, h, 4, &got, "IDX header");
    if (s != HT_OK)
        return s;
    if (got < 4)
        return ht_error(HT_ERR_FORMAT, "%s: truncated: %zu bytes, too short "
                        "for an IDX header", f->path, got);
    uint32_t magic = be32(h);
    if (h[0] != 0 || h[1] != 0)
        return ht_error(HT_ERR_FORMAT, "%s: bad magic 0x%08x: not an IDX "
                        "file", f->path, (unsigned)magic);
    f->type = h[2];
    f->ndims = h[3];
    f->esize = type_size(f->type);
    if (f->esize == 0)
        return ht_error(HT_ERR_FORMAT, "%s: bad magic 0x%08x: unknown IDX "
                        "element type 0x%02x", f->path, (unsigned)magic,
                        f->type);
    if (f->ndims == 0)
        return ht_error(HT_ERR_FORMAT, "%s: bad magic 0x%08x: zero "
                        "dimensions", f->path, (unsigned)magic);
    unsigned char dims[255 * 4];
    f->header_bytes = 4 + 4 * (size_t)f->ndims;
    s = read_bytes(f, dims, 4 * (size_t)f->ndims, &got, "IDX header");
    if (s != HT_OK)
        return s;
    if (got < 4 * (size_t)f->ndims)
        return ht_error(HT_ERR_FORMAT, "%s: truncated: header declares %u "
                        "dimensions but ends after %zu", f->path, f->ndims,
                        got / 4);
    f->n = be32(dims);
    f->d = 1;
    int overflow = 0;
    for (unsigned i = 1; i < f->ndims; i++) {
        size_t di = be32(dims + 4 * i);
        if (di == 0)
            return ht_error(HT_ERR_FORMAT, "%s: dimension %u is zero", f->path,
                            i);
        if (f->d > SIZE_MAX / di)
            overflow = 1;
        else
            f->d *= di;
    }
    /* Elements are converted to 4-byte floats, so n*d*max(esize,4) must be
     * representable, not just the file's own size. */
    size_t wide = f->esize > 4 ? f->esize : 4;
    if (overflow || (f->n != 0 && f->d > SIZE_MAX / wide / f->n))
        return ht_error(HT_ERR_FORMAT, "%s: header sizes overflow: %zu %ss "
                        "of an absurd number of elements", f->path, f->n,
                        f->item);
    f->data_bytes = f->n * f->d * f->esize;
    if (f->n == 0)
        return ht_error(HT_ERR_FORMAT, "%s: header declares zero %ss",
                        f->path, f->item);
    /* Reject a header that promises more than the file can hold before any
     * allocation, so a corrupt size cannot ask for terabytes. (A pipe has
     * no size to check against; there an absurd header ends in
     * HT_ERR_NOMEM from the allocation instead.) */
    if (f->file_size != UINT64_MAX) {
        uint64_t avail = f->file_size - f->header_bytes;
        if (!f->gzipped && f->data_bytes > avail) {
            size_t item_bytes = f->d * f->esize;
            return ht_error(HT_ERR_FORMAT, "%s: truncated: expected %zu %ss, "
                            "got %zu (%llu of %zu data bytes)", f->path, f->n,
                            f->item, (size_t)(avail / item_bytes),
                            (unsigned long long)avail, f->data_bytes);
        }
        if (f->gzipped && f->file_size <= UINT64_MAX / GZIP_MAX_RATIO
            && f->data_bytes > f->file_size * GZIP_MAX_RATIO)
            return ht_error(HT_ERR_FORMAT, "%s: truncated or corrupt: header "
                            "declares %zu %ss (%zu bytes), more than a gzip "
                            "file of %llu bytes can hold", f->path, f->n,
                            f->item, f->data_bytes,
                            (unsigned long long)f->file_size);
    }
    return HT_OK;
}

/* Short-read message: how many whole items arrived. */
static ht_status truncated(const idx_file *f, size_t got_bytes)
{
    size_t item_bytes = f->d * f->esize;
    size_t whole = got_bytes / item_bytes, part = got_bytes % item_bytes;
    const char *kind = f->cut ? "truncated gzip stream" : "truncated";
    if (part)
        return ht_error(HT_ERR_FORMAT, "%s: %s: expected %zu %ss, got %zu "
                        "and %zu of %zu bytes of the next", f->path, kind,
                        f->n, f->item, whole, part, item_bytes);
    return ht_error(HT_ERR_FORMAT, "%s: %s: expected %zu %ss, got %zu",
                    f->path, kind, f->n, f->item, whole);
}

/* After the last element the stream must end cleanly: more bytes mean the
 * header's sizes are wrong; for gzip, reading to the end also verifies the
 * trailer (CRC and length), which catches a stream cut after the data. */
static ht_status expect_end(idx_file *f)
{
    unsigned char extra[16];
    int r = gzread(f->gz, extra, sizeof extra);
    int err;
    const char *msg = gz_message(f->gz, &err);
    if (r > 0)
        return ht_error(HT_ERR_FORMAT, "%s: trailing data after %zu %ss: the "
                        "header's sizes do not match the file", f->path, f->n,
                        f->item);
    if (err == Z_ERRNO)
        return ht_error(HT_ERR_IO, "%s: read error: %s", f->path,
                        strerror(errno));
    if (err == Z_BUF_ERROR)
        return ht_error(HT_ERR_FORMAT, "%s: truncated gzip stream (%s): the "
                        "gzip trailer is missing", f->path, msg);
    if (err != Z_OK)
        return ht_error(HT_ERR_FORMAT, "%s: corrupt gzip data: %s", f->path,
                        msg);
    return HT_OK;
}

/* Converts k big-endian elements starting at flat index e0 into out. */
static ht_status convert(const idx_file *f, const unsigned char *src,
                         size_t k, size_t e0, float *out)
{
    switch (f->type) {
    case IDX_UBYTE:
        /* One correctly rounded division: the pixel is v/255 to within
         * half an ulp, and the loop vectorises. */
        for (size_t i = 0; i < k; i++)
            out[i] = (float)src[i] / 255.0f;
        return HT_OK;
    case IDX_SBYTE:
        for (size_t i = 0; i < k; i++)
            out[i] = (float)(int8_t)src[i];
        return HT_OK;
    case IDX_SHORT:
        for (size_t i = 0; i < k; i++)
            out[i] = (float)(int16_t)(uint16_t)(src[2 * i] << 8
                                                | src[2 * i + 1]);
        return HT_OK;
    case IDX_INT:
        for (size_t i = 0; i < k; i++)
            out[i] = (float)(int32_t)be32(src + 4 * i);
        return HT_OK;
    case IDX_FLOAT:
    case IDX_DOUBLE:
        for (size_t i = 0; i < k; i++) {
            double v;
            if (f->type == IDX_FLOAT) {
                uint32_t u = be32(src + 4 * i);
                float fv;
                memcpy(&fv, &u, sizeof fv);
                v = fv;
            } else {
                uint64_t u = be64(src + 8 * i);
                memcpy(&v, &u, sizeof v);
            }
            float fv = (float)v;
            if (!isfinite(fv)) {
                size_t e = e0 + i;
                return ht_error(HT_ERR_FORMAT, "%s: element %zu (%s %zu, "
                                "index %zu) is %s", f->path, e, f->item,
                                e / f->d, e % f->d,
                                isnan(v) ? "NaN"
                                : isinf(v) ? "infinite"
                                           : "out of float range");
            }
            out[i] = fv;
        }
        return HT_OK;
    }
    return ht_error(HT_ERR_FORMAT, "%s: unknown element type", f->path);
}

/* Streams the data section through a fixed buffer into out (n*d floats). */
static ht_status read_elements(idx_file *f, float *out)
{
    unsigned char *buf = malloc(CHUNK_BYTES);
    if (!buf)
        return ht_error(HT_ERR_NOMEM, "%s: out of memory", f->path);
    size_t done = 0;
    ht_status s = HT_OK;
    while (done < f->data_bytes) {
        size_t want = f->data_bytes - done, got;
        if (want > CHUNK_BYTES)
            want = CHUNK_BYTES; /* a multiple of every element size */
        s = read_bytes(f, buf, want, &got, "data");
        if ((s == HT_OK && got < want) || f->cut)
            s = truncated(f, done + got);
        if (s != HT_OK)
            break;
        s = convert(f, buf, want / f->esize, done / f->esize,
                    out + done / f->esize);
        if (s != HT_OK)
            break;
        done += want;
    }
    free(buf);
    if (s == HT_OK)
        s = expect_end(f);
    return s;
}

ht_status ht_dataset_load_idx(const char *images_path, const char *labels_path,
                              ht_dataset **out)
{
    if (!images_path || !labels_path || !out)
        return ht_error(HT_ERR_ARG, "ht_dataset_load_idx: NULL argument");
    idx_file img, lab;
    ht_status s = idx_open(&img, images_path, "image");
    if (s != HT_OK)
        return s;
    s = idx_open(&lab, labels_path, "label");
    if (s != HT_OK) {
        idx_close(&img);
        return s;
    }
    ht_dataset *ds = NULL;
    s = idx_header(&img);
    if (s == HT_OK)
        s = idx_header(&lab);
    if (s == HT_OK && lab.ndims != 1)
        s = ht_error(HT_ERR_FORMAT, "%s: bad magic 0x0000%02x%02x: a label "
                     "file has 1 dimension, this has %u (images and labels "
                     "swapped?)", labels_path, lab.type, lab.ndims, lab.ndims);
    if (s == HT_OK && (lab.type == IDX_FLOAT || lab.type == IDX_DOUBLE))
        s = ht_error(HT_ERR_FORMAT, "%s: bad magic 0x0000%02x%02x: labels "
                     "must be an integer IDX type, not %s", labels_path,
                     lab.type, lab.ndims,
                     lab.type == IDX_FLOAT ? "float" : "double");
    if (s == HT_OK && img.n != lab.n)
        s = ht_error(HT_ERR_SHAPE, "%s has %zu images but %s has %zu labels",
                     images_path, img.n, labels_path, lab.n);
    if (s == HT_OK)
        s = ht_dataset_alloc(img.n, img.d, 0, images_path, &ds);
    if (s == HT_OK)
        s = read_elements(&img, ds->x);
    if (s == HT_OK) {
        /* Labels are integers of up to 32 bits, which float cannot carry
         * exactly, so they bypass the element converter. idx_header bounded
         * data_bytes by the file size, so this allocation is sane. */
        unsigned char *raw = malloc(lab.data_bytes);
        size_t got = 0;
        if (!raw)
            s = ht_error(HT_ERR_NOMEM, "%s: out of memory", labels_path);
        if (s == HT_OK)
            s = read_bytes(&lab, raw, lab.data_bytes, &got, "data");
        if ((s == HT_OK && got < lab.data_bytes) || lab.cut)
            s = truncated(&lab, got);
        if (s == HT_OK)
            s = expect_end(&lab);
        size_t max_label = 0;
        for (size_t i = 0; s == HT_OK && i < lab.n; i++) {
            int64_t v;
            switch (lab.type) {
            case IDX_UBYTE: v = raw[i]; break;
            case IDX_SBYTE: v = (int8_t)raw[i]; break;
            case IDX_SHORT:
                v = (int16_t)(uint16_t)(raw[2 * i] << 8 | raw[2 * i + 1]);
                break;
            default: v = (int32_t)be32(raw + 4 * i); break;
            }
            if (v < 0) {
                s = ht_error(HT_ERR_FORMAT, "%s: label %zu is %lld: labels "
                             "must be non-negative", labels_path, i,
                             (long long)v);
                break;
            }
            ds->label[i] = (int32_t)v;
            if ((size_t)v > max_label)
                max_label = (size_t)v;
        }
        if (s == HT_OK)
            ds->n_classes = max_label + 1;
        free(raw);
    }
    idx_close(&img);
    idx_close(&lab);
    if (s != HT_OK) {
        ht_dataset_free(ds);
        return s;
    }
    *out = ds;
    return HT_OK;
}

ht_status ht_dataset_load_idx_images(const char *images_path,
                                     ht_dataset **out)
{
    if (!images_path || !out)
        return ht_error(HT_ERR_ARG, "ht_dataset_load_idx_images: NULL "
                        "argument");
    idx_file img;
    ht_status s = idx_open(&img, images_path, "image");
    if (s != HT_OK)
        return s;
    ht_dataset *ds = NULL;
    s = idx_header(&img);
    if (s == HT_OK)
        s = ht_dataset_alloc(img.n, img.d, 0, images_path, &ds);
    if (s == HT_OK) {
        free(ds->label);
        ds->label = NULL;
        s = read_elements(&img, ds->x);
    }
    idx_close(&img);
    if (s != HT_OK) {
        ht_dataset_free(ds);
        return s;
    }
    *out = ds;
    return HT_OK;
}
