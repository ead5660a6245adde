import XCTest
@testable import Corpus
import SeqModels

final class PlainTextReaderTests: XCTestCase {
    // poems_crlf.txt: "床前看月光，𠀀是地上霜。" CRLF, a blank CRLF line, "hello 😀 world" CRLF,
    // "last line" with no final newline. 𠀀 is U+20000, outside the BMP.

    func testCharactersNormaliseCRLFAndKeepNonBMPCharactersWhole() throws {
        let characters = try PlainTextReader.characters(contentsOf: TestFiles.fixture("text/poems_crlf.txt"))
        let expected = Array("床前看月光，\u{20000}是地上霜。\n\nhello 😀 world\nlast line")
        XCTAssertEqual(characters, expected)
        XCTAssertEqual(characters.count, 12 + 2 + 13 + 1 + 9)
        XCTAssertTrue(characters.contains("\u{20000}"))
        XCTAssertFalse(characters.contains("\r\n"))
        XCTAssertEqual(characters.last, "e", "no newline is invented at the end")
    }

    func testWordsAreWhitespaceSeparatedByDefault() throws {
        let words = try PlainTextReader.words(contentsOf: TestFiles.fixture("text/poems_crlf.txt"))
        XCTAssertEqual(words, ["床前看月光，\u{20000}是地上霜。", "hello", "😀", "world", "last", "line"])
        let byCharacter = try PlainTextReader.words(contentsOf: TestFiles.fixture("text/poems_crlf.txt"), tokenizer: CharacterTokenizer.droppingWhitespace)
        XCTAssertEqual(byCharacter.prefix(7), ["床", "前", "看", "月", "光", "，", "\u{20000}"])
    }

    func testLineRecordsSkipBlankLinesAndKeepLineNumbers() throws {
        let path = try TestFiles.fixture("text/poems_crlf.txt")
        var reader = try LineRecordReader(contentsOf: path)
        var records: [TextRecord] = []
        while let record = try reader.next() { records.append(record) }
        XCTAssertEqual(records.map(\.text), ["床前看月光，\u{20000}是地上霜。", "hello 😀 world", "last line"])
        XCTAssertEqual(records.map(\.location.line), [1, 3, 4])
        XCTAssertEqual(Array(records[0].text).count, 12)

        var keepingBlank = try LineRecordReader(contentsOf: path, skipsBlankLines: false)
        var count = 0
        while try keepingBlank.next() != nil { count += 1 }
        XCTAssertEqual(count, 4)
    }

    func testInvalidUTF8NamesTheLine() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data([0x61, 0x0A, 0x62, 0x0A, 0xFF, 0x0A]).write(to: url)
        XCTAssertThrowsError(try PlainTextReader.text(contentsOf: url.path)) { error in
            XCTAssertEqual((error as? CorpusError)?.location.line, 3)
        }
        var lines = try LineRecordReader(contentsOf: url.path)
        XCTAssertEqual(try lines.next()?.text, "a")
        XCTAssertEqual(try lines.next()?.text, "b")
        XCTAssertThrowsError(try lines.next()) { error in
            XCTAssertEqual((error as? CorpusError)?.location.line, 3)
        }
    }

    func testBellingTheCatHas978CharactersAnd204Words() throws {
        let path = try TestFiles.sharedCorpus("generation/belling_the_cat.txt")
        XCTAssertEqual(try PlainTextReader.characters(contentsOf: path).count, 978)
        XCTAssertEqual(try PlainTextReader.words(contentsOf: path).count, 204)
    }
}
