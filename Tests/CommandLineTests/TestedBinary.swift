import Foundation

/// The `seqmodels` binary under test and the repository it was built from, shared by the
/// command-line tests.
enum TestedBinary {
    /// The repository's root (for `Corpora/`).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The binary built beside the test bundle (the test target depends on it).
    static var url: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("seqmodels")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            let candidate = bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("seqmodels")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return root.appendingPathComponent(".build/debug/seqmodels")
    }
}
