import ArgumentParser

/// `seqmodels corpus …`: inspect corpora in XML, CSV, CoNLL-U or plain text.
struct CorpusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "Inspect corpora: counts, tag and label frequencies, out-of-vocabulary rates.",
        subcommands: []
    )
}
