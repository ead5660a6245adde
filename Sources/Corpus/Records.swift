import SeqModels

/// One sentence of a tagged corpus: its tokens and one tag per token.
///
/// `id` is the sentence's identifier where the source has one (CoNLL-U `# sent_id`,
/// an XML `id` attribute); `location` says where it starts, for error messages.
public struct TaggedSentence: Equatable, Sendable {
    public var id: String?
    public var tokens: [String]
    public var tags: [String]
    public var location: SourceLocation?

    public init(id: String? = nil, tokens: [String], tags: [String], location: SourceLocation? = nil) {
        precondition(tokens.count == tags.count, "A tagged sentence needs one tag per token")
        self.id = id
        self.tokens = tokens
        self.tags = tags
        self.location = location
    }
}

/// One labelled document for classification: a review and its label, kept as strings.
public struct LabelledText: Equatable, Sendable {
    public var text: String
    public var label: String
    public var location: SourceLocation?

    public init(text: String, label: String, location: SourceLocation? = nil) {
        self.text = text
        self.label = label
        self.location = location
    }
}

/// A place in a source file: path, 1-based line and (where known) 1-based column.
public struct SourceLocation: Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int?

    public init(file: String, line: Int, column: Int? = nil) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String {
        column.map { "\(file):\(line):\($0)" } ?? "\(file):\(line)"
    }
}

/// A problem in a corpus file, with where it is and what is wrong, for a person to fix.
public struct CorpusError: Error, Equatable, Sendable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(_ message: String, at location: SourceLocation) {
        self.message = message
        self.location = location
    }

    public var description: String { "\(location): \(message)" }
}

/// A streaming source of tagged sentences (XML, CoNLL-U). `next()` returns `nil` at the end.
public protocol TaggedSentenceSource {
    mutating func next() throws -> TaggedSentence?
}

/// A streaming source of labelled texts (CSV, TSV, XML). `next()` returns `nil` at the end.
public protocol LabelledTextSource {
    mutating func next() throws -> LabelledText?
}
