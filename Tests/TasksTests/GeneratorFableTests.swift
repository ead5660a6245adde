import Foundation
import XCTest
import SeqModels
@testable import Tasks

/// The seed story's use case, with `generate train`'s default flags: a word-level model learns
/// Aesop's "Belling the Cat" (204 tokens) by heart and, greedily from "had a general",
/// continues it word for word. It is what
///
///     seqmodels generate train --text belling_the_cat.txt --level word --model M --seed 7
///     seqmodels generate --model M --prefix "had a general" --length 30 --temperature 0
///
/// runs: the defaults fitted to a small text (`SmallTextFit`), then `GeneratorTraining`.
final class GeneratorFableTests: XCTestCase {
    func testWithTheDefaultFlagsTheFableIsContinuedWordForWord() throws {
        let url = try GeneratorTestSupport.sharedCorpus("belling_the_cat.txt")
        let text = try String(contentsOf: url, encoding: .utf8)
        var options = GeneratorRecipe.defaultTrainerOptions
        options.seed = 7
        let fit = SmallTextFit(recipe: GeneratorRecipe(level: .word), options: options, text: text, leftToDefaults: .all)
        XCTAssertEqual(fit.recipe.validationFraction, 0, "nothing held out of a 204-token text")
        XCTAssertEqual(fit.options.schedule, .constant, "no plateau schedule without a validation part")
        XCTAssertEqual(fit.recipe.sampling, .random)
        XCTAssertEqual(fit.recipe.stride, 1)
        XCTAssertEqual(fit.recipe.sequenceLength, SmallTextFit.windowLength)
        XCTAssertEqual(fit.options.epochs, GeneratorRecipe.defaultTrainerOptions.epochs)
        XCTAssertEqual(fit.notes.count, 3, "\(fit.notes)")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fable-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (model, summary) = try GeneratorTraining.train(text: text, recipe: fit.recipe, options: fit.options, directory: directory)
        let loaded = try GeneratorModel.load(from: directory)

        var sampling = SeededGenerator(seed: 1)
        let sample = try loaded.sample(prefix: "had a general", length: 30, options: .greedy, generator: &sampling)
        let words = WordTokenizer().tokenize(text)
        let start = words.firstIndex(of: "general")! + 1
        let expected = Array(words[start..<(start + 30)])
        XCTAssertEqual(sample.tokens, expected, "best training loss \(summary.best?.evaluation.metric ?? .nan)")
        XCTAssertEqual(Array(expected.prefix(4)), ["council", "to", "consider", "what"])
        XCTAssertEqual(model.vocabulary.count, loaded.vocabulary.count)
    }

    /// A text large enough to measure on keeps every default, and a choice the user made is
    /// never changed, however small the text.
    func testOnlySmallTextsAndOnlyTheChoicesLeftToTheDefaultsChange() {
        let large = String(repeating: "the cat sat on the mat . ", count: 2_000)   // 14,000 tokens: 1,400 held out
        let options = GeneratorRecipe.defaultTrainerOptions
        let kept = SmallTextFit(recipe: GeneratorRecipe(level: .word), options: options, text: large, leftToDefaults: .all)
        XCTAssertEqual(kept.recipe, GeneratorRecipe(level: .word))
        XCTAssertEqual(kept.options.schedule, options.schedule)
        XCTAssertTrue(kept.notes.isEmpty)

        let small = "the cat sat on the mat . the dog sat on the log ."
        let chosen = SmallTextFit(recipe: GeneratorRecipe(level: .word), options: options, text: small, leftToDefaults: [.validation])
        XCTAssertEqual(chosen.recipe.validationFraction, 0)
        XCTAssertEqual(chosen.options.schedule, options.schedule, "--schedule given: kept")
        XCTAssertEqual(chosen.recipe.sampling, .consecutive, "--sampling or --seq-length given: kept")
        XCTAssertEqual(chosen.recipe.sequenceLength, GeneratorRecipe().sequenceLength)

        let explicit = SmallTextFit(recipe: GeneratorRecipe(level: .word), options: options, text: small, leftToDefaults: [])
        XCTAssertEqual(explicit.recipe, GeneratorRecipe(level: .word), "--validation-fraction given: nothing changes")
        XCTAssertTrue(explicit.notes.isEmpty)

        var lines = GeneratorRecipe(level: .char, records: .lines)
        lines.validationFraction = 0.1
        let poems = SmallTextFit(recipe: lines, options: options, text: "春眠不觉晓\n处处闻啼鸟\n", leftToDefaults: .all)
        XCTAssertEqual(poems.recipe.validationFraction, 0)
        XCTAssertEqual(poems.recipe.sampling, lines.sampling, "line records have no chunks to change")
        XCTAssertEqual(poems.notes.count, 2)
    }
}
