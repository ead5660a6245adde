import XCTest
import GradientChecking
@testable import SeqModels
import Corpus
@testable import Tasks

/// Finite-difference checks of the character encoder and of the whole tagger's loss.
final class TaggerGradientTests: XCTestCase {
    /// A tagger small enough to check every parameter numerically, with dropout off (and with
    /// `languageModels`, reading a forward and a backward character model of 4 units each).
    static func tinyTagger(seed: UInt64 = 3, dropout: Float = 0, wordDropout: Float = 0,
                           outputLayer: TaggerConfiguration.OutputLayer = .softmax,
                           languageModels: Bool = false) -> (Tagger, [TaggerExample]) {
        let sentences = [
            TaggedSentence(tokens: ["the", "cat", "sat", "."], tags: ["DET", "NOUN", "VERB", "PUNCT"]),
            TaggedSentence(tokens: ["cats", "sleep"], tags: ["NOUN", "VERB"]),
            TaggedSentence(tokens: ["a", "dog", "ran"], tags: ["DET", "NOUN", "VERB"]),
        ]
        var configuration = TaggerConfiguration()
        configuration.wordEmbeddingSize = 3
        configuration.characterEmbeddingSize = 2
        configuration.characterHiddenSize = 2
        configuration.hiddenSize = 3
        configuration.layerCount = 2
        configuration.dropout = dropout
        configuration.wordDropout = wordDropout
        configuration.outputLayer = outputLayer
        var generator = SeededGenerator(seed: seed)
        let models = languageModels ? [ContextualStringEmbeddingsTests.languageModel(direction: .forward, seed: 5),
                                       ContextualStringEmbeddingsTests.languageModel(direction: .backward, seed: 6)] : []
        var tagger = try! Tagger(configuration: configuration, training: sentences, languageModels: models, generator: &generator)
        // Scale the N(0, 1) embeddings down so that no unit saturates and differences stay accurate.
        tagger.wordEmbedding.weight.value.scale(by: 0.5)
        tagger.characterEncoder.embedding.weight.value.scale(by: 0.5)
        // The training words plus one unknown word ("cow") and a repeated spelling ("cat").
        var examples = try! tagger.encode(sentences)
        examples.append(contentsOf: try! tagger.encode([TaggedSentence(tokens: ["cow", "cat"], tags: ["NOUN", "NOUN"])]))
        return (tagger, examples)
    }

    func testCharacterEncoderGradientsMatchFiniteDifferences() {
        var generator = SeededGenerator(seed: 11)
        let encoder = CharacterEncoder(characterCount: 6, embeddingSize: 3, hiddenSize: 2, generator: &generator)
        let words = [[1, 2, 3], [4], [2, 5, 5, 1], [3, 1]]
        let projection = randomProjection([words.count, 4], seed: 5)
        var analytic = encoder
        analytic.zeroGradients()
        var unused = SeededGenerator(seed: 0)
        let (output, cache) = analytic.forward(words, generator: &unused)
        XCTAssertEqual(output.shape, [4, 4])
        // Training multiplies through BLAS and inference through the packed kernel: the same sums in
        // other orders, which may differ in the last bits on some processors (they did on an Intel
        // Xeon). Each gate is a sum of 3 + 2 products and 2 biases of magnitude below 4 (a float32
        // sum of n terms is within n·ε·Σ|terms| of the exact one), and the difference can grow
        // through the 4 steps of the longest word: 4 · 7 · ε · 4 bounds it (about 1.3e-5), where
        // a wrong gate or step would differ by 1e-2 or more.
        let tolerance = 4 * 7 * Float.ulpOfOne * 4
        XCTAssertLessThanOrEqual(output.maxAbsoluteDifference(encoder(words)), tolerance,
                                 "training and inference outputs agree without dropout")
        analytic.backward(cache, outputGradient: projection)
        for (name, gradient) in analytic.namedGradients() {
            XCTAssertGreaterThan(gradient.squaredNorm, 0, "\(name) receives gradient")
            let value = encoder.namedParameters().first { $0.name == name }!.value
            checkGradient(of: { x in
                var probe = encoder
                probe.setParameter(name, to: x)
                return projectedSum(probe(words), projection)
            }, analytic: gradient, at: value, name)
        }
    }

    func testTaggerLossGradientsMatchFiniteDifferences() {
        checkTaggerLossGradients(outputLayer: .softmax)
    }

    /// The BiLSTM-CRF: the CRF's negative log-likelihood per token, back through every layer.
    func testCRFTaggerLossGradientsMatchFiniteDifferences() {
        let (tagger, _) = Self.tinyTagger(outputLayer: .crf)
        XCTAssertEqual(tagger.namedParameters().suffix(3).map(\.name), ["crf.transitions", "crf.start_transitions", "crf.end_transitions"])
        checkTaggerLossGradients(outputLayer: .crf)
    }

    private func checkTaggerLossGradients(outputLayer: TaggerConfiguration.OutputLayer, file: StaticString = #filePath, line: UInt = #line) {
        let (tagger, examples) = Self.tinyTagger(outputLayer: outputLayer)
        Self.checkTaggerLossGradients(tagger: tagger, examples: examples, file: file, line: line)
    }

    /// Checks the gradient of `tagger`'s mean loss on `examples` (11 tokens) for every parameter.
    static func checkTaggerLossGradients(tagger: Tagger, examples: [TaggerExample], file: StaticString = #filePath, line: UInt = #line) {
        var analytic = tagger
        analytic.zeroGradients()
        var generator = SeededGenerator(seed: 1)
        let loss = analytic.accumulateGradients(on: examples, generator: &generator)
        XCTAssertEqual(loss.count, 11)
        XCTAssertGreaterThan(loss.mean, 0)
        for (name, gradient) in analytic.namedGradients() {
            let value = tagger.namedParameters().first { $0.name == name }!.value
            // At most 8 elements per tensor, spread over it, to stay fast in debug builds.
            let stride = max(1, value.count / 8)
            checkGradient(of: { x in
                var probe = tagger
                probe.setParameter(name, to: x)
                var g = SeededGenerator(seed: 1)
                return probe.accumulateGradients(on: examples, generator: &g).mean
            }, analytic: gradient, at: value, stencil: .threePoint,
               elements: Array(Swift.stride(from: 0, to: value.count, by: stride)), name, file: file, line: line)
        }
    }

    func testWordEmbeddingRowsOfUnusedWordsGetNoGradient() {
        let (tagger, examples) = Self.tinyTagger()
        var model = tagger
        model.zeroGradients()
        var generator = SeededGenerator(seed: 1)
        _ = model.accumulateGradients(on: Array(examples.prefix(1)), generator: &generator)   // "the cat sat ."
        let gradient = model.wordEmbedding.weight.gradient
        let width = gradient.shape[1]
        for id in 0..<gradient.shape[0] {
            let row = Tensor(shape: [width], scalars: Array(gradient.scalars[(id * width)..<((id + 1) * width)]))
            let used = examples[0].words.contains(id)
            XCTAssertEqual(row.squaredNorm > 0, used, "row \(id) (\(model.vocabularies.words.token(of: id)))")
        }
    }

    func testTrainingWithDropoutIsDeterministicForASeed() {
        let (tagger, examples) = Self.tinyTagger(dropout: 0.3, wordDropout: 0.3)
        func run(seed: UInt64) -> (Double, [(name: String, gradient: Tensor)]) {
            var model = tagger
            model.zeroGradients()
            var generator = SeededGenerator(seed: seed)
            let loss = model.accumulateGradients(on: examples, generator: &generator)
            return (loss.sum, model.namedGradients())
        }
        let (a, ga) = run(seed: 9), (b, gb) = run(seed: 9), (c, _) = run(seed: 10)
        XCTAssertEqual(a, b)
        XCTAssertEqual(ga.map(\.gradient), gb.map(\.gradient))
        XCTAssertNotEqual(a, c, "another seed draws other dropout masks")
    }
}

extension ParameterContainer {
    /// Replaces the value of the parameter called `name` (for finite differences).
    mutating func setParameter(_ name: String, to value: Tensor) {
        var found = false
        visitParameters(prefix: "") { n, parameter in
            if n == name { parameter.value = value; found = true }
        }
        precondition(found, "no parameter named \(name)")
    }
}
