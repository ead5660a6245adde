import Foundation
import SeqModels

/// A `ProcessGroup` of threads in one process, for tests of what processes do together
/// (data-parallel training, sharded reading) without `mpirun`: `run(size:_:)` starts `size`
/// threads, hands each its member of the group and returns their results in rank order.
///
/// Every collective call is an exchange of bytes through one shared slot per member, guarded
/// by a condition: a call returns when every member has made it, as MPI's do. Sums add in
/// rank order, like `MPIProcessGroup`'s `.ordered` reduction.
public final class LocalProcessGroup: ProcessGroup, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private let hub: Hub

    private init(rank: Int, size: Int, hub: Hub) {
        self.rank = rank
        self.size = size
        self.hub = hub
    }

    /// Runs `body` on `size` threads, each with its member of one group; rethrows the first error.
    public static func run<Result>(size: Int, _ body: @escaping @Sendable (LocalProcessGroup) throws -> Result) throws -> [Result] {
        precondition(size > 0, "a group has at least one member")
        let hub = Hub(size: size)
        let results = Results<Result>(count: size)
        let done = DispatchGroup()
        for rank in 0..<size {
            let member = LocalProcessGroup(rank: rank, size: size, hub: hub)
            done.enter()
            let thread = Thread {
                let result = Swift.Result { try body(member) }
                // A member that failed will make no more calls: release the others from theirs.
                if case .failure = result { hub.breakUp() }
                results.set(rank, result)
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return try results.values.map { try $0!.get() }
    }

    public func sum(_ values: inout [Float]) throws {
        let all = try hub.exchange(rank, values.withUnsafeBytes { Array($0) })
        values = Self.added(all, as: Float.self, count: values.count)
    }

    public func sum(_ values: inout [Double]) throws {
        let all = try hub.exchange(rank, values.withUnsafeBytes { Array($0) })
        values = Self.added(all, as: Double.self, count: values.count)
    }

    public func gather(_ bytes: [UInt8]) throws -> [[UInt8]] { try hub.exchange(rank, bytes) }

    public func gatherToLeader(_ bytes: [UInt8]) throws -> [[UInt8]] {
        let all = try hub.exchange(rank, bytes)
        return isLeader ? all : []
    }

    public func barrier() throws { _ = try hub.exchange(rank, []) }

    private static func added<Element: BinaryFloatingPoint>(_ parts: [[UInt8]], as: Element.Type, count: Int) -> [Element] {
        var total = [Element](repeating: 0, count: count)
        for part in parts {
            precondition(part.count == count * MemoryLayout<Element>.size, "every member must sum as many values")
            part.withUnsafeBytes { bytes in
                let values = bytes.bindMemory(to: Element.self)
                for index in 0..<count { total[index] += values[index] }
            }
        }
        return total
    }

    /// The members' meeting point: deposits of the current call, and the last call's result.
    private final class Hub: @unchecked Sendable {
        private let condition = NSCondition()
        private var deposits: [[UInt8]?]
        private var arrived = 0
        private var generation = 0
        private var result: [[UInt8]] = []

        init(size: Int) { deposits = Array(repeating: nil, count: size) }

        private var broken = false

        func breakUp() {
            condition.lock()
            broken = true
            condition.broadcast()
            condition.unlock()
        }

        func exchange(_ rank: Int, _ bytes: [UInt8]) throws -> [[UInt8]] {
            condition.lock()
            defer { condition.unlock() }
            guard !broken else { throw ProcessGroupError("another member of the group failed") }
            let call = generation
            deposits[rank] = bytes
            arrived += 1
            if arrived == deposits.count {
                // No member can finish the next call before every member, this one's readers
                // included, has deposited into it: `result` stays until all have read it.
                result = deposits.map { $0 ?? [] }
                deposits = Array(repeating: nil, count: deposits.count)
                arrived = 0
                generation += 1
                condition.broadcast()
            } else {
                while generation == call && !broken { condition.wait() }
                if generation == call { throw ProcessGroupError("another member of the group failed") }
            }
            return result
        }
    }

    private final class Results<Value>: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var values: [Swift.Result<Value, any Error>?]
        init(count: Int) { values = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ value: Swift.Result<Value, any Error>) {
            lock.lock()
            values[index] = value
            lock.unlock()
        }
    }
}
