import Corpus
import Foundation
import XCTest

/// The reader never reaches outside the file and never expands entities.
final class XMLSafetyTests: XCTestCase {
    private func peakRSSKilobytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss
    }

    func testBillionLaughsFailsQuicklyWithAClearError() throws {
        let path = try XMLFixtures.path("billion-laughs.xml")
        let peakBefore = peakRSSKilobytes()
        let start = Date()
        let error = try XCTUnwrap(try XMLFixtures.error(path))
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.0)
        XCTAssertLessThan(peakRSSKilobytes() - peakBefore, 20_000, "entity expansion must not allocate")
        XCTAssertTrue(error.message.lowercased().contains("entity"), error.message)
        XCTAssertTrue(error.location.file.hasSuffix("billion-laughs.xml"))
        XCTAssertGreaterThan(error.location.line, 1, error.description)
    }

    /// libxml2's limit of 10,000,000 bytes a text node or attribute value (never lifted:
    /// XML_PARSE_HUGE is not passed) refuses a token of 11 MB with a message saying so, after
    /// reading about that much: a text node of a gigabyte fails the same way, in the same memory.
    func testATextOrAttributeOfMoreThanTenMillionBytesIsRefusedInBoundedMemory() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("huge-xml-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let huge = String(repeating: "a", count: 11_000_000)
        let cases = [("text.xml", "<corpus>\n<s><w pos=\"NOUN\">\(huge)</w></s>\n</corpus>\n"),
                     ("attribute.xml", "<corpus>\n<s><w pos=\"\(huge)\">cat</w></s>\n</corpus>\n")]
        for (name, text) in cases {
            let url = folder.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            let peakBefore = peakRSSKilobytes()
            let error = try XCTUnwrap(try XMLFixtures.error(url.path))
            XCTAssertTrue(error.message.contains("more than 10,000,000 bytes, which is refused to keep memory bounded"),
                          error.description)
            XCTAssertEqual(error.location.file, url.path)
            XCTAssertEqual(error.location.line, 2, error.description)
            XCTAssertLessThan(peakRSSKilobytes() - peakBefore, 120_000, "\(name): the reader must stop near the limit")
        }
    }

    func testInternalEntityReferenceIsRefusedNotExpanded() throws {
        let error = try XCTUnwrap(try XMLFixtures.error(XMLFixtures.path("internal-entity.xml")))
        XCTAssertTrue(error.message.contains("&who;"), error.message)
        XCTAssertFalse(error.message.contains("world"))
        XCTAssertEqual(error.location.line, 6)
        XCTAssertEqual(error.location.column, 34)
    }

    func testInternalEntityReferenceInAnAttributeIsRefusedNotExpanded() throws {
        var lemmas = XMLMapping.tei
        lemmas.tokenText = .attribute("lemma")
        let error = try XCTUnwrap(try XMLFixtures.error(
            XMLFixtures.path("internal-entity-attribute.xml"), mapping: lemmas))
        XCTAssertTrue(error.message.contains("\"lemma\" uses the entity reference &who;"), error.message)
        XCTAssertFalse(error.description.contains("world"), error.description)
        XCTAssertEqual(error.location.line, 7)
        XCTAssertEqual(error.location.column, 1)
        // Read from content instead, the same file has no entity in any value used.
        let (sentences, _) = try XMLFixtures.sentences(XMLFixtures.path("internal-entity-attribute.xml"))
        XCTAssertEqual(sentences.first?.tokens, ["hello", "world"])
    }

    func testExternalEntityIsNeverLoaded() throws {
        let secret = "EXTERNAL-SECRET-5c8e1b"
        XCTAssertTrue(try String(contentsOfFile: XMLFixtures.path("external-secret.txt"), encoding: .utf8)
            .contains(secret), "the fixture must hold the secret for this test to mean anything")
        // In content: an entity-reference node, refused by the reader.
        // In an attribute: libxml2 itself rejects it (not well-formed).
        let expectations = [
            ("external-entity.xml", "&secret; is not expanded"),
            ("external-entity-attribute.xml", "Attribute references external entity 'secret'"),
        ]
        for (file, expected) in expectations {
            for validation in [XMLSentenceValidation(), XMLSentenceValidation(policy: .skip)] {
                do {
                    let (sentences, _) = try XMLFixtures.sentences(XMLFixtures.path(file), validation: validation)
                    XCTFail("an external entity reference must be an error, got \(sentences)")
                } catch let error as CorpusError {
                    XCTAssertFalse(error.description.contains(secret), error.description)
                    XCTAssertTrue(error.description.contains(expected), error.description)
                }
            }
        }
    }

    func testExternalDTDSubsetIsNotLoaded() throws {
        let path = try XMLFixtures.path("external-dtd.xml")
        // Were the DTD loaded, its ATTLIST would give the second <w> pos="DTD-SECRET-0a4f".
        var reader = try XMLSentenceReader(path: path, validation: XMLSentenceValidation(policy: .skip))
        XCTAssertNil(try reader.next())
        XCTAssertEqual(reader.report.problems, [.tokenWithoutTag: 1])
        XCTAssertEqual(reader.refusedExternalLoads, 0, "libxml2 was not even asked for the DTD")
        let error = try XCTUnwrap(try XMLFixtures.error(path))
        XCTAssertFalse(error.description.contains("DTD-SECRET"))
    }

    func testExternalParameterEntityInTheInternalSubsetIsNotLoaded() throws {
        // Were %secretdtd; loaded, its ATTLIST would give the second <w> a default pos
        // and declare &dtdword;.
        let path = try XMLFixtures.path("external-parameter-entity.xml")
        var reader = try XMLSentenceReader(path: path, validation: XMLSentenceValidation(policy: .skip))
        XCTAssertNil(try reader.next())
        XCTAssertEqual(reader.report.problems, [.tokenWithoutTag: 1])
        let error = try XCTUnwrap(try XMLFixtures.error(path))
        XCTAssertEqual(error.location.line, 6)
        XCTAssertEqual(error.location.column, 40)
        XCTAssertFalse(error.description.contains("SECRET"), error.description)
    }

    func testSchemaLocationIsNeverFetched() throws {
        var reader = try XMLSentenceReader(
            path: XMLFixtures.path("nps-chat.xml"), mapping: .npsChat,
            validation: XMLSentenceValidation(missingTagReplacement: "UNK"))
        var words: [String] = []
        while let sentence = try reader.next() { words += sentence.tokens + sentence.tags }
        XCTAssertEqual(reader.refusedExternalLoads, 0)
        XCTAssertFalse(words.joined().contains("SCHEMA-SECRET"))
    }

    func testTruncatedFileIsAnErrorWithLineAndColumn() throws {
        let error = try XCTUnwrap(try XMLFixtures.error(XMLFixtures.path("truncated.xml")))
        XCTAssertTrue(error.message.hasPrefix("malformed XML: "), error.message)
        XCTAssertEqual(error.location.line, 5)
        XCTAssertNotNil(error.location.column)
        XCTAssertTrue(error.location.file.hasSuffix("truncated.xml"))
    }

    func testMismatchedTagsAreAnErrorWithLibxml2sMessage() throws {
        let error = try XCTUnwrap(try XMLFixtures.error(XMLFixtures.path("malformed.xml")))
        XCTAssertTrue(error.message.contains("mismatch"), error.message)
        XCTAssertEqual(error.location.line, 4)
        XCTAssertNotNil(error.location.column)
    }

    func testMissingFileIsAClearError() {
        XCTAssertThrowsError(try XMLSentenceReader(path: "/nonexistent/corpus.xml")) { error in
            let description = (error as? CorpusError)?.description ?? ""
            XCTAssertTrue(description.contains("/nonexistent/corpus.xml"), description)
            XCTAssertTrue(description.contains("No such file"), description)
        }
    }
}

import CXMLReader

/// The refusing external-entity loader on its own: even a reader that asks libxml2 to
/// load DTDs and substitute entities (a test-only hook) reads nothing from outside.
final class XMLRefusingLoaderTests: XCTestCase {
    private func drain(_ name: String) throws -> (texts: String, refused: Int, error: String?) {
        var message: UnsafeMutablePointer<CChar>? = nil
        let path = try XMLFixtures.path(name)
        guard let reader = sm_xml_open_requesting_loads_for_testing(path, &message) else {
            defer { sm_xml_free_string(message) }
            throw XCTSkip("could not open \(name): \(message.map { String(cString: $0) } ?? "")")
        }
        defer { sm_xml_close(reader) }
        var texts = ""
        loop: while true {
            switch sm_xml_next(reader) {
            case Int32(SM_XML_TEXT.rawValue), Int32(SM_XML_WHITESPACE.rawValue):
                texts += sm_xml_value(reader).map { String(cString: $0) } ?? ""
            case Int32(SM_XML_START_ELEMENT.rawValue):
                texts += sm_xml_attribute(reader, "pos", nil).map { String(cString: $0) } ?? ""
            case Int32(SM_XML_ENTITY_REFERENCE.rawValue), Int32(SM_XML_END_ELEMENT.rawValue):
                continue
            default:
                break loop
            }
        }
        return (texts, Int(sm_xml_refused_loads(reader)), sm_xml_error_message(reader).map { String(cString: $0) })
    }

    func testLoaderRefusesExternalDTDEvenWhenLoadingIsRequested() throws {
        let result = try drain("external-dtd.xml")
        XCTAssertGreaterThan(result.refused, 0, "libxml2 asked for the DTD and was refused")
        XCTAssertFalse(result.texts.contains("SECRET"), result.texts)
        XCTAssertTrue(result.texts.hasSuffix("NOUNdogcat"), "the whole document is read: \(result.texts)")
    }

    func testLoaderRefusesExternalEntitiesEvenWhenSubstitutionIsRequested() throws {
        for name in ["external-entity.xml", "external-parameter-entity.xml"] {
            let result = try drain(name)
            XCTAssertGreaterThan(result.refused, 0, name)
            XCTAssertFalse(result.texts.contains("SECRET"), "\(name): \(result.texts)")
            XCTAssertFalse(result.error?.contains("SECRET") ?? false, "\(name): \(result.error ?? "")")
        }
    }
}
