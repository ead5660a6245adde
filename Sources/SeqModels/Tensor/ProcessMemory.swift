import CKernels

/// A process-wide setting of the C allocator that SeqModels' passes run faster with.
///
/// Every LSTM pass allocates buffers of hundreds of kilobytes to megabytes (gates, outputs,
/// packed weights) and frees them when it ends. glibc's allocator, by default, maps blocks
/// from 128 KiB up afresh and hands the top of its heap back to the system after each free,
/// so the next pass page-faults on all of that memory again: about a quarter of
/// `seqmodels bench lstm --shapes a --threads 1` (inference and training) went to the
/// kernel's page-fault handling.
///
/// The library does not change the allocator's settings on its own (the one process-wide change
/// it makes by itself is to replace a generic OpenBLAS core, `BLASReport`). Programs call
/// `retainFreedMemory()` once at start-up (the `seqmodels` tool does); the cost is that the
/// process keeps the peak of the memory it used until it exits.
public enum ProcessMemory {
    /// Keeps freed memory in the process for reuse (glibc: every block from the heap, none mapped
    /// on its own, and a trim threshold of 1 GiB; other allocators already reuse freed regions).
    /// Returns whether the allocator accepted the settings.
    @discardableResult
    public static func retainFreedMemory() -> Bool {
        sm_retain_freed_memory() == 1
    }
}
