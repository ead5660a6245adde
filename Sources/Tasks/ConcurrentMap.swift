import Dispatch
import SeqModels

extension Array where Element: Sendable {
    /// `transform` applied to every element, in `BLAS.threadCount` contiguous parts on as
    /// many threads when there are at least `minimumPerThread` elements per part; results in
    /// element order. The error of the earliest failing element is the one thrown.
    ///
    /// Preparing texts (tokenising, vocabulary lookup) is serial work between the LSTM's
    /// threaded passes; this spreads it over the same threads.
    func concurrentMap<Mapped: Sendable>(minimumPerThread: Int = 32,
                                         _ transform: @Sendable (Element) throws -> Mapped) throws -> [Mapped] {
        let parts = Swift.max(1, Swift.min(BLAS.threadCount, count / Swift.max(1, minimumPerThread)))
        guard parts > 1 else { return try map(transform) }
        let results = UnsafeMutableBufferPointer<Result<Mapped, any Error>?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer {
            _ = results.deinitialize()
            results.deallocate()
        }
        nonisolated(unsafe) let storage = results   // each part writes its own disjoint range
        let elements = self
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let range = (part * elements.count / parts)..<((part + 1) * elements.count / parts)
            for index in range {
                do {
                    storage[index] = .success(try transform(elements[index]))
                } catch {
                    storage[index] = .failure(error)
                    return   // later elements of this part are not needed: this error comes first
                }
            }
        }
        var mapped: [Mapped] = []
        mapped.reserveCapacity(count)
        for result in results {
            guard let result else { break }   // unreachable: a part stops only after a failure, thrown below first
            mapped.append(try result.get())
        }
        return mapped
    }
}
