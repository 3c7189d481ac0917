#include <stdlib.h>

#include "internal.h"

void *ht_aligned_alloc(size_t bytes)
{
    if (bytes == 0)
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0)
        return NULL;
    return p;
}

void ht_aligned_free(void *p)
{
    free(p);
}
