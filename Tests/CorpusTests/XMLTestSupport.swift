import Corpus
import Foundation
import XCTest

/// Paths of the XML fixtures and a helper that drains a reader.
enum XMLFixtures {
    /// Absolute path of `Fixtures/xml/<name>`.
    static func path(_ name: String) throws -> String {
        guard let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw XCTSkip("Fixtures folder missing from the test bundle")
        }
        return root.appendingPathComponent("xml").appendingPathComponent(name).path
    }

    /// The shared corpora folder (`../shared/corpora` from the repository root), or a skip.
    static func sharedCorpus(_ relative: String) throws -> String {
        let repoRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let url = repoRoot.deletingLastPathComponent()
            .appendingPathComponent("shared/corpora").appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("\(url.path) is not present: real-corpus test skipped")
        }
        return url.path
    }

    /// Every sentence of `path`, and the reader's final report.
    static func sentences(
        _ path: String, mapping: XMLMapping = .tei,
        validation: XMLSentenceValidation = XMLSentenceValidation()
    ) throws -> ([TaggedSentence], XMLImportReport) {
        var reader = try XMLSentenceReader(path: path, mapping: mapping, validation: validation)
        var result: [TaggedSentence] = []
        while let sentence = try reader.next() { result.append(sentence) }
        return (result, reader.report)
    }

    /// The `CorpusError` thrown while draining `path`, failing the test if none is.
    static func error(
        _ path: String, mapping: XMLMapping = .tei,
        validation: XMLSentenceValidation = XMLSentenceValidation(),
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> CorpusError? {
        do {
            _ = try sentences(path, mapping: mapping, validation: validation)
            XCTFail("expected a CorpusError reading \(path)", file: file, line: line)
            return nil
        } catch let error as CorpusError {
            return error
        }
    }
}
