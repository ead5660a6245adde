import Corpus
import XCTest

final class XMLLabelledTextReaderTests: XCTestCase {
    private func readAll(_ reader: inout XMLLabelledTextReader) throws -> [LabelledText] {
        var result: [LabelledText] = []
        while let record = try reader.next() { result.append(record) }
        return result
    }

    func testLabelFromAttributeAndTextFromContentFailsOnTheFirstUnlabelledRecord() throws {
        var reader = try XMLLabelledTextReader(path: XMLFixtures.path("reviews.xml"))
        XCTAssertEqual(try reader.next()?.text, "A wonderful film & a great cast.")
        let second = try XCTUnwrap(try reader.next())
        XCTAssertEqual(second.text, "Dull and far too long.")
        XCTAssertEqual(second.label, "neg")
        XCTAssertEqual(second.location?.line, 4)
        XCTAssertThrowsError(try reader.next()) { error in
            let corpusError = error as? CorpusError
            XCTAssertEqual(corpusError?.message, "the record has no label")
            XCTAssertEqual(corpusError?.location.line, 7)
            XCTAssertEqual(corpusError?.location.column, 1)
        }
    }

    func testSkipPolicyCountsRecordsWithoutLabelOrText() throws {
        var reader = try XMLLabelledTextReader(path: XMLFixtures.path("reviews.xml"), policy: .skip)
        let records = try readAll(&reader)
        XCTAssertEqual(records.map(\.label), ["pos", "neg", "neg"])
        XCTAssertEqual(records.last?.text, "酒店很差")
        XCTAssertEqual(reader.report.records, 3)
        XCTAssertEqual(reader.report.problems, [.missingLabel: 1, .emptyText: 1])
        XCTAssertEqual(reader.report.summary,
                       "skipped 2 records: 1 record without a label, 1 record without text")
    }

    func testLabelAndTextFromChildElementsInAnyOrder() throws {
        let mapping = XMLLabelledTextMapping(
            recordElement: "item", label: .childElement("sentiment"), text: .childElement("body"))
        var reader = try XMLLabelledTextReader(path: XMLFixtures.path("reviews-children.xml"), mapping: mapping)
        let records = try readAll(&reader)
        XCTAssertEqual(records.map(\.label), ["pos", "neg"])
        XCTAssertEqual(records.map(\.text), ["Loved it.", "Hated it."])
    }

    func testContentTextExcludesTheLabelChild() throws {
        let mapping = XMLLabelledTextMapping(recordElement: "item", label: .childElement("sentiment"))
        var reader = try XMLLabelledTextReader(path: XMLFixtures.path("reviews-children.xml"), mapping: mapping)
        let records = try readAll(&reader)
        XCTAssertEqual(records.map(\.text), ["Loved it.ignored", "Hated it."])
    }

    func testLabelledReaderRefusesEntityBombs() throws {
        let mapping = XMLLabelledTextMapping(recordElement: "w", label: .attribute("pos"))
        var reader = try XMLLabelledTextReader(path: XMLFixtures.path("billion-laughs.xml"), mapping: mapping)
        XCTAssertThrowsError(try readAll(&reader)) { error in
            XCTAssertTrue((error as? CorpusError)?.message.contains("billion laughs") ?? false, "\(error)")
        }
    }
}
