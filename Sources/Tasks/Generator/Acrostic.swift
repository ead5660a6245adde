import Foundation
import SeqModels

/// Acrostic poems (藏头诗): every line starts with its head character, has exactly
/// `lineLength` characters, and ends with `，` or `。` alternately, the last with `。`.
///
/// The format holds by construction (constrained decoding): the head character is forced
/// at the start of each line, only poem characters (single letters: no punctuation,
/// whitespace or special tokens such as `<unk>`) are allowed inside a line, and the
/// punctuation is forced at its end. The model chooses only the characters inside lines,
/// by sampling (or greedy decoding) under those masks, or by beam search (`AcrosticOptions`).
extension GeneratorModel {
    /// Line-ending punctuation: `，` after odd-numbered lines, `。` after even ones and the last.
    public static let comma = "，"
    public static let fullStop = "。"

    /// An acrostic poem on `heads`, one line per head character, lines joined by nothing
    /// (as in `tang_poems.txt`); the lines are also returned separately.
    ///
    /// - Throws: `TaskError` when `heads` is empty, `lineLength < 1`, a head character is
    ///   not in the vocabulary or is not a poem character, or the vocabulary lacks `，` or `。`.
    public func acrostic(heads: String, lineLength: Int, options: SamplingOptions,
                         generator: inout SeededGenerator) throws -> (poem: String, lines: [String]) {
        let poem = try acrosticPoem(heads: heads, lineLength: lineLength, options: AcrosticOptions(sampling: options),
                                    generator: &generator)
        return (poem.poem, poem.lines)
    }

    /// An acrostic poem on `heads` decoded as `options` say, with its mean log-probability
    /// under the model and the check of every constraint (`AcrosticPoem`).
    ///
    /// - Throws: as `acrostic(heads:lineLength:options:generator:)`, and `TaskError` for
    ///   options out of range.
    public func acrosticPoem(heads: String, lineLength: Int, options: AcrosticOptions,
                             generator: inout SeededGenerator) throws -> AcrosticPoem {
        try options.validate()
        let headIDs = try acrosticHeadIDs(heads, lineLength: lineLength)
        let allowed = poemCharacterMask()
        let marks = headIDs.indices.map { index in
            vocabulary.id(of: index == headIDs.count - 1 || index % 2 == 1 ? Self.fullStop : Self.comma)!
        }
        var start = IncrementalDecoder(model: model)
        // Lines models start after <bos>; stream models after a line break (a poem a line).
        start.feed(startIDs())
        let rules = AcrosticRules(base: allowed, rhymes: options.rhyme ? RhymeGroups.masks(of: vocabulary.tokens) : nil,
                                  lineLength: lineLength)
        let best: AcrosticHypothesis
        if options.beamWidth > 1 {
            best = try acrosticBeamSearch(from: start, heads: headIDs, marks: marks, rules: rules, options: options)
        } else {
            best = try acrosticSample(from: start, heads: headIDs, marks: marks, rules: rules, options: options,
                                      generator: &generator)
        }
        let lines = zip(best.lines, marks).map { vocabulary.decode($0 + [$1]).joined() }
        return AcrosticPoem(heads: heads, lineLength: lineLength, lines: lines,
                            meanLogProbability: best.logProbability / Double(best.tokenCount))
    }

    /// The ids of the head characters, after checking the request against the vocabulary.
    private func acrosticHeadIDs(_ heads: String, lineLength: Int) throws -> [Int] {
        guard !heads.isEmpty else { throw TaskError("give at least one head character") }
        guard lineLength >= 1 else { throw TaskError("the line length must be at least 1 character, got \(lineLength)") }
        for mark in [Self.comma, Self.fullStop] where !vocabulary.contains(mark) {
            throw TaskError("the model's vocabulary has no '\(mark)': acrostic poems need a model trained on poems punctuated with ， and 。")
        }
        let allowed = poemCharacterMask()
        guard allowed.contains(true) else { throw TaskError("the model's vocabulary has no poem characters") }
        var headIDs: [Int] = []
        for head in heads {
            let token = String(head)
            guard vocabulary.contains(token) else {
                throw TaskError("the head character '\(token)' is not in the model's vocabulary, so no line can start with it; choose another character")
            }
            let id = vocabulary.id(of: token)!
            guard allowed[id] else {
                throw TaskError("the head character '\(token)' is not a poem character (punctuation, whitespace or a special token)")
            }
            headIDs.append(id)
        }

        return headIDs
    }

    /// One line at a time, each free character drawn by `options.sampling` from the logits less
    /// the repetition penalty, among the characters the rules allow.
    private func acrosticSample(from start: IncrementalDecoder, heads: [Int], marks: [Int], rules: AcrosticRules,
                                options: AcrosticOptions, generator: inout SeededGenerator) throws -> AcrosticHypothesis {
        var poem = AcrosticHypothesis(decoder: start)
        for (line, (head, mark)) in zip(heads, marks).enumerated() {
            poem.startLine(with: head)
            for position in 1..<max(rules.lineLength, 1) {
                let allowed = rules.allowed(after: poem, line: line, position: position)
                guard allowed.contains(true) else { throw rules.exhausted(line: line, vocabulary: vocabulary, poem: poem) }
                var logits = poem.decoder.logits
                if options.repetitionPenalty > 0 {
                    for id in poem.lines[poem.lines.count - 1] { logits[id] -= options.repetitionPenalty }
                }
                poem.append(options.sampling.choose(from: logits, allowed: allowed, generator: &generator),
                            penalty: options.repetitionPenalty)
            }
            poem.endLine(with: mark, line: line, rules: rules)
        }
        return poem
    }

    /// Beam search over whole poems: at each free character every hypothesis is extended by
    /// each character the rules allow it, and the `beamWidth` best extensions by penalised
    /// log-probability go on (ties to the earlier hypothesis, then the lower id). Forced
    /// characters (heads and punctuation) are scored too, so the poem kept is the most probable
    /// one of the beam under the constraints. Every poem of one request has the same length, so
    /// no length normalisation is needed to compare them.
    private func acrosticBeamSearch(from start: IncrementalDecoder, heads: [Int], marks: [Int], rules: AcrosticRules,
                                    options: AcrosticOptions) throws -> AcrosticHypothesis {
        var beam = [AcrosticHypothesis(decoder: start)]
        for (line, (head, mark)) in zip(heads, marks).enumerated() {
            for index in beam.indices { beam[index].startLine(with: head) }
            for position in 1..<max(rules.lineLength, 1) {
                var candidates: [(hypothesis: Int, id: Int, score: Double, logProbability: Double)] = []
                for (index, hypothesis) in beam.enumerated() {
                    let allowed = rules.allowed(after: hypothesis, line: line, position: position)
                    let logProbabilities = AcrosticHypothesis.logSoftmax(hypothesis.decoder.logits)
                    let current = hypothesis.lines[hypothesis.lines.count - 1]
                    for id in allowed.indices where allowed[id] {
                        let penalty = current.contains(id) ? Double(options.repetitionPenalty) : 0
                        candidates.append((index, id, hypothesis.score + logProbabilities[id] - penalty, logProbabilities[id]))
                    }
                }
                guard !candidates.isEmpty else { throw rules.exhausted(line: line, vocabulary: vocabulary, poem: beam[0]) }
                candidates.sort { $0.score != $1.score ? $0.score > $1.score : ($0.hypothesis, $0.id) < ($1.hypothesis, $1.id) }
                beam = candidates.prefix(options.beamWidth).map { candidate in
                    var extended = beam[candidate.hypothesis]
                    extended.append(candidate.id, penalty: options.repetitionPenalty, logProbability: candidate.logProbability)
                    return extended
                }
            }
            for index in beam.indices { beam[index].endLine(with: mark, line: line, rules: rules) }
        }
        return beam.max { $0.score != $1.score ? $0.score < $1.score : false } ?? beam[0]
    }

    /// True for tokens that may stand inside a poem line: a single character that is a letter
    /// (CJK ideographs included, inside and outside the BMP), never a special token.
    func poemCharacterMask() -> [Bool] {
        vocabulary.tokens.enumerated().map { id, token in
            guard id >= vocabulary.specials.count, token.count == 1, let character = token.first else { return false }
            return character.isLetter
        }
    }
}

/// How the free characters of an acrostic poem are chosen.
public struct AcrosticOptions: Equatable, Sendable {
    /// How a character is drawn when `beamWidth` is 1.
    public var sampling: SamplingOptions
    /// Poems kept at each step of beam search; 1 samples (or decodes greedily) instead.
    public var beamWidth: Int
    /// Subtracted from the score (logit, or log-probability in beam search) of a character that
    /// already stands in the line, so that a character is repeated within a line only when the
    /// model prefers it by more than this many nats; 0 turns it off. Repeated characters are the
    /// first thing a reader of a generated poem notices.
    public var repetitionPenalty: Float

    /// The penalty `generate acrostic` uses unless told otherwise: a repeat must be e³ ≈ 20 times
    /// more probable than the best other character to be chosen.
    public static let defaultRepetitionPenalty: Float = 3

    /// Rhyme (`--rhyme`): the last characters of the even lines (2nd, 4th, …) share a rhyme
    /// group of 中华新韵 (`RhymeGroups`), and the last character of every line stands nowhere
    /// else in the poem. Enforced in decoding, like the format.
    public var rhyme: Bool

    public init(sampling: SamplingOptions = SamplingOptions(), beamWidth: Int = 1, repetitionPenalty: Float = 0,
                rhyme: Bool = false) {
        self.sampling = sampling
        self.beamWidth = beamWidth
        self.repetitionPenalty = repetitionPenalty
        self.rhyme = rhyme
    }

    /// Throws `TaskError` for sampling options out of range, a beam width below 1 or a negative penalty.
    public func validate() throws {
        try sampling.validate()
        guard beamWidth >= 1 else { throw TaskError("the beam width must be at least 1, got \(beamWidth)") }
        guard repetitionPenalty >= 0, repetitionPenalty.isFinite else {
            throw TaskError("the repetition penalty must be 0 (off) or positive, got \(repetitionPenalty)")
        }
    }
}

/// An acrostic poem with its score under the model and the check of each constraint, made
/// from the text of its lines alone (independently of how it was decoded).
public struct AcrosticPoem: Codable, Equatable, Sendable {
    /// The head characters asked for.
    public var head: String
    /// The lines, each with its closing punctuation.
    public var lines: [String]
    /// The lines joined, as in `tang_poems.txt`.
    public var poem: String
    /// Mean natural-log probability per token under the model (temperature 1, no penalty),
    /// punctuation and head characters included.
    public var meanLogProbability: Double
    /// Whether each constraint holds.
    public var constraints: Constraints

    /// The constraints of an acrostic poem, each true when it holds.
    public struct Constraints: Codable, Equatable, Sendable {
        /// One line per head character, each starting with it.
        public var heads: Bool
        /// Every line has the asked number of characters before its punctuation.
        public var lineLength: Bool
        /// Lines end with ， and 。 alternately, the last with 。, and hold no other punctuation.
        public var punctuation: Bool
        /// No character stands twice in one line.
        public var noRepeatedCharacterInALine: Bool
        /// The last characters of the even lines share a rhyme group (`RhymeGroups`); true for a
        /// poem of fewer than four lines, which has at most one even line.
        public var evenLinesRhyme: Bool
        /// The last character of every line stands nowhere else in the poem.
        public var lineEndsNotRepeated: Bool
    }

    public init(heads: String, lineLength: Int, lines: [String], meanLogProbability: Double) {
        head = heads
        self.lines = lines
        poem = lines.joined()
        self.meanLogProbability = meanLogProbability
        let headCharacters = Array(heads)
        let bodies = lines.map { Array($0.dropLast()) }
        constraints = Constraints(
            heads: lines.count == headCharacters.count && zip(bodies, headCharacters).allSatisfy { $0.first == $1 },
            lineLength: bodies.allSatisfy { $0.count == lineLength },
            punctuation: lines.enumerated().allSatisfy { index, line in
                let mark: Character = index == lines.count - 1 || index % 2 == 1 ? "。" : "，"
                return line.last == mark && line.dropLast().allSatisfy(\.isLetter)
            },
            noRepeatedCharacterInALine: bodies.allSatisfy { Set($0).count == $0.count },
            evenLinesRhyme: Self.evenLinesRhyme(bodies),
            lineEndsNotRepeated: bodies.allSatisfy { body in
                guard let last = body.last else { return true }
                return bodies.reduce(0) { $0 + $1.filter { $0 == last }.count } == 1
            })
    }

    private static func evenLinesRhyme(_ bodies: [[Character]]) -> Bool {
        let ends = bodies.enumerated().filter { AcrosticRules.isEven(line: $0.offset) }.map { $0.element.last.map(String.init) ?? "" }
        guard ends.count >= 2 else { return true }
        return ends.reduce(UInt16.max) { $0 & RhymeGroups.mask(of: $1) } != 0
    }
}

/// A poem being decoded: the model's state after it, its lines as ids, and its scores.
struct AcrosticHypothesis {
    var decoder: IncrementalDecoder
    var lines: [[Int]] = []
    /// Every character id of the poem so far.
    var used: Set<Int> = []
    /// The last character of each finished line.
    var lineEnds: Set<Int> = []
    /// The rhyme groups (`RhymeGroups` bits) every even line's last character shares so far.
    var evenLineRhymes: UInt16 = .max
    /// Log-probability under the model of every token fed after the start.
    var logProbability = 0.0
    /// `logProbability` less the repetition penalties taken.
    var score = 0.0
    var tokenCount = 0

    init(decoder: IncrementalDecoder) { self.decoder = decoder }

    mutating func startLine(with head: Int) {
        lines.append([])
        append(head, penalty: 0)
    }

    /// Appends `id` to the current line; `logProbability` is its log-probability after the poem
    /// so far when the caller has it already (beam search), else it is computed.
    mutating func append(_ id: Int, penalty: Float, logProbability: Double? = nil) {
        let repeated = lines[lines.count - 1].contains(id)
        lines[lines.count - 1].append(id)
        used.insert(id)
        feed(id, logProbability: logProbability)
        if repeated { score -= Double(penalty) }
    }

    /// Feeds the line's punctuation and records its last character for the rhyme rules.
    mutating func endLine(with mark: Int, line: Int, rules: AcrosticRules) {
        if let rhymes = rules.rhymes, let last = lines[lines.count - 1].last {
            lineEnds.insert(last)
            if AcrosticRules.isEven(line: line) { evenLineRhymes &= rhymes[last] }
        }
        feed(mark)
    }

    private mutating func feed(_ id: Int, logProbability known: Double? = nil) {
        let logProbability = known ?? Self.logSoftmax(decoder.logits)[id]
        self.logProbability += logProbability
        score += logProbability
        tokenCount += 1
        decoder.feed([id])
    }

    /// log softmax of `logits`, in `Double`.
    static func logSoftmax(_ logits: [Float]) -> [Double] {
        let top = Double(logits.max() ?? 0)
        let logTotal = Foundation.log(logits.reduce(0.0) { $0 + Foundation.exp(Double($1) - top) })
        return logits.map { Double($0) - top - logTotal }
    }
}

/// Which characters may come next in an acrostic poem: the poem characters of the vocabulary
/// (`base`), and with rhyme (`rhymes`, each id's rhyme groups) the rhyme rules: a character
/// that ended a line appears nowhere else, a line's last character appears nowhere before it,
/// and an even line's last character shares a group with the other even lines' last characters.
/// (A head character is the user's: it is never refused, and a one-character line has no free
/// last character to constrain.)
struct AcrosticRules {
    let base: [Bool]
    let rhymes: [UInt16]?
    let lineLength: Int

    /// Lines are counted from 0: lines 1, 3, 5, … are the even lines of the poem.
    static func isEven(line: Int) -> Bool { line % 2 == 1 }

    /// The characters allowed at `position` (1 or more) of line `line` of `poem`.
    func allowed(after poem: AcrosticHypothesis, line: Int, position: Int) -> [Bool] {
        guard let rhymes else { return base }
        var allowed = base
        for id in poem.lineEnds { allowed[id] = false }
        if position == lineLength - 1 {
            for id in poem.used { allowed[id] = false }
            if Self.isEven(line: line) {
                for id in allowed.indices where allowed[id] && rhymes[id] & poem.evenLineRhymes == 0 { allowed[id] = false }
            }
        }
        return allowed
    }

    /// The error when no character satisfies the rules (a small vocabulary with rhyme).
    func exhausted(line: Int, vocabulary: Vocabulary, poem: AcrosticHypothesis) -> TaskError {
        let groups = RhymeGroups.names(of: poem.evenLineRhymes)
        return TaskError("no character of the model's vocabulary can end line \(line + 1) under the rhyme rules"
            + (groups.isEmpty ? "" : " (it must rhyme in \(groups.joined(separator: " or ")) and stand nowhere else in the poem)")
            + "; try without --rhyme or with other head characters")
    }
}
