import XCTest
import FuzzTargets

/// Every fuzz target over its committed seeds (`seeds/TARGET/`), the seeds it makes itself,
/// and every input that ever found a bug (`findings/TARGET/`): the harness runs in the suite
/// without libFuzzer, so a parser that breaks on a known input fails here first. A crash ends
/// the test process; a finding's expected refusal is checked where its file says one (see
/// `expectedRefusal`).
final class FuzzRegressionTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    override class func tearDown() {
        FuzzTarget.removeScratchFiles()
        super.tearDown()
    }

    /// The files of `seeds/TARGET` or `findings/TARGET`, sorted (none when the folder is absent).
    private func files(_ folder: String, _ target: FuzzTarget) throws -> [URL] {
        let url = Self.directory.appendingPathComponent(folder).appendingPathComponent(target.name)
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") && $0.pathExtension != "expected" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    func testEveryTargetHasSeedsAndRunsThemAll() throws {
        XCTAssertEqual(Set(FuzzTarget.all.map(\.name)).count, FuzzTarget.all.count, "target names are unique")
        for target in FuzzTarget.all {
            let committed = try files("seeds", target)
            let generated = try target.generatedSeeds()
            XCTAssertFalse(committed.isEmpty && generated.isEmpty, "\(target.name) has no seeds")
            var accepted = 0
            for url in committed {
                if target.refusal(of: Array(try Data(contentsOf: url))) == nil { accepted += 1 }
            }
            for seed in generated where target.refusal(of: seed) == nil { accepted += 1 }
            // Seeds are mostly well-formed inputs: a target that refuses all of them fuzzes nothing but its error paths.
            XCTAssertGreaterThan(accepted, 0, "\(target.name) refused every one of its \(committed.count + generated.count) seeds")
        }
    }

    /// Each finding runs without a crash; where `NAME.expected` sits beside it, the refusal
    /// must contain that text (the clear message that replaced the crash).
    func testEveryPastFindingIsRefusedCleanly() throws {
        var count = 0
        for target in FuzzTarget.all {
            for url in try files("findings", target) {
                let refusal = target.refusal(of: Array(try Data(contentsOf: url)))
                count += 1
                let expectation = url.appendingPathExtension("expected")
                if let expected = FileManager.default.contents(atPath: expectation.path) {
                    let text = String(decoding: expected, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    XCTAssertTrue(refusal?.contains(text) ?? false,
                                  "\(target.name)/\(url.lastPathComponent): expected a refusal containing '\(text)', got \(refusal ?? "acceptance")")
                }
            }
        }
        print("replayed \(count) past findings")
    }
}
