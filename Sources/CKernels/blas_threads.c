#include "CKernels.h"

#if defined(__linux__)
#include <dlfcn.h>
#include <stdlib.h>
#endif

/*
 * OpenBLAS's worker threads, after each threaded call, wait for the next one by spinning on
 * sched_yield for 2^28 processor cycles (about a tenth of a second) before they sleep. The
 * LSTM's training pass calls threaded GEMMs between recurrences that run on SeqModels' own two
 * threads, so on a 2-core machine the spinning worker kept taking a core from them: in a
 * profile of `seqmodels bench lstm --shapes b --modes training --threads 2` it was in
 * sched_yield for 28% of the samples.
 *
 * OpenBLAS reads that wait (OPENBLAS_THREAD_TIMEOUT: 2^N cycles, N from 4 to 30) only when it
 * starts its threads, at load time, and has no call to change it. So this sets the variable to
 * its least (unless it is set already), has OpenBLAS read its environment again, and stops its
 * threads; OpenBLAS starts them again, with the new wait, at its next threaded call. These
 * three functions are exported by OpenBLAS's pthreads builds but not declared in its headers,
 * so they are looked up at run time; without them nothing is done.
 *
 * Returns the wait now in force (its N), or -1 when it could not be set.
 */
int sm_openblas_sleep_idle_threads(void) {
#if defined(__linux__)
    void (*read_environment)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "openblas_read_env");
    int (*stop_threads)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
    if (!read_environment || !stop_threads || sm_openblas_thread_timeout() < 0) return -1;
    if (setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0) != 0) return -1;
    read_environment();
    stop_threads();
    return sm_openblas_thread_timeout();
#else
    return -1;
#endif
}

int sm_openblas_thread_timeout(void) {
#if defined(__linux__)
    int (*thread_timeout)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_thread_timeout");
    return thread_timeout ? thread_timeout() : -1;
#else
    return -1;
#endif
}
