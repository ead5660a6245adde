import Foundation
import XCTest

/// Runs the `seqmodels` binary the way a user does: every command given a bad input must say
/// `error: ` with the file or what was wrong on standard error, and end with the status the
/// README documents (64 usage, 65 bad input, 74 cannot write); help and a blank line between
/// paragraphs are not errors.
final class ErrorPathTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cli-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    private static let root = TestedBinary.root
    private static var binary: URL { TestedBinary.url }

    private func run(_ arguments: [String], input: String = "") throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let error = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func testEveryCommandReportsBadInputTheSameWay() throws {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.binary.path), "no seqmodels binary at \(Self.binary.path)")
        let badCSV = try write("bad.csv", "text,label\n\"never closed,pos\n")
        let badXML = try write("bad.xml", "<corpus><s><w pos=\"NOUN\">cat</w></corpus>")
        let text = try write("text.txt", "hello world\n")
        let sample = Self.root.appendingPathComponent("Corpora/pos/sample.xml").path
        let missing = directory.appendingPathComponent("missing").path
        let cases: [(arguments: [String], status: Int32, mentions: String)] = [
            (["tag", "--model", missing, "a sentence"], 65, missing),
            (["tag", "train", "--train", badXML, "--dev", badXML, "--model", "m"], 65, badXML),
            (["tag", "eval", "--model", missing, "--test", sample], 65, missing),
            (["classify", "--model", missing, "a review"], 65, missing),
            (["classify", "train", "--train", badCSV, "--model", "m"], 65, "bad.csv:2"),
            (["classify", "eval", "--model", missing, "--test", badCSV], 65, missing),
            (["generate", "--model", missing], 65, missing),
            (["generate", "train", "--text", missing, "--model", "m"], 65, missing),
            (["generate", "eval", "--model", missing, "--text", text], 65, missing),
            (["generate", "acrostic", "--model", missing, "--head", "春花"], 65, missing),
            (["corpus", "stats", missing], 65, missing),
            (["corpus", "check", badXML], 65, badXML),
            (["lstm", "forward", "--weights", missing, "--input", missing, "--output", "o.safetensors"], 65, missing),
            (["serve", "--tagger", missing], 65, missing),
            (["export", "--model", missing, "--output", "m.onnx"], 65, missing),
            (["lm", "pretrain", "--csv", badCSV, "--model", "m"], 65, "bad.csv:2"),
            (["lm", "pretrain", "--text", missing, "--model", "m"], 65, missing),
            (["lm", "pretrain", "--model", "m"], 64, "--text"),
            (["tag", "train", "--train", sample, "--dev", sample, "--model", "m", "--char-lm", missing], 65, missing),
            (["classify", "--model", missing, "--bogus"], 64, "Unknown option '--bogus'"),
            (["tag", "train", "--train", sample, "--dev", sample, "--model", "m", "--epochs", "0"], 64, "--epochs"),
            (["srve", "--help"], 64, "did you mean 'serve'?"),
            (["bench", "lstm", "--threads", "0"], 64, "--threads"),
        ]
        for (arguments, status, mentions) in cases {
            let result = try run(arguments)
            let command = "seqmodels " + arguments.joined(separator: " ")
            XCTAssertEqual(result.status, status, "\(command): \(result.error)")
            XCTAssertTrue(result.error.hasPrefix("error: "), "\(command) must start its message with 'error: ', got: \(result.error)")
            XCTAssertFalse(result.error.contains("Error: "), "\(command): one prefix only: \(result.error)")
            XCTAssertTrue(result.error.contains(mentions), "\(command) must mention \(mentions): \(result.error)")
        }
    }

    /// `lm pretrain` in both directions, then a tagger reading both: the tagger's directory
    /// holds its own copies of the language models.
    func testPretrainedCharacterModelsFeedATagger() throws {
        let sample = Self.root.appendingPathComponent("Corpora/pos/sample.xml").path
        let dev = Self.root.appendingPathComponent("Corpora/pos/sample-dev.xml").path
        let reviews = Self.root.appendingPathComponent("Corpora/reviews/train.csv").path
        for direction in ["forward", "backward"] {
            let pretrained = try run(["lm", "pretrain", "--csv", reviews, "--sentences", sample, "--direction", direction,
                                      "--model", "lm-\(direction)", "--hidden-size", "8", "--epochs", "1", "--seq-length", "20"])
            XCTAssertEqual(pretrained.status, 0, pretrained.error)
            let config = try String(contentsOf: directory.appendingPathComponent("lm-\(direction)/config.json"), encoding: .utf8)
            XCTAssertEqual(config.contains("\"direction\" : \"backward\""), direction == "backward", config)
        }
        let trained = try run(["tag", "train", "--train", sample, "--dev", dev, "--model", "tagger", "--epochs", "1",
                               "--hidden-size", "8", "--char-lm", "lm-forward", "--char-lm", "lm-backward"])
        XCTAssertEqual(trained.status, 0, trained.error)
        try FileManager.default.removeItem(at: directory.appendingPathComponent("lm-forward"))
        try FileManager.default.removeItem(at: directory.appendingPathComponent("lm-backward"))
        let tagged = try run(["tag", "--model", "tagger", "The cat sat on the mat."])
        XCTAssertEqual(tagged.status, 0, tagged.error)
        XCTAssertEqual(tagged.output.split(separator: " ").count, 7, tagged.output)
    }

    func testHelpAndVersionAreNotErrors() throws {
        let help = try run(["tag", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.output.contains("USAGE: seqmodels tag"), help.output)
        let version = try run(["--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertTrue(version.output.hasPrefix("seqmodels "), version.output)
        XCTAssertTrue(version.output.contains("SeqModels kernels:"), version.output)
    }

    func testBlankLinesBetweenParagraphsAreNotAnError() throws {
        let model = directory.appendingPathComponent("tagger").path
        let sample = Self.root.appendingPathComponent("Corpora/pos/sample.xml").path
        let dev = Self.root.appendingPathComponent("Corpora/pos/sample-dev.xml").path
        let trained = try run(["tag", "train", "--train", sample, "--dev", dev, "--model", model, "--epochs", "1", "--hidden-size", "8",
                               "--word-embedding-size", "8"])
        XCTAssertEqual(trained.status, 0, trained.error)
        let tagged = try run(["tag", "--model", model], input: "The cat sat.\n\n\nA dog ran.\nIt barked.\n")
        XCTAssertEqual(tagged.status, 0, tagged.error)
        let lines = tagged.output.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 5, "three sentences, one paragraph break, the final newline: \(tagged.output)")
        guard lines.count == 5 else { return }
        XCTAssertTrue(lines[0].hasPrefix("The/"), tagged.output)
        XCTAssertEqual(lines[1], "", "a paragraph break")
        XCTAssertTrue(lines[2].hasPrefix("A/"), tagged.output)
        let file = try write("sentences.txt", "One sentence.\n")
        let fromFile = try run(["tag", "--model", model, "--input", file])
        XCTAssertEqual(fromFile.status, 0, fromFile.error)
        XCTAssertTrue(fromFile.output.hasPrefix("One/"), fromFile.output)
    }

    /// A failed read of `tag --input` (here a directory) is an error, not an empty input, and a
    /// line over 1 MiB is refused by its number without being held whole; the sentences before
    /// it are still tagged.
    func testTagInputThatCannotBeReadOrHasAnOverlongLineIsAnError() throws {
        let model = directory.appendingPathComponent("tagger").path
        let sample = Self.root.appendingPathComponent("Corpora/pos/sample.xml").path
        let trained = try run(["tag", "train", "--train", sample, "--dev", sample, "--model", model, "--epochs", "1", "--hidden-size", "8",
                               "--word-embedding-size", "8"])
        XCTAssertEqual(trained.status, 0, trained.error)
        let folder = directory.appendingPathComponent("a-folder")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let unreadable = try run(["tag", "--model", model, "--input", folder.path])
        XCTAssertEqual(unreadable.status, 65, unreadable.error)
        XCTAssertTrue(unreadable.error.hasPrefix("error: cannot read \(folder.path)"), unreadable.error)
        let long = try write("long.txt", "The cat sat.\n" + String(repeating: " ", count: (1 << 20) + 1) + "\nA dog ran.\n")
        let refused = try run(["tag", "--model", model, "--input", long])
        XCTAssertEqual(refused.status, 65, refused.error)
        XCTAssertTrue(refused.error.contains("line 2 of \(long) is longer than 1 MiB"), refused.error)
        XCTAssertTrue(refused.output.hasPrefix("The/"), "the sentence before the long line is tagged: \(refused.output)")
        XCTAssertFalse(refused.output.contains("dog"), refused.output)
        // Exactly 1 MiB of spaces (a blank line, so nothing to tag), a CRLF, and a last line without its end.
        let exact = try write("exact.txt", String(repeating: " ", count: 1 << 20) + "\r\nA dog ran.")
        let accepted = try run(["tag", "--model", model, "--input", exact])
        XCTAssertEqual(accepted.status, 0, "a line of exactly 1 MiB is read: \(accepted.error)")
        let lines = accepted.output.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, accepted.output)
        XCTAssertTrue(lines.first?.hasPrefix("A/") == true && lines.first?.contains(" dog/") == true, accepted.output)
    }

    func testCSVLabellingThroughStandardInputAndOutput() throws {
        let model = directory.appendingPathComponent("classifier").path
        let reviews = Self.root.appendingPathComponent("Corpora/reviews").path
        let trained = try run(["classify", "train", "--train", reviews + "/train.csv", "--dev", reviews + "/dev.csv",
                               "--model", model, "--epochs", "1"])
        XCTAssertEqual(trained.status, 0, trained.error)
        let labelled = try run(["classify", "--model", model, "--input", "-", "--output", "-"],
                               input: "id,text\n1,\"The soup was lovely, thank you.\"\n2,Cold and rude.\n")
        XCTAssertEqual(labelled.status, 0, labelled.error)
        let lines = labelled.output.split(separator: "\r\n").map(String.init)
        XCTAssertEqual(lines.count, 3, labelled.output)
        XCTAssertEqual(lines.first, "id,text,predicted_label,probability")
        XCTAssertTrue(lines.dropFirst().allSatisfy { $0.split(separator: ",").count >= 4 }, labelled.output)
        XCTAssertTrue(labelled.error.contains("labelled 2 rows into standard output"), labelled.error)
    }

    /// `--optimizer adamw` trains with decoupled weight decay, PyTorch's 0.01 unless
    /// `--weight-decay` says otherwise; the resume state records what ran.
    func testAdamWTakesPyTorchsDecayUnlessOneIsGiven() throws {
        let text = try write("text.txt", String(repeating: "the cat sat on the mat. the dog sat on the log.\n", count: 20))
        for (extra, decay) in [([String](), 0.01), (["--weight-decay", "0.3"], 0.3)] {
            let model = directory.appendingPathComponent("adamw-\(decay)")
            let trained = try run(["generate", "train", "--text", text, "--model", model.path, "--epochs", "1", "--hidden-size", "8",
                                   "--optimizer", "adamw"] + extra)
            XCTAssertEqual(trained.status, 0, trained.error)
            let state = try Data(contentsOf: model.appendingPathComponent("resume/state.json"))
            let options = try XCTUnwrap((try JSONSerialization.jsonObject(with: state) as? [String: Any])?["options"] as? [String: Any])
            XCTAssertEqual(options["optimizer"] as? String, "adamw")
            XCTAssertEqual((options["weightDecay"] as? NSNumber)?.doubleValue, decay)
        }
    }
}
