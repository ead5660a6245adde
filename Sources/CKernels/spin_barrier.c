#define _GNU_SOURCE
#include "CKernels.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * A barrier for a few threads that meet often and briefly: the two halves of one LSTM
 * direction meet once per time step, every few tens of microseconds, where a futex
 * sleep and wake-up would cost as much as the step. Waiters spin on a generation
 * counter with a pause instruction; after a bounded spin they call sched_yield on each
 * turn, so a partner that was descheduled (another process on the core) does not leave
 * the waiter burning the core at full speed.
 *
 * The counters live on separate cache lines: arrivals write `arrived`, waiters read
 * `generation`. The release increment of `generation` by the last arrival, paired
 * with the waiters' acquire loads, makes every write done before the barrier visible
 * after it.
 */

enum { SM_CACHE_LINE = 64, SM_SPINS_BEFORE_YIELD = 1 << 14 };

struct sm_spin_barrier {
    _Alignas(SM_CACHE_LINE) atomic_long arrived;
    _Alignas(SM_CACHE_LINE) atomic_long generation;
    _Alignas(SM_CACHE_LINE) long parties;
};

static inline void sm_cpu_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

sm_spin_barrier *sm_spin_barrier_create(long parties) {
    if (parties < 1) return NULL;
    sm_spin_barrier *barrier = aligned_alloc(SM_CACHE_LINE, sizeof(sm_spin_barrier));
    if (!barrier) return NULL;
    atomic_init(&barrier->arrived, 0);
    atomic_init(&barrier->generation, 0);
    barrier->parties = parties;
    return barrier;
}

void sm_spin_barrier_destroy(sm_spin_barrier *barrier) {
    free(barrier);
}

void sm_spin_barrier_wait(sm_spin_barrier *barrier) {
    /* The generation cannot advance before this thread arrives, so reading it first is safe. */
    long generation = atomic_load_explicit(&barrier->generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&barrier->arrived, 1, memory_order_acq_rel) == barrier->parties - 1) {
        /* Last to arrive: reset for the next round, then release the others. */
        atomic_store_explicit(&barrier->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&barrier->generation, 1, memory_order_release);
        return;
    }
    long spins = 0;
    while (atomic_load_explicit(&barrier->generation, memory_order_acquire) == generation) {
        if (spins < SM_SPINS_BEFORE_YIELD) {
            spins++;
            sm_cpu_pause();
        } else {
            sched_yield();
        }
    }
}

int sm_second_cpu_allowed(void) {
#if defined(__linux__)
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 0;
    return CPU_COUNT(&allowed) >= 2;
#else
    return sysconf(_SC_NPROCESSORS_ONLN) >= 2;
#endif
}

int sm_thread_attr_avoid_current_cpu(pthread_attr_t *attr) {
#if defined(__linux__)
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
    int current = sched_getcpu();
    if (current >= 0 && current < CPU_SETSIZE) CPU_CLR(current, &allowed);
    if (CPU_COUNT(&allowed) == 0) return -1;
    return pthread_attr_setaffinity_np(attr, sizeof allowed, &allowed) == 0 ? 0 : -1;
#else
    (void)attr;
    return sm_second_cpu_allowed() ? 0 : -1;
#endif
}
