import SeqModels
import Tasks

/// The tagger as one ONNX graph.
///
/// Inputs: `word_ids` int64 `[batch, time]` (ids from `words.json`, `<unk>` for unknown
/// words), `char_ids` int64 `[batch, time, chars]` (each word's character ids from
/// `characters.json`, a word longer than `max_word_length` cut to its first and last halves as
/// `Tagger.characterIDs(of:)` does), `char_lengths` int64 `[batch, time]` (characters per word;
/// 1 at the positions after a sentence's end), `lengths` int64 `[batch]` (tokens per sentence).
/// Outputs: `scores` float `[batch, time, tags]` (the output layer's scores); without a CRF
/// `probabilities` (their softmax) and `tag_ids` int64 `[batch, time]` (the argmax); with a CRF
/// its `transitions` `[tags, tags]` (from row to column), `start_transitions` and
/// `end_transitions` `[tags]`, beside the scores, for a Viterbi decoding in the caller's
/// language (fifteen lines; the checker `Tools/check_onnx_export.py` has one): a Viterbi as an
/// ONNX `Loop` would be slower than any host loop and harder to read.
///
/// A tagger with character language models (`ContextualStringEmbeddings`) takes three more
/// inputs per model k (0, 1, … in the order of `config.json`'s `characterLanguageModels`):
/// `lm{k}_char_ids` int64 `[batch, lm_chars]` (what `ContextualStringEmbeddings.reading`
/// gives: the ids of `"\n" + tokens joined by spaces + " "`, reversed for a backward model),
/// `lm{k}_lengths` int64 `[batch]` (characters read per sentence) and `lm{k}_positions` int64
/// `[batch, time]` (per token the step whose state is its feature; 0 after a sentence's end).
enum TaggerExport {
    static func graph(_ tagger: Tagger) throws -> GraphBuilder {
        let parameters = Dictionary(uniqueKeysWithValues: tagger.namedParameters().map { ($0.name, $0.value) })
        let tagCount = tagger.vocabularies.tags.count
        var g = GraphBuilder(name: "seqmodels_pos_tagger")
        g.input("word_ids", .int64, ["batch", "time"], doc: "Word ids (words.json), <unk> for unknown words")
        g.input("char_ids", .int64, ["batch", "time", "chars"], doc: "Character ids (characters.json) of each word, padded")
        g.input("char_lengths", .int64, ["batch", "time"], doc: "Characters per word (1 after a sentence's end)")
        g.input("lengths", .int64, ["batch"], doc: "Tokens per sentence, at least 1")

        // Spelling: every word slot through the character BiLSTM, its final states side by side.
        let characterEncoder = tagger.characterEncoder
        let spellingWidth = characterEncoder.outputSize
        let charShape = g.op("Shape", "char_ids")
        let charCount = g.op("Slice", charShape, g.int64s("slice_2_start", [2]), g.int64s("slice_2_end", [3]))
        let wordsByChars = g.op("Concat", g.int64s("minus_one", [-1]), charCount, attributes: [Attribute.int("axis", 0)])
        let characters = g.op("Reshape", "char_ids", wordsByChars)  // [B·T, C]
        let characterTable = g.floats("char_encoder.embedding.weight", characterEncoder.embedding.weight.value)
        let embeddedCharacters = g.op("Gather", characterTable, characters)  // [B·T, C, E]
        let charactersTimeMajor = g.swapFirstAxes(embeddedCharacters)
        let characterLengths = g.cast(g.op("Reshape", "char_lengths", g.int64s("shape_flat", [-1])), to: .int32)
        let (_, characterStates) = try LSTMExport.stack(&g, x: charactersTimeMajor, lengths: characterLengths, parameters: parameters,
                                                        prefix: "char_encoder.lstm.", configuration: characterEncoder.lstm.configuration)
        // Y_h [2, B·T, Hc] → [B·T, 2, Hc] → [B, T, 2·Hc]
        let statesByWord = g.swapFirstAxes(characterStates.hidden[0])
        let sentenceShape = g.op("Shape", "word_ids")
        let spellingShape = g.op("Concat", sentenceShape, g.int64s("spelling_width", [Int64(spellingWidth)]),
                                 attributes: [Attribute.int("axis", 0)])
        let spelling = g.op("Reshape", statesByWord, spellingShape)

        let wordTable = g.floats("word_embedding.weight", tagger.wordEmbedding.weight.value)
        let words = g.op("Gather", wordTable, "word_ids")  // [B, T, Dw]
        var parts = [words, spelling]
        for (index, (name, embeddings)) in zip(tagger.configuration.characterLanguageModels, tagger.contextualEmbeddings).enumerated() {
            parts.append(try contextualFeatures(&g, embeddings, input: "lm\(index)", initializerPrefix: name))
        }
        let features = g.node("Concat", parts, [Attribute.int("axis", 2)])[0]
        let timeMajor = g.swapFirstAxes(features)
        let lengths32 = g.cast("lengths", to: .int32)
        let (encoded, _) = try LSTMExport.stack(&g, x: timeMajor, lengths: lengths32, parameters: parameters,
                                                prefix: "lstm.", configuration: tagger.lstm.configuration)
        let batchMajor = g.swapFirstAxes(encoded)
        let scores = g.linear(batchMajor, weight: tagger.output.weight.value, bias: tagger.output.bias?.value, name: "output")
        g.output(scores, as: "scores", .float, ["batch", "time", .fixed(tagCount)], doc: "Tag scores in the order of tags.json")

        if let crf = tagger.crf {
            g.output(g.floats("crf.transitions", crf.transitions.value), as: "transitions", .float, [.fixed(tagCount), .fixed(tagCount)],
                     doc: "CRF transition scores from the row's tag to the column's")
            g.output(g.floats("crf.start_transitions", crf.startTransitions.value), as: "start_transitions", .float,
                     [.fixed(tagCount)], doc: "CRF scores of starting a sentence with each tag")
            g.output(g.floats("crf.end_transitions", crf.endTransitions.value), as: "end_transitions", .float,
                     [.fixed(tagCount)], doc: "CRF scores of ending a sentence with each tag")
        } else {
            let probabilities = g.op("Softmax", "scores", attributes: [Attribute.int("axis", -1)])
            g.output(probabilities, as: "probabilities", .float, ["batch", "time", .fixed(tagCount)], doc: "Tag probabilities")
            let tagIDs = g.op("ArgMax", "scores", attributes: [Attribute.int("axis", -1), Attribute.int("keepdims", 0)])
            g.output(tagIDs, as: "tag_ids", .int64, ["batch", "time"], doc: "The most probable tag id per token")
        }
        return g
    }

    /// `[batch, time, H]`: the language model's top-layer outputs over `{input}_char_ids`,
    /// picked at `{input}_positions`.
    private static func contextualFeatures(_ g: inout GraphBuilder, _ embeddings: ContextualStringEmbeddings, input: String,
                                           initializerPrefix prefix: String) throws -> String {
        let model = embeddings.languageModel.model
        let H = embeddings.featureSize
        g.input("\(input)_char_ids", .int64, ["batch", .named("\(input)_chars")],
                doc: "Character ids (the language model's vocabulary) of the text it reads: \"\\n\" + tokens joined by spaces + \" \", "
                    + (embeddings.direction == .forward ? "left to right" : "reversed (a backward model)"))
        g.input("\(input)_lengths", .int64, ["batch"], doc: "Characters read per sentence")
        g.input("\(input)_positions", .int64, ["batch", "time"],
                doc: "Per token, the step (0-based) whose state is its feature: the space after it in the text read; 0 after a sentence's end")
        var parameters: [String: Tensor] = [:]
        for (name, value) in model.namedParameters() { parameters[prefix + "." + name] = value }
        let table = g.floats(prefix + ".embedding.weight", model.embedding.weight.value)
        let embedded = g.op("Gather", table, "\(input)_char_ids")   // [B, L, E]
        let (states, _) = try LSTMExport.stack(&g, x: g.swapFirstAxes(embedded), lengths: g.cast("\(input)_lengths", to: .int32),
                                               parameters: parameters, prefix: prefix + ".lstm.", configuration: model.lstm.configuration)
        let byBatch = g.swapFirstAxes(states)   // [B, L, H]
        // positions [B, T] → [B, T, 1] → [B, T, H], then rows of byBatch along its steps.
        let column = g.op("Unsqueeze", "\(input)_positions", g.int64s(g.fresh("axes_2_"), [2]))
        let shape = g.op("Concat", g.op("Shape", "\(input)_positions"), g.int64s(g.fresh("width_"), [Int64(H)]),
                         attributes: [Attribute.int("axis", 0)])
        let indices = g.op("Expand", column, shape)
        return g.op("GatherElements", byBatch, indices, attributes: [Attribute.int("axis", 1)])
    }
}
