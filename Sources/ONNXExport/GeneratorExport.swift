import SeqModels
import Tasks

/// The generator's language model as one ONNX graph that serves both as one decoding step and
/// as a whole-sequence scorer.
///
/// Inputs: `token_ids` int64 `[batch, time]` (ids from `vocabulary.json`; `time` is 1 for a
/// step), `lengths` int64 `[batch]` (tokens per row; the states returned are those after each
/// row's last token), `h0` and `c0` float `[layers, batch, hidden]` (zeros at the start).
/// Outputs: `log_probabilities` float `[batch, time, vocabulary]`, the normalised log-probability
/// of every next token after each position (full softmax, or the adaptive softmax's exact
/// log-probabilities, head and clusters joined as `AdaptiveLogSoftmax.logProbabilities`), and
/// `hn`, `cn` `[layers, batch, hidden]`.
///
/// Sampling: feed `<bos>` (models trained on lines) or the prefix, then one token at a time with
/// the returned states. Perplexity: feed whole texts and add the log-probabilities of each
/// following token.
enum GeneratorExport {
    static func graph(_ generator: GeneratorModel) throws -> GraphBuilder {
        let model = generator.model
        let configuration = generator.configuration
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.value) })
        let L = configuration.layerCount, H = configuration.hiddenSize, V = configuration.vocabularySize
        var g = GraphBuilder(name: "seqmodels_language_model")
        g.input("token_ids", .int64, ["batch", "time"], doc: "Token ids (vocabulary.json)")
        g.input("lengths", .int64, ["batch"], doc: "Tokens per row, at least 1")
        g.input("h0", .float, [.fixed(L), "batch", .fixed(H)], doc: "Hidden states per layer (zeros to start)")
        g.input("c0", .float, [.fixed(L), "batch", .fixed(H)], doc: "Cell states per layer (zeros to start)")

        var initial = LSTMExport.States()
        for layer in 0..<L {
            let index = g.int64s(g.fresh("layer_"), [Int64(layer)])
            initial.hidden.append(g.op("Gather", "h0", index))  // [1, B, H]
            initial.cell.append(g.op("Gather", "c0", index))
        }
        let embedded = g.op("Gather", g.floats("embedding.weight", model.embedding.weight.value), "token_ids")
        let timeMajor = g.swapFirstAxes(embedded)
        let lengths32 = g.cast("lengths", to: .int32)
        let (encoded, states) = try LSTMExport.stack(&g, x: timeMajor, lengths: lengths32, parameters: parameters,
                                                     prefix: "lstm.", configuration: configuration.lstm, initial: initial)
        let hidden = g.swapFirstAxes(encoded)  // [B, T, H]

        let logProbabilities: String
        if let decoder = model.decoder {
            let logits = g.linear(hidden, weight: decoder.weight.value, bias: decoder.bias?.value, name: "decoder")
            logProbabilities = g.op("LogSoftmax", logits, attributes: [Attribute.int("axis", -1)])
        } else if let adaptive = model.adaptiveDecoder {
            let head = g.op("LogSoftmax", g.linear(hidden, weight: adaptive.head.weight.value, bias: adaptive.head.bias?.value,
                                                   name: "decoder.head"), attributes: [Attribute.int("axis", -1)])
            func slice(_ x: String, _ start: Int, _ end: Int) -> String {
                g.op("Slice", x, g.int64s(g.fresh("start_"), [Int64(start)]), g.int64s(g.fresh("end_"), [Int64(end)]),
                     g.int64s(g.fresh("axis_"), [2]))
            }
            var parts = [slice(head, 0, adaptive.shortlistSize)]
            for (i, cluster) in adaptive.clusters.enumerated() {
                let projected = g.linear(hidden, weight: cluster.projection.weight.value, bias: nil, name: "decoder.tail.\(i).0")
                let tail = g.op("LogSoftmax", g.linear(projected, weight: cluster.output.weight.value, bias: nil,
                                                       name: "decoder.tail.\(i).1"), attributes: [Attribute.int("axis", -1)])
                let clusterScore = slice(head, adaptive.shortlistSize + i, adaptive.shortlistSize + i + 1)
                parts.append(g.op("Add", tail, clusterScore))
            }
            logProbabilities = g.node("Concat", parts, [Attribute.int("axis", 2)])[0]
        } else {
            throw ExportError("the language model has no output layer")
        }
        g.output(logProbabilities, as: "log_probabilities", .float, ["batch", "time", .fixed(V)],
                 doc: "Log-probability of every next token after each position")
        let hn = g.node("Concat", states.hidden, [Attribute.int("axis", 0)])[0]
        let cn = g.node("Concat", states.cell, [Attribute.int("axis", 0)])[0]
        g.output(hn, as: "hn", .float, [.fixed(L), "batch", .fixed(H)], doc: "Hidden states after each row's last token")
        g.output(cn, as: "cn", .float, [.fixed(L), "batch", .fixed(H)], doc: "Cell states after each row's last token")
        return g
    }
}
