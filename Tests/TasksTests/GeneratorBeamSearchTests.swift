import XCTest
import SeqModels
@testable import Tasks

/// `GeneratorModel.beamSearch`: a beam of one is greedy decoding, and a beam as wide as the
/// number of continuations finds what enumerating them all finds.
final class GeneratorBeamSearchTests: XCTestCase {
    /// The log-probability of `ids` after `prefix` under `model`, and whether it ends in `<eos>`.
    private func logProbability(_ model: GeneratorModel, prefix: [Int], ids: [Int]) -> Double {
        var decoder = IncrementalDecoder(model: model.model)
        decoder.feed(prefix)
        var total = 0.0
        for id in ids {
            total += AcrosticHypothesis.logSoftmax(decoder.logits)[id]
            decoder.feed([id])
        }
        return total
    }

    func testABeamOfOneIsGreedyDecoding() throws {
        let model = GeneratorTestSupport.untrainedModel(tokens: ["a", "b", "c", "d", " "], seed: 4, hidden: 8)
        var generator = SeededGenerator(seed: 1)
        let greedy = try model.sample(prefix: "ab", length: 12, options: .greedy, generator: &generator)
        XCTAssertEqual(try model.beamSearch(prefix: "ab", length: 12, beamWidth: 1), greedy)
    }

    /// Stream models never end: the best of all 3⁴ continuations of 4 tokens by total log-probability.
    func testAWideBeamFindsTheMostProbableStreamContinuation() throws {
        let model = GeneratorTestSupport.untrainedModel(tokens: ["a", "b", "c"], seed: 6, hidden: 6)
        let ids = ["a", "b", "c"].map { model.vocabulary.id(of: $0)! }
        let prefix = [model.vocabulary.id(of: "a")!]
        var best: (ids: [Int], score: Double)? = nil
        for w in ids { for x in ids { for y in ids { for z in ids {
            let score = logProbability(model, prefix: prefix, ids: [w, x, y, z])
            if best == nil || score > best!.score { best = ([w, x, y, z], score) }
        } } } }
        let found = try model.beamSearch(prefix: "a", length: 4, beamWidth: 81)
        XCTAssertEqual(found.tokens, model.vocabulary.decode(best!.ids))
        XCTAssertFalse(found.endedAtEndOfSequence)
    }

    /// Lines models may end at `<eos>` before the length: the best of every continuation of up
    /// to 3 tokens (ended by `<eos>`, or cut at 3) by mean log-probability per token.
    func testAWideBeamComparesEndedAndOpenLinesByMeanLogProbability() throws {
        let model = GeneratorTestSupport.untrainedModel(tokens: ["a", "b"], records: .lines, seed: 8, hidden: 6)
        let letters = ["a", "b"].map { model.vocabulary.id(of: $0)! }
        let end = model.vocabulary.endID!
        let start = [model.vocabulary.beginID!]
        var best: (ids: [Int], score: Double, ended: Bool)? = nil
        func consider(_ ids: [Int], ended: Bool) {
            let scored = ended ? ids + [end] : ids
            let score = logProbability(model, prefix: start, ids: scored) / Double(scored.count)
            if best == nil || score > best!.score { best = (ids, score, ended) }
        }
        var partial: [[Int]] = [[]]
        for depth in 0..<3 {
            for ids in partial { consider(ids, ended: true) }
            partial = partial.flatMap { ids in letters.map { ids + [$0] } }
            if depth == 2 { for ids in partial { consider(ids, ended: false) } }
        }
        let found = try model.beamSearch(prefix: "", length: 3, beamWidth: 64)
        XCTAssertEqual(found.tokens, model.vocabulary.decode(best!.ids))
        XCTAssertEqual(found.endedAtEndOfSequence, best!.ended)
    }

    func testABadBeamOrLengthIsRefused() {
        let model = GeneratorTestSupport.untrainedModel(tokens: ["a", "b"])
        XCTAssertThrowsError(try model.beamSearch(prefix: "a", length: 3, beamWidth: 0))
        XCTAssertThrowsError(try model.beamSearch(prefix: "a", length: -1, beamWidth: 2))
    }
}
