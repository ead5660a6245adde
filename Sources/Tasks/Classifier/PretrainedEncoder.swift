import SeqModels

/// Starts a classifier's embedding and LSTM from word language models pretrained on
/// unlabelled text (`seqmodels lm pretrain --level word`), as ULMFiT does before fine-tuning:
/// a forward model gives the LSTM's forward direction, a backward model (trained on reversed
/// text) its `_reverse` direction, and each word's embedding row is the mean of the rows the
/// models have for it. Words the models lack keep their fresh initialisation.
///
/// The shapes must agree: the models' embedding size and hidden size are the classifier's; the
/// first layer always transfers, higher layers when their input sizes agree (a unidirectional
/// classifier). Tokens are matched by spelling, so the models should be pretrained with the
/// classifier's tokenizer (`lm pretrain --tokenizer words`).
public enum PretrainedEncoder {
    /// What was copied.
    public struct Transfer: Equatable, Sendable {
        /// Vocabulary tokens (specials aside) whose embedding came from a language model.
        public var coveredTokens: Int
        /// LSTM parameter tensors copied (`lstm.weight_ih_l0`, …).
        public var lstmTensors: [String]
    }

    /// Copies what `languageModels` know into `model`, whose vocabulary is `vocabulary`.
    /// - Throws: `TaskError` for a character model, two models of one direction, a backward
    ///   model for a unidirectional classifier, or sizes that differ from the classifier's.
    public static func initialise(_ model: inout TextClassifier, vocabulary: Vocabulary,
                                  from languageModels: [GeneratorModel]) throws -> Transfer {
        let c = model.configuration
        var directions: Set<ReadingDirection> = []
        for lm in languageModels {
            let lc = lm.configuration
            guard lc.level == .word else {
                throw TaskError("a classifier starts from word language models (lm pretrain --level word); this one reads characters")
            }
            guard directions.insert(lc.readingDirection).inserted else {
                throw TaskError("two pretrained language models read \(lc.readingDirection.rawValue); give one forward and at most one backward")
            }
            guard lc.readingDirection == .forward || c.bidirectional else {
                throw TaskError("a backward language model starts the reverse direction of a bidirectional classifier; this classifier reads one way")
            }
            guard lc.embeddingSize == c.embeddingDimension, lc.hiddenSize == c.hiddenSize else {
                throw TaskError("the \(lc.readingDirection.rawValue) language model has embeddings of \(lc.embeddingSize) and "
                                + "\(lc.hiddenSize) hidden units, the classifier \(c.embeddingDimension) and \(c.hiddenSize): "
                                + "pass --embedding-dimension \(lc.embeddingSize) --hidden-size \(lc.hiddenSize), or pretrain with the classifier's sizes")
            }
        }

        // Embeddings: the mean of the models' rows for each word they know (not <unk> and the like).
        let E = c.embeddingDimension
        var covered = 0
        let tables = languageModels.map { $0.model.embedding.weight.value.scalars }
        // The specials come first in a vocabulary; they keep their own rows.
        for id in vocabulary.specials.count..<vocabulary.count {
            let token = vocabulary.token(of: id)
            var sum = [Float](repeating: 0, count: E), found = 0
            for (lm, table) in zip(languageModels, tables) {
                guard lm.vocabulary.contains(token), let row = lm.vocabulary.id(of: token) else { continue }
                for j in 0..<E { sum[j] += table[row * E + j] }
                found += 1
            }
            guard found > 0 else { continue }
            try model.embedding.setVector(sum.map { $0 / Float(found) }, forID: id)
            covered += 1
        }

        // LSTM layers whose shapes agree, direction by direction.
        var copied: [String] = []
        for lm in languageModels {
            let suffix = lm.configuration.readingDirection == .forward ? "" : "_reverse"
            let source = Dictionary(uniqueKeysWithValues: lm.model.lstm.namedParameters(prefix: "lstm.").map { ($0.name, $0.value) })
            let layers = min(lm.configuration.layerCount, c.layerCount)
            for layer in 0..<layers where layer == 0 || !c.bidirectional {
                for kind in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
                    let from = "lstm.\(kind)_l\(layer)", to = "lstm.\(kind)_l\(layer)\(suffix)"
                    guard let value = source[from] else { continue }
                    var done = false
                    model.lstm.visitParameters(prefix: "lstm.") { name, parameter in
                        guard name == to, parameter.value.shape == value.shape else { return }
                        parameter.value = value
                        done = true
                    }
                    if done { copied.append(to) }
                }
            }
        }
        return Transfer(coveredTokens: covered, lstmTensors: copied)
    }
}
