import Foundation

/// How `BatchingWorkers` forms batches.
struct BatchLimits: Sendable, Equatable {
    /// Most items (as counted by the workers' `size`) in one batch.
    var maxBatchItems: Int
    /// Longest time a worker waits for more jobs after taking a batch's first one.
    var maxWait: TimeInterval
    /// Most jobs waiting to be taken; more are refused as busy.
    var maxQueued: Int
}

/// Runs a model's jobs on its own threads, off the server's event loops, and runs the jobs that
/// arrive close together as one batch (dynamic batching).
///
/// A worker takes the oldest waiting job, then keeps taking jobs until the batch holds
/// `maxBatchItems` items (sentences, texts) or `maxWait` has passed since it took the first;
/// then it runs the whole batch in one call of `run` (for the LSTM heads: one packed batch,
/// so mixed lengths cost nothing) and resumes every job's caller with its own result. A job
/// larger than `maxBatchItems` runs alone. With several workers, several batches run at once
/// (parallelism around BLAS, which should then run one thread).
///
/// At most `maxQueued` jobs wait; beyond that `submit` fails at once with
/// `ServingError.busy`, so a flood of requests cannot grow memory without bound. `shutdown()`
/// lets the workers finish every job already queued, then stops them; jobs submitted after it
/// fail with `ServingError.shuttingDown`.
final class BatchingWorkers<Job: Sendable, Output: Sendable>: @unchecked Sendable {
    typealias Limits = BatchLimits

    private struct Pending {
        let job: Job
        let continuation: CheckedContinuation<Output, any Error>
    }

    let name: String
    let limits: Limits
    private let size: @Sendable (Job) -> Int
    private let run: @Sendable ([Job]) -> [Result<Output, any Error>]
    private let observeBatch: @Sendable (_ jobs: Int, _ items: Int) -> Void
    // Guarded by `condition`:
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var queueHead = 0
    private var stopping = false
    private var running = 0
    private var threads: [Thread] = []

    /// Starts `workers` threads named after `name`.
    /// - Parameters:
    ///   - size: the items a job brings to a batch (at least 1).
    ///   - run: runs a batch of jobs; returns one result per job, in order.
    ///   - observeBatch: called with each batch's job and item counts before it runs (metrics).
    init(name: String, workers: Int, limits: Limits, size: @escaping @Sendable (Job) -> Int,
         observeBatch: @escaping @Sendable (_ jobs: Int, _ items: Int) -> Void = { _, _ in },
         run: @escaping @Sendable ([Job]) -> [Result<Output, any Error>]) {
        precondition(workers > 0 && limits.maxBatchItems > 0 && limits.maxQueued > 0 && limits.maxWait >= 0,
                     "BatchingWorkers needs positive workers, batch and queue limits and a non-negative wait")
        self.name = name
        self.limits = limits
        self.size = size
        self.run = run
        self.observeBatch = observeBatch
        for index in 0..<workers {
            let thread = Thread { [self] in workerLoop() }
            thread.name = "\(name)-\(index + 1)"
            thread.stackSize = 8 << 20
            threads.append(thread)
        }
        condition.lock()
        running = workers
        condition.unlock()
        threads.forEach { $0.start() }
    }

    /// Queues `job` and returns its output once a worker has run it.
    /// - Throws: `ServingError.busy` when `maxQueued` jobs already wait,
    ///   `ServingError.shuttingDown` after `shutdown()`, or whatever `run` failed the job with.
    func submit(_ job: Job) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            if stopping {
                continuation.resume(throwing: ServingError.shuttingDown)
            } else if queue.count - queueHead >= limits.maxQueued {
                continuation.resume(throwing: ServingError.busy(model: name, waiting: limits.maxQueued))
            } else {
                queue.append(Pending(job: job, continuation: continuation))
                condition.signal()
            }
        }
    }

    /// Jobs waiting to be taken by a worker.
    var queuedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - queueHead
    }

    /// Refuses new jobs, lets the workers finish the queued ones, and waits until they have stopped.
    func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private func takeFirst() -> Pending {
        let pending = queue[queueHead]
        queueHead += 1
        if queueHead > 1024 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        return pending
    }

    private func workerLoop() {
        while true {
            condition.lock()
            while queueHead == queue.count && !stopping { condition.wait() }
            if queueHead == queue.count {
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            var batch = [takeFirst()]
            var items = size(batch[0].job)
            let deadline = Date(timeIntervalSinceNow: limits.maxWait)
            while items < limits.maxBatchItems {
                if queueHead < queue.count {
                    let next = size(queue[queueHead].job)
                    if items + next > limits.maxBatchItems { break }
                    batch.append(takeFirst())
                    items += next
                } else if stopping || !condition.wait(until: deadline) {
                    break
                }
            }
            condition.unlock()

            observeBatch(batch.count, items)
            let results = run(batch.map(\.job))
            precondition(results.count == batch.count, "A batch runner must return one result per job")
            for (pending, result) in zip(batch, results) { pending.continuation.resume(with: result) }
        }
    }
}
