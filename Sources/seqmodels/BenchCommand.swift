import ArgumentParser

/// `seqmodels bench …`: speed measurements next to PyTorch.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure speed next to PyTorch on the same machine.",
        subcommands: []
    )
}
