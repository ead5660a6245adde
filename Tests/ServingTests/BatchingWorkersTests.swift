import Foundation
import XCTest
@testable import Serving

/// Dynamic batching: jobs that arrive together run together, each caller gets its own result,
/// the queue is bounded, and shutting down finishes what was queued.
final class BatchingWorkersTests: XCTestCase {
    func testJobsThatArriveTogetherRunAsOneBatchAndGetTheirOwnResults() async throws {
        let batches = Locked<[[Int]]>([])
        let workers = BatchingWorkers<Int, Int>(
            name: "square", workers: 1, limits: .init(maxBatchItems: 8, maxWait: 0.05, maxQueued: 100), size: { _ in 1 }
        ) { jobs in
            batches.withValue { $0.append(jobs) }
            return jobs.map { .success($0 * $0) }
        }
        defer { workers.shutdown() }
        let results = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for n in 0..<20 { group.addTask { (n, try await workers.submit(n)) } }
            return try await group.reduce(into: [Int: Int]()) { $0[$1.0] = $1.1 }
        }
        XCTAssertEqual(results, Dictionary(uniqueKeysWithValues: (0..<20).map { ($0, $0 * $0) }))
        let sizes = batches.withValue { $0.map(\.count) }
        XCTAssertEqual(sizes.reduce(0, +), 20)
        XCTAssertTrue(sizes.allSatisfy { $0 <= 8 }, "no batch over the cap: \(sizes)")
        XCTAssertLessThan(sizes.count, 20, "jobs submitted together shared batches: \(sizes)")
    }

    func testAJobLargerThanTheCapRunsAloneAndFailuresStayWithTheirJob() async throws {
        struct Odd: Error {}
        let workers = BatchingWorkers<[Int], Int>(
            name: "sum", workers: 2, limits: .init(maxBatchItems: 4, maxWait: 0, maxQueued: 10), size: { $0.count }
        ) { jobs in jobs.map { job in job.count % 2 == 1 ? .failure(Odd()) : .success(job.reduce(0, +)) } }
        defer { workers.shutdown() }
        let big = try await workers.submit(Array(1...10))
        XCTAssertEqual(big, 55)
        do {
            _ = try await workers.submit([1, 2, 3])
            XCTFail("an odd job fails")
        } catch is Odd {}
        let even = try await workers.submit([2, 2])
        XCTAssertEqual(even, 4)
    }

    func testAFullQueueIsRefusedAsBusyAndShutdownFinishesQueuedJobs() async throws {
        let gate = DispatchSemaphore(value: 0)
        let started = Locked(0)
        let workers = BatchingWorkers<Int, Int>(
            name: "slow", workers: 1, limits: .init(maxBatchItems: 1, maxWait: 0, maxQueued: 2), size: { _ in 1 }
        ) { jobs in
            started.withValue { $0 += 1 }
            gate.wait()
            return jobs.map { .success($0) }
        }
        // One job runs (blocked on the gate), two wait: the queue is full.
        let running = Task { try await workers.submit(1) }
        while started.withValue({ $0 }) == 0 { try await Task.sleep(nanoseconds: 1_000_000) }
        let waiting = [Task { try await workers.submit(2) }, Task { try await workers.submit(3) }]
        while workers.queuedCount < 2 { try await Task.sleep(nanoseconds: 1_000_000) }
        do {
            _ = try await workers.submit(4)
            XCTFail("a full queue refuses")
        } catch let error as ServingError {
            XCTAssertTrue(error.description.contains("busy"), error.description)
        }
        for _ in 0..<3 { gate.signal() }
        let stopper = Thread { workers.shutdown() }
        stopper.start()
        var finished = [try await running.value]
        for task in waiting { finished.append(try await task.value) }
        XCTAssertEqual(finished.sorted(), [1, 2, 3], "queued jobs finish during shutdown")
        while !stopper.isFinished { try await Task.sleep(nanoseconds: 1_000_000) }
        do {
            _ = try await workers.submit(5)
            XCTFail("no jobs after shutdown")
        } catch let error as ServingError {
            XCTAssertTrue(error.description.contains("shutting down"), error.description)
        }
    }
}
