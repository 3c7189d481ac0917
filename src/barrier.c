/* Sense-reversing barrier with a generation counter in place of the sense
 * bit: a thread reads the generation before it arrives, the last arrival
 * resets the count and bumps the generation, the others spin until it
 * changes. The generation cannot move before this thread arrives, so the
 * read is never stale, and the count is reset before the bump, so the next
 * episode can start at once. C11 atomics only: no OpenMP construct, so it
 * works for any subset of a team and never runs OpenMP tasks. */
#include <sched.h>

#include "barrier.h"

/* Spins this many polls before yielding the CPU: a barrier between
 * balanced threads is crossed in well under this, and yielding keeps an
 * oversubscribed machine (more threads than cores) from stalling. */
#define SPIN_POLLS 4000

void ht_barrier_init(ht_barrier *b)
{
    atomic_init(&b->arrived, 0u);
    atomic_init(&b->generation, 0u);
}

void ht_barrier_wait(ht_barrier *b, unsigned n)
{
    if (n <= 1) {
        atomic_thread_fence(memory_order_seq_cst);
        return;
    }
    const unsigned gen = atomic_load_explicit(&b->generation,
                                              memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->arrived, 1u, memory_order_acq_rel) ==
        n - 1) {
        atomic_store_explicit(&b->arrived, 0u, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->generation, 1u, memory_order_release);
        return;
    }
    unsigned polls = 0;
    while (atomic_load_explicit(&b->generation, memory_order_acquire) == gen) {
        if (++polls >= SPIN_POLLS) {
            polls = 0;
            sched_yield();
        }
    }
}
