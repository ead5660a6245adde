import SeqModels

/// SeqModels' (PyTorch's) LSTM weights as ONNX `LSTM` operators.
///
/// PyTorch stacks the gates of `weight_ih_l0` `[4H, I]`, `weight_hh_l0` `[4H, H]` and the two
/// biases in the order input, forget, cell (g), output; ONNX's `W` `[D, 4H, I]`, `R` `[D, 4H, H]`
/// and `B` `[D, 8H]` (input biases, then recurrent biases) in the order input, output, forget,
/// cell. `onnxGateOrder` reorders the blocks; direction 0 is forward, 1 reverse (`_reverse`).
enum LSTMExport {
    /// PyTorch's gate blocks (i, f, g, o) in ONNX's order (i, o, f, c).
    static let onnxGateOrder = [0, 3, 1, 2]

    /// `values` (`4 · blockSize` consecutive blocks, PyTorch's gate order) with its blocks in ONNX's order.
    static func reorderGates(_ values: [Float], blockSize: Int) -> [Float] {
        precondition(values.count == 4 * blockSize, "Expected four gate blocks of \(blockSize) values, got \(values.count)")
        return onnxGateOrder.flatMap { values[($0 * blockSize)..<(($0 + 1) * blockSize)] }
    }

    /// ONNX's `W`, `R`, `B` for layer `layer` of an LSTM whose PyTorch-named tensors are in `parameters`
    /// under `prefix` (e.g. `lstm.`).
    static func weights(_ parameters: [String: Tensor], prefix: String, layer: Int, configuration: LSTM.Configuration,
                        inputSize: Int) throws -> (w: [Float], r: [Float], b: [Float]) {
        let H = configuration.hiddenSize
        var w: [Float] = [], r: [Float] = [], b: [Float] = []
        for suffix in configuration.bidirectional ? ["", "_reverse"] : [""] {
            func tensor(_ kind: String, _ count: Int) throws -> [Float] {
                let name = "\(prefix)\(kind)_l\(layer)\(suffix)"
                guard let t = parameters[name] else { throw ExportError("the model has no tensor \(name)") }
                guard t.count == count else { throw ExportError("\(name) holds \(t.count) values, expected \(count)") }
                return t.scalars
            }
            w += reorderGates(try tensor("weight_ih", 4 * H * inputSize), blockSize: H * inputSize)
            r += reorderGates(try tensor("weight_hh", 4 * H * H), blockSize: H * H)
            b += reorderGates(try tensor("bias_ih", 4 * H), blockSize: H) + reorderGates(try tensor("bias_hh", 4 * H), blockSize: H)
        }
        return (w, r, b)
    }

    /// The final states of every layer of an exported stack: `[D, batch, H]` each.
    struct States {
        var hidden: [String] = []
        var cell: [String] = []
    }

    /// Emits the stacked LSTM over `x` (`[time, batch, inputSize]`, time-major) with the
    /// per-sequence `lengths` (`[batch]` int32, or `nil` for full length) and optional initial
    /// states per layer (`[D, batch, H]`). Returns the last layer's output `[time, batch, D·H]`
    /// (zero after each sequence's end) and every layer's final states.
    static func stack(_ builder: inout GraphBuilder, x: String, lengths: String?, parameters: [String: Tensor], prefix: String,
                      configuration: LSTM.Configuration, initial: States? = nil) throws -> (output: String, states: States) {
        let D = configuration.directionCount, H = configuration.hiddenSize
        var input = x, inputSize = configuration.inputSize
        var states = States()
        for layer in 0..<configuration.layerCount {
            let (w, r, b) = try weights(parameters, prefix: prefix, layer: layer, configuration: configuration, inputSize: inputSize)
            let name = "\(prefix)l\(layer)"
            let wName = builder.floats(name + ".W", w, shape: [D, 4 * H, inputSize])
            let rName = builder.floats(name + ".R", r, shape: [D, 4 * H, H])
            let bName = builder.floats(name + ".B", b, shape: [D, 8 * H])
            let inputs = [input, wName, rName, bName, lengths ?? "",
                          initial?.hidden[layer] ?? "", initial?.cell[layer] ?? ""]
            // Trailing optional inputs left empty are dropped; inner ones stay as "".
            var trimmed = inputs
            while trimmed.last == "" { trimmed.removeLast() }
            let outputs = builder.node("LSTM", trimmed, outputCount: 3, [
                Attribute.int("hidden_size", H),
                Attribute.string("direction", D == 2 ? "bidirectional" : "forward"),
            ])
            // Y [T, D, B, H] → [T, B, D, H] → [T, B, D·H]
            let transposed = builder.transpose(outputs[0], [0, 2, 1, 3])
            input = builder.op("Reshape", transposed, builder.int64s(builder.fresh("shape_TB_"), [0, 0, Int64(D * H)]))
            inputSize = D * H
            states.hidden.append(outputs[1])
            states.cell.append(outputs[2])
        }
        return (input, states)
    }
}

/// Why a model directory cannot be exported.
public struct ExportError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
