import XCTest
import SeqModels
@testable import Tasks

/// Beam search, the repetition penalty, and the score and checks that come with every poem.
final class GeneratorAcrosticSearchTests: XCTestCase {
    /// The penalised log-probability of `lines` (ids, punctuation excluded) under `model`, fed
    /// token by token: the objective beam search maximises.
    private func score(_ model: GeneratorModel, lines: [[Int]], marks: [Int], penalty: Double) -> (score: Double, logProbability: Double) {
        var decoder = IncrementalDecoder(model: model.model)
        decoder.feed(model.startIDs())
        var total = 0.0, penalties = 0.0
        func take(_ id: Int) {
            total += AcrosticHypothesis.logSoftmax(decoder.logits)[id]
            decoder.feed([id])
        }
        for (line, mark) in zip(lines, marks) {
            for (index, id) in line.enumerated() {
                if line[..<index].contains(id) { penalties += penalty }
                take(id)
            }
            take(mark)
        }
        return (total - penalties, total)
    }

    /// With a beam as wide as the number of poems, beam search is exhaustive: it must find the
    /// poem that enumerating all 4⁴ of them finds, with and without a repetition penalty.
    func testAWideBeamFindsTheBestPoemThatEnumerationFinds() throws {
        let model = GeneratorTestSupport.untrainedModel(tokens: ["春", "花", "秋", "月", "，", "。"], seed: 5, hidden: 6)
        let letters = ["春", "花", "秋", "月"].map { model.vocabulary.id(of: $0)! }
        let marks = ["，", "。"].map { model.vocabulary.id(of: $0)! }
        for penalty: Float in [0, 1.5] {
            var best: (lines: [[Int]], score: Double, logProbability: Double)? = nil
            for a in letters { for b in letters { for c in letters { for d in letters {
                let lines = [[letters[0], a, b], [letters[1], c, d]]
                let (score, logProbability) = score(model, lines: lines, marks: marks, penalty: Double(penalty))
                if best == nil || score > best!.score { best = (lines, score, logProbability) }
            } } } }
            var generator = SeededGenerator(seed: 1)
            let poem = try model.acrosticPoem(heads: "春花", lineLength: 3,
                                              options: AcrosticOptions(beamWidth: 256, repetitionPenalty: penalty),
                                              generator: &generator)
            let expected = zip(best!.lines, ["，", "。"]).map { model.vocabulary.decode($0).joined() + $1 }
            XCTAssertEqual(poem.lines, expected, "penalty \(penalty)")
            XCTAssertEqual(poem.meanLogProbability, best!.logProbability / 8, accuracy: 1e-9, "penalty \(penalty)")
        }
    }

    /// On the trained poem model, a beam of 5 finds poems at least as probable as greedy
    /// decoding for most heads (beam search may prune the greedy path, so not always), and
    /// every poem keeps the format.
    func testBeamSearchOnThePoemModelKeepsTheFormatAndBeatsGreedyOnAverage() throws {
        let model = try GeneratorTestSupport.poemModel()
        var generator = SeededGenerator(seed: 3)
        var beamTotal = 0.0, greedyTotal = 0.0
        for heads in ["春花秋月", "山水清风", "明月松间", "白日依山"] {
            let beam = try model.acrosticPoem(heads: heads, lineLength: 5, options: AcrosticOptions(beamWidth: 5), generator: &generator)
            let greedy = try model.acrosticPoem(heads: heads, lineLength: 5, options: AcrosticOptions(sampling: .greedy),
                                                generator: &generator)
            for poem in [beam, greedy] {
                XCTAssertTrue(poem.constraints.heads && poem.constraints.lineLength && poem.constraints.punctuation, "\(poem)")
                XCTAssertEqual(GeneratorAcrosticTests.problems(poem: poem.poem, lines: poem.lines, heads: heads, length: 5), [])
            }
            beamTotal += beam.meanLogProbability
            greedyTotal += greedy.meanLogProbability
        }
        XCTAssertGreaterThan(beamTotal, greedyTotal, "a beam of 5 finds more probable poems than greedy decoding")
    }

    /// A penalty beyond any difference in log-probability keeps every character of a line
    /// distinct, in sampling and in beam search alike.
    func testAStrongRepetitionPenaltyKeepsTheCharactersOfALineDistinct() throws {
        let model = try GeneratorTestSupport.poemModel()
        var generator = SeededGenerator(seed: 11)
        let letters = model.vocabulary.tokens.filter { $0.count == 1 && $0.first!.isLetter }
        let headSets = (0..<5).map { set in (0..<4).map { letters[set * 37 + $0 * 11] }.joined() }
        for (trial, heads) in headSets.enumerated() {
            let sampling = AcrosticOptions(sampling: SamplingOptions(temperature: 1), repetitionPenalty: 1_000)
            let beam = AcrosticOptions(beamWidth: 3, repetitionPenalty: 1_000)
            for options in [sampling, beam] {
                let poem = try model.acrosticPoem(heads: heads, lineLength: 7, options: options, generator: &generator)
                XCTAssertTrue(poem.constraints.noRepeatedCharacterInALine, "trial \(trial): \(poem.lines)")
            }
        }
    }

    func testTheConstraintChecksReadThePoemText() {
        let good = AcrosticPoem(heads: "春花", lineLength: 5, lines: ["春风吹柳岸，", "花开满山谷。"], meanLogProbability: -2)
        XCTAssertEqual(good.constraints, .init(heads: true, lineLength: true, punctuation: true, noRepeatedCharacterInALine: true))
        XCTAssertEqual(good.poem, "春风吹柳岸，花开满山谷。")
        let bad = AcrosticPoem(heads: "春花", lineLength: 5, lines: ["春风吹风岸。", "秋开满山。"], meanLogProbability: -2)
        XCTAssertEqual(bad.constraints, .init(heads: false, lineLength: false, punctuation: false, noRepeatedCharacterInALine: false))
    }

    func testOptionsOutOfRangeAreRefused() {
        XCTAssertThrowsError(try AcrosticOptions(beamWidth: 0).validate())
        XCTAssertThrowsError(try AcrosticOptions(repetitionPenalty: -1).validate())
        XCTAssertNoThrow(try AcrosticOptions(beamWidth: 4, repetitionPenalty: AcrosticOptions.defaultRepetitionPenalty).validate())
    }
}
