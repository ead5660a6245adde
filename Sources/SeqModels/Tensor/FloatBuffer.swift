/// A fixed-size, zero-initialised block of `Float`s owned by a reference.
///
/// Internal scratch and cache storage for hot kernels (the LSTM's per-step loops),
/// where holding raw pointers to several buffers at once through nested
/// `withUnsafe…` closures would obscure the algorithm. Never exposed publicly:
/// public APIs take and return `Tensor`.
@usableFromInline
final class FloatBuffer: @unchecked Sendable {
    @usableFromInline let pointer: UnsafeMutablePointer<Float>
    @usableFromInline let count: Int

    @usableFromInline
    init(count: Int) {
        self.count = count
        pointer = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(count, 1))
        pointer.initialize(repeating: 0, count: Swift.max(count, 1))
    }

    /// A buffer whose contents are unspecified until written: for buffers that a kernel
    /// fills completely (skips a pass over memory that large LSTM batches feel).
    @usableFromInline
    init(uninitializedCount count: Int) {
        self.count = count
        pointer = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(count, 1))
    }

    convenience init(_ tensor: Tensor) {
        self.init(count: tensor.count)
        tensor.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.update(from: base, count: count) }
        }
    }

    deinit { pointer.deallocate() }

    /// A tensor copy of the whole buffer with the given shape.
    func tensor(shape: [Int]) -> Tensor {
        precondition(shape.reduce(1, *) == count, "Buffer of \(count) floats cannot have shape \(shape)")
        return Tensor(shape: shape, scalars: Array(UnsafeBufferPointer(start: pointer, count: count)))
    }
}

/// Copies `rows` rows of `columns` floats between strided row-major matrices.
@inline(__always)
func copyRows(from source: UnsafePointer<Float>, stride sourceStride: Int,
              to destination: UnsafeMutablePointer<Float>, stride destinationStride: Int,
              rows: Int, columns: Int) {
    if sourceStride == columns && destinationStride == columns {
        destination.update(from: source, count: rows &* columns)
        return
    }
    for r in 0..<rows {
        (destination + r &* destinationStride).update(from: source + r &* sourceStride, count: columns)
    }
}

/// Adds `rows` rows of `columns` floats from a strided matrix into another.
@inline(__always)
func addRows(from source: UnsafePointer<Float>, stride sourceStride: Int,
             to destination: UnsafeMutablePointer<Float>, stride destinationStride: Int,
             rows: Int, columns: Int) {
    for r in 0..<rows {
        BLAS.axpy(count: columns, alpha: 1, x: source + r &* sourceStride, y: destination + r &* destinationStride)
    }
}
