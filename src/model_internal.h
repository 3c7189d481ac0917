/* The model's internal layout, shared by model.c, train.c and checkpoint.c.
 *
 * Memory (llm.c style): one slab per tensor group, pointers carved out of it.
 *   params : W0 b0 W1 b1 ... (W_l is sizes[l] x sizes[l+1], row-major)
 *   grads  : same layout
 *   opt_m  : same layout (SGD velocity / Adam first moment); NULL if unused
 *   opt_v  : same layout (Adam second moment); NULL if unused
 *   work   : activations and gradients for cfg.batch rows
 * Parameter slabs are placed by plan->param_policy (bound to the node, or
 * interleaved over nodes); the work slab is first-touched row by row by
 * the thread that owns the rows (docs/numa.md). src/sched.c places them.
 */
#ifndef HT_MODEL_INTERNAL_H
#define HT_MODEL_INTERNAL_H

#include <stdint.h>

#include "hpctrain.h"
#include "hpctrain/topology.h"

struct ht_model {
    ht_config cfg;
    int epoch;
    uint64_t step;
    unsigned ckpt_version; /* format of the checkpoint loaded, 0: none */

    size_t n_params;
    size_t w_off[HT_MAX_LAYERS], b_off[HT_MAX_LAYERS];
    float *params, *grads, *opt_m, *opt_v;

    /* Work space for up to cfg.batch rows. act[0] is the input batch (after
     * input dropout); act[l+1] is layer l's output (hidden: after ReLU and
     * dropout; last: logits or predictions). */
    float *work;
    float *act[HT_MAX_LAYERS + 1];
    float *probs;                 /* softmax output, batch x n_out           */
    float *dbuf[2];               /* gradient ping-pong, batch x max width    */
    uint32_t *mask[HT_MAX_LAYERS + 1];
    size_t mask_ld[HT_MAX_LAYERS + 1];
    int32_t *labels;              /* batch labels (classification)            */
    float *targets;               /* batch targets (regression)               */
    /* Double-buffered input batch: step i reads buffer i & 1 while the
     * rows of step i+1 are gathered into the other; act[0], labels and
     * targets alias buffer 0 outside a run. */
    float *xbuf[2];
    int32_t *labbuf[2];
    float *tgtbuf[2];
    float *loss_row;
    size_t *perm;                 /* epoch permutation, grown on demand       */
    size_t perm_cap;
    /* Input standardisation (src/input_norm.c): sizes[0] shifts then
     * sizes[0] scales in one allocation owned here, or both NULL. */
    float *in_shift, *in_scale;
    /* Named classes (src/class_names.c): sizes[n_layers] names in one
     * allocation (ht_names_dup), or NULL. */
    char **class_names;

    ht_profile prof;

    /* Placement (src/sched.c). topo is the process topology (not owned;
     * NULL if hwloc could not load); plan is for plan_threads threads and
     * cfg.batch rows, NULL when there is no topology or more threads than
     * usable PUs were asked for. */
    ht_topology *topo;
    ht_plan *plan;
    int plan_threads;
    int bind_refused;             /* a binding failed: stop retrying      */
    ht_mem_policy param_policy, param_in_force, work_in_force;
    size_t n_rowbufs;             /* per-row arrays of the work slab      */
    struct { void *base; size_t row_bytes; } rowbuf[2 * HT_MAX_LAYERS + 12];
    /* The team's GEMM packing buffers (ht_sched_pack), kept across runs:
     * the shared one (claim words, shared B panels) placed by the plan's
     * parameter policy, and one per thread (its A panels and own B panels)
     * on that thread's node; pack_fresh[i]: thread i has not yet touched
     * its share of a fresh shared buffer (it does in ht_sched_enter). */
    float *pack_shared;
    size_t pack_shared_floats;
    float **pack_own;
    unsigned char *pack_fresh;
    size_t pack_own_floats;
    int pack_threads;
    ht_mem_policy pack_shared_in_force, pack_own_in_force;
};

/* Allocates the slabs of a model whose cfg is set; zeroes state. */
ht_status ht_model_alloc(ht_model *m);

/* What ht_model_alloc will allocate for a valid configuration c, computed
 * without allocating: the parameter slab's floats (weights and biases,
 * each padded to whole cache lines) and whether the optimiser keeps a
 * first (*need_m) and second (*need_v) moment slab of that size. The
 * checkpoint reader checks a file's payload against these before it
 * creates the model, so a damaged file cannot make it allocate. */
size_t ht_config_n_params(const ht_config *c, int *need_m, int *need_v);

/* Placement (src/sched.c). ht_sched_team: the team size for the next
 * region (ht_get_num_threads()), with the plan made for that size if it
 * changed; not inside a parallel region. ht_sched_no_nesting: limits
 * OpenMP to one active level (nothing called inside the team may fork a
 * region of its own, an external OpenMP BLAS included) and returns the
 * caller's setting, which ht_sched_restore_nesting puts back after the
 * region: the host program's nesting is not changed for good.
 * ht_sched_enter: called by every thread at the start of a region; binds
 * it per the plan unless OpenMP owns binding or binding was refused.
 * ht_sched_alloc: allocates the slabs through the NUMA layer (untouched).
 * ht_sched_first_touch: zeroes the slabs from a team, each thread its
 * share of the parameter slabs and its rows of every m->rowbuf (the
 * plan's schedule), binding first; the gaps between row buffers (line
 * padding) are never read and stay untouched. */
int ht_sched_team(ht_model *m);
int ht_sched_no_nesting(void);
void ht_sched_restore_nesting(int levels);
void ht_sched_enter(ht_model *m, int tid, int nt);
/* The calling thread's CPU binding, saved before a region in which
 * ht_sched_enter binds it (as thread 0) to the plan's PU, and put back
 * after it, so that the host thread, and any thread it creates later, is
 * not left on one PU. NULL (nothing to restore) when nothing is bound: no
 * plan, a fake topology, or OpenMP owns binding. Not inside a region. */
void *ht_sched_caller_save(const ht_model *m);
/* Threads a row phase (dropout masks, ReLU backward: per-row work) of a
 * team of nt runs on, when its work alone asks for `want`: `want`, except
 * under a plan (for nt threads) with several NUMA domains, where it is
 * nt, so that thread i takes rows [floor(i*B/nt), floor((i+1)*B/nt)),
 * the plan's schedule, by which the work slab's rows were first touched:
 * each row's pass then runs on the node that holds the row. Pure. */
int ht_sched_row_threads(const ht_plan *plan, int nt, int want);
void ht_sched_caller_restore(const ht_model *m, void *saved);
ht_status ht_sched_alloc(ht_model *m, size_t param_floats, int need_m,
                         int need_v, size_t work_floats);
void ht_sched_first_touch(ht_model *m, size_t param_floats);
void ht_sched_free(ht_model *m);

/* Makes the model's packing buffers (m->pack_*) hold at least `shared`
 * floats and, for each of T threads, `own` floats. Nothing happens when
 * they already do for T threads, so warm runs allocate nothing; otherwise
 * all are freed and made again, none smaller than before. The shared
 * buffer is placed by the current plan's parameter policy (bound, or
 * interleaved over the plan's nodes; first touch without a plan, and then
 * touched by the team in ht_sched_enter); thread i's own buffer is bound
 * to the node of its plan domain, or left to first touch, which only
 * thread i does. HT_ERR_NOMEM if an allocation fails (no buffers are left
 * then). Not inside a parallel region; after ht_sched_team. */
ht_status ht_sched_pack(ht_model *m, int T, size_t shared, size_t own);

/* ht_sched_pack for what a team of T threads needs to run steps of `bs`
 * rows and a last step of `last` rows (0: none), forward only or with the
 * backward pass (src/train.c). Same rules as ht_sched_pack. */
ht_status ht_train_reserve_pack(ht_model *m, int T, size_t bs, size_t last,
                                int backward);

/* Applies the model's input transform, if any, to `rows` rows of
 * sizes[0] floats at x, in place. */
void ht_input_norm_apply(const ht_model *m, float *x, size_t rows);

/* Checks n class names as ht_model_set_class_names does (HT_ERR_ARG with
 * a message). */
ht_status ht_class_names_check(const char *const *names, size_t n);

/* Wall clock in seconds (monotonic). */
double ht_now(void);

#endif
