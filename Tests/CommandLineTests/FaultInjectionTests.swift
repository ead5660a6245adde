import Foundation
import XCTest

/// Failures injected into `seqmodels generate train` while it runs, as a user meets them: the
/// process killed (`kill -9`) at random moments, the disk filling up, the output directory
/// turning read-only or moved away, standard output on a full device. Each must end with a
/// clear error and status 74, leave no partial file under a final name, and lose nothing saved
/// before: the model directory loads and `--resume` finishes the run (bit for bit the model of
/// a run never interrupted, for the kills).
///
/// The full-disk and read-only tests mount a small tmpfs and so need root (CI runs as root);
/// elsewhere they are skipped, saying so (the read-only test then uses permissions instead).
/// `Tools/kill_loop.sh` runs the long version of the kill test (50 kills and more).
final class FaultInjectionTests: XCTestCase {
    private var directory: URL!
    private var mounts: [URL] = []

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fault-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for mount in mounts { _ = try? Self.system("/bin/umount", ["-l", mount.path]) }
        mounts = []
        if let directory {
            _ = chmod(directory.appendingPathComponent("model").path, 0o755)
            _ = chmod(directory.appendingPathComponent("model/resume").path, 0o755)
            try? FileManager.default.removeItem(at: directory)
        }
    }

    // MARK: The tests

    func testRunsKilledAtRandomMomentsResumeToTheBitIdenticalModel() throws {
        let epochs = 16
        let started = Date()
        try finish(trainingArguments(model: "reference", epochs: epochs))
        // Kills between 3% and 15% of the uninterrupted run's time after each start: six of
        // them cannot let the run finish, on a fast machine or a slow one.
        let whole = Date().timeIntervalSince(started)
        let model = directory.appendingPathComponent("killed")
        var kills: [String] = []
        var modelSeen = false
        for _ in 0..<6 {
            let resuming = FileManager.default.fileExists(atPath: model.appendingPathComponent("resume/state.json").path)
            let running = try start(trainingArguments(model: "killed", epochs: epochs) + (resuming ? ["--resume"] : []))
            let delay = Double.random(in: 0.03...0.15) * whole
            Thread.sleep(forTimeInterval: delay)
            guard running.process.isRunning else { break }
            kill(running.process.processIdentifier, SIGKILL)
            running.process.waitUntilExit()
            let leftovers = Self.temporaryFiles(in: model) + Self.temporaryFiles(in: model.appendingPathComponent("resume"))
            kills.append(String(format: "%.2f s%@", delay, leftovers.isEmpty ? "" : " (during a save)"))
            if FileManager.default.fileExists(atPath: model.appendingPathComponent("config.json").path) {
                modelSeen = true
                try assertLoads(model, after: "kill \(kills.count) at \(kills.last ?? "")")
            } else {
                XCTAssertFalse(modelSeen, "the model directory lost its config.json after kill \(kills.count)")
            }
        }
        XCTAssertEqual(kills.count, 6, "the run finished before it was killed six times: \(kills)")
        let resuming = FileManager.default.fileExists(atPath: model.appendingPathComponent("resume/state.json").path)
        try finish(trainingArguments(model: "killed", epochs: epochs) + (resuming ? ["--resume"] : []))
        for file in ["model.safetensors", "config.json", "vocabulary.json"] {
            XCTAssertEqual(try Data(contentsOf: model.appendingPathComponent(file)),
                           try Data(contentsOf: directory.appendingPathComponent("reference/" + file)),
                           "\(file) differs from the uninterrupted run's after kills at \(kills)")
        }
        // Files of saves cut short are removed by the next run.
        XCTAssertEqual(Self.temporaryFiles(in: model) + Self.temporaryFiles(in: model.appendingPathComponent("resume")), [],
                       "temporary files left after the kills at \(kills)")
    }

    func testAFullDiskStopsTheRunWithAClearErrorAndKeepsTheLastCheckpoint() throws {
        let disk = try mountSmallDisk("disk", size: "2m")
        let model = disk.appendingPathComponent("model")
        let running = try start(trainingArguments(model: model.path, epochs: 12))
        try waitForTheFirstSavedEpoch(of: model, while: running)
        // Fill what is left of the disk while the second epoch trains.
        let filler = disk.appendingPathComponent("filler")
        XCTAssertEqual(Self.fill(filler), ENOSPC, "the filler did not fill the disk")
        let result = running.wait()
        XCTAssertEqual(result.status, 74, "a full disk must end the run with status 74:\n\(result.error)")
        XCTAssertTrue(result.error.contains("No space left on device"), result.error)
        XCTAssertTrue(result.error.contains(model.path), "the error must name the file:\n\(result.error)")
        XCTAssertEqual(Self.temporaryFiles(in: model) + Self.temporaryFiles(in: model.appendingPathComponent("resume")), [])
        try assertEveryMetricsLineIsWhole(model)
        try assertLoads(model, after: "the full disk")

        try FileManager.default.removeItem(at: filler)
        try finish(trainingArguments(model: model.path, epochs: 12) + ["--resume"])
        try assertLoads(model, after: "the resumed run")
    }

    func testAnOutputDirectoryTurnedReadOnlyStopsTheRunWithAClearError() throws {
        let root = geteuid() == 0
        // Root ignores permissions: a tmpfs remounted read-only stands in for them.
        let place = root ? try mountSmallDisk("disk", size: "8m") : directory!
        let model = place.appendingPathComponent("model")
        let running = try start(trainingArguments(model: model.path, epochs: 12))
        try waitForTheFirstSavedEpoch(of: model, while: running)
        let saved = try Data(contentsOf: model.appendingPathComponent("model.safetensors"))
        if root {
            try Self.system("/bin/mount", ["-o", "remount,ro", place.path])
        } else {
            XCTAssertEqual(chmod(model.appendingPathComponent("resume").path, 0o555), 0)
            XCTAssertEqual(chmod(model.path, 0o555), 0)
        }
        let result = running.wait()
        XCTAssertEqual(result.status, 74, "a read-only directory must end the run with status 74:\n\(result.error)")
        XCTAssertTrue(result.error.contains(root ? "Read-only file system" : "Permission denied"), result.error)
        XCTAssertTrue(result.error.contains(model.path), "the error must name the file:\n\(result.error)")
        // Whatever the run saved last is still there and loads.
        XCTAssertTrue(try Data(contentsOf: model.appendingPathComponent("model.safetensors")).count == saved.count)
        try assertLoads(model, after: "the directory turned read-only")

        if root {
            try Self.system("/bin/mount", ["-o", "remount,rw", place.path])
        } else {
            XCTAssertEqual(chmod(model.path, 0o755), 0)
            XCTAssertEqual(chmod(model.appendingPathComponent("resume").path, 0o755), 0)
        }
        try finish(trainingArguments(model: model.path, epochs: 12) + ["--resume"])
    }

    func testAnOutputDirectoryMovedAwayStopsTheRunAndWhatItSavedResumes() throws {
        let model = directory.appendingPathComponent("model")
        let moved = directory.appendingPathComponent("moved")
        let running = try start(trainingArguments(model: model.path, epochs: 12))
        try waitForTheFirstSavedEpoch(of: model, while: running)
        try FileManager.default.moveItem(at: model, to: moved)
        let result = running.wait()
        XCTAssertEqual(result.status, 74, "a vanished directory must end the run with status 74:\n\(result.error)")
        XCTAssertTrue(result.error.contains("removed or moved away") || result.error.contains("No such file or directory"),
                      result.error)
        XCTAssertTrue(result.error.contains(model.path), "the error must name the directory:\n\(result.error)")
        try assertLoads(moved, after: "the directory was moved")
        try finish(trainingArguments(model: moved.path, epochs: 12) + ["--resume"])
    }

    func testOutputToAFullDeviceIsAnErrorNotASilentSuccess() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { throw XCTSkip("no /dev/full on this system") }
        try finish(trainingArguments(model: "model", epochs: 1))
        let process = Process()
        process.executableURL = TestedBinary.url
        process.arguments = ["generate", "--model", "model", "--length", "50", "--seed", "1"]
        process.currentDirectoryURL = directory
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        let error = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 74, error)
        XCTAssertTrue(error.contains("cannot write the standard output: No space left on device"), error)
    }

    // MARK: Running seqmodels

    /// The tiny generator every test interrupts: a 1×32 LSTM on the bundled sample text, about
    /// 0.4 s an epoch in a debug build, one thread (so a resumed run is bit for bit the same).
    private func trainingArguments(model: String, epochs: Int) -> [String] {
        ["generate", "train", "--text", TestedBinary.root.appendingPathComponent("Corpora/text/sample.txt").path,
         "--model", model, "--epochs", String(epochs), "--hidden-size", "32", "--embedding-size", "16", "--layers", "1",
         "--threads", "1", "--seed", "5", "--sample-length", "0"]
    }

    private func start(_ arguments: [String]) throws -> RunningCommand {
        try RunningCommand(TestedBinary.url, arguments, in: directory)
    }

    /// Runs `seqmodels arguments` to its end, failing the test unless it succeeds.
    @discardableResult
    private func finish(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let result = try start(arguments).wait()
        XCTAssertEqual(result.status, 0, "seqmodels \(arguments.joined(separator: " ")) failed:\n\(result.error)")
        return result
    }

    /// Waits until the run has saved a whole epoch (model and resume state), the moment to strike.
    private func waitForTheFirstSavedEpoch(of model: URL, while running: RunningCommand) throws {
        let state = model.appendingPathComponent("resume/state.json")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: state.path) {
            guard running.process.isRunning else {
                let result = running.wait()
                XCTFail("the run ended before its first epoch was saved (status \(result.status)):\n\(result.error)")
                throw XCTSkip("nothing to interrupt")
            }
            guard Date() < deadline else {
                running.process.terminate()
                throw XCTSkip("no epoch saved within 120 s: the machine is too busy for this test")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    /// The model directory loads and generates.
    private func assertLoads(_ model: URL, after what: String) throws {
        let result = try start(["generate", "--model", model.path, "--length", "5", "--seed", "1"]).wait()
        XCTAssertEqual(result.status, 0, "the model directory does not load after \(what):\n\(result.error)")
    }

    private func assertEveryMetricsLineIsWhole(_ model: URL) throws {
        let text = try String(contentsOf: model.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        XCTAssertTrue(text.hasSuffix("\n"), "metrics.jsonl ends in part of a line")
        for line in text.split(separator: "\n") {
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line.utf8)), "a broken line in metrics.jsonl: \(line)")
        }
    }

    // MARK: Files and disks

    /// The temporary files of atomic writes (`.NAME.tmp-PID-NUMBER`) in `folder`.
    private static func temporaryFiles(in folder: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.contains(".tmp-") }
    }

    /// Writes to `url` until a write fails; returns that write's errno.
    private static func fill(_ url: URL) -> Int32 {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let block = [UInt8](repeating: 0x55, count: 64 * 1024)
        while true {
            let written = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 { return errno }
            if written == 0 { return 0 }
        }
    }

    /// A tmpfs of `size` mounted at `directory/name` (unmounted in `tearDown`): a disk the test can fill.
    private func mountSmallDisk(_ name: String, size: String) throws -> URL {
        guard geteuid() == 0 else {
            throw XCTSkip("mounting a small tmpfs needs root (CI runs as root); "
                          + "SafeTensorsTests.testWriteFailingMidwayLeavesThePreviousFileIntact covers a failed write without it")
        }
        let place = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: place, withIntermediateDirectories: true)
        do {
            try Self.system("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", place.path])
        } catch {
            throw XCTSkip("cannot mount a tmpfs here (a container without the right to mount?): \(error)")
        }
        mounts.append(place)
        return place
    }

    private struct CommandFailed: Error, CustomStringConvertible { var description: String }

    @discardableResult
    private static func system(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailed(description: "\(executable) \(arguments.joined(separator: " ")): \(text)")
        }
        return text
    }
}
