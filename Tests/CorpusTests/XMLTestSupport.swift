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

    /// A file under the shared corpora folder (`../shared/corpora` from the repository
    /// root; from a worktree such as /work/wt/NAME, the nearest ancestor holding
    /// `shared/corpora`), or a skip when absent.
    static func sharedCorpus(_ relative: String) throws -> String {
        var folder = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        while folder.path != "/" {
            folder = folder.deletingLastPathComponent()
            let candidate = folder.appendingPathComponent("shared/corpora").appendingPathComponent(relative)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
        }
        throw XCTSkip("shared/corpora/\(relative) is not present next to the repository: real-corpus test skipped")
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
