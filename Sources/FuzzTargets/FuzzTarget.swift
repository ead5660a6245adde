import Foundation

/// One parser of untrusted bytes, as a coverage-guided fuzzer drives it: `run` feeds it one
/// input and returns; a parser may refuse the input by throwing (the expected outcome for
/// most inputs), but must never trap, hang or touch memory it does not own.
///
/// The same targets run in two places: under libFuzzer in `seqmodels-fuzz` (built with
/// `-sanitize=fuzzer,address` by `Tools/fuzz.sh`), and in the ordinary test suite
/// (`FuzzRegressionTests`), which replays every committed seed and every input that ever
/// found a bug. Beyond "no crash", some targets check properties that must hold for any
/// input (the CSV reader gives the same rows whatever the chunks it is fed in); a broken
/// property stops the process with `FuzzPropertyFailure`'s message, which the fuzzer
/// reports as a finding.
///
/// Many targets read the first byte of the input as a choice of options (delimiter,
/// mapping, chunk size…) and the rest as the file: `FuzzInput` splits them.
public struct FuzzTarget: Sendable {
    /// The name `Tools/fuzz.sh` and `seqmodels-fuzz` take (`csv`, `xml-sentences`…).
    public let name: String
    /// What the target reads, for `Tools/fuzz.sh --list`.
    public let summary: String
    private let body: @Sendable (FuzzInput) throws -> Void
    private let makeSeeds: @Sendable () throws -> [[UInt8]]

    init(name: String, summary: String, seeds: @escaping @Sendable () throws -> [[UInt8]] = { [] },
         body: @escaping @Sendable (FuzzInput) throws -> Void) {
        self.name = name
        self.summary = summary
        self.makeSeeds = seeds
        self.body = body
    }

    /// Feeds `bytes` to the parser. Errors the parser throws are its refusals and end the run
    /// quietly; the outcome that matters is that this returns at all.
    public func run(_ bytes: [UInt8]) {
        _ = refusal(of: bytes)
    }

    /// Feeds `bytes` to the parser and returns its refusal (the error's message), or `nil`
    /// when it accepted the input. A broken property stops the process.
    public func refusal(of bytes: [UInt8]) -> String? {
        do {
            try body(FuzzInput(bytes))
            return nil
        } catch let failure as FuzzPropertyFailure {
            // A property of the harness's own, not a refusal: the fuzzer must see it.
            fatalError("\(name): \(failure.message)")
        } catch {
            // A refusal with a message: what every malformed input should get.
            return String(describing: error)
        }
    }

    /// Seed inputs the target makes itself, beside the committed ones in `Tests/Fuzz/seeds`:
    /// the files of the model targets' own tiny models (options byte first), which change
    /// whenever a format does.
    public func generatedSeeds() throws -> [[UInt8]] {
        try makeSeeds()
    }

    /// Every target, in the order `Tools/fuzz.sh` runs them.
    public static let all: [FuzzTarget] = CorpusTargets.all + ModelTargets.all

    /// The target called `name`, if any.
    public static func named(_ name: String) -> FuzzTarget? {
        all.first { $0.name == name }
    }
}

/// A property the harness checks was broken for this input (not a parser's refusal).
struct FuzzPropertyFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// A fuzzer's input: an options byte (0 when the input is empty) and the bytes after it.
struct FuzzInput {
    let options: UInt8
    let body: [UInt8]
    let whole: [UInt8]

    init(_ bytes: [UInt8]) {
        whole = bytes
        options = bytes.first ?? 0
        body = Array(bytes.dropFirst())
    }

    /// `count` consecutive bits of the options byte from `bit` on, as a number.
    func bits(_ bit: Int, count: Int) -> Int {
        Int(options >> UInt8(bit)) & ((1 << count) - 1)
    }
}

/// A directory of this process's own for the files a target writes (the file readers take
/// paths): `$TMPDIR/seqmodels-fuzz-PID/PURPOSE`. `Tools/fuzz.sh` points `TMPDIR` at a RAM
/// disk of its own and removes it afterwards; the tests call `FuzzTarget.removeScratchFiles()`.
struct ScratchDirectory: Sendable {
    let url: URL

    /// This process's root of scratch directories.
    static var root: URL {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? FileManager.default.temporaryDirectory
        return base.appendingPathComponent("seqmodels-fuzz-\(getpid())", isDirectory: true)
    }

    init(_ purpose: String) {
        url = Self.root.appendingPathComponent(purpose, isDirectory: true)
        try? FileManager.default.removeItem(at: url)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            fatalError("the fuzz harness cannot create its scratch directory \(url.path): \(error)")
        }
    }

    /// Writes `bytes` to the file `name` in the directory and returns its path.
    func write(_ bytes: [UInt8], named name: String) -> String {
        let path = url.appendingPathComponent(name).path
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        } catch {
            fatalError("the fuzz harness cannot write \(path): \(error)")
        }
        return path
    }
}

extension FuzzTarget {
    /// Removes the files the targets wrote in this process (they are rewritten on the next run).
    public static func removeScratchFiles() {
        try? FileManager.default.removeItem(at: ScratchDirectory.root)
    }
}
