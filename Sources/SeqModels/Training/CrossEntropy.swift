import CKernels

/// Softmax cross-entropy over rows of logits, with the semantics of PyTorch's
/// `nn.CrossEntropyLoss` (class weights, `ignore_index`, mean or sum reduction).
///
/// For logits `[n, C]` and targets `t`, row i contributes `w_i · (−log softmax(x_i)[t_i])`,
/// where `w_i = classWeights[t_i] · rowWeights[i]` (each 1 when not given) and rows whose
/// target equals `ignoreIndex` contribute nothing. `.sum` adds the contributions; `.mean`
/// divides by `Σ w_i` over the rows not ignored — PyTorch's weighted mean, which is the
/// plain mean over non-ignored rows when no weights are given.
///
/// Differences from PyTorch, on purpose:
/// - When nothing is left to average (every row ignored, or the weights sum to 0) the loss
///   is 0 and the gradient all zeros. PyTorch returns NaN (0/0) for `.mean`; a batch made
///   only of padding would then poison every parameter through the optimizer, while 0 and a
///   zero gradient leave the model unchanged, which is what such a batch means.
/// - `rowWeights` is an extension (a per-row mask or weight, e.g. 0 for padding rows of a
///   padded batch); it multiplies into `w_i` exactly as a class weight does.
///
/// `ignoreIndex` defaults to PyTorch's −100, so code ported from PyTorch that marks
/// padding targets with −100 behaves the same; pass `nil` to make every target count.
/// Any other target outside `0..<C` is a programmer error (targets come from a label
/// vocabulary) and stops with a precondition.
public struct CrossEntropyLoss: Sendable, Equatable {
    /// How per-row losses are combined.
    public enum Reduction: String, Sendable, Codable {
        /// Weighted mean over non-ignored rows (PyTorch's default).
        case mean
        /// Plain (weighted) sum.
        case sum
    }

    /// Target value whose rows are skipped; `nil` skips none.
    public var ignoreIndex: Int?
    /// One weight per class, or `nil` for all ones.
    public var classWeights: [Float]?
    public var reduction: Reduction

    public init(ignoreIndex: Int? = -100, classWeights: [Float]? = nil, reduction: Reduction = .mean) {
        self.ignoreIndex = ignoreIndex
        self.classWeights = classWeights
        self.reduction = reduction
    }

    /// The loss (accumulated in `Double`) and its gradient with respect to `logits`
    /// (`[n, C]`, Float), computed together by one fused kernel (one exp per logit).
    /// - Parameters:
    ///   - logits: `[n, C]` unnormalised scores.
    ///   - targets: n class ids in `0..<C` (or `ignoreIndex`).
    ///   - rowWeights: optional n non-negative factors per row (mask or weight).
    public func callAsFunction(logits: Tensor, targets: [Int], rowWeights: [Float]? = nil) -> (loss: Double, gradient: Tensor) {
        precondition(logits.rank == 2, "Cross-entropy logits must be [rows, classes], got \(logits.shape)")
        let n = logits.shape[0], c = logits.shape[1]
        precondition(targets.count == n, "Cross-entropy needs \(n) targets, got \(targets.count)")
        if let w = classWeights { precondition(w.count == c, "Cross-entropy needs \(c) class weights, got \(w.count)") }
        if let r = rowWeights { precondition(r.count == n, "Cross-entropy needs \(n) row weights, got \(r.count)") }

        // Per-row weights (0 for ignored rows) and their total.
        var weights = [Float](repeating: 0, count: n)
        var totalWeight = 0.0
        for i in 0..<n {
            let t = targets[i]
            if let ignore = ignoreIndex, t == ignore { continue }
            precondition(t >= 0 && t < c, "Cross-entropy target \(t) in row \(i) is outside 0..<\(c)")
            let w = (classWeights?[t] ?? 1) * (rowWeights?[i] ?? 1)
            weights[i] = w
            totalWeight += Double(w)
        }
        let divisor: Double = reduction == .mean ? totalWeight : 1
        guard divisor != 0, n > 0 else { return (0, Tensor(shape: logits.shape)) }

        // Each row's gradient scale: its weight over the divisor (0 for an ignored row).
        let scales = weights.map { Float(Double($0) / divisor) }
        var gradient = Tensor(shape: logits.shape)
        var rowLosses = [Float](repeating: 0, count: n)
        logits.withUnsafeBufferPointer { x in
            gradient.withUnsafeMutableBufferPointer { g in
                sm_softmax_cross_entropy_rows(x.baseAddress, targets, scales, g.baseAddress, &rowLosses, n, c)
            }
        }
        var loss = 0.0
        for i in 0..<n where weights[i] != 0 { loss += Double(weights[i]) * Double(rowLosses[i]) }
        return (loss / divisor, gradient)
    }
}
