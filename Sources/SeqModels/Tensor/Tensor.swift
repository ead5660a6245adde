/// A dense, row-major array of `Float` with a shape.
///
/// `Tensor` is a value type: copies share storage until one of them is written
/// (copy-on-write through `Array`). Shapes are plain `[Int]`; a matrix is a rank-2
/// tensor `[rows, columns]`, a packed batch of sequences is `[rows, features]`,
/// and the LSTM's states are `[directions * layers, batch, hidden]` as in PyTorch.
///
/// Hot loops never index elementwise through `subscript`; they go through
/// `withUnsafeBufferPointer` / `withUnsafeMutableBufferPointer` into BLAS or the
/// C kernels. The subscripts are for tests, small bookkeeping and readability.
public struct Tensor: Equatable, Sendable, CustomStringConvertible {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `scalars.count == shape.product`.
    public var scalars: [Float] {
        get { storage }
        set {
            precondition(newValue.count == storage.count, "Cannot change a tensor's element count through scalars")
            storage = newValue
        }
    }
    @usableFromInline internal var storage: [Float]

    /// A tensor of the given shape with every element set to `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative dimension")
        self.shape = shape
        self.storage = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor of the given shape holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative dimension")
        precondition(scalars.count == shape.reduce(1, *),
                     "Tensor shape \(shape) needs \(shape.reduce(1, *)) elements, got \(scalars.count)")
        self.shape = shape
        self.storage = scalars
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape) }

    /// A matrix from nested rows (for tests and small literals).
    public init(rows: [[Float]]) {
        let columns = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == columns }, "Tensor(rows:) needs rows of equal length")
        self.init(shape: [rows.count, columns], scalars: rows.flatMap { $0 })
    }

    /// A tensor filled with samples from U(low, high) drawn from `generator`.
    public static func uniform(_ shape: [Int], low: Float, high: Float, using generator: inout SeededGenerator) -> Tensor {
        var t = Tensor(shape: shape)
        for i in 0..<t.storage.count { t.storage[i] = generator.nextFloat(in: low..<high) }
        return t
    }

    /// A tensor filled with samples from N(mean, std²) drawn from `generator`.
    public static func normal(_ shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
                              using generator: inout SeededGenerator) -> Tensor {
        var t = Tensor(shape: shape)
        for i in 0..<t.storage.count { t.storage[i] = mean + standardDeviation * generator.nextNormal() }
        return t
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// The same elements under a new shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "Cannot reshape \(shape) to \(newShape)")
        var t = self
        t.shape = newShape
        return t
    }

    /// Element at a full multi-index (bounds-checked; not for hot loops).
    public subscript(_ index: Int...) -> Float {
        get { storage[flatIndex(index)] }
        set { storage[flatIndex(index)] = newValue }
    }

    /// Element at a flat row-major offset.
    public subscript(flat offset: Int) -> Float {
        get { storage[offset] }
        set { storage[offset] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "Index \(index) does not match shape \(shape)")
        var offset = 0
        for (i, extent) in zip(index, shape) {
            precondition(i >= 0 && i < extent, "Index \(index) out of range for shape \(shape)")
            offset = offset * extent + i
        }
        return offset
    }

    /// Rows `range` of a tensor whose first dimension is rows (copy).
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0],
                     "Rows \(range) out of range for shape \(shape)")
        let width = shape[0] == 0 ? 0 : count / shape[0]
        var newShape = shape
        newShape[0] = range.count
        return Tensor(shape: newShape, scalars: Array(scalars[(range.lowerBound * width)..<(range.upperBound * width)]))
    }

    /// Calls `body` with the elements as a read-only buffer.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with the elements as a mutable buffer (the shape cannot change).
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer(body)
    }

    /// Sets every element to zero, keeping the shape and the storage.
    public mutating func zero() {
        withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            base.update(repeating: 0, count: buffer.count)
        }
    }

    public var description: String { "Tensor(shape: \(shape), scalars: \(scalars.prefix(16))\(count > 16 ? "…" : ""))" }
}

extension Tensor {
    /// `self += alpha * other` elementwise; shapes must match.
    public mutating func add(_ other: Tensor, scaledBy alpha: Float = 1) {
        precondition(other.count == count, "Cannot add shape \(other.shape) to \(shape)")
        other.withUnsafeBufferPointer { src in
            withUnsafeMutableBufferPointer { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                BLAS.axpy(count: dst.count, alpha: alpha, x: s, y: d)
            }
        }
    }

    /// Multiplies every element by `factor`.
    public mutating func scale(by factor: Float) {
        withUnsafeMutableBufferPointer { dst in
            guard let d = dst.baseAddress else { return }
            BLAS.scal(count: dst.count, alpha: factor, x: d)
        }
    }

    /// Sum of squares of the elements, accumulated in Double.
    public var squaredNorm: Double {
        withUnsafeBufferPointer { b in
            var s = 0.0
            for v in b { s += Double(v) * Double(v) }
            return s
        }
    }

    /// Largest absolute difference from `other` (shapes must match).
    public func maxAbsoluteDifference(_ other: Tensor) -> Float {
        precondition(other.shape == shape, "Shapes differ: \(shape) vs \(other.shape)")
        var m: Float = 0
        for i in 0..<count { m = Swift.max(m, abs(scalars[i] - other.scalars[i])) }
        return m
    }

    /// Whether every element is finite.
    public var isFinite: Bool { scalars.allSatisfy { $0.isFinite } }
}
