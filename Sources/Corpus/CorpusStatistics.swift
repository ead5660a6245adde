import SeqModels

/// Counts over a corpus: units (sentences, documents or records), tokens, distinct tokens,
/// tag or label frequencies, lengths; and out-of-vocabulary rates against another corpus.
///
/// Feed it any `TaggedSentenceSource` (CoNLL-U, XML), any `LabelledTextSource` (CSV, TSV,
/// XML) with a tokenizer, or plain-text records; several files add up into one count.
///
///     var stats = CorpusStatistics(unit: .sentences, categoryName: "UPOS tags")
///     var reader = try CoNLLUReader(contentsOf: "en_ewt-ud-test.conllu")
///     try stats.addSentences(from: &reader)
///     print(stats.outOfVocabulary(against: trainStats).tokenRate)
public struct CorpusStatistics: Equatable, Sendable {
    /// What one unit of the corpus is.
    public enum Unit: String, Codable, Sendable {
        case sentences, documents, records
    }

    public var unit: Unit
    /// What the categories are called in reports ("UPOS tags", "labels"), or `nil` for none.
    public var categoryName: String?
    /// Whether tokens are lowercased before counting (for case-insensitive OOV rates).
    public var lowercased: Bool
    /// Number of units (sentences, documents, records).
    public private(set) var units = 0
    /// Number of tokens over all units.
    public private(set) var tokens = 0
    /// The longest unit, in tokens.
    public private(set) var maxLength = 0
    /// How often each token occurs.
    public private(set) var tokenFrequencies: [String: Int] = [:]
    /// How often each tag (tagged corpora: per token) or label (per document) occurs.
    public private(set) var categoryFrequencies: [String: Int] = [:]

    public init(unit: Unit, categoryName: String? = nil, lowercased: Bool = false) {
        self.unit = unit
        self.categoryName = categoryName
        self.lowercased = lowercased
    }

    /// Number of distinct tokens (types).
    public var distinctTokens: Int { tokenFrequencies.count }
    /// Tokens per unit, 0 for an empty corpus.
    public var averageLength: Double { units == 0 ? 0 : Double(tokens) / Double(units) }

    /// Categories by decreasing frequency, ties by name (Unicode scalars): for reports.
    public var sortedCategories: [(name: String, count: Int)] {
        categoryFrequencies.map { (name: $0.key, count: $0.value) }.sorted { a, b in
            a.count != b.count ? a.count > b.count
                : a.name.unicodeScalars.lexicographicallyPrecedes(b.name.unicodeScalars) { $0.value < $1.value }
        }
    }

    /// Counts one unit of `tokens`, with one tag per token (`tags` empty or the same length).
    public mutating func add(tokens unitTokens: [String], tags: [String] = []) {
        precondition(tags.isEmpty || tags.count == unitTokens.count, "One tag per token")
        units += 1
        tokens += unitTokens.count
        maxLength = max(maxLength, unitTokens.count)
        for token in unitTokens { tokenFrequencies[lowercased ? token.lowercased() : token, default: 0] += 1 }
        for tag in tags { categoryFrequencies[tag, default: 0] += 1 }
    }

    /// Counts one document of `tokens` with its `label`.
    public mutating func add(tokens unitTokens: [String], label: String) {
        add(tokens: unitTokens)
        categoryFrequencies[label, default: 0] += 1
    }

    /// Counts every sentence of `source` (to its end).
    public mutating func addSentences<Source: TaggedSentenceSource>(from source: inout Source) throws {
        while let sentence = try source.next() { add(tokens: sentence.tokens, tags: sentence.tags) }
    }

    /// Counts every labelled text of `source` (to its end), split into tokens by `tokenizer`.
    public mutating func addTexts<Source: LabelledTextSource>(from source: inout Source, tokenizer: some Tokenizer) throws {
        while let text = try source.next() { add(tokens: tokenizer.tokenize(text.text), label: text.label) }
    }

    /// Counts every record of `reader` (to its end), split into tokens by `tokenizer`.
    public mutating func addRecords(from reader: inout LineRecordReader, tokenizer: some Tokenizer) throws {
        while let record = try reader.next() { add(tokens: tokenizer.tokenize(record.text)) }
    }

    /// How much of this corpus's vocabulary `training` lacks: by types (distinct tokens) and
    /// by tokens (occurrences). Compares tokens as counted (lowercased when `lowercased`).
    public func outOfVocabulary(against training: CorpusStatistics) -> OutOfVocabularyRate {
        var unknownTypes = 0
        var unknownTokens = 0
        for (token, count) in tokenFrequencies where training.tokenFrequencies[token] == nil {
            unknownTypes += 1
            unknownTokens += count
        }
        return OutOfVocabularyRate(types: distinctTokens, unknownTypes: unknownTypes, tokens: tokens, unknownTokens: unknownTokens)
    }
}

/// The share of a corpus not covered by a training vocabulary, by types and by tokens.
public struct OutOfVocabularyRate: Equatable, Sendable, Codable {
    public var types: Int
    public var unknownTypes: Int
    public var tokens: Int
    public var unknownTokens: Int

    public init(types: Int, unknownTypes: Int, tokens: Int, unknownTokens: Int) {
        self.types = types
        self.unknownTypes = unknownTypes
        self.tokens = tokens
        self.unknownTokens = unknownTokens
    }

    /// Unknown types over all types, in [0, 1] (0 when empty).
    public var typeRate: Double { types == 0 ? 0 : Double(unknownTypes) / Double(types) }
    /// Unknown token occurrences over all tokens, in [0, 1] (0 when empty).
    public var tokenRate: Double { tokens == 0 ? 0 : Double(unknownTokens) / Double(tokens) }
}

/// What `seqmodels corpus stats` prints: statistics with their context, as aligned text for
/// a person or as one JSON object with sorted keys.
public struct CorpusStatisticsReport: Sendable {
    public var files: [String]
    public var format: String
    public var statistics: CorpusStatistics
    public var outOfVocabulary: OutOfVocabularyRate?
    public var trainingFiles: [String]

    public init(files: [String], format: String, statistics: CorpusStatistics,
                outOfVocabulary: OutOfVocabularyRate? = nil, trainingFiles: [String] = []) {
        self.files = files
        self.format = format
        self.statistics = statistics
        self.outOfVocabulary = outOfVocabulary
        self.trainingFiles = trainingFiles
    }

    /// Aligned columns for a terminal.
    public var text: String {
        let stats = statistics
        var rows: [(String, String)] = [
            ("files", files.joined(separator: ", ")),
            ("format", format),
            (stats.unit.rawValue, Self.grouped(stats.units)),
            ("tokens" + (stats.lowercased ? " (lowercased)" : ""), Self.grouped(stats.tokens)),
            ("distinct tokens", Self.grouped(stats.distinctTokens)),
            ("average length", Self.fixed(stats.averageLength, digits: 2) + " tokens (max \(Self.grouped(stats.maxLength)))"),
        ]
        if let oov = outOfVocabulary {
            rows.append(("OOV by types", Self.padLeft(Self.percent(oov.typeRate), 7) + "  (\(Self.grouped(oov.unknownTypes)) of \(Self.grouped(oov.types)))"))
            rows.append(("OOV by tokens", Self.padLeft(Self.percent(oov.tokenRate), 7) + "  (\(Self.grouped(oov.unknownTokens)) of \(Self.grouped(oov.tokens)))"))
            rows.append(("OOV against", trainingFiles.joined(separator: ", ")))
        }
        let width = rows.map(\.0.count).max() ?? 0
        var out = rows.map { Self.pad($0.0, width) + "  " + $0.1 }.joined(separator: "\n") + "\n"
        if let name = stats.categoryName, !stats.categoryFrequencies.isEmpty {
            let categories = stats.sortedCategories
            let total = categories.reduce(0) { $0 + $1.count }
            out += "\n\(name) (\(categories.count))\n"
            let nameWidth = categories.map(\.name.count).max() ?? 0
            let counts = categories.map { Self.grouped($0.count) }
            let countWidth = counts.map(\.count).max() ?? 0
            for (category, count) in zip(categories, counts) {
                let share = Self.percent(Double(category.count) / Double(max(total, 1)))
                out += "  " + Self.pad(category.name, nameWidth) + "  " + Self.padLeft(count, countWidth)
                    + "  " + Self.padLeft(share, 7) + "\n"
            }
        }
        return out
    }

    /// One JSON object, keys sorted, rates as fractions in [0, 1].
    public var json: String {
        let stats = statistics
        var object: [String: JSONValue] = [
            "files": .array(files.map(JSONValue.string)),
            "format": .string(format),
            "unit": .string(stats.unit.rawValue),
            "units": .int(stats.units),
            "tokens": .int(stats.tokens),
            "distinctTokens": .int(stats.distinctTokens),
            "averageLength": .double(stats.averageLength),
            "maxLength": .int(stats.maxLength),
            "lowercased": .bool(stats.lowercased),
        ]
        if stats.categoryName != nil {
            object["categoryName"] = .string(stats.categoryName!)
            object["categories"] = .object(stats.categoryFrequencies.mapValues(JSONValue.int))
        }
        if let oov = outOfVocabulary {
            object["outOfVocabulary"] = .object([
                "against": .array(trainingFiles.map(JSONValue.string)),
                "types": .int(oov.types), "unknownTypes": .int(oov.unknownTypes), "typeRate": .double(oov.typeRate),
                "tokens": .int(oov.tokens), "unknownTokens": .int(oov.unknownTokens), "tokenRate": .double(oov.tokenRate),
            ])
        }
        return JSONValue.object(object).rendered(indent: "")
    }

    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (value < 0 ? "-" : "") + out
    }

    static func fixed(_ value: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = Int((value * scale).rounded())
        let whole = rounded / Int(scale)
        let fraction = String(rounded % Int(scale))
        return "\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    static func percent(_ rate: Double) -> String { fixed(rate * 100, digits: 2) + "%" }

    private static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }

    private static func padLeft(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

/// A tiny JSON writer with sorted keys and shortest round-tripping numbers (Foundation's
/// encoder is avoided to keep the Corpus module free of it).
enum JSONValue: Sendable {
    case string(String), int(Int), double(Double), bool(Bool)
    case array([JSONValue]), object([String: JSONValue])

    func rendered(indent: String) -> String {
        let inner = indent + "  "
        switch self {
        case .string(let text): return jsonStringLiteral(text)
        case .int(let value): return String(value)
        case .double(let value): return value.isFinite ? "\(value)" : "null"
        case .bool(let value): return value ? "true" : "false"
        case .array(let values):
            if values.isEmpty { return "[]" }
            return "[" + values.map { $0.rendered(indent: inner) }.joined(separator: ", ") + "]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            let keys = members.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) { $0.value < $1.value } }
            return "{\n" + keys.map { inner + jsonStringLiteral($0) + ": " + members[$0]!.rendered(indent: inner) }.joined(separator: ",\n")
                + "\n" + indent + "}"
        }
    }
}
