import Foundation
import SeqModels

/// How the next token is drawn from a language model's scores.
///
/// The logits are divided by `temperature` and turned into probabilities; `topK` keeps the
/// k most probable tokens, then `topP` the smallest set of most probable tokens whose
/// probability reaches p (nucleus sampling); the draw is made from what is left,
/// renormalised. `temperature == 0` is greedy: the most probable allowed token (the lowest
/// id on ties), no random number drawn.
public struct SamplingOptions: Equatable, Sendable {
    public var temperature: Float
    public var topK: Int?
    public var topP: Float?

    /// Options; `temperature ≥ 0`, `topK ≥ 1`, `topP` in (0, 1] (checked by `validate()`).
    public init(temperature: Float = 1, topK: Int? = nil, topP: Float? = nil) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }

    /// Greedy decoding.
    public static let greedy = SamplingOptions(temperature: 0)

    /// Throws `TaskError` for a negative temperature, `topK < 1` or `topP` outside (0, 1].
    public func validate() throws {
        guard temperature >= 0, temperature.isFinite else { throw TaskError("the temperature must be 0 (greedy) or positive, got \(temperature)") }
        if let k = topK, k < 1 { throw TaskError("top-k must be at least 1, got \(k)") }
        if let p = topP, !(p > 0 && p <= 1) { throw TaskError("top-p must be in (0, 1], got \(p)") }
    }

    /// The token chosen from `logits` (`[V]`) among the ids where `allowed` is true (at least one).
    public func choose(from logits: [Float], allowed: [Bool], generator: inout SeededGenerator) -> Int {
        precondition(logits.count == allowed.count, "Sampling needs one allowance per logit: \(logits.count) vs \(allowed.count)")
        var best = -1
        var bestLogit = -Float.infinity
        for id in logits.indices where allowed[id] && (best < 0 || logits[id] > bestLogit) {
            best = id
            bestLogit = logits[id]
        }
        precondition(best >= 0, "Sampling needs at least one allowed token")
        if temperature == 0 { return best }

        // Probabilities of the allowed tokens, most probable first when a cut is needed.
        var candidates = logits.indices.filter { allowed[$0] }
        let needsOrder = topK != nil || topP != nil
        if needsOrder {
            candidates.sort { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
            if let k = topK, k < candidates.count { candidates.removeLast(candidates.count - k) }
        }
        let inverseTemperature = Double(1 / temperature)
        var weights = candidates.map { Foundation.exp(Double(logits[$0] - bestLogit) * inverseTemperature) }
        var total = weights.reduce(0, +)
        if let p = topP, p < 1 {
            var cumulative = 0.0
            var kept = weights.count
            for (index, w) in weights.enumerated() {
                cumulative += w
                if cumulative >= Double(p) * total { kept = index + 1; break }
            }
            candidates.removeLast(candidates.count - kept)
            weights.removeLast(weights.count - kept)
            total = weights.reduce(0, +)
        }
        var u = generator.nextDouble() * total
        for (index, w) in weights.enumerated() {
            u -= w
            if u < 0 { return candidates[index] }
        }
        return candidates[candidates.count - 1]
    }
}

/// A language model run one token at a time at batch 1, keeping the LSTM state `(h, c)`
/// between steps: feeding a token costs one step of the LSTM and one decoder GEMV.
public struct IncrementalDecoder {
    public let model: LanguageModel
    /// The state after the tokens fed so far, `nil` before the first.
    public private(set) var state: LSTMState?
    /// Scores `[V]` of the next token after the tokens fed so far (empty before the first).
    public private(set) var logits: [Float] = []

    public init(model: LanguageModel) {
        self.model = model
    }

    /// Runs `ids` through the model (all at once), updating the state and the next-token logits.
    public mutating func feed(_ ids: [Int]) {
        guard !ids.isEmpty else { return }
        let input = PackedSequence(data: model.embedding.forward(ids), batchSizes: [Int](repeating: 1, count: ids.count))
        let (output, finalState) = model.lstm(input, initialState: state)
        state = finalState
        let last = output.data.rows((ids.count - 1)..<ids.count)
        logits = model.decoder.forward(last).scalars
    }

    /// Forgets every token fed.
    public mutating func reset() {
        state = nil
        logits = []
    }
}
