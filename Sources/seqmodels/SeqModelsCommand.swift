import ArgumentParser
import SeqModels

/// The `seqmodels` command-line tool: thin parsing over the SeqModels, Corpus and Tasks libraries.
@main
struct SeqModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seqmodels",
        abstract: "LSTM sequence models on the CPU: tagging, classification, generation.",
        version: SeqModelsVersion.text,
        subcommands: [TagCommand.self, ClassifyCommand.self, GenerateCommand.self, CorpusCommand.self, LSTMCommand.self, BenchCommand.self,
                      ServeCommand.self, ExportCommand.self]
    )

    /// Sets the allocator up for the LSTM's large per-pass buffers (see `ProcessMemory`) and BLAS's
    /// idle threads to sleep at once (see `BLAS.makeIdleThreadsSleepAtOnce()`), then runs the command.
    static func main() {
        ProcessMemory.retainFreedMemory()
        BLAS.makeIdleThreadsSleepAtOnce()
        main(nil)
    }
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
