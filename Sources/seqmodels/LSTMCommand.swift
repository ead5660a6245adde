import ArgumentParser
import Foundation
import SeqModels
import Tasks

/// `seqmodels lstm …`: direct access to the LSTM layer, used to check parity with PyTorch.
struct LSTMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm",
        abstract: "Run the LSTM layer on tensors from safetensors files.",
        subcommands: [LSTMForwardCommand.self, LSTMInitCommand.self]
    )
}

/// `seqmodels lstm forward`: one forward (and optionally backward) pass of an `nn.LSTM`
/// state dict over a padded batch, everything read from and written to safetensors files.
struct LSTMForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run an nn.LSTM state dict forward (and backward) on a padded batch.",
        discussion: """
        WEIGHTS holds one nn.LSTM state dict, float32, with PyTorch's names (weight_ih_l0, weight_hh_l0, \
        bias_ih_l0, bias_hh_l0, …, suffix _reverse for the backward direction), bare or under one module \
        prefix such as 'lstm.'. Input size, hidden size, layers and directions are read off the names and shapes.

        INPUT holds (D directions, L layers, H hidden units; all float32 but lengths):
          input        (T, B, I), time-major; values past each length are ignored
          lengths      (B) int64, optional: each in 1...T, any order (default: T)
          h0, c0       (D·L, B, H), optional, both or neither (default: zeros)
          grad_output  (T, B, D·H), optional: asks for the backward pass
          grad_h_n     (D·L, B, H), optional, with grad_output (default: zeros)
          grad_c_n     (D·L, B, H), optional, with grad_output (default: zeros)

        OUTPUT receives output (T, B, D·H), zero at padded positions, and h_n, c_n (D·L, B, H); with \
        grad_output, also the gradients of sum(output·grad_output) + sum(h_n·grad_h_n) + sum(c_n·grad_c_n): \
        grad_input (T, B, I), grad_h0 and grad_c0 (when h0, c0 were given), and grad.<name> for every \
        parameter <name> of WEIGHTS. This is what PyTorch computes with pack_padded_sequence(input, lengths, \
        enforce_sorted=False), nn.LSTM and pad_packed_sequence(total_length=T).

        Example:
          seqmodels lstm forward --weights lstm.safetensors --input batch.safetensors \\
              --output out.safetensors
        """
    )

    @Option(name: .long, help: "Safetensors file with the nn.LSTM state dict.")
    var weights: String

    @Option(name: .long, help: "Safetensors file with input, lengths, h0, c0, grad_output, grad_h_n, grad_c_n.")
    var input: String

    @Option(name: .long, help: "Safetensors file to write (replaced if it exists).")
    var output: String

    @Option(name: .long, help: "Module prefix of the LSTM in WEIGHTS, e.g. 'lstm.'; other tensors are then ignored. Found automatically when omitted (WEIGHTS must then hold the LSTM alone).")
    var prefix: String?

    @Option(name: .long, help: "BLAS threads (default: OpenBLAS's own choice).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        if let threads { BLAS.setThreadCount(threads) }
        let (lstm, parameterPrefix) = try LSTMFiles.loadLSTM(path: weights, prefix: prefix)
        let batch = try LSTMBatch(path: input, configuration: lstm.configuration)
        let result = try LSTMFiles.run(lstm, parameterPrefix: parameterPrefix, on: batch)
        try LSTMFiles.write(result, to: output)
    }
}

/// `seqmodels lstm init`: writes a freshly initialised LSTM, so that a checkpoint made by
/// SeqModels can be loaded into `torch.nn.LSTM`.
struct LSTMInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a randomly initialised LSTM as an nn.LSTM state dict.",
        discussion: """
        Parameters are drawn as in PyTorch, from U(-1/sqrt(H), 1/sqrt(H)), with SeqModels' seeded generator, \
        and saved as float32 under PyTorch's names (metadata format: pt), so that torch loads them strictly:
          lstm = torch.nn.LSTM(I, H, num_layers=L, bidirectional=True)
          lstm.load_state_dict(safetensors.torch.load_file("w.safetensors"))

        Example:
          seqmodels lstm init --input-size 5 --hidden-size 7 --layers 2 \\
              --bidirectional --seed 3 --output w.safetensors
        """
    )

    @Option(name: .long, help: "Input features per time step (I).")
    var inputSize: Int

    @Option(name: .long, help: "Hidden units per direction (H).")
    var hiddenSize: Int

    @Option(name: .long, help: "Stacked layers (L).")
    var layers: Int = 1

    @Flag(name: .long, help: "Add a reverse direction to every layer.")
    var bidirectional = false

    @Option(name: .long, help: "Seed of the random initialisation.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Module prefix for the names, e.g. 'lstm.' (default: none, as nn.LSTM.state_dict()).")
    var prefix: String = ""

    @Option(name: .long, help: "Safetensors file to write (replaced if it exists).")
    var output: String

    func validate() throws {
        guard inputSize >= 1 else { throw ValidationError("--input-size must be at least 1, got \(inputSize)") }
        guard hiddenSize >= 1 else { throw ValidationError("--hidden-size must be at least 1, got \(hiddenSize)") }
        guard layers >= 1 else { throw ValidationError("--layers must be at least 1, got \(layers)") }
    }

    func run() throws {
        var generator = SeededGenerator(seed: seed)
        let lstm = LSTM(inputSize: inputSize, hiddenSize: hiddenSize, layerCount: layers,
                        bidirectional: bidirectional, generator: &generator)
        var file = SafeTensors(metadata: ["format": "pt"])
        for (name, value) in lstm.namedParameters(prefix: prefix) { file.set(value, named: name) }
        try LSTMFiles.write(file, to: output)
    }
}

// MARK: - Reading, running, writing


/// A validated batch from the `--input` file, in PyTorch's padded time-major layout.
struct LSTMBatch {
    /// `(T, B, I)`.
    var input: Tensor
    /// One per sequence, each in 1...T.
    var lengths: [Int]
    var initialState: LSTMState?
    /// `(T, B, D·H)`, when a backward pass is asked for.
    var outputGradient: Tensor?
    /// `(D·L, B, H)` each; zeros for a missing one.
    var finalStateGradient: LSTMState?

    static let knownNames = ["input", "lengths", "h0", "c0", "grad_output", "grad_h_n", "grad_c_n"]

    /// Reads and checks every tensor against the LSTM's configuration; each failure names the tensor.
    init(path: String, configuration: LSTM.Configuration) throws {
        let file = try LSTMFiles.open(path)
        if let unknown = file.names.first(where: { !Self.knownNames.contains($0) }) {
            throw TaskError("\(path): tensor '\(unknown)' is not understood; the input file may hold only "
                                   + Self.knownNames.map { "'\($0)'" }.joined(separator: ", "))
        }
        let I = configuration.inputSize, H = configuration.hiddenSize
        let D = configuration.directionCount, L = configuration.layerCount
        guard let inputShape = file.shape(of: "input") else {
            throw TaskError("\(path): tensor 'input' is missing: it must hold the batch, (T, B, \(I)) float32, time-major")
        }
        guard inputShape.count == 3 else {
            throw TaskError("\(path): tensor 'input' has shape \(inputShape), but it must be (T, B, I) = (T, B, \(I)), time-major")
        }
        let T = inputShape[0], B = inputShape[1]
        guard T >= 1, B >= 1 else {
            throw TaskError("\(path): tensor 'input' has shape \(inputShape): it needs at least one time step and one sequence")
        }
        let states = "(directions·layers, batch, hidden) = (\(D)·\(L), \(B), \(H))"
        input = try LSTMFiles.float32(file, "input", path: path, shape: [T, B, I],
                                      meaning: "(T, B, input size) with the input size \(I) of the LSTM's weight_ih_l0")

        if file.contains("lengths") {
            guard file.dtype(of: "lengths") == .int64 else {
                throw TaskError("\(path): tensor 'lengths' is \(file.dtype(of: "lengths")!), but it must be int64 (I64)")
            }
            guard file.shape(of: "lengths") == [B] else {
                throw TaskError("\(path): tensor 'lengths' has shape \(file.shape(of: "lengths")!), but it must be [\(B)], one length per sequence of 'input'")
            }
            let values = try file.int64Array("lengths")
            if let bad = values.firstIndex(where: { $0 < 1 || $0 > Int64(T) }) {
                throw TaskError("\(path): tensor 'lengths' gives sequence \(bad) the length \(values[bad]), but lengths must be between 1 and T = \(T)")
            }
            lengths = values.map { Int($0) }
        } else {
            lengths = Array(repeating: T, count: B)
        }

        switch (file.contains("h0"), file.contains("c0")) {
        case (true, true):
            initialState = LSTMState(
                hidden: try LSTMFiles.float32(file, "h0", path: path, shape: [D * L, B, H], meaning: states),
                cell: try LSTMFiles.float32(file, "c0", path: path, shape: [D * L, B, H], meaning: states))
        case (false, false):
            initialState = nil
        case (let hasH0, _):
            let (present, absent) = hasH0 ? ("h0", "c0") : ("c0", "h0")
            throw TaskError("\(path): tensor '\(absent)' is missing: '\(present)' is given, and an LSTM's initial state needs both h0 and c0")
        }

        if file.contains("grad_output") {
            outputGradient = try LSTMFiles.float32(file, "grad_output", path: path, shape: [T, B, D * H],
                                                   meaning: "(T, B, directions·hidden) = (\(T), \(B), \(D)·\(H)), like the output")
            let zeros = Tensor(shape: [D * L, B, H])
            let dh = file.contains("grad_h_n") ? try LSTMFiles.float32(file, "grad_h_n", path: path, shape: [D * L, B, H], meaning: states) : zeros
            let dc = file.contains("grad_c_n") ? try LSTMFiles.float32(file, "grad_c_n", path: path, shape: [D * L, B, H], meaning: states) : zeros
            finalStateGradient = LSTMState(hidden: dh, cell: dc)
        } else {
            if let stray = ["grad_h_n", "grad_c_n"].first(where: file.contains) {
                throw TaskError("\(path): tensor '\(stray)' is given without 'grad_output': the backward pass needs grad_output (T, B, \(D * H))")
            }
            outputGradient = nil
            finalStateGradient = nil
        }
    }
}

/// File handling of `seqmodels lstm`: every user-facing failure becomes a `TaskError`.
enum LSTMFiles {
    static func open(_ path: String) throws -> SafeTensors {
        do {
            return try SafeTensors(contentsOf: URL(fileURLWithPath: path))
        } catch let error as SafeTensorsError {
            throw TaskError(error.description)
        }
    }

    /// A float32 tensor of exactly `shape`, or an error naming it.
    static func float32(_ file: SafeTensors, _ name: String, path: String, shape: [Int], meaning: String) throws -> Tensor {
        guard let found = file.shape(of: name), let dtype = file.dtype(of: name) else {
            throw TaskError("\(path): tensor '\(name)' is missing")
        }
        guard dtype == .float32 else {
            throw TaskError("\(path): tensor '\(name)' is \(dtype), but it must be float32 (F32)")
        }
        guard found == shape else {
            throw TaskError("\(path): tensor '\(name)' has shape \(found), but \(shape) is needed: \(meaning)")
        }
        do {
            return try file.floatTensor(name)
        } catch let error as SafeTensorsError {
            throw TaskError(error.description)
        }
    }

    /// The LSTM stored in a state-dict file, and the prefix of its parameter names.
    static func loadLSTM(path: String, prefix requested: String?) throws -> (LSTM, String) {
        let file = try open(path)
        let prefix: String
        if let requested {
            prefix = requested
        } else {
            let candidates = Set(file.names.filter { $0.hasSuffix("weight_ih_l0") }.map { String($0.dropLast("weight_ih_l0".count)) })
            if candidates.count == 1 {
                prefix = candidates.first!
            } else {
                // None or several: let the state-dict reader explain.
                do {
                    _ = try LSTMStateDict.configuration(of: file)
                } catch let error as LSTMStateDictError {
                    throw TaskError("\(path): \(error)")
                }
                prefix = ""
            }
            if let stray = file.names.first(where: { !$0.hasPrefix(prefix) }) {
                throw TaskError("\(path): tensor '\(stray)' is not a parameter of the LSTM '\(prefix)weight_ih_l0…': "
                                       + "the weights file must hold one nn.LSTM state dict (pass --prefix '\(prefix)' to ignore other tensors)")
            }
        }
        let configuration: LSTM.Configuration
        do {
            configuration = try LSTMStateDict.configuration(of: file, prefix: prefix)
        } catch let error as LSTMStateDictError {
            throw TaskError("\(path): \(error)")
        }
        var unused = SeededGenerator(seed: 0)
        var lstm = LSTM(configuration, generator: &unused)
        var tensors: [String: Tensor] = [:]
        for (name, shape) in LSTMStateDict.parameterShapes(for: configuration, prefix: prefix) {
            tensors[name] = try float32(file, name, path: path, shape: shape, meaning: "the shape nn.LSTM gives it")
        }
        do {
            try lstm.loadParameters(tensors, prefix: prefix)
        } catch let error as ParameterLoadingError {
            throw TaskError("\(path): \(error)")
        }
        return (lstm, prefix)
    }

    /// Runs the LSTM over the batch (and backward when a gradient is given); returns the tensors to write.
    static func run(_ model: LSTM, parameterPrefix: String, on batch: LSTMBatch) throws -> SafeTensors {
        var lstm = model
        let T = batch.input.shape[0]
        let packed = try packPaddedSequence(batch.input, lengths: batch.lengths, enforceSorted: false)
        var result = SafeTensors(metadata: ["format": "pt"])
        guard let outputGradient = batch.outputGradient else {
            let (output, finalState) = lstm(packed, initialState: batch.initialState)
            result.set(try padPackedSequence(output, totalLength: T).padded, named: "output")
            result.set(finalState.hidden, named: "h_n")
            result.set(finalState.cell, named: "c_n")
            return result
        }
        var generator = SeededGenerator(seed: 0)   // dropout is 0 for a state dict: never drawn from
        let (output, finalState, cache) = lstm.forward(packed, initialState: batch.initialState, generator: &generator)
        result.set(try padPackedSequence(output, totalLength: T).padded, named: "output")
        result.set(finalState.hidden, named: "h_n")
        result.set(finalState.cell, named: "c_n")

        let packedGradient = try packPaddedSequence(outputGradient, lengths: batch.lengths, enforceSorted: false)
        let (inputGradient, initialStateGradient) = lstm.backward(cache, outputGradient: packedGradient.data,
                                                                  finalStateGradient: batch.finalStateGradient)
        result.set(try padPackedSequence(packed.replacingData(inputGradient), totalLength: T).padded, named: "grad_input")
        if batch.initialState != nil {
            result.set(initialStateGradient.hidden, named: "grad_h0")
            result.set(initialStateGradient.cell, named: "grad_c0")
        }
        for (name, gradient) in lstm.namedGradients(prefix: parameterPrefix) {
            result.set(gradient, named: "grad." + name)
        }
        return result
    }

    static func write(_ file: SafeTensors, to path: String) throws {
        do {
            try file.write(to: URL(fileURLWithPath: path))
        } catch let error as SafeTensorsError {
            throw TaskError(error.description)
        }
    }
}
