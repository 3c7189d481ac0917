/* The model's internal layout, shared by model.c, train.c and checkpoint.c.
 *
 * Memory (llm.c style): one slab per tensor group, pointers carved out of it.
 *   params : W0 b0 W1 b1 ... (W_l is sizes[l] x sizes[l+1], row-major)
 *   grads  : same layout
 *   opt_m  : same layout (SGD velocity / Adam first moment); NULL if unused
 *   opt_v  : same layout (Adam second moment); NULL if unused
 *   work   : activations and gradients for cfg.batch rows
 */
#ifndef HT_MODEL_INTERNAL_H
#define HT_MODEL_INTERNAL_H

#include <stdint.h>

#include "hpctrain.h"

struct ht_model {
    ht_config cfg;
    int epoch;
    uint64_t step;

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
    float *loss_row;
    size_t *perm;                 /* epoch permutation, grown on demand       */
    size_t perm_cap;

    ht_profile prof;
};

size_t ht_model_layer_in(const ht_model *m, size_t l);
size_t ht_model_layer_out(const ht_model *m, size_t l);

/* Allocates the slabs of a model whose cfg is set; zeroes state. */
ht_status ht_model_alloc(ht_model *m);

/* Wall clock in seconds (monotonic). */
double ht_now(void);



/* Gathers rows idx[0..B) (NULL: the first B rows) of ds, runs forward
 * (with dropout at the current step if train) and backward, leaving the
 * gradients of the mean batch loss (without regularisation terms) in
 * m->grads and the mean loss in *loss. No optimiser step. For tests. */
ht_status ht_model_batch_grad(ht_model *m, const ht_dataset *ds,
                              const size_t *idx, size_t B, int train,
                              double *loss);
#endif
