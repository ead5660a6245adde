import Foundation
import GradientChecking
import SeqModels
import XCTest
@testable import Corpus

/// `CSVSharding` cuts a file into record-aligned shares whose records, read one share per
/// member of a group, are the file's records in order, with the file's line numbers.
final class CSVShardingTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("csv-sharding-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Every record of every share, in rank order, read by members of a group of `size`.
    private func recordsReadInShares(_ path: String, format: CSVFormat, size: Int) throws -> [CSVRecord] {
        let header = try CSVRowReader(contentsOf: path, format: format).header ?? []
        let parts = try LocalProcessGroup.run(size: size) { group -> [CSVRecord] in
            let shard = try CSVSharding.shard(of: path, format: format, group: group)
            var rows = try CSVRowReader(shard: shard, of: path, format: format, header: header)
            var records: [CSVRecord] = []
            while let record = try rows.next() { records.append(record) }
            return records
        }
        return parts.flatMap { $0 }
    }

    private func recordsReadWhole(_ path: String, format: CSVFormat) throws -> [CSVRecord] {
        var rows = try CSVRowReader(contentsOf: path, format: format)
        var records: [CSVRecord] = []
        while let record = try rows.next() { records.append(record) }
        return records
    }

    /// Random files made of the awkward parts of CSV, cut into 1 to 9 shares.
    func testSharesHoldEveryRecordOnceInOrderWithItsLine() throws {
        let fields = ["plain", "\"quoted, with comma\"", "\"line\nbreak\"", "\"crlf\r\ninside\"", "\"doubled \"\" quote\"",
                      "5\" literal quote", "\"\"", "", "\"ends in newline\n\"", "\"\"\"\"", "\"\n\n\n\""]
        let breaks = ["\n", "\r\n", "\r", "\n\n"]
        var generator = SeededGenerator(seed: 11)
        for trial in 0..<12 {
            var text = trial % 3 == 0 ? "\u{FEFF}" : ""
            text += "\"a\",b,c" + breaks[trial % 2]
            for _ in 0..<(20 + generator.nextInt(below: 120)) {
                text += (0..<3).map { _ in fields[generator.nextInt(below: fields.count)] }.joined(separator: ",")
                text += breaks[generator.nextInt(below: breaks.count)]
            }
            let url = directory.appendingPathComponent("trial\(trial).csv")
            try Data(text.utf8).write(to: url)
            let whole = try recordsReadWhole(url.path, format: .csv)
            XCTAssertGreaterThan(whole.count, 19)
            for size in 1...9 {
                XCTAssertEqual(try recordsReadInShares(url.path, format: .csv, size: size), whole, "trial \(trial), \(size) shares")
            }
        }
    }

    func testTabSeparatedFilesWithoutQuotingShareByLines() throws {
        let text = "text\tlabel\n" + (0..<50).map { "a \"quote\" in row \($0)\tpos" }.joined(separator: "\n")
        let url = directory.appendingPathComponent("rows.tsv")
        try Data(text.utf8).write(to: url)
        let format = CSVFormat(delimiter: "\t", quoting: false)
        XCTAssertEqual(try recordsReadInShares(url.path, format: format, size: 4), try recordsReadWhole(url.path, format: format))
    }

    /// A quote left open puts the rest of the file in one record: the shares after it are empty,
    /// and the share that holds it reports the line where the quote opened, as one reader does.
    func testAnUnterminatedQuoteIsReportedAtItsLine() throws {
        let text = "text,label\n" + (0..<30).map { "row \($0),pos\n" }.joined() + "\"never closed,pos\n" + (0..<30).map { "row \($0),neg\n" }.joined()
        let url = directory.appendingPathComponent("open.csv")
        try Data(text.utf8).write(to: url)
        XCTAssertThrowsError(try recordsReadWhole(url.path, format: .csv)) { error in
            XCTAssertTrue("\(error)".contains("open.csv:32"), "\(error)")
        }
        XCTAssertThrowsError(try recordsReadInShares(url.path, format: .csv, size: 3)) { error in
            XCTAssertTrue("\(error)".contains("open.csv:32"), "\(error)")
        }
    }

    func testStandardInputCannotBeShared() throws {
        XCTAssertThrowsError(try LocalProcessGroup.run(size: 2) { group in
            try CSVSharding.shard(of: "/dev/stdin", format: .csv, group: group)
        }) { error in
            XCTAssertTrue("\(error)".contains("regular file"), "\(error)")
        }
    }
}
