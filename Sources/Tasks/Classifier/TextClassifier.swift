import Foundation
import SeqModels

/// A text as `TextClassifier` reads it: its token ids (at least one), and the ids of its
/// n-gram features when the classifier has a bag of n-grams (see `NGramFeatures`).
public struct ClassifierInput: Equatable, Sendable {
    /// Token ids from the classifier's vocabulary, in text order; never empty.
    public var tokenIDs: [Int]
    /// Ids of the text's distinct n-gram features; empty for a classifier without a bag.
    public var featureIDs: [Int]

    public init(tokenIDs: [Int], featureIDs: [Int] = []) {
        precondition(!tokenIDs.isEmpty, "A classifier input needs at least one token")
        self.tokenIDs = tokenIDs
        self.featureIDs = featureIDs
    }
}

/// One training or evaluation example for `TextClassifier`: a text already turned into
/// ids (`ClassifierInput`) and the id of its label.
public struct ClassifierExample: Equatable, Sendable {
    public var input: ClassifierInput
    /// Index into the classifier's label list.
    public var label: Int

    public init(input: ClassifierInput, label: Int) {
        self.input = input
        self.label = label
    }

    public init(tokenIDs: [Int], featureIDs: [Int] = [], label: Int) {
        self.init(input: ClassifierInput(tokenIDs: tokenIDs, featureIDs: featureIDs), label: label)
    }

    /// The text's token ids.
    public var tokenIDs: [Int] { input.tokenIDs }
}

/// A whole-text classifier: embedding → stacked (Bi)LSTM over a packed batch → pooling over
/// the real tokens → dropout → Linear → softmax, for any number of labels; optionally with a
/// bag of n-grams beside it, whose per-label weights are added to the logits.
///
/// The bag (`Configuration.ngramBag`) is a linear model over the presence of the text's
/// n-grams (`NGramFeatures`), trained jointly with the LSTM: it sees every phrase of the text
/// at once, where the LSTM reads it word by word, and the two make different mistakes. It
/// starts at zero and drops each feature with probability `ngramBag.dropout` in training
/// (scaling the rest): with a weight for every phrase seen in two texts it would otherwise fit
/// the training texts within an epoch and leave the LSTM little loss to learn from. It costs
/// one addition per feature.
///
/// Parameters carry PyTorch names (`embedding.weight`, `lstm.weight_ih_l0_reverse`,
/// `output.weight`), so the checkpoint loads into the same-shaped module of
/// `Tools/bench_classifier_pytorch.py`. The loss is the mean cross-entropy over the
/// texts of a batch, with optional class weights (PyTorch's weighted mean).
public struct TextClassifier: TrainableModel, Sendable {
    /// The shape and regularisation of a classifier, saved in `config.json`.
    public struct Configuration: Codable, Equatable, Sendable {
        public var vocabularySize: Int
        public var embeddingDimension: Int
        public var hiddenSize: Int
        public var layerCount: Int
        public var bidirectional: Bool
        /// Dropout on the embedded tokens (training only).
        public var embeddingDropout: Float
        /// Dropout between LSTM layers and on the pooled vector (training only).
        public var dropout: Float
        public var pooling: SequencePooling
        public var labelCount: Int
        /// Id of `<pad>` in the vocabulary (its embedding row stays zero), if any.
        public var paddingID: Int?
        /// The bag of n-grams beside the LSTM, if any.
        public var ngramBag: NGramBag?

        /// Size and regularisation of the bag of n-grams.
        public struct NGramBag: Codable, Equatable, Sendable {
            /// Number of distinct features (rows of the bag).
            public var featureCount: Int
            /// Probability of dropping each feature of a text in training.
            public var dropout: Float

            public init(featureCount: Int, dropout: Float = 0.5) {
                precondition(featureCount > 0, "A bag of n-grams needs at least one feature")
                precondition(dropout >= 0 && dropout < 1, "Feature dropout must be in [0, 1), got \(dropout)")
                self.featureCount = featureCount
                self.dropout = dropout
            }
        }

        public init(vocabularySize: Int, embeddingDimension: Int = 128, hiddenSize: Int = 48, layerCount: Int = 1,
                    bidirectional: Bool = true, embeddingDropout: Float = 0.5, dropout: Float = 0.5,
                    pooling: SequencePooling = .maxMean, labelCount: Int, paddingID: Int? = nil,
                    ngramBag: NGramBag? = nil) {
            self.vocabularySize = vocabularySize
            self.embeddingDimension = embeddingDimension
            self.hiddenSize = hiddenSize
            self.layerCount = layerCount
            self.bidirectional = bidirectional
            self.embeddingDropout = embeddingDropout
            self.dropout = dropout
            self.pooling = pooling
            self.labelCount = labelCount
            self.paddingID = paddingID
            self.ngramBag = ngramBag
        }

        /// The LSTM part of this configuration.
        public var lstm: LSTM.Configuration {
            LSTM.Configuration(inputSize: embeddingDimension, hiddenSize: hiddenSize, layerCount: layerCount,
                               bidirectional: bidirectional, dropout: layerCount > 1 ? dropout : 0)
        }

        /// Width of the pooled vector fed to the output layer.
        public var pooledSize: Int { pooling.outputSize(featureCount: lstm.outputSize) }
    }

    public typealias Example = ClassifierExample

    public let configuration: Configuration
    public var embedding: Embedding
    public var lstm: LSTM
    public var output: Linear
    /// Per-label weights of the n-gram features (`[featureCount, labelCount]`, PyTorch name
    /// `ngrams.weight`), when the configuration has a bag.
    public var ngrams: EmbeddingBag?
    /// One weight per label for the loss, or `nil` for equal weights.
    public var classWeights: [Float]?

    /// A classifier initialised as PyTorch initialises its layers, drawing from `generator`
    /// in the order embedding, LSTM, output; the bag of n-grams, if any, starts at zero.
    public init(_ configuration: Configuration, classWeights: [Float]? = nil, generator: inout SeededGenerator) {
        precondition(configuration.labelCount >= 2, "A classifier needs at least two labels, got \(configuration.labelCount)")
        if let w = classWeights {
            precondition(w.count == configuration.labelCount, "Class weights must number \(configuration.labelCount), got \(w.count)")
        }
        self.configuration = configuration
        self.embedding = Embedding(vocabularySize: configuration.vocabularySize, dimension: configuration.embeddingDimension,
                                   paddingIndex: configuration.paddingID, generator: &generator)
        self.lstm = LSTM(configuration.lstm, generator: &generator)
        self.output = Linear(inputSize: configuration.pooledSize, outputSize: configuration.labelCount, generator: &generator)
        self.ngrams = configuration.ngramBag.map { EmbeddingBag(count: $0.featureCount, dimension: configuration.labelCount) }
        self.classWeights = classWeights
    }

    public mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try embedding.visitParameters(prefix: prefix + "embedding.", visit)
        try lstm.visitParameters(prefix: prefix + "lstm.", visit)
        try output.visitParameters(prefix: prefix + "output.", visit)
        try ngrams?.visitParameters(prefix: prefix + "ngrams.", visit)
    }

    public func length(of example: ClassifierExample) -> Int { example.tokenIDs.count }

    /// The packing layout of a batch of token-id sequences (each non-empty).
    private static func layout(of texts: [[Int]]) -> PackingLayout {
        do {
            return try PackingLayout(lengths: texts.map(\.count))
        } catch {
            preconditionFailure("Classifier batches hold non-empty texts: \(error)")
        }
    }

    /// The logits `[inputs.count, labelCount]` of a batch of texts, in inference mode.
    public func logits(for inputs: [ClassifierInput]) -> Tensor {
        precondition(!inputs.isEmpty, "logits(for:) needs at least one text")
        let texts = inputs.map(\.tokenIDs)
        let layout = Self.layout(of: texts)
        // Each distinct token is embedded and projected into the LSTM once (see `LSTM.callAsFunction(distinctRows:…)`).
        let ids = layout.pack(texts)
        var position = [Int](repeating: -1, count: configuration.vocabularySize)
        var distinctIDs: [Int] = []
        var rowIndices = [Int](repeating: 0, count: ids.count)
        for (row, id) in ids.enumerated() {
            if position[id] < 0 {
                position[id] = distinctIDs.count
                distinctIDs.append(id)
            }
            rowIndices[row] = position[id]
        }
        let (encoded, _) = lstm(distinctRows: embedding.forward(distinctIDs), rowIndices: rowIndices, layout: layout)
        let (pooled, _) = configuration.pooling.forward(encoded, bidirectional: configuration.bidirectional)
        var logits = output.forward(pooled)
        if let ngrams { logits.add(ngrams.forward(inputs.map(\.featureIDs))) }
        return logits
    }

    /// Label probabilities `[inputs.count, labelCount]` (softmax of the logits), inference mode.
    public func probabilities(for inputs: [ClassifierInput]) -> Tensor {
        Kernels.exp(Kernels.logSoftmax(logits(for: inputs)))
    }

    /// The loss of one batch and (through `backward`) its gradients; used by `accumulateGradients`
    /// and by the gradient checks with dropout off.
    public mutating func accumulateGradients(on batch: [ClassifierExample], generator: inout SeededGenerator) -> BatchLoss {
        precondition(!batch.isEmpty, "A training batch needs at least one example")
        let texts = batch.map(\.tokenIDs)
        let layout = Self.layout(of: texts)
        let ids = layout.pack(texts)
        let config = configuration

        // Forward.
        let embedded = embedding.forward(ids)
        let embeddingDropout = Dropout(probability: config.embeddingDropout)
        let (droppedEmbedded, embeddingMask) = embeddingDropout.forward(embedded, generator: &generator)
        let (encoded, _, lstmCache) = lstm.forward(layout.packedSequence(data: droppedEmbedded), generator: &generator)
        let (pooled, poolingCache) = config.pooling.forward(encoded, bidirectional: config.bidirectional)
        let outputDropout = Dropout(probability: config.dropout)
        let (droppedPooled, pooledMask) = outputDropout.forward(pooled, generator: &generator)
        var logits = output.forward(droppedPooled)
        var keptFeatures: [[Int]] = []
        let featureScale = 1 / (1 - (config.ngramBag?.dropout ?? 0))
        if let ngrams, let bag = config.ngramBag {
            keptFeatures = batch.map { example in
                bag.dropout == 0 ? example.input.featureIDs
                    : example.input.featureIDs.filter { _ in Float.random(in: 0..<1, using: &generator) >= bag.dropout }
            }
            logits.add(ngrams.forward(keptFeatures, scale: featureScale))
        }
        let lossFunction = CrossEntropyLoss(ignoreIndex: nil, classWeights: classWeights)
        let (loss, logitsGradient) = lossFunction(logits: logits, targets: batch.map(\.label))

        // Backward, in reverse order.
        ngrams?.backward(keptFeatures, outputGradient: logitsGradient, scale: featureScale)
        let droppedPooledGradient = output.backward(input: droppedPooled, outputGradient: logitsGradient)
        let pooledGradient = outputDropout.backward(outputGradient: droppedPooledGradient, mask: pooledMask)
        let encodedGradient = config.pooling.backward(poolingCache, pooledGradient: pooledGradient)
        let (droppedEmbeddedGradient, _) = lstm.backward(lstmCache, outputGradient: encodedGradient)
        if embedding.isTrainable {
            let embeddedGradient = embeddingDropout.backward(outputGradient: droppedEmbeddedGradient, mask: embeddingMask)
            embedding.backward(ids: ids, outputGradient: embeddedGradient)
        }
        return BatchLoss(sum: loss * Double(batch.count), count: batch.count)
    }

    /// The most probable label id and its probability for every text (inference mode), in
    /// the order given. Texts are sorted by length and run `batchSize` at a time.
    ///
    /// With `workers > 1`, that many batches are classified at once, longest first:
    /// parallelism *around* BLAS, so set BLAS to one thread (`BLAS.setThreadCount(1)`) first,
    /// as `seqmodels classify --threads N` does. The predictions do not depend on `workers`.
    public func predict(_ texts: [ClassifierInput], batchSize: Int = 256,
                        workers: Int = 1) -> [(label: Int, probability: Float, probabilities: [Float])] {
        precondition(batchSize > 0 && workers > 0, "batchSize and workers must be positive")
        let order = texts.indices.sorted { texts[$0].tokenIDs.count > texts[$1].tokenIDs.count }
        let batches = stride(from: 0, to: order.count, by: batchSize).map { Array(order[$0..<min($0 + batchSize, order.count)]) }
        let model = self
        let probabilities = concurrentResults(count: batches.count, workers: workers) { b in
            model.probabilities(for: batches[b].map { texts[$0] }).scalars
        }
        let C = configuration.labelCount
        var result = [(label: Int, probability: Float, probabilities: [Float])](repeating: (0, 0, []), count: texts.count)
        for (batch, p) in zip(batches, probabilities) {
            for (k, index) in batch.enumerated() {
                let row = Array(p[(k * C)..<((k + 1) * C)])
                var best = 0
                for c in 1..<C where row[c] > row[best] { best = c }
                result[index] = (best, row[best], row)
            }
        }
        return result
    }

    /// Accuracy on `examples` (inference mode), with macro-F1 and the mean loss in `details`.
    public func evaluate(on examples: [ClassifierExample]) -> Evaluation {
        evaluation(fromSums: evaluationCounts(on: examples))
    }

    /// The sums of `evaluationCounts(on:)`: the evaluation splits over processes.
    public func evaluationSums(on examples: [ClassifierExample]) -> [Double]? { evaluationCounts(on: examples) }

    /// The confusion matrix (gold rows, row by row), then the summed cross-entropy.
    public func evaluationCounts(on examples: [ClassifierExample]) -> [Double] {
        let predictions = predict(examples.map(\.input))
        var confusion = ConfusionMatrix(labelCount: configuration.labelCount)
        var lossSum = 0.0
        for (example, prediction) in zip(examples, predictions) {
            confusion.add(gold: example.label, predicted: prediction.label)
            lossSum -= Double(Foundation.log(max(prediction.probabilities[example.label], .leastNormalMagnitude)))
        }
        return confusion.counts.flatMap { $0.map(Double.init) } + [lossSum]
    }

    /// Accuracy, with the macro-F1 and the mean cross-entropy as details.
    public func evaluation(fromSums sums: [Double]) -> Evaluation {
        let labels = configuration.labelCount
        precondition(sums.count == labels * labels + 1, "A classifier's evaluation sums are its confusion matrix and a loss")
        let confusion = ConfusionMatrix(counts: (0..<labels).map { row in (0..<labels).map { Int(sums[row * labels + $0]) } })
        let total = confusion.total
        return Evaluation(metricName: "accuracy", metric: confusion.accuracy, higherIsBetter: true,
                          details: ["macro_f1": confusion.macroF1, "loss": total == 0 ? 0 : sums[labels * labels] / Double(total)])
    }
}
