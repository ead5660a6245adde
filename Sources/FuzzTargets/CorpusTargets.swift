import Foundation
import SeqModels
import Corpus
import Tasks

/// The importers: CSV, XML (through the C wrapper around libxml2), CoNLL-U, plain text and
/// word-vector files, each with its options chosen by the input's first byte.
enum CorpusTargets {
    static let all: [FuzzTarget] = [csv, xmlSentences, xmlLabelledTexts, conllu, plainText, wordVectors]

    private static let scratch = ScratchDirectory("corpus")

    // MARK: CSV

    /// CSV and TSV rows and labelled texts. Options: bits 0–1 the delimiter (`,` `;` tab `|`),
    /// bit 2 quoting off, bit 3 no header, bits 4–7 the chunk size (1–46 bytes). Property: the
    /// rows, the header and the error (message and line) are the same whether the bytes arrive
    /// in one piece or in chunks of that size.
    static let csv = FuzzTarget(
        name: "csv",
        summary: "CSV/TSV rows and labelled texts (RFC 4180 state machine), the same rows whatever the chunking"
    ) { input in
        let delimiters: [Character] = [",", ";", "\t", "|"]
        let format = CSVFormat(delimiter: delimiters[input.bits(0, count: 2)], quoting: input.bits(2, count: 1) == 0)
        let hasHeader = input.bits(3, count: 1) == 0
        let chunkSize = 1 + 3 * input.bits(4, count: 4)
        let whole = CSVOutcome(input.body, format: format, hasHeader: hasHeader, chunkSize: max(1, input.body.count))
        let chunked = CSVOutcome(input.body, format: format, hasHeader: hasHeader, chunkSize: chunkSize)
        guard whole == chunked else {
            throw FuzzPropertyFailure("chunks of \(chunkSize) bytes read \(chunked), one piece read \(whole); "
                                      + whole.firstDifference(from: chunked))
        }
        var texts = try CSVTextReader(rows: CSVRowReader(pulling: chunks(of: input.body, size: chunkSize), name: "fuzz.csv",
                                                         format: format, hasHeader: true),
                                      textColumn: hasHeader ? "text" : 0, labelColumn: hasHeader ? "label" : 1)
        while try texts.next() != nil {}
    }

    /// What a CSV reader made of some bytes: the header, the rows, and the error that ended them.
    private struct CSVOutcome: Equatable, CustomStringConvertible {
        var header: [String]?
        var rows: [CSVRecord] = []
        var error: String?

        init(_ bytes: [UInt8], format: CSVFormat, hasHeader: Bool, chunkSize: Int) {
            do {
                var reader = try CSVRowReader(pulling: chunks(of: bytes, size: chunkSize), name: "fuzz.csv",
                                              format: format, hasHeader: hasHeader)
                header = reader.header
                while let row = try reader.next() { rows.append(row) }
            } catch {
                self.error = String(describing: error)
            }
        }

        /// The first row (or header, or error) where `other` differs, both ways round.
        func firstDifference(from other: CSVOutcome) -> String {
            if header != other.header { return "headers \(String(describing: header)) and \(String(describing: other.header))" }
            for (index, (row, otherRow)) in zip(rows, other.rows).enumerated() where row != otherRow {
                return "row \(index): \(row) and \(otherRow)"
            }
            return "errors \(error ?? "none") and \(other.error ?? "none")"
        }

        var description: String {
            "header \(header.map { "\($0)" } ?? "none"), \(rows.count) rows\(error.map { ", then: \($0)" } ?? "")"
        }
    }

    /// A source of `bytes` in pieces of `size` bytes, as `CSVRowReader(pulling:)` takes it.
    private static func chunks(of bytes: [UInt8], size: Int) -> @Sendable () throws -> [UInt8]? {
        let cursor = ChunkCursor(bytes: bytes, size: size)
        return { cursor.next() }
    }

    /// The position in a chunked source; a class because the source is a closure called repeatedly.
    private final class ChunkCursor: @unchecked Sendable {   // used by one reader on one thread
        let bytes: [UInt8]
        let size: Int
        var offset = 0

        init(bytes: [UInt8], size: Int) {
            self.bytes = bytes
            self.size = size
        }

        func next() -> [UInt8]? {
            guard offset < bytes.count else { return nil }
            let end = min(offset + size, bytes.count)
            defer { offset = end }
            return Array(bytes[offset..<end])
        }
    }

    // MARK: XML

    /// Tagged sentences from XML. Options: bits 0–1 the mapping (TEI, NPS Chat, TIGER, Brown
    /// TEI), bit 2 skip invalid sentences instead of failing, bit 3 a set of known tags.
    static let xmlSentences = FuzzTarget(
        name: "xml-sentences",
        summary: "tagged sentences from XML through libxml2's reader (four mappings, fail or skip)"
    ) { input in
        let path = scratch.write(input.body, named: "sentences.xml")
        let mapping = XMLMapping.presets[input.bits(0, count: 2)]
        let validation = XMLSentenceValidation(policy: input.bits(2, count: 1) == 0 ? .fail : .skip,
                                               knownTags: input.bits(3, count: 1) == 0 ? nil : ["NOUN", "VERB", "DET", "."])
        var reader = try XMLSentenceReader(path: path, mapping: mapping, validation: validation)
        while let sentence = try reader.next() {
            guard sentence.tokens.count == sentence.tags.count, !sentence.tokens.isEmpty else {
                throw FuzzPropertyFailure("a sentence with \(sentence.tokens.count) tokens and \(sentence.tags.count) tags")
            }
        }
        _ = reader.report.summary
    }

    /// Labelled texts from XML. Options: bits 0–1 where the label is (attribute, child
    /// element), bits 2–3 where the text is (content, child element, attribute), bit 4 skip.
    static let xmlLabelledTexts = FuzzTarget(
        name: "xml-texts",
        summary: "labelled texts from XML through libxml2's reader (label and text from attributes, children or content)"
    ) { input in
        let path = scratch.write(input.body, named: "texts.xml")
        let label: XMLLabelledTextMapping.Field = input.bits(0, count: 1) == 0 ? .attribute("label") : .childElement("label")
        let texts: [XMLLabelledTextMapping.Field] = [.content, .childElement("text"), .attribute("text"), .content]
        let mapping = XMLLabelledTextMapping(recordElement: input.bits(1, count: 1) == 0 ? "review" : "doc", label: label,
                                             text: texts[input.bits(2, count: 2)])
        var reader = try XMLLabelledTextReader(path: path, mapping: mapping, policy: input.bits(4, count: 1) == 0 ? .fail : .skip)
        while try reader.next() != nil {}
        _ = reader.report.summary
    }

    // MARK: CoNLL-U

    /// CoNLL-U sentences. Options: bit 0 the XPOS column instead of UPOS, bit 1 through
    /// `TaggedCorpus.read` (the whole-corpus path of `tag train`).
    static let conllu = FuzzTarget(
        name: "conllu",
        summary: "CoNLL-U sentences (comments, multiword ranges, empty nodes), UPOS or XPOS"
    ) { input in
        let path = scratch.write(input.body, named: "corpus.conllu")
        let column: CoNLLUTagColumn = input.bits(0, count: 1) == 0 ? .upos : .xpos
        if input.bits(1, count: 1) == 0 {
            var reader = try CoNLLUReader(contentsOf: path, tag: column)
            while let sentence = try reader.next() {
                guard sentence.tokens.count == sentence.tags.count else {
                    throw FuzzPropertyFailure("a sentence with \(sentence.tokens.count) tokens and \(sentence.tags.count) tags")
                }
            }
        } else {
            _ = try TaggedCorpus.read(path: path, format: .conllu, tagColumn: column)
        }
    }

    // MARK: Plain text

    /// Plain text as `generate train`, `tag --input` and `classify` read it: the whole text,
    /// its lines, and every tokenizer over them. Options: bit 0 keep blank lines.
    static let plainText = FuzzTarget(
        name: "text",
        summary: "plain text: whole (BOM, CRLF, invalid UTF-8), by lines, and through every tokenizer"
    ) { input in
        let path = scratch.write(input.body, named: "text.txt")
        var lines = try LineRecordReader(contentsOf: path, skipsBlankLines: input.bits(0, count: 1) == 0)
        var lineCount = 0
        while let record = try lines.next() {
            lineCount += 1
            guard record.location.line >= lineCount else {
                throw FuzzPropertyFailure("record \(lineCount) says it is on line \(record.location.line)")
            }
        }
        let text = try PlainTextReader.text(contentsOf: path)
        _ = WordTokenizer().tokenize(text)
        _ = CharacterTokenizer(keepsWhitespace: false).tokenize(text)
        _ = PreTokenizedTokenizer().tokenize(text)
        for kind in TextPreparation.TokenizerKind.allCases {
            _ = TextPreparation(tokenizer: kind, maxLength: 64).tokens(of: text)
        }
    }

    // MARK: Word vectors

    /// A GloVe or word2vec text file read for a small vocabulary. Options: bit 0 the
    /// lowercase fallback.
    static let wordVectors = FuzzTarget(
        name: "word-vectors",
        summary: "GloVe / word2vec text vectors (header line, dimensions, numbers) for a vocabulary"
    ) { input in
        let path = scratch.write(input.body, named: "vectors.txt")
        let vocabulary = Vocabulary(tokens: ["the", "cat", "The", "sat", "é"], specials: [.padding, .unknown])
        let vectors = try WordVectors.read(contentsOf: path, for: vocabulary, lowercaseFallback: input.bits(0, count: 1) == 1)
        guard vectors.vectors.count == vocabulary.count * vectors.dimension else {
            throw FuzzPropertyFailure("\(vectors.vectors.count) numbers for \(vocabulary.count) words of \(vectors.dimension)")
        }
    }
}
