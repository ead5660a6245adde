import Corpus
import Foundation
import SeqModels

/// What is saved in a classifier's `config.json`: the network's shape and how texts are prepared.
public struct ClassifierConfiguration: Codable, Equatable, Sendable {
    /// Always `"text-classifier"`: tells a classifier directory from a tagger's or generator's.
    public var kind: String
    public var model: TextClassifier.Configuration
    public var text: TextPreparation
    public var classWeights: [Float]?
    /// How the bag of n-grams finds a text's features (`ngrams.json` lists them), if the model has one.
    public var ngrams: NGramFeatures.Settings?

    public init(model: TextClassifier.Configuration, text: TextPreparation, classWeights: [Float]? = nil,
                ngrams: NGramFeatures.Settings? = nil) {
        self.kind = Self.kindName
        self.model = model
        self.text = text
        self.classWeights = classWeights
        self.ngrams = ngrams
    }

    public static let kindName = "text-classifier"

    /// Checks a configuration read from a model directory before a classifier is built from
    /// it: positive sizes, at least two labels, probabilities in [0, 1), a padding id inside
    /// the vocabulary, one weight per label, and no tensor larger than what
    /// `model.safetensors` stores (`Checkpoint.SizeCheck`).
    public func validate(against sizes: Checkpoint.SizeCheck) throws {
        let m = model
        for (name, value) in [("model.vocabularySize", m.vocabularySize), ("model.embeddingDimension", m.embeddingDimension),
                              ("model.hiddenSize", m.hiddenSize), ("model.layerCount", m.layerCount),
                              ("text.maxLength", text.maxLength ?? 1)] {
            try sizes.positive(value, name)
        }
        guard m.labelCount >= 2 else { throw sizes.failure("model.labelCount must be at least 2, got \(m.labelCount)") }
        var probabilities = [("model.embeddingDropout", m.embeddingDropout), ("model.dropout", m.dropout)]
        if let bag = m.ngramBag { probabilities.append(("model.ngramBag.dropout", bag.dropout)) }
        for (name, value) in probabilities where !(value >= 0 && value < 1) {
            throw sizes.failure("\(name) must be in [0, 1), got \(value)")
        }
        if let padding = m.paddingID, !(0..<m.vocabularySize).contains(padding) {
            throw sizes.failure("model.paddingID \(padding) is not a token of the \(m.vocabularySize)-token vocabulary")
        }
        if let weights = classWeights {
            guard weights.count == m.labelCount, weights.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw sizes.failure("classWeights must be \(m.labelCount) finite, non-negative numbers (one per label), got \(weights)")
            }
        }
        let D = m.bidirectional ? 2 : 1
        try sizes.tensor([m.vocabularySize, m.embeddingDimension], "the embedding")
        try sizes.tensor([D, 4, m.hiddenSize, max(m.embeddingDimension, m.hiddenSize)], "an LSTM layer's weights")
        try sizes.tensor([m.layerCount, D, 4, m.hiddenSize, m.hiddenSize], "the LSTM's recurrent weights")
        try sizes.tensor([m.labelCount, D, m.hiddenSize], "the output layer")
        if let bag = m.ngramBag { try sizes.tensor([bag.featureCount, m.labelCount], "the bag of n-grams") }
        if let settings = ngrams {
            try sizes.positive(settings.order, "ngrams.order")
        }
    }
}

/// One prediction: the most probable label, its probability, and every label's probability.
public struct ClassifierPrediction: Equatable, Sendable {
    public var label: String
    public var probability: Float
    /// Probabilities in the order of `TrainedClassifier.labels`.
    public var probabilities: [Float]
}

/// A classifier with everything needed to use it on raw text: the network, the vocabulary,
/// the label names, the text preparation and the n-gram features. This is what a model
/// directory holds: `model.safetensors`, `config.json` (`ClassifierConfiguration`),
/// `vocabulary.json`, `labels.json`, and `ngrams.json` when the model has a bag of n-grams.
///
/// ```swift
/// let classifier = try TrainedClassifier.load(from: URL(fileURLWithPath: "runs/imdb"))
/// let predictions = try classifier.classify(["A wonderful, moving film.", "Dull and far too long."])
/// ```
public struct TrainedClassifier: Sendable {
    public var model: TextClassifier
    public var vocabulary: Vocabulary
    /// Label names; label id `i` is `labels[i]`.
    public var labels: [String]
    public var preparation: TextPreparation
    /// The n-gram features of the model's bag of n-grams, if it has one.
    public var ngramFeatures: NGramFeatures?

    public static let vocabularyFileName = "vocabulary.json"
    public static let labelsFileName = "labels.json"

    public init(model: TextClassifier, vocabulary: Vocabulary, labels: [String], preparation: TextPreparation,
                ngramFeatures: NGramFeatures? = nil) {
        precondition(model.configuration.vocabularySize == vocabulary.count, "The model's vocabulary size must match the vocabulary")
        precondition(model.configuration.labelCount == labels.count, "The model needs one name per label")
        precondition(model.configuration.ngramBag?.featureCount == ngramFeatures?.count,
                     "The model's bag of n-grams must match its n-gram features")
        self.model = model
        self.vocabulary = vocabulary
        self.labels = labels
        self.preparation = preparation
        self.ngramFeatures = ngramFeatures
    }

    /// The configuration written to `config.json`.
    public var configuration: ClassifierConfiguration {
        ClassifierConfiguration(model: model.configuration, text: preparation, classWeights: model.classWeights,
                                ngrams: ngramFeatures?.settings)
    }

    /// Writes the model directory (created if missing); `config.json` is written last.
    public func save(to directory: URL) throws {
        if let ngramFeatures {
            try Checkpoint.writeJSON(ngramFeatures.vocabulary, named: NGramFeatures.fileName, in: directory)
        }
        try Checkpoint.writeJSON(vocabulary, named: Self.vocabularyFileName, in: directory)
        try Checkpoint.writeJSON(labels, named: Self.labelsFileName, in: directory)
        try Checkpoint.save(model, config: configuration, to: directory)
    }

    /// Reads a model directory written by `save(to:)`.
    /// - Throws: `TaskError` saying what is missing or wrong, naming the directory.
    public static func load(from directory: URL) throws -> TrainedClassifier {
        let path = directory.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TaskError("\(path): no such model directory (train one with `seqmodels classify train --model \(path)`)")
        }
        let configuration: ClassifierConfiguration
        do {
            configuration = try Checkpoint.loadConfig(ClassifierConfiguration.self, from: directory)
        } catch {
            throw TaskError("\(path) is not a classifier model directory: \(error)")
        }
        guard configuration.kind == ClassifierConfiguration.kindName else {
            throw TaskError("\(path) holds a '\(configuration.kind)' model, not a \(ClassifierConfiguration.kindName)")
        }
        do {
            try configuration.validate(against: Checkpoint.SizeCheck(directory: directory))
        } catch {
            throw TaskError("\(path) holds a classifier that cannot be built: \(error)")
        }
        let vocabulary: Vocabulary
        let labels: [String]
        do {
            vocabulary = try Checkpoint.readJSON(Vocabulary.self, named: vocabularyFileName, in: directory)
            labels = try Checkpoint.readJSON([String].self, named: labelsFileName, in: directory)
        } catch {
            throw TaskError("\(path) is an incomplete classifier model directory: \(error)")
        }
        guard vocabulary.count == configuration.model.vocabularySize, labels.count == configuration.model.labelCount else {
            throw TaskError("\(path): config.json expects \(configuration.model.vocabularySize) tokens and \(configuration.model.labelCount) labels, "
                            + "but the directory holds \(vocabulary.count) tokens and \(labels.count) labels")
        }
        var ngramFeatures: NGramFeatures? = nil
        switch (configuration.ngrams, configuration.model.ngramBag) {
        case (nil, nil):
            break
        case let (settings?, bag?):
            let ngrams: Vocabulary
            do {
                ngrams = try Checkpoint.readJSON(Vocabulary.self, named: NGramFeatures.fileName, in: directory)
            } catch {
                throw TaskError("\(path) is an incomplete classifier model directory: \(error)")
            }
            guard ngrams.specials.isEmpty, ngrams.count == bag.featureCount, settings.order >= 1 else {
                throw TaskError("\(path): config.json expects \(bag.featureCount) n-gram features, but \(NGramFeatures.fileName) "
                                + "holds \(ngrams.count)\(ngrams.specials.isEmpty ? "" : " and special tokens")")
            }
            ngramFeatures = NGramFeatures(settings: settings, vocabulary: ngrams)
        default:
            throw TaskError("\(path): config.json describes a bag of n-grams only in part (both \"ngrams\" and \"model.ngramBag\" are needed)")
        }
        var generator = SeededGenerator(seed: 0)
        var model = TextClassifier(configuration.model, classWeights: configuration.classWeights, generator: &generator)
        do {
            try Checkpoint.loadParameters(into: &model, from: directory)
        } catch {
            throw TaskError("\(error)")
        }
        return TrainedClassifier(model: model, vocabulary: vocabulary, labels: labels, preparation: configuration.text,
                                 ngramFeatures: ngramFeatures)
    }

    /// The ids of `text` as the model reads it: its tokens (truncated as configured, unknown
    /// ones as `<unk>`) and, with a bag of n-grams, its known n-grams.
    /// - Throws: `TaskError` when the text has no tokens; `where` names it in the message.
    public func input(of text: String, where place: String? = nil) throws -> ClassifierInput {
        let tokens = preparation.tokens(of: text)
        guard !tokens.isEmpty else {
            throw TaskError("\(place.map { $0 + ": " } ?? "")the text is empty (no tokens to classify)")
        }
        do {
            return ClassifierInput(tokenIDs: try vocabulary.encode(tokens), featureIDs: ngramFeatures?.ids(of: tokens) ?? [])
        } catch {
            throw TaskError("\(place.map { $0 + ": " } ?? "")\(error)")
        }
    }

    /// The id of `label`. - Throws: `TaskError` listing the known labels when it is not one of them.
    public func labelID(of label: String, where place: String? = nil) throws -> Int {
        guard let id = labels.firstIndex(of: label) else {
            throw TaskError("\(place.map { $0 + ": " } ?? "")unknown label '\(label)'; this model knows \(labels.map { "'\($0)'" }.joined(separator: ", "))")
        }
        return id
    }

    /// The example of a labelled record, with errors naming its file and line.
    public func example(of record: LabelledText) throws -> ClassifierExample {
        let place = record.location?.description
        return ClassifierExample(input: try input(of: record.text, where: place),
                                 label: try labelID(of: record.label, where: place))
    }

    /// Predictions for `texts`, in order, `batchSize` texts per batch and `workers` batches at
    /// once (see `TextClassifier.predict`). - Throws: `TaskError` for a text without tokens.
    public func classify(_ texts: [String], batchSize: Int = 128, workers: Int = 1) throws -> [ClassifierPrediction] {
        let numbered = Array(texts.enumerated().map { (number: $0 + 1, text: $1) })
        let ids = try numbered.concurrentMap(threads: max(workers, BLAS.threadCount)) {
            try input(of: $0.text, where: texts.count > 1 ? "text \($0.number)" : nil)
        }
        return model.predict(ids, batchSize: batchSize, workers: workers).map {
            ClassifierPrediction(label: labels[$0.label], probability: $0.probability, probabilities: $0.probabilities)
        }
    }

    /// Evaluates on `records` (e.g. a development set already in memory), `workers` batches at once.
    /// - Throws: `TaskError` for an unknown label or an empty text.
    public func evaluate(on records: [LabelledText], workers: Int = 1) throws -> ClassificationReport {
        var confusion = ConfusionMatrix(labelCount: labels.count)
        let examples = try records.concurrentMap(threads: max(workers, BLAS.threadCount)) { try example(of: $0) }
        for (example, prediction) in zip(examples, model.predict(examples.map(\.input), workers: workers)) {
            confusion.add(gold: example.label, predicted: prediction.label)
        }
        return ClassificationReport(confusion: confusion, labels: labels)
    }

    /// Evaluates on every record of `source`, `batchSize` texts per batch and `workers` batches
    /// at once; records are read a group of batches at a time, so memory stays bounded.
    /// - Throws: the source's errors, or `TaskError` for an unknown label or an empty text.
    public func evaluate(_ source: inout some LabelledTextSource, batchSize: Int = 256,
                         workers: Int = 1) throws -> ClassificationReport {
        precondition(batchSize > 0 && workers > 0, "batchSize and workers must be positive")
        var confusion = ConfusionMatrix(labelCount: labels.count)
        let groupSize = Self.recordsPerGroup(batchSize: batchSize, workers: workers)
        var pending: [LabelledText] = []
        func flush() throws {
            let examples = try pending.concurrentMap(threads: max(workers, BLAS.threadCount)) { try example(of: $0) }
            let predictions = model.predict(examples.map(\.input), batchSize: batchSize, workers: workers)
            for (example, prediction) in zip(examples, predictions) { confusion.add(gold: example.label, predicted: prediction.label) }
            pending.removeAll(keepingCapacity: true)
        }
        while let record = try source.next() {
            pending.append(record)
            if pending.count == groupSize { try flush() }
        }
        if !pending.isEmpty { try flush() }
        return ClassificationReport(confusion: confusion, labels: labels)
    }

    /// Records read and classified together when streaming: one batch, or with several workers
    /// four batches each, so that they share the load (longest batches first).
    static func recordsPerGroup(batchSize: Int, workers: Int) -> Int {
        workers > 1 ? batchSize * 4 * workers : batchSize
    }
}
