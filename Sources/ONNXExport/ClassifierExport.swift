import Foundation
import SeqModels
import Tasks

/// The classifier as one ONNX graph.
///
/// Inputs: `token_ids` int64 `[batch, time]` (ids from `vocabulary`, any id after a text's
/// end), `lengths` int64 `[batch]` (each at least 1), and with a bag of n-grams `ngram_ids`
/// int64 `[batch, features]` (a text's distinct n-gram ids, the rest of the row filled with
/// `ngram_padding_id`, the number of n-grams, whose row of the bag is zero).
/// Outputs: `logits` and `probabilities`, float `[batch, labels]`.
///
/// The BiLSTM is ONNX's `LSTM` with `sequence_lens`, so every text is read to its own end and
/// no padding reaches the pooling: max pooling sets the steps after a text's end to -∞, mean
/// pooling sums its real steps only and divides by its length, last pooling takes `Y_h` (the
/// forward state at the last token and the reverse state at the first).
enum ClassifierExport {
    static func graph(_ classifier: TrainedClassifier) throws -> GraphBuilder {
        let model = classifier.model
        let configuration = model.configuration
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.value) })
        var g = GraphBuilder(name: "seqmodels_text_classifier")
        g.input("token_ids", .int64, ["batch", "time"], doc: "Token ids (vocabulary.json), padded after each text's end")
        g.input("lengths", .int64, ["batch"], doc: "Tokens per text, at least 1")

        let embedded = g.op("Gather", g.floats("embedding.weight", model.embedding.weight.value), "token_ids")
        let timeMajor = g.swapFirstAxes(embedded)
        let lengths32 = g.cast("lengths", to: .int32)
        let (encoded, states) = try LSTMExport.stack(&g, x: timeMajor, lengths: lengths32, parameters: parameters,
                                                     prefix: "lstm.", configuration: configuration.lstm)
        let pooled = pool(&g, encoded: encoded, finalHidden: states.hidden.last!, pooling: configuration.pooling,
                          featureCount: configuration.lstm.outputSize)
        var logits = g.linear(pooled, weight: model.output.weight.value, bias: model.output.bias?.value, name: "output")

        if let bag = model.ngrams, let features = configuration.ngramBag {
            g.input("ngram_ids", .int64, ["batch", "ngram_slots"],
                    doc: "Distinct n-gram ids (ngrams.json) of each text, the rest filled with ngram_padding_id (\(features.featureCount))")
            // The table with one zero row appended for the padding id.
            let rows = bag.weight.value.scalars + [Float](repeating: 0, count: configuration.labelCount)
            let table = g.floats("ngrams.weight_padded", rows, shape: [features.featureCount + 1, configuration.labelCount])
            let gathered = g.op("Gather", table, "ngram_ids")  // [B, S, C]
            let summed = g.op("ReduceSum", gathered, g.int64s(g.fresh("axis1_"), [1]), attributes: [Attribute.int("keepdims", 0)])
            logits = g.op("Add", logits, summed)
        }
        g.output(logits, as: "logits", .float, ["batch", .fixed(configuration.labelCount)], doc: "Unnormalised label scores")
        let probabilities = g.op("Softmax", "logits", attributes: [Attribute.int("axis", -1)])
        g.output(probabilities, as: "probabilities", .float, ["batch", .fixed(configuration.labelCount)],
                 doc: "Label probabilities in the order of labels.json")
        return g
    }

    /// `[batch, pooled]` from the time-major `encoded` `[T, B, F]`, looking at each text's own steps.
    static func pool(_ g: inout GraphBuilder, encoded: String, finalHidden: String, pooling: SequencePooling,
                     featureCount F: Int) -> String {
        func maskTB1() -> String {
            // steps [T, 1] < lengths [1, B] → [T, B, 1]
            let shape = g.op("Shape", encoded)
            let time = g.op("Gather", shape, g.int64s(g.fresh("zero_"), [0], shape: []))
            let steps = g.op("Range", g.int64s(g.fresh("start_"), [0], shape: []), time, g.int64s(g.fresh("delta_"), [1], shape: []))
            let column = g.op("Unsqueeze", steps, g.int64s(g.fresh("axes_"), [1]))
            let row = g.op("Unsqueeze", "lengths", g.int64s(g.fresh("axes_"), [0]))
            return g.op("Unsqueeze", g.op("Less", column, row), g.int64s(g.fresh("axes_"), [2]))
        }
        func maxPool(_ mask: String) -> String {
            let masked = g.op("Where", mask, encoded, g.scalar(-.infinity, "minus_infinity"))
            return g.op("ReduceMax", masked, attributes: [Attribute.ints("axes", [0]), Attribute.int("keepdims", 0)])
        }
        func meanPool(_ mask: String) -> String {
            let masked = g.op("Where", mask, encoded, g.scalar(0, "zero"))
            let sum = g.op("ReduceSum", masked, g.int64s(g.fresh("axis0_"), [0]), attributes: [Attribute.int("keepdims", 0)])
            let count = g.op("Unsqueeze", g.cast("lengths", to: .float),
                             g.int64s(g.fresh("axes_"), [1]))
            return g.op("Div", sum, count)
        }
        switch pooling {
        case .max: return maxPool(maskTB1())
        case .mean: return meanPool(maskTB1())
        case .maxMean:
            let mask = maskTB1()
            return g.op("Concat", maxPool(mask), meanPool(mask), attributes: [Attribute.int("axis", 1)])
        case .last:
            // Y_h [D, B, H] → [B, D, H] → [B, D·H]
            let batchFirst = g.swapFirstAxes(finalHidden)
            return g.op("Reshape", batchFirst, g.int64s(g.fresh("shape_B_"), [0, Int64(F)]))
        }
    }
}
