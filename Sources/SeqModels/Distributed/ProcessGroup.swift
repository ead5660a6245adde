import Foundation

/// The processes that train one model together (data parallelism) or label one file
/// together (sharded inference): each knows its `rank` among `size` and can combine values
/// with the others.
///
/// Every process of a group must make the same calls in the same order with buffers of the
/// same length (a collective call waits for all of them). `MPIProcessGroup` is the one
/// implementation that spans processes; `Trainer` uses a group to split every batch, sum the
/// gradients and split the dev set, and `nil` (no group) trains alone as always.
public protocol ProcessGroup: AnyObject, Sendable {
    /// This process's index, `0..<size`; rank 0 writes the files.
    var rank: Int { get }
    /// Number of processes in the group.
    var size: Int { get }
    /// Replaces `values` on every process by their element-wise sum over the group.
    func sum(_ values: inout [Float]) throws
    /// Replaces `values` on every process by their element-wise sum over the group.
    func sum(_ values: inout [Double]) throws
    /// Every process's `bytes`, in rank order (the lengths may differ between processes).
    func gather(_ bytes: [UInt8]) throws -> [[UInt8]]
    /// Every process's `bytes`, in rank order, on rank 0; the others get `[]`.
    func gatherToLeader(_ bytes: [UInt8]) throws -> [[UInt8]]
    /// Waits until every process of the group has called it.
    func barrier() throws
}

extension ProcessGroup {
    /// Whether this process writes logs, checkpoints and outputs (rank 0).
    public var isLeader: Bool { rank == 0 }

    /// Every process's value, in rank order.
    public func gather(_ value: Int) throws -> [Int] {
        try gather([value]).map { $0[0] }
    }

    /// Every process's `values`, in rank order (as many on every process; exact up to 2^53,
    /// since they travel as doubles in one sum).
    public func gather(_ values: [Int]) throws -> [[Int]] {
        let width = values.count
        var all = [Double](repeating: 0, count: size * width)
        for (index, value) in values.enumerated() { all[rank * width + index] = Double(value) }
        try sum(&all)
        return (0..<size).map { part in (0..<width).map { Int(all[part * width + $0]) } }
    }

    /// This process's contiguous share of `0..<count`: the first `count % size` ranks take one more.
    public func share(of count: Int) -> Range<Int> {
        Self.share(of: count, part: rank, parts: size)
    }

    /// Part `part` of `0..<count` cut into `parts` contiguous shares whose sizes differ by at most one.
    public static func share(of count: Int, part: Int, parts: Int) -> Range<Int> {
        precondition(parts > 0 && (0..<parts).contains(part), "part \(part) of \(parts)")
        let base = count / parts, extra = count % parts
        let start = part * base + min(part, extra)
        return start..<(start + base + (part < extra ? 1 : 0))
    }
}

/// Why a collective operation of a `ProcessGroup` failed.
public struct ProcessGroupError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// How a batch is cut between the processes of a group: contiguous runs of its examples with
/// about the same number of tokens each, so that the processes finish their share together.
public enum BatchSharding {
    /// The cut points of `lengths` (the tokens of each example, in batch order) into `parts`
    /// contiguous shares: share `p` is `cuts[p]..<cuts[p + 1]`. Each cut falls where the
    /// running token count comes nearest to `p/parts` of the total; shares may be empty when
    /// the batch has fewer examples than parts.
    public static func cuts(lengths: [Int], parts: Int) -> [Int] {
        precondition(parts > 0, "parts must be positive")
        let total = lengths.reduce(0, +)
        var cuts = [0]
        var running = 0, index = 0
        for part in 1..<parts {
            let target = Double(total) * Double(part) / Double(parts)
            // Advance while taking the next example brings the running count nearer the target.
            while index < lengths.count,
                  abs(Double(running + lengths[index]) - target) <= abs(Double(running) - target) {
                running += lengths[index]
                index += 1
            }
            cuts.append(index)
        }
        cuts.append(lengths.count)
        return cuts
    }
}

extension ProcessGroup {
    /// Rank 0 appends to `output` what every other process wrote into its `part` file, in rank
    /// order, 4 MiB per collective call (so no process holds more than that of another's
    /// output); every process calls this together once its part is complete. Rank 0 passes its
    /// output and no part (its own rows are in the output already), the others their part and
    /// no output.
    /// - Throws: `ProcessGroupError` when a part cannot be read back or the output written.
    public func appendParts(_ part: URL?, to output: FileHandle?) throws {
        let ownSize = try part.map { url -> Int in
            let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue
            guard let size else { throw ProcessGroupError("\(url.path): cannot read the size of this process's part") }
            return size
        } ?? 0
        let sizes = try gather(ownSize)
        let source = try part.map { url -> FileHandle in
            guard let handle = FileHandle(forReadingAtPath: url.path) else {
                throw ProcessGroupError("\(url.path): cannot read back this process's part")
            }
            return handle
        }
        defer { try? source?.close() }
        let chunkSize = 4 << 20
        for sender in 1..<size where sizes[sender] > 0 {
            var sent = 0
            while sent < sizes[sender] {
                let count = min(chunkSize, sizes[sender] - sent)
                var chunk: [UInt8] = []
                if rank == sender, let source {
                    chunk = [UInt8](try source.read(upToCount: count) ?? Data())
                    guard chunk.count == count else {
                        throw ProcessGroupError("\(part?.path ?? "?"): the part was cut short while being read back")
                    }
                }
                let received = try gatherToLeader(chunk)
                if isLeader, let output {
                    do {
                        try output.write(contentsOf: received[sender])
                    } catch {
                        throw ProcessGroupError("cannot write the output: \(error.localizedDescription)")
                    }
                }
                sent += count
            }
        }
    }
}
