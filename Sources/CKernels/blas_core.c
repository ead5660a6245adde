#include "CKernels.h"
#include "kernel_builds.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#if defined(__linux__)
#include <dlfcn.h>
#endif

/*
 * OpenBLAS's core, and what SeqModels does when OpenBLAS guesses it wrong.
 *
 * A DYNAMIC_ARCH OpenBLAS (Debian's, and most distributions') picks its kernels, its "core",
 * from the processor model once, when it loads, unless OPENBLAS_CORETYPE names one. On a model it
 * does not know, it may fall back to a generic core: Debian 12's OpenBLAS 0.3.21 runs its
 * Prescott (SSE3) kernels on an Intel Xeon of family 6, model 207, at 32 GFLOP/s per core where
 * its SkylakeX kernels run at 125-155 (OpenBLAS issue 4267, fixed in 0.3.25).
 *
 * So, when the library loads, and unless OPENBLAS_CORETYPE is set (the user's choice stands),
 * SeqModels asks OpenBLAS which core it runs. If that core does not use AVX2 although the
 * processor has AVX2 and FMA, SeqModels has OpenBLAS set itself up again with the core the
 * processor's features call for (SkylakeX with AVX-512; Zen on AMD and Haswell elsewhere with
 * AVX2), through OpenBLAS's own entry points: stop its threads, undo its set-up, set
 * OPENBLAS_CORETYPE, set up again (gotoblas_dynamic_init reads it), then take the variable out of
 * the environment again. This runs in a constructor: after OpenBLAS's own (a library's
 * dependencies are set up before it) and before the program's code, so no BLAS call is in
 * flight. A core OpenBLAS picked right is never touched: on this project's AMD Zen 4 machine
 * OpenBLAS picks Cooperlake itself, and Haswell, Zen, SkylakeX and Cooperlake measured within 8%
 * of each other there.
 *
 * Alternatives weighed: running every product on SeqModels' own packed kernels (a whole BLAS to
 * write and keep for the large training products), asking users to set OPENBLAS_CORETYPE (the
 * failure is silent: nobody knows to), re-executing the program with the variable set (library
 * users would not get it), another BLAS (Debian's BLIS measured 66-82 GFLOP/s on that Xeon).
 *
 * Every OpenBLAS function used here is looked up at run time: they are exported by OpenBLAS's
 * DYNAMIC_ARCH builds but not all declared in its headers; with another BLAS nothing is done.
 */
#if defined(__linux__)
static void *sm_blas_symbol(const char *name) { return dlsym(RTLD_DEFAULT, name); }
#else
static void *sm_blas_symbol(const char *name) { (void)name; return 0; }
#endif

/* The generic core that sm_openblas_repair_generic_core replaced, or NULL: written by the
 * constructor below, before the program's code runs (and by tests of the repair). */
static const char *sm_replaced_core = 0;
static char sm_replaced_core_name[32];

const char *sm_openblas_config(void) {
    char *(*config)(void) = (char *(*)(void))sm_blas_symbol("openblas_get_config");
    return config ? config() : 0;
}

const char *sm_openblas_core(void) {
    /* openblas_get_corename reads OpenBLAS's core table, which is NULL until it is set up. */
    void **table = (void **)sm_blas_symbol("gotoblas");
    char *(*corename)(void) = (char *(*)(void))sm_blas_symbol("openblas_get_corename");
    if (!corename || (table && !*table)) return 0;
    return corename();
}

const char *sm_openblas_replaced_core(void) { return sm_replaced_core; }

int sm_processor_has_avx2_fma(void) {
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

const char *sm_openblas_core_for_processor(void) {
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return "SkylakeX";
    if (sm_processor_has_avx2_fma()) return __builtin_cpu_is("amd") ? "Zen" : "Haswell";
#endif
    return 0;
}

int sm_openblas_core_is_generic(const char *core) {
    if (!core || !sm_processor_has_avx2_fma()) return 0;
#if defined(__linux__)
    static const char *const wide[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"};
    for (unsigned i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        if (strcasecmp(core, wide[i]) == 0) return 0;
    }
    return 1;
#else
    return 0;
#endif
}

int sm_openblas_use_core(const char *core) {
#if defined(__linux__)
    void (*stop_threads)(void) = (void (*)(void))sm_blas_symbol("blas_thread_shutdown_");
    void (*undo)(void) = (void (*)(void))sm_blas_symbol("gotoblas_dynamic_quit");
    void (*set_up)(void) = (void (*)(void))sm_blas_symbol("gotoblas_dynamic_init");
    const char *now = sm_openblas_core();
    if (!core || !stop_threads || !undo || !set_up || !now) return -1;
    char *kept = getenv("OPENBLAS_CORETYPE");
    char *kept_copy = kept ? strdup(kept) : 0;
    if (kept && !kept_copy) return -1;
    if (setenv("OPENBLAS_CORETYPE", core, 1) != 0) { free(kept_copy); return -1; }
    stop_threads();
    undo();
    set_up();
    if (kept_copy) setenv("OPENBLAS_CORETYPE", kept_copy, 1);
    else unsetenv("OPENBLAS_CORETYPE");
    free(kept_copy);
    now = sm_openblas_core();
    return now && strcasecmp(now, core) == 0 ? 0 : -1;
#else
    (void)core;
    return -1;
#endif
}

int sm_openblas_repair_generic_core(void) {
    const char *core = sm_openblas_core();
    if (!sm_openblas_core_is_generic(core)) return 0;
    const char *better = sm_openblas_core_for_processor();
    char generic[sizeof sm_replaced_core_name];
    strncpy(generic, core, sizeof generic - 1);
    generic[sizeof generic - 1] = '\0';
    if (!better || sm_openblas_use_core(better) != 0) return -1;
    memcpy(sm_replaced_core_name, generic, sizeof generic);
    sm_replaced_core = sm_replaced_core_name;
    return 1;
}

__attribute__((constructor)) static void sm_repair_blas_core_at_load(void) {
#if defined(__linux__)
    if (getenv("OPENBLAS_CORETYPE")) return;
    sm_openblas_repair_generic_core();
#endif
}
