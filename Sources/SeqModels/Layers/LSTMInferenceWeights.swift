import Foundation

extension LSTM {
    /// A direction's weights for inference, or the gate rows of its hidden units `units`: the
    /// packed recurrent and input weights and the summed biases. The two parts of a direction
    /// split by sequences share one; an `LSTM` keeps them between passes (`InferenceWeightCache`).
    struct InferenceWeights: Sendable {
        let units: Range<Int>
        let recurrent: RepeatedProduct
        let input: RepeatedProduct
        let bias: [Float]

        init(_ cell: Cell, hidden H: Int, units: Range<Int>, threaded: Bool) {
            self.units = units
            recurrent = RepeatedProduct(Self.gateRows(cell.weightHH.value, hidden: H, units: units), transposed: true, threaded: threaded)
            input = RepeatedProduct(Self.gateRows(cell.weightIH.value, hidden: H, units: units), transposed: true, threaded: threaded)
            bias = Self.gateRows(LSTM.gateBias(cell), width: 1, hidden: H, units: units)
        }

        /// The gate rows of the hidden units `units` in a gate-blocked `[4H, width]` row-major matrix
        /// (`width` 1 for a `[4H]` bias): rows `g·H + u` for each gate g (i, f, g, o) and unit u in
        /// `units`, gate blocks kept in order, `[4·units.count, width]`.
        static func gateRows(_ values: [Float], width: Int, hidden H: Int, units: Range<Int>) -> [Float] {
            guard units != 0..<H else { return values }
            return (0..<4).flatMap { gate in values[(gate * H + units.lowerBound) * width ..< (gate * H + units.upperBound) * width] }
        }

        /// `gateRows` of a `[4H, width]` weight matrix, as a `[4·units.count, width]` matrix.
        static func gateRows(_ matrix: Tensor, hidden H: Int, units: Range<Int>) -> Tensor {
            guard units != 0..<H else { return matrix }
            let width = matrix.shape[1]
            return Tensor(shape: [4 * units.count, width], scalars: gateRows(matrix.scalars, width: width, hidden: H, units: units))
        }
    }
}

/// The packed inference weights of one `LSTM` value, built on first use and kept for as long
/// as its parameters stay as they are.
///
/// Packing a direction's weights reads and rewrites every one of them. Done on every call, it
/// took 2.3% of the profile samples of `seqmodels bench lstm`'s shape (a) at one thread, and 3.2%
/// of shape (b)'s at two threads, all on one thread while the other waited for it. A model that
/// tags or classifies batch after batch now packs once.
///
/// `LSTM.cells` empties its cache, or gives it a fresh one when another copy of the model
/// still shares it, on every change to any parameter; two values that share a cache therefore
/// have the same parameters. Passes on several threads over one model may use one cache at
/// once: each entry is built once, under a lock.
final class InferenceWeightCache: @unchecked Sendable {   // `entries` is only touched under `lock`
    /// Which weights: a layer and direction (`slice`), its hidden units, and whether large
    /// products may use BLAS's threads.
    struct Key: Hashable, Sendable {
        let slice: Int
        let units: Range<Int>
        let threaded: Bool
    }

    private let lock = NSLock()
    private var entries: [Key: LSTM.InferenceWeights] = [:]

    /// The weights for `key`, built by `build` if this cache has none yet.
    func weights(_ key: Key, build: () -> LSTM.InferenceWeights) -> LSTM.InferenceWeights {
        lock.lock()
        defer { lock.unlock() }
        if let weights = entries[key] { return weights }
        let weights = build()
        entries[key] = weights
        return weights
    }

    /// How many weight sets the cache holds (for tests).
    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }

    /// Forgets every weight set.
    func removeAll() {
        lock.lock()
        defer { lock.unlock() }
        entries.removeAll()
    }
}
