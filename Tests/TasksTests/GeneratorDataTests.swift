import XCTest
import SeqModels
@testable import Tasks

final class GeneratorDataTests: XCTestCase {
    func testStreamChunksPredictTheNextTokenAndHoldOutTheEnd() throws {
        let data = try GeneratorData(text: "abcdefghij", level: .char, mode: .stream, sequenceLength: 3,
                                     validationFraction: 0.2, validationLanes: 1)
        let decode = { (ids: [Int]) in data.vocabulary.decode(ids).joined() }
        XCTAssertEqual(data.training.map { decode($0.inputs) }, ["abc", "def", "g"])
        XCTAssertEqual(data.training.map { decode($0.targets) }, ["bcd", "efg", "h"])
        XCTAssertEqual(data.validation.map { decode($0.inputs) }, ["<unk>"], "i is held out, so unknown")
        XCTAssertEqual(data.validation.map { decode($0.targets) }, ["<unk>"])
        XCTAssertFalse(data.vocabulary.contains("i"), "the vocabulary comes from the training part only")
    }

    func testOverlappingChunksStartEveryStrideTokens() {
        let chunks = GeneratorData.chunks([10, 11, 12, 13, 14], length: 2, stride: 1)
        XCTAssertEqual(chunks.map(\.inputs), [[10, 11], [11, 12], [12, 13]])
        XCTAssertEqual(chunks.map(\.targets), [[11, 12], [12, 13], [13, 14]])
    }

    func testLinesBecomeRecordsFramedByBeginAndEnd() throws {
        let data = try GeneratorData(text: "春风，\r\n\n 花开。\n", level: .char, mode: .lines, sequenceLength: 8,
                                     validationFraction: 0)
        XCTAssertEqual(data.training.count, 2)
        let first = data.training[0]
        XCTAssertEqual(first.inputs.first, data.vocabulary.beginID)
        XCTAssertEqual(first.targets.last, data.vocabulary.endID)
        XCTAssertEqual(data.vocabulary.decode(Array(first.inputs.dropFirst())), ["春", "风", "，"])
        XCTAssertEqual(data.vocabulary.decode(Array(data.training[1].targets.dropLast())), ["花", "开", "。"])
    }

    func testWordLevelKeepsPunctuationAsTokens() throws {
        let data = try GeneratorData(text: "the mice , the cat .", level: .word, mode: .stream, sequenceLength: 10,
                                     validationFraction: 0)
        XCTAssertEqual(data.vocabulary.decode(data.training[0].inputs), ["the", "mice", ",", "the", "cat"])
    }

    func testTooShortATextIsAClearError() {
        XCTAssertThrowsError(try GeneratorData(text: "a", level: .char, mode: .stream, sequenceLength: 4)) { error in
            XCTAssertTrue(String(describing: error).contains("too few to train on"), "\(error)")
        }
        XCTAssertThrowsError(try GeneratorData(text: "ab", level: .char, mode: .stream, sequenceLength: 0))
    }
}
