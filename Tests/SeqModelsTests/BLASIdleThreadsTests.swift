import CKernels
import Foundation
import SeqModels
import XCTest

/// `BLAS.makeIdleThreadsSleepAtOnce()` keeps OpenBLAS's workers from spinning after a threaded call.
final class BLASIdleThreadsTests: BLASThreadCountTestCase {
    /// CPU time used by the whole process so far, in seconds (every thread's).
    private func processCPUSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    func testIdleWorkersSleepAsSoonAsAThreadedProductEnds() throws {
        try XCTSkipIf(sm_openblas_thread_timeout() < 0, "this BLAS is not OpenBLAS with threads (nothing to set)")
        try XCTSkipIf(ProcessInfo.processInfo.activeProcessorCount < 2, "one processor: OpenBLAS runs no workers")
        XCTAssertTrue(BLAS.makeIdleThreadsSleepAtOnce())
        let expected = ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"].flatMap { Int($0) } ?? 4
        XCTAssertEqual(Int(sm_openblas_thread_timeout()), max(4, min(30, expected)))

        // A product large enough for OpenBLAS to share out, then a quiet spell: with OpenBLAS's
        // default wait its worker spins through most of the spell (about a tenth of a second of
        // CPU); now it sleeps at once.
        BLAS.setThreadCount(2)
        var generator = SeededGenerator(seed: 1)
        let a = Tensor.uniform([768, 768], low: -1, high: 1, using: &generator)
        for _ in 0..<3 { _ = Tensor.matmul(a, a) }
        let before = processCPUSeconds()
        Thread.sleep(forTimeInterval: 0.15)
        let spent = processCPUSeconds() - before
        XCTAssertLessThan(spent, 0.03, "the process used \(spent) s of CPU while idle: BLAS's workers kept spinning")
    }
}
