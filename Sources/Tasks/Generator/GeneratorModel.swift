import Foundation
import SeqModels

/// A trained language model with its vocabulary: what a model directory holds and what the
/// `generate` commands use.
///
/// Directory layout: `model.safetensors` (parameters, PyTorch names), `config.json`
/// (`GeneratorConfiguration`) and `vocabulary.json` (`Vocabulary`, ids in order).
public struct GeneratorModel: Sendable {
    public static let vocabularyFileName = "vocabulary.json"

    public var model: LanguageModel
    public var vocabulary: Vocabulary
    public var configuration: GeneratorConfiguration { model.configuration }

    /// Pairs a model with its vocabulary (`vocabulary.count == configuration.vocabularySize`).
    public init(model: LanguageModel, vocabulary: Vocabulary) {
        precondition(model.configuration.vocabularySize == vocabulary.count,
                     "The model predicts \(model.configuration.vocabularySize) tokens but the vocabulary has \(vocabulary.count)")
        self.model = model
        self.vocabulary = vocabulary
    }

    /// Writes the model directory (created if missing); `config.json` is written last, so a save
    /// cut short (a kill, a full disk) never leaves a configuration without its vocabulary.
    public func save(to directory: URL) throws {
        try Checkpoint.writeJSON(vocabulary, named: Self.vocabularyFileName, in: directory)
        try Checkpoint.save(model, config: configuration, to: directory, metadata: ["task": "generator"])
    }

    /// Reads a model directory written by `save(to:)`.
    /// - Throws: `CheckpointError` for missing or malformed files, `TaskError` when the
    ///   vocabulary does not fit the configuration.
    public static func load(from directory: URL) throws -> GeneratorModel {
        let configuration = try Checkpoint.loadConfig(GeneratorConfiguration.self, from: directory)
        try configuration.validate(against: Checkpoint.SizeCheck(directory: directory))
        let vocabulary = try Checkpoint.readJSON(Vocabulary.self, named: vocabularyFileName, in: directory)
        guard vocabulary.count == configuration.vocabularySize, vocabulary.unknownID != nil,
              vocabulary.beginID != nil, vocabulary.endID != nil else {
            throw TaskError("\(directory.path): \(vocabularyFileName) has \(vocabulary.count) tokens (with specials \(vocabulary.specials.map(\.rawValue))), but config.json says \(configuration.vocabularySize) with <unk>, <bos> and <eos>")
        }
        var generator = SeededGenerator(seed: 0)
        var model = LanguageModel(configuration, generator: &generator)
        try Checkpoint.loadParameters(into: &model, from: directory)
        return GeneratorModel(model: model, vocabulary: vocabulary)
    }

    // MARK: - Sampling

    /// A generated text: the prefix as given and the continuation.
    public struct Sample: Equatable, Sendable {
        /// The generated tokens after the prefix (without `<eos>`).
        public var tokens: [String]
        /// Prefix and continuation joined as text.
        public var text: String
        /// Prefix tokens that are not in the vocabulary (fed as `<unk>`).
        public var unknownPrefixTokens: [String]
        /// Whether generation stopped at `<eos>` before `length` tokens.
        public var endedAtEndOfSequence: Bool
    }

    /// Generates up to `length` tokens after `prefix`.
    ///
    /// In `lines` mode the model starts after `<bos>` and stops at `<eos>`; in `stream` mode
    /// `<eos>` is never produced, and the prefix follows a line break (see `startIDs`; an empty
    /// prefix at word level follows the most frequent token), which is not part of the output.
    /// Unknown prefix tokens become `<unk>` and are listed in the result; `<pad>`, `<unk>` and
    /// `<bos>` are never generated.
    public func sample(prefix: String, length: Int, options: SamplingOptions,
                       generator: inout SeededGenerator) throws -> Sample {
        try options.validate()
        guard length >= 0 else { throw TaskError("the length must be 0 or more tokens, got \(length)") }
        let (decoderAfterPrefix, prefixTokens, unknown, allowed, _) = start(after: prefix)
        var decoder = decoderAfterPrefix
        var ids: [Int] = []
        var ended = false
        while ids.count < length {
            let next = options.choose(from: decoder.logits, allowed: allowed, generator: &generator)
            if next == vocabulary.endID! { ended = true; break }
            ids.append(next)
            decoder.feed([next])
        }
        return makeSample(prefix: prefix, prefixTokens: prefixTokens, ids: ids, unknown: unknown, ended: ended)
    }

    /// The most probable continuation of `prefix` that beam search finds, keeping `beamWidth`
    /// hypotheses at every token: up to `length` tokens (exactly `length` for `stream` models,
    /// which never end). Continuations that end at `<eos>` (`lines` models) are compared with
    /// the others by their mean log-probability per token, `<eos>` included, so that short
    /// endings are not favoured for having fewer terms. Deterministic: ties go to the earlier
    /// hypothesis, then the lower id.
    public func beamSearch(prefix: String, length: Int, beamWidth: Int) throws -> Sample {
        guard length >= 0 else { throw TaskError("the length must be 0 or more tokens, got \(length)") }
        guard beamWidth >= 1 else { throw TaskError("the beam width must be at least 1, got \(beamWidth)") }
        let (decoder, prefixTokens, unknown, allowed, end) = start(after: prefix)

        struct Hypothesis { var decoder: IncrementalDecoder; var ids: [Int]; var logProbability: Double }
        func mean(_ logProbability: Double, _ count: Int) -> Double { count > 0 ? logProbability / Double(count) : 0 }
        var beam = [Hypothesis(decoder: decoder, ids: [], logProbability: 0)]
        var finished: [(ids: [Int], score: Double)] = []
        for _ in 0..<length where !beam.isEmpty {
            var candidates: [(hypothesis: Int, id: Int, logProbability: Double)] = []
            for (index, hypothesis) in beam.enumerated() {
                let logProbabilities = AcrosticHypothesis.logSoftmax(hypothesis.decoder.logits)
                for id in allowed.indices where allowed[id] {
                    candidates.append((index, id, hypothesis.logProbability + logProbabilities[id]))
                }
            }
            candidates.sort {
                $0.logProbability != $1.logProbability ? $0.logProbability > $1.logProbability : ($0.hypothesis, $0.id) < ($1.hypothesis, $1.id)
            }
            var next: [Hypothesis] = []
            for candidate in candidates where next.count < beamWidth {
                let parent = beam[candidate.hypothesis]
                if candidate.id == end {
                    finished.append((parent.ids, mean(candidate.logProbability, parent.ids.count + 1)))
                    if finished.count >= beamWidth { break }
                    continue
                }
                var extended = parent
                extended.ids.append(candidate.id)
                extended.logProbability = candidate.logProbability
                extended.decoder.feed([candidate.id])
                next.append(extended)
            }
            beam = finished.count >= beamWidth ? [] : next
        }
        let open = beam.map { (ids: $0.ids, score: mean($0.logProbability, $0.ids.count), ended: false) }
        let all = finished.map { (ids: $0.ids, score: $0.score, ended: true) } + open
        guard let best = all.enumerated().max(by: { $0.element.score != $1.element.score ? $0.element.score < $1.element.score : $0.offset > $1.offset })?.element else {
            return makeSample(prefix: prefix, prefixTokens: prefixTokens, ids: [], unknown: unknown, ended: false)
        }
        return makeSample(prefix: prefix, prefixTokens: prefixTokens, ids: best.ids, unknown: unknown, ended: best.ended)
    }

    /// The decoder after the start and `prefix`; the prefix's tokens and those the vocabulary
    /// lacks; the tokens that may be generated (ordinary ones, and `<eos>` for `lines` models,
    /// also given as `end`).
    private func start(after prefix: String)
        -> (decoder: IncrementalDecoder, prefixTokens: [String], unknown: [String], allowed: [Bool], end: Int?) {
        let prefixTokens = configuration.level.tokenizer.tokenize(prefix)
        let unknown = prefixTokens.filter { !vocabulary.contains($0) }
        var decoder = IncrementalDecoder(model: model)
        let start = startIDs(beforeEmptyPrefix: prefixTokens.isEmpty)
        decoder.feed(start + prefixTokens.map { vocabulary.id(of: $0)! })
        var allowed = ordinaryTokenMask()
        let end = configuration.records == .lines ? vocabulary.endID : nil
        if let end { allowed[end] = true }
        return (decoder, prefixTokens, unknown, allowed, end)
    }

    private func makeSample(prefix: String, prefixTokens: [String], ids: [Int], unknown: [String], ended: Bool) -> Sample {
        let tokens = vocabulary.decode(ids)
        let text: String
        switch configuration.level {
        case .char: text = prefix + tokens.joined()
        case .word: text = TokenLevel.word.join(prefixTokens + tokens)
        }
        return Sample(tokens: tokens, text: text, unknownPrefixTokens: unknown, endedAtEndOfSequence: ended)
    }

    /// The ids fed before the prefix: `<bos>` for `lines` models; for `stream` models a line
    /// break when the vocabulary has one, so that generation starts as at the start of a line.
    /// (Trained with consecutive sampling, a model meets the zero state only at the start of
    /// its lanes, a few dozen times an epoch; a 2×512 tinyshakespeare model answered "ROMEO:"
    /// fed from the zero state with `&3$3XXX…`, and "ROMEO:" after a line break with a new line
    /// and a speech.) Without a line break in the vocabulary (word level): nothing before a
    /// prefix, the most frequent token before an empty one.
    func startIDs(beforeEmptyPrefix: Bool = true) -> [Int] {
        switch configuration.records {
        case .lines: return [vocabulary.beginID!]
        case .stream:
            if vocabulary.contains("\n") { return [vocabulary.id(of: "\n")!] }
            guard beforeEmptyPrefix else { return [] }
            return [vocabulary.specials.count < vocabulary.count ? vocabulary.specials.count : vocabulary.unknownID!]
        }
    }

    /// True for every ordinary token (no special token may be generated).
    func ordinaryTokenMask() -> [Bool] {
        (0..<vocabulary.count).map { $0 >= vocabulary.specials.count }
    }

    // MARK: - Evaluation

    /// Loss per token of a text under the model.
    public struct TextEvaluation: Equatable, Sendable, Codable {
        /// Mean cross-entropy per predicted token, in nats.
        public var loss: Double
        /// `exp(loss)`.
        public var perplexity: Double
        /// Number of predicted tokens.
        public var tokens: Int
        /// Tokens of the text that are not in the vocabulary (scored as `<unk>`).
        public var unknownTokens: Int
    }

    /// Scores `text` as the model was trained: every line a record (`lines`), or the whole
    /// text as one stream evaluated in `lanes` consecutive pieces with the state carried (`stream`).
    /// - Throws: `TaskError` when the text has nothing to predict.
    public func evaluate(text: String, lanes: Int = 16) throws -> TextEvaluation {
        let records = GeneratorData.records(of: text, level: configuration.level, mode: configuration.records)
        let unknown = records.reduce(0) { $0 + $1.filter { !vocabulary.contains($0) }.count }
        let examples: [TokenSequence]
        switch configuration.records {
        case .lines: examples = records.map { GeneratorData.record($0, vocabulary: vocabulary) }
        case .stream: examples = GeneratorData.lanes(records[0].map { vocabulary.id(of: $0)! }, count: lanes)
        }
        guard !examples.isEmpty else { throw TaskError("the text has no tokens to predict") }
        let total = model.loss(on: examples)
        return TextEvaluation(loss: total.mean, perplexity: Foundation.exp(total.mean), tokens: total.count, unknownTokens: unknown)
    }
}
