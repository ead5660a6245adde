import Corpus
import XCTest

final class XMLValidationTests: XCTestCase {
    func testMissingTagIsAnErrorAtTheTokensLineAndColumn() throws {
        let error = try XCTUnwrap(try XMLFixtures.error(XMLFixtures.path("invalid.xml")))
        XCTAssertEqual(error.location.line, 4)
        XCTAssertEqual(error.location.column, 37)
        XCTAssertTrue(error.message.contains("has no tag attribute \"pos\""), error.message)
        XCTAssertTrue(error.description.hasSuffix("invalid.xml:4:37: " + error.message))
    }

    func testEmptySentenceIsAnErrorWhenTagsAreReplaced() throws {
        let error = try XCTUnwrap(try XMLFixtures.error(
            XMLFixtures.path("invalid.xml"), validation: XMLSentenceValidation(missingTagReplacement: "X")))
        XCTAssertEqual(error.location.line, 6)
        XCTAssertEqual(error.location.column, 1)
        XCTAssertEqual(error.message, "the sentence has no tokens")
    }

    func testUnknownTagIsAnErrorWithAKnownTagSet() throws {
        let error = try XCTUnwrap(try XMLFixtures.error(
            XMLFixtures.path("tei.xml"),
            validation: XMLSentenceValidation(knownTags: ["PRON", "VERB", "NOUN", "PUNCT"])))
        XCTAssertEqual(error.location.line, 5)
        XCTAssertEqual(error.location.column, 19)
        XCTAssertTrue(error.message.contains("\"PROPN\""), error.message)
    }

    func testSkipPolicySkipsAndCountsEveryInvalidSentence() throws {
        let validation = XMLSentenceValidation(
            policy: .skip, knownTags: ["NOUN", "VERB", "DET"])
        let (sentences, report) = try XMLFixtures.sentences(XMLFixtures.path("invalid.xml"), validation: validation)
        XCTAssertEqual(sentences.map(\.id), ["ok1", "ok2"])
        XCTAssertEqual(report.records, 2)
        XCTAssertEqual(report.skippedRecords, 4)
        XCTAssertEqual(report.problems, [.tokenWithoutTag: 2, .emptySentence: 1, .unknownTag: 1])
        XCTAssertEqual(report.summary,
                       "skipped 4 sentences: 2 tokens without a tag, 1 token with an unknown tag, 1 empty sentence")
    }
}
