import Corpus
import XCTest

final class XMLSentenceReaderTests: XCTestCase {
    func testTEIPresetReadsWordsFromContentAndTagsFromPos() throws {
        let (sentences, report) = try XMLFixtures.sentences(XMLFixtures.path("tei.xml"))
        XCTAssertEqual(sentences.map(\.id), ["doc1-0001", "doc1-0002", "doc2-0001"])
        XCTAssertEqual(sentences[0].tokens, ["I", "like", "cats", "."])
        XCTAssertEqual(sentences[0].tags, ["PRON", "VERB", "NOUN", "PUNCT"])
        // Predefined entities and non-ASCII text are decoded.
        XCTAssertEqual(sentences[1].tokens, ["AT&T", "<", "\"", "café"])
        XCTAssertEqual(sentences[2].location?.line, 8)
        XCTAssertEqual(report.records, 3)
        XCTAssertEqual(report.tokens, 9)
        XCTAssertEqual(report.summary, "nothing skipped")
    }

    func testNamespacesMatchByLocalNameOrByURI() throws {
        let path = try XMLFixtures.path("tei-namespaced.xml")
        // Any namespace: both <s> and <x:s>, <w> and <x:w> count; the header token is outside.
        let (any, anyReport) = try XMLFixtures.sentences(path)
        XCTAssertEqual(any.map(\.id), ["ns1", "ns2"])
        XCTAssertEqual(any[0].tokens, ["the", "dog", "foreign", "ran"])
        XCTAssertEqual(anyReport.tokensOutsideSentences, 1)
        // TEI namespace only: <x:s> and <x:w> are other vocabularies.
        var tei = XMLMapping.tei
        tei.namespace = XMLMapping.teiNamespace
        let (teiOnly, _) = try XMLFixtures.sentences(path, mapping: tei)
        XCTAssertEqual(teiOnly.map(\.id), ["ns1"])
        XCTAssertEqual(teiOnly[0].tokens, ["the", "dog", "ran"])
        XCTAssertEqual(teiOnly[0].tags, ["DET", "NOUN", "VERB"])
        // No namespace: nothing in this TEI file matches.
        tei.namespace = ""
        XCTAssertEqual(try XMLFixtures.sentences(path, mapping: tei).0.count, 0)
    }

    func testNPSChatPresetReadsWordAttributesAndIgnoresPostText() throws {
        let path = try XMLFixtures.path("nps-chat.xml")
        // Default policy: the empty pos="" is an error at its own line and column.
        let error = try XCTUnwrap(try XMLFixtures.error(path, mapping: .npsChat))
        XCTAssertEqual(error.location.line, 15)
        XCTAssertEqual(error.location.column, 5)
        XCTAssertTrue(error.message.contains("empty tag attribute \"pos\""), error.message)
        // Replacement keeps every post and token, and counts the replacement.
        let (sentences, report) = try XMLFixtures.sentences(
            path, mapping: .npsChat, validation: XMLSentenceValidation(missingTagReplacement: "UNK"))
        XCTAssertEqual(sentences.map(\.tokens), [["hi", "all"], ["gooo", "team"], ["!"]])
        XCTAssertEqual(sentences.map(\.tags), [["UH", "DT"], ["^VB", "NN"], ["UNK"]])
        XCTAssertEqual(report.replacedTags, 1)
        XCTAssertEqual(report.summary, "1 missing tag replaced")
    }

    func testTigerPresetReadsTerminalsAndIgnoresNonterminals() throws {
        let (sentences, _) = try XMLFixtures.sentences(XMLFixtures.path("tiger.xml"), mapping: .tiger)
        XCTAssertEqual(sentences.map(\.id), ["s1", "s2"])
        XCTAssertEqual(sentences[0].tokens, ["The", "banana", "<h2>"])
        XCTAssertEqual(sentences[0].tags, ["DT", "NN", "--"])
        XCTAssertEqual(sentences[1].tokens, ["Yellow"])
    }

    func testBrownTEIPresetReadsWordsAndPunctuationInTheTEINamespace() throws {
        let (sentences, _) = try XMLFixtures.sentences(XMLFixtures.path("brown-tei.xml"), mapping: .brownTEI)
        XCTAssertEqual(sentences.map(\.id), ["1", "2"])
        XCTAssertEqual(sentences[0].tokens, ["The", "Fulton", "jury", "."])
        XCTAssertEqual(sentences[0].tags, ["AT", "NP", "NN", "pct"])
        XCTAssertEqual(sentences[1].tokens, ["It", "said", ","])
    }

    func testTokenTextFromAttributeVersusContent() throws {
        // The TIGER fixture read with words from content finds no text in empty <t/>.
        var contentMapping = XMLMapping.tiger
        contentMapping.tokenText = .content
        let (fromContent, _) = try XMLFixtures.sentences(XMLFixtures.path("tiger.xml"), mapping: contentMapping)
        XCTAssertEqual(fromContent[0].tokens, ["", "", ""])
        // The TEI fixture read with words from the lemma attribute.
        var lemmaMapping = XMLMapping.tei
        lemmaMapping.tokenText = .attribute("lemma")
        let (fromLemma, _) = try XMLFixtures.sentences(XMLFixtures.path("tei.xml"), mapping: lemmaMapping)
        XCTAssertEqual(fromLemma[0].tokens, ["I", "like", "cat", "."])
        XCTAssertEqual(fromLemma[1].tokens, ["AT&T", "<", "\"", "café"])
    }

    func testPresetsHaveUniqueNamesAndDescriptions() {
        let names = XMLMapping.presets.map(\.name)
        XCTAssertEqual(names, ["tei", "nps-chat", "tiger", "brown-tei"])
        XCTAssertEqual(XMLMapping.preset(named: "tiger"), .tiger)
        XCTAssertNil(XMLMapping.preset(named: "nope"))
        XCTAssertTrue(XMLMapping.presets.allSatisfy { !$0.summary.isEmpty && !$0.summary.contains("\n") })
    }
}
