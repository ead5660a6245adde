import Foundation
import SeqModels
import XCTest

/// `seqmodels` under Open MPI's `mpirun`, as a user runs it: two processes train the same model
/// as one process (each head), label a CSV byte for byte as one process does, and end together
/// with a message when one of them fails, leaving the last checkpoint loadable.
///
/// Skipped, saying so, when `mpirun` is not installed (`bash Tools/install-dependencies.sh --mpi`;
/// CI installs it). With `SEQMODELS_TEST_MPIRUN` naming another launcher (the one of
/// `Tools/mpi_hosts.sh`, whose processes each run on a host of their own and talk over TCP),
/// the same tests run across hosts; CI runs them so too.
final class DataParallelTests: XCTestCase {
    private var directory: URL!

    /// The largest difference measured between a parameter trained by two processes and by one
    /// (dropout off, 3 or 4 epochs, the bundled corpora): 7e-6; float sums in another order, then
    /// Adam's steps, are the only difference.
    private static let tolerance: Float = 5e-5

    private static func corpus(_ path: String) -> String { TestedBinary.root.appendingPathComponent("Corpora/" + path).path }
    private static var binary: URL { TestedBinary.url }

    private static let hostsLauncher = ProcessInfo.processInfo.environment["SEQMODELS_TEST_MPIRUN"]
    private static let mpirun: String? = ([hostsLauncher].compactMap { $0 }
        + ["/usr/bin/mpirun", "/usr/local/bin/mpirun", "/opt/homebrew/bin/mpirun"])
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    override func setUpWithError() throws {
        guard Self.mpirun != nil else {
            throw XCTSkip("Open MPI's mpirun is not installed: run bash Tools/install-dependencies.sh --mpi to test data parallelism")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mpi-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    /// Runs `seqmodels arguments`, under `mpirun -np processes` when `processes` is given.
    @discardableResult
    private func run(_ arguments: [String], processes: Int? = nil, expectSuccess: Bool = true,
                     whileRunning: ((Process) throws -> Void)? = nil) throws -> (status: Int32, output: String, error: String) {
        let running: RunningCommand
        if let processes, let mpirun = Self.mpirun {
            // As root in a container, with more processes than cores, and shared memory between them
            // without the kernel's cross-memory attach (often forbidden in containers); the hosts'
            // launcher chooses its own transport.
            let local = Self.hostsLauncher == nil
                ? ["--allow-run-as-root", "--mca", "btl_vader_single_copy_mechanism", "none"] : []
            running = try RunningCommand(URL(fileURLWithPath: mpirun),
                                         local + ["--oversubscribe", "-np", String(processes), Self.binary.path] + arguments,
                                         in: directory)
        } else {
            running = try RunningCommand(Self.binary, arguments, in: directory)
        }
        try whileRunning?(running.process)
        let result = running.wait()
        if expectSuccess {
            XCTAssertEqual(result.0, 0, "seqmodels \(arguments.joined(separator: " ")) failed:\n\(result.2)")
        }
        return result
    }

    private func parameters(_ model: String) throws -> [String: Tensor] {
        let file = try SafeTensors(contentsOf: directory.appendingPathComponent(model).appendingPathComponent("model.safetensors"))
        var tensors: [String: Tensor] = [:]
        for name in file.names { tensors[name] = try file.floatTensor(name) }
        return tensors
    }

    /// The largest difference between the two models' parameters (same names and shapes required).
    private func largestDifference(_ a: String, _ b: String) throws -> Float {
        let first = try parameters(a), second = try parameters(b)
        XCTAssertEqual(Set(first.keys), Set(second.keys))
        XCTAssertFalse(first.isEmpty)
        var largest: Float = 0
        for (name, value) in first {
            guard let other = second[name], other.shape == value.shape else {
                XCTFail("\(name): \(second[name]?.shape ?? []) against \(value.shape)")
                continue
            }
            largest = max(largest, value.maxAbsoluteDifference(other))
        }
        return largest
    }

    private func metrics(_ model: String) throws -> [String] {
        try String(contentsOf: directory.appendingPathComponent(model).appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
    }

    func testTwoProcessesTrainTheTaggerOneProcessTrains() throws {
        let arguments = ["tag", "train", "--train", Self.corpus("pos/sample.xml"), "--dev", Self.corpus("pos/sample-dev.xml"),
                         "--epochs", "2", "--dropout", "0", "--word-dropout", "0", "--case-variants", "0",
                         "--threads", "1", "--seed", "3"]
        try run(arguments + ["--model", "alone"])
        let shared = try run(arguments + ["--model", "shared"], processes: 2)
        XCTAssertTrue(shared.error.contains("data parallel: 2 processes"), shared.error)
        XCTAssertEqual(shared.output.components(separatedBy: "dev: accuracy").count, 2, "rank 0 alone reports: \(shared.output)")
        let difference = try largestDifference("alone", "shared")
        XCTAssertLessThan(difference, Self.tolerance)
        XCTAssertEqual(try metrics("alone").count, 2)
        XCTAssertEqual(try metrics("shared").count, 2)
    }

    func testTwoProcessesTrainTheClassifierOneProcessTrains() throws {
        let arguments = ["classify", "train", "--train", Self.corpus("reviews/train.csv"), "--dev", Self.corpus("reviews/dev.csv"),
                         "--epochs", "2", "--dropout", "0", "--embedding-dropout", "0", "--ngram-dropout", "0",
                         "--threads", "1", "--seed", "2"]
        try run(arguments + ["--model", "alone"])
        try run(arguments + ["--model", "shared", "--reduction", "ordered"], processes: 2)
        XCTAssertLessThan(try largestDifference("alone", "shared"), Self.tolerance)
    }

    /// Consecutive sampling carries each lane's LSTM state from batch to batch: each process keeps its lanes.
    func testTwoProcessesTrainTheGeneratorOneProcessTrainsAndResumeWithOne() throws {
        let arguments = ["generate", "train", "--text", Self.corpus("text/sample.txt"), "--level", "char",
                         "--dropout", "0", "--sampling", "consecutive", "--batch-size", "8", "--seq-length", "20",
                         "--validation-fraction", "0.2", "--threads", "1", "--seed", "2", "--sample-length", "0"]
        try run(arguments + ["--model", "alone", "--epochs", "3"])
        try run(arguments + ["--model", "shared", "--epochs", "3"], processes: 2)
        XCTAssertLessThan(try largestDifference("alone", "shared"), Self.tolerance)
        XCTAssertEqual(try metrics("alone").count, 3)
        // Two epochs with two processes, the third resumed alone: the global batch is the same.
        try run(arguments + ["--model", "resumed", "--epochs", "2"], processes: 2)
        try run(arguments + ["--model", "resumed", "--epochs", "3", "--resume"])
        XCTAssertLessThan(try largestDifference("alone", "resumed"), Self.tolerance)
        XCTAssertEqual(try metrics("resumed").count, 3)
    }

    /// `lm pretrain` (a backward character model of review texts), with `--accumulate 2`.
    func testTwoProcessesPretrainTheLanguageModelOneProcessPretrains() throws {
        let arguments = ["lm", "pretrain", "--csv", Self.corpus("reviews/train.csv"), "--direction", "backward",
                         "--hidden-size", "32", "--embedding-size", "16", "--seq-length", "40", "--dropout", "0",
                         "--epochs", "2", "--accumulate", "2", "--threads", "1", "--seed", "4"]
        try run(arguments + ["--model", "alone"])
        try run(arguments + ["--model", "shared"], processes: 2)
        XCTAssertLessThan(try largestDifference("alone", "shared"), Self.tolerance)
        XCTAssertEqual(try metrics("shared").count, 2)
    }

    func testShardedLabellingWritesWhatOneProcessWrites() throws {
        try run(["classify", "train", "--train", Self.corpus("reviews/train.csv"), "--dev", Self.corpus("reviews/dev.csv"),
                 "--epochs", "1", "--threads", "1", "--model", "reviews"])
        // Records with quoted line breaks (LF and CRLF), doubled quotes, a literal quote in an
        // unquoted field and a byte-order mark, many more records than processes.
        var rows = ["\u{FEFF}id,text,note"]
        let texts = ["Great soup", "\"The staff\nwas rude\"", "\"Lovely \"\"noodles\"\", never\r\nagain\"", "a 5\" pizza",
                     "\"line\n\nbreaks\n\"", "Superb"]   // CSV fields as written in the file
        for index in 0..<400 { rows.append("\(index),\(texts[index % texts.count]),n\(index % 3)") }
        try Data((rows.joined(separator: "\r\n") + "\r\n").utf8).write(to: directory.appendingPathComponent("in.csv"))
        XCTAssertTrue(try run(["classify", "--model", "reviews", "--input", "in.csv", "--output", "alone.csv"])
            .error.contains("labelled 400 rows"))
        let alone = try Data(contentsOf: directory.appendingPathComponent("alone.csv"))
        for processes in [2, 3] {
            let result = try run(["classify", "--model", "reviews", "--input", "in.csv", "--output", "shared\(processes).csv"],
                                 processes: processes)
            XCTAssertEqual(try Data(contentsOf: directory.appendingPathComponent("shared\(processes).csv")), alone,
                           "\(processes) processes")
            XCTAssertTrue(result.error.contains("labelled 400 rows"), result.error)
        }
        // Texts given as arguments are not shared: rank 0 alone classifies and prints them.
        let arguments = try run(["classify", "--model", "reviews", "Great soup", "Rude staff"], processes: 2)
        XCTAssertEqual(arguments.output.split(separator: "\n").count, 2, arguments.output)
        XCTAssertTrue(arguments.error.contains("runs in one process"), arguments.error)
    }

    func testShardedTaggingPrintsWhatOneProcessPrints() throws {
        try run(["tag", "train", "--train", Self.corpus("pos/sample.xml"), "--dev", Self.corpus("pos/sample-dev.xml"),
                 "--epochs", "1", "--threads", "1", "--model", "tagger"])
        // Paragraphs of sentences, runs of blank lines (long lines of spaces, so that shares often
        // start inside them, where whether a break is pending comes from the share before), a file
        // that starts blank and a CRLF line.
        var lines = ["", ""]
        for paragraph in 0..<40 {
            for sentence in 0..<(1 + paragraph % 4) { lines.append("Sentence \(sentence) of paragraph \(paragraph) was short .") }
            lines += Array(repeating: String(repeating: " ", count: paragraph % 2 == 0 ? 150 : 0), count: 1 + paragraph % 3)
        }
        lines.append("The honest pharmacist wrapped the walnuts .\r")
        try Data(lines.joined(separator: "\n").utf8).write(to: directory.appendingPathComponent("in.txt"))
        for format in ["slash", "conllu", "xml", "json"] {
            let alone = try run(["tag", "--model", "tagger", "--input", "in.txt", "--output", format]).output
            XCTAssertGreaterThan(alone.count, 1000)
            for processes in [2, 3, 4] {
                let shared = try run(["tag", "--model", "tagger", "--input", "in.txt", "--output", format], processes: processes)
                XCTAssertEqual(shared.output, alone, "--output \(format), \(processes) processes")
            }
        }
    }

    func testAProcessThatFailsEndsTheJobWithItsMessage() throws {
        try run(["classify", "train", "--train", Self.corpus("reviews/train.csv"), "--dev", Self.corpus("reviews/dev.csv"),
                 "--epochs", "1", "--threads", "1", "--model", "reviews"])
        var rows = ["text,extra"] + (0..<200).map { "review \($0),x" }
        rows.append("the last review,has,one field too many")
        try Data(rows.joined(separator: "\n").utf8).write(to: directory.appendingPathComponent("bad.csv"))
        let result = try run(["classify", "--model", "reviews", "--input", "bad.csv", "--output", "out.csv"],
                             processes: 2, expectSuccess: false)
        XCTAssertEqual(result.status, 65, result.error)
        XCTAssertTrue(result.error.contains("error (process 1 of 2): bad.csv:202: row has 3 fields but the header has 2"), result.error)
    }

    /// A process killed mid-run (`kill -9`) ends the job; the model directory still loads.
    func testAKilledProcessEndsTheJobAndLeavesTheCheckpoint() throws {
        let arguments = ["tag", "train", "--train", Self.corpus("pos/sample.xml"), "--dev", Self.corpus("pos/sample-dev.xml"),
                         "--epochs", "400", "--threads", "1", "--model", "killed"]
        let metrics = directory.appendingPathComponent("killed/metrics.jsonl")
        var killed = false
        let result = try run(arguments, processes: 2, expectSuccess: false) { _ in
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline {
                if let text = try? String(contentsOf: metrics, encoding: .utf8), text.split(separator: "\n").count >= 2 { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            killed = Self.killRank(1)
        }
        XCTAssertTrue(killed, "no process of rank 1 found to kill")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.error.contains("rank 1") && result.error.contains("signal 9"), result.error)
        let tagged = try run(["tag", "--model", "killed", "The honest pharmacist wrapped the walnuts ."])
        XCTAssertTrue(tagged.output.contains("walnuts/"), tagged.output)
    }

    /// Sends SIGKILL to the `seqmodels` process of `rank` (found by the variable mpirun gives it).
    private static func killRank(_ rank: Int) -> Bool {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return false }
        for entry in entries {
            guard let pid = Int32(entry),
                  let command = try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8),
                  command.contains("seqmodels"), !command.contains("mpirun"),
                  let environment = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") {
                kill(pid, SIGKILL)
                return true
            }
        }
        return false
    }
}
