/* Internal data-set helpers shared by the loaders (data_idx.c, data_csv.c),
 * the splitter and the trainer. */
#ifndef HT_DATASET_INTERNAL_H
#define HT_DATASET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hpctrain.h"

/* Allocates a data set of n rows of d features: x (64-byte aligned,
 * uninitialised) and, when n_targets == 0, an int32 label array (a
 * classification set; n_classes starts at 0), otherwise an n x n_targets
 * target array. `what` names the source in the error message. Returns
 * HT_ERR_NOMEM (also when n*d overflows). Free with ht_dataset_free.
 * Thread-safe. */
ht_status ht_dataset_alloc(size_t n, size_t d, size_t n_targets,
                           const char *what, ht_dataset **out);

/* Copies rows idx[0..count) of ds into contiguous buffers: x_out gets
 * count x ds->d floats, label_out count labels, target_out count x
 * ds->n_targets targets. label_out/target_out may be NULL (skipped, and
 * ignored when ds has no labels/targets). Every idx[i] must be < ds->n
 * (unchecked: this runs in the training loop). Does not allocate;
 * thread-safe; may run inside a parallel region on disjoint outputs. */
void ht_dataset_gather(const ht_dataset *ds, const size_t *idx, size_t count,
                       float *x_out, int32_t *label_out, float *target_out);

/* A copy of n NUL-terminated names in one allocation (free() it once):
 * the pointer array, then the text. NULL when out of memory. Thread-safe. */
char **ht_names_dup(const char *const *names, size_t n);

/* A name and its index in a list. ht_names_sorted: the n names as (name,
 * index) pairs in a new array (free() it) sorted by strcmp, then index;
 * *dup is the position of the first entry equal to its predecessor, or n
 * when all are distinct. NULL when out of memory. Thread-safe. */
typedef struct ht_name_ix {
    const char *s;
    size_t i;
} ht_name_ix;
ht_name_ix *ht_names_sorted(const char *const *names, size_t n, size_t *dup);

/* The permutation ht_dataset_split uses, exposed for tests: perm[0..n) is
 * a Fisher-Yates shuffle of 0..n-1 driven by splitmix64 from seed. For
 * i = n-1 down to 1, j is drawn uniformly from [0, i]: the next
 * splitmix64 output r, rejected while r < (2^64 - (i+1)) mod (i+1), then
 * j = r mod (i+1); perm[i] and perm[j] are swapped. Does not allocate; thread-safe. */
void ht_permutation(size_t *perm, size_t n, uint64_t seed);

#endif /* HT_DATASET_INTERNAL_H */
