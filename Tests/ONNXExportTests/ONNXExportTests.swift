import Corpus
import Foundation
import SeqModels
import XCTest
@testable import ONNXExport
@testable import Tasks

/// Exports randomly initialised models of every shape the heads can take (stacked and single
/// layers, one and two directions, each pooling, a bag of n-grams or none, softmax and CRF
/// taggers, full and adaptive softmaxes), computes SeqModels' outputs on batches of mixed
/// lengths in process, and has `Tools/check_onnx_export.py` run the same inputs through ONNX
/// Runtime and compare. Skips, saying why, where python3 lacks onnx or onnxruntime.
final class ONNXExportTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-export-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    private static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    // MARK: Pieces that need no runtime

    func testGateBlocksMoveFromPyTorchOrderToONNXOrder() {
        // Blocks i, f, g, o of two values each → i, o, f, c.
        let pytorch: [Float] = [1, 1, 2, 2, 3, 3, 4, 4]
        XCTAssertEqual(LSTMExport.reorderGates(pytorch, blockSize: 2), [1, 1, 4, 4, 2, 2, 3, 3])
    }

    func testADirectoryWithoutAKnownModelIsRefusedAndNothingIsWritten() throws {
        let output = directory.appendingPathComponent("out.onnx")
        XCTAssertThrowsError(try ONNXExporter.export(modelDirectory: directory.appendingPathComponent("missing"), to: output)) { error in
            XCTAssertTrue("\(error)".contains("is not a model directory (no config.json)"), "\(error)")
        }
        let foreign = directory.appendingPathComponent("foreign")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try Data("{\"kind\": \"something-else\"}".utf8).write(to: foreign.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ONNXExporter.export(modelDirectory: foreign, to: output)) { error in
            XCTAssertTrue("\(error)".contains("holds no tagger, classifier or generator"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted(), ["foreign"], "no partial file left")
    }

    func testExportWritesTheModelAndItsSidecarWithEncodingMetadata() throws {
        let (classifier, _) = try makeClassifier(pooling: .maxMean, layers: 1, bidirectional: true, ngrams: true, seed: 3)
        let model = directory.appendingPathComponent("classifier")
        try classifier.save(to: model)
        let result = try ONNXExporter.export(modelDirectory: model, to: directory.appendingPathComponent("c.onnx"))
        XCTAssertEqual(result.task, "classifier")
        XCTAssertEqual(result.sidecar.lastPathComponent, "c.json")
        let sidecar = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: result.sidecar)) as? [String: Any])
        XCTAssertEqual(sidecar["labels"] as? [String], classifier.labels)
        XCTAssertEqual(sidecar["vocabulary"] as? [String], classifier.vocabulary.tokens)
        XCTAssertEqual(sidecar["ngrams"] as? [String], classifier.ngramFeatures?.vocabulary.tokens)
        XCTAssertEqual(sidecar["ngram_padding_id"] as? Int, classifier.ngramFeatures?.count)
        let onnx = try Data(contentsOf: result.model)
        XCTAssertEqual(onnx.count, result.byteCount)
        let decoded = try Onnx_ModelProto(serializedBytes: onnx)
        XCTAssertEqual(decoded.opsetImport.first?.version, ONNXVersions.opset)
        XCTAssertEqual(decoded.graph.input.map(\.name), ["token_ids", "lengths", "ngram_ids"])
        XCTAssertEqual(decoded.graph.output.map(\.name), ["logits", "probabilities"])
        XCTAssertTrue(decoded.metadataProps.contains { $0.key == "seqmodels.labels" && $0.value == "[\"neg\",\"pos\"]" })
    }

    // MARK: Against ONNX Runtime

    func testONNXRuntimeMatchesSeqModelsForEveryHeadOnMixedLengths() throws {
        try XCTSkipUnless(Self.pythonHasONNXRuntime(),
                          "python3 with onnx and onnxruntime is needed (bash Tools/install-dependencies.sh --onnx); CI installs them")
        var cases: [[String: Any]] = []
        for (index, (pooling, layers, bidirectional, ngrams)) in [
            (SequencePooling.maxMean, 2, true, true), (.last, 1, false, false), (.max, 1, true, false), (.mean, 2, true, true),
            (.last, 2, true, true),
        ].enumerated() {
            cases.append(try classifierCase(name: "classifier \(pooling.rawValue) \(layers)x\(bidirectional ? "bi" : "uni") bag \(ngrams)",
                                            pooling: pooling, layers: layers, bidirectional: bidirectional, ngrams: ngrams, seed: UInt64(10 + index)))
        }
        cases.append(try taggerCase(name: "tagger softmax", crf: false, seed: 21))
        cases.append(try taggerCase(name: "tagger crf", crf: true, seed: 22))
        cases.append(try taggerCase(name: "tagger crf with forward and backward character language models", crf: true, seed: 23,
                                    languageModels: true))
        cases.append(try generatorCase(name: "generator full softmax 2 layers lines", cutoffs: nil, records: .lines, seed: 31))
        cases.append(try generatorCase(name: "generator adaptive softmax stream", cutoffs: [20, 40], records: .stream, seed: 32))

        let file = directory.appendingPathComponent("cases.json")
        try JSONSerialization.data(withJSONObject: cases).write(to: file)
        let (status, output) = try Self.runPython([Self.repositoryRoot.appendingPathComponent("Tools/check_onnx_export.py").path,
                                                   "--cases", file.path])
        print(output)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("\n0 failures"), output)
        XCTAssertEqual(output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count, 2 * cases.count, "two checks per model: \(output)")
    }

    // MARK: Models and their cases

    private func makeClassifier(pooling: SequencePooling, layers: Int, bidirectional: Bool, ngrams: Bool,
                                seed: UInt64) throws -> (TrainedClassifier, [ClassifierInput]) {
        let words = (0..<30).map { "w\($0)" }
        let vocabulary = Vocabulary(tokens: words)
        let features = ngrams ? NGramFeatures(counting: [words, words.reversed()], settings: .init(order: 2, minDocumentCount: 1)) : nil
        let configuration = TextClassifier.Configuration(
            vocabularySize: vocabulary.count, embeddingDimension: 6, hiddenSize: 5, layerCount: layers, bidirectional: bidirectional,
            pooling: pooling, labelCount: 2, paddingID: vocabulary.paddingID,
            ngramBag: features.map { .init(featureCount: $0.count) })
        var generator = SeededGenerator(seed: seed)
        var model = TextClassifier(configuration, generator: &generator)
        if let count = features?.count { model.ngrams?.weight.value = .normal([count, 2], using: &generator) }
        let classifier = TrainedClassifier(model: model, vocabulary: vocabulary, labels: ["neg", "pos"],
                                           preparation: TextPreparation(tokenizer: .whitespace), ngramFeatures: features)
        let lengths = [1, 7, 1, 23, 2, 60, 13, 5]
        let inputs = lengths.map { n in
            let tokens = (0..<n).map { _ in words[Int(generator.next() % UInt64(words.count))] }
            return ClassifierInput(tokenIDs: try! vocabulary.encode(tokens), featureIDs: features?.ids(of: tokens) ?? [])
        }
        return (classifier, inputs)
    }

    private func export(_ save: (URL) throws -> Void, _ name: String) throws -> String {
        let model = directory.appendingPathComponent(name.replacingOccurrences(of: " ", with: "_"))
        try save(model)
        return try ONNXExporter.export(modelDirectory: model, to: model.appendingPathExtension("onnx")).model.path
    }

    private func classifierCase(name: String, pooling: SequencePooling, layers: Int, bidirectional: Bool, ngrams: Bool,
                                seed: UInt64) throws -> [String: Any] {
        let (classifier, inputs) = try makeClassifier(pooling: pooling, layers: layers, bidirectional: bidirectional, ngrams: ngrams, seed: seed)
        let probabilities = classifier.model.probabilities(for: inputs)
        var result: [String: Any] = [
            "name": name, "task": "classifier", "onnx": try export(classifier.save(to:), name),
            "token_ids": inputs.map(\.tokenIDs), "probabilities": (0..<inputs.count).map { Array(probabilities.scalars[($0 * 2)..<($0 * 2 + 2)]) },
        ]
        if let features = classifier.ngramFeatures {
            result["ngram_ids"] = inputs.map(\.featureIDs)
            result["ngram_padding_id"] = features.count
        }
        return result
    }

    private func taggerCase(name: String, crf: Bool, seed: UInt64, languageModels: Bool = false) throws -> [String: Any] {
        let words = ["the", "cat", "sat", "on", "a", "mat", "quickly", "Ingrid", "2026", "re-read", "."]
        let tags = ["DET", "NOUN", "VERB", "ADP", "DET", "NOUN", "ADV", "PROPN", "NUM", "VERB", "PUNCT"]
        let vocabularies = TaggerVocabularies(training: [TaggedSentence(tokens: words, tags: tags)])
        var configuration = TaggerConfiguration()
        configuration.wordEmbeddingSize = 6
        configuration.characterEmbeddingSize = 4
        configuration.characterHiddenSize = 3
        configuration.hiddenSize = 5
        configuration.layerCount = 2
        configuration.maxWordLength = 8
        configuration.outputLayer = crf ? .crf : .softmax
        var generator = SeededGenerator(seed: seed)
        var contextualEmbeddings: [ContextualStringEmbeddings] = []
        if languageModels {
            // Character models that lack some characters of the test words (read as <unk>).
            let characters = Vocabulary(tokens: Array(" \nthecasonmIgrid2.-").map(String.init))
            for (hidden, direction) in [(4, ReadingDirection.forward), (3, .backward)] {
                let lm = LanguageModel(GeneratorConfiguration(level: .char, vocabularySize: characters.count, embeddingSize: 5,
                                                              hiddenSize: hidden, layerCount: 2, dropout: 0, direction: direction),
                                       generator: &generator)
                contextualEmbeddings.append(try ContextualStringEmbeddings(GeneratorModel(model: lm, vocabulary: characters)))
            }
            configuration.characterLanguageModels = ["char-lm-1-forward", "char-lm-2-backward"]
        }
        let tagger = Tagger(configuration: configuration, vocabularies: vocabularies, contextualEmbeddings: contextualEmbeddings,
                            generator: &generator)
        let pool = words + ["unseen", "B52-bomber", "x", "supercalifragilistic"]
        let sentences = [1, 9, 1, 30, 4, 60, 2].map { n in (0..<n).map { _ in pool[Int(generator.next() % UInt64(pool.count))] } }
        let examples = sentences.map { tagger.encode(tokens: $0) }
        let predictions = tagger.predictTagDistributions(examples)
        return ["name": name, "task": "tagger", "crf": crf, "onnx": try export(tagger.save(to:), name),
                "word_ids": examples.map(\.words), "char_ids": examples.map(\.characters),
                "tag_ids": predictions.map(\.tagIDs), "probabilities": predictions.map(\.probabilities),
                "language_models": contextualEmbeddings.map { embeddings in
                    sentences.map { sentence -> [[Int]] in
                        let reading = embeddings.reading(sentence)
                        return [reading.characterIDs, reading.positions]
                    }
                }]
    }

    private func generatorCase(name: String, cutoffs: [Int]?, records: RecordMode, seed: UInt64) throws -> [String: Any] {
        let characters = (0..<56).map { String(UnicodeScalar(0x4E00 + $0)!) }
        let vocabulary = Vocabulary(tokens: characters)
        let configuration = GeneratorConfiguration(level: .char, records: records, vocabularySize: vocabulary.count, embeddingSize: 6,
                                                   hiddenSize: 7, layerCount: 2, dropout: 0, adaptiveCutoffs: cutoffs)
        var generator = SeededGenerator(seed: seed)
        let model = GeneratorModel(model: LanguageModel(configuration, generator: &generator), vocabulary: vocabulary)
        // Rows of mixed lengths: the log-probabilities after every position, fed one token at a time.
        let rows = [1, 12, 3, 40, 1, 25].map { n in (0..<n).map { _ in Int(generator.next() % UInt64(vocabulary.count)) } }
        let logProbabilities = rows.map { row -> [[Double]] in
            var decoder = IncrementalDecoder(model: model.model)
            return row.map { id in
                decoder.feed([id])
                return AcrosticHypothesis.logSoftmax(decoder.logits)
            }
        }
        let prefix = characters[5] + characters[9]
        var sampling = SeededGenerator(seed: 1)
        let greedy = try model.sample(prefix: prefix, length: 200, options: SamplingOptions(temperature: 0), generator: &sampling)
        let start = model.startIDs(beforeEmptyPrefix: false) + [characters[5], characters[9]].map { vocabulary.id(of: $0)! }
        let end = records == .lines ? vocabulary.endID! : -1
        return ["name": name, "task": "generator", "onnx": try export(model.save(to:), name),
                "layers": configuration.layerCount, "hidden": configuration.hiddenSize,
                "token_ids": rows, "log_probabilities": logProbabilities,
                "start_ids": start, "allowed": model.ordinaryTokenMask().enumerated().map { $1 || $0 == end },
                "end_id": end, "greedy_ids": greedy.tokens.map { vocabulary.id(of: $0)! }]
    }

    // MARK: Python

    private static func pythonHasONNXRuntime() -> Bool {
        (try? runPython(["-c", "import onnx, onnxruntime, numpy"]).status) == 0
    }

    private static func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
