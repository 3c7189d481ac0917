#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
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

/* A placed block is one page of header followed by the caller's pages, so
 * the caller's memory starts on a page boundary (binding and first touch
 * work per page) and the free function finds how the block was made. */
#define PLACED_MAGIC 0x6874706c61636564ull /* "htplaced" */

typedef struct placed_hdr {
    uint64_t magic;
    ht_numa_buf buf;   /* buf.topo == NULL: posix_memalign'ed, free() it */
} placed_hdr;

static size_t page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

void *ht_aligned_alloc_placed(ht_topology *t, size_t bytes,
                              ht_mem_policy policy, int node,
                              ht_mem_policy *in_force)
{
    const size_t page = page_size();
    if (bytes == 0) {
        ht_error(HT_ERR_ARG, "ht_aligned_alloc_placed: size 0");
        return NULL;
    }
    if (bytes > (size_t)-1 - 2 * page) {
        ht_error(HT_ERR_NOMEM, "ht_aligned_alloc_placed: %zu bytes", bytes);
        return NULL;
    }
    ht_numa_buf b;
    if (t) {
        if (ht_numa_alloc(t, bytes + page, policy, node, &b) != HT_OK)
            return NULL;
    } else {
        memset(&b, 0, sizeof b);
        size_t mapped = (bytes + page - 1) / page * page + page;
        if (posix_memalign(&b.ptr, page, mapped) != 0) {
            ht_error(HT_ERR_NOMEM, "ht_aligned_alloc_placed: cannot allocate "
                     "%zu bytes", mapped);
            return NULL;
        }
        b.bytes = bytes + page;
        b.mapped = mapped;
        b.requested = b.in_force = HT_MEM_FIRST_TOUCH;
        b.node = -1;
    }
    placed_hdr *h = b.ptr;
    h->magic = PLACED_MAGIC;
    h->buf = b;
    if (in_force)
        *in_force = b.in_force;
    return (char *)b.ptr + page;
}

void ht_aligned_free_placed(void *p)
{
    if (!p)
        return;
    placed_hdr *h = (placed_hdr *)((char *)p - page_size());
    if (h->magic != PLACED_MAGIC)
        return; /* not ours: leaking beats freeing a foreign pointer */
    h->magic = 0;
    ht_numa_buf b = h->buf;
    if (b.topo)
        ht_numa_free(&b);
    else
        free(b.ptr);
}
