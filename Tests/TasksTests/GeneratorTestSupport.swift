import Foundation
import XCTest
import SeqModels
@testable import Tasks

/// Helpers shared by the generator tests.
enum GeneratorTestSupport {
    /// The repository root, found from this file's path.
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `../shared/corpora/generation/<name>` next to the repository (or next to the folder of
    /// worktrees, `/work/wt/BRANCH` → `/work/shared`), or a skip when absent.
    static func sharedCorpus(_ name: String) throws -> URL {
        let parent = repositoryRoot.deletingLastPathComponent()
        let candidates = [parent, parent.deletingLastPathComponent()].map {
            $0.appendingPathComponent("shared/corpora/generation").appendingPathComponent(name).standardized
        }
        guard let url = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw XCTSkip("shared corpus \(name) not present (looked in \(candidates.map(\.path).joined(separator: ", ")))")
        }
        return url
    }

    /// Fits `model` on `examples` with full-batch Adam steps and gradient clipping at 5: the
    /// few lines a test needs (the product trains through the shared `Trainer`).
    static func fit(_ model: inout LanguageModel, on examples: [TokenSequence], steps: Int,
                    learningRate: Float = 0.01, seed: UInt64 = 1) -> Double {
        var optimizer = Adam(learningRate: learningRate)
        var generator = SeededGenerator(seed: seed)
        var last = 0.0
        for _ in 0..<steps {
            model.zeroGradients()
            last = model.accumulateGradients(on: examples, generator: &generator).mean
            _ = clipGradientNorm(&model, maxNorm: 5)
            optimizer.step(&model)
        }
        return last
    }

    /// A tiny character-level model trained on `Corpora/poems/poems.txt` in `lines` mode,
    /// trained once per test run.
    static func poemModel() throws -> GeneratorModel { try trainedPoemModel.get() }

    private static let trainedPoemModel = Result<GeneratorModel, any Error> { try trainPoemModel(steps: 40) }

    private static func trainPoemModel(steps: Int) throws -> GeneratorModel {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Corpora/poems/poems.txt"), encoding: .utf8)
        let data = try GeneratorData(text: text, level: .char, mode: .lines, sequenceLength: 64, validationFraction: 0)
        var generator = SeededGenerator(seed: 7)
        var model = LanguageModel(GeneratorConfiguration(level: .char, records: .lines, vocabularySize: data.vocabulary.count,
                                                         embeddingSize: 16, hiddenSize: 32, layerCount: 1, dropout: 0),
                                  generator: &generator)
        _ = fit(&model, on: data.training, steps: steps, learningRate: 0.03)
        return GeneratorModel(model: model, vocabulary: data.vocabulary)
    }

    /// An untrained word-free character model over `tokens` (for sampling tests).
    static func untrainedModel(tokens: [String], records: RecordMode = .stream, seed: UInt64 = 3,
                               hidden: Int = 8, layers: Int = 1) -> GeneratorModel {
        let vocabulary = Vocabulary(tokens: tokens)
        var generator = SeededGenerator(seed: seed)
        let model = LanguageModel(GeneratorConfiguration(level: .char, records: records, vocabularySize: vocabulary.count,
                                                         embeddingSize: 5, hiddenSize: hidden, layerCount: layers, dropout: 0),
                                  generator: &generator)
        return GeneratorModel(model: model, vocabulary: vocabulary)
    }
}
