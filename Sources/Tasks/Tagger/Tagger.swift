import Foundation
import Dispatch
import SeqModels
import Corpus

/// A part-of-speech tagger: per token a word embedding (with `<unk>` and word dropout)
/// concatenated with a character BiLSTM encoding of its spelling (and, when it has them, the
/// hidden states of pretrained character language models at the token: flair's contextual
/// string embeddings, `ContextualStringEmbeddings`), a stacked BiLSTM over the sentence, and a
/// per-token linear layer with softmax cross-entropy over real tokens only, or
/// (`TaggerConfiguration.outputLayer` `.crf`) a CRF over the sentence's scores (BiLSTM-CRF).
///
/// ```swift
/// let tagger = try Tagger.load(from: URL(fileURLWithPath: "models/ewt"))
/// tagger.tag(["I", "love", "apples"])   // ["PRON", "VERB", "NOUN"]
/// ```
///
/// Batches are packed (no padding anywhere): the sentence BiLSTM runs over the packed
/// tokens, and the character BiLSTM over the packed characters of the batch's *distinct*
/// words. Parameter names follow PyTorch (`word_embedding.weight`,
/// `char_encoder.lstm.weight_ih_l0`, `lstm.weight_hh_l1_reverse`, `output.weight`, and
/// pytorch-crf's `crf.transitions`), so the checkpoint loads into the PyTorch module of
/// `Tools/bench_tagger_pytorch.py`.
public struct Tagger: TrainableModel, Sendable {
    public typealias Example = TaggerExample

    public let configuration: TaggerConfiguration
    public let vocabularies: TaggerVocabularies
    public var wordEmbedding: Embedding
    public var characterEncoder: CharacterEncoder
    public var lstm: LSTM
    public var output: Linear
    /// The CRF over the output layer's scores, when `configuration.outputLayer` is `.crf`.
    public var crf: CRF?
    /// The frozen character language models whose features join each token's vector, one per
    /// name of `configuration.characterLanguageModels` (saved in those subdirectories).
    public let contextualEmbeddings: [ContextualStringEmbeddings]

    /// Length of a token's contextual features: the language models' hidden sizes added up.
    public var contextualFeatureSize: Int { contextualEmbeddings.reduce(0) { $0 + $1.featureSize } }

    /// A freshly initialised tagger (drawing every initial value from `generator`), reading
    /// `contextualEmbeddings` (one per name of `configuration.characterLanguageModels`) as extra features.
    public init(configuration: TaggerConfiguration, vocabularies: TaggerVocabularies,
                contextualEmbeddings: [ContextualStringEmbeddings] = [], generator: inout SeededGenerator) {
        precondition(contextualEmbeddings.count == configuration.characterLanguageModels.count,
                     "A tagger needs one language model per name of characterLanguageModels")
        self.configuration = configuration
        self.vocabularies = vocabularies
        self.contextualEmbeddings = contextualEmbeddings
        let contextualSize = contextualEmbeddings.reduce(0) { $0 + $1.featureSize }
        let c = configuration
        wordEmbedding = Embedding(vocabularySize: vocabularies.words.count, dimension: c.wordEmbeddingSize, generator: &generator)
        characterEncoder = CharacterEncoder(characterCount: vocabularies.characters.count, embeddingSize: c.characterEmbeddingSize,
                                            hiddenSize: c.characterHiddenSize, generator: &generator)
        lstm = LSTM(inputSize: c.wordEmbeddingSize + 2 * c.characterHiddenSize + contextualSize, hiddenSize: c.hiddenSize,
                    layerCount: c.layerCount, bidirectional: true, dropout: c.dropout, generator: &generator)
        output = Linear(inputSize: 2 * c.hiddenSize, outputSize: vocabularies.tags.count, generator: &generator)
        crf = c.outputLayer == .crf ? CRF(tagCount: vocabularies.tags.count, generator: &generator) : nil
        // Embeddings drawn from N(0, 1/d) rather than nn.Embedding's N(0, 1) (as Lample et al. 2016 do):
        // inputs of unit norm keep the first LSTM's gates out of saturation.
        wordEmbedding.weight.value.scale(by: 1 / Float(c.wordEmbeddingSize).squareRoot())
        characterEncoder.embedding.weight.value.scale(by: 1 / Float(c.characterEmbeddingSize).squareRoot())
    }

    /// A tagger for a training corpus: vocabularies counted from `sentences`, then initialised.
    /// `languageModels` (character level, frozen) are kept under the names `configuration.characterLanguageModels`
    /// gives, or `char-lm-1-forward`, `char-lm-2-backward`, … when it names none.
    public init(configuration: TaggerConfiguration, training sentences: [TaggedSentence],
                languageModels: [GeneratorModel] = [], generator: inout SeededGenerator) throws {
        var configuration = configuration
        if configuration.characterLanguageModels.isEmpty {
            configuration.characterLanguageModels = languageModels.enumerated().map {
                "char-lm-\($0.offset + 1)-\($0.element.configuration.readingDirection.rawValue)"
            }
        }
        try configuration.validate()
        guard configuration.characterLanguageModels.count == languageModels.count else {
            throw TaskError("the configuration names \(configuration.characterLanguageModels.count) character language models, "
                            + "but \(languageModels.count) were given")
        }
        guard sentences.contains(where: { !$0.tokens.isEmpty }) else {
            throw TaskError("the training corpus has no tokens")
        }
        self.init(configuration: configuration,
                  vocabularies: TaggerVocabularies(training: sentences, minWordFrequency: configuration.minWordFrequency),
                  contextualEmbeddings: try languageModels.map(ContextualStringEmbeddings.init), generator: &generator)
    }

    public mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try wordEmbedding.visitParameters(prefix: prefix + "word_embedding.", visit)
        try characterEncoder.visitParameters(prefix: prefix + "char_encoder.", visit)
        try lstm.visitParameters(prefix: prefix + "lstm.", visit)
        try output.visitParameters(prefix: prefix + "output.", visit)
        if crf != nil { try crf!.visitParameters(prefix: prefix + "crf.", visit) }
    }

    // MARK: - Encoding

    /// The character ids of `word`, keeping the first and last `maxWordLength / 2` characters
    /// of a longer word (never empty: an empty word becomes `<unk>`).
    public func characterIDs(of word: String) -> [Int] {
        let unknown = vocabularies.characters.unknownID ?? 0
        var characters = Array(word)
        let limit = configuration.maxWordLength
        if characters.count > limit {
            characters = Array(characters.prefix(limit / 2) + characters.suffix(limit - limit / 2))
        }
        if characters.isEmpty { return [unknown] }
        return characters.map { vocabularies.characters.id(of: String($0)) ?? unknown }
    }

    /// Encodes untagged tokens.
    public func encode(tokens: [String]) -> TaggerExample {
        let unknown = vocabularies.words.unknownID ?? 0
        let ids = tokens.map { vocabularies.words.id(of: $0) ?? unknown }
        return TaggerExample(words: ids, characters: tokens.map(characterIDs(of:)), tags: [],
                             isUnknownWord: tokens.map { !vocabularies.words.contains($0) },
                             tokens: contextualEmbeddings.isEmpty ? [] : tokens)
    }

    /// The language models' features of each sentence, side by side: `[tokens, contextualFeatureSize]`.
    public func contextualFeatures(of sentences: [[String]]) -> [Tensor] {
        let perModel = contextualEmbeddings.map { $0.features(of: sentences) }
        return sentences.indices.map { index in Self.concatenateColumns(perModel.map { $0[index] }) }
    }

    /// Computes the contextual features of every example that lacks them (a training set's,
    /// once before training: the language models are frozen), `workers` groups at once.
    /// Nothing happens for a tagger without language models.
    public func attachContextualFeatures(_ examples: inout [TaggerExample], workers: Int = 1) {
        guard !contextualEmbeddings.isEmpty else { return }
        let missing = examples.indices.filter { examples[$0].contextualFeatures == nil && examples[$0].count > 0 }
        let groupSize = 256
        let groups = stride(from: 0, to: missing.count, by: groupSize).map { Array(missing[$0..<min($0 + groupSize, missing.count)]) }
        let sentences = groups.map { $0.map { examples[$0].tokens } }
        let model = self
        let features = concurrentResults(count: groups.count, workers: max(1, workers)) { model.contextualFeatures(of: sentences[$0]) }
        for (group, groupFeatures) in zip(groups, features) {
            for (index, tensor) in zip(group, groupFeatures) { examples[index].contextualFeatures = tensor }
        }
    }

    /// `[T, a]`, `[T, b]`, … side by side as `[T, a + b + …]`.
    private static func concatenateColumns(_ parts: [Tensor]) -> Tensor {
        guard parts.count > 1 else { return parts.first ?? Tensor(shape: [0, 0]) }
        let rows = parts[0].shape[0], width = parts.reduce(0) { $0 + $1.shape[1] }
        var out = Tensor(shape: [rows, width])
        out.withUnsafeMutableBufferPointer { o in
            guard let op = o.baseAddress else { return }
            var column = 0
            for part in parts {
                let w = part.shape[1]
                part.withUnsafeBufferPointer { p in
                    guard let pp = p.baseAddress else { return }
                    for row in 0..<rows { (op + (row &* width &+ column)).update(from: pp + row &* w, count: w) }
                }
                column += w
            }
        }
        return out
    }

    /// Encodes tagged sentences, or throws a `TaskError` listing every tag the model does
    /// not know (with where it first appears) when the corpus uses another tag set.
    public func encode(_ sentences: [TaggedSentence]) throws -> [TaggerExample] {
        var unknownTags: [String: SourceLocation?] = [:]
        var order: [String] = []
        var examples: [TaggerExample] = []
        examples.reserveCapacity(sentences.count)
        for sentence in sentences where !sentence.tokens.isEmpty {
            var example = encode(tokens: sentence.tokens)
            example.tags = sentence.tags.map { tag in
                if let id = vocabularies.tags.id(of: tag) { return id }
                if unknownTags[tag] == nil { unknownTags[tag] = .some(sentence.location); order.append(tag) }
                return 0
            }
            examples.append(example)
        }
        if !order.isEmpty {
            let listed = order.prefix(10).map { tag in
                unknownTags[tag].flatMap { $0 }.map { "'\(tag)' (first at \($0))" } ?? "'\(tag)'"
            }
            throw TaskError("tag set mismatch: the corpus uses \(order.count) tag\(order.count == 1 ? "" : "s") the model "
                + "does not know: \(listed.joined(separator: ", "))\(order.count > 10 ? ", …" : ""); "
                + "the model knows \(vocabularies.tags.tokens.joined(separator: " "))")
        }
        return examples
    }

    // MARK: - Forward and backward

    /// What one training forward pass keeps for backward.
    private struct Cache {
        var layout: PackingLayout
        var wordIDs: [Int]
        var rowToDistinct: [Int]
        var characterCache: CharacterEncoder.Cache
        var inputMask: Tensor
        var lstmCache: LSTM.Cache
        var outputMask: Tensor
        var lstmOutput: Tensor
    }

    /// Logits `[tokens, tags]` of a batch in packed row order (`layout`), and in training a cache.
    private func run(_ batch: [TaggerExample], training: Bool, generator: inout SeededGenerator)
        -> (logits: Tensor, layout: PackingLayout, cache: Cache?) {
        guard let layout = try? PackingLayout(lengths: batch.map(\.count)) else {
            preconditionFailure("A tagger batch needs at least one sentence and no empty sentence")
        }
        var wordIDs = layout.pack(batch.map(\.words))
        if training && configuration.wordDropout > 0, let unknown = vocabularies.words.unknownID {
            let p = configuration.wordDropout
            for i in wordIDs.indices where generator.nextFloat() < p { wordIDs[i] = unknown }
        }
        // Distinct spellings of the batch, each encoded once.
        let packedCharacters = layout.pack(batch.map(\.characters))
        var distinctIndex: [[Int]: Int] = [:]
        var distinct: [[Int]] = []
        let rowToDistinct = packedCharacters.map { characters -> Int in
            if let index = distinctIndex[characters] { return index }
            distinctIndex[characters] = distinct.count
            distinct.append(characters)
            return distinct.count - 1
        }
        let spelling: Tensor
        var characterCache: CharacterEncoder.Cache? = nil
        if training {
            let result = characterEncoder.forward(distinct, generator: &generator)
            spelling = result.output
            characterCache = result.cache
        } else {
            spelling = characterEncoder(distinct)
        }
        var features = Self.concatenate(wordEmbedding.forward(wordIDs), gathering: spelling, rows: rowToDistinct,
                                        contextual: packedContextualFeatures(batch, layout: layout))

        let dropout = Dropout(probability: configuration.dropout)
        if training {
            let (dropped, inputMask) = dropout.forward(features, generator: &generator)
            features = dropped
            let result = lstm.forward(layout.packedSequence(data: features), generator: &generator)
            let (hidden, outputMask) = dropout.forward(result.output.data, generator: &generator)
            let cache = Cache(layout: layout, wordIDs: wordIDs, rowToDistinct: rowToDistinct, characterCache: characterCache!,
                              inputMask: inputMask, lstmCache: result.cache, outputMask: outputMask, lstmOutput: hidden)
            return (output.forward(hidden), layout, cache)
        }
        let hidden = lstm(layout.packedSequence(data: features)).output.data
        return (output.forward(hidden), layout, nil)
    }

    public func length(of example: TaggerExample) -> Int { example.count }

    /// The batch's loss per token (cross-entropy per token, or with a CRF the sentences' negative
    /// log-likelihood divided by the tokens); adds its gradient into every parameter.
    public mutating func accumulateGradients(on batch: [TaggerExample], generator: inout SeededGenerator) -> BatchLoss {
        let batch = batch.filter { $0.count > 0 }
        guard !batch.isEmpty else { return BatchLoss(sum: 0, count: 0) }
        precondition(batch.allSatisfy { $0.tags.count == $0.count }, "Training examples need one tag per token")
        let (logits, layout, cacheOrNil) = run(batch, training: true, generator: &generator)
        let cache = cacheOrNil!
        let targets = layout.pack(batch.map(\.tags))
        if crf != nil {
            let (loss, logitsGradient) = crf!.negativeLogLikelihood(emissions: logits, batchSizes: layout.batchSizes, tags: targets,
                                                                   gradientScale: 1 / Double(targets.count))
            backward(cache, logitsGradient: logitsGradient)
            return BatchLoss(sum: loss, count: targets.count)
        }
        let (loss, logitsGradient) = CrossEntropyLoss(ignoreIndex: nil)(logits: logits, targets: targets)
        backward(cache, logitsGradient: logitsGradient)
        return BatchLoss(sum: loss * Double(targets.count), count: targets.count)
    }

    /// The batch's contextual features `[N, C]` in packed row order (computed now for the
    /// examples that lack them), or `nil` for a tagger without language models.
    private func packedContextualFeatures(_ batch: [TaggerExample], layout: PackingLayout) -> Tensor? {
        guard !contextualEmbeddings.isEmpty else { return nil }
        let missing = batch.indices.filter { batch[$0].contextualFeatures == nil }
        precondition(missing.allSatisfy { batch[$0].tokens.count == batch[$0].count },
                     "A tagger with language models reads the tokens themselves: encode examples with encode(tokens:)")
        let computed = contextualFeatures(of: missing.map { batch[$0].tokens })
        var perSentence = batch.map(\.contextualFeatures)
        for (index, tensor) in zip(missing, computed) { perSentence[index] = tensor }
        let C = contextualFeatureSize
        var packed = Tensor(shape: [layout.rowCount, C])
        packed.withUnsafeMutableBufferPointer { out in
            guard let target = out.baseAddress else { return }
            for (sentence, features) in perSentence.enumerated() {
                guard let features else { continue }
                precondition(features.shape == [batch[sentence].count, C], "Contextual features must be [tokens, \(C)]")
                features.withUnsafeBufferPointer { rows in
                    guard let source = rows.baseAddress else { return }
                    for step in 0..<batch[sentence].count {
                        (target + layout.row(sequence: sentence, step: step) &* C).update(from: source + step &* C, count: C)
                    }
                }
            }
        }
        return packed
    }

    private mutating func backward(_ cache: Cache, logitsGradient: Tensor) {
        let dropout = Dropout(probability: configuration.dropout)
        var gradient = output.backward(input: cache.lstmOutput, outputGradient: logitsGradient)
        gradient = dropout.backward(outputGradient: gradient, mask: cache.outputMask)
        gradient = lstm.backward(cache.lstmCache, outputGradient: gradient).inputGradient
        gradient = dropout.backward(outputGradient: gradient, mask: cache.inputMask)
        // Split [N, W + S + C] into word and spelling gradients (spellings sum over their tokens;
        // the language models are frozen: their columns' gradients go nowhere).
        let W = configuration.wordEmbeddingSize, S = characterEncoder.outputSize, N = cache.wordIDs.count
        let width = W &+ S &+ contextualFeatureSize
        var wordGradient = Tensor(shape: [N, W])
        var spellingGradient = Tensor(shape: [cache.characterCache.wordCount, S])
        gradient.withUnsafeBufferPointer { g in
            wordGradient.withUnsafeMutableBufferPointer { w in
                spellingGradient.withUnsafeMutableBufferPointer { s in
                    guard let src = g.baseAddress, let wp = w.baseAddress, let sp = s.baseAddress else { return }
                    for row in 0..<N {
                        let start = row &* width
                        (wp + row &* W).update(from: src + start, count: W)
                        BLAS.axpy(count: S, alpha: 1, x: src + (start &+ W), y: sp + cache.rowToDistinct[row] &* S)
                    }
                }
            }
        }
        wordEmbedding.backward(ids: cache.wordIDs, outputGradient: wordGradient)
        characterEncoder.backward(cache.characterCache, outputGradient: spellingGradient)
    }

    /// `[N, W]` word rows beside `[N, S]` rows gathered from `spelling` (`rows[i]` picks row i's),
    /// beside the `[N, C]` rows of `contextual` when there are any.
    private static func concatenate(_ words: Tensor, gathering spelling: Tensor, rows: [Int], contextual: Tensor?) -> Tensor {
        let N = words.shape[0], W = words.shape[1], S = spelling.shape[1], C = contextual?.shape[1] ?? 0
        var out = Tensor(shape: [N, W + S + C])
        let empty = Tensor(shape: [0])
        words.withUnsafeBufferPointer { w in
            spelling.withUnsafeBufferPointer { s in
                (contextual ?? empty).withUnsafeBufferPointer { c in
                    out.withUnsafeMutableBufferPointer { o in
                        guard let wp = w.baseAddress, let sp = s.baseAddress, let op = o.baseAddress else { return }
                        let width = W &+ S &+ C
                        for row in 0..<N {
                            let start: Int = row &* width
                            let source: Int = rows[row] &* S
                            (op + start).update(from: wp + row &* W, count: W)
                            (op + (start &+ W)).update(from: sp + source, count: S)
                            if C > 0, let cp = c.baseAddress { (op + (start &+ W &+ S)).update(from: cp + row &* C, count: C) }
                        }
                    }
                }
            }
        }
        return out
    }

    // MARK: - Prediction

    /// The most likely tag id of every token of every example (inference mode), in batches of
    /// `batchSize` sentences of similar length. Empty examples give empty predictions.
    ///
    /// With `workers > 1`, batches are tagged concurrently, `workers` at a time: parallelism
    /// *around* BLAS, so set BLAS to one thread (`BLAS.setThreadCount(1)`) first, as
    /// `seqmodels tag --threads N` does. The predictions do not depend on `workers`.
    public func predictTagIDs(_ examples: [TaggerExample], batchSize: Int = 64, workers: Int = 1) -> [[Int]] {
        batchedPredictions(examples, batchSize: batchSize, workers: workers, empty: []) { model, logits, layout in
            layout.unpack(model.crf.map { $0.decode(emissions: logits, batchSizes: layout.batchSizes) } ?? Self.argmaxRows(logits))
        }
    }

    /// Runs the non-empty `examples` in inference mode in batches of `batchSize` sentences of
    /// similar length (less work for the last, short-lived LSTM steps), `workers` batches at
    /// once, and returns `predict`'s result for each example in order (`empty` for empty ones).
    /// `predict` gets a batch's scores and layout and returns one result per sentence of it.
    private func batchedPredictions<Prediction: Sendable>(
        _ examples: [TaggerExample], batchSize: Int, workers: Int, empty: Prediction,
        _ predict: @escaping @Sendable (Tagger, Tensor, PackingLayout) -> [Prediction]
    ) -> [Prediction] {
        precondition(batchSize > 0 && workers > 0, "batchSize and workers must be positive")
        let nonEmpty = examples.indices.filter { examples[$0].count > 0 }
        let order = nonEmpty.sorted { examples[$0].count > examples[$1].count }
        let batches = stride(from: 0, to: order.count, by: batchSize).map { Array(order[$0..<min($0 + batchSize, order.count)]) }
        let model = self
        let results = concurrentResults(count: batches.count, workers: workers) { b in
            var unused = SeededGenerator(seed: 0)
            let (logits, layout, _) = model.run(batches[b].map { examples[$0] }, training: false, generator: &unused)
            return predict(model, logits, layout)
        }
        var result = [Prediction](repeating: empty, count: examples.count)
        for (b, indices) in batches.enumerated() {
            for (index, prediction) in zip(indices, results[b]) { result[index] = prediction }
        }
        return result
    }

    /// The predicted tag id of every token and the probability of every tag there
    /// (`[tokens][tags]`, in the order of `vocabularies.tags`): the softmax of the scores, or
    /// with a CRF the marginal probabilities given the whole sentence. The predicted tags are
    /// those of `predictTagIDs` (with a CRF, the Viterbi path). Empty examples give empty results.
    public func predictTagDistributions(_ examples: [TaggerExample], batchSize: Int = 64)
        -> [(tagIDs: [Int], probabilities: [[Float]])] {
        batchedPredictions(examples, batchSize: batchSize, workers: 1, empty: TagDistribution(tagIDs: [], probabilities: [])) {
            model, logits, layout in
            let tags: [Int], probabilities: Tensor
            if let crf = model.crf {
                tags = crf.decode(emissions: logits, batchSizes: layout.batchSizes)
                probabilities = crf.marginals(emissions: logits, batchSizes: layout.batchSizes)
            } else {
                tags = Self.argmaxRows(logits)
                probabilities = Kernels.exp(Kernels.logSoftmax(logits))
            }
            let K = probabilities.shape[1], rows = probabilities.scalars
            let perRow = (0..<probabilities.shape[0]).map { Array(rows[($0 * K)..<($0 * K + K)]) }
            return zip(layout.unpack(tags), layout.unpack(perRow)).map { TagDistribution(tagIDs: $0, probabilities: $1) }
        }.map { ($0.tagIDs, $0.probabilities) }
    }

    /// One sentence's predicted tags and per-token tag probabilities (a Sendable pair).
    private struct TagDistribution: Sendable {
        var tagIDs: [Int]
        var probabilities: [[Float]]
    }

    /// The tags of one sentence's tokens (one tag per token).
    public func tag(_ tokens: [String]) -> [String] {
        tag(sentences: [tokens])[0]
    }

    /// The tags of many sentences, batched (`workers` as in `predictTagIDs`).
    public func tag(sentences: [[String]], workers: Int = 1) -> [[String]] {
        predictTagIDs(sentences.map { encode(tokens: $0) }, workers: workers).map { vocabularies.tags.decode($0) }
    }

    private static func argmaxRows(_ logits: Tensor) -> [Int] {
        let n = logits.shape[0], c = logits.shape[1]
        return logits.withUnsafeBufferPointer { b in
            (0..<n).map { row in
                let p = b.baseAddress! + row &* c
                var best = 0
                for j in 1..<max(c, 1) where p[j] > p[best] { best = j }
                return best
            }
        }
    }

    /// Token accuracy on `examples` (the dev metric of training); details hold the OOV accuracy.
    public func evaluate(on examples: [TaggerExample]) -> Evaluation {
        evaluation(fromSums: evaluationCounts(on: examples))
    }

    /// The sums of `evaluationCounts(on:)`: the evaluation splits over processes.
    public func evaluationSums(on examples: [TaggerExample]) -> [Double]? { evaluationCounts(on: examples) }

    /// Tokens, right tokens, out-of-vocabulary tokens, right ones, sentences, right ones.
    public func evaluationCounts(on examples: [TaggerExample]) -> [Double] {
        let report = TaggingReport(examples: examples, predictions: predictTagIDs(examples), tags: vocabularies.tags.tokens)
        return [report.tokens, report.correct, report.oovTokens, report.oovCorrect, report.sentences, report.correctSentences]
            .map(Double.init)
    }

    /// Token accuracy, with the out-of-vocabulary and sentence accuracies as details.
    public func evaluation(fromSums sums: [Double]) -> Evaluation {
        precondition(sums.count == 6, "A tagger's evaluation sums are six counts")
        func ratio(_ a: Double, _ b: Double) -> Double { b > 0 ? a / b : 0 }
        return Evaluation(metricName: "accuracy", metric: ratio(sums[1], sums[0]),
                          details: ["oov_accuracy": ratio(sums[3], sums[2]), "sentence_accuracy": ratio(sums[5], sums[4])])
    }

    // MARK: - Saving and loading

    /// Writes the model directory: `model.safetensors`, `config.json`, the vocabularies
    /// `words.json`, `characters.json`, `tags.json`, and each character language model in its
    /// subdirectory (`configuration.characterLanguageModels`): the directory needs nothing else.
    public func save(to directory: URL) throws {
        for (name, embeddings) in zip(configuration.characterLanguageModels, contextualEmbeddings) {
            try embeddings.languageModel.save(to: directory.appendingPathComponent(name, isDirectory: true))
        }
        try Checkpoint.writeJSON(vocabularies.words, named: TaggerVocabularies.wordsFile, in: directory)
        try Checkpoint.writeJSON(vocabularies.characters, named: TaggerVocabularies.charactersFile, in: directory)
        try Checkpoint.writeJSON(vocabularies.tags, named: TaggerVocabularies.tagsFile, in: directory)
        try Checkpoint.save(self, config: configuration, to: directory, metadata: ["task": TaggerConfiguration.taskName])
    }

    /// Reads a model directory written by `save(to:)`. Throws a message naming the problem
    /// for a missing directory or file, a directory of another kind of model, or tensors that
    /// do not fit the configuration.
    public static func load(from directory: URL) throws -> Tagger {
        struct Kind: Decodable { var task: String? }
        let kind = try Checkpoint.loadConfig(Kind.self, from: directory)
        guard kind.task == TaggerConfiguration.taskName else {
            throw TaskError("\(directory.path) holds \(kind.task.map { "a '\($0)' model" } ?? "no tagger configuration"), "
                + "not a POS tagger (its config.json must say \"task\": \"\(TaggerConfiguration.taskName)\")")
        }
        let configuration = try Checkpoint.loadConfig(TaggerConfiguration.self, from: directory)
        try configuration.validate()
        let vocabularies = TaggerVocabularies(
            words: try Checkpoint.readJSON(Vocabulary.self, named: TaggerVocabularies.wordsFile, in: directory),
            characters: try Checkpoint.readJSON(Vocabulary.self, named: TaggerVocabularies.charactersFile, in: directory),
            tags: try Checkpoint.readJSON(Vocabulary.self, named: TaggerVocabularies.tagsFile, in: directory))
        guard vocabularies.tags.count > 0, vocabularies.words.unknownID != nil, vocabularies.characters.unknownID != nil else {
            throw TaskError("\(directory.path): the vocabularies are incomplete (no tags, or no <unk> for words or characters)")
        }
        try configuration.validate(against: Checkpoint.SizeCheck(directory: directory), vocabularies: vocabularies)
        let contextualEmbeddings = try configuration.characterLanguageModels.map { name in
            try ContextualStringEmbeddings(GeneratorModel.load(from: directory.appendingPathComponent(name, isDirectory: true)))
        }
        var generator = SeededGenerator(seed: 0)
        var tagger = Tagger(configuration: configuration, vocabularies: vocabularies, contextualEmbeddings: contextualEmbeddings,
                            generator: &generator)
        try Checkpoint.loadParameters(into: &tagger, from: directory)
        return tagger
    }
}
