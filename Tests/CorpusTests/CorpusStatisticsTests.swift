import XCTest
@testable import Corpus
import SeqModels

final class CorpusStatisticsTests: XCTestCase {
    func testCountsTaggedSentences() throws {
        var statistics = CorpusStatistics(unit: .sentences, categoryName: "UPOS tags")
        var reader = try CoNLLUReader(contentsOf: TestFiles.fixture("conllu/small.conllu"))
        try statistics.addSentences(from: &reader)
        XCTAssertEqual(statistics.units, 2)
        XCTAssertEqual(statistics.tokens, 7)
        XCTAssertEqual(statistics.distinctTokens, 7)
        XCTAssertEqual(statistics.maxLength, 5)
        XCTAssertEqual(statistics.averageLength, 3.5)
        XCTAssertEqual(statistics.categoryFrequencies, ["PRON": 1, "AUX": 1, "PART": 1, "VERB": 2, "PUNCT": 1, "ADV": 1])
        XCTAssertEqual(statistics.sortedCategories.map(\.name), ["VERB", "ADV", "AUX", "PART", "PRON", "PUNCT"])
    }

    func testCountsLabelledTextsWithATokenizer() throws {
        var statistics = CorpusStatistics(unit: .documents, categoryName: "labels")
        var reader = try CSVTextReader(contentsOf: TestFiles.fixture("csv/reviews.csv"))
        try statistics.addTexts(from: &reader, tokenizer: PreTokenizedTokenizer())
        XCTAssertEqual(statistics.units, 5)
        // "plain review" 2, "with, comma" 2, "she said "wow"" 3, "two\r\nlines" 2, "中文 评论 😀" 3
        XCTAssertEqual(statistics.tokens, 12)
        XCTAssertEqual(statistics.categoryFrequencies, ["pos": 3, "neg": 2])
    }

    func testOutOfVocabularyByTypesAndTokens() {
        var training = CorpusStatistics(unit: .sentences)
        training.add(tokens: ["the", "cat", "sat"])
        var test = CorpusStatistics(unit: .sentences)
        test.add(tokens: ["the", "dog", "sat", "dog", "The"])
        let oov = test.outOfVocabulary(against: training)
        XCTAssertEqual(oov, OutOfVocabularyRate(types: 4, unknownTypes: 2, tokens: 5, unknownTokens: 3))
        XCTAssertEqual(oov.typeRate, 0.5)
        XCTAssertEqual(oov.tokenRate, 0.6)

        var lowerTraining = CorpusStatistics(unit: .sentences, lowercased: true)
        lowerTraining.add(tokens: ["the", "cat", "sat"])
        var lowerTest = CorpusStatistics(unit: .sentences, lowercased: true)
        lowerTest.add(tokens: ["the", "dog", "sat", "dog", "The"])
        XCTAssertEqual(lowerTest.outOfVocabulary(against: lowerTraining), OutOfVocabularyRate(types: 3, unknownTypes: 1, tokens: 5, unknownTokens: 2))
    }

    func testReportAlignsColumnsAndJSONHasSortedKeys() {
        var statistics = CorpusStatistics(unit: .documents, categoryName: "labels")
        statistics.add(tokens: ["good", "film"], label: "pos")
        statistics.add(tokens: ["bad"], label: "neg")
        statistics.add(tokens: ["fine"], label: "pos")
        let report = CorpusStatisticsReport(files: ["a.csv"], format: "csv", statistics: statistics,
                                            outOfVocabulary: OutOfVocabularyRate(types: 4, unknownTypes: 1, tokens: 1234, unknownTokens: 617),
                                            trainingFiles: ["t.csv"])
        let lines = report.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertTrue(lines.contains("documents        3"), report.text)
        XCTAssertTrue(lines.contains("OOV by tokens     50.00%  (617 of 1,234)"), report.text)
        XCTAssertTrue(lines.contains("  pos  2   66.67%"), report.text)
        XCTAssertTrue(lines.contains("  neg  1   33.33%"), report.text)

        let json = report.json
        let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        XCTAssertEqual(object?["units"] as? Int, 3)
        XCTAssertEqual((object?["categories"] as? [String: Int]) ?? [:], ["pos": 2, "neg": 1])
        XCTAssertEqual((object?["outOfVocabulary"] as? [String: Any])?["tokenRate"] as? Double, 0.5)
        let keyLines = json.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        XCTAssertEqual(keyLines, keyLines.sorted())
        XCTAssertGreaterThan(keyLines.count, 8)
    }

    func testNumberFormatting() {
        XCTAssertEqual(CorpusStatisticsReport.grouped(204_577), "204,577")
        XCTAssertEqual(CorpusStatisticsReport.grouped(999), "999")
        XCTAssertEqual(CorpusStatisticsReport.fixed(16.309, digits: 2), "16.31")
        XCTAssertEqual(CorpusStatisticsReport.percent(0.0913), "9.13%")
    }

    func testEWTTestOOVAgainstTrainIsAbout9Point13PercentOfTokens() throws {
        let trainPath = try TestFiles.sharedCorpus("pos/en_ewt/en_ewt-ud-train.conllu")
        let testPath = try TestFiles.sharedCorpus("pos/en_ewt/en_ewt-ud-test.conllu")
        var training = CorpusStatistics(unit: .sentences)
        var trainReader = try CoNLLUReader(contentsOf: trainPath)
        try training.addSentences(from: &trainReader)
        var test = CorpusStatistics(unit: .sentences)
        var testReader = try CoNLLUReader(contentsOf: testPath)
        try test.addSentences(from: &testReader)
        XCTAssertEqual(training.distinctTokens, 19_674)
        let oov = test.outOfVocabulary(against: training)
        XCTAssertEqual(oov.tokenRate * 100, 9.13, accuracy: 0.005)
        XCTAssertEqual(oov.typeRate * 100, 32.62, accuracy: 0.005)
    }
}
