import ArgumentParser

/// The `seqmodels` command-line tool: thin parsing over the SeqModels and Corpus libraries.
@main
struct SeqModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seqmodels",
        abstract: "LSTM sequence models on the CPU: tagging, classification, generation.",
        subcommands: [LSTMCommand.self, BenchCommand.self, CorpusCommand.self, ClassifyCommand.self, TagCommand.self]
    )
}
