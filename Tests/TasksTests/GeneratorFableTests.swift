import Foundation
import XCTest
import SeqModels
@testable import Tasks

/// The word-level test: a small model memorises Aesop's "Belling the Cat" and,
/// greedily from "had a general", continues it word for word. Overlapping chunks (stride 8)
/// give the model many starting points; 60 full-batch Adam steps are enough (35 already
/// pass for seeds 1, 2 and 4), so the margin is comfortable.
final class GeneratorFableTests: XCTestCase {
    func testGreedyGenerationContinuesTheFableWordForWord() throws {
        let url = try GeneratorTestSupport.sharedCorpus("belling_the_cat.txt")
        let text = try String(contentsOf: url, encoding: .utf8)
        let data = try GeneratorData(text: text, level: .word, mode: .stream, sequenceLength: 24, stride: 8,
                                     validationFraction: 0)
        var generator = SeededGenerator(seed: 1)
        var model = LanguageModel(GeneratorConfiguration(level: .word, records: .stream, vocabularySize: data.vocabulary.count,
                                                         embeddingSize: 32, hiddenSize: 96, layerCount: 1, dropout: 0),
                                  generator: &generator)
        let loss = GeneratorTestSupport.fit(&model, on: data.training, steps: 60, learningRate: 0.02)
        let generatorModel = GeneratorModel(model: model, vocabulary: data.vocabulary)

        var sampling = SeededGenerator(seed: 1)
        let sample = try generatorModel.sample(prefix: "had a general", length: 30, options: .greedy, generator: &sampling)
        let words = WordTokenizer().tokenize(text)
        let start = words.firstIndex(of: "general")! + 1
        let expected = Array(words[start..<(start + 30)])
        XCTAssertEqual(sample.tokens, expected, "final training loss \(loss)")
        XCTAssertEqual(Array(expected.prefix(4)), ["council", "to", "consider", "what"])
    }
}
