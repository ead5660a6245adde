import Foundation
import SeqModels

/// A pretrained character language model read as token features: flair's "contextual
/// string embeddings" (Akbik et al. 2018).
///
/// A sentence's tokens are joined with single spaces between a leading `"\n"` and a trailing
/// space, and the model reads that string one character at a time, in its own direction. A
/// token's feature vector is the top LSTM layer's output (`[H]`) just after the space that
/// follows the token (forward model: the token and everything left of it; backward model,
/// reading the reversed string: the token and everything right of it). The language model
/// is frozen: its features depend on the sentence alone, so a training set's can be computed
/// once (`features(of:)`).
///
/// Shapes: `features(of:)` returns, for each sentence of T tokens, a `[T, H]` tensor, where
/// H is the language model's hidden size (`featureSize`).
public struct ContextualStringEmbeddings: Sendable {
    /// The character language model (`seqmodels lm pretrain --level char`).
    public let languageModel: GeneratorModel

    /// Wraps a character-level language model.
    /// - Throws: `TaskError` for a word-level model.
    public init(_ languageModel: GeneratorModel) throws {
        guard languageModel.configuration.level == .char else {
            throw TaskError("a tagger takes character language models (lm pretrain --level char); this one reads words")
        }
        self.languageModel = languageModel
    }

    /// The direction the model reads in.
    public var direction: ReadingDirection { languageModel.configuration.readingDirection }

    /// Length of a token's feature vector: the language model's hidden size.
    public var featureSize: Int { languageModel.configuration.hiddenSize }

    /// Sentences read together in one LSTM batch.
    static let batchSize = 64

    /// The `[tokens, featureSize]` features of each sentence (an empty sentence gets `[0, featureSize]`).
    public func features(of sentences: [[String]]) -> [Tensor] {
        var result = sentences.map { Tensor(shape: [$0.count, featureSize]) }
        let nonEmpty = sentences.indices.filter { !sentences[$0].isEmpty }
        // Sentences of similar length together: less work in the batch's last, sparse steps.
        let order = nonEmpty.sorted { sentences[$0].count > sentences[$1].count }
        for start in stride(from: 0, to: order.count, by: Self.batchSize) {
            let batch = Array(order[start..<min(start + Self.batchSize, order.count)])
            let tensors = batchFeatures(batch.map { sentences[$0] })
            for (index, tensor) in zip(batch, tensors) { result[index] = tensor }
        }
        return result
    }

    /// What the model reads for a sentence: the character ids, in its reading order, of
    /// `"\n" + tokens joined by spaces + " "` (reversed for a backward model, unknown characters
    /// as `<unk>`), and for each token in sentence order the step whose output is its feature.
    public func reading(_ tokens: [String]) -> (characterIDs: [Int], positions: [Int]) {
        let vocabulary = languageModel.vocabulary
        let unknown = vocabulary.unknownID ?? 0
        let newline = vocabulary.id(of: "\n") ?? unknown, space = vocabulary.id(of: " ") ?? unknown
        let ordered = direction == .forward ? tokens : tokens.reversed().map { String($0.reversed()) }
        var ids = [newline], positions: [Int] = []
        for token in ordered {
            for character in token { ids.append(vocabulary.id(of: String(character)) ?? unknown) }
            ids.append(space)
            positions.append(ids.count - 1)
        }
        return (ids, direction == .forward ? positions : positions.reversed())
    }

    /// The features of one batch of non-empty sentences.
    private func batchFeatures(_ sentences: [[String]]) -> [Tensor] {
        let readings = sentences.map(reading)
        let ids = readings.map(\.characterIDs), positions = readings.map(\.positions)
        guard let layout = try? PackingLayout(lengths: ids.map(\.count)) else {
            preconditionFailure("Every sentence reads at least its leading newline")
        }
        let model = languageModel.model
        let output = model.lstm(distinctRows: model.embedding.weight.value, rowIndices: layout.pack(ids), layout: layout).output.data
        let H = featureSize
        return output.withUnsafeBufferPointer { rows in
            positions.enumerated().map { sentence, steps in
                var features = Tensor(shape: [steps.count, H])
                features.withUnsafeMutableBufferPointer { out in
                    guard let source = rows.baseAddress, let target = out.baseAddress else { return }
                    for (token, step) in steps.enumerated() {
                        (target + token &* H).update(from: source + layout.row(sequence: sentence, step: step) &* H, count: H)
                    }
                }
                return features
            }
        }
    }
}
