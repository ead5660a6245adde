import SeqModels

/// How a classifier turns the LSTM's per-token outputs into one vector per text,
/// looking at the real tokens only (a packed batch has no padding to leak in).
///
/// For a bidirectional LSTM with output rows `[forward H | reverse H]`:
/// - `max`: the element-wise maximum over the tokens (width `F`). Picks out the
///   strongest local cue ("not worth", "loved it") wherever it sits in a long review.
/// - `mean`: the average over the tokens (width `F`): the overall tone.
/// - `last`: the forward half at the last token and the reverse half at the first
///   token, i.e. both directions' final states (width `F`). Cheap, but it must carry
///   a 300-token review through one state, and long reviews fade.
/// - `maxMean`: `max` and `mean` side by side (width `2F`); the default. On long
///   reviews max pooling finds the decisive phrases and the mean weighs the many
///   mild ones; it is the concat pooling of ULMFiT without the last state (which
///   `max` and `mean` already cover better on long texts), and the wider Linear
///   layer costs next to nothing beside the LSTM.
public enum SequencePooling: String, Codable, Sendable, CaseIterable {
    case max
    case mean
    case last
    case maxMean = "max+mean"

    /// Width of the pooled vector for LSTM outputs of `featureCount` columns.
    public func outputSize(featureCount: Int) -> Int {
        self == .maxMean ? 2 * featureCount : featureCount
    }

    /// What `backward` needs from `forward`: for max pooling, the packed row that won each
    /// (sequence, feature).
    public struct Cache: Sendable {
        /// `[batch * features]` winning packed rows (original batch order), empty unless max is used.
        var argmax: [Int32]
        var layout: PackingLayout
        var featureCount: Int
        var bidirectional: Bool
    }

    /// Pools the packed rows `output.data` (`[rows, F]`) into `[batch, outputSize]`, one row per
    /// sequence in the *original* batch order. For `last`, `bidirectional` says whether the second
    /// half of the columns is a reverse direction (whose final state sits at the first token).
    public func forward(_ output: PackedSequence, bidirectional: Bool) -> (pooled: Tensor, cache: Cache) {
        let layout = output.layout
        let F = output.featureCount, B = layout.batchSize, N = layout.rowCount
        let width = outputSize(featureCount: F)
        var pooled = Tensor(shape: [B, width])
        var argmax: [Int32] = (self == .max || self == .maxMean) ? [Int32](repeating: 0, count: B * F) : []
        let rowSequences = layout.rowSequences
        let lengths = layout.lengths
        output.data.withUnsafeBufferPointer { xb in
            pooled.withUnsafeMutableBufferPointer { pb in
                argmax.withUnsafeMutableBufferPointer { ab in
                    guard let x = xb.baseAddress, let p = pb.baseAddress else { return }
                    switch self {
                    case .max, .maxMean:
                        let a = ab.baseAddress!
                        // Initialise with each sequence's first row (step 0 rows are 0..<B in sorted order).
                        for b in 0..<B {
                            let r = layout.row(sequence: b, step: 0)
                            let dst = p.advanced(by: b &* width)
                            dst.update(from: x.advanced(by: r &* F), count: F)
                            for f in 0..<F { a[b &* F &+ f] = Int32(r) }
                        }
                        for r in 0..<N {
                            let b = rowSequences[r]
                            let src = x.advanced(by: r &* F), dst = p.advanced(by: b &* width)
                            let arg = a.advanced(by: b &* F)
                            for f in 0..<F where src[f] > dst[f] {
                                dst[f] = src[f]
                                arg[f] = Int32(r)
                            }
                        }
                        if self == .maxMean {
                            Self.addMean(x: x, into: p.advanced(by: F), stride: width, F: F, rowSequences: rowSequences, lengths: lengths)
                        }
                    case .mean:
                        Self.addMean(x: x, into: p, stride: width, F: F, rowSequences: rowSequences, lengths: lengths)
                    case .last:
                        let forwardWidth = bidirectional ? F / 2 : F
                        for b in 0..<B {
                            let dst = p.advanced(by: b &* width)
                            let lastRow = layout.row(sequence: b, step: lengths[b] - 1)
                            dst.update(from: x.advanced(by: lastRow &* F), count: forwardWidth)
                            if bidirectional {
                                let firstRow = layout.row(sequence: b, step: 0)
                                dst.advanced(by: forwardWidth).update(from: x.advanced(by: firstRow &* F &+ forwardWidth),
                                                                      count: F - forwardWidth)
                            }
                        }
                    }
                }
            }
        }
        return (pooled, Cache(argmax: argmax, layout: layout, featureCount: F, bidirectional: bidirectional))
    }

    /// Adds each sequence's mean row into `p[b * stride ..< b * stride + F]` (which must hold zeros).
    private static func addMean(x: UnsafePointer<Float>, into p: UnsafeMutablePointer<Float>, stride: Int, F: Int,
                                rowSequences: [Int], lengths: [Int]) {
        for (r, b) in rowSequences.enumerated() {
            let scale = 1 / Float(lengths[b])
            BLAS.axpy(count: F, alpha: scale, x: x.advanced(by: r &* F), y: p.advanced(by: b &* stride))
        }
    }

    /// The gradient with respect to the packed rows (`[rows, F]`) given the gradient of the
    /// pooled output (`[batch, outputSize]`, original batch order).
    public func backward(_ cache: Cache, pooledGradient: Tensor) -> Tensor {
        let layout = cache.layout, F = cache.featureCount
        let B = layout.batchSize, N = layout.rowCount, width = outputSize(featureCount: F)
        precondition(pooledGradient.shape == [B, width], "Pooled gradient must be [\(B), \(width)], got \(pooledGradient.shape)")
        var dx = Tensor(shape: [N, F])
        let rowSequences = layout.rowSequences, lengths = layout.lengths
        pooledGradient.withUnsafeBufferPointer { gb in
            dx.withUnsafeMutableBufferPointer { db in
                cache.argmax.withUnsafeBufferPointer { ab in
                    guard let g = gb.baseAddress, let d = db.baseAddress else { return }
                    switch self {
                    case .max, .maxMean:
                        let a = ab.baseAddress!
                        for b in 0..<B {
                            let src = g.advanced(by: b &* width)
                            for f in 0..<F {
                                let r = Int(a[b &* F &+ f])
                                d[r &* F &+ f] += src[f]
                            }
                        }
                        if self == .maxMean {
                            for r in 0..<N {
                                let b = rowSequences[r]
                                BLAS.axpy(count: F, alpha: 1 / Float(lengths[b]), x: g.advanced(by: b &* width &+ F), y: d.advanced(by: r &* F))
                            }
                        }
                    case .mean:
                        for r in 0..<N {
                            let b = rowSequences[r]
                            BLAS.axpy(count: F, alpha: 1 / Float(lengths[b]), x: g.advanced(by: b &* width), y: d.advanced(by: r &* F))
                        }
                    case .last:
                        let forwardWidth = cache.bidirectional ? F / 2 : F
                        for b in 0..<B {
                            let src = g.advanced(by: b &* width)
                            let lastRow = layout.row(sequence: b, step: lengths[b] - 1)
                            BLAS.axpy(count: forwardWidth, alpha: 1, x: src, y: d.advanced(by: lastRow &* F))
                            if cache.bidirectional {
                                let firstRow = layout.row(sequence: b, step: 0)
                                BLAS.axpy(count: F - forwardWidth, alpha: 1, x: src.advanced(by: forwardWidth),
                                          y: d.advanced(by: firstRow &* F &+ forwardWidth))
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
