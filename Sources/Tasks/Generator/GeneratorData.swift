import SeqModels

/// A training text turned into a vocabulary and examples for a `LanguageModel`.
///
/// `stream` mode: the text is one token stream; the last `validationFraction` of it is held
/// out. With `random` sampling the rest is cut into chunks of `sequenceLength + 1` tokens
/// starting every `stride` tokens (`stride == sequenceLength`: non-overlapping chunks;
/// smaller: overlapping chunks, more starting points for short texts), which the training
/// loop batches and shuffles. With `consecutive` sampling it is cut into `lanes` contiguous
/// lanes (as PyTorch's `batchify`, but keeping every token), each cut into chunks of
/// `sequenceLength`; `trainingBatches` then lists batch k = chunk k of every lane, in lane
/// order. The held-out part is split into `validationLanes` consecutive pieces so that
/// evaluation runs as a batch.
///
/// `lines` mode: every non-empty line is a record `<bos> tokens <eos>`; the last
/// `validationFraction` of the records are held out.
public struct GeneratorData: Sendable {
    public var vocabulary: Vocabulary
    public var training: [TokenSequence]
    public var validation: [TokenSequence]
    /// With `consecutive` sampling: the batches of an epoch, in order, as indices into
    /// `training` (batch k holds chunk k of every lane that still has one, in lane order);
    /// `nil` otherwise (the training loop makes its own batches).
    public var trainingBatches: [[Int]]?

    /// Splits the text into records of tokens: one per non-empty line (`lines`) or one in all
    /// (`stream`); `.backward` reverses the tokens of each record (the records keep their order).
    public static func records(of text: String, level: TokenLevel, mode: RecordMode,
                               direction: ReadingDirection = .forward) -> [[String]] {
        let tokenizer = level.tokenizer
        let records: [[String]]
        switch mode {
        case .stream:
            records = [tokenizer.tokenize(text)]
        case .lines:
            records = text.split(whereSeparator: \.isNewline)
                .map { tokenizer.tokenize(String($0).trimmingWhitespace()) }
                .filter { !$0.isEmpty }
        }
        return direction == .forward ? records : records.map { $0.reversed() }
    }

    /// Prepares `text` for training.
    ///
    /// - Parameters:
    ///   - text: the whole training text.
    ///   - level: characters or words as tokens.
    ///   - mode: one record per line, or one stream.
    ///   - sequenceLength: tokens per training chunk of a stream.
    ///   - stride: tokens between the starts of two chunks (default: `sequenceLength`).
    ///   - sampling: how `stream` chunks are laid out (ignored in `lines` mode).
    ///   - lanes: the number of lanes of `consecutive` sampling: the training batch size.
    ///   - validationFraction: share of the records (or of the stream's end) held out.
    ///   - validationLanes: pieces the held-out stream is evaluated in, each carrying its state.
    ///   - minFrequency: training tokens seen fewer times are `<unk>`.
    ///   - maxVocabularySize: most tokens in the vocabulary (specials included), the most frequent kept; `nil`: all.
    ///   - direction: `.backward` trains on every record reversed (the held-out share is then
    ///     the stream's beginning, read backwards).
    /// - Throws: `TaskError` when the text is too short for a training example, or the
    ///   options are out of range (a `stride` other than `sequenceLength` with `consecutive`
    ///   sampling among them: lanes cannot overlap).
    public init(text: String, level: TokenLevel, mode: RecordMode, sequenceLength: Int, stride: Int? = nil,
                sampling: StreamSampling = .random, lanes: Int = 32,
                validationFraction: Double = 0.1, validationLanes: Int = 16, minFrequency: Int = 1,
                maxVocabularySize: Int? = nil, direction: ReadingDirection = .forward) throws {
        guard sequenceLength >= 1 else { throw TaskError("the sequence length must be at least 1, got \(sequenceLength)") }
        let step = stride ?? sequenceLength
        guard step >= 1 else { throw TaskError("the chunk stride must be at least 1, got \(step)") }
        guard lanes >= 1 else { throw TaskError("consecutive sampling needs at least 1 lane (the batch size), got \(lanes)") }
        if mode == .stream && sampling == .consecutive && step != sequenceLength {
            throw TaskError("a chunk stride (\(step)) other than the sequence length (\(sequenceLength)) needs random sampling: "
                            + "consecutive sampling cuts the stream into contiguous lanes without overlap")
        }
        guard minFrequency >= 1 else { throw TaskError("the minimum token frequency must be at least 1, got \(minFrequency)") }
        if let maxVocabularySize, maxVocabularySize < SpecialToken.allCases.count + 1 {
            throw TaskError("the vocabulary must hold at least \(SpecialToken.allCases.count + 1) tokens (the specials and one more), got \(maxVocabularySize)")
        }
        guard validationFraction >= 0 && validationFraction < 1 else {
            throw TaskError("the validation fraction must be in [0, 1), got \(validationFraction)")
        }
        let records = Self.records(of: text, level: level, mode: mode, direction: direction)
        switch mode {
        case .stream:
            let tokens = records[0]
            let validationCount = Int((Double(tokens.count) * validationFraction).rounded())
            let trainingTokens = Array(tokens[0..<(tokens.count - validationCount)])
            guard trainingTokens.count >= 2 else {
                throw TaskError("the text has \(tokens.count) tokens: too few to train on (at least 2 are needed outside the validation part)")
            }
            let vocabulary = Vocabulary(counting: [trainingTokens], minFrequency: minFrequency, maxSize: maxVocabularySize)
            self.vocabulary = vocabulary
            let trainingIDs = trainingTokens.map { vocabulary.id(of: $0)! }
            switch sampling {
            case .random:
                training = Self.chunks(trainingIDs, length: sequenceLength, stride: step)
            case .consecutive:
                let layout = Self.laneChunks(trainingIDs, lanes: lanes, length: sequenceLength)
                training = layout.chunks
                trainingBatches = layout.batches
            }
            let validationIDs = tokens[(tokens.count - validationCount)...].map { vocabulary.id(of: $0)! }
            validation = Self.lanes(validationIDs, count: validationLanes)
        case .lines:
            let validationCount = Int((Double(records.count) * validationFraction).rounded())
            let trainingRecords = Array(records[0..<(records.count - validationCount)])
            guard !trainingRecords.isEmpty else {
                throw TaskError("the text has \(records.count) non-empty lines: too few to train on")
            }
            let vocabulary = Vocabulary(counting: trainingRecords, minFrequency: minFrequency, maxSize: maxVocabularySize)
            self.vocabulary = vocabulary
            training = trainingRecords.map { Self.record($0, vocabulary: vocabulary) }
            validation = records[(records.count - validationCount)...].map { Self.record($0, vocabulary: vocabulary) }
        }
    }

    /// `<bos> tokens` → `tokens <eos>`, unknown tokens as `<unk>`.
    public static func record(_ tokens: [String], vocabulary: Vocabulary) -> TokenSequence {
        let ids = tokens.map { vocabulary.id(of: $0)! }
        return TokenSequence(inputs: [vocabulary.beginID!] + ids, targets: ids + [vocabulary.endID!])
    }

    /// Chunks of `length` predictions (`length + 1` tokens) starting every `stride` tokens;
    /// the last chunk may be shorter.
    public static func chunks(_ ids: [Int], length: Int, stride: Int) -> [TokenSequence] {
        var result: [TokenSequence] = []
        var start = 0
        while start + 1 < ids.count {
            let end = min(start + length + 1, ids.count)
            result.append(TokenSequence(inputs: Array(ids[start..<(end - 1)]), targets: Array(ids[(start + 1)..<end])))
            if end == ids.count { break }
            start += stride
        }
        return result
    }

    /// The chunks of consecutive truncated BPTT: the stream's predictions (token t → t+1) cut
    /// into `min(lanes, ids.count - 1)` contiguous lanes, the first ones one prediction longer
    /// when they do not divide evenly (so lane lengths never increase with the lane index),
    /// and every lane into chunks of `length` predictions (its last chunk may be shorter).
    ///
    /// - Returns: the chunks in training order (batch 0's lanes in order, then batch 1's, …)
    ///   and the batches as indices into them: batch k holds chunk k of every lane that has
    ///   one, which is always a prefix of the lanes of batch k-1. Every prediction of the
    ///   stream appears exactly once.
    public static func laneChunks(_ ids: [Int], lanes: Int, length: Int) -> (chunks: [TokenSequence], batches: [[Int]]) {
        precondition(lanes >= 1 && length >= 1, "Lanes and chunk length must be positive, got \(lanes) and \(length)")
        let predictions = ids.count - 1
        guard predictions >= 1 else { return ([], []) }
        let laneCount = min(lanes, predictions)
        let base = predictions / laneCount, extra = predictions % laneCount
        let starts = (0..<laneCount).map { $0 * base + min($0, extra) }
        let sizes = (0..<laneCount).map { base + ($0 < extra ? 1 : 0) }
        var chunks: [TokenSequence] = []
        var batches: [[Int]] = []
        var offset = 0
        while offset < sizes[0] {
            var batch: [Int] = []
            for lane in 0..<laneCount where offset < sizes[lane] {
                let from = starts[lane] + offset, to = starts[lane] + min(offset + length, sizes[lane])
                batch.append(chunks.count)
                chunks.append(TokenSequence(inputs: Array(ids[from..<to]), targets: Array(ids[(from + 1)...to])))
            }
            batches.append(batch)
            offset += length
        }
        return (chunks, batches)
    }

    /// A stream cut into at most `count` consecutive pieces, each predicting its next tokens
    /// (the first token of each piece is context only).
    public static func lanes(_ ids: [Int], count: Int) -> [TokenSequence] {
        guard ids.count >= 2 else { return [] }
        let laneCount = max(1, min(count, ids.count / 2))
        let size = ids.count / laneCount
        return (0..<laneCount).map { lane in
            let start = lane * size
            let end = lane == laneCount - 1 ? ids.count : start + size
            return TokenSequence(inputs: Array(ids[start..<(end - 1)]), targets: Array(ids[(start + 1)..<end]))
        }
    }
}

extension String {
    /// The string without leading and trailing whitespace (and line breaks).
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
