import Foundation
import ArgumentParser
import Corpus
import SeqModels
import Tasks

/// `seqmodels corpus …`: inspect corpora in XML, CSV, CoNLL-U or plain text.
struct CorpusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "Inspect corpora: counts, tag and label frequencies, out-of-vocabulary rates.",
        subcommands: [CorpusStatsCommand.self, CorpusCheckCommand.self]
    )
}

/// The corpus formats `seqmodels` reads.
enum CorpusFormat: String, ExpressibleByArgument, CaseIterable {
    case xml, csv, tsv, conllu, text

    /// The format a file name's extension implies, or `nil` when it says nothing.
    init?(inferringFrom path: String) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: ".") else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "xml": self = .xml
        case "csv": self = .csv
        case "tsv", "tab": self = .tsv
        case "conllu", "conll": self = .conllu
        case "txt", "text": self = .text
        default: return nil
        }
    }
}

/// How `corpus stats` splits texts into tokens (CSV/TSV/text; CoNLL-U and XML are tokenised).
enum TokensOption: String, ExpressibleByArgument, CaseIterable {
    case whitespace, word, character
}

/// `seqmodels corpus stats FILE…`: counts for a person (aligned) or a script (`--json`).
///
///     seqmodels corpus stats en_ewt-ud-test.conllu --against en_ewt-ud-train.conllu
///     seqmodels corpus stats imdb/train.csv --json
struct CorpusStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Count documents, sentences or records, tokens, tags or labels; OOV rate against a training corpus.",
        discussion: """
            Several files add up into one count. The format comes from the extension \
            (.xml .csv .tsv .conllu .txt) unless --format is given. CSV/TSV/text are split \
            into tokens at whitespace by default (see --tokens); a text file counts one \
            record per non-blank line. '-' reads standard input (with --format).
            """
    )

    @Argument(help: "Corpus files (one corpus split across files adds up; '-': standard input, with --format).")
    var files: [String]

    @OptionGroup var input: CorpusFileOptions

    @Option(help: "How CSV/TSV/text is split into tokens: whitespace, word, character.")
    var tokens: TokensOption = .whitespace

    @Flag(help: "Lowercase tokens before counting (case-insensitive OOV rates).")
    var lowercase = false

    @Option(help: "Training corpus (one file, or several separated by commas) for OOV rates.")
    var against: String?

    @Flag(help: "Print one JSON object with sorted keys instead of a table.")
    var json = false

    func run() throws {
        let format = try input.resolveFormat(of: files)
        let statistics = try count(files, format: format)
        var report = CorpusStatisticsReport(files: files, format: describe(format), statistics: statistics)
        if let against {
            let trainingFiles = against.split(separator: ",").map(String.init)
            let training = try count(trainingFiles, format: try input.resolveFormat(of: trainingFiles))
            report.outOfVocabulary = statistics.outOfVocabulary(against: training)
            report.trainingFiles = trainingFiles
        }
        print(json ? report.json : report.text, terminator: json ? "\n" : "")
    }

    private func describe(_ format: CorpusFormat) -> String {
        switch format {
        case .conllu, .xml: return "\(format.rawValue) (\(input.tag.rawValue.uppercased()))"
        case .csv, .tsv, .text: return "\(format.rawValue) (\(tokens.rawValue) tokens)"
        }
    }

    private var tokenizer: any Tokenizer {
        switch tokens {
        case .whitespace: return PreTokenizedTokenizer()
        case .word: return WordTokenizer()
        case .character: return CharacterTokenizer.droppingWhitespace
        }
    }

    private func count(_ paths: [String], format: CorpusFormat) throws -> CorpusStatistics {
        switch format {
        case .conllu, .xml:
            var statistics = CorpusStatistics(unit: .sentences, categoryName: "\(input.tag.rawValue.uppercased()) tags", lowercased: lowercase)
            for path in paths { try input.withSentences(in: path, format: format) { try statistics.addSentences(from: &$0) } }
            return statistics
        case .csv, .tsv:
            var statistics = CorpusStatistics(unit: .documents, categoryName: "labels", lowercased: lowercase)
            for path in paths { try input.withTexts(in: path, format: format) { try statistics.addTexts(from: &$0, tokenizer: tokenizer) } }
            return statistics
        case .text:
            var statistics = CorpusStatistics(unit: .records, lowercased: lowercase)
            for path in paths {
                var reader = try LineRecordReader(contentsOf: CorpusFileOptions.openable(path))
                try statistics.addRecords(from: &reader, tokenizer: tokenizer)
            }
            return statistics
        }
    }
}

/// `seqmodels corpus check FILE…`: reads every record, as training would, and reports the
/// counts or the first problem with its file and line. Fast: it builds no vocabulary.
///
///     seqmodels corpus check imdb/train.csv
///     seqmodels corpus check nps_chat/*.xml --preset nps-chat --missing-tag=-NONE-
struct CorpusCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Read every record of corpus files and report counts, or the first problem with file and line."
    )

    @Argument(help: "Corpus files.")
    var files: [String]

    @OptionGroup var input: CorpusFileOptions

    func run() throws {
        let format = try input.resolveFormat(of: files)
        var records = 0, tokens = 0
        var categories: [String: Int] = [:]
        for path in files {
            switch format {
            case .conllu, .xml:
                try input.withSentences(in: path, format: format) { source in
                    while let sentence = try source.next() {
                        records += 1
                        tokens += sentence.tokens.count
                        for tag in sentence.tags { categories[tag, default: 0] += 1 }
                    }
                }
            case .csv, .tsv:
                try input.withTexts(in: path, format: format) { source in
                    while let text = try source.next() {
                        records += 1
                        categories[text.label, default: 0] += 1
                    }
                }
            case .text:
                var reader = try LineRecordReader(contentsOf: CorpusFileOptions.openable(path))
                while try reader.next() != nil { records += 1 }
            }
        }
        let unit: String
        switch format {
        case .conllu, .xml: unit = "sentences, \(tokens) tokens, \(categories.count) tags"
        case .csv, .tsv: unit = "records; labels: " + categories.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        case .text: unit = "lines"
        }
        print("ok: \(records) \(unit)")
    }
}

/// Which files and how to read them: shared by `corpus stats` and `corpus check`.
struct CorpusFileOptions: ParsableArguments {
    @Option(help: "Format of the files: \(CorpusFormat.allCases.map(\.rawValue).joined(separator: ", ")) (default: from the extension).")
    var format: CorpusFormat?

    @Option(help: "CSV/TSV column holding the text: header name or 0-based index.")
    var textColumn: String = "text"

    @Option(help: "CSV/TSV column holding the label: header name or 0-based index.")
    var labelColumn: String = "label"

    @Option(help: "CoNLL-U/XML tag: upos or xpos.")
    var tag: CoNLLUTagColumn = .upos

    @OptionGroup(title: "XML mapping")
    var xml: XMLMappingOptions

    /// `--format`, or the one format all the file extensions agree on.
    func resolveFormat(of paths: [String]) throws -> CorpusFormat {
        if let format { return format }
        let inferred = Set(paths.map { CorpusFormat(inferringFrom: $0) })
        guard inferred.count == 1, let only = inferred.first, let format = only else {
            throw TaskError("cannot infer one format from the file extensions of \(paths.joined(separator: ", ")); pass --format")
        }
        return format
    }

    /// The path to open for `path`: standard input's for `-`.
    static func openable(_ path: String) -> String { path == "-" ? "/dev/stdin" : path }

    /// Opens a CoNLL-U or XML file as a sentence stream and hands it to `body`; reports XML skips on stderr.
    func withSentences(in path: String, format: CorpusFormat, _ body: (inout any TaggedSentenceSource) throws -> Void) throws {
        let path = Self.openable(path)
        if format == .conllu {
            var reader: any TaggedSentenceSource = try CoNLLUReader(contentsOf: path, tag: tag)
            try body(&reader)
            return
        }
        let reader = try XMLSentenceReader(path: path, mapping: try xml.mapping(xpos: tag == .xpos), validation: xml.validation)
        var source: any TaggedSentenceSource = reader
        try body(&source)
        if let finished = source as? XMLSentenceReader, finished.report.skippedRecords > 0 || finished.report.replacedTags > 0 {
            FileHandle.standardError.write(Data("\(path): \(finished.report.summary)\n".utf8))
        }
    }

    /// Opens a CSV or TSV file as a labelled-text stream and hands it to `body`.
    func withTexts(in path: String, format: CorpusFormat, _ body: (inout any LabelledTextSource) throws -> Void) throws {
        var reader: any LabelledTextSource = try CSVTextReader(
            contentsOf: Self.openable(path), format: format == .csv ? .csv : .tsv,
            textColumn: CSVColumn(parsing: textColumn), labelColumn: CSVColumn(parsing: labelColumn))
        try body(&reader)
    }
}

extension CoNLLUTagColumn: ExpressibleByArgument {}
