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
        XCTAssertEqual(good.constraints, .init(heads: true, lineLength: true, punctuation: true, noRepeatedCharacterInALine: true,
                                               evenLinesRhyme: true, lineEndsNotRepeated: true))
        XCTAssertEqual(good.poem, "春风吹柳岸，花开满山谷。")
        let bad = AcrosticPoem(heads: "春花", lineLength: 5, lines: ["春风吹风岸。", "秋开满山。"], meanLogProbability: -2)
        XCTAssertEqual(bad.constraints, .init(heads: false, lineLength: false, punctuation: false, noRepeatedCharacterInALine: false,
                                              evenLinesRhyme: true, lineEndsNotRepeated: true))
    }

    func testOptionsOutOfRangeAreRefused() {
        XCTAssertThrowsError(try AcrosticOptions(beamWidth: 0).validate())
        XCTAssertThrowsError(try AcrosticOptions(repetitionPenalty: -1).validate())
        XCTAssertNoThrow(try AcrosticOptions(beamWidth: 4, repetitionPenalty: AcrosticOptions.defaultRepetitionPenalty).validate())
    }
}

/// Rhyme: the groups of 中华新韵 from the committed table, and acrostics that keep the rules.
final class GeneratorRhymeTests: XCTestCase {
    func testCharactersFallInTheRhymeGroupsOfTheirReadings() {
        XCTAssertEqual(RhymeGroups.names.count, 14)
        for (a, b) in [("长", "阳"), ("高", "绕"), ("啼", "地"), ("花", "家"), ("风", "东"), ("月", "雪"), ("人", "春")] {
            XCTAssertTrue(RhymeGroups.rhyme(a, b), "\(a) \(b)")
        }
        for (a, b) in [("高", "啼"), ("长", "风"), ("知", "你"), ("花", "月")] {
            XCTAssertFalse(RhymeGroups.rhyme(a, b), "\(a) \(b)")
        }
        XCTAssertEqual(RhymeGroups.names(of: RhymeGroups.mask(of: "思")), ["开", "支"], "sī and sāi")
        XCTAssertEqual(RhymeGroups.names(of: RhymeGroups.mask(of: "是")), ["齐", "支"], "shì and tí")
        XCTAssertEqual(RhymeGroups.mask(of: "，"), 0)
        XCTAssertEqual(RhymeGroups.mask(of: "ab"), 0)
        XCTAssertEqual(RhymeGroups.names(of: RhymeGroups.mask(of: "𠀀")), ["波"], "hē: characters outside the BMP are in the table too")
    }

    /// On the poem model, with sampling and with beam search, every poem keeps the rhyme rules,
    /// checked from its text.
    func testRhymingAcrosticsKeepTheRulesForManyHeads() throws {
        let model = try GeneratorTestSupport.poemModel()
        let letters = model.vocabulary.tokens.filter { $0.count == 1 && $0.first!.isLetter }
        var draw = SeededGenerator(seed: 5)
        var generator = SeededGenerator(seed: 6)
        for trial in 0..<16 {
            let heads = String((0..<4).map { _ in Character(letters[draw.nextInt(below: letters.count)]) })
            let options = AcrosticOptions(sampling: SamplingOptions(temperature: 1), beamWidth: trial % 2 == 0 ? 1 : 3,
                                          repetitionPenalty: AcrosticOptions.defaultRepetitionPenalty, rhyme: true)
            let poem = try model.acrosticPoem(heads: heads, lineLength: trial % 3 == 0 ? 5 : 7, options: options, generator: &generator)
            XCTAssertTrue(poem.constraints.evenLinesRhyme && poem.constraints.lineEndsNotRepeated, "\(heads): \(poem.lines)")
            XCTAssertTrue(poem.constraints.heads && poem.constraints.lineLength && poem.constraints.punctuation, "\(poem.lines)")
            let ends = poem.lines.map { String($0.dropLast().last!) }
            XCTAssertTrue(RhymeGroups.rhyme(ends[1], ends[3]), "\(ends)")
        }
    }

    func testTheRhymeChecksReadThePoemText() {
        let rhyming = AcrosticPoem(heads: "春花秋月", lineLength: 5, lines: ["春风吹柳岸，", "花开满山高。", "秋水映天边，", "月明照小桥。"],
                                   meanLogProbability: -2)
        XCTAssertTrue(rhyming.constraints.evenLinesRhyme && rhyming.constraints.lineEndsNotRepeated)
        let flat = AcrosticPoem(heads: "春花秋月", lineLength: 5, lines: ["春风吹柳岸，", "花开满山谷。", "秋水映天边，", "月明照小桥。"],
                                meanLogProbability: -2)
        XCTAssertFalse(flat.constraints.evenLinesRhyme, "谷 (u) and 桥 (iao) do not rhyme")
        let repeated = AcrosticPoem(heads: "春花秋月", lineLength: 5, lines: ["春风吹柳岸，", "花开岸山高。", "秋水映天边，", "月明照小桥。"],
                                    meanLogProbability: -2)
        XCTAssertFalse(repeated.constraints.lineEndsNotRepeated, "岸 ends line 1 and stands in line 2")
    }

    func testAVocabularyTooSmallToRhymeIsAClearError() {
        let model = GeneratorTestSupport.untrainedModel(tokens: ["春", "花", "秋", "月", "，", "。"])
        var generator = SeededGenerator(seed: 1)
        XCTAssertThrowsError(try model.acrosticPoem(heads: "春花秋月", lineLength: 3, options: AcrosticOptions(rhyme: true),
                                                    generator: &generator)) { error in
            XCTAssertTrue(String(describing: error).contains("no character of the model's vocabulary can end line"), "\(error)")
        }
    }
}
