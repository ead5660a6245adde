import Dispatch
import Foundation
import SeqModels

extension Array where Element: Sendable {
    /// `transform` applied to every element, in `threads` contiguous parts on as many threads
    /// when there are at least `minimumPerThread` elements per part; results in element order.
    /// The error of the earliest failing element is the one thrown.
    ///
    /// Preparing texts (tokenising, vocabulary lookup) is serial work between the LSTM's
    /// threaded passes; this spreads it over the same threads.
    func concurrentMap<Mapped: Sendable>(threads: Int = BLAS.threadCount, minimumPerThread: Int = 32,
                                         _ transform: @Sendable (Element) throws -> Mapped) throws -> [Mapped] {
        let parts = Swift.max(1, Swift.min(threads, count / Swift.max(1, minimumPerThread)))
        guard parts > 1 else { return try map(transform) }
        let elements = self
        let results = concurrentResults(count: parts, workers: parts) { part -> [Result<Mapped, any Error>] in
            var mapped: [Result<Mapped, any Error>] = []
            for index in (part * elements.count / parts)..<((part + 1) * elements.count / parts) {
                do {
                    mapped.append(.success(try transform(elements[index])))
                } catch {
                    mapped.append(.failure(error))
                    break   // later elements of this part are not needed: this error comes first
                }
            }
            return mapped
        }
        var mapped: [Mapped] = []
        mapped.reserveCapacity(count)
        for part in results {
            for result in part { mapped.append(try result.get()) }
        }
        return mapped
    }
}

/// `work(index)` for every index in `0..<count`, run by `workers` threads that each take the
/// next index not yet taken; results in index order, whichever thread computed them.
///
/// This is parallelism *around* BLAS (whole batches at once, e.g. while classifying), so the
/// callers set BLAS to one thread first. Give the largest items the lowest indices: taking
/// them first balances the threads' load.
func concurrentResults<Result: Sendable>(count: Int, workers: Int, _ work: @Sendable (Int) -> Result) -> [Result] {
    precondition(count >= 0 && workers > 0, "count must be non-negative and workers positive")
    let threads = Swift.min(workers, count)
    guard threads > 1 else { return (0..<count).map(work) }
    let slots = ResultSlots<Result>(count: count)
    DispatchQueue.concurrentPerform(iterations: threads) { _ in
        while let index = slots.takeIndex() { slots.set(index, work(index)) }
    }
    return slots.results()
}

/// The shared state of `concurrentResults`: the next index to take and one slot per result,
/// behind a lock (taken once per item, which is a whole batch of work).
private final class ResultSlots<Result: Sendable>: @unchecked Sendable {
    private var slots: [Result?]
    private var next = 0
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func takeIndex() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard next < slots.count else { return nil }
        defer { next += 1 }
        return next
    }

    func set(_ index: Int, _ value: Result) {
        lock.lock(); defer { lock.unlock() }
        slots[index] = value
    }

    func results() -> [Result] {
        lock.lock(); defer { lock.unlock() }
        return slots.map { slot in
            guard let slot else { preconditionFailure("concurrentResults: a result is missing") }
            return slot
        }
    }
}
