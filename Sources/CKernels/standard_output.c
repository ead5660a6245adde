#include "CKernels.h"

#include <errno.h>
#include <stdio.h>

/*
 * Swift's print writes into C's buffered stdout and ignores a failed write; this flush is where
 * the tool learns that its output was lost (a full disk, a failing device). Kept in C because
 * Swift 6 refuses to touch the global `stdout` outside C.
 */
int sm_flush_standard_output(void) {
    errno = 0;
    int flushed = fflush(stdout);
    if (flushed == 0 && !ferror(stdout)) return 0;
    return errno != 0 ? errno : EIO;
}
