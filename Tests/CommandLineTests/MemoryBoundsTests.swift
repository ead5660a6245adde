import Foundation
import XCTest

/// Hostile inputs of a gigabyte, through `seqmodels` as a user meets them: each is refused with
/// a message naming the file and line, and the process's peak memory stays far below the input.
///
/// - a CSV record of a gigabyte without a line break: refused at 64 MiB
///   (`CSVRowReader.defaultMaxRecordBytes`);
/// - an XML text node of a gigabyte: refused at 10,000,000 bytes (libxml2's limit, never lifted);
/// - a model whose vocabulary file lists a million entries its parameters do not have: refused
///   once read (about 200 bytes of memory an entry while it is decoded).
final class MemoryBoundsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("memory-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    /// The peak memory allowed to any of these runs: the tool itself takes about 60 MB. Under
    /// AddressSanitizer (`Tools/sanitize_tests.sh`, whose tool is sanitized too) its shadow
    /// memory and quarantine put every run above a gigabyte, so there the peaks are not checked.
    private static let peakLimitKilobytes = dlsym(dlopen(nil, RTLD_NOW), "__asan_init") == nil ? 400_000 : Int.max

    func testACSVRecordOfAGigabyteIsRefusedAtTheRecordLimit() throws {
        // A sparse file: a header, one row, then a gigabyte of zero bytes with no line break.
        let csv = directory.appendingPathComponent("endless.csv")
        try Data("text,label\nfine,pos\n".utf8).write(to: csv)
        let handle = try FileHandle(forWritingTo: csv)
        try handle.truncate(atOffset: (1 << 30) + 20)
        try handle.close()
        let result = try run(["classify", "train", "--train", csv.path, "--model", directory.appendingPathComponent("model").path, "--epochs", "1"])
        XCTAssertEqual(result.status, 65, result.error)
        XCTAssertTrue(result.error.contains("\(csv.path):3: a record longer than 67108864 bytes starts here"), result.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("model").path),
                       "nothing is written for a refused corpus")
        try checkPeak(result.peakKilobytes, "reading a 1 GB record")
    }

    func testAnXMLTextNodeOfAGigabyteIsRefusedAtLibxml2sLimit() throws {
        // A pipe, so the gigabyte costs no disk: the writer stops when the reader has gone.
        let fifo = directory.appendingPathComponent("endless.xml")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        let written = Locked(0)
        let writer = Thread {
            let fd = open(fifo.path, O_WRONLY)
            guard fd >= 0 else { return }
            defer { close(fd) }
            let head = Array("<corpus>\n<s><w pos=\"NOUN\">".utf8)
            _ = head.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            let block = [UInt8](repeating: 0x61, count: 1 << 20)
            for _ in 0..<1024 {
                let n = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n <= 0 { return }   // the reader closed the pipe (EPIPE, SIGPIPE ignored)
                written.withValue { $0 += n }
            }
        }
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        writer.start()
        let result = try run(["corpus", "check", fifo.path])
        while writer.isExecuting { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(result.status, 65, result.error)
        XCTAssertTrue(result.error.contains("\(fifo.path):2:"), result.error)
        XCTAssertTrue(result.error.contains("more than 10,000,000 bytes, which is refused to keep memory bounded"), result.error)
        XCTAssertLessThan(written.withValue { $0 }, 100 << 20, "the reader must stop near the limit, not read the whole gigabyte")
        try checkPeak(result.peakKilobytes, "reading a 1 GB text node")
    }

    func testAVocabularyOfAMillionEntriesThatTheModelDoesNotHaveIsRefused() throws {
        let model = directory.appendingPathComponent("model")
        let trained = try run(["generate", "train", "--text", TestedBinary.root.appendingPathComponent("Corpora/text/sample.txt").path,
                               "--model", model.path, "--epochs", "1", "--hidden-size", "16", "--embedding-size", "8",
                               "--layers", "1", "--threads", "1", "--sample-length", "0"])
        XCTAssertEqual(trained.status, 0, trained.error)
        let tokens = ["<pad>", "<unk>", "<bos>", "<eos>"] + (0..<1_000_000).map { "w\($0)" }
        let vocabulary: [String: [String]] = ["specials": Array(tokens.prefix(4)), "tokens": tokens]
        try JSONSerialization.data(withJSONObject: vocabulary).write(to: model.appendingPathComponent("vocabulary.json"))
        let result = try run(["generate", "--model", model.path, "--length", "5"])
        XCTAssertEqual(result.status, 65, result.error)
        XCTAssertTrue(result.error.contains("vocabulary.json has 1000004 tokens"), result.error)
        try checkPeak(result.peakKilobytes, "reading a million-entry vocabulary")
    }

    // MARK: Running seqmodels

    /// GNU time, which forks `seqmodels` from its own small process and reports that child's peak.
    /// Reaping `seqmodels` here would not do on Linux: a process started with `posix_spawn` (or
    /// `fork`) execs from this test process's memory, and the kernel carries the high-water mark
    /// of that memory into the child's `ru_maxrss` (found when the suite's earlier tests had left
    /// this process at 418 MB and all three children "peaked" at exactly that).
    private static let gnuTime = "/usr/bin/time"

    /// Runs `seqmodels arguments` (absolute paths: the child runs where the tests do; standard
    /// error to a file, output dropped) and returns its status, standard error and its own peak
    /// resident memory in kilobytes, or nil where it cannot be measured (no GNU time on Linux).
    private func run(_ arguments: [String]) throws -> (status: Int32, error: String, peakKilobytes: Int?) {
        let stderr = directory.appendingPathComponent("stderr-\(UUID().uuidString)")
        let peakFile = directory.appendingPathComponent("peak-\(UUID().uuidString)")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderr.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #if os(Linux)
        let measured = FileManager.default.isExecutableFile(atPath: Self.gnuTime)
        let command = (measured ? [Self.gnuTime, "-f", "%M", "-o", peakFile.path] : []) + [TestedBinary.url.path] + arguments
        #else
        let command = [TestedBinary.url.path] + arguments
        #endif
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, nil, argv, environ)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EINVAL) }
        }
        // GNU time exits with the child's status (128 + the signal if it was killed), as here.
        let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let error = try String(contentsOf: stderr, encoding: .utf8)
        #if os(Linux)
        // GNU time writes "Command exited with non-zero status N" first when it did; the peak is the last line.
        let peak = measured ? try String(contentsOf: peakFile, encoding: .utf8)
            .split(separator: "\n").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } : nil
        if measured && peak == nil { XCTFail("GNU time wrote no peak to \(peakFile.path)") }
        return (exitStatus, error, peak)
        #else
        return (exitStatus, error, usage.ru_maxrss / 1024)   // bytes on Darwin; a spawned child starts afresh there
        #endif
    }

    /// Checks a run's peak against the limit, or says why it could not be measured.
    private func checkPeak(_ peakKilobytes: Int?, _ what: String) throws {
        guard let peakKilobytes else {
            throw XCTSkip("\(what): refused as it should be, but its peak memory was not checked: GNU time (\(Self.gnuTime)) "
                          + "is missing; bash Tools/install-dependencies.sh installs it (Debian package time)")
        }
        XCTAssertLessThan(peakKilobytes, Self.peakLimitKilobytes, "peak memory \(what) (kB)")
    }
}

/// A value behind a lock, shared with another thread.
private final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withValue<Result>(_ body: (inout Value) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
