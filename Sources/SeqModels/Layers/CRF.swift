import Foundation

/// A linear-chain conditional random field over per-token tag scores, for sequence labelling
/// (BiLSTM-CRF, Lample et al. 2016; Huang et al. 2015).
///
/// A tag sequence `y` of a sentence with emission scores `e` (`[T, K]`, the scores a tagger's
/// output layer gives each tag at each token) scores
/// `start[y₀] + Σₜ e[t, yₜ] + Σₜ₌₁ transitions[yₜ₋₁, yₜ] + end[y_last]`, and the CRF's
/// probability of `y` is `exp(score(y)) / Σ_y' exp(score(y'))`. Training minimises the negative
/// log-likelihood of the gold tags (the forward algorithm in log space gives the normaliser);
/// prediction takes the best-scoring sequence (Viterbi). Unlike a softmax per token, the CRF
/// scores whole sequences, so it learns which tags follow which.
///
/// Parameters, named as pytorch-crf's `CRF` (`transitions`, `start_transitions`,
/// `end_transitions`), initialised as it does, U(−0.1, 0.1): `transitions` `[K, K]` (row: the
/// previous tag, column: the next), `startTransitions` and `endTransitions` `[K]`.
///
/// Batches are packed (`PackedSequence`'s layout): `emissions` `[N, K]` in packed row order,
/// `batchSizes[t]` sequences alive at step t, the sequences sorted by decreasing length, so
/// sequence `b` at step `t` is row `stepOffsets[t] + b`. No work is spent on padding. Sums over
/// tags run in `Double`.
public struct CRF: ParameterContainer, Sendable {
    /// `[K, K]`: `transitions[i, j]` scores tag `j` right after tag `i`.
    public var transitions: Parameter
    /// `[K]`: the score of each tag at a sentence's first token.
    public var startTransitions: Parameter
    /// `[K]`: the score of each tag at a sentence's last token.
    public var endTransitions: Parameter

    /// `K`, the number of tags.
    public var tagCount: Int { startTransitions.value.count }

    /// A CRF over `tagCount` tags, every score drawn from U(−0.1, 0.1) (pytorch-crf's
    /// initialisation), in the order transitions, start, end.
    public init(tagCount: Int, generator: inout SeededGenerator) {
        precondition(tagCount > 0, "A CRF needs at least one tag, got \(tagCount)")
        transitions = Parameter(.uniform([tagCount, tagCount], low: -0.1, high: 0.1, using: &generator))
        startTransitions = Parameter(.uniform([tagCount], low: -0.1, high: 0.1, using: &generator))
        endTransitions = Parameter(.uniform([tagCount], low: -0.1, high: 0.1, using: &generator))
    }

    public mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try visit(prefix + "transitions", &transitions)
        try visit(prefix + "start_transitions", &startTransitions)
        try visit(prefix + "end_transitions", &endTransitions)
    }

    // MARK: - Training

    /// The negative log-likelihood of `tags` given `emissions`, summed over the batch's
    /// sequences; adds `gradientScale` × its gradient into the three parameters' gradients and
    /// returns `gradientScale` × its gradient with respect to the emissions (`[N, K]`). A
    /// tagger that minimises the mean over tokens passes `1 / N`.
    ///
    /// - Parameters:
    ///   - emissions: `[N, K]`, packed rows.
    ///   - batchSizes: sequences alive at each step (non-increasing, summing to N).
    ///   - tags: the gold tag of each packed row, each in `0..<K`.
    ///   - gradientScale: the factor of the gradients added and returned.
    public mutating func negativeLogLikelihood(emissions: Tensor, batchSizes: [Int], tags: [Int],
                                               gradientScale: Double = 1) -> (loss: Double, emissionsGradient: Tensor) {
        let pass = Pass(crf: self, emissions: emissions, batchSizes: batchSizes)
        precondition(tags.count == pass.rows && tags.allSatisfy { (0..<pass.tags).contains($0) },
                     "CRF tags must be one tag in 0..<\(pass.tags) per packed row (\(pass.rows)), got \(tags.count)")
        let alpha = pass.forwardScores()
        let beta = pass.backwardScores()
        let K = pass.tags
        var emissionsGradient = [Float](repeating: 0, count: pass.rows * K)
        var transitionsGradient = [Double](repeating: 0, count: K * K)
        var startGradient = [Double](repeating: 0, count: K), endGradient = [Double](repeating: 0, count: K)
        var loss = 0.0
        for b in 0..<pass.sequences {
            let last = pass.lastStep[b]
            let logZ = pass.logSumExp((0..<K).map { alpha[pass.row(last, b) * K + $0] + pass.end[$0] })
            // Minus the gold sequence's score; the gold terms of the gradient.
            var score = pass.start[tags[pass.row(0, b)]] + pass.end[tags[pass.row(last, b)]]
            startGradient[tags[pass.row(0, b)]] -= 1
            endGradient[tags[pass.row(last, b)]] -= 1
            for t in 0...last {
                let row = pass.row(t, b), tag = tags[row]
                score += pass.emission(row, tag)
                emissionsGradient[row * K + tag] -= Float(gradientScale)
                if t > 0 {
                    let previous = tags[pass.row(t - 1, b)]
                    score += pass.transition(previous, tag)
                    transitionsGradient[previous * K + tag] -= 1
                }
            }
            loss += logZ - score
            // The expected counts under the CRF: marginals of each tag and each pair of tags.
            for t in 0...last {
                let row = pass.row(t, b)
                for j in 0..<K {
                    let p = Foundation.exp(alpha[row * K + j] + beta[row * K + j] - logZ)
                    emissionsGradient[row * K + j] += Float(gradientScale * p)
                    if t == 0 { startGradient[j] += p }
                    if t == last { endGradient[j] += p }
                }
                if t > 0 {
                    let previousRow = pass.row(t - 1, b)
                    for i in 0..<K {
                        let from = alpha[previousRow * K + i] - logZ
                        for j in 0..<K {
                            transitionsGradient[i * K + j] += Foundation.exp(
                                from + pass.transition(i, j) + pass.emission(row, j) + beta[row * K + j])
                        }
                    }
                }
            }
        }
        Self.add(transitionsGradient, scale: gradientScale, into: &transitions)
        Self.add(startGradient, scale: gradientScale, into: &startTransitions)
        Self.add(endGradient, scale: gradientScale, into: &endTransitions)
        return (loss, Tensor(shape: [pass.rows, K], scalars: emissionsGradient))
    }

    /// The negative log-likelihood alone (summed over the sequences), for evaluation and tests.
    public func negativeLogLikelihood(emissions: Tensor, batchSizes: [Int], tags: [Int]) -> Double {
        var copy = self
        return copy.negativeLogLikelihood(emissions: emissions, batchSizes: batchSizes, tags: tags, gradientScale: 0).loss
    }

    private static func add(_ gradient: [Double], scale: Double, into parameter: inout Parameter) {
        guard parameter.isTrainable, scale != 0 else { return }
        parameter.gradient.withUnsafeMutableBufferPointer { g in
            for i in 0..<gradient.count { g[i] += Float(scale * gradient[i]) }
        }
    }

    /// The marginal probability of every tag at every packed row, `[N, K]`: p(tag of row = k | the
    /// sequence's emissions), from the forward and backward recurrences; each row sums to 1.
    /// What a tagger reports as its confidence in each tag (the Viterbi path's tags need not
    /// each be the most probable one on their own).
    public func marginals(emissions: Tensor, batchSizes: [Int]) -> Tensor {
        let pass = Pass(crf: self, emissions: emissions, batchSizes: batchSizes)
        let alpha = pass.forwardScores(), beta = pass.backwardScores()
        let K = pass.tags
        var result = [Float](repeating: 0, count: pass.rows * K)
        for b in 0..<pass.sequences {
            let last = pass.lastStep[b]
            let logZ = pass.logSumExp((0..<K).map { alpha[pass.row(last, b) * K + $0] + pass.end[$0] })
            for t in 0...last {
                let row = pass.row(t, b)
                for j in 0..<K { result[row * K + j] = Float(Foundation.exp(alpha[row * K + j] + beta[row * K + j] - logZ)) }
            }
        }
        return Tensor(shape: [pass.rows, K], scalars: result)
    }

    // MARK: - Decoding

    /// The best-scoring tag sequence of every sequence (Viterbi), one tag per packed row, in
    /// packed row order. Ties go to the lower tag id.
    public func decode(emissions: Tensor, batchSizes: [Int]) -> [Int] {
        let pass = Pass(crf: self, emissions: emissions, batchSizes: batchSizes)
        let K = pass.tags
        var best = [Double](repeating: 0, count: pass.rows * K)
        var backPointer = [Int](repeating: 0, count: pass.rows * K)
        for b in 0..<pass.sequences {
            let first = pass.row(0, b)
            for j in 0..<K { best[first * K + j] = pass.start[j] + pass.emission(first, j) }
        }
        for t in 1..<max(batchSizes.count, 1) {
            for b in 0..<batchSizes[t] {
                let row = pass.row(t, b), previous = pass.row(t - 1, b)
                for j in 0..<K {
                    var winner = 0, top = -Double.infinity
                    for i in 0..<K {
                        let candidate = best[previous * K + i] + pass.transition(i, j)
                        if candidate > top { top = candidate; winner = i }
                    }
                    best[row * K + j] = top + pass.emission(row, j)
                    backPointer[row * K + j] = winner
                }
            }
        }
        var path = [Int](repeating: 0, count: pass.rows)
        for b in 0..<pass.sequences {
            let last = pass.lastStep[b]
            var tag = 0, top = -Double.infinity
            for j in 0..<K {
                let candidate = best[pass.row(last, b) * K + j] + pass.end[j]
                if candidate > top { top = candidate; tag = j }
            }
            for t in stride(from: last, through: 0, by: -1) {
                let row = pass.row(t, b)
                path[row] = tag
                tag = backPointer[row * K + tag]
            }
        }
        return path
    }

    // MARK: - The recurrences

    /// One batch's scores in `Double`, with its packed layout.
    private struct Pass {
        let tags: Int
        let rows: Int
        let sequences: Int
        let batchSizes: [Int]
        let offsets: [Int]
        /// The last step of each sequence (sorted position).
        let lastStep: [Int]
        let emissions: [Double]
        let transitions: [Double]
        let start: [Double]
        let end: [Double]

        init(crf: CRF, emissions tensor: Tensor, batchSizes: [Int]) {
            let K = crf.tagCount
            precondition(tensor.rank == 2 && tensor.shape[1] == K, "CRF emissions must be [rows, \(K)], got \(tensor.shape)")
            precondition(!batchSizes.isEmpty && batchSizes.allSatisfy { $0 > 0 } && zip(batchSizes, batchSizes.dropFirst()).allSatisfy { $0 >= $1 },
                         "CRF batch sizes must be positive and non-increasing, got \(batchSizes)")
            precondition(batchSizes.reduce(0, +) == tensor.shape[0],
                         "CRF batch sizes sum to \(batchSizes.reduce(0, +)), but the emissions have \(tensor.shape[0]) rows")
            tags = K
            rows = tensor.shape[0]
            sequences = batchSizes[0]
            self.batchSizes = batchSizes
            var offsets = [0]
            for size in batchSizes { offsets.append(offsets[offsets.count - 1] + size) }
            self.offsets = offsets
            lastStep = (0..<batchSizes[0]).map { b in batchSizes.lastIndex { $0 > b }! }
            emissions = tensor.scalars.map(Double.init)
            transitions = crf.transitions.value.scalars.map(Double.init)
            start = crf.startTransitions.value.scalars.map(Double.init)
            end = crf.endTransitions.value.scalars.map(Double.init)
        }

        func row(_ t: Int, _ b: Int) -> Int { offsets[t] + b }
        func emission(_ row: Int, _ tag: Int) -> Double { emissions[row * tags + tag] }
        func transition(_ from: Int, _ to: Int) -> Double { transitions[from * tags + to] }

        func logSumExp(_ values: [Double]) -> Double {
            guard let top = values.max(), top > -.infinity else { return -.infinity }
            return top + Foundation.log(values.reduce(0) { $0 + Foundation.exp($1 - top) })
        }

        /// α: `alpha[row, j]`, the log-sum of the scores of every prefix ending in tag j at that row.
        func forwardScores() -> [Double] {
            let K = tags
            var alpha = [Double](repeating: 0, count: rows * K)
            for b in 0..<sequences {
                for j in 0..<K { alpha[row(0, b) * K + j] = start[j] + emission(row(0, b), j) }
            }
            var terms = [Double](repeating: 0, count: K)
            for t in 1..<batchSizes.count {
                for b in 0..<batchSizes[t] {
                    let current = row(t, b), previous = row(t - 1, b)
                    for j in 0..<K {
                        for i in 0..<K { terms[i] = alpha[previous * K + i] + transition(i, j) }
                        alpha[current * K + j] = logSumExp(terms) + emission(current, j)
                    }
                }
            }
            return alpha
        }

        /// β: `beta[row, i]`, the log-sum of the scores of every suffix after tag i at that row
        /// (the end score included, the row's own emission not).
        func backwardScores() -> [Double] {
            let K = tags
            var beta = [Double](repeating: 0, count: rows * K)
            var terms = [Double](repeating: 0, count: K)
            for b in 0..<sequences {
                let last = lastStep[b]
                for i in 0..<K { beta[row(last, b) * K + i] = end[i] }
                for t in stride(from: last - 1, through: 0, by: -1) {
                    let current = row(t, b), next = row(t + 1, b)
                    for i in 0..<K {
                        for j in 0..<K { terms[j] = transition(i, j) + emission(next, j) + beta[next * K + j] }
                        beta[current * K + i] = logSumExp(terms)
                    }
                }
            }
            return beta
        }
    }
}
