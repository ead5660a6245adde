import Foundation
import SeqModels

/// One training or evaluation example of a language model: token ids and, at every
/// position, the id of the token that follows (`targets[t] == next token after inputs[t]`).
///
/// A `stream` chunk is `inputs = ids[s..<e-1]`, `targets = ids[s+1..<e]`; a `lines`
/// record is `inputs = [<bos>] + ids`, `targets = ids + [<eos>]`.
public struct TokenSequence: Equatable, Sendable {
    public var inputs: [Int]
    public var targets: [Int]

    /// A sequence of at least one token; `inputs` and `targets` have equal lengths.
    public init(inputs: [Int], targets: [Int]) {
        precondition(!inputs.isEmpty && inputs.count == targets.count,
                     "A token sequence needs as many targets as inputs (and at least one), got \(inputs.count) and \(targets.count)")
        self.inputs = inputs
        self.targets = targets
    }

    /// Number of predicted tokens.
    public var count: Int { inputs.count }
}

/// An LSTM language model: embedding → stacked LSTM → linear layer over the vocabulary,
/// trained with softmax cross-entropy on the next token.
///
/// Shapes (N packed tokens of a batch, V vocabulary, E embedding, H hidden):
/// ids `[N]` → embeddings `[N, E]` → LSTM rows `[N, H]` → logits `[N, V]`. Dropout
/// (`configuration.dropout`) is applied to the embeddings, between LSTM layers and to the
/// last layer's output, and DropConnect (`configuration.weightDrop`) to the LSTM's
/// hidden-to-hidden weights, in training only. Parameter names follow PyTorch's
/// `word_language_model` example (`embedding.`, `lstm.`, `decoder.`), so the safetensors
/// checkpoint loads into the same-shaped PyTorch module (`Tools/bench_generator_pytorch.py`).
///
/// A training batch starts from a zero state, or from a given one (consecutive truncated
/// BPTT: `accumulateGradients(on:initialState:generator:)`, gradients cut at the batch
/// boundary); evaluation runs whole sequences, however long, in windows carrying the state.
public struct LanguageModel: TrainableModel, Sendable {
    public typealias Example = TokenSequence

    public let configuration: GeneratorConfiguration
    /// `[V, E]`, PyTorch name `embedding.weight`.
    public var embedding: Embedding
    /// `nn.LSTM(E, H, layerCount)`, names `lstm.weight_ih_l0`, ….
    public var lstm: LSTM
    /// The full-softmax output layer: `[V, H]` weight and `[V]` bias, names `decoder.weight`,
    /// `decoder.bias`; `nil` when the model has an adaptive softmax.
    public var decoder: Linear?
    /// The adaptive-softmax output layer (`configuration.adaptiveCutoffs`), names `decoder.head.weight`, ….
    public var adaptiveDecoder: AdaptiveLogSoftmax?

    /// Steps per window when evaluating long sequences (bounds memory, not the context).
    public var evaluationWindow = 128
    /// Sequences evaluated together in one batch.
    public var evaluationBatchSize = 64

    /// A model with PyTorch's default initialisation (embedding N(0, 1), LSTM and decoder
    /// uniform), drawn from `generator` in the order embedding, LSTM, decoder.
    public init(_ configuration: GeneratorConfiguration, generator: inout SeededGenerator) {
        self.configuration = configuration
        embedding = Embedding(vocabularySize: configuration.vocabularySize, dimension: configuration.embeddingSize,
                              generator: &generator)
        lstm = LSTM(configuration.lstm, generator: &generator)
        if let cutoffs = configuration.adaptiveCutoffs {
            adaptiveDecoder = AdaptiveLogSoftmax(inputSize: configuration.hiddenSize, classCount: configuration.vocabularySize,
                                                 cutoffs: cutoffs, generator: &generator)
        } else {
            decoder = Linear(inputSize: configuration.hiddenSize, outputSize: configuration.vocabularySize,
                             generator: &generator)
        }
    }

    /// Scores `[rows, V]` of the next token after LSTM outputs `hidden`: logits of the full
    /// softmax, or the adaptive softmax's log-probabilities (already normalised); either is
    /// what a softmax, a cross-entropy or sampling takes.
    public func scores(_ hidden: Tensor) -> Tensor {
        if let adaptiveDecoder { return adaptiveDecoder.logProbabilities(hidden) }
        return decoder!.forward(hidden)
    }

    public mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try embedding.visitParameters(prefix: prefix + "embedding.", visit)
        try lstm.visitParameters(prefix: prefix + "lstm.", visit)
        if decoder != nil { try decoder!.visitParameters(prefix: prefix + "decoder.", visit) }
        if adaptiveDecoder != nil { try adaptiveDecoder!.visitParameters(prefix: prefix + "decoder.", visit) }
    }

    public func length(of example: TokenSequence) -> Int { example.count }

    // MARK: - Training

    /// Forward and backward on `batch` (each sequence from a zero state): adds the gradient of
    /// the mean cross-entropy over the batch's tokens into the parameters' gradients.
    public mutating func accumulateGradients(on batch: [TokenSequence], generator: inout SeededGenerator) -> BatchLoss {
        guard !batch.isEmpty else { return BatchLoss(sum: 0, count: 0) }
        return accumulateGradients(on: batch, initialState: nil, generator: &generator).loss
    }

    /// Forward and backward on `batch` starting from `initialState` (zeros when `nil`): adds
    /// the gradient of the mean cross-entropy over the batch's tokens into the parameters'
    /// gradients and returns the loss and the LSTM state after each sequence's last token.
    ///
    /// The initial state is a constant here (truncated BPTT: no gradient flows into it), so
    /// the state of one batch can start the next one (consecutive sampling).
    ///
    /// - Parameters:
    ///   - batch: at least one sequence, in any length order.
    ///   - initialState: `(h0, c0)`, each `[layers, batch.count, H]` in the order of `batch`.
    ///   - generator: draws the dropout masks.
    /// - Returns: the summed loss and token count, and `(hN, cN)` `[layers, batch.count, H]`
    ///   in the order of `batch`.
    public mutating func accumulateGradients(on batch: [TokenSequence], initialState: LSTMState?,
                                             generator: inout SeededGenerator) -> (loss: BatchLoss, finalState: LSTMState) {
        precondition(!batch.isEmpty, "A training batch needs at least one sequence")
        let layout = Self.layout(lengths: batch.map(\.count), sorted: false)
        let ids = layout.pack(batch.map(\.inputs))
        let targets = layout.pack(batch.map(\.targets))
        let dropout = Dropout(probability: configuration.dropout)
        let weightDrop = RecurrentWeightDrop(probability: configuration.recurrentWeightDrop)
        let weightDropStep = weightDrop.apply(to: &lstm, generator: &generator)
        defer { if let weightDropStep { weightDrop.restore(&lstm, after: weightDropStep) } }

        let (embedded, embeddingMask) = dropout.forward(embedding.forward(ids), generator: &generator)
        let (output, finalState, cache) = lstm.forward(layout.packedSequence(data: embedded), initialState: initialState,
                                                       generator: &generator)
        let (hidden, outputMask) = dropout.forward(output.data, generator: &generator)
        let loss: Double, hiddenGradient: Tensor
        if adaptiveDecoder != nil {
            (loss, hiddenGradient) = adaptiveDecoder!.loss(input: hidden, targets: targets)
        } else {
            let (meanLoss, logitsGradient) = CrossEntropyLoss(ignoreIndex: nil)(logits: decoder!.forward(hidden), targets: targets)
            loss = meanLoss
            hiddenGradient = decoder!.backward(input: hidden, outputGradient: logitsGradient)
        }

        let outputGradient = dropout.backward(outputGradient: hiddenGradient, mask: outputMask)
        let (inputGradient, _) = lstm.backward(cache, outputGradient: outputGradient)
        embedding.backward(ids: ids, outputGradient: dropout.backward(outputGradient: inputGradient, mask: embeddingMask))
        return (BatchLoss(sum: loss * Double(ids.count), count: ids.count), finalState)
    }

    // MARK: - Evaluation

    /// Mean cross-entropy per token (nats) as the metric, lower is better; details hold the
    /// perplexity `exp(loss)` and the number of tokens.
    public func evaluate(on examples: [TokenSequence]) -> Evaluation {
        evaluation(fromSums: evaluationCounts(on: examples))
    }

    /// The sums of `evaluationCounts(on:)`: the evaluation splits over processes.
    public func evaluationSums(on examples: [TokenSequence]) -> [Double]? { evaluationCounts(on: examples) }

    /// The summed cross-entropy (nats) and the number of tokens predicted.
    public func evaluationCounts(on examples: [TokenSequence]) -> [Double] {
        let total = loss(on: examples)
        return [total.sum, Double(total.count)]
    }

    /// The mean cross-entropy per token, with the perplexity and the token count as details.
    public func evaluation(fromSums sums: [Double]) -> Evaluation {
        precondition(sums.count == 2, "A language model's evaluation sums are a loss and a count")
        let total = BatchLoss(sum: sums[0], count: Int(sums[1]))
        return Evaluation(metricName: "loss", metric: total.mean, higherIsBetter: false,
                          details: ["perplexity": Foundation.exp(total.mean), "tokens": Double(total.count)])
    }

    /// Summed cross-entropy (nats) and token count over `examples`, in inference mode.
    ///
    /// Every sequence starts from a zero state and runs to its end, however long: it is
    /// processed in windows of `evaluationWindow` steps carrying the LSTM state, in batches of
    /// `evaluationBatchSize` sequences of similar lengths.
    public func loss(on examples: [TokenSequence]) -> BatchLoss {
        let order = examples.indices.sorted { examples[$0].count > examples[$1].count }
        var total = BatchLoss(sum: 0, count: 0)
        var start = 0
        while start < order.count {
            let group = order[start..<min(start + evaluationBatchSize, order.count)].map { examples[$0] }
            let part = windowedLoss(sortedGroup: group)
            total.sum += part.sum
            total.count += part.count
            start += evaluationBatchSize
        }
        return total
    }

    /// Loss of sequences sorted by decreasing length, run window by window with the state carried.
    private func windowedLoss(sortedGroup group: [TokenSequence]) -> BatchLoss {
        let window = max(1, evaluationWindow)
        let longest = group[0].count
        var state: LSTMState? = nil
        var total = BatchLoss(sum: 0, count: 0)
        var t0 = 0
        while t0 < longest {
            let t1 = min(t0 + window, longest)
            let live = group.prefix { $0.count > t0 }.count
            let pieces = group[0..<live]
            let layout = Self.layout(lengths: pieces.map { min($0.count, t1) - t0 }, sorted: true)
            let ids = layout.pack(pieces.map { Array($0.inputs[t0..<min($0.count, t1)]) })
            let targets = layout.pack(pieces.map { Array($0.targets[t0..<min($0.count, t1)]) })
            let initial = state.map { Self.firstRows($0, count: live) }
            let (output, finalState) = lstm(layout.packedSequence(data: embedding.forward(ids)), initialState: initial)
            if let adaptiveDecoder {
                total.sum += adaptiveDecoder.negativeLogLikelihood(input: output.data, targets: targets)
            } else {
                total.sum += CrossEntropyLoss(ignoreIndex: nil, reduction: .sum)(logits: decoder!.forward(output.data), targets: targets).loss
            }
            total.count += ids.count
            state = finalState
            t0 = t1
        }
        return total
    }

    // MARK: - Helpers

    /// The packing layout of positive lengths (guaranteed by `TokenSequence`).
    static func layout(lengths: [Int], sorted: Bool) -> PackingLayout {
        do {
            return try PackingLayout(lengths: lengths, enforceSorted: sorted)
        } catch {
            preconditionFailure("Token sequences always have positive lengths: \(error)")
        }
    }

    /// The first `count` batch entries of a `[slices, batch, H]` state.
    static func firstRows(_ state: LSTMState, count: Int) -> LSTMState {
        let slices = state.hidden.shape[0], batch = state.hidden.shape[1], h = state.hidden.shape[2]
        if count == batch { return state }
        func cut(_ t: Tensor) -> Tensor {
            var result = Tensor(shape: [slices, count, h])
            t.withUnsafeBufferPointer { src in
                result.withUnsafeMutableBufferPointer { dst in
                    for s in 0..<slices {
                        dst.baseAddress!.advanced(by: s * count * h)
                            .update(from: src.baseAddress!.advanced(by: s * batch * h), count: count * h)
                    }
                }
            }
            return result
        }
        return LSTMState(hidden: cut(state.hidden), cell: cut(state.cell))
    }
}
