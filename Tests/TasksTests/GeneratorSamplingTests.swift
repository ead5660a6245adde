import Foundation
import XCTest
import SeqModels
@testable import Tasks

final class GeneratorSamplingTests: XCTestCase {
    let logits: [Float] = [0.5, 3.0, 2.0, -1.0, 2.5, 1.0]
    let allAllowed = [Bool](repeating: true, count: 6)

    func testGreedyPicksTheHighestAllowedScore() {
        var g = SeededGenerator(seed: 1)
        XCTAssertEqual(SamplingOptions.greedy.choose(from: logits, allowed: allAllowed, generator: &g), 1)
        var mask = allAllowed
        mask[1] = false
        XCTAssertEqual(SamplingOptions.greedy.choose(from: logits, allowed: mask, generator: &g), 4)
        XCTAssertEqual(g, SeededGenerator(seed: 1), "greedy decoding draws no random number")
    }

    func testTopKDrawsOnlyFromTheKBestTokens() {
        var g = SeededGenerator(seed: 2)
        let options = SamplingOptions(temperature: 1.5, topK: 2)
        let drawn = Set((0..<400).map { _ in options.choose(from: logits, allowed: allAllowed, generator: &g) })
        XCTAssertEqual(drawn, [1, 4])
        var h = SeededGenerator(seed: 2)
        XCTAssertEqual(SamplingOptions(temperature: 1, topK: 1).choose(from: logits, allowed: allAllowed, generator: &h), 1)
    }

    func testTopPKeepsTheSmallestNucleusReachingP() {
        // Probabilities ∝ exp(logits): 1 → 0.463, 4 → 0.281, 2 → 0.170, 5 → 0.063, 0 → 0.038, 3 → 0.013.
        var g = SeededGenerator(seed: 3)
        let options = SamplingOptions(temperature: 1, topP: 0.8)   // 0.463 + 0.281 < 0.8 ≤ + 0.170
        let drawn = Set((0..<1000).map { _ in options.choose(from: logits, allowed: allAllowed, generator: &g) })
        XCTAssertEqual(drawn, [1, 4, 2])
    }

    func testTemperatureSamplingFollowsTheSoftmax() {
        var g = SeededGenerator(seed: 4)
        let options = SamplingOptions(temperature: 1)
        var counts = [Int](repeating: 0, count: 6)
        let n = 20_000
        for _ in 0..<n { counts[options.choose(from: logits, allowed: allAllowed, generator: &g)] += 1 }
        let exps = logits.map { Foundation.exp(Double($0)) }
        let total = exps.reduce(0, +)
        for id in 0..<6 {
            XCTAssertEqual(Double(counts[id]) / Double(n), exps[id] / total, accuracy: 0.015, "token \(id)")
        }
    }

    func testInvalidOptionsAreClearErrors() {
        XCTAssertThrowsError(try SamplingOptions(temperature: -1).validate())
        XCTAssertThrowsError(try SamplingOptions(topK: 0).validate())
        XCTAssertThrowsError(try SamplingOptions(topP: 1.5).validate())
        XCTAssertNoThrow(try SamplingOptions(temperature: 0, topK: 3, topP: 0.9).validate())
    }

    func testTheSameSeedGivesTheSameTextAndAnotherSeedAnother() throws {
        let model = GeneratorTestSupport.untrainedModel(tokens: Array("abcdefghij \n").map(String.init), hidden: 16)
        let options = SamplingOptions(temperature: 1)
        var g1 = SeededGenerator(seed: 42), g2 = SeededGenerator(seed: 42), g3 = SeededGenerator(seed: 43)
        let a = try model.sample(prefix: "ab", length: 40, options: options, generator: &g1)
        let b = try model.sample(prefix: "ab", length: 40, options: options, generator: &g2)
        let c = try model.sample(prefix: "ab", length: 40, options: options, generator: &g3)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a.text, c.text)
        XCTAssertEqual(a.tokens.count, 40)
        XCTAssertTrue(a.text.hasPrefix("ab"))
        XCTAssertFalse(a.tokens.contains { $0.hasPrefix("<") }, "no special token is generated: \(a.tokens)")
    }

    func testIncrementalStepsMatchTheWholeSequenceLSTM() throws {
        let model = GeneratorTestSupport.untrainedModel(tokens: Array("abcdef").map(String.init), hidden: 6, layers: 2).model
        let ids = [4, 5, 6, 7, 8, 9, 4]
        var stepwise = IncrementalDecoder(model: model)
        stepwise.feed(ids)
        let layout = try PackingLayout(lengths: [ids.count])
        let (output, finalState) = model.lstm(layout.packedSequence(data: model.embedding.forward(ids)))
        let expected = model.decoder!.forward(output.data.rows((ids.count - 1)..<ids.count)).scalars
        XCTAssertEqual(stepwise.logits.count, expected.count)
        for (a, b) in zip(stepwise.logits, expected) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertLessThan(stepwise.state.hidden.maxAbsoluteDifference(finalState.hidden), 1e-5)
        XCTAssertLessThan(stepwise.state.cell.maxAbsoluteDifference(finalState.cell), 1e-5)
    }

    /// A stream model's prefix follows a line break (when the vocabulary has one), whether or
    /// not the prefix is empty: generation starts as at the start of a line, not from the zero
    /// state a model trained on carried-over state rarely saw. Without one, a prefix starts alone.
    func testAStreamPrefixFollowsALineBreak() throws {
        let tokens = Array("abcdef \n").map(String.init)
        let model = GeneratorTestSupport.untrainedModel(tokens: tokens, hidden: 8, layers: 2)
        let ids = { (text: String) in text.map { model.vocabulary.id(of: String($0))! } }
        for prefix in ["", "ab", "fed c"] {
            var g = SeededGenerator(seed: 1)
            let sample = try model.sample(prefix: prefix, length: 6, options: .greedy, generator: &g)
            var manual = IncrementalDecoder(model: model.model)
            manual.feed(ids("\n" + prefix))
            var expected = ""
            for _ in 0..<6 {
                let logits = manual.logits
                let best = logits.indices.filter { $0 >= model.vocabulary.specials.count }.max { logits[$0] < logits[$1] }!
                expected += model.vocabulary.tokens[best]
                manual.feed([best])
            }
            XCTAssertEqual(sample.text, prefix + expected, "prefix \(prefix.debugDescription)")
        }
        let noLineBreak = GeneratorTestSupport.untrainedModel(tokens: Array("abc").map(String.init), hidden: 8)
        XCTAssertEqual(noLineBreak.startIDs(beforeEmptyPrefix: false), [])
        XCTAssertEqual(noLineBreak.startIDs(beforeEmptyPrefix: true), [noLineBreak.vocabulary.specials.count])
    }

    func testUnknownPrefixCharactersBecomeUnknownTokensWithoutACrash() throws {
        let model = GeneratorTestSupport.untrainedModel(tokens: Array("abc ").map(String.init))
        var g = SeededGenerator(seed: 1)
        let sample = try model.sample(prefix: "abzé", length: 5, options: .greedy, generator: &g)
        XCTAssertEqual(sample.unknownPrefixTokens, ["z", "é"])
        XCTAssertEqual(sample.tokens.count, 5)
        XCTAssertTrue(sample.text.hasPrefix("abzé"))
    }

    func testLinesModelsStopAtEndOfSequence() throws {
        // A model whose decoder always prefers <eos> stops at once.
        var model = GeneratorTestSupport.untrainedModel(tokens: ["a", "b"], records: .lines)
        let eos = model.vocabulary.endID!
        model.model.decoder!.bias!.value[flat: eos] = 100
        var g = SeededGenerator(seed: 1)
        let sample = try model.sample(prefix: "", length: 10, options: SamplingOptions(temperature: 1), generator: &g)
        XCTAssertTrue(sample.endedAtEndOfSequence)
        XCTAssertEqual(sample.tokens, [])
    }
}
