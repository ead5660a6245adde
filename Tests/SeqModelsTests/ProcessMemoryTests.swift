import CKernels
import Foundation
import XCTest
import SeqModels

final class ProcessMemoryTests: XCTestCase {
    /// After `retainFreedMemory()`, a block of several megabytes (an LSTM pass's gates or output),
    /// and one over glibc's largest mapping threshold (32 MiB: the gates of shape (d) of
    /// `seqmodels bench lstm` take 52 MiB), comes from the heap rather than a mapping of its own,
    /// and stays in the process once freed, so that the next pass reuses it without page faults.
    func testFreedLargeBlocksStayInTheProcessForReuse() throws {
        // Under AddressSanitizer (Tools/sanitize_tests.sh) malloc is the sanitizer's, which glibc's settings do not reach.
        try XCTSkipIf(dlsym(dlopen(nil, RTLD_NOW), "__asan_init") != nil,
                      "AddressSanitizer replaces the allocator whose settings this test checks")
        XCTAssertTrue(ProcessMemory.retainFreedMemory(), "the allocator refused the settings")
        for size in [8 << 20, 64 << 20] {
            var mappedBefore = 0, mappedAfter = 0, free = 0
            sm_allocator_usage(&mappedBefore, &free)
            try XCTSkipIf(mappedBefore < 0, "this allocator does not report its usage (not glibc 2.33+)")
            let block = MemoryBlock(bytes: size)
            sm_allocator_usage(&mappedAfter, &free)
            XCTAssertLessThan(mappedAfter - mappedBefore, size, "the block of \(size >> 20) MiB got a mapping of its own")
            block.release()
            sm_allocator_usage(&mappedAfter, &free)
            XCTAssertGreaterThanOrEqual(free, size, "the freed block of \(size >> 20) MiB went back to the system")
        }
    }
}

/// A block of `bytes` allocated and written through (so that its pages are really used), freed by `release()`.
private struct MemoryBlock {
    let pointer: UnsafeMutableRawPointer

    init(bytes: Int) {
        pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        pointer.initializeMemory(as: UInt8.self, repeating: 1, count: bytes)
    }

    func release() { pointer.deallocate() }
}
