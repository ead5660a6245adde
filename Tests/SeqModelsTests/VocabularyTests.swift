import XCTest
import Foundation
@testable import SeqModels

final class VocabularyTests: XCTestCase {
    func testSpecialsComeFirstWithFixedIds() {
        let vocabulary = Vocabulary(counting: [["b", "a", "b"]])
        XCTAssertEqual(Array(vocabulary.tokens.prefix(4)), ["<pad>", "<unk>", "<bos>", "<eos>"])
        XCTAssertEqual([vocabulary.paddingID, vocabulary.unknownID, vocabulary.beginID, vocabulary.endID], [0, 1, 2, 3])
        XCTAssertEqual(vocabulary.id(of: "b"), 4)
        XCTAssertEqual(vocabulary.id(of: "a"), 5)
        XCTAssertEqual(vocabulary.count, 6)
    }

    func testSubsetOfSpecialsKeepsTheirOrderAndTakesTheFirstIds() {
        let tags = Vocabulary(counting: [["NOUN", "VERB", "NOUN"]], specials: [.padding])
        XCTAssertEqual(tags.tokens, ["<pad>", "NOUN", "VERB"])
        XCTAssertNil(tags.unknownID)
        let noSpecials = Vocabulary(counting: [["x"]], specials: [])
        XCTAssertEqual(noSpecials.tokens, ["x"])
        let reordered = Vocabulary(tokens: ["x"], specials: [.endOfSequence, .unknown])
        XCTAssertEqual(reordered.tokens, ["<unk>", "<eos>", "x"])
        XCTAssertEqual(reordered.endID, 1)
    }

    func testOrderIsByFrequencyThenUnicodeScalarsWhateverTheInputOrder() {
        let sentences = [["z", "é", "a", "B", "a"], ["e\u{301}", "z", "😀", "a"]]
        let vocabulary = Vocabulary(counting: sentences, specials: [])
        // Canonically equivalent spellings are one token: é (U+00E9) and e + U+0301 count 2.
        // a:3, then the tie z:2, é:2 by scalar value of the NFC form (0x7A < 0xE9, although the
        // decomposed spelling starts with 0x65), then B (0x42) before 😀 (0x1F600).
        XCTAssertEqual(vocabulary.tokens, ["a", "z", "é", "B", "😀"])
        XCTAssertEqual(vocabulary.id(of: "e\u{301}"), vocabulary.id(of: "é"))
        let shuffled = Vocabulary(counting: [sentences[1].reversed(), sentences[0].reversed()], specials: [])
        XCTAssertEqual(shuffled, vocabulary)
    }

    func testMinFrequencyAndMaxSizeCountingSpecials() {
        let data = [["a", "a", "a", "b", "b", "c", "d", "d"]]
        let frequent = Vocabulary(counting: data, minFrequency: 2)
        XCTAssertEqual(frequent.tokens.dropFirst(4), ["a", "b", "d"])
        let small = Vocabulary(counting: data, maxSize: 6)
        XCTAssertEqual(small.count, 6)
        XCTAssertEqual(small.tokens.dropFirst(4), ["a", "b"])
    }

    func testUnknownTokensMapToUnkAndEncodeDecodeRoundTrip() throws {
        let vocabulary = Vocabulary(counting: [["the", "cat", "the"]])
        XCTAssertTrue(vocabulary.contains("cat"))
        XCTAssertFalse(vocabulary.contains("dog"))
        XCTAssertEqual(vocabulary.id(of: "dog"), vocabulary.unknownID)
        let ids = try vocabulary.encode(["the", "dog", "cat"])
        XCTAssertEqual(ids, [4, 1, 5])
        XCTAssertEqual(vocabulary.decode(ids), ["the", "<unk>", "cat"])
    }

    func testVocabularyWithoutUnkThrowsOnAnUnknownToken() {
        let tags = Vocabulary(tokens: ["NOUN"], specials: [])
        XCTAssertNil(tags.id(of: "VERB"))
        XCTAssertThrowsError(try tags.encode(["NOUN", "VERB"])) { error in
            XCTAssertEqual(error as? VocabularyError, .unknownToken("VERB"))
        }
    }

    func testTokensSpeltLikeSpecialsAreNotOrdinaryTokens() {
        let vocabulary = Vocabulary(counting: [["<unk>", "<unk>", "x"]])
        XCTAssertEqual(vocabulary.count, 5)
        XCTAssertEqual(vocabulary.id(of: "<unk>"), 1)
    }

    func testJSONRoundTripAndRejectsACorruptFile() throws {
        let vocabulary = Vocabulary(counting: [["日本", "語", "😀", "語"]], specials: [.padding, .unknown])
        let data = try JSONEncoder().encode(vocabulary)
        let decoded = try JSONDecoder().decode(Vocabulary.self, from: data)
        XCTAssertEqual(decoded, vocabulary)
        XCTAssertEqual(decoded.id(of: "😀"), vocabulary.id(of: "😀"))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["specials"] as? [String], ["<pad>", "<unk>"])
        XCTAssertEqual(object["tokens"] as? [String], ["<pad>", "<unk>", "語", "日本", "😀"])

        let duplicate = Data(#"{"specials":["<pad>"],"tokens":["<pad>","a","a"]}"#.utf8)
        XCTAssertThrowsError(try JSONDecoder().decode(Vocabulary.self, from: duplicate))
        let misplaced = Data(#"{"specials":["<pad>"],"tokens":["a","<pad>"]}"#.utf8)
        XCTAssertThrowsError(try JSONDecoder().decode(Vocabulary.self, from: misplaced))
    }
}
