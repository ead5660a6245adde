import XCTest
import Foundation
import SeqModels
import Corpus
@testable import Tasks

/// Encoding, prediction, evaluation, saving and loading, and training on the POS sample.
final class TaggerTests: XCTestCase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let sample = repositoryRoot.appendingPathComponent("Corpora/pos/sample.xml").path
    static let sampleDev = repositoryRoot.appendingPathComponent("Corpora/pos/sample-dev.xml").path

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tagger-tests-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testVocabulariesCountWordsCharactersAndTags() {
        let sentences = [TaggedSentence(tokens: ["a", "ab", "a"], tags: ["X", "Y", "X"])]
        let v = TaggerVocabularies(training: sentences)
        XCTAssertEqual(v.words.tokens, ["<pad>", "<unk>", "a", "ab"])
        XCTAssertEqual(v.characters.tokens, ["<pad>", "<unk>", "a", "b"])   // a: 3 times, b: once
        XCTAssertEqual(v.tags.tokens, ["X", "Y"])
    }

    func testLongWordsKeepTheirStartAndEndAndUnknownCharactersMapToUnk() {
        var (tagger, _) = TaggerGradientTests.tinyTagger()
        tagger.zeroGradients()
        let characters = tagger.vocabularies.characters
        let ids = tagger.characterIDs(of: "thethethethethethethethecat")   // 27 characters, limit 24
        XCTAssertEqual(ids.count, 24)
        XCTAssertEqual(characters.decode(Array(ids.suffix(3))), ["c", "a", "t"])
        XCTAssertEqual(characters.decode(Array(ids.prefix(3))), ["t", "h", "e"])
        XCTAssertEqual(tagger.characterIDs(of: "éa"), [characters.unknownID!, characters.id(of: "a")!])
        XCTAssertEqual(tagger.encode(tokens: ["cat", "zebra"]).isUnknownWord, [false, true])
    }

    func testTagSetMismatchNamesTheUnknownTagsAndWhereTheyAre() {
        let (tagger, _) = TaggerGradientTests.tinyTagger()
        let location = SourceLocation(file: "test.xml", line: 7)
        let sentences = [TaggedSentence(tokens: ["the", "cat"], tags: ["DT", "NOUN"], location: location)]
        XCTAssertThrowsError(try tagger.encode(sentences)) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.contains("tag set mismatch"), message)
            XCTAssertTrue(message.contains("'DT' (first at test.xml:7)"), message)
            XCTAssertTrue(message.contains("NOUN"), message)
        }
    }

    func testPredictionsDoNotDependOnBatchingOrderOrWorkers() {
        let (tagger, examples) = TaggerGradientTests.tinyTagger()
        let together = tagger.predictTagIDs(examples, batchSize: 64)
        let alone = examples.map { tagger.predictTagIDs([$0])[0] }
        XCTAssertEqual(together, alone)
        XCTAssertEqual(tagger.predictTagIDs(examples.reversed(), batchSize: 2), together.reversed())
        XCTAssertEqual(tagger.predictTagIDs(examples, batchSize: 1, workers: 3), together, "concurrent batches, same tags")
        XCTAssertEqual(tagger.tag([]), [])
        XCTAssertEqual(tagger.tag(["the", "cat"]).count, 2)
    }

    func testTagDistributionsSumToOneAndAgreeWithThePredictedTags() {
        for outputLayer in [TaggerConfiguration.OutputLayer.softmax, .crf] {
            let (tagger, examples) = TaggerGradientTests.tinyTagger(outputLayer: outputLayer)
            let withEmpty = examples + [tagger.encode(tokens: [])]
            let distributions = tagger.predictTagDistributions(withEmpty, batchSize: 2)
            XCTAssertEqual(distributions.map(\.tagIDs), tagger.predictTagIDs(withEmpty), "\(outputLayer): the same tags as predictTagIDs")
            XCTAssertEqual(distributions.last?.tagIDs, [], "an empty sentence gives no tags")
            for (example, distribution) in zip(withEmpty, distributions) {
                XCTAssertEqual(distribution.probabilities.count, example.count)
                for (tag, row) in zip(distribution.tagIDs, distribution.probabilities) {
                    XCTAssertEqual(row.count, tagger.vocabularies.tags.count)
                    XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5, "\(outputLayer): probabilities sum to 1")
                    if outputLayer == .softmax {
                        XCTAssertEqual(row.max(), row[tag], "softmax: the predicted tag is the most probable one")
                    }
                }
            }
        }
    }

    func testReportComputesAccuraciesPerTagScoresAndConfusions() {
        // Gold A A B B C, predicted A B B B A; token 2 is OOV.
        let example = TaggerExample(words: [2, 2, 2, 2, 2], characters: Array(repeating: [2], count: 5),
                                    tags: [0, 0, 1, 1, 2], isUnknownWord: [false, true, false, false, false])
        let perfect = TaggerExample(words: [2], characters: [[2]], tags: [2], isUnknownWord: [true])
        let report = TaggingReport(examples: [example, perfect], predictions: [[0, 1, 1, 1, 0], [2]], tags: ["A", "B", "C"])
        XCTAssertEqual(report.tokens, 6)
        XCTAssertEqual(report.accuracy, 4.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(report.oovAccuracy, 0.5, accuracy: 1e-12)
        XCTAssertEqual(report.sentenceAccuracy, 0.5, accuracy: 1e-12)
        XCTAssertEqual(report.confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
        let b = report.score(ofTag: 1)   // predicted B 3 times, 2 right; gold B twice
        XCTAssertEqual(b.precision, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(b.recall, 1.0, accuracy: 1e-12)
        XCTAssertEqual(b.f1, 0.8, accuracy: 1e-12)
        let json = try! JSONSerialization.jsonObject(with: Data(report.json.utf8)) as! [String: Any]
        XCTAssertEqual(json["tokens"] as? Int, 6)
        XCTAssertEqual(json["oov_accuracy"] as? Double ?? -1, 0.5, accuracy: 1e-12)
        XCTAssertEqual(((json["per_tag"] as? [String: Any])?["C"] as? [String: Any])?["support"] as? Int, 2)
        XCTAssertTrue(report.text.contains("token accuracy     66.67%"), report.text)
    }

    func testSavedTaggerLoadsWithTheSameConfigVocabulariesAndPredictions() throws {
        let (tagger, examples) = TaggerGradientTests.tinyTagger()
        let directory = try temporaryDirectory()
        try tagger.save(to: directory)
        for file in ["model.safetensors", "config.json", "words.json", "characters.json", "tags.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path), file)
        }
        let loaded = try Tagger.load(from: directory)
        XCTAssertEqual(loaded.configuration, tagger.configuration)
        XCTAssertEqual(loaded.vocabularies, tagger.vocabularies)
        XCTAssertEqual(loaded.namedParameters().map(\.value), tagger.namedParameters().map(\.value))
        XCTAssertEqual(loaded.predictTagIDs(examples), tagger.predictTagIDs(examples))
    }

    /// A BiLSTM-CRF tagger saves its transitions beside the other tensors, loads with them, and
    /// decodes the same tags; a `config.json` written before `outputLayer` existed loads as a
    /// softmax tagger.
    func testACRFTaggerSavesAndLoadsAndOlderConfigurationsLoadAsSoftmax() throws {
        let (tagger, examples) = TaggerGradientTests.tinyTagger(outputLayer: .crf)
        let directory = try temporaryDirectory()
        try tagger.save(to: directory)
        let loaded = try Tagger.load(from: directory)
        XCTAssertEqual(loaded.configuration.outputLayer, .crf)
        XCTAssertEqual(loaded.crf?.transitions.value, tagger.crf?.transitions.value)
        XCTAssertEqual(loaded.predictTagIDs(examples), tagger.predictTagIDs(examples))

        var older = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("config.json"))) as! [String: Any]
        XCTAssertEqual(older.removeValue(forKey: "outputLayer") as? String, "crf")
        let decoded = try JSONDecoder().decode(TaggerConfiguration.self, from: JSONSerialization.data(withJSONObject: older))
        XCTAssertEqual(decoded.outputLayer, .softmax)
        var expected = tagger.configuration
        expected.outputLayer = .softmax
        XCTAssertEqual(decoded, expected)
    }

    func testLoadingExplainsAMissingDirectoryAndAnotherKindOfModel() throws {
        XCTAssertThrowsError(try Tagger.load(from: URL(fileURLWithPath: "/nonexistent/model"))) { error in
            XCTAssertTrue(String(describing: error).contains("no such model directory"), "\(error)")
        }
        let directory = try temporaryDirectory()
        try Checkpoint.writeJSON(["task": "review-classifier"], named: "config.json", in: directory)
        XCTAssertThrowsError(try Tagger.load(from: directory)) { error in
            XCTAssertTrue(String(describing: error).contains("holds a 'review-classifier' model, not a POS tagger"), "\(error)")
        }
        let (tagger, _) = TaggerGradientTests.tinyTagger()
        try tagger.save(to: directory)
        try FileManager.default.removeItem(at: directory.appendingPathComponent("tags.json"))
        XCTAssertThrowsError(try Tagger.load(from: directory)) { error in
            XCTAssertTrue(String(describing: error).contains("tags.json: the model directory has no such file"), "\(error)")
        }
    }

    /// A config.json naming sizes that no saved tagger can have is refused before a tagger is
    /// built from it (a hidden size of 2^40 would allocate its LSTM first).
    func testAConfigurationNoStoredTaggerCanHaveIsRefused() throws {
        let (tagger, _) = TaggerGradientTests.tinyTagger()
        let directory = try temporaryDirectory()
        try tagger.save(to: directory)
        for (expected, edit) in [("the first LSTM layer's input weights would have the shape", { (c: inout TaggerConfiguration) in c.hiddenSize = 1 << 40 }),
                                 ("the word embedding would have the shape", { $0.wordEmbeddingSize = 1 << 40 }),
                                 ("hidden size must be positive, got 0", { $0.hiddenSize = 0 })] {
            var configuration = tagger.configuration
            edit(&configuration)
            try Checkpoint.writeJSON(configuration, named: Checkpoint.configFileName, in: directory)
            XCTAssertThrowsError(try Tagger.load(from: directory)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
    }

    func testOutputFormatsWriteEveryTokenAndTag() {
        let tokens = ["Tom", "&", "I"], tags = ["PROPN", "CCONJ", "PRON"]
        XCTAssertEqual(TaggedTextFormat.slash.render(tokens: tokens, tags: tags, number: 1), "Tom/PROPN &/CCONJ I/PRON\n")
        XCTAssertEqual(TaggedTextFormat.xml.render(tokens: tokens, tags: tags, number: 2),
                       "<s id=\"2\"><w pos=\"PROPN\">Tom</w><w pos=\"CCONJ\">&amp;</w><w pos=\"PRON\">I</w></s>\n")
        XCTAssertEqual(TaggedTextFormat.json.render(tokens: tokens, tags: tags, number: 1),
                       "{\"tags\":[\"PROPN\",\"CCONJ\",\"PRON\"],\"tokens\":[\"Tom\",\"&\",\"I\"]}\n")
        let conllu = TaggedTextFormat.conllu.render(tokens: tokens, tags: tags, number: 3)
        XCTAssertTrue(conllu.contains("2\t&\t_\tCCONJ\t_\t_\t_\t_\t_\t_\n"), conllu)
        // The CoNLL-U output reads back as the same tagged sentence.
        var reader = try! CoNLLUReader(string: conllu)
        XCTAssertEqual(try reader.next()?.tags, tags)
    }

    func testSampleCorpusIsAValidTaggedCorpusWithUnseenDevWords() throws {
        let train = try TaggedCorpus.read(path: Self.sample)
        let dev = try TaggedCorpus.read(path: Self.sampleDev)
        XCTAssertEqual(train.count, 400)
        XCTAssertEqual(dev.count, 100)
        let vocabularies = TaggerVocabularies(training: train)
        XCTAssertEqual(Set(vocabularies.tags.tokens), Set(["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN",
                                                           "NUM", "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "VERB"]))
        let unseen = dev.flatMap(\.tokens).filter { !vocabularies.words.contains($0) }
        XCTAssertGreaterThan(unseen.count, 20)
    }

    /// A tagger small enough to train on the sample in a few debug-build seconds, with its options.
    private func smallTrainingRun(outputLayer: TaggerConfiguration.OutputLayer)
        throws -> (train: [TaggedSentence], dev: [TaggedSentence], configuration: TaggerConfiguration, options: TrainerOptions) {
        var configuration = TaggerConfiguration()
        configuration.wordEmbeddingSize = 16
        configuration.characterEmbeddingSize = 8
        configuration.characterHiddenSize = 8
        configuration.hiddenSize = 16
        configuration.layerCount = 1
        configuration.dropout = 0.1
        configuration.outputLayer = outputLayer
        var options = TaggerTraining.defaultOptions
        options.epochs = 5
        options.batchSize = 8
        options.learningRate = 2e-2
        return (Array(try TaggedCorpus.read(path: Self.sample).prefix(100)), Array(try TaggedCorpus.read(path: Self.sampleDev).prefix(25)),
                configuration, options)
    }

    func testTrainingOnTheSampleWithTheSharedLoopLearnsAndKeepsTheBestEpoch() throws {
        let (train, dev, configuration, options) = try smallTrainingRun(outputLayer: .softmax)
        let directory = try temporaryDirectory()
        let (tagger, summary) = try TaggerTraining.train(configuration: configuration, options: options,
                                                         train: train, dev: dev, directory: directory)
        XCTAssertEqual(summary.history.count, 5)
        XCTAssertLessThan(summary.history.last!.trainLoss, summary.history.first!.trainLoss)
        let best = try XCTUnwrap(summary.best)
        XCTAssertGreaterThan(best.devMetric, 0.6, "a small tagger learns the sample's tags in a few epochs")
        let loaded = try Tagger.load(from: directory)
        XCTAssertEqual(loaded.evaluate(on: try loaded.encode(dev)).metric, best.devMetric, accuracy: 1e-12)
        XCTAssertEqual(tagger.evaluate(on: try tagger.encode(dev)).metric, best.devMetric, accuracy: 1e-12)
        XCTAssertEqual(try Checkpoint.readJSON(TrainerOptions.self, named: TaggerTraining.optionsFileName, in: directory), options)
    }

    /// With a CRF the same small tagger learns the sample's tags as well, and Viterbi decoding
    /// gives what evaluation reports.
    func testACRFTaggerTrainsOnTheSample() throws {
        let (train, dev, configuration, options) = try smallTrainingRun(outputLayer: .crf)
        let (tagger, summary) = try TaggerTraining.train(configuration: configuration, options: options,
                                                         train: train, dev: dev, directory: try temporaryDirectory())
        XCTAssertLessThan(summary.history.last!.trainLoss, summary.history.first!.trainLoss)
        let best = try XCTUnwrap(summary.best)
        XCTAssertGreaterThan(best.devMetric, 0.6, "a small BiLSTM-CRF learns the sample's tags in a few epochs")
        XCTAssertEqual(tagger.evaluate(on: try tagger.encode(dev)).metric, best.devMetric, accuracy: 1e-12)
    }

    /// About `share` of the sentences come back in another case, half lower case and half title
    /// case, with their tags, the same for the same seed; copies equal to their sentence are left out.
    func testCaseVariantsAreLowerAndTitleCaseCopiesWithTheirTags() {
        let sentences = (0..<2_000).map { i in
            TaggedSentence(tokens: ["The", "cat", "of", "Ann\(i)", "sat", "."], tags: ["DET", "NOUN", "ADP", "PROPN", "VERB", "PUNCT"])
        }
        let variants = TaggerTraining.caseVariants(of: sentences, share: 0.2, seed: 7)
        XCTAssertEqual(variants, TaggerTraining.caseVariants(of: sentences, share: 0.2, seed: 7))
        XCTAssertEqual(Double(variants.count), 400, accuracy: 60)
        let lower = variants.filter { $0.tokens[0] == "the" }, title = variants.filter { $0.tokens[0] == "The" }
        XCTAssertEqual(lower.count + title.count, variants.count)
        XCTAssertEqual(Double(lower.count), Double(title.count), accuracy: 60)
        XCTAssertTrue(lower.allSatisfy { $0.tokens == $0.tokens.map { $0.lowercased() } && $0.tokens[3].hasPrefix("ann") })
        XCTAssertTrue(title.allSatisfy { $0.tokens[1] == "Cat" && $0.tokens[2] == "Of" && $0.tokens[5] == "." })
        XCTAssertTrue(variants.allSatisfy { $0.tags == sentences[0].tags })
        XCTAssertEqual(TaggerTraining.caseVariants(of: sentences, share: 0, seed: 7), [])
        let already = [TaggedSentence(tokens: ["ok", "."], tags: ["INTJ", "PUNCT"])]
        XCTAssertTrue(TaggerTraining.caseVariants(of: Array(repeating: already[0], count: 50), share: 1, seed: 1)
            .allSatisfy { $0.tokens == ["Ok", "."] }, "lower-case copies of lower-case text are left out")
    }

    func testEmptyTrainingCorpusAndBadHyperparametersAreExplained() {
        var generator = SeededGenerator(seed: 1)
        XCTAssertThrowsError(try Tagger(configuration: TaggerConfiguration(), training: [], generator: &generator)) { error in
            XCTAssertEqual(String(describing: error), "the training corpus has no tokens")
        }
        var configuration = TaggerConfiguration()
        configuration.dropout = 1.5
        XCTAssertThrowsError(try configuration.validate()) { error in
            XCTAssertEqual(String(describing: error), "dropout must be in [0, 1), got 1.5")
        }
    }

    func testCorporaAreReadAsCoNLLUOrXMLByExtensionAndAnEmptyCorpusIsExplained() throws {
        let directory = try temporaryDirectory()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let conllu = directory.appendingPathComponent("tiny.conllu")
        try "# sent_id = a\n1\tDogs\tdog\tNOUN\tNNS\t_\t0\troot\t_\t_\n2\tbark\tbark\tVERB\tVBP\t_\t1\tx\t_\t_\n\n"
            .write(to: conllu, atomically: true, encoding: .utf8)
        let xml = directory.appendingPathComponent("tiny.xml")
        try "<corpus><s id=\"a\"><w pos=\"NOUN\">Dogs</w><w pos=\"VERB\">bark</w></s></corpus>\n"
            .write(to: xml, atomically: true, encoding: .utf8)
        let fromCoNLLU = try TaggedCorpus.read(path: conllu.path)
        let fromXML = try TaggedCorpus.read(path: xml.path)
        XCTAssertEqual(fromCoNLLU.map(\.tokens), fromXML.map(\.tokens))
        XCTAssertEqual(fromCoNLLU.map(\.tags), [["NOUN", "VERB"]])
        XCTAssertEqual(try TaggedCorpus.read(path: conllu.path, tagColumn: .xpos).map(\.tags), [["NNS", "VBP"]])
        let empty = directory.appendingPathComponent("empty.xml")
        try "<corpus></corpus>\n".write(to: empty, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TaggedCorpus.read(path: empty.path)) { error in
            XCTAssertTrue(String(describing: error).contains("no tagged sentences found"), "\(error)")
        }
    }

    func testEmbeddingsStartWithVarianceOneOverTheirDimension() throws {
        var generator = SeededGenerator(seed: 4)
        let words = (0..<300).map { "w\($0)" }
        let tagger = try Tagger(configuration: TaggerConfiguration(),
                                training: [TaggedSentence(tokens: words, tags: words.map { _ in "X" })], generator: &generator)
        let table = tagger.wordEmbedding.weight.value
        XCTAssertEqual(table.squaredNorm / Double(table.count), 1.0 / 100, accuracy: 0.0005)
        let characters = tagger.characterEncoder.embedding.weight.value
        XCTAssertEqual(characters.squaredNorm / Double(characters.count), 1.0 / 32, accuracy: 0.01)
    }
}
