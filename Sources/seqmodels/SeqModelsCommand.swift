import ArgumentParser
import Corpus
import Foundation
import ONNXExport
import SeqModels
import Tasks

/// The `seqmodels` command-line tool: thin parsing over the SeqModels, Corpus and Tasks libraries.
@main
struct SeqModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seqmodels",
        abstract: "LSTM sequence models on the CPU: tagging, classification, generation.",
        version: SeqModelsVersion.text,
        subcommands: [TagCommand.self, ClassifyCommand.self, GenerateCommand.self, CorpusCommand.self, LSTMCommand.self, BenchCommand.self,
                      ServeCommand.self, ExportCommand.self, LanguageModelCommand.self]
    )

    /// Sets the allocator up for the LSTM's large per-pass buffers (see `ProcessMemory`) and BLAS's
    /// idle threads to sleep at once (see `BLAS.makeIdleThreadsSleepAtOnce()`), then runs the command;
    /// every error of every command ends here (`finish(with:)`).
    /// Under `mpirun`, the process first joins the job (`Launch`); an error on any rank ends
    /// the whole job, with the rank named in the message.
    static func main() {
        ProcessMemory.retainFreedMemory()
        BLAS.makeIdleThreadsSleepAtOnce()
        var group: MPIProcessGroup?
        do {
            try checkCommandName(Array(CommandLine.arguments.dropFirst()))
            var command = try parseAsRoot()
            group = try Launch.joinMPIJobIfLaunched()
            if let shared = group, shared.size > 1, !((command as? any SharesWorkAcrossProcesses)?.sharesWork ?? false) {
                // Nothing to share: rank 0 runs the command as if alone (one server, one export, one
                // print); the others wait for it in MPI_Finalize.
                if shared.isLeader {
                    FileHandle.standardError.write(Data("note: this command runs in one process; the other \(shared.size - 1) wait\n".utf8))
                    try command.run()
                }
            } else {
                try Launch.$group.withValue(group) { try command.run() }
            }
            try checkStandardOutputWritten()
            group?.finish()
        } catch {
            finish(with: error, group: group)
        }
    }

    /// `print` buffers standard output and drops a failed write without a word: flushing it here
    /// makes a full disk or a failing device the tool's error (`ExitStatus.cannotWrite`) instead
    /// of a success that lost its output.
    static func checkStandardOutputWritten() throws {
        if let reason = StandardOutput.flush() {
            throw OutputWriteError(description: "cannot write the standard output: \(reason)")
        }
    }

    /// Refuses an unknown command with the nearest known one (ArgumentParser alone would print the
    /// root help for `seqmodels srve --help` and exit 0).
    static func checkCommandName(_ arguments: [String]) throws {
        guard let first = arguments.first, !first.hasPrefix("-") else { return }
        let names = configuration.subcommands.map { $0._commandName } + ["help"]
        guard !names.contains(first) else { return }
        let nearest = names.map { (name: $0, distance: editDistance($0, first)) }.min { $0.distance < $1.distance }
        let suggestion = nearest.map { $0.distance <= max(2, first.count / 3) ? "; did you mean '\($0.name)'?" : "" } ?? ""
        throw ValidationError("unknown command '\(first)'\(suggestion) (the commands: \(names.dropLast().joined(separator: ", ")))")
    }

    /// Levenshtein distance between two short words.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// The one error path of the tool: help and `--version` go to standard output with status 0;
    /// anything else goes to standard error as `error: MESSAGE` (usage errors followed by the
    /// usage line) and ends the process with its `ExitStatus`.
    static func finish(with error: any Error, group: MPIProcessGroup? = nil) -> Never {
        if let code = error as? ExitCode {
            group?.finish()
            Foundation.exit(code.rawValue)
        }
        let parserCode = exitCode(for: error)
        if parserCode == .success {
            print(fullMessage(for: error))
            Foundation.exit(ExitStatus.success.rawValue)
        }
        let status: ExitStatus
        let message: String
        if parserCode == .validationFailure {
            status = .usage
            var text = fullMessage(for: error)
            if text.hasPrefix("Error: ") { text = String(text.dropFirst("Error: ".count)) }
            message = text
        } else {
            status = ExitStatus(of: error)
            message = "\(error)"
        }
        guard let group, group.size > 1 else {
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
            Foundation.exit(status.rawValue)
        }
        // The other processes wait for this one in their next collective call: end them all.
        FileHandle.standardError.write(Data("error (process \(group.rank) of \(group.size)): \(message)\n".utf8))
        group.abort(status: status.rawValue)
    }
}

/// How `seqmodels` ends (the README lists them): the BSD `sysexits.h` codes for the usual cases.
enum ExitStatus: Int32 {
    case success = 0
    /// Anything else that went wrong (training diverged, the server could not start).
    case failure = 1
    /// The command line itself: an unknown command or option, a value out of range (`EX_USAGE`).
    case usage = 64
    /// What the command read: a malformed corpus or CSV, an unknown label, an empty text, a missing
    /// or damaged model directory, a file that cannot be read (`EX_DATAERR`).
    case badInput = 65
    /// A file could not be written: a full disk, no permission, a vanished directory (`EX_IOERR`).
    case cannotWrite = 74
    // Ctrl-C (SIGINT) ends a command by the signal, which shells report as 130: no case of its own.

    /// The status an error of the libraries ends the tool with.
    init(of error: any Error) {
        switch error {
        case let error as CheckpointError:
            if case .writeFailed = error.problem { self = .cannotWrite } else { self = .badInput }
        case let error as SafeTensorsError:
            if case .writeFailed = error.problem { self = .cannotWrite } else { self = .badInput }
        case let error as TrainingError:
            switch error {
            case .cannotWrite: self = .cannotWrite
            case .nonFiniteLoss: self = .failure
            case .invalidOption: self = .usage
            default: self = .badInput
            }
        case is TaskError, is CorpusError, is VocabularyError, is WordVectorsError, is ParameterLoadingError,
             is LSTMStateDictError, is EmbeddingError, is OptimizerStateError, is PackingError, is ExportError:
            self = .badInput
        case let error as CocoaError where (256..<512).contains(error.code.rawValue):  // Foundation's file-reading codes
            self = .badInput
        case let error as CocoaError where (512..<768).contains(error.code.rawValue):  // its file-writing codes
            self = .cannotWrite
        case is OutputWriteError:
            self = .cannotWrite
        default:
            self = .failure
        }
    }
}

/// A command's output could not be written (a full disk, a failing device): ends the
/// tool with `ExitStatus.cannotWrite`.
struct OutputWriteError: Error, CustomStringConvertible {
    var description: String
}

/// What `seqmodels --version` prints: the version, the build, and what computes (`ComputeReport`).
enum SeqModelsVersion {
    static let number = "0.13.0-dev"

    static var text: String {
        #if DEBUG
        let build = "debug build"
        #else
        let build = "release build"
        #endif
        return (["seqmodels \(number) (\(build))"] + ComputeReport().lines).joined(separator: "\n")
    }
}
