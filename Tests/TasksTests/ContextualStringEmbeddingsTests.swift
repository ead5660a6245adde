import XCTest
import Foundation
@testable import SeqModels
import Corpus
@testable import Tasks

/// Character language models as a tagger's token features (flair's contextual string
/// embeddings): which states are read, what each direction sees, and a tagger built on them
/// training, saving and loading with everything it needs.
final class ContextualStringEmbeddingsTests: XCTestCase {
    /// An untrained character model over the characters of the test sentences.
    static func languageModel(direction: ReadingDirection, seed: UInt64 = 5, hidden: Int = 4) -> GeneratorModel {
        let vocabulary = Vocabulary(tokens: Array(" \nthecasdogrnwlkb.").map(String.init))
        var generator = SeededGenerator(seed: seed)
        let model = LanguageModel(GeneratorConfiguration(level: .char, records: .stream, vocabularySize: vocabulary.count,
                                                         embeddingSize: 3, hiddenSize: hidden, layerCount: 2, dropout: 0,
                                                         direction: direction),
                                  generator: &generator)
        return GeneratorModel(model: model, vocabulary: vocabulary)
    }

    /// The top layer's outputs `[characters, H]` of `model` reading `text` from a zero state,
    /// through the plain packed LSTM (not the distinct-rows path the features use).
    private func states(_ model: GeneratorModel, reading text: String) throws -> Tensor {
        let ids = text.map { model.vocabulary.id(of: String($0)) ?? model.vocabulary.unknownID! }
        let layout = try PackingLayout(lengths: [ids.count])
        return model.model.lstm(layout.packedSequence(data: model.model.embedding.forward(ids))).output.data
    }

    private func row(_ tensor: Tensor, _ index: Int) -> [Float] {
        let width = tensor.shape[1]
        return Array(tensor.scalars[(index * width)..<((index + 1) * width)])
    }

    private func assertClose(_ a: [Float], _ b: [Float], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-6, message, file: file, line: line) }
    }

    /// Forward: the state after the space that follows each token in "\nthe cat . "; backward:
    /// the same on the reversed string "\n. tac eht ", read back in token order.
    func testFeaturesAreTheStatesAfterTheSpaceThatFollowsEachToken() throws {
        let sentence = ["the", "cat", "."]
        let forward = try ContextualStringEmbeddings(Self.languageModel(direction: .forward))
        let forwardFeatures = forward.features(of: [sentence])[0]
        XCTAssertEqual(forwardFeatures.shape, [3, 4])
        let forwardStates = try states(forward.languageModel, reading: "\nthe cat . ")
        for (token, step) in [4, 8, 10].enumerated() {
            assertClose(row(forwardFeatures, token), row(forwardStates, step), "forward, token \(token)")
        }
        let backward = try ContextualStringEmbeddings(Self.languageModel(direction: .backward))
        XCTAssertEqual(backward.direction, .backward)
        let backwardFeatures = backward.features(of: [sentence])[0]
        let backwardStates = try states(backward.languageModel, reading: "\n. tac eht ")
        for (token, step) in [10, 6, 2].enumerated() {
            assertClose(row(backwardFeatures, token), row(backwardStates, step), "backward, token \(token)")
        }
    }

    /// The forward model sees a token and what is left of it, the backward model a token and
    /// what is right of it: changing the last word moves only the forward feature of that
    /// word and the backward features of every word.
    func testEachDirectionSeesOnlyItsSideOfTheSentence() throws {
        let forward = try ContextualStringEmbeddings(Self.languageModel(direction: .forward))
        let backward = try ContextualStringEmbeddings(Self.languageModel(direction: .backward))
        let a = ["a", "dog", "ran"], b = ["a", "dog", "walked"]
        let (fa, fb) = (forward.features(of: [a])[0], forward.features(of: [b])[0])
        let (ba, bb) = (backward.features(of: [a])[0], backward.features(of: [b])[0])
        XCTAssertEqual(row(fa, 0), row(fb, 0))
        XCTAssertEqual(row(fa, 1), row(fb, 1))
        XCTAssertNotEqual(row(fa, 2), row(fb, 2))
        for token in 0..<3 { XCTAssertNotEqual(row(ba, token), row(bb, token), "backward, token \(token)") }
    }

    /// A sentence's features are the same alone and in a batch of others, in any order;
    /// an empty sentence gets no rows.
    func testFeaturesDoNotDependOnTheOtherSentencesOfTheBatch() throws {
        let forward = try ContextualStringEmbeddings(Self.languageModel(direction: .forward))
        let sentences = [["the", "cat", "sat", "."], [], ["a", "dog"], ["cats", "sleep", "well", "in", "the", "sun"]]
        let together = forward.features(of: sentences)
        XCTAssertEqual(together[1].shape, [0, 4])
        for (index, sentence) in sentences.enumerated() where !sentence.isEmpty {
            XCTAssertLessThanOrEqual(together[index].maxAbsoluteDifference(forward.features(of: [sentence])[0]), 1e-6, "sentence \(index)")
        }
    }

    func testAWordLevelModelIsRefusedWithAReason() {
        let vocabulary = Vocabulary(tokens: ["the", "cat"])
        var generator = SeededGenerator(seed: 1)
        let model = LanguageModel(GeneratorConfiguration(level: .word, vocabularySize: vocabulary.count, embeddingSize: 2,
                                                         hiddenSize: 2, layerCount: 1, dropout: 0), generator: &generator)
        XCTAssertThrowsError(try ContextualStringEmbeddings(GeneratorModel(model: model, vocabulary: vocabulary))) { error in
            XCTAssertTrue("\(error)".contains("character language models"), "\(error)")
        }
    }

    // MARK: - A tagger reading them

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("contextual-tests-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testATaggerWithLanguageModelsHasTheirWidthInItsInputAndCheckedGradients() {
        let (tagger, examples) = TaggerGradientTests.tinyTagger(languageModels: true)
        XCTAssertEqual(tagger.configuration.characterLanguageModels, ["char-lm-1-forward", "char-lm-2-backward"])
        XCTAssertEqual(tagger.contextualFeatureSize, 8)
        XCTAssertEqual(tagger.lstm.configuration.inputSize, 3 + 2 * 2 + 8)
        XCTAssertFalse(tagger.namedParameters().contains { $0.name.contains("lm") }, "the language models are frozen, not parameters")
        XCTAssertTrue(examples.allSatisfy { $0.tokens.count == $0.count }, "examples keep their tokens for the language models")
        TaggerGradientTests.checkTaggerLossGradients(tagger: tagger, examples: examples)
    }

    /// Features computed once before training (as `TaggerTraining` does) give what computing
    /// them with each batch gives.
    func testPrecomputedFeaturesGiveTheSameLossAndPredictions() {
        let (tagger, examples) = TaggerGradientTests.tinyTagger(languageModels: true)
        var precomputed = examples
        tagger.attachContextualFeatures(&precomputed, workers: 2)
        XCTAssertTrue(precomputed.allSatisfy { $0.contextualFeatures?.shape == [$0.count, 8] })
        XCTAssertEqual(tagger.predictTagIDs(precomputed), tagger.predictTagIDs(examples))
        var a = tagger, b = tagger
        var ga = SeededGenerator(seed: 2), gb = SeededGenerator(seed: 2)
        let lossA = a.accumulateGradients(on: examples, generator: &ga).sum
        let lossB = b.accumulateGradients(on: precomputed, generator: &gb).sum
        XCTAssertEqual(lossA, lossB, accuracy: 1e-6 * abs(lossA))
    }

    /// The model directory holds copies of the language models: it loads and tags the same
    /// after the originals are gone.
    func testTheModelDirectoryHoldsTheLanguageModelsAndNeedsNothingElse() throws {
        let (tagger, examples) = TaggerGradientTests.tinyTagger(languageModels: true)
        let directory = try temporaryDirectory()
        try tagger.save(to: directory)
        for name in ["char-lm-1-forward", "char-lm-2-backward"] {
            for file in ["model.safetensors", "config.json", "vocabulary.json"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("\(name)/\(file)").path), "\(name)/\(file)")
            }
        }
        let loaded = try Tagger.load(from: directory)
        XCTAssertEqual(loaded.configuration, tagger.configuration)
        XCTAssertEqual(loaded.contextualEmbeddings.map(\.direction), [.forward, .backward])
        XCTAssertEqual(loaded.predictTagIDs(examples), tagger.predictTagIDs(examples))
        XCTAssertEqual(loaded.tag(["the", "dog", "sat"]), tagger.tag(["the", "dog", "sat"]))

        try FileManager.default.removeItem(at: directory.appendingPathComponent("char-lm-2-backward"))
        XCTAssertThrowsError(try Tagger.load(from: directory)) { error in
            XCTAssertTrue("\(error)".contains("char-lm-2-backward"), "a missing language model is named: \(error)")
        }
    }

    func testLanguageModelDirectoryNamesMustStayInsideTheModelDirectory() {
        for name in ["../elsewhere", "a/b", "", ".hidden"] {
            var configuration = TaggerConfiguration()
            configuration.characterLanguageModels = [name]
            XCTAssertThrowsError(try configuration.validate(), "'\(name)'")
        }
    }

    /// A backward language model trains on the reversed text: its data reads the stream from the end.
    func testBackwardTrainingDataIsTheReversedText() throws {
        let forward = try GeneratorData(text: "abcdef", level: .char, mode: .stream, sequenceLength: 10, validationFraction: 0)
        let backward = try GeneratorData(text: "abcdef", level: .char, mode: .stream, sequenceLength: 10, validationFraction: 0,
                                         direction: .backward)
        func text(_ data: GeneratorData) -> String {
            let chunk = data.training[0]
            return (chunk.inputs + [chunk.targets.last!]).map { data.vocabulary.token(of: $0) }.joined()
        }
        XCTAssertEqual(text(forward), "abcdef")
        XCTAssertEqual(text(backward), "fedcba")
    }
}
