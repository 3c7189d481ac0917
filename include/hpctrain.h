/* hpctrain: a neural-network trainer for multicore CPU servers.
 *
 * Public API. Conventions that hold for every function below unless its
 * comment says otherwise:
 *   - Functions return ht_status; HT_OK is 0. On error nothing the caller
 *     owns is modified half-way, and ht_last_error() gives a one-line
 *     explanation that names the file, value or argument at fault.
 *   - No function exits or aborts on bad input.
 *   - Matrices are row-major; a leading dimension is the distance in
 *     elements between the starts of two consecutive rows.
 *   - "Thread-safe" means: may be called concurrently from several threads on
 *     distinct objects. Functions that may run OpenMP parallel regions say
 *     so; they must not be called from inside a parallel region.
 */
#ifndef HPCTRAIN_H
#define HPCTRAIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HT_VERSION_MAJOR 0
#define HT_VERSION_MINOR 1
#define HT_VERSION_PATCH 0

/* ------------------------------------------------------------------ status */

typedef enum ht_status {
    HT_OK = 0,
    HT_ERR_ARG,         /* an argument is out of its documented range        */
    HT_ERR_NOMEM,       /* an allocation failed                              */
    HT_ERR_IO,          /* a file could not be opened, read or written       */
    HT_ERR_FORMAT,      /* a file is malformed (magic, truncation, syntax)   */
    HT_ERR_SHAPE,       /* sizes do not agree (data vs model, checkpoint)    */
    HT_ERR_ISA,         /* the requested instruction set is not available   */
    HT_ERR_DIVERGED,    /* training produced a NaN or Inf loss               */
    HT_ERR_CHECKSUM,    /* a checkpoint failed its integrity check           */
    HT_ERR_UNSUPPORTED  /* a fast path declines this case; caller falls back */
} ht_status;

/* A static string naming the status class ("invalid argument", ...).
 * Thread-safe; never NULL. */
const char *ht_status_str(ht_status s);

/* The message of the last error set by an hpctrain function on the calling
 * thread (thread-local storage), e.g. "train.csv:17: ragged row: 5 fields,
 * expected 785". Empty string when none. Valid until the next hpctrain call
 * on the same thread. Thread-safe. */
const char *ht_last_error(void);

/* --------------------------------------------------------------- runtime */

/* Selects the kernel table once per process: the best ISA the CPU supports,
 * or the one named by the environment variable HPCTRAIN_ISA
 * (scalar|avx2|avx512|neon). Returns HT_ERR_ISA if HPCTRAIN_ISA names an
 * unknown ISA or one this CPU or build lacks, and HT_ERR_ARG if
 * HPCTRAIN_STREAM_STORES is set to anything but auto, off or the empty
 * string (see ht_stream_stores; ht_isa_select does not clear that error).
 * Every other function calls it implicitly and returns its error.
 * Thread-safe (pthread_once). */
ht_status ht_runtime_init(void);

/* Name of the active kernel table ("scalar", "avx2", "avx512", "neon"), or
 * NULL if ht_runtime_init() failed. Thread-safe. */
const char *ht_isa_name(void);

/* Forces a kernel table by name, overriding HPCTRAIN_ISA. For tests and
 * benchmarks that compare tables in one process. NOT thread-safe: call it
 * only while no other hpctrain function runs. */
ht_status ht_isa_select(const char *name);

/* 1 if this build and CPU can run the named ISA, else 0. Thread-safe. */
int ht_isa_available(const char *name);

/* The i-th name of every ISA hpctrain has kernels for on any architecture
 * (whether or not this build or CPU can run it), NULL for i past the last:
 * for loops over ht_isa_available(). The string is static. Thread-safe. */
const char *ht_isa_known(size_t i);

/* Number of threads hpctrain's parallel regions use. Default: the physical
 * cores of the process's usable cpuset (no more than the OpenMP places when
 * OMP_PLACES / OMP_PROC_BIND bind to places), or OMP_NUM_THREADS clamped
 * to the usable PUs (ht_process_threads in hpctrain/topology.h); the
 * default is never more threads than PUs. ht_set_num_threads(n) may ask for
 * more (tests do; such a team runs unbound); the CLI refuses that.
 * ht_set_num_threads(0) restores the default. Not thread-safe. */
int ht_get_num_threads(void);
void ht_set_num_threads(int n);

/* ------------------------------------------------------------------ SGEMM */

enum { HT_NO_TRANS = 0, HT_TRANS = 1 };

/* C = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X or X^T.
 * op(A) is m x k, op(B) is k x n, C is m x n. A is stored m x k (lda >= k)
 * when transa == 0 and k x m (lda >= m) when transa == 1; likewise B.
 * beta == 0 means C is written without being read (NaN in C is ignored).
 * m, n or k == 0 is allowed (k == 0 scales C by beta).
 * Runs the packed, blocked driver on the active kernel table, with OpenMP
 * threads partitioning output tiles only, so the result is bitwise the same
 * for any thread count. Must not be called inside a parallel region.
 * Thread-safe with respect to other calls on distinct C (each call uses its
 * own packing workspace). Returns HT_ERR_ARG for a bad flag or leading
 * dimension, HT_ERR_NOMEM if the workspace cannot be allocated. */
ht_status ht_sgemm(int transa, int transb, size_t m, size_t n, size_t k,
                   float alpha, const float *a, size_t lda,
                   const float *b, size_t ldb,
                   float beta, float *c, size_t ldc);

/* What the GEMM does to each output element after the last K block, while
 * the tile is still in registers. Order: v = alpha*AB + beta*C; v += bias[j];
 * if relu: v = max(v, 0); if mask: v = bit(i,j) ? v*scale : 0. */
typedef struct ht_epilogue {
    const float *bias;     /* length n, added per column; NULL for none     */
    int relu;              /* nonzero: apply ReLU                           */
    const uint32_t *mask;  /* dropout keep-bits, row i starts at
                              mask + i*mask_ld; bit j of row i is
                              (w[j/32] >> (j%32)) & 1; NULL for none        */
    size_t mask_ld;        /* words per mask row, >= ceil(n/32)             */
    float scale;           /* multiplier for kept elements: the trainer's
                              is ht_dropout_scale(p), 1/(keep rate)         */
} ht_epilogue;

/* ht_sgemm with a fused epilogue (NULL epi = plain ht_sgemm). Same contract. */
ht_status ht_sgemm_ex(int transa, int transb, size_t m, size_t n, size_t k,
                      float alpha, const float *a, size_t lda,
                      const float *b, size_t ldb,
                      float beta, float *c, size_t ldc,
                      const ht_epilogue *epi);

/* ------------------------------------------------------------------- data */

/* A data set held in memory. x is n x d row-major, features as floats.
 * For classification `label` holds n class indices and `target` is NULL;
 * for regression `target` holds n x n_targets values and `label` is NULL;
 * a set of inputs only (HT_TARGET_NONE, ht_dataset_load_idx_images) has
 * neither: it can be predicted on, not trained or evaluated on. */
typedef struct ht_dataset {
    size_t n;          /* rows (samples)                                    */
    size_t d;          /* features per row                                  */
    float *x;          /* n*d, owned by the data set                        */
    int32_t *label;    /* n class indices in [0, n_classes), or NULL        */
    size_t n_classes;  /* 1 + largest label seen (classification), else 0   */
    float *target;     /* n*n_targets regression targets, or NULL           */
    size_t n_targets;  /* columns of target (regression), else 0            */
    char **class_names;/* named classes: n_classes NUL-terminated names,
                          label i is class_names[i]; NULL when classes are
                          numbered. Owned by the data set.                  */
} ht_dataset;

/* Loads an IDX image file and its IDX label file (the MNIST format), raw or
 * gzip-compressed (decided by content, not name). Pixels are scaled to
 * [0,1] (ubyte / 255); other IDX element types are converted as-is. Errors:
 * HT_ERR_IO (missing/unreadable), HT_ERR_FORMAT (bad magic, truncated data
 * or gzip, NaN/Inf values), HT_ERR_SHAPE (label count != image count).
 * On success *out is a new data set owned by the caller (ht_dataset_free).
 * Thread-safe. */
ht_status ht_dataset_load_idx(const char *images_path, const char *labels_path,
                              ht_dataset **out);

/* The images of an IDX file alone (inputs to predict on): as
 * ht_dataset_load_idx, with label and target NULL. Thread-safe. */
ht_status ht_dataset_load_idx_images(const char *images_path,
                                     ht_dataset **out);

/* Inputs to predict on, format told by content: IDX images (as
 * ht_dataset_load_idx_images) when the data, inflated first if gzip,
 * begins with the IDX magic's two zero bytes, else a CSV of features only
 * (ht_dataset_load_csv with HT_TARGET_NONE). Thread-safe. */
ht_status ht_dataset_load_inputs(const char *path, ht_dataset **out);

typedef enum ht_target_kind {
    HT_TARGET_CLASS = 0,     /* first column: integer class label >= 0      */
    HT_TARGET_REGRESSION = 1, /* first column: numeric target                */
    HT_TARGET_NONE = 2        /* no label column: every column is a feature  */
} ht_target_kind;

/* Loads a CSV file, raw or gzip-compressed (decided by content): one row
 * per line, first column the label or target, the rest the features
 * (HT_TARGET_NONE: every column a feature). Class labels are either all
 * non-negative integers or all names (any text but commas; "setosa";
 * numbers mixed with names are an error naming a line of each): the
 * classes are then the distinct names in byte order (strcmp), label i is
 * class_names[i], and a name of over 255 bytes is an error; comma separated, optional header line (a first
 * line whose fields are not all numbers). Empty lines are skipped. Errors
 * name the file and line: HT_ERR_IO, HT_ERR_FORMAT (bad number, ragged
 * row, NaN/Inf, negative or non-integer label). Thread-safe. */
ht_status ht_dataset_load_csv(const char *path, ht_target_kind kind,
                              ht_dataset **out);

/* Renumbers the named classes of ds as the n names given (a model's
 * classes, say): afterwards ds->class_names is a copy of names, n_classes
 * is n and each label indexes names. HT_ERR_SHAPE, ds unchanged, when ds
 * has a class that is not among names (the message names it), when ds's
 * classes are numbered, not named, or when names has duplicates. Not
 * thread-safe on the same data set. */
ht_status ht_dataset_use_classes(ht_dataset *ds, const char *const *names,
                                 size_t n);

/* Splits off the last `frac` of a seeded permutation of src's rows as a
 * validation set; both outputs are new data sets (src is untouched).
 * frac in (0,1); each side must get at least one row. Thread-safe. */
ht_status ht_dataset_split(const ht_dataset *src, double frac, uint64_t seed,
                           ht_dataset **train, ht_dataset **val);

/* Frees a data set; NULL is a no-op. */
void ht_dataset_free(ht_dataset *ds);

/* ------------------------------------------------------------------ model */

#define HT_MAX_LAYERS 16
/* ht_config.warmup_steps at most this (2^40) */
#define HT_MAX_WARMUP_STEPS (1ull << 40)

typedef enum ht_loss_kind {
    HT_LOSS_XENT = 0,  /* softmax + cross-entropy, mean over the batch      */
    HT_LOSS_MSE = 1    /* 1/(2m) * sum of squared errors (the seed's J)      */
} ht_loss_kind;

typedef enum ht_optimizer_kind {
    HT_OPT_SGD = 0,    /* SGD with optional (Nesterov) momentum             */
    HT_OPT_ADAM = 1,   /* Adam; l2 is a coupled gradient term               */
    HT_OPT_ADAMW = 2   /* Adam with decoupled weight decay                  */
} ht_optimizer_kind;

typedef enum ht_lr_schedule {
    HT_SCHED_CONSTANT = 0,
    HT_SCHED_STEP = 1,   /* lr * gamma^(epoch / step_epochs)               */
    HT_SCHED_COSINE = 2  /* lr * (1 + cos(pi * epoch / total_epochs)) / 2  */
} ht_lr_schedule;

/* Architecture and training hyper-parameters. ht_config_default() fills
 * the defaults the CLI uses. All regularisation coefficients apply to the
 * gradient of the mean batch loss:
 *   l1:  g += l1 * sign(w)           (penalty l1 * sum|w|, sign(0) = 0)
 *   l2:  g += l2 * w                 (penalty l2/2 * sum w^2)
 *   weight_decay (AdamW only): w -= lr * weight_decay * w, decoupled.
 * The seed text's lambda/(2m) * sum w^2 equals l2 = lambda/m. Regularisers
 * apply to weights, not biases, unless reg_bias is set. */
typedef struct ht_config {
    size_t n_layers;                   /* number of dense layers (>= 1)     */
    size_t sizes[HT_MAX_LAYERS + 1];   /* sizes[0] inputs ... sizes[n] out  */
    float dropout;                     /* on hidden activations, [0,1)      */
    float input_dropout;               /* on inputs, [0,1)                  */
    ht_loss_kind loss;
    ht_optimizer_kind optimizer;
    float lr;
    float momentum;                    /* SGD                               */
    int nesterov;                      /* SGD                               */
    float beta1, beta2, eps;           /* Adam, AdamW                       */
    float weight_decay;                /* AdamW decoupled decay             */
    float l1, l2;
    int reg_bias;                      /* apply l1/l2 to biases as well     */
    int prox_l1;                       /* L1 as soft-thresholding after the
                                          step (exact zeros) instead of the
                                          sign subgradient                  */
    ht_lr_schedule schedule;
    int step_epochs;                   /* HT_SCHED_STEP                     */
    float gamma;                       /* HT_SCHED_STEP                     */
    int total_epochs;                  /* HT_SCHED_COSINE                   */
    uint64_t warmup_steps;             /* linear warmup: optimiser step s
                                          (from 0, counted over the whole
                                          run, resumes included) with
                                          s < warmup_steps uses the
                                          schedule's rate x (s+1)/warmup;
                                          0: none. See ht_lr_at.            */
    size_t batch;
    uint64_t seed;                     /* init, shuffling and dropout       */
} ht_config;

void ht_config_default(ht_config *cfg);

/* Checks every field and returns HT_ERR_ARG with a message naming the
 * field and value on the first bad one. Thread-safe. */
ht_status ht_config_check(const ht_config *cfg);

/* The learning rate of optimiser step `step` (0-based over the whole run)
 * taken in epoch `epoch` (0-based): the schedule's rate for the epoch,
 * times (step+1)/warmup_steps while step < warmup_steps. The trainer uses
 * exactly this value; callers may use it to print or plot a schedule.
 * cfg must pass ht_config_check. Pure and thread-safe. */
float ht_lr_at(const ht_config *cfg, int epoch, uint64_t step);

typedef struct ht_model ht_model;

/* Creates a model: weights He/Kaiming-uniform from cfg->seed
 * (U(-sqrt(6/fan_in), +sqrt(6/fan_in))), biases zero, optimiser state zero,
 * epoch and step zero. Workspaces for cfg->batch rows are allocated here,
 * once, through the NUMA layer (docs/numa.md): a team of
 * ht_get_num_threads() threads binds to the placement plan and
 * first-touches them (unless OMP_PROC_BIND/OMP_PLACES leave binding to
 * OpenMP); the calling thread is thread 0, bound to its PU while the
 * library's region runs (here and in every training or evaluation call)
 * and given its own binding back afterwards. The model copies cfg. Free with ht_model_free. Thread-safe; not inside a
 * parallel region. */
ht_status ht_model_create(const ht_config *cfg, ht_model **out);
void ht_model_free(ht_model *m);

const ht_config *ht_model_config(const ht_model *m);
int ht_model_epoch(const ht_model *m);        /* completed epochs            */
uint64_t ht_model_step(const ht_model *m);    /* completed optimiser steps   */

/* Per-layer parameters: W of layer l is sizes[l] x sizes[l+1] row-major
 * (inputs x outputs), b has sizes[l+1] entries. Pointers into the model;
 * valid until ht_model_free. Writing through them is allowed between calls. */
float *ht_model_weights(ht_model *m, size_t layer);
float *ht_model_bias(ht_model *m, size_t layer);

/* Input standardisation: a per-feature map x' = (x - shift) * scale that
 * the model applies to every row it reads (training, evaluation,
 * prediction: the caller always passes raw features), saved in and loaded
 * from checkpoints. A model starts without one.
 *
 * ht_model_fit_standardize: shift = mean, scale = 1/standard deviation
 * (population, divided by n) of each feature over ds's rows, computed in
 * row order in double, so the same data gives the same bits on any thread
 * count; a constant feature gets shift = its value and scale = 1 (it maps
 * to 0). Fit on the training rows only, never on validation or test rows.
 * HT_ERR_SHAPE if ds->d != sizes[0] or ds is empty; HT_ERR_FORMAT if a
 * feature's spread is too small for a float scale (< ~3e-39).
 *
 * ht_model_set_input_transform: copies sizes[0] shifts and scales (finite;
 * scales non-zero, else HT_ERR_ARG); both NULL removes the transform.
 *
 * ht_model_input_transform: whether the model has one; *shift and *scale
 * (either pointer may be NULL) point into the model, valid until the next
 * set, fit or ht_model_free.
 *
 * None is thread-safe on the same model; not during a training call. */
ht_status ht_model_fit_standardize(ht_model *m, const ht_dataset *ds);
ht_status ht_model_set_input_transform(ht_model *m, const float *shift,
                                       const float *scale);
int ht_model_input_transform(const ht_model *m, const float **shift,
                             const float **scale);

/* Class names of a classifier (from a CSV with named classes), saved in
 * and loaded from checkpoints so eval and predict report names.
 * ht_model_set_class_names copies n = sizes[n_layers] names (HT_ERR_SHAPE
 * for another count); each must be 1..255 bytes without ',' or a line
 * break (they go into CSV output) and all distinct (HT_ERR_ARG, nothing
 * changed); names NULL removes them. ht_model_class_names: the names
 * (pointers into the model, valid until the next set or ht_model_free), or
 * NULL when the classes are numbered. Not thread-safe on the same model. */
ht_status ht_model_set_class_names(ht_model *m, const char *const *names,
                                   size_t n);
const char *const *ht_model_class_names(const ht_model *m);

/* Statistics of one epoch of training. */
typedef struct ht_epoch_stats {
    double loss;         /* mean data loss over the epoch's batches          */
    double penalty;      /* regularisation penalty at the end of the epoch:
                            l1*sum|w| + l2/2*sum w^2 (not in `loss`)         */
    double seconds;      /* wall time                                        */
    double samples_per_s;
    double sparsity;     /* fraction of weights exactly zero (biases not
                            counted), at the end of the epoch               */
    double lr;           /* learning rate of the epoch's last step (schedule
                            and warmup applied, ht_lr_at)                   */
    double layer_sparsity[HT_MAX_LAYERS]; /* the same per layer l <
                            n_layers (its weight matrix); 0 beyond          */
} ht_epoch_stats;

/* Called after every batch with (samples done, samples total, running mean
 * loss, user pointer), from the calling thread (thread 0 of the team),
 * between steps, outside the timed phases. May be NULL. */
typedef void (*ht_progress_fn)(size_t done, size_t total, double loss,
                               void *user);

/* Trains one epoch over `train` (shuffled from seed and epoch; a final
 * partial batch is used). Checks that train matches the architecture
 * (HT_ERR_SHAPE). Returns HT_ERR_DIVERGED, leaving the weights of the last
 * good step, if the loss becomes NaN or Inf. Runs the whole epoch in one
 * OpenMP parallel region of ht_get_num_threads() threads (bitwise the same
 * weights for any count); HT_ERR_ARG if called inside a parallel region.
 * Not thread-safe on the same model. */
ht_status ht_model_train_epoch(ht_model *m, const ht_dataset *train,
                               ht_progress_fn progress, void *user,
                               ht_epoch_stats *stats);

/* Forward and backward on one batch, without the optimiser step: rows
 * idx[0..B) of ds (idx NULL: its first B rows), with dropout at the
 * model's current step if train is non-zero, no dropout otherwise. Leaves
 * the gradients of the mean batch loss, data term only (no regulariser),
 * where ht_model_grad_weights / ht_model_grad_bias point, and the mean
 * loss in *loss. B in 1..batch and every index below ds->n, else
 * HT_ERR_ARG; ds is checked as by ht_model_train_epoch. The same
 * partitions as training: bitwise the same gradients for any thread
 * count. Changes no parameter, state, epoch or step. Runs one OpenMP
 * parallel region (HT_ERR_ARG inside one). Not thread-safe on the same
 * model. For gradient checks, custom update rules and timing the step
 * without its update (`hpctrain bench --optim-cost`). */
ht_status ht_model_batch_grad(ht_model *m, const ht_dataset *ds,
                              const size_t *idx, size_t B, int train,
                              double *loss);

/* Layer l's gradients, laid out as ht_model_weights / ht_model_bias: those
 * of the last ht_model_batch_grad. A training step does not keep its
 * weight gradients: it hands each tile of them from the GEMM straight to
 * the optimiser (one write and one read of every gradient fewer), so after
 * one the weight gradients are unspecified and the bias gradients are the
 * step's. Pointers into the model, valid until ht_model_free; NULL for
 * l >= n_layers. */
const float *ht_model_grad_weights(const ht_model *m, size_t layer);
const float *ht_model_grad_bias(const ht_model *m, size_t layer);

typedef struct ht_eval_stats {
    double loss;       /* mean data loss                                    */
    double accuracy;   /* classification: fraction correct; MSE: 0          */
    size_t n;
} ht_eval_stats;

/* Evaluates (no dropout) on a data set. Runs one OpenMP parallel region;
 * HT_ERR_ARG inside one. */
ht_status ht_model_evaluate(ht_model *m, const ht_dataset *ds,
                            ht_eval_stats *stats);

/* Writes predictions (n x sizes[n_layers]; probabilities for XENT, values for
 * MSE) for rows of x into out (caller-allocated). Runs one OpenMP parallel
 * region; HT_ERR_ARG inside one. */
ht_status ht_model_predict(ht_model *m, const float *x, size_t n, float *out);

/* Checkpoint: architecture, configuration (warmup included), weights,
 * optimiser state, epoch and step, and the input transform and class
 * names if set, written atomically (temporary file in the same directory,
 * fsync, rename) with a CRC-32 over the content. A failed save leaves an
 * existing file at `path` untouched. */
ht_status ht_model_save(const ht_model *m, const char *path);

/* Loads a checkpoint into a new model. HT_ERR_FORMAT for a truncated or
 * foreign file, HT_ERR_CHECKSUM for a corrupted one. */
ht_status ht_model_load(const char *path, ht_model **out);

/* Loads a checkpoint's state into an existing model of the same
 * architecture (HT_ERR_SHAPE otherwise), keeping m's hyper-parameters.
 * The state includes the input transform: m gets the checkpoint's, or
 * none if the checkpoint has none. Used by --resume. */
ht_status ht_model_load_into(ht_model *m, const char *path);

/* Checkpoints of format version 3 (all that ht_model_save writes) store
 * ht_model_hash of the model as saved; ht_model_load recomputes it from
 * the loaded model and refuses a mismatch (HT_ERR_CHECKSUM, both hashes
 * in the message). This reads the file at `path`, checks its magic,
 * header and CRC-32 (errors as ht_model_load's) without building a model,
 * and gives its format version and stored hash; versions 1 and 2 store
 * none: *hash is then 0. Allocates nothing that outlives the call;
 * thread-safe. */
ht_status ht_checkpoint_stored_hash(const char *path, uint64_t *hash,
                                    unsigned *version);

/* The format version of the checkpoint m was last loaded from
 * (ht_model_load, ht_model_load_into), 0 if none. For version >= 3 the
 * load has compared the stored hash with ht_model_hash of the weights as
 * loaded, so the two were equal then: no need to read the file again.
 * Thread-safe on a model nobody modifies. */
unsigned ht_model_checkpoint_version(const ht_model *m);

/* Per-kernel profile: wall seconds, floating-point operations and calls per
 * kind of work, accumulated over all training and evaluation calls since the
 * model was created or the profile was reset. Always on (two clock reads per
 * phase and thread, and two per row-gather task). */
typedef enum ht_prof_kind {
    HT_PROF_GEMM_FWD = 0,   /* forward GEMMs (with fused bias/ReLU/dropout) */
    HT_PROF_GEMM_BWD_DATA,  /* dY * W^T                                     */
    HT_PROF_GEMM_BWD_WEIGHT,/* X^T * dY, with the weights' regulariser +
                               optimiser step fused in, tile by tile       */
    HT_PROF_ELEMENTWISE,    /* bias grads and the biases' optimiser step,
                               ReLU/dropout backward                       */
    HT_PROF_DROPOUT,        /* dropout mask generation and input dropout    */
    HT_PROF_LOSS,           /* softmax/cross-entropy or MSE                 */
    HT_PROF_OPTIM,          /* optimiser steps: calls and parameters only;
                               their time is in the two kinds above        */
    HT_PROF_DATA,           /* shuffling and gathering batch rows           */
    HT_PROF_COUNT
} ht_prof_kind;

/* Kinds that have a per-layer split (the three GEMM kinds). */
#define HT_PROF_LAYER_KINDS (HT_PROF_GEMM_BWD_WEIGHT + 1)

/* seconds: thread 0's wall time per kind, from the barrier that opens a
 * phase to the one that closes it; so it includes thread 0's own wait.
 * team_seconds / wait: summed over the threads of the team, each thread's
 * time in phases of this kind (from leaving one barrier to leaving the
 * next) and the part of it spent waiting at the closing barrier, less any
 * row gathers it ran there (OpenMP tasks); wait / team_seconds, at most 1,
 * is the share of the team's time lost to load imbalance and
 * synchronisation. layer_*: the
 * GEMM kinds split by dense layer (index 0 = first layer).
 * gather_seconds: thread-seconds of gathering the next batch's rows; these
 * tasks run inside the phases above, mostly at their barriers, so their
 * time is part of those kinds' seconds and waits. */
typedef struct ht_profile {
    double seconds[HT_PROF_COUNT];
    double flops[HT_PROF_COUNT];
    uint64_t calls[HT_PROF_COUNT];
    double wait[HT_PROF_COUNT];
    double team_seconds[HT_PROF_COUNT];
    double layer_seconds[HT_PROF_LAYER_KINDS][HT_MAX_LAYERS];
    double layer_flops[HT_PROF_LAYER_KINDS][HT_MAX_LAYERS];
    uint64_t layer_calls[HT_PROF_LAYER_KINDS][HT_MAX_LAYERS];
    double gather_seconds;
} ht_profile;

/* Static name of a profile kind ("gemm_fwd", ...). */
const char *ht_prof_name(ht_prof_kind k);
void ht_model_profile(const ht_model *m, ht_profile *out);
void ht_model_profile_reset(ht_model *m);

/* 64-bit FNV-1a hash of all weights and biases (bit patterns), then of
 * the input transform's shifts and scales if the model has one, for
 * comparing runs bit for bit. */
uint64_t ht_model_hash(const ht_model *m);

/* Start-up text for a model: the thread count and where each thread is
 * really bound (as read back from the kernel after binding; "not bound"
 * when it failed, "left to OpenMP" under OMP_PROC_BIND/OMP_PLACES), then
 * the memory policy in force for its parameter and work slabs, and at most
 * one "warning:" line. Two or three lines, each ending in '\n'; always
 * NUL-terminated when len > 0; returns the length the whole text needs,
 * like snprintf. Meaningful after ht_model_create (which places the slabs
 * and binds the threads once). Not inside a parallel region; not
 * concurrently with training the same model. */
size_t ht_model_placement_describe(const ht_model *m, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* HPCTRAIN_H */
