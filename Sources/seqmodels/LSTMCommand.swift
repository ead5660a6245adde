import ArgumentParser

/// `seqmodels lstm …`: direct access to the LSTM layer, used to check parity with PyTorch.
struct LSTMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm",
        abstract: "Run the LSTM layer on tensors from safetensors files.",
        subcommands: []
    )
}
