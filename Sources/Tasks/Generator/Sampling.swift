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
/// of every layer between steps.
///
/// One step is two GEMVs per layer (`W_ih x`, `W_hh h`), the gate nonlinearities over
/// hoisted pointers and one decoder GEMV (or the adaptive softmax's log-probabilities): no
/// packing. (A
/// one-row GEMM through `LSTM.callAsFunction` spends most of its time packing the
/// weight matrices, about 4x slower for a 2×256 model.) The arithmetic is PyTorch's
/// `nn.LSTM` cell, so the logits equal those of a whole-sequence forward pass.
public struct IncrementalDecoder {
    public let model: LanguageModel
    /// Scores `[V]` of the next token after the tokens fed so far (empty before the first).
    public private(set) var logits: [Float] = []
    /// Per layer: hidden and cell state `[H]`.
    private var hidden: [[Float]]
    private var cell: [[Float]]
    /// Per layer: `b_ih + b_hh` `[4H]`.
    private let biases: [[Float]]
    private var gates: [Float]

    public init(model: LanguageModel) {
        self.model = model
        let h = model.configuration.hiddenSize, layers = model.configuration.layerCount
        hidden = [[Float]](repeating: [Float](repeating: 0, count: h), count: layers)
        cell = hidden
        biases = model.lstm.cells.map { cell in zip(cell.biasIH.value.scalars, cell.biasHH.value.scalars).map { $0 + $1 } }
        gates = [Float](repeating: 0, count: 4 * h)
    }

    /// The state after the tokens fed so far, `[layers, 1, H]` each (zeros before the first).
    public var state: LSTMState {
        let h = model.configuration.hiddenSize, layers = model.configuration.layerCount
        return LSTMState(hidden: Tensor(shape: [layers, 1, h], scalars: hidden.flatMap { $0 }),
                         cell: Tensor(shape: [layers, 1, h], scalars: cell.flatMap { $0 }))
    }

    /// Runs `ids` through the model one step each, updating the state and the next-token logits.
    public mutating func feed(_ ids: [Int]) {
        for id in ids { step(id) }
    }

    /// Forgets every token fed.
    public mutating func reset() {
        self = IncrementalDecoder(model: model)
    }

    private mutating func step(_ id: Int) {
        let configuration = model.configuration
        let h = configuration.hiddenSize, e = configuration.embeddingSize, v = configuration.vocabularySize
        precondition(id >= 0 && id < v, "Token id \(id) is outside the vocabulary of \(v)")
        var input = [Float](repeating: 0, count: e)
        model.embedding.weight.value.withUnsafeBufferPointer { table in
            input.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: table.baseAddress! + id &* e, count: e) }
        }
        for layer in 0..<configuration.layerCount {
            let parameters = model.lstm.cells[layer]
            let width = input.count
            gates.withUnsafeMutableBufferPointer { g in
                let gp = g.baseAddress!
                biases[layer].withUnsafeBufferPointer { gp.update(from: $0.baseAddress!, count: 4 * h) }
                parameters.weightIH.value.withUnsafeBufferPointer { w in
                    input.withUnsafeBufferPointer { x in
                        BLAS.gemv(transposeA: false, m: 4 * h, n: width, a: w.baseAddress!, lda: width, x: x.baseAddress!, beta: 1, y: gp)
                    }
                }
                parameters.weightHH.value.withUnsafeBufferPointer { w in
                    hidden[layer].withUnsafeBufferPointer { x in
                        BLAS.gemv(transposeA: false, m: 4 * h, n: h, a: w.baseAddress!, lda: h, x: x.baseAddress!, beta: 1, y: gp)
                    }
                }
                hidden[layer].withUnsafeMutableBufferPointer { hb in
                    cell[layer].withUnsafeMutableBufferPointer { cb in
                        Self.cellUpdate(gates: gp, hidden: hb.baseAddress!, cell: cb.baseAddress!, count: h)
                    }
                }
            }
            input = hidden[layer]
        }
        guard let decoder = model.decoder else {
            logits = model.scores(Tensor(shape: [1, h], scalars: input)).scalars
            return
        }
        var scores = decoder.bias?.value.scalars ?? [Float](repeating: 0, count: v)
        decoder.weight.value.withUnsafeBufferPointer { w in
            input.withUnsafeBufferPointer { x in
                scores.withUnsafeMutableBufferPointer { y in
                    BLAS.gemv(transposeA: false, m: v, n: h, a: w.baseAddress!, lda: h, x: x.baseAddress!, beta: 1, y: y.baseAddress!)
                }
            }
        }
        logits = scores
    }

    /// `c ← σ(f)⊙c + σ(i)⊙tanh(g)`, `h ← σ(o)⊙tanh(c)` for pre-activations laid out i, f, g, o.
    @inline(__always)
    private static func cellUpdate(gates: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>,
                                   cell: UnsafeMutablePointer<Float>, count h: Int) {
        @inline(__always) func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }
        for j in 0..<h {
            let i = sigmoid(gates[j]), f = sigmoid(gates[h &+ j])
            let g = Foundation.tanh(gates[2 &* h &+ j]), o = sigmoid(gates[3 &* h &+ j])
            let c = f * cell[j] + i * g
            cell[j] = c
            hidden[j] = o * Foundation.tanh(c)
        }
    }
}
