#include "CKernels.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

/*
 * Every LSTM pass allocates buffers of hundreds of kilobytes to megabytes (gates, outputs,
 * packed weights) and frees them at its end. With glibc's defaults, blocks from 128 KiB up
 * are mapped afresh for each allocation (the threshold rises only slowly) and the top of the
 * heap is given back after each free, so the next pass page-faults on every page again:
 * measured here, about a quarter of `seqmodels bench lstm --shapes a --threads 1` (inference
 * and training) went to the kernel's page-fault handling.
 * Keeping freed memory for reuse removes that; the cost is that the process keeps the peak
 * of what it used until it exits. Blocks above glibc's largest mapping threshold (32 MiB) are
 * still mapped on their own unless mapping is turned off (M_MMAP_MAX 0): shape (d) of the
 * benchmark (gates of 52 MiB per direction) spent 7% of its training time in page faults before.
 */
int sm_retain_freed_memory(void) {
#if defined(__GLIBC__)
    /* 32 MiB is the largest mapping threshold glibc accepts on 64-bit systems; M_MMAP_MAX 0 takes
     * larger blocks from the heap too. */
    int mapped = mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    int trimmed = mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
    int unmapped = mallopt(M_MMAP_MAX, 0);
    return mapped == 1 && trimmed == 1 && unmapped == 1 ? 1 : 0;
#else
    /* Other allocators (Darwin's) keep and reuse freed regions on their own. */
    return 1;
#endif
}

void sm_allocator_usage(long *mapped_bytes, long *free_bytes) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 info = mallinfo2();
    *mapped_bytes = (long)info.hblkhd;
    *free_bytes = (long)info.fordblks;
#else
    *mapped_bytes = -1;
    *free_bytes = -1;
#endif
}
