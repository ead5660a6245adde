import Foundation
import XCTest
import SeqModels
@testable import Tasks

final class GeneratorTrainingTests: XCTestCase {
    func testTrainingThroughTheTrainerKeepsTheBestModelAndShowsASampleEachEpoch() throws {
        let text = try String(contentsOf: GeneratorTestSupport.repositoryRoot.appendingPathComponent("Corpora/text/sample.txt"),
                              encoding: .utf8)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("generator-train-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let recipe = GeneratorRecipe(level: .char, records: .stream, embeddingSize: 8, hiddenSize: 24, layerCount: 1,
                                     dropout: 0, sequenceLength: 40, validationFraction: 0.1)
        var options = GeneratorRecipe.defaultTrainerOptions
        options.epochs = 3
        options.learningRate = 0.01
        var samples: [String] = []
        let (model, summary) = try GeneratorTraining.train(text: text, recipe: recipe, options: options, directory: directory,
                                                           samplePrefix: "The ", sampleLength: 12) { samples.append($0) }
        XCTAssertEqual(summary.epochsCompleted, 3)
        XCTAssertEqual(samples.count, 3, "one sample per epoch")
        XCTAssertTrue(samples.allSatisfy { $0.hasPrefix("The ") && $0.count == 16 }, "\(samples)")
        let history = summary.history.map(\.devMetric)
        XCTAssertLessThan(history.last!, history.first!, "validation loss should fall: \(history)")

        let loaded = try GeneratorModel.load(from: directory)
        let best = summary.best!
        XCTAssertEqual(try loaded.evaluate(text: String(text.suffix(200))).loss,
                       try model.evaluate(text: String(text.suffix(200))).loss, accuracy: 1e-9)
        XCTAssertEqual(best.devMetric, history.min()!)
    }

    func testRecipeValuesOutOfRangeAreClearErrors() {
        XCTAssertThrowsError(try GeneratorRecipe(hiddenSize: 0).validate()) { error in
            XCTAssertEqual(String(describing: error), "the hidden size must be at least 1, got 0")
        }
        XCTAssertThrowsError(try GeneratorRecipe(dropout: 1).validate())
    }
}
