import XCTest
@testable import Corpus
import SeqModels

/// Shared paths for the corpus tests: committed fixtures and the optional real corpora.
enum TestFiles {
    static func fixture(_ relative: String) throws -> String {
        let root = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures folder missing")
        return root.appendingPathComponent(relative).path
    }

    /// `../shared/corpora/<relative>` next to the repository, or a skip when absent.
    static func sharedCorpus(_ relative: String) throws -> String {
        let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/corpora/\(relative)").standardized.path
        // Worktrees live in /work/wt/BRANCH; the shared folder is /work/shared either way.
        let candidates = [path, "/work/shared/corpora/\(relative)"]
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw XCTSkip("shared corpus \(relative) not present (looked in \(candidates.joined(separator: ", ")))")
        }
        return found
    }

    /// A new file in the temporary folder holding `text` followed by zero bytes up to `size`
    /// bytes: sparse, so a gigabyte costs no disk. The caller removes it.
    static func sparseFile(named name: String, startingWith text: String, size: UInt64) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString)-\(name)")
        try Data(text.utf8).write(to: url)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.truncate(atOffset: size)
        return url
    }
}

/// Reads every row of `text` with the given format; errors propagate.
private func rows(_ text: String, format: CSVFormat = .csv, hasHeader: Bool = true, chunkSize: Int = 1 << 20) throws -> [CSVRecord] {
    var reader = try CSVRowReader(input: .bytes(Array(text.utf8), name: "t.csv"), format: format, hasHeader: hasHeader, chunkSize: chunkSize)
    var out: [CSVRecord] = []
    while let row = try reader.next() { out.append(row) }
    return out
}

private func corpusError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> CorpusError? {
    do {
        try body()
        XCTFail("expected a CorpusError", file: file, line: line)
        return nil
    } catch let error as CorpusError {
        return error
    } catch {
        XCTFail("expected a CorpusError, got \(error)", file: file, line: line)
        return nil
    }
}

final class CSVReaderTests: XCTestCase {
    func testFixtureWithBOMCRLFQuotesAndEmbeddedLineBreak() throws {
        var reader = try CSVRowReader(contentsOf: TestFiles.fixture("csv/reviews.csv"))
        XCTAssertEqual(reader.header, ["text", "label"], "the BOM must not stick to the first column name")
        var all: [CSVRecord] = []
        while let row = try reader.next() { all.append(row) }
        XCTAssertEqual(all.map(\.fields), [
            ["plain review", "pos"],
            ["with, comma", "neg"],
            ["she said \"wow\"", "pos"],
            ["two\r\nlines", "neg"],
            ["中文 评论 😀", "pos"],
        ])
        // The quoted CRLF spans lines 5–6, so the next row starts on line 7.
        XCTAssertEqual(all.map(\.line), [2, 3, 4, 5, 7])
    }

    func testLFAndCRLFAndLoneCRGiveTheSameRecords() throws {
        let lf = try rows("a,b\n1,2\n\"x\ny\",3\n4,5\n")
        let crlf = try rows("a,b\r\n1,2\r\n\"x\ny\",3\r\n4,5\r\n")
        let cr = try rows("a,b\r1,2\r\"x\ny\",3\r4,5\r")
        XCTAssertEqual(lf.map(\.fields), [["1", "2"], ["x\ny", "3"], ["4", "5"]])
        XCTAssertEqual(crlf, lf)
        XCTAssertEqual(cr, lf)
        XCTAssertEqual(lf.map(\.line), [2, 3, 5])
    }

    func testEdgeFieldsEmptyQuotedAndTrailing() throws {
        let parsed = try rows("a,b,c\n,\"\",\n\"\"\"\",x\"y,\"z\"\nlast,row,no newline", hasHeader: true)
        XCTAssertEqual(parsed.map(\.fields), [["", "", ""], ["\"", "x\"y", "z"], ["last", "row", "no newline"]])
    }

    func testChunkBoundariesDoNotChangeTheResult() throws {
        let text = "text,label\r\n\"a \"\"quoted\"\" word,\r\nsecond line\",pos\r\nplain,neg\r\n\"x\",\"y\"\r\n"
        let whole = try rows(text)
        for chunkSize in 1...7 {
            XCTAssertEqual(try rows(text, chunkSize: chunkSize), whole, "chunk size \(chunkSize)")
        }
        XCTAssertEqual(whole.map(\.line), [2, 4, 5])
    }

    func testUnterminatedQuoteNamesTheLineWhereItOpened() throws {
        let path = try TestFiles.fixture("csv/unterminated.csv")
        let error = corpusError {
            var reader = try CSVRowReader(contentsOf: path)
            while try reader.next() != nil {}
        }
        XCTAssertEqual(error?.location, SourceLocation(file: path, line: 3))
        XCTAssertTrue(error?.message.contains("unterminated") ?? false)
    }

    func testWrongFieldCountNamesTheLineAfterAQuotedCRLF() throws {
        let path = try TestFiles.fixture("csv/wrong_field_count.csv")
        let error = corpusError {
            var reader = try CSVRowReader(contentsOf: path)
            while try reader.next() != nil {}
        }
        XCTAssertEqual(error?.location.line, 4)
        XCTAssertEqual(error?.message, "row has 3 fields but the header has 2 (text, label)")
    }

    func testTextAfterClosingQuoteIsAnError() throws {
        let error = corpusError { _ = try rows("a,b\n1,2\n\"x\"y,3\n") }
        XCTAssertEqual(error?.location.line, 3)
    }

    func testEmptyLabelIsAnErrorWithItsLine() throws {
        let path = try TestFiles.fixture("csv/empty_label.csv")
        var reader = try CSVTextReader(contentsOf: path)
        XCTAssertEqual(try reader.next()?.label, "pos")
        let error = corpusError { _ = try reader.next() }
        XCTAssertEqual(error, CorpusError("empty label", at: SourceLocation(file: path, line: 4)))
    }

    func testMissingColumnNameListsTheHeader() throws {
        let path = try TestFiles.fixture("csv/reviews.csv")
        let error = corpusError { _ = try CSVTextReader(contentsOf: path, labelColumn: "sentiment") }
        XCTAssertEqual(error?.message, "no column named \"sentiment\"; the header has \"text\", \"label\"")
        let outOfRange = corpusError { _ = try CSVTextReader(contentsOf: path, textColumn: 5) }
        XCTAssertNotNil(outOfRange)
    }

    func testTSVWithColumnsByNameAndByIndex() throws {
        let path = try TestFiles.fixture("csv/reviews.tsv")
        var byName = try CSVTextReader(contentsOf: path, format: .tsv)
        var byIndex = try CSVTextReader(contentsOf: path, format: .tsv, textColumn: CSVColumn(parsing: "2"), labelColumn: CSVColumn(parsing: "1"))
        XCTAssertEqual(byName.textIndex, 2)
        XCTAssertEqual(byName.labelIndex, 1)
        let first = try byName.next()
        XCTAssertEqual(first, LabelledText(text: "good film", label: "pos", location: SourceLocation(file: path, line: 2)))
        XCTAssertEqual(try byName.next()?.text, "tab\tinside")
        XCTAssertEqual(try byIndex.next(), first)
    }

    func testTSVWithoutQuotingKeepsQuotesLiterally() throws {
        let parsed = try rows("text\tlabel\n\"a film\" is \"good\tpos\n", format: CSVFormat(delimiter: "\t", quoting: false))
        XCTAssertEqual(parsed.map(\.fields), [["\"a film\" is \"good", "pos"]])
    }

    func testWriterQuotesAndRoundTrips() throws {
        let fields = ["plain", "with, comma", "say \"hi\"", "two\nlines", " leading space", "", "中文😀"]
        let record = try CSVWriter.record(fields)
        XCTAssertEqual(record, "plain,\"with, comma\",\"say \"\"hi\"\"\",\"two\nlines\",\" leading space\",,中文😀\r\n")
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("csvwriter-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        let writer = try CSVWriter(path: url.path)
        try writer.write(["a", "b", "c", "d", "e", "f", "g"])
        try writer.write(fields)
        try writer.write([""] + fields.dropFirst())
        try writer.close()
        var reader = try CSVRowReader(contentsOf: url.path)
        XCTAssertEqual(try reader.next()?.fields, fields)
        XCTAssertEqual(try reader.next()?.fields, [""] + fields.dropFirst())
        XCTAssertNil(try reader.next())
    }

    func testRandomRecordsRoundTripThroughWriterAndReaderAtAnyChunkSize() throws {
        var generator = SeededGenerator(seed: 42)
        let alphabet: [String] = ["a", "b", ",", "\"", "\n", "\r\n", "\r", " ", "é", "😀", "\t"]
        var records: [[String]] = []
        for _ in 0..<60 {
            records.append((0..<3).map { _ in
                (0..<generator.nextInt(below: 6)).map { _ in alphabet[generator.nextInt(below: alphabet.count)] }.joined()
            })
        }
        let text = try records.map { try CSVWriter.record($0, lineTerminator: generator.nextInt(below: 2) == 0 ? "\n" : "\r\n") }.joined()
        for chunkSize in [1, 2, 3, 5, 64, 1 << 20] {
            let parsed = try rows(text, hasHeader: false, chunkSize: chunkSize)
            XCTAssertEqual(parsed.map(\.fields), records, "chunk size \(chunkSize)")
            // Lines: each record starts one line after the previous record's line breaks.
            var line = 1
            for (record, row) in zip(records, parsed) {
                XCTAssertEqual(row.line, line)
                let breaks = record.map { field in
                    field.replacingOccurrences(of: "\r\n", with: "\n").unicodeScalars.filter { $0 == "\n" || $0 == "\r" }.count
                }.reduce(0, +)
                line += breaks + 1
            }
        }
    }

    func testWriterWithoutQuotingRejectsAnUnwritableField() {
        XCTAssertThrowsError(try CSVWriter.record(["a\tb"], format: CSVFormat(delimiter: "\t", quoting: false)))
    }

    func testIMDBTrainHas25000BalancedRows() throws {
        let path = try TestFiles.sharedCorpus("sentiment/imdb/train.csv")
        var reader = try CSVTextReader(contentsOf: path)
        var counts: [String: Int] = [:]
        while let review = try reader.next() { counts[review.label, default: 0] += 1 }
        XCTAssertEqual(counts, ["pos": 12_500, "neg": 12_500])
    }

    /// Chunks pulled one by one (an HTTP upload) read as the same rows as the whole text, however
    /// the chunks cut it; a record over `maxRecordBytes` (a quote left open in a stream) is an
    /// error naming the line where it starts, raised before the stream is read to its end.
    /// `bytes` in pieces of `size` bytes, as `CSVRowReader(pulling:)` takes a stream.
    private static func chunks(of bytes: [UInt8], size: Int) -> @Sendable () throws -> [UInt8]? {
        let offset = Locked(0)
        return {
            offset.withValue { start -> [UInt8]? in
                guard start < bytes.count else { return nil }
                let end = min(bytes.count, start + size)
                defer { start = end }
                return Array(bytes[start..<end])
            }
        }
    }

    func testPulledChunksReadLikeTheWholeTextAndLongRecordsAreRefused() throws {
        let text = "id,text\r\n1,\"a, \"\"quoted\"\"\nreview\"\n2,plain\n"
        var whole = try CSVRowReader(string: text)
        var expected: [CSVRecord] = []
        while let row = try whole.next() { expected.append(row) }
        for size in [1, 2, 3, 7, 100] {
            var pulled = try CSVRowReader(pulling: Self.chunks(of: Array(text.utf8), size: size), name: "upload")
            var rows: [CSVRecord] = []
            while let row = try pulled.next() { rows.append(row) }
            XCTAssertEqual(rows, expected, "chunks of \(size) bytes")
            XCTAssertEqual(pulled.header, ["id", "text"])
        }
        // A byte-order mark delivered over several chunks is dropped all the same (found by fuzzing:
        // one-byte chunks kept it on the first column's name).
        for size in [1, 2, 4] {
            let bytes = [0xEF, 0xBB, 0xBF] + Array("id,text\n1,x\n".utf8)
            let pulled = try CSVRowReader(pulling: Self.chunks(of: bytes, size: size), name: "upload")
            XCTAssertEqual(pulled.header, ["id", "text"], "a byte-order mark in chunks of \(size) bytes")
        }
        let pulls = Locked(0)
        var endless = try CSVRowReader(pulling: {
            pulls.withValue { count -> [UInt8]? in
                count += 1
                return count == 1 ? Array("text\nfine\n\"open".utf8) : [UInt8](repeating: 0x61, count: 1000)
            }
        }, name: "upload", maxRecordBytes: 10_000)
        XCTAssertEqual(try endless.next()?.fields, ["fine"])
        XCTAssertThrowsError(try endless.next()) { error in
            XCTAssertEqual("\(error)", "upload:3: a record longer than 10000 bytes starts here: is a quote left open, "
                           + "or are the line breaks missing? (longer records are refused to keep memory bounded)")
        }
        XCTAssertLessThan(pulls.withValue { $0 }, 20, "refused after about 10,000 bytes, not at the end of the stream")
    }

    /// A file of a gigabyte whose second record never ends (a field of a gigabyte, no line break)
    /// is refused at the default limit of 64 MiB a record, naming the line, without reading on
    /// to its end or holding the gigabyte (the file is sparse: it costs no disk).
    func testAGigabyteFieldInAFileIsRefusedAtTheRecordLimit() throws {
        let url = try TestFiles.sparseFile(named: "gigabyte-field.csv", startingWith: "text,label\nfine,pos\n", size: 1 << 30)
        defer { try? FileManager.default.removeItem(at: url) }
        var rows = try CSVRowReader(contentsOf: url.path)
        XCTAssertEqual(try rows.next()?.fields, ["fine", "pos"])
        XCTAssertThrowsError(try rows.next()) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(url.path):3: a record longer than 67108864 bytes starts here"), "\(error)")
        }
        XCTAssertEqual(CSVRowReader.defaultMaxRecordBytes, 64 << 20)
    }
}

/// A value behind a lock, shared with a `@Sendable` closure.
private final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withValue<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
