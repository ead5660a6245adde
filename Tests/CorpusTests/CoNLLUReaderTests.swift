import Foundation
import XCTest
@testable import Corpus

final class CoNLLUReaderTests: XCTestCase {
    /// A file of a gigabyte whose third line never ends (a sparse file: no disk) is refused at
    /// 64 MiB a line, naming the line, in the CoNLL-U reader and the plain-text line reader alike.
    func testALineOfAGigabyteIsRefusedAtTheLineLimit() throws {
        let url = try TestFiles.sparseFile(named: "gigabyte-line.conllu",
                                           startingWith: "# text = A cat.\n1\tcat\tcat\tNOUN\t_\t_\t0\troot\t_\t_\n", size: 1 << 30)
        defer { try? FileManager.default.removeItem(at: url) }
        let expected = "\(url.path):3: a line longer than 67108864 bytes starts here"
        var conllu = try CoNLLUReader(contentsOf: url.path)
        XCTAssertThrowsError(try conllu.nextSentence()) { XCTAssertTrue("\($0)".hasPrefix(expected), "\($0)") }
        var lines = try LineRecordReader(contentsOf: url.path)
        XCTAssertThrowsError(try { while try lines.next() != nil {} }()) { XCTAssertTrue("\($0)".hasPrefix(expected), "\($0)") }
    }

    func testSkipsMultiwordRangesAndEmptyNodesAndKeepsComments() throws {
        let path = try TestFiles.fixture("conllu/small.conllu")
        var reader = try CoNLLUReader(contentsOf: path)
        let first = try XCTUnwrap(reader.nextSentence())
        XCTAssertEqual(first.tagged.id, "s1")
        XCTAssertEqual(first.tagged.tokens, ["I", "do", "n't", "know", "."], "the range line 2-3 `don't` is skipped")
        XCTAssertEqual(first.tagged.tags, ["PRON", "AUX", "PART", "VERB", "PUNCT"])
        XCTAssertEqual(first.text, "I don't know.")
        XCTAssertEqual(first.comments, ["newdoc id = doc1", "sent_id = s1", "text = I don't know."])
        XCTAssertEqual(first.tagged.location, SourceLocation(file: path, line: 1))

        let second = try XCTUnwrap(reader.next())
        XCTAssertEqual(second.id, "s2")
        XCTAssertEqual(second.tokens, ["Go", "home"], "the empty node 1.1 is skipped")
        XCTAssertEqual(second.location?.line, 11)
        XCTAssertNil(try reader.next())
    }

    func testXPOSColumn() throws {
        var reader = try CoNLLUReader(contentsOf: TestFiles.fixture("conllu/small.conllu"), tag: .xpos)
        XCTAssertEqual(try reader.next()?.tags, ["PRP", "VBP", "RB", "VB", "."])
        XCTAssertEqual(try reader.next()?.tags, ["VB", "RB"])
    }

    func testCRLFLinesAndNoFinalBlankLine() throws {
        let text = "# sent_id = a\r\n1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\r\n\r\n\r\n1\tOk\tok\tINTJ\tUH\t_\t0\troot\t_\t_"
        var reader = try CoNLLUReader(string: text)
        XCTAssertEqual(try reader.next(), TaggedSentence(id: "a", tokens: ["Hi"], tags: ["INTJ"], location: SourceLocation(file: "<string>", line: 1)))
        XCTAssertEqual(try reader.next(), TaggedSentence(id: nil, tokens: ["Ok"], tags: ["INTJ"], location: SourceLocation(file: "<string>", line: 5)))
        XCTAssertNil(try reader.next())
    }

    func testWrongColumnCountNamesTheLine() throws {
        let path = try TestFiles.fixture("conllu/bad_columns.conllu")
        var reader = try CoNLLUReader(contentsOf: path)
        XCTAssertThrowsError(try reader.next()) { error in
            XCTAssertEqual(error as? CorpusError, CorpusError("expected 10 tab-separated columns, found 4", at: SourceLocation(file: path, line: 3)))
        }
    }

    func testEmptyTagNamesTheLine() throws {
        let path = try TestFiles.fixture("conllu/empty_tag.conllu")
        var reader = try CoNLLUReader(contentsOf: path)
        XCTAssertEqual(try reader.next()?.tokens, ["Hello"])
        XCTAssertThrowsError(try reader.next()) { error in
            XCTAssertEqual((error as? CorpusError)?.location, SourceLocation(file: path, line: 3))
            XCTAssertEqual((error as? CorpusError)?.message, "word \"Bye\" has no UPOS tag")
        }
    }

    func testEWTTrainCounts() throws {
        let path = try TestFiles.sharedCorpus("pos/en_ewt/en_ewt-ud-train.conllu")
        var reader = try CoNLLUReader(contentsOf: path)
        var sentences = 0
        var tokens = 0
        var tags = Set<String>()
        while let sentence = try reader.next() {
            sentences += 1
            tokens += sentence.tokens.count
            tags.formUnion(sentence.tags)
        }
        XCTAssertEqual(sentences, 12_544)
        XCTAssertEqual(tokens, 204_577)
        XCTAssertEqual(tags.count, 17)
    }
}
