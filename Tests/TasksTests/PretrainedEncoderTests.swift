import XCTest
@testable import SeqModels
import Corpus
@testable import Tasks

/// A classifier started from pretrained word language models (ULMFiT's initialisation): what is
/// copied where, what is left alone, and the mismatches refused with a reason.
final class PretrainedEncoderTests: XCTestCase {
    private static func wordModel(_ tokens: [String], direction: ReadingDirection, embedding: Int = 4, hidden: Int = 3,
                                  layers: Int = 1, level: TokenLevel = .word, seed: UInt64) -> GeneratorModel {
        let vocabulary = Vocabulary(tokens: tokens)
        var generator = SeededGenerator(seed: seed)
        let model = LanguageModel(GeneratorConfiguration(level: level, vocabularySize: vocabulary.count, embeddingSize: embedding,
                                                         hiddenSize: hidden, layerCount: layers, dropout: 0, direction: direction),
                                  generator: &generator)
        return GeneratorModel(model: model, vocabulary: vocabulary)
    }

    private static func classifier(bidirectional: Bool = true, layers: Int = 1, hidden: Int = 3) -> (TextClassifier, Vocabulary) {
        let vocabulary = Vocabulary(tokens: ["good", "bad", "film", "plot"], specials: [.padding, .unknown])
        var generator = SeededGenerator(seed: 1)
        let model = TextClassifier(.init(vocabularySize: vocabulary.count, embeddingDimension: 4, hiddenSize: hidden, layerCount: layers,
                                         bidirectional: bidirectional, labelCount: 2, paddingID: vocabulary.paddingID),
                                   generator: &generator)
        return (model, vocabulary)
    }

    private func row(_ table: Tensor, _ id: Int) -> [Float] {
        let width = table.shape[1]
        return Array(table.scalars[(id * width)..<((id + 1) * width)])
    }

    func testEmbeddingsAreTheModelsMeanRowsAndEachDirectionStartsItsHalfOfTheLSTM() throws {
        var (model, vocabulary) = Self.classifier()
        let before = model
        let forward = Self.wordModel(["good", "film", "great"], direction: .forward, seed: 2)
        let backward = Self.wordModel(["film", "plot"], direction: .backward, seed: 3)
        let transfer = try PretrainedEncoder.initialise(&model, vocabulary: vocabulary, from: [forward, backward])
        XCTAssertEqual(transfer.coveredTokens, 3, "good, film, plot; bad is in neither")
        XCTAssertEqual(Set(transfer.lstmTensors), ["lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
                                                   "lstm.weight_ih_l0_reverse", "lstm.weight_hh_l0_reverse",
                                                   "lstm.bias_ih_l0_reverse", "lstm.bias_hh_l0_reverse"])
        let table = model.embedding.weight.value
        let f = forward.model.embedding.weight.value, b = backward.model.embedding.weight.value
        func id(_ token: String, _ v: Vocabulary) -> Int { v.id(of: token)! }
        XCTAssertEqual(row(table, id("good", vocabulary)), row(f, id("good", forward.vocabulary)))
        XCTAssertEqual(row(table, id("plot", vocabulary)), row(b, id("plot", backward.vocabulary)))
        let mean = zip(row(f, id("film", forward.vocabulary)), row(b, id("film", backward.vocabulary))).map { ($0 + $1) / 2 }
        XCTAssertEqual(row(table, id("film", vocabulary)), mean)
        XCTAssertEqual(row(table, id("bad", vocabulary)), row(before.embedding.weight.value, id("bad", vocabulary)), "unknown to both: kept")
        XCTAssertEqual(row(table, vocabulary.paddingID!), row(before.embedding.weight.value, vocabulary.paddingID!), "specials kept")

        let copied = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.value) })
        let original = Dictionary(uniqueKeysWithValues: before.namedParameters().map { ($0.name, $0.value) })
        let lmForward = Dictionary(uniqueKeysWithValues: forward.model.namedParameters().map { ($0.name, $0.value) })
        let lmBackward = Dictionary(uniqueKeysWithValues: backward.model.namedParameters().map { ($0.name, $0.value) })
        XCTAssertEqual(copied["lstm.weight_hh_l0"], lmForward["lstm.weight_hh_l0"])
        XCTAssertEqual(copied["lstm.bias_ih_l0_reverse"], lmBackward["lstm.bias_ih_l0"])
        XCTAssertEqual(copied["output.weight"], original["output.weight"], "the output layer starts fresh")
    }

    /// A unidirectional two-layer classifier takes both layers of a two-layer model; a
    /// bidirectional one only the first (its second layer reads both directions).
    func testHigherLayersTransferOnlyWhenTheirInputsAgree() throws {
        let lm = Self.wordModel(["good"], direction: .forward, layers: 2, seed: 4)
        var (one, v1) = Self.classifier(bidirectional: false, layers: 2)
        XCTAssertEqual(try PretrainedEncoder.initialise(&one, vocabulary: v1, from: [lm]).lstmTensors.count, 8)
        var (two, v2) = Self.classifier(bidirectional: true, layers: 2)
        XCTAssertEqual(try PretrainedEncoder.initialise(&two, vocabulary: v2, from: [lm]).lstmTensors.count, 4)
    }

    func testModelsThatDoNotFitAreRefusedWithAReason() {
        let cases: [(models: [GeneratorModel], bidirectional: Bool, mentions: String)] = [
            ([Self.wordModel(["g"], direction: .forward, level: .char, seed: 1)], true, "word language models"),
            ([Self.wordModel(["g"], direction: .forward, seed: 1), Self.wordModel(["g"], direction: .forward, seed: 2)], true, "two"),
            ([Self.wordModel(["g"], direction: .backward, seed: 1)], false, "bidirectional"),
            ([Self.wordModel(["g"], direction: .forward, hidden: 5, seed: 1)], true, "--hidden-size 5"),
        ]
        for (models, bidirectional, mentions) in cases {
            var (model, vocabulary) = Self.classifier(bidirectional: bidirectional)
            XCTAssertThrowsError(try PretrainedEncoder.initialise(&model, vocabulary: vocabulary, from: models)) { error in
                XCTAssertTrue("\(error)".contains(mentions), "\(error)")
            }
        }
    }

    func testWordModelVocabulariesCanBeLimitedByFrequencyAndSize() throws {
        let text = "a a a b b c d"
        let limited = try GeneratorData(text: text, level: .word, mode: .stream, sequenceLength: 4, validationFraction: 0,
                                        minFrequency: 2)
        XCTAssertTrue(limited.vocabulary.contains("a") && limited.vocabulary.contains("b"))
        XCTAssertFalse(limited.vocabulary.contains("c"), "seen once: <unk>")
        let capped = try GeneratorData(text: text, level: .word, mode: .stream, sequenceLength: 4, validationFraction: 0,
                                       maxVocabularySize: SpecialToken.allCases.count + 1)
        XCTAssertEqual(capped.vocabulary.count, SpecialToken.allCases.count + 1)
        XCTAssertTrue(capped.vocabulary.contains("a"), "the most frequent kept")
        XCTAssertThrowsError(try GeneratorData(text: text, level: .word, mode: .stream, sequenceLength: 4, minFrequency: 0))
    }
}
