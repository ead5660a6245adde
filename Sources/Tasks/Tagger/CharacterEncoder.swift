import SeqModels

/// A word's spelling as a vector: a character embedding read by a one-layer BiLSTM, whose
/// final forward state (after the last character) and final reverse state (after the first
/// character) are concatenated, `[2 * hiddenSize]` per word.
///
/// Why a BiLSTM rather than a CNN: it reuses the packed, tested LSTM (forward, backward and
/// PyTorch parity) instead of adding a convolution kernel; it sees prefixes and suffixes
/// of any length (`-ly`, `-ing`, `un-`, capitals, digits), which is what tags unseen words;
/// and encoding only the *distinct* words of a batch in one packed pass keeps it cheap
/// (a batch of 32 EWT sentences has ~500 tokens but fewer distinct words, ~5 characters
/// each, so the character LSTM costs a fraction of the sentence LSTM).
///
/// Parameters (PyTorch names, under the owner's prefix): `embedding.weight` `[characters, E]`,
/// `lstm.weight_ih_l0` … `lstm.bias_hh_l0_reverse` as in `nn.LSTM(E, H, bidirectional=True)`.
public struct CharacterEncoder: ParameterContainer, Sendable {
    public var embedding: Embedding
    public var lstm: LSTM

    /// Width of one word's encoding: `2 * hiddenSize`.
    public var outputSize: Int { lstm.configuration.outputSize }

    /// What `backward` needs from `forward`.
    public struct Cache {
        let packedIDs: [Int]
        let lstmCache: LSTM.Cache
        let wordCount: Int
    }

    /// An encoder for a character vocabulary of `characterCount` ids.
    public init(characterCount: Int, embeddingSize: Int, hiddenSize: Int, generator: inout SeededGenerator) {
        embedding = Embedding(vocabularySize: characterCount, dimension: embeddingSize, generator: &generator)
        lstm = LSTM(inputSize: embeddingSize, hiddenSize: hiddenSize, bidirectional: true, generator: &generator)
    }

    /// Encodes words given as character ids (each word non-empty): `[words.count, 2H]`,
    /// row `i` for `words[i]`. Inference: nothing cached.
    public func callAsFunction(_ words: [[Int]]) -> Tensor {
        guard !words.isEmpty else { return Tensor(shape: [0, outputSize]) }
        let layout = Self.layout(of: words)
        let input = layout.packedSequence(data: embedding.forward(layout.pack(words)))
        return Self.joinFinalStates(lstm(input).finalState.hidden, wordCount: words.count)
    }

    /// Encodes words for training and keeps what `backward` needs. Shapes as `callAsFunction`.
    public func forward(_ words: [[Int]], generator: inout SeededGenerator) -> (output: Tensor, cache: Cache) {
        let layout = Self.layout(of: words)
        let ids = layout.pack(words)
        let input = layout.packedSequence(data: embedding.forward(ids))
        let result = lstm.forward(input, generator: &generator)
        return (Self.joinFinalStates(result.finalState.hidden, wordCount: words.count),
                Cache(packedIDs: ids, lstmCache: result.cache, wordCount: words.count))
    }

    /// Adds the parameter gradients for `outputGradient` (`[words, 2H]`, the gradient of the
    /// loss with respect to `forward`'s output).
    public mutating func backward(_ cache: Cache, outputGradient: Tensor) {
        let H = lstm.configuration.hiddenSize, U = cache.wordCount
        precondition(outputGradient.shape == [U, 2 * H],
                     "Character encoder gradient must be [\(U), \(2 * H)], got \(outputGradient.shape)")
        // Split [U, 2H] into the [2, U, H] final-state gradient (forward slice, reverse slice).
        var hidden = Tensor(shape: [2, U, H])
        outputGradient.withUnsafeBufferPointer { g in
            hidden.withUnsafeMutableBufferPointer { h in
                guard let src = g.baseAddress, let dst = h.baseAddress else { return }
                for u in 0..<U {
                    let row: Int = u &* 2 &* H
                    (dst + u &* H).update(from: src + row, count: H)
                    (dst + (U &+ u) &* H).update(from: src + (row &+ H), count: H)
                }
            }
        }
        let stateGradient = LSTMState(hidden: hidden, cell: Tensor(shape: [2, U, H]))
        let rows = cache.packedIDs.count
        let inputGradient = lstm.backward(cache.lstmCache, outputGradient: Tensor(shape: [rows, 2 * H]),
                                          finalStateGradient: stateGradient).inputGradient
        embedding.backward(ids: cache.packedIDs, outputGradient: inputGradient)
    }

    public mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try embedding.visitParameters(prefix: prefix + "embedding.", visit)
        try lstm.visitParameters(prefix: prefix + "lstm.", visit)
    }

    /// The packing of `words`; every word must hold at least one character.
    private static func layout(of words: [[Int]]) -> PackingLayout {
        guard let layout = try? PackingLayout(lengths: words.map(\.count)) else {
            preconditionFailure("Character encoder needs at least one word and no empty word")
        }
        return layout
    }

    /// `[2, U, H]` final hidden states to `[U, 2H]` rows (forward state first).
    private static func joinFinalStates(_ hidden: Tensor, wordCount U: Int) -> Tensor {
        let H = hidden.shape[2]
        var out = Tensor(shape: [U, 2 * H])
        hidden.withUnsafeBufferPointer { h in
            out.withUnsafeMutableBufferPointer { o in
                guard let src = h.baseAddress, let dst = o.baseAddress else { return }
                for u in 0..<U {
                    let row: Int = u &* 2 &* H
                    (dst + row).update(from: src + u &* H, count: H)
                    (dst + (row &+ H)).update(from: src + (U &+ u) &* H, count: H)
                }
            }
        }
        return out
    }
}
