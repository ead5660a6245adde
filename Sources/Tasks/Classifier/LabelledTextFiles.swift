import Corpus
import SeqModels

/// The file formats a classifier reads labelled texts from.
public enum LabelledTextFormat: String, Sendable, CaseIterable, Codable {
    case csv, tsv, xml

    /// The format a file name suggests (`.tsv` → tsv, `.xml` → xml, anything else csv).
    public static func guess(from path: String) -> LabelledTextFormat {
        let lower = path.lowercased()
        if lower.hasSuffix(".tsv") { return .tsv }
        if lower.hasSuffix(".xml") { return .xml }
        return .csv
    }
}

/// Where the text and the label of each record are, in any `LabelledTextFormat`.
///
/// For CSV/TSV they are header names or 0-based indices. For XML, records are `<review>`
/// elements (or `recordElement`); the label is the attribute named `labelColumn`, and the
/// text is the element's content when `textColumn` is `text`, else the content of the child
/// element of that name.
public struct LabelledTextColumns: Sendable, Equatable {
    public var text: String
    public var label: String
    public var recordElement: String

    public init(text: String = "text", label: String = "label", recordElement: String = "review") {
        self.text = text
        self.label = label
        self.recordElement = recordElement
    }
}

extension LabelledTextFormat {
    /// A streaming source of the labelled texts of `path`.
    public func open(_ path: String, columns: LabelledTextColumns = LabelledTextColumns()) throws -> any LabelledTextSource {
        switch self {
        case .csv, .tsv:
            return try CSVTextReader(contentsOf: path, format: self == .csv ? .csv : .tsv,
                                     textColumn: CSVColumn(parsing: columns.text), labelColumn: CSVColumn(parsing: columns.label))
        case .xml:
            let mapping = XMLLabelledTextMapping(recordElement: columns.recordElement, label: .attribute(columns.label),
                                                 text: columns.text == "text" ? .content : .childElement(columns.text))
            return try XMLLabelledTextReader(path: path, mapping: mapping)
        }
    }

    /// Every labelled text of `path`, in file order.
    public func readAll(_ path: String, columns: LabelledTextColumns = LabelledTextColumns()) throws -> [LabelledText] {
        var source = try open(path, columns: columns)
        var records: [LabelledText] = []
        while let record = try source.next() { records.append(record) }
        return records
    }
}

/// Splits `records` into training and development parts: a seeded shuffle, then the first
/// `round(fraction × count)` (at least 1, at most count − 1) go to development. Used when
/// no development file is given; the same seed gives the same split.
public func splitForDevelopment<T>(_ records: [T], fraction: Double, seed: UInt64) -> (training: [T], development: [T]) {
    precondition(fraction > 0 && fraction < 1, "The development fraction must be in (0, 1), got \(fraction)")
    precondition(records.count >= 2, "Splitting needs at least two records")
    var order = Array(records.indices)
    var generator = SeededGenerator(seed: seed)
    generator.shuffle(&order)
    let devCount = min(records.count - 1, max(1, Int((fraction * Double(records.count)).rounded())))
    let dev = order.prefix(devCount).sorted().map { records[$0] }
    let train = order.dropFirst(devCount).sorted().map { records[$0] }
    return (train, dev)
}
