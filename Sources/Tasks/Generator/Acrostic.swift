import SeqModels

/// Acrostic poems (藏头诗): every line starts with its head character, has exactly
/// `lineLength` characters, and ends with `，` or `。` alternately, the last with `。`.
///
/// The format holds by construction (constrained decoding): the head character is forced
/// at the start of each line, only poem characters (single letters: no punctuation,
/// whitespace or special tokens such as `<unk>`) are allowed inside a line, and the
/// punctuation is forced at its end. The model chooses only the characters inside lines.
/// Beam search is not offered yet: sampling (or greedy decoding) under the same masks.
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
        try options.validate()
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

        var decoder = IncrementalDecoder(model: model)
        // Lines models start after <bos>; stream models after a line break (a poem a line).
        decoder.feed(startIDs())
        var lines: [String] = []
        for (index, head) in headIDs.enumerated() {
            var line = [head]
            decoder.feed([head])
            while line.count < lineLength {
                let next = options.choose(from: decoder.logits, allowed: allowed, generator: &generator)
                line.append(next)
                decoder.feed([next])
            }
            let mark = index == headIDs.count - 1 || index % 2 == 1 ? Self.fullStop : Self.comma
            decoder.feed([vocabulary.id(of: mark)!])
            lines.append(vocabulary.decode(line).joined() + mark)
        }
        return (lines.joined(), lines)
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
