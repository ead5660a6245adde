import Foundation
import XCTest
import SeqModels
@testable import Tasks

/// A language model with an adaptive softmax: chosen by vocabulary size, decoded token by token
/// as the whole-sequence pass scores it, saved and loaded, trained.
final class GeneratorAdaptiveSoftmaxTests: XCTestCase {
    func testTheSoftmaxIsChosenByVocabularySizeUnlessGiven() throws {
        XCTAssertNil(try GeneratorRecipe.Softmax.automatic.cutoffs(vocabularySize: 69), "tinyshakespeare's characters: full")
        XCTAssertEqual(try GeneratorRecipe.Softmax.automatic.cutoffs(vocabularySize: 6_648), [1_000, 4_000], "Tang characters")
        XCTAssertEqual(try GeneratorRecipe.Softmax.automatic.cutoffs(vocabularySize: 2_500), [1_000])
        XCTAssertNil(try GeneratorRecipe.Softmax.full.cutoffs(vocabularySize: 50_000))
        XCTAssertEqual(try GeneratorRecipe.Softmax.adaptive(cutoffs: [10, 20]).cutoffs(vocabularySize: 30), [10, 20])
        XCTAssertThrowsError(try GeneratorRecipe.Softmax.adaptive(cutoffs: [10, 40]).cutoffs(vocabularySize: 30)) { error in
            XCTAssertTrue(String(describing: error).contains("stay below the vocabulary's 30 tokens"), "\(error)")
        }
    }

    private func model(seed: UInt64 = 3) -> GeneratorModel {
        let tokens = (0..<20).map { String(UnicodeScalar(0x4E00 + $0)!) } + ["，", "。"]
        let vocabulary = Vocabulary(tokens: tokens)
        var generator = SeededGenerator(seed: seed)
        let configuration = GeneratorConfiguration(level: .char, records: .lines, vocabularySize: vocabulary.count, embeddingSize: 6,
                                                   hiddenSize: 8, layerCount: 2, dropout: 0, adaptiveCutoffs: [8, 16])
        return GeneratorModel(model: LanguageModel(configuration, generator: &generator), vocabulary: vocabulary)
    }

    /// The incremental decoder's next-token scores equal the whole-sequence pass's, and are
    /// normalised log-probabilities.
    func testTokenByTokenScoresAreTheWholeSequenceLogProbabilities() {
        let generatorModel = model()
        let ids = [generatorModel.vocabulary.beginID!] + (0..<6).map { generatorModel.vocabulary.specials.count + $0 * 3 }
        var decoder = IncrementalDecoder(model: generatorModel.model)
        decoder.feed(ids)
        let layout = try! PackingLayout(lengths: [ids.count])
        let embedded = generatorModel.model.embedding.forward(ids)
        let (output, _) = generatorModel.model.lstm(layout.packedSequence(data: embedded))
        let whole = generatorModel.model.scores(output.data.rows((ids.count - 1)..<ids.count)).scalars
        for (a, b) in zip(decoder.logits, whole) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertEqual(decoder.logits.map { Foundation.exp(Double($0)) }.reduce(0, +), 1, accuracy: 1e-5)
    }

    func testSaveAndLoadKeepTheAdaptiveSoftmax() throws {
        let generatorModel = model()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("adaptive-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try generatorModel.save(to: directory)
        let loaded = try GeneratorModel.load(from: directory)
        XCTAssertEqual(loaded.model.configuration.adaptiveCutoffs, [8, 16])
        XCTAssertNil(loaded.model.decoder)
        XCTAssertTrue(loaded.model.namedParameters().contains { $0.name == "decoder.tail.1.1.weight" })
        XCTAssertEqual(loaded.model.namedParameters().map(\.value), generatorModel.model.namedParameters().map(\.value))
        var a = SeededGenerator(seed: 1), b = SeededGenerator(seed: 1)
        XCTAssertEqual(try loaded.sample(prefix: "", length: 12, options: SamplingOptions(temperature: 1), generator: &a),
                       try generatorModel.sample(prefix: "", length: 12, options: SamplingOptions(temperature: 1), generator: &b))
    }

    func testTrainingWithAnAdaptiveSoftmaxLowersTheLoss() throws {
        let text = String(repeating: "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。\n", count: 6)
        var options = GeneratorRecipe.defaultTrainerOptions
        options.epochs = 4
        options.learningRate = 1e-2
        let recipe = GeneratorRecipe(level: .char, records: .lines, embeddingSize: 8, hiddenSize: 16, layerCount: 1, dropout: 0,
                                     validationFraction: 0, softmax: .adaptive(cutoffs: [6, 12]))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("adaptive-train-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (model, summary) = try GeneratorTraining.train(text: text, recipe: recipe, options: options, directory: directory)
        XCTAssertEqual(model.model.configuration.adaptiveCutoffs, [6, 12])
        XCTAssertLessThan(summary.history.last!.trainLoss, summary.history.first!.trainLoss)
    }
}
