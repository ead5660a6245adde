import Foundation

/// How well predicted tags match gold tags: token, out-of-vocabulary and sentence accuracy,
/// precision, recall and F1 per tag, and the confusion matrix (gold rows, predicted columns).
///
/// Out-of-vocabulary tokens are those without an entry in the model's word vocabulary;
/// with the default minimum frequency of 1 these are exactly the words unseen in training.
public struct TaggingReport: Equatable, Sendable {
    /// Tag names, by tag id.
    public let tags: [String]
    public private(set) var tokens = 0
    public private(set) var correct = 0
    public private(set) var oovTokens = 0
    public private(set) var oovCorrect = 0
    public private(set) var sentences = 0
    public private(set) var correctSentences = 0
    /// `confusion[gold][predicted]`: token counts.
    public private(set) var confusion: [[Int]]

    /// Scores `predictions` (one tag id per token) against the gold tags of `examples`.
    public init(examples: [TaggerExample], predictions: [[Int]], tags: [String]) {
        precondition(examples.count == predictions.count, "One prediction per example is needed")
        self.tags = tags
        confusion = Array(repeating: Array(repeating: 0, count: tags.count), count: tags.count)
        for (example, predicted) in zip(examples, predictions) where example.count > 0 {
            precondition(example.tags.count == example.count && predicted.count == example.count,
                         "Evaluation needs gold and predicted tags for every token")
            var allRight = true
            for i in 0..<example.count {
                let gold = example.tags[i], guess = predicted[i]
                confusion[gold][guess] += 1
                tokens += 1
                let right = gold == guess
                if right { correct += 1 } else { allRight = false }
                if example.isUnknownWord[i] {
                    oovTokens += 1
                    if right { oovCorrect += 1 }
                }
            }
            sentences += 1
            if allRight { correctSentences += 1 }
        }
    }

    private static func ratio(_ a: Int, _ b: Int) -> Double { b > 0 ? Double(a) / Double(b) : 0 }

    /// Fraction of tokens tagged right.
    public var accuracy: Double { Self.ratio(correct, tokens) }
    /// Fraction of out-of-vocabulary tokens tagged right (0 when there are none).
    public var oovAccuracy: Double { Self.ratio(oovCorrect, oovTokens) }
    /// Fraction of sentences with every token right.
    public var sentenceAccuracy: Double { Self.ratio(correctSentences, sentences) }

    /// Precision, recall, F1 and gold count of one tag.
    public struct TagScore: Equatable, Sendable, Codable {
        public var precision: Double
        public var recall: Double
        public var f1: Double
        public var support: Int
    }

    /// Scores of tag `id`.
    public func score(ofTag id: Int) -> TagScore {
        let truePositives = confusion[id][id]
        let predicted = confusion.reduce(0) { $0 + $1[id] }
        let gold = confusion[id].reduce(0, +)
        let p = Self.ratio(truePositives, predicted), r = Self.ratio(truePositives, gold)
        return TagScore(precision: p, recall: r, f1: p + r > 0 ? 2 * p * r / (p + r) : 0, support: gold)
    }

    /// Scores of every tag by name.
    public var perTag: [String: TagScore] {
        Dictionary(uniqueKeysWithValues: tags.indices.map { (tags[$0], score(ofTag: $0)) })
    }

    /// One JSON object (sorted keys): `accuracy`, `oov_accuracy`, `sentence_accuracy`, `tokens`,
    /// `oov_tokens`, `sentences`, `per_tag` (`{TAG: {precision, recall, f1, support}}`) and
    /// `confusion` (`{tags, matrix}`, gold rows).
    public var json: String {
        struct Confusion: Encodable { var tags: [String]; var matrix: [[Int]] }
        struct Body: Encodable {
            var accuracy: Double, oov_accuracy: Double, sentence_accuracy: Double
            var tokens: Int, oov_tokens: Int, sentences: Int
            var per_tag: [String: TagScore]
            var confusion: Confusion
        }
        let body = Body(accuracy: accuracy, oov_accuracy: oovAccuracy, sentence_accuracy: sentenceAccuracy,
                        tokens: tokens, oov_tokens: oovTokens, sentences: sentences, per_tag: perTag,
                        confusion: Confusion(tags: tags, matrix: confusion))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(body)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// A text report for a person: the accuracies, a per-tag table and the confusion matrix.
    public var text: String {
        func percent(_ x: Double) -> String { String(format: "%.2f%%", 100 * x) }
        var lines = [
            "token accuracy     \(percent(accuracy))  (\(correct)/\(tokens))",
            "OOV accuracy       \(percent(oovAccuracy))  (\(oovCorrect)/\(oovTokens) tokens not in the vocabulary)",
            "sentence accuracy  \(percent(sentenceAccuracy))  (\(correctSentences)/\(sentences))",
            "",
            "tag        precision  recall     F1  support",
        ]
        for id in tags.indices {
            let s = score(ofTag: id)
            lines.append(tags[id].padding(toLength: 10, withPad: " ", startingAt: 0)
                + String(format: " %9.4f %7.4f %6.4f %8d", s.precision, s.recall, s.f1, s.support))
        }
        lines.append("")
        lines.append("confusion matrix (rows: gold, columns: predicted)")
        let width = max(5, (tags.map(\.count).max() ?? 0) + 1)
        func cell(_ s: String) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
        lines.append(String(repeating: " ", count: width) + tags.map(cell).joined())
        for (gold, row) in confusion.enumerated() {
            lines.append(cell(tags[gold]) + row.map { cell($0 == 0 ? "." : String($0)) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}
