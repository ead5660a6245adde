import Foundation

/// Counts of (gold label, predicted label) pairs, and the figures derived from them.
///
/// `counts[gold][predicted]`; labels are ids `0..<labelCount`.
public struct ConfusionMatrix: Equatable, Sendable {
    public private(set) var counts: [[Int]]

    public init(labelCount: Int) {
        counts = Array(repeating: Array(repeating: 0, count: labelCount), count: labelCount)
    }

    /// A matrix with these counts (gold rows, predicted columns; square).
    public init(counts: [[Int]]) {
        precondition(counts.allSatisfy { $0.count == counts.count }, "A confusion matrix is square")
        self.counts = counts
    }

    public var labelCount: Int { counts.count }

    /// Records one prediction.
    public mutating func add(gold: Int, predicted: Int) {
        counts[gold][predicted] += 1
    }

    /// Number of predictions recorded.
    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }
    /// Number of correct predictions.
    public var correct: Int { (0..<labelCount).reduce(0) { $0 + counts[$1][$1] } }
    /// Correct over total (0 when empty).
    public var accuracy: Double { total > 0 ? Double(correct) / Double(total) : 0 }

    /// Precision, recall and F1 of one label (each 0 when undefined, as scikit-learn's `zero_division=0`),
    /// and its support (gold count).
    public func scores(of label: Int) -> (precision: Double, recall: Double, f1: Double, support: Int) {
        let truePositives = Double(counts[label][label])
        let predicted = Double((0..<labelCount).reduce(0) { $0 + counts[$1][label] })
        let support = counts[label].reduce(0, +)
        let precision = predicted > 0 ? truePositives / predicted : 0
        let recall = support > 0 ? truePositives / Double(support) : 0
        let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        return (precision, recall, f1, support)
    }

    /// Unweighted mean of the per-label F1 scores.
    public var macroF1: Double {
        labelCount > 0 ? (0..<labelCount).reduce(0) { $0 + scores(of: $1).f1 } / Double(labelCount) : 0
    }
}

/// The evaluation of a classifier on a labelled file: what `seqmodels classify eval` prints.
///
/// Encodes to JSON with keys `accuracy`, `macro_f1`, `rows`, `labels`, `per_label`
/// (label → precision, recall, f1, support) and `confusion_matrix` (rows = gold labels,
/// columns = predicted labels, both in `labels` order).
public struct ClassificationReport: Codable, Equatable, Sendable {
    /// Scores of one label.
    public struct LabelScores: Codable, Equatable, Sendable {
        public var precision: Double
        public var recall: Double
        public var f1: Double
        public var support: Int
    }

    public var accuracy: Double
    public var macroF1: Double
    public var rows: Int
    public var labels: [String]
    public var perLabel: [String: LabelScores]
    public var confusionMatrix: [[Int]]

    enum CodingKeys: String, CodingKey {
        case accuracy, rows, labels
        case macroF1 = "macro_f1"
        case perLabel = "per_label"
        case confusionMatrix = "confusion_matrix"
    }

    /// The report of `confusion`, whose label ids index `labels`.
    public init(confusion: ConfusionMatrix, labels: [String]) {
        precondition(labels.count == confusion.labelCount, "One name per label is needed")
        accuracy = confusion.accuracy
        macroF1 = confusion.macroF1
        rows = confusion.total
        self.labels = labels
        var perLabel: [String: LabelScores] = [:]
        for (id, label) in labels.enumerated() {
            let s = confusion.scores(of: id)
            perLabel[label] = LabelScores(precision: s.precision, recall: s.recall, f1: s.f1, support: s.support)
        }
        self.perLabel = perLabel
        confusionMatrix = confusion.counts
    }

    /// A plain-text table: accuracy, macro-F1, per-label scores and the confusion matrix.
    public var text: String {
        func pct(_ x: Double) -> String { String(format: "%6.2f%%", 100 * x) }
        let width = max(8, (labels.map(\.count).max() ?? 0) + 2)
        func pad(_ s: String) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
        var lines = ["rows: \(rows)", "accuracy: \(pct(accuracy))", "macro-F1: \(pct(macroF1))", "",
                     pad("label") + " precision    recall        F1   support"]
        for label in labels {
            let s = perLabel[label]!
            lines.append(pad(label) + "   \(pct(s.precision))   \(pct(s.recall))   \(pct(s.f1))   \(String(format: "%7d", s.support))")
        }
        lines.append("")
        lines.append("confusion matrix (rows: gold, columns: predicted)")
        lines.append(pad("") + labels.map { String(repeating: " ", count: max(1, 10 - $0.count)) + $0 }.joined())
        for (g, label) in labels.enumerated() {
            lines.append(pad(label) + confusionMatrix[g].map { String(format: "%10d", $0) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}
