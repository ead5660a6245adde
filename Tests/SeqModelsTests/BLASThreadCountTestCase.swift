import XCTest
@testable import SeqModels

/// A test case whose tests set `BLAS.threadCount` (to compare one thread with two): the count
/// in force before each test is put back after it, so that other tests see the setting they expect.
class BLASThreadCountTestCase: XCTestCase {
    private var savedThreadCount = 1

    override func setUp() {
        super.setUp()
        savedThreadCount = BLAS.threadCount
    }

    override func tearDown() {
        BLAS.setThreadCount(savedThreadCount)
        super.tearDown()
    }
}
