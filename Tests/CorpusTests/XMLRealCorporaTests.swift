import Corpus
import Foundation
import XCTest

/// Counts on the real corpora in ../shared/corpora (skipped when they are absent).
final class XMLRealCorporaTests: XCTestCase {
    func testEWTTrainHasTheCoNLLUSentenceAndWordCounts() throws {
        let path = try XMLFixtures.sharedCorpus("pos/en_ewt/en_ewt-ud-train.xml")
        var reader = try XMLSentenceReader(path: path, mapping: .tei)
        var sentences = 0, tokens = 0, tags = Set<String>()
        var first: TaggedSentence?
        while let sentence = try reader.next() {
            if first == nil { first = sentence }
            sentences += 1
            tokens += sentence.tokens.count
            tags.formUnion(sentence.tags)
        }
        XCTAssertEqual(sentences, 12_544)
        XCTAssertEqual(tokens, 204_577)
        XCTAssertEqual(tags.count, 17, "17 UPOS tags")
        XCTAssertEqual(reader.report.summary, "nothing skipped")
        XCTAssertEqual(first?.id, "weblog-juancole.com_juancole_20051126063000_ENG_20051126_063000-0001")
        XCTAssertEqual(first?.tokens.prefix(3), ["Al", "-", "Zaman"])
    }

    func testEWTXMLAndCoNLLUGiveIdenticalSentencesAndTagsInEverySplit() throws {
        for split in ["train", "dev", "test"] {
            let xmlPath = try XMLFixtures.sharedCorpus("pos/en_ewt/en_ewt-ud-\(split).xml")
            let conlluPath = try XMLFixtures.sharedCorpus("pos/en_ewt/en_ewt-ud-\(split).conllu")
            var xml = try XMLSentenceReader(path: xmlPath, mapping: .tei)
            var conllu = try CoNLLUReader(contentsOf: conlluPath, tag: .upos)
            var count = 0
            while true {
                let a = try xml.next(), b = try conllu.next()
                guard let a, let b else {
                    XCTAssertTrue(a == nil && b == nil, "\(split): one file ends before the other after \(count) sentences")
                    break
                }
                count += 1
                XCTAssertEqual(a.id, b.id, "\(split) sentence \(count): ids differ")
                XCTAssertEqual(a.tokens, b.tokens, "\(split) sentence \(count) (\(a.id ?? "?")): words differ")
                XCTAssertEqual(a.tags, b.tags, "\(split) sentence \(count) (\(a.id ?? "?")): tags differ")
                if a.tokens != b.tokens || a.tags != b.tags { return }
            }
            XCTAssertEqual(count, ["train": 12_544, "dev": 2_001, "test": 2_077][split])
        }
    }

    func testNPSChatAllFilesCountsWithReplacedAndSkippedEmptyTags() throws {
        let folder = try XMLFixtures.sharedCorpus("pos/nps_chat")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { $0.hasSuffix(".xml") }.sorted()
        XCTAssertEqual(files.count, 15)
        var posts = 0, tokens = 0, replaced = 0, caret = 0
        var skippedPosts = 0, skippedTokens: [XMLRecordProblem: Int] = [:], keptTokensWhenSkipping = 0
        for file in files {
            let path = folder + "/" + file
            let (kept, report) = try XMLFixtures.sentences(
                path, mapping: .npsChat, validation: XMLSentenceValidation(missingTagReplacement: "-NONE-"))
            posts += kept.count
            tokens += kept.reduce(0) { $0 + $1.tokens.count }
            caret += kept.reduce(0) { $0 + $1.tags.filter { $0.hasPrefix("^") }.count }
            replaced += report.replacedTags
            let (strict, strictReport) = try XMLFixtures.sentences(
                path, mapping: .npsChat, validation: XMLSentenceValidation(policy: .skip))
            skippedPosts += strictReport.skippedRecords
            keptTokensWhenSkipping += strict.reduce(0) { $0 + $1.tokens.count }
            skippedTokens.merge(strictReport.problems, uniquingKeysWith: +)
        }
        XCTAssertEqual(posts, 10_567)
        XCTAssertEqual(tokens, 45_010)
        XCTAssertEqual(replaced, 2)
        XCTAssertEqual(caret, 485)
        // With skip-invalid, the two posts holding a pos="" token are dropped, and counted.
        XCTAssertEqual(skippedPosts, 2)
        XCTAssertEqual(skippedTokens, [.tokenWithoutTag: 2])
        // Those posts hold 26 and 4 tokens (counted with xml.etree): 45,010 - 30 remain.
        XCTAssertEqual(keptTokensWhenSkipping, 44_980)
    }

    func testSMULTRONEnglishHasItsTerminals() throws {
        let path = try XMLFixtures.sharedCorpus("pos/smultron/smultron_en_banana.xml")
        let (sentences, report) = try XMLFixtures.sentences(path, mapping: .tiger)
        XCTAssertEqual(sentences.count, 79)
        XCTAssertEqual(sentences.reduce(0) { $0 + $1.tokens.count }, 1_876)
        XCTAssertEqual(report.summary, "nothing skipped")
        XCTAssertTrue(sentences.allSatisfy { $0.id?.hasPrefix("s") ?? false })
    }
}
