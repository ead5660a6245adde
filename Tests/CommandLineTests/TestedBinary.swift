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

/// A command started in the background with its standard output and error going to files (so
/// that a long run cannot block on a full pipe), and empty standard input.
struct RunningCommand {
    let process: Process
    let stdout: URL
    let stderr: URL

    /// Starts `executable arguments` in `directory` (where the two files are made).
    init(_ executable: URL, _ arguments: [String], in directory: URL) throws {
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        stdout = directory.appendingPathComponent("stdout-\(UUID().uuidString)")
        stderr = directory.appendingPathComponent("stderr-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: stdout.path, contents: nil)
        FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Waits for the command to end; its status and what it wrote.
    func wait() -> (status: Int32, output: String, error: String) {
        process.waitUntilExit()
        let read = { (url: URL) in (try? String(contentsOf: url, encoding: .utf8)) ?? "" }
        return (process.terminationStatus, read(stdout), read(stderr))
    }
}
