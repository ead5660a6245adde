/// An adaptive softmax (Grave et al. 2017; PyTorch's `nn.AdaptiveLogSoftmaxWithLoss`): exact
/// log-probabilities over a large vocabulary at a fraction of a full softmax's cost, for
/// language models whose output layer dominates (a character model of Chinese, a word model).
///
/// The classes, sorted by decreasing frequency, are cut at `cutoffs` into a head (the first
/// `cutoffs[0]` classes) and tail clusters. The head is a linear layer over the shortlist plus
/// one score per cluster; cluster `i` is a projection to `inputSize / divValue^(i+1)` units and a
/// linear layer over its classes, both without bias. A class of the head has the head's
/// log-probability; a class of cluster `i` has the head's log-probability of the cluster plus
/// its log-probability within the cluster. Training only runs a cluster for the rows whose
/// target lies in it, so rare classes cost little.
///
/// Shapes: inputs `[rows, inputSize]`; `logProbabilities` `[rows, classCount]`. Parameter names
/// and initialisation follow PyTorch (`head.weight`, `head.bias` when `headBias`,
/// `tail.{i}.0.weight` `[hidden_i, inputSize]`, `tail.{i}.1.weight` `[size_i, hidden_i]`), so a
/// state dict moves across.
public struct AdaptiveLogSoftmax: ParameterContainer, Sendable {
    /// The classes' boundaries, `classCount` last: the head holds `0..<cutoffs[0]`, cluster `i`
    /// holds `cutoffs[i]..<cutoffs[i + 1]`.
    public let cutoffs: [Int]
    /// `[cutoffs[0] + clusters, inputSize]` (and a bias when built with `headBias`).
    public var head: Linear
    /// Each cluster's projection and output layer.
    public var clusters: [Cluster]

    /// One tail cluster: `projection` `[hidden, inputSize]`, `output` `[size, hidden]`, no biases.
    public struct Cluster: ParameterContainer, Sendable {
        public var projection: Linear
        public var output: Linear

        public mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
            try projection.visitParameters(prefix: prefix + "0.", visit)
            try output.visitParameters(prefix: prefix + "1.", visit)
        }
    }

    public var inputSize: Int { head.inputSize }
    public var classCount: Int { cutoffs[cutoffs.count - 1] }
    /// Classes of the head, before the cluster scores.
    public var shortlistSize: Int { cutoffs[0] }

    /// - Parameters:
    ///   - inputSize: features of each input row.
    ///   - classCount: number of classes (the vocabulary).
    ///   - cutoffs: increasing, positive, each below `classCount` (as PyTorch's `cutoffs`).
    ///   - divValue: each cluster's projection is `divValue` times narrower than the one before.
    ///   - headBias: whether the head has a bias (PyTorch's `head_bias`).
    ///   - generator: draws the initial weights, as PyTorch initialises its linear layers.
    public init(inputSize: Int, classCount: Int, cutoffs: [Int], divValue: Double = 4, headBias: Bool = false,
                generator: inout SeededGenerator) {
        precondition(!cutoffs.isEmpty && zip(cutoffs, cutoffs.dropFirst()).allSatisfy { $0 < $1 }
                     && cutoffs.first! > 0 && cutoffs.last! < classCount,
                     "Adaptive softmax cutoffs must increase, be positive and stay below the \(classCount) classes, got \(cutoffs)")
        precondition(inputSize > 0 && divValue >= 1, "Adaptive softmax needs a positive input size and divValue ≥ 1")
        self.cutoffs = cutoffs + [classCount]
        head = Linear(inputSize: inputSize, outputSize: cutoffs[0] + cutoffs.count, bias: headBias, generator: &generator)
        clusters = Self.clusterSizes(inputSize: inputSize, classCount: classCount, cutoffs: cutoffs, divValue: divValue).map {
            Cluster(projection: Linear(inputSize: inputSize, outputSize: $0.hidden, bias: false, generator: &generator),
                    output: Linear(inputSize: $0.hidden, outputSize: $0.classes, bias: false, generator: &generator))
        }
    }

    /// Each tail cluster's projection width and number of classes: cluster `i` projects to
    /// `inputSize / divValue^(i+1)` units (at least 1) and scores the classes from `cutoffs[i]`
    /// to the next cutoff (or `classCount`). Its weights are `[hidden, inputSize]` and `[classes, hidden]`.
    public static func clusterSizes(inputSize: Int, classCount: Int, cutoffs: [Int],
                                    divValue: Double = 4) -> [(hidden: Int, classes: Int)] {
        let bounds = cutoffs + [classCount]
        var power = 1.0
        return cutoffs.indices.map { i in
            power *= divValue
            // PyTorch: in_features // div_value ** (i + 1) (at least 1 here, where PyTorch would fail).
            let hidden = max(Int((Double(inputSize) / power).rounded(.down)), 1)
            return (hidden, bounds[i + 1] - bounds[i])
        }
    }

    public mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try head.visitParameters(prefix: prefix + "head.", visit)
        for i in clusters.indices { try clusters[i].visitParameters(prefix: prefix + "tail.\(i).", visit) }
    }

    /// Log-probabilities of every class, `[rows, classCount]`, for evaluation and sampling.
    public func logProbabilities(_ input: Tensor) -> Tensor {
        let rows = input.shape[0]
        let head = Kernels.logSoftmax(self.head.forward(input))
        let tails = clusters.map { Kernels.logSoftmax($0.output.forward($0.projection.forward(input))) }
        var scalars = [Float](repeating: 0, count: rows * classCount)
        let headScalars = head.scalars, headWidth = self.head.outputSize
        for r in 0..<rows {
            for j in 0..<shortlistSize { scalars[r * classCount + j] = headScalars[r * headWidth + j] }
            for (i, tail) in tails.enumerated() {
                let clusterScore = headScalars[r * headWidth + shortlistSize + i]
                let first = cutoffs[i], size = cutoffs[i + 1] - first
                let tailScalars = tail.scalars
                for j in 0..<size { scalars[r * classCount + first + j] = tailScalars[r * size + j] + clusterScore }
            }
        }
        return Tensor(shape: [rows, classCount], scalars: scalars)
    }

    /// The mean negative log-likelihood of `targets` (PyTorch's `loss`), adding its gradient into
    /// the parameters' gradients; returns it with the gradient with respect to `input`.
    public mutating func loss(input: Tensor, targets: [Int]) -> (loss: Double, inputGradient: Tensor) {
        precondition(input.rank == 2 && input.shape[1] == inputSize, "Adaptive softmax input must be [rows, \(inputSize)], got \(input.shape)")
        let rows = input.shape[0]
        precondition(targets.count == rows && targets.allSatisfy { (0..<classCount).contains($0) },
                     "Adaptive softmax needs one target in 0..<\(classCount) per row (\(rows)), got \(targets.count)")
        guard rows > 0 else { return (0, input) }
        let scale = 1 / Float(rows)
        // The head: each row's class, or its cluster's score.
        let headTargets = self.headTargets(targets)
        let headLogits = head.forward(input)
        var (total, headGradient) = CrossEntropyLoss(ignoreIndex: nil, reduction: .sum)(logits: headLogits, targets: headTargets)
        headGradient.scale(by: scale)
        var inputGradient = head.backward(input: input, outputGradient: headGradient)
        // Each cluster, over the rows whose target lies in it.
        for i in clusters.indices {
            let members = self.members(ofCluster: i, targets: targets)
            guard !members.isEmpty else { continue }
            let subset = Self.gather(input, rows: members)
            let projected = clusters[i].projection.forward(subset)
            let logits = clusters[i].output.forward(projected)
            var (clusterLoss, gradient) = CrossEntropyLoss(ignoreIndex: nil, reduction: .sum)(
                logits: logits, targets: members.map { targets[$0] - cutoffs[i] })
            total += clusterLoss
            gradient.scale(by: scale)
            let projectedGradient = clusters[i].output.backward(input: projected, outputGradient: gradient)
            let subsetGradient = clusters[i].projection.backward(input: subset, outputGradient: projectedGradient)
            Self.scatterAdd(subsetGradient, rows: members, into: &inputGradient)
        }
        return (total / Double(rows), inputGradient)
    }

    /// The summed negative log-likelihood of `targets`, without gradients (evaluation): like
    /// `loss`, each cluster runs only for the rows whose target lies in it.
    public func negativeLogLikelihood(input: Tensor, targets: [Int]) -> Double {
        precondition(input.rank == 2 && input.shape[1] == inputSize && targets.count == input.shape[0]
                     && targets.allSatisfy { (0..<classCount).contains($0) },
                     "Adaptive softmax needs [rows, \(inputSize)] inputs and one target in 0..<\(classCount) per row")
        guard !targets.isEmpty else { return 0 }
        let headTargets = self.headTargets(targets)
        let sum = CrossEntropyLoss(ignoreIndex: nil, reduction: .sum)
        var total = sum(logits: head.forward(input), targets: headTargets).loss
        for i in clusters.indices {
            let members = self.members(ofCluster: i, targets: targets)
            guard !members.isEmpty else { continue }
            let logits = clusters[i].output.forward(clusters[i].projection.forward(Self.gather(input, rows: members)))
            total += sum(logits: logits, targets: members.map { targets[$0] - cutoffs[i] }).loss
        }
        return total
    }

    /// Each row's class in the head: its own class in the shortlist, else its cluster's entry.
    private func headTargets(_ targets: [Int]) -> [Int] {
        targets.map { $0 < shortlistSize ? $0 : shortlistSize + clusterIndex(of: $0) }
    }

    /// The rows whose target lies in cluster `i`.
    private func members(ofCluster i: Int, targets: [Int]) -> [Int] {
        targets.indices.filter { targets[$0] >= cutoffs[i] && targets[$0] < cutoffs[i + 1] }
    }

    /// The cluster (0-based) of a class past the shortlist.
    func clusterIndex(of target: Int) -> Int {
        var i = 0
        while target >= cutoffs[i + 1] { i += 1 }
        return i
    }

    private static func gather(_ x: Tensor, rows: [Int]) -> Tensor {
        let width = x.shape[1], scalars = x.scalars
        return Tensor(shape: [rows.count, width], scalars: rows.flatMap { scalars[($0 * width)..<(($0 + 1) * width)] })
    }

    private static func scatterAdd(_ part: Tensor, rows: [Int], into whole: inout Tensor) {
        let width = whole.shape[1], scalars = part.scalars
        whole.withUnsafeMutableBufferPointer { w in
            for (k, row) in rows.enumerated() {
                for j in 0..<width { w[row * width + j] += scalars[k * width + j] }
            }
        }
    }
}
