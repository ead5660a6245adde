import Foundation
import SeqModels
import Tasks

/// The task a served model does.
public enum ModelTask: String, Codable, Sendable, CaseIterable {
    case tagger, classifier, generator
}

/// A model to serve, as given on the command line: `DIR` or `NAME=DIR` (the name defaults to
/// the directory's last path component).
public struct ModelSpecification: Sendable, Equatable {
    public var task: ModelTask
    public var name: String
    public var directory: URL

    public init(task: ModelTask, name: String, directory: URL) {
        self.task = task
        self.name = name
        self.directory = directory
    }

    /// Parses `DIR` or `NAME=DIR`. - Throws: `TaskError` for an empty name or directory.
    public init(task: ModelTask, argument: String) throws {
        let name: String, path: String
        if let equals = argument.firstIndex(of: "="), !argument[..<equals].contains("/") {
            name = String(argument[..<equals])
            path = String(argument[argument.index(after: equals)...])
        } else {
            path = argument
            name = URL(fileURLWithPath: argument).standardizedFileURL.lastPathComponent
        }
        guard !path.isEmpty else { throw TaskError("--\(task.rawValue) \(argument): no model directory after the name") }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw TaskError("--\(task.rawValue) \(argument): a model name is letters, digits, '-', '_' or '.' (NAME=DIR)")
        }
        self.init(task: task, name: name, directory: URL(fileURLWithPath: path))
    }
}

/// What `GET /v1/models` says about a model: its task, its labels or tag set, its size, and the
/// metric it reached on its development set when it was trained (from `metrics.jsonl`).
public struct ModelCard: Codable, Sendable, Equatable {
    public var name: String
    public var task: ModelTask
    public var directory: String
    public var parameters: Int
    public var vocabularySize: Int
    /// The tag set (tagger) or the labels (classifier).
    public var labels: [String]?
    /// `char` or `word` (generator).
    public var level: String?
    /// `lines` or `stream` (generator).
    public var records: String?
    /// The best development metric of training, when the directory holds `metrics.jsonl`.
    public var trainedTo: TrainedMetric?

    public struct TrainedMetric: Codable, Sendable, Equatable {
        public var metric: String
        public var value: Double
        public var epoch: Int
    }

    enum CodingKeys: String, CodingKey {
        case name, task, directory, parameters, vocabularySize = "vocabulary_size", labels, level, records, trainedTo = "trained_to"
    }
}

/// One loaded model and the worker threads that run its requests.
final class ServedModel: Sendable {
    enum Runner: Sendable {
        case tagger(BatchingWorkers<TagJob, [TaggedSentenceResponse]>)
        case classifier(BatchingWorkers<ClassifyJob, [ClassificationResponse]>, TrainedClassifier)
        case generator(BatchingWorkers<GenerateJob, GenerateOutput>)
    }

    let card: ModelCard
    let runner: Runner

    init(card: ModelCard, runner: Runner) {
        self.card = card
        self.runner = runner
    }

    func shutdown() {
        switch runner {
        case .tagger(let workers): workers.shutdown()
        case .classifier(let workers, _): workers.shutdown()
        case .generator(let workers): workers.shutdown()
        }
    }
}

/// A tagging request as its worker sees it: the sentences' tokens.
struct TagJob: Sendable {
    var sentences: [[String]]
    var probabilities: Bool
}

/// A classification request as its worker sees it: the texts.
struct ClassifyJob: Sendable {
    var texts: [String]
}

/// A generation request: a continuation or acrostic poems.
enum GenerateJob: Sendable {
    case continuation(prefix: String, length: Int, options: SamplingOptions, beam: Int, seed: UInt64)
    case acrostic(head: String, lineLength: Int, count: Int, options: AcrosticOptions, seed: UInt64)
}

enum GenerateOutput: Sendable {
    case continuation(GeneratorModel.Sample)
    case poems([AcrosticPoem])
}

/// How the models' workers run: threads per model and batching limits.
public struct WorkerSettings: Sendable, Equatable {
    /// Worker threads per model (batches run at once); BLAS runs one thread.
    public var workersPerModel: Int
    /// Most sentences or texts in one batch.
    public var maxBatchItems: Int
    /// Longest wait for more requests after a batch's first, in seconds.
    public var maxWait: TimeInterval
    /// Most requests waiting per model (503 beyond).
    public var maxQueued: Int

    public init(workersPerModel: Int = max(1, ProcessInfo.processInfo.activeProcessorCount), maxBatchItems: Int = 256,
                maxWait: TimeInterval = 0.002, maxQueued: Int = 1024) {
        self.workersPerModel = workersPerModel
        self.maxBatchItems = maxBatchItems
        self.maxWait = maxWait
        self.maxQueued = maxQueued
    }
}

/// Every model the server holds, by task and name.
public final class ServedModels: Sendable {
    let models: [ServedModel]
    let metrics: ServingMetrics

    /// Loads every model and starts its workers.
    /// - Throws: `TaskError` naming the directory when a model cannot be loaded or is not of
    ///   the task it was given as, and for two models of one task with the same name.
    public init(_ specifications: [ModelSpecification], settings: WorkerSettings = WorkerSettings(),
                metrics: ServingMetrics) throws {
        var seen = Set<String>()
        for specification in specifications {
            let key = "\(specification.task.rawValue)/\(specification.name)"
            guard seen.insert(key).inserted else {
                throw TaskError("two \(specification.task.rawValue)s are named '\(specification.name)'; name them with NAME=DIR")
            }
        }
        self.metrics = metrics
        models = try specifications.map { try Self.load($0, settings: settings, metrics: metrics) }
    }

    /// Stops every model's workers after the jobs already queued.
    public func shutdown() {
        models.forEach { $0.shutdown() }
    }

    var cards: [ModelCard] { models.map(\.card) }

    /// The models in a few words, for a start-up line: "tagger ewt, classifier imdb".
    public var cardsDescription: String {
        models.map { "\($0.card.task.rawValue) \($0.card.name)" }.joined(separator: ", ")
    }

    /// The model of `task` called `name`, or the only one of that task when `name` is nil.
    func model(_ task: ModelTask, named name: String?) throws -> ServedModel {
        let candidates = models.filter { $0.card.task == task }
        if let name {
            guard let model = candidates.first(where: { $0.card.name == name }) else {
                let known = candidates.map { "'\($0.card.name)'" }.joined(separator: ", ")
                throw APIError(.notFound, code: "unknown_model",
                               "no \(task.rawValue) named '\(name)'" + (known.isEmpty ? "; this server has none" : "; this server has \(known)"))
            }
            return model
        }
        guard let first = candidates.first else {
            throw APIError(.notFound, code: "no_model", "this server has no \(task.rawValue); start it with --\(task.rawValue) DIR")
        }
        guard candidates.count == 1 else {
            let known = candidates.map { "'\($0.card.name)'" }.joined(separator: ", ")
            throw APIError.badRequest("this server has several \(task.rawValue)s (\(known)): say which with \"model\"")
        }
        return first
    }

    // MARK: - Loading

    private static func load(_ specification: ModelSpecification, settings: WorkerSettings,
                             metrics: ServingMetrics) throws -> ServedModel {
        let directory = specification.directory
        let limits = BatchLimits(maxBatchItems: settings.maxBatchItems, maxWait: settings.maxWait, maxQueued: settings.maxQueued)
        let name = "\(specification.task.rawValue)-\(specification.name)"
        let observe: @Sendable (Int, Int) -> Void = { jobs, items in metrics.observeBatch(model: name, jobs: jobs, items: items) }
        func loading<T>(_ load: () throws -> T) throws -> T {
            do {
                return try load()
            } catch {
                throw TaskError("cannot serve \(directory.path) as a \(specification.task.rawValue): \(error)")
            }
        }
        switch specification.task {
        case .tagger:
            let tagger = try loading { try Tagger.load(from: directory) }
            var copy = tagger
            let card = ModelCard(name: specification.name, task: .tagger, directory: directory.path,
                                 parameters: copy.parameterCount, vocabularySize: tagger.vocabularies.words.count,
                                 labels: tagger.vocabularies.tags.tokens, trainedTo: trainedMetric(in: directory))
            let workers = BatchingWorkers<TagJob, [TaggedSentenceResponse]>(
                name: name, workers: settings.workersPerModel, limits: limits,
                size: { max(1, $0.sentences.count) }, observeBatch: observe) { jobs in runTagger(tagger, jobs) }
            return ServedModel(card: card, runner: .tagger(workers))
        case .classifier:
            let classifier = try loading { try TrainedClassifier.load(from: directory) }
            var copy = classifier.model
            let card = ModelCard(name: specification.name, task: .classifier, directory: directory.path,
                                 parameters: copy.parameterCount, vocabularySize: classifier.vocabulary.count,
                                 labels: classifier.labels, trainedTo: trainedMetric(in: directory))
            let workers = BatchingWorkers<ClassifyJob, [ClassificationResponse]>(
                name: name, workers: settings.workersPerModel, limits: limits,
                size: { max(1, $0.texts.count) }, observeBatch: observe) { jobs in runClassifier(classifier, jobs) }
            return ServedModel(card: card, runner: .classifier(workers, classifier))
        case .generator:
            let generator = try loading { try GeneratorModel.load(from: directory) }
            var copy = generator.model
            let card = ModelCard(name: specification.name, task: .generator, directory: directory.path,
                                 parameters: copy.parameterCount, vocabularySize: generator.vocabulary.count,
                                 level: generator.configuration.level.rawValue, records: generator.configuration.records.rawValue,
                                 trainedTo: trainedMetric(in: directory))
            // Generation is a sequence of one-token steps per request: each job runs alone.
            let workers = BatchingWorkers<GenerateJob, GenerateOutput>(
                name: name, workers: settings.workersPerModel,
                limits: .init(maxBatchItems: 1, maxWait: 0, maxQueued: settings.maxQueued),
                size: { _ in 1 }, observeBatch: observe) { jobs in jobs.map { job in Result { try runGenerator(generator, job) } } }
            return ServedModel(card: card, runner: .generator(workers))
        }
    }

    /// The best development metric in `directory/metrics.jsonl`, if the file is there and readable.
    private static func trainedMetric(in directory: URL) -> ModelCard.TrainedMetric? {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("metrics.jsonl"), encoding: .utf8) else { return nil }
        var best: ModelCard.TrainedMetric?
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let name = object["metric_name"] as? String, let value = object["dev_metric"] as? Double,
                  let epoch = object["epoch"] as? Int else { continue }
            let higherIsBetter = object["higher_is_better"] as? Bool ?? true
            if best == nil || (higherIsBetter ? value > best!.value : value < best!.value) {
                best = ModelCard.TrainedMetric(metric: name, value: value, epoch: epoch)
            }
        }
        return best
    }
}

// MARK: - Running batches

/// Tags every sentence of every job in one packed call.
private func runTagger(_ tagger: Tagger, _ jobs: [TagJob]) -> [Result<[TaggedSentenceResponse], any Error>] {
    let sentences = jobs.flatMap(\.sentences)
    let examples = sentences.map { tagger.encode(tokens: $0) }
    let tagNames = tagger.vocabularies.tags.tokens
    let wantsProbabilities = jobs.contains(where: \.probabilities)
    var tagged: [TaggedSentenceResponse] = []
    tagged.reserveCapacity(sentences.count)
    if wantsProbabilities {
        for (tokens, prediction) in zip(sentences, tagger.predictTagDistributions(examples)) {
            let probabilities = prediction.probabilities.map { row in
                Dictionary(uniqueKeysWithValues: zip(tagNames, row))
            }
            tagged.append(TaggedSentenceResponse(tokens: tokens, tags: prediction.tagIDs.map { tagNames[$0] },
                                                 probabilities: probabilities))
        }
    } else {
        for (tokens, ids) in zip(sentences, tagger.predictTagIDs(examples)) {
            tagged.append(TaggedSentenceResponse(tokens: tokens, tags: ids.map { tagNames[$0] }, probabilities: nil))
        }
    }
    var start = 0
    return jobs.map { job in
        var part = Array(tagged[start..<(start + job.sentences.count)])
        if !job.probabilities { for index in part.indices { part[index].probabilities = nil } }
        start += job.sentences.count
        return .success(part)
    }
}

/// Classifies the texts of every job in one call; a job whose text cannot be read fails alone.
private func runClassifier(_ classifier: TrainedClassifier, _ jobs: [ClassifyJob]) -> [Result<[ClassificationResponse], any Error>] {
    var ids: [ClassifierInput] = []
    var spans: [Result<Range<Int>, any Error>] = []
    for job in jobs {
        do {
            let encoded = try job.texts.enumerated().map { index, text in
                try classifier.input(of: text, where: job.texts.count > 1 ? "text \(index + 1)" : nil)
            }
            spans.append(.success(ids.count..<(ids.count + encoded.count)))
            ids += encoded
        } catch let error as TaskError {
            spans.append(.failure(APIError.badRequest(error.description)))
        } catch {
            spans.append(.failure(error))
        }
    }
    let predictions = ids.isEmpty ? [] : classifier.model.predict(ids, batchSize: 128)
    return spans.map { span in
        span.map { range in
            predictions[range].map { prediction in
                ClassificationResponse(label: classifier.labels[prediction.label], probability: prediction.probability,
                                       probabilities: Dictionary(uniqueKeysWithValues: zip(classifier.labels, prediction.probabilities)))
            }
        }
    }
}

private func runGenerator(_ generator: GeneratorModel, _ job: GenerateJob) throws -> GenerateOutput {
    do {
        switch job {
        case let .continuation(prefix, length, options, beam, seed):
            if beam > 1 { return .continuation(try generator.beamSearch(prefix: prefix, length: length, beamWidth: beam)) }
            var random = SeededGenerator(seed: seed)
            return .continuation(try generator.sample(prefix: prefix, length: length, options: options, generator: &random))
        case let .acrostic(head, lineLength, count, options, seed):
            var random = SeededGenerator(seed: seed)
            return .poems(try (0..<count).map { _ in
                try generator.acrosticPoem(heads: head, lineLength: lineLength, options: options, generator: &random)
            })
        }
    } catch let error as TaskError {
        throw APIError.badRequest(error.description)
    }
}

extension ParameterContainer {
    /// The number of scalars in every parameter (trainable or not).
    var parameterCount: Int {
        mutating get {
            var count = 0
            visitParameters(prefix: "") { _, parameter in count += parameter.value.count }
            return count
        }
    }
}
