import Corpus
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SeqModels
import XCTest
@testable import Serving
@testable import Tasks

/// Small untrained models of every task, saved in a temporary directory and loaded back the
/// way `seqmodels serve` loads them: what they answer is arbitrary but well-formed, which is
/// what the API tests check.
enum ServingTestModels {
    static let tags = ["DET", "NOUN", "VERB", "ADJ", "PUNCT"]
    static let labels = ["neg", "pos"]
    static let poemCharacters = Array("春花秋月风山水云天人日夜江南北东西长明清白红绿高远")

    static func write(to root: URL) throws -> [ModelSpecification] {
        var generator = SeededGenerator(seed: 11)

        let sentences = [
            TaggedSentence(tokens: ["the", "old", "keeper", "wrote", "."], tags: ["DET", "ADJ", "NOUN", "VERB", "PUNCT"]),
            TaggedSentence(tokens: ["a", "ship", "sailed", "."], tags: ["DET", "NOUN", "VERB", "PUNCT"]),
        ]
        var configuration = TaggerConfiguration()
        configuration.wordEmbeddingSize = 8
        configuration.characterEmbeddingSize = 4
        configuration.characterHiddenSize = 4
        configuration.hiddenSize = 8
        let tagger = try Tagger(configuration: configuration, training: sentences, generator: &generator)
        let taggerDirectory = root.appendingPathComponent("tagger")
        try tagger.save(to: taggerDirectory)

        let vocabulary = Vocabulary(tokens: ["<pad>", "<unk>", "a", "good", "bad", "film", "dull", "fine", "."])
        let model = TextClassifier(TextClassifier.Configuration(vocabularySize: vocabulary.count, embeddingDimension: 8, hiddenSize: 6,
                                                                labelCount: labels.count, paddingID: 0),
                                   generator: &generator)
        let classifier = TrainedClassifier(model: model, vocabulary: vocabulary, labels: labels, preparation: TextPreparation())
        let classifierDirectory = root.appendingPathComponent("classifier")
        try classifier.save(to: classifierDirectory)

        let poemVocabulary = Vocabulary(tokens: ["<pad>", "<unk>", "<bos>", "<eos>", "，", "。"] + poemCharacters.map(String.init))
        let language = LanguageModel(GeneratorConfiguration(level: .char, records: .lines, vocabularySize: poemVocabulary.count,
                                                            embeddingSize: 8, hiddenSize: 16, layerCount: 1, dropout: 0),
                                     generator: &generator)
        let generatorDirectory = root.appendingPathComponent("generator")
        try GeneratorModel(model: language, vocabulary: poemVocabulary).save(to: generatorDirectory)

        return [ModelSpecification(task: .tagger, name: "pos", directory: taggerDirectory),
                ModelSpecification(task: .classifier, name: "reviews", directory: classifierDirectory),
                ModelSpecification(task: .generator, name: "poems", directory: generatorDirectory)]
    }
}

/// A test's server: the models above behind the real router, on a live loopback port.
struct ServingFixture {
    let root: URL
    let models: ServedModels
    let limits: ServingLimits

    init(limits: ServingLimits = ServingLimits(), settings: WorkerSettings = WorkerSettings(workersPerModel: 2)) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("serving-\(UUID().uuidString)")
        models = try ServedModels(try ServingTestModels.write(to: root), settings: settings, metrics: ServingMetrics())
        self.limits = limits
    }

    func application() -> some ApplicationProtocol {
        Application(router: SeqModelsServer.makeRouter(models: models, limits: limits, logger: Logger(label: "test")))
    }

    func tearDown() {
        models.shutdown()
        try? FileManager.default.removeItem(at: root)
    }
}

extension TestClientProtocol {
    /// POSTs `json` (a string, sent as is) and returns the response.
    func post(_ path: String, json: String, contentType: String = "application/json") async throws -> TestResponse {
        try await execute(uri: path, method: .post, headers: [.contentType: contentType], body: ByteBuffer(string: json))
    }

    func get(_ path: String) async throws -> TestResponse {
        try await execute(uri: path, method: .get)
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func decoded<T: Decodable>(_ type: T.Type, file: StaticString = #filePath, line: UInt = #line) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            XCTFail("cannot decode \(T.self) from \(text): \(error)", file: file, line: line)
            throw error
        }
    }
}
