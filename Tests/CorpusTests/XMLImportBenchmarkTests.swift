import Corpus
import Foundation
import XCTest

/// Timing and peak memory of the XML importer on a big file, run on demand only:
///
/// ```
/// swift build -c release -Xswiftc -enable-testing --scratch-path .build-release --build-tests
/// SEQMODELS_XML_BENCH_FILE=/work/shared/corpora/pos/en_ewt/en_ewt-ud-train.xml \
///   .build-release/release/SeqModelsPackageTests.xctest CorpusTests.XMLImportBenchmarkTests
/// ```
///
/// `Tools/bench_import.py` runs it beside Python's `xml.etree.ElementTree.iterparse`.
/// Optional: `SEQMODELS_XML_BENCH_LAYOUT` (a preset name, default `tei`) and
/// `SEQMODELS_XML_BENCH_REPEAT` (default 3; the best time is printed).
final class XMLImportBenchmarkTests: XCTestCase {
    func testImportSpeedAndPeakMemory() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let path = environment["SEQMODELS_XML_BENCH_FILE"] else {
            throw XCTSkip("set SEQMODELS_XML_BENCH_FILE to time the XML importer")
        }
        let layout = environment["SEQMODELS_XML_BENCH_LAYOUT"] ?? "tei"
        let mapping = try XCTUnwrap(XMLMapping.preset(named: layout), "unknown layout \(layout)")
        let repeats = Int(environment["SEQMODELS_XML_BENCH_REPEAT"] ?? "3") ?? 3
        var best = Double.infinity
        var sentences = 0, tokens = 0
        for _ in 0..<max(repeats, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            var reader = try XMLSentenceReader(path: path, mapping: mapping)
            sentences = 0
            tokens = 0
            while let sentence = try reader.next() {
                sentences += 1
                tokens += sentence.tokens.count
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(String(format: "XMLBENCH swift seconds=%.3f sentences=%d tokens=%d peak_rss_mb=%.1f",
                     best, sentences, tokens, Double(usage.ru_maxrss) / 1024))
        XCTAssertGreaterThan(sentences, 0)
    }
}
