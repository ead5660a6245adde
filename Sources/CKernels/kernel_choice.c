#include "CKernels.h"
#include "kernel_builds.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/*
 * Which build of the kernels runs (kernel_builds.h): chosen once, by the constructor below,
 * when the library loads, after the C library is set up and before the program's own code
 * runs; never changed after.
 */
int sm_kernel_build_index_chosen = 0;

static const char *const sm_build_names[] = {"baseline", "avx2", "avx512"};
static const char *const sm_build_needs[] = {"", "AVX2 and FMA (x86-64-v3)", "AVX-512 F/BW/CD/DQ/VL (x86-64-v4)"};

static long sm_kernel_build_named(const char *name, long runnable) {
    if (name == NULL || *name == '\0' || strcasecmp(name, "auto") == 0) return runnable - 1;
    for (long i = 0; i < 3; i++) {
        if (strcasecmp(name, sm_build_names[i]) == 0) return i;
    }
    return -1;
}

long sm_kernel_choice_problem(const char *name, long runnable, char *message, long capacity) {
    long index = sm_kernel_build_named(name, runnable);
    char can_run[64] = "";
    for (long i = 0; i < runnable; i++) {
        strcat(can_run, i ? ", " : "");
        strcat(can_run, sm_build_names[i]);
    }
    if (index < 0) {
        snprintf(message, (size_t)capacity,
                 "SEQMODELS_KERNELS=%s names no build of the kernels; this processor can run: %s "
                 "(or auto, the widest). Unset it or set it to one of those.",
                 name, can_run);
        return -1;
    }
    if (index >= runnable) {
        snprintf(message, (size_t)capacity,
                 "SEQMODELS_KERNELS=%s asks for a build that needs %s, which this processor %s; "
                 "it can run: %s. Unset SEQMODELS_KERNELS or set it to one of those.",
                 name, sm_build_needs[index],
                 SM_KERNEL_BUILDS_BY_PROCESSOR ? "does not have" : "(or this platform's SeqModels) does not have",
                 can_run);
        return -1;
    }
    return index;
}

/* Refusing here, with the reason, is the only honest answer to a build the processor cannot
 * run: running it would crash on the first instruction it lacks, and running another would
 * make a test or a benchmark that asked for it measure something else. */
__attribute__((constructor)) static void sm_choose_kernel_build(void) {
    char message[512];
    long index = sm_kernel_choice_problem(getenv("SEQMODELS_KERNELS"), sm_kernel_builds_runnable(), message,
                                          sizeof message);
    if (index < 0) {
        fprintf(stderr, "SeqModels: %s\n", message);
        _exit(2);
    }
    sm_kernel_build_index_chosen = (int)index;
}
