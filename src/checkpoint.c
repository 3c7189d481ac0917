/* Checkpoints: architecture, hyper-parameters, weights, optimiser state,
 * epoch and step, and the input transform and class names if any,
 * little-endian, followed by a CRC-32 of everything before it; written
 * atomically (ht_file_write_atomic).
 *
 *   "HTCKPT01"  u32 version  u32 header bytes  header  payload  u32 crc
 *   header : config fields (fixed order, fixed widths), i32 epoch, u64 step,
 *            u64 n_params, u32 has_m, u32 has_v
 *            version 3 only: u64 weights hash (ht_model_hash of the model
 *            as saved: weights, biases, input transform)
 *            versions 2 and 3: u32 sections (bit 0: input transform,
 *            bit 1: class names, bit 2: warmup; version 2: at least one
 *            set; version 3: any, 0 included), then, with bit 2,
 *            u64 warmup_steps
 *   payload: params[n_params] (then opt_m, then opt_v if present), f32
 *            bit 0: shift[sizes[0]], scale[sizes[0]], f32
 *            bit 1: sizes[n_layers] x (u32 length, that many bytes)
 *
 * Every save writes version 3, so every checkpoint carries the hash that
 * --print-hash shows; versions 1 (no sections) and 2, which earlier builds
 * wrote, are still read, and builds before version 3 refuse its files by
 * their version. The CRC vouches for the file's bytes; the hash, checked
 * on load against the weights as loaded, vouches that the model is the
 * one whose hash the writer printed, which a payload rewritten under a
 * fresh CRC (or a reader placing the weights differently from the
 * writer) would break.
 */
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"
#include "error.h"
#include "fileio.h"
#include "model_internal.h"

#define CKPT_MAGIC "HTCKPT01"
#define CKPT_VERSION 1u      /* no optional sections */
#define CKPT_VERSION_SECTIONS 2u /* with a sections word */
#define CKPT_VERSION_HASH 3u /* with the weights hash; the one written */
#define SEC_NORM 1u
#define SEC_NAMES 2u
#define SEC_WARMUP 4u
#define SEC_ALL (SEC_NORM | SEC_NAMES | SEC_WARMUP)

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} wbuf;

static void put(wbuf *w, const void *src, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        unsigned char *p = realloc(w->p, cap);
        if (p == NULL) {
            w->oom = 1;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void put_u32(wbuf *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(wbuf *w, uint64_t v) { put(w, &v, 8); }
static void put_f32(wbuf *w, float v) { put(w, &v, 4); }

typedef struct rbuf {
    const unsigned char *p;
    size_t len, pos;
    int short_read;
} rbuf;

static void get(rbuf *r, void *dst, size_t n)
{
    if (r->short_read || r->len - r->pos < n) {
        r->short_read = 1;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p + r->pos, n);
    r->pos += n;
}

static uint32_t get_u32(rbuf *r) { uint32_t v; get(r, &v, 4); return v; }
static uint64_t get_u64(rbuf *r) { uint64_t v; get(r, &v, 8); return v; }
static float get_f32(rbuf *r) { float v; get(r, &v, 4); return v; }

static int little_endian(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void put_config(wbuf *w, const ht_config *c)
{
    put_u32(w, (uint32_t)c->n_layers);
    for (size_t l = 0; l <= c->n_layers; l++)
        put_u64(w, c->sizes[l]);
    put_f32(w, c->dropout);
    put_f32(w, c->input_dropout);
    put_u32(w, (uint32_t)c->loss);
    put_u32(w, (uint32_t)c->optimizer);
    put_f32(w, c->lr);
    put_f32(w, c->momentum);
    put_u32(w, (uint32_t)c->nesterov);
    put_f32(w, c->beta1);
    put_f32(w, c->beta2);
    put_f32(w, c->eps);
    put_f32(w, c->weight_decay);
    put_f32(w, c->l1);
    put_f32(w, c->l2);
    put_u32(w, (uint32_t)c->reg_bias);
    put_u32(w, (uint32_t)c->prox_l1);
    put_u32(w, (uint32_t)c->schedule);
    put_u32(w, (uint32_t)c->step_epochs);
    put_f32(w, c->gamma);
    put_u32(w, (uint32_t)c->total_epochs);
    put_u64(w, c->batch);
    put_u64(w, c->seed);
}

static void get_config(rbuf *r, ht_config *c)
{
    memset(c, 0, sizeof *c);
    c->n_layers = get_u32(r);
    if (c->n_layers < 1 || c->n_layers > HT_MAX_LAYERS) {
        r->short_read = 1;
        return;
    }
    for (size_t l = 0; l <= c->n_layers; l++)
        c->sizes[l] = (size_t)get_u64(r);
    c->dropout = get_f32(r);
    c->input_dropout = get_f32(r);
    c->loss = (ht_loss_kind)get_u32(r);
    c->optimizer = (ht_optimizer_kind)get_u32(r);
    c->lr = get_f32(r);
    c->momentum = get_f32(r);
    c->nesterov = (int)get_u32(r);
    c->beta1 = get_f32(r);
    c->beta2 = get_f32(r);
    c->eps = get_f32(r);
    c->weight_decay = get_f32(r);
    c->l1 = get_f32(r);
    c->l2 = get_f32(r);
    c->reg_bias = (int)get_u32(r);
    c->prox_l1 = (int)get_u32(r);
    c->schedule = (ht_lr_schedule)get_u32(r);
    c->step_epochs = (int)get_u32(r);
    c->gamma = get_f32(r);
    c->total_epochs = (int)get_u32(r);
    c->batch = (size_t)get_u64(r);
    c->seed = get_u64(r);
}

ht_status ht_model_save(const ht_model *m, const char *path)
{
    if (m == NULL || path == NULL)
        return ht_error(HT_ERR_ARG, "ht_model_save: NULL argument");
    if (!little_endian())
        return ht_error(HT_ERR_UNSUPPORTED, "%s: checkpoints are written "
                        "little-endian only", path);
    wbuf w = {0};
    put(&w, CKPT_MAGIC, 8);
    const uint32_t sections = (m->in_shift ? SEC_NORM : 0) |
                              (m->class_names ? SEC_NAMES : 0) |
                              (m->cfg.warmup_steps ? SEC_WARMUP : 0);
    put_u32(&w, CKPT_VERSION_HASH);
    wbuf h = {0};
    put_config(&h, &m->cfg);
    put_u32(&h, (uint32_t)m->epoch);
    put_u64(&h, m->step);
    put_u64(&h, m->n_params);
    put_u32(&h, m->opt_m != NULL);
    put_u32(&h, m->opt_v != NULL);
    put_u64(&h, ht_model_hash(m));
    put_u32(&h, sections);
    if (sections & SEC_WARMUP)
        put_u64(&h, m->cfg.warmup_steps);
    put_u32(&w, (uint32_t)h.len);
    put(&w, h.p, h.len);
    put(&w, m->params, m->n_params * sizeof(float));
    if (m->opt_m)
        put(&w, m->opt_m, m->n_params * sizeof(float));
    if (m->opt_v)
        put(&w, m->opt_v, m->n_params * sizeof(float));
    if (m->in_shift)
        put(&w, m->in_shift, 2 * m->cfg.sizes[0] * sizeof(float));
    for (size_t i = 0; m->class_names && i < m->cfg.sizes[m->cfg.n_layers];
         i++) {
        const size_t len = strlen(m->class_names[i]);
        put_u32(&w, (uint32_t)len);
        put(&w, m->class_names[i], len);
    }
    ht_status s = HT_OK;
    if (w.oom || h.oom) {
        s = ht_error(HT_ERR_NOMEM, "%s: out of memory serialising the model",
                     path);
    } else {
        put_u32(&w, ht_crc32(w.p, w.len));
        s = w.oom ? ht_error(HT_ERR_NOMEM, "%s: out of memory", path)
                  : ht_file_write_atomic(path, w.p, w.len);
    }
    free(h.p);
    free(w.p);
    return s;
}

/* The class names section: one per output, each u32 length and bytes, and
 * then the end of the payload. */
static ht_status get_names(const char *path, rbuf *r, ht_model *m)
{
    const size_t n = m->cfg.sizes[m->cfg.n_layers];
    /* the names and their NULs fit in what is left of the file */
    char **names = calloc(n ? n : 1, sizeof *names);
    char *text = malloc(r->len - r->pos + n + 1), *t = text;
    ht_status s = names && text ? HT_OK
                                : ht_error(HT_ERR_NOMEM, "%s: out of memory",
                                           path);
    for (size_t i = 0; i < n && s == HT_OK; i++) {
        const uint32_t len = get_u32(r);
        if (r->short_read || len > 255 || r->len - r->pos < len) {
            s = ht_error(HT_ERR_FORMAT, "%s: truncated or malformed class "
                         "names", path);
            break;
        }
        names[i] = t;
        get(r, t, len);
        t[len] = '\0';
        t += len + 1;
        if (strlen(names[i]) != len)
            s = ht_error(HT_ERR_FORMAT, "%s: class name %zu holds a NUL byte",
                         path, i);
    }
    if (s == HT_OK && r->pos != r->len)
        s = ht_error(HT_ERR_FORMAT, "%s: %zu bytes after the class names",
                     path, r->len - r->pos);
    if (s == HT_OK) {
        s = ht_model_set_class_names(m, (const char *const *)names, n);
        if (s != HT_OK)
            s = ht_error(s == HT_ERR_NOMEM ? s : HT_ERR_FORMAT, "%s: invalid "
                         "class names in checkpoint: %s", path,
                         ht_last_error());
    }
    free(names);
    free(text);
    return s;
}

/* A checkpoint's header as read_head finds it. */
typedef struct ckpt_head {
    uint32_t version, sections, has_m, has_v;
    ht_config c;
    int epoch;
    uint64_t step, n_params;
    uint64_t hash;  /* version 3; 0 before it */
} ckpt_head;

/* Checks a checkpoint's magic, version, header layout and CRC-32 and reads
 * its header into h; r is left at the payload, its end before the CRC.
 * Nothing is allocated and nothing in the header is yet checked for
 * sense (ht_config_check, the payload's size): that is parse's. */
static ht_status read_head(const char *path, const unsigned char *p,
                           size_t len, rbuf *r, ckpt_head *h)
{
    memset(h, 0, sizeof *h);
    if (len < 8 + 4 + 4 + 4 || memcmp(p, CKPT_MAGIC, 8) != 0)
        return ht_error(HT_ERR_FORMAT, "%s: not an hpctrain checkpoint (bad "
                        "magic or too short: %zu bytes)", path, len);
    uint32_t crc_stored;
    memcpy(&crc_stored, p + len - 4, 4);
    *r = (rbuf){p, len - 4, 8, 0};
    h->version = get_u32(r);
    if (h->version < CKPT_VERSION || h->version > CKPT_VERSION_HASH)
        return ht_error(HT_ERR_FORMAT, "%s: checkpoint version %u, this build "
                        "reads versions %u to %u", path, h->version,
                        CKPT_VERSION, CKPT_VERSION_HASH);
    const uint32_t hlen = get_u32(r);
    get_config(r, &h->c);
    h->epoch = (int)get_u32(r);
    h->step = get_u64(r);
    h->n_params = get_u64(r);
    h->has_m = get_u32(r);
    h->has_v = get_u32(r);
    if (h->version >= CKPT_VERSION_HASH)
        h->hash = get_u64(r);
    if (h->version >= CKPT_VERSION_SECTIONS)
        h->sections = get_u32(r);
    /* version 2 existed only to carry sections, so it had one at least */
    const int bad_sections = (h->sections & ~SEC_ALL) != 0 ||
        (h->version == CKPT_VERSION_SECTIONS && h->sections == 0);
    if (!bad_sections && (h->sections & SEC_WARMUP)) {
        h->c.warmup_steps = get_u64(r);
        if (h->c.warmup_steps == 0)
            r->short_read = 1;   /* written only when set */
    }
    if (r->short_read || bad_sections || r->pos != 16 + (size_t)hlen)
        return ht_error(HT_ERR_FORMAT, "%s: truncated or malformed checkpoint "
                        "header", path);
    if (ht_crc32(p, len - 4) != crc_stored)
        return ht_error(HT_ERR_CHECKSUM, "%s: checksum mismatch: the file is "
                        "corrupted", path);
    return HT_OK;
}

/* Parses a checkpoint into a new model. */
static ht_status parse(const char *path, const unsigned char *p, size_t len,
                       ht_model **out)
{
    rbuf r;
    ckpt_head hd;
    ht_status s = read_head(path, p, len, &r, &hd);
    if (s != HT_OK)
        return s;
    const ht_config c = hd.c;
    const int epoch = hd.epoch;
    const uint64_t step = hd.step, n_params = hd.n_params;
    const uint32_t has_m = hd.has_m, has_v = hd.has_v;
    const uint32_t sections = hd.sections;
    const int has_norm = (sections & SEC_NORM) != 0;
    s = ht_config_check(&c);
    if (s != HT_OK)
        return ht_error(HT_ERR_FORMAT, "%s: invalid configuration in "
                        "checkpoint: %s", path, ht_last_error());
    /* The payload must match the architecture before the model exists: a
     * damaged header naming huge layers would otherwise have the model's
     * slabs allocated (gigabytes for a few hundred bytes of file) only to
     * be rejected afterwards. Sizes are at most 2^24 (ht_config_check),
     * so none of these products overflows. */
    int want_m, want_v;
    const size_t want_params = ht_config_n_params(&c, &want_m, &want_v);
    const size_t bytes = want_params * sizeof(float);
    const size_t norm_bytes = has_norm ? 2 * c.sizes[0] * sizeof(float) : 0;
    const size_t fixed = bytes * (size_t)(1 + want_m + want_v) + norm_bytes;
    if (n_params != want_params || (uint32_t)want_m != has_m ||
        (uint32_t)want_v != has_v ||
        ((sections & SEC_NAMES) ? r.len - r.pos < fixed
                                : r.len - r.pos != fixed))
        return ht_error(HT_ERR_FORMAT, "%s: truncated checkpoint: payload "
                        "does not match its architecture", path);
    ht_model *m;
    s = ht_model_create(&c, &m);
    if (s != HT_OK)
        return s;
    get(&r, m->params, bytes);
    if (want_m)
        get(&r, m->opt_m, bytes);
    if (want_v)
        get(&r, m->opt_v, bytes);
    if (has_norm) {
        const size_t d = c.sizes[0];
        float *t = malloc(norm_bytes);
        if (t == NULL) {
            ht_model_free(m);
            return ht_error(HT_ERR_NOMEM, "%s: out of memory", path);
        }
        get(&r, t, norm_bytes);
        s = ht_model_set_input_transform(m, t, t + d);
        free(t);
        if (s != HT_OK) {
            ht_model_free(m);
            return ht_error(HT_ERR_FORMAT, "%s: invalid input transform in "
                            "checkpoint: %s", path, ht_last_error());
        }
    }
    if (sections & SEC_NAMES) {
        s = get_names(path, &r, m);
        if (s != HT_OK) {
            ht_model_free(m);
            return s;
        }
    }
    /* Last, once the file is known to be well formed: a mismatch here means
     * weights that differ from the ones whose hash the writer stored. */
    if (hd.version >= CKPT_VERSION_HASH) {
        const uint64_t got = ht_model_hash(m);
        if (got != hd.hash) {
            ht_model_free(m);
            return ht_error(HT_ERR_CHECKSUM, "%s: weights hash mismatch: the "
                            "checkpoint stores %016llx, its weights as loaded "
                            "hash to %016llx", path,
                            (unsigned long long)hd.hash,
                            (unsigned long long)got);
        }
    }
    m->epoch = epoch;
    m->ckpt_version = hd.version;
    m->step = step;
    *out = m;
    return HT_OK;
}

ht_status ht_model_load(const char *path, ht_model **out)
{
    if (path == NULL || out == NULL)
        return ht_error(HT_ERR_ARG, "ht_model_load: NULL argument");
    *out = NULL;
    void *data;
    size_t len;
    ht_status s = ht_file_read_all(path, &data, &len);
    if (s != HT_OK)
        return s;
    s = parse(path, data, len, out);
    free(data);
    return s;
}

ht_status ht_checkpoint_stored_hash(const char *path, uint64_t *hash,
                                    unsigned *version)
{
    if (path == NULL || hash == NULL || version == NULL)
        return ht_error(HT_ERR_ARG, "ht_checkpoint_stored_hash: NULL "
                        "argument");
    *hash = 0;
    *version = 0;
    void *data;
    size_t len;
    ht_status s = ht_file_read_all(path, &data, &len);
    if (s != HT_OK)
        return s;
    rbuf r;
    ckpt_head h;
    s = read_head(path, data, len, &r, &h);
    free(data);
    if (s == HT_OK) {
        *hash = h.hash;
        *version = h.version;
    }
    return s;
}

static void arch_str(const ht_config *c, char *buf, size_t len)
{
    size_t pos = 0;
    buf[0] = '\0';
    for (size_t l = 0; l <= c->n_layers && pos + 1 < len; l++) {
        ht_snprintf(buf + pos, len - pos, l ? "-%zu" : "%zu", c->sizes[l]);
        pos += strlen(buf + pos);
    }
}

ht_status ht_model_load_into(ht_model *m, const char *path)
{
    if (m == NULL)
        return ht_error(HT_ERR_ARG, "ht_model_load_into: NULL model");
    ht_model *src;
    ht_status s = ht_model_load(path, &src);
    if (s != HT_OK)
        return s;
    int same = src->cfg.n_layers == m->cfg.n_layers;
    for (size_t l = 0; same && l <= m->cfg.n_layers; l++)
        same = src->cfg.sizes[l] == m->cfg.sizes[l];
    if (!same) {
        char a[160], b[160];
        arch_str(&src->cfg, a, sizeof a);
        arch_str(&m->cfg, b, sizeof b);
        ht_model_free(src);
        return ht_error(HT_ERR_SHAPE, "%s: checkpoint architecture %s does "
                        "not match %s", path, a, b);
    }
    /* The transform and the class names go with the weights that were
     * trained with them. Both allocate, so both are prepared before m
     * changes: a failure leaves m untouched. */
    const size_t outs = m->cfg.sizes[m->cfg.n_layers];
    char **names = NULL;
    if (src->class_names &&
        (names = ht_names_dup((const char *const *)src->class_names, outs)) ==
            NULL) {
        ht_model_free(src);
        return ht_error(HT_ERR_NOMEM, "%s: out of memory", path);
    }
    s = ht_model_set_input_transform(m, src->in_shift, src->in_scale);
    if (s != HT_OK) {
        free(names);
        ht_model_free(src);
        return s;
    }
    free(m->class_names);
    m->class_names = names;
    const size_t bytes = m->n_params * sizeof(float);
    memcpy(m->params, src->params, bytes);
    if (m->opt_m) {
        if (src->opt_m)
            memcpy(m->opt_m, src->opt_m, bytes);
        else
            memset(m->opt_m, 0, bytes);
    }
    if (m->opt_v) {
        if (src->opt_v)
            memcpy(m->opt_v, src->opt_v, bytes);
        else
            memset(m->opt_v, 0, bytes);
    }
    m->epoch = src->epoch;
    m->step = src->step;
    m->ckpt_version = src->ckpt_version;
    ht_model_free(src);
    return HT_OK;
}

unsigned ht_model_checkpoint_version(const ht_model *m)
{
    return m ? m->ckpt_version : 0;
}
