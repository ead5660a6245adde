import Corpus
import Foundation
import SeqModels
import XCTest
@testable import Tasks

final class ClassifierTests: XCTestCase {
    private var temporaryDirectories: [URL] = []

    override func tearDown() {
        for url in temporaryDirectories { try? FileManager.default.removeItem(at: url) }
        temporaryDirectories = []
    }

    private func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("classifier-tests-\(UUID().uuidString)")
        temporaryDirectories.append(url)
        return url
    }

    private func records(_ pairs: [(String, String)]) -> [LabelledText] {
        pairs.enumerated().map { LabelledText(text: $1.0, label: $1.1, location: SourceLocation(file: "mem.csv", line: $0 + 2)) }
    }

    private var smallHyperparameters: ClassifierHyperparameters {
        var h = ClassifierHyperparameters()
        h.embeddingDimension = 8
        h.hiddenSize = 6
        h.minFrequency = 1
        h.embeddingDropout = 0
        h.dropout = 0.1
        return h
    }

    private var toyTraining: [LabelledText] {
        records([("great fun , loved it", "pos"), ("loved the great cast", "pos"), ("what fun", "pos"),
                 ("awful and dull", "neg"), ("dull , hated it", "neg"), ("an awful cast", "neg"),
                 ("it was fine", "meh"), ("fine , average", "meh")])
    }

    // MARK: Text preparation

    func testTruncationKeepsHeadTailOrBoth() {
        let tokens = Array(1...10)
        XCTAssertEqual(TextPreparation(maxLength: 4, truncation: .head).truncate(tokens), [1, 2, 3, 4])
        XCTAssertEqual(TextPreparation(maxLength: 4, truncation: .tail).truncate(tokens), [7, 8, 9, 10])
        XCTAssertEqual(TextPreparation(maxLength: 5, truncation: .both).truncate(tokens), [1, 2, 3, 9, 10])
        XCTAssertEqual(TextPreparation(maxLength: 20, truncation: .both).truncate(tokens), tokens)
        XCTAssertEqual(TextPreparation(maxLength: nil).truncate(tokens), tokens)
    }

    func testPreparationLowercasesWordsAndDropsLineBreakTags() {
        let preparation = TextPreparation(maxLength: nil)
        XCTAssertEqual(preparation.tokens(of: "Great film!<br /><br />Loved it."), ["great", "film", "!", "loved", "it", "."])
        XCTAssertEqual(TextPreparation.removingLineBreakTags("a<br>b<br/>c<br />d <b>e</b> <br"), "a b c d <b>e</b> <br")
        XCTAssertEqual(TextPreparation.removingLineBreakTags("<br />é<br>"), " é ")
        XCTAssertEqual(TextPreparation(tokenizer: .characters, maxLength: 3).tokens(of: "不 值 得去"), ["不", "值", "去"])
    }

    func testDevelopmentSplitIsSeededAndDisjoint() {
        let items = Array(0..<50)
        let a = splitForDevelopment(items, fraction: 0.1, seed: 4)
        let b = splitForDevelopment(items, fraction: 0.1, seed: 4)
        let c = splitForDevelopment(items, fraction: 0.1, seed: 5)
        XCTAssertEqual(a.development.count, 5)
        XCTAssertEqual(a.training.count, 45)
        XCTAssertEqual(a.development, b.development)
        XCTAssertNotEqual(a.development, c.development)
        XCTAssertEqual(Set(a.training + a.development), Set(items))
    }

    // MARK: Reports

    func testReportComputesAccuracyMacroF1AndPerLabelScores() throws {
        // gold a: predicted a, a, b; gold b: predicted b; gold c: predicted a.
        var confusion = ConfusionMatrix(labelCount: 3)
        for (gold, predicted) in [(0, 0), (0, 0), (0, 1), (1, 1), (2, 0)] { confusion.add(gold: gold, predicted: predicted) }
        let report = ClassificationReport(confusion: confusion, labels: ["a", "b", "c"])
        XCTAssertEqual(report.accuracy, 0.6, accuracy: 1e-12)
        // a: P = 2/3, R = 2/3, F1 = 2/3; b: P = 1/2, R = 1, F1 = 2/3; c: 0.
        XCTAssertEqual(report.perLabel["a"]!.f1, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(report.perLabel["b"]!.precision, 0.5, accuracy: 1e-12)
        XCTAssertEqual(report.perLabel["b"]!.recall, 1, accuracy: 1e-12)
        XCTAssertEqual(report.perLabel["c"]!.f1, 0)
        XCTAssertEqual(report.macroF1, (2.0 / 3 + 2.0 / 3) / 3, accuracy: 1e-12)
        XCTAssertEqual(report.confusionMatrix, [[2, 1, 0], [0, 1, 0], [1, 0, 0]])

        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as! [String: Any]
        for key in ["accuracy", "macro_f1", "rows", "per_label", "confusion_matrix", "labels"] {
            XCTAssertNotNil(json[key], "JSON key \(key)")
        }
        XCTAssertEqual(json["rows"] as? Int, 5)
    }

    // MARK: Recipe, checkpoint, prediction

    func testRecipeSortsLabelsBuildsBalancedWeightsAndRejectsOneLabel() throws {
        var h = smallHyperparameters
        h.classWeighting = .balanced
        let prepared = try ClassifierRecipe.prepare(training: toyTraining, development: [], hyperparameters: h, seed: 1)
        XCTAssertEqual(prepared.classifier.labels, ["meh", "neg", "pos"])
        // 8 texts, 3 labels: meh 2, neg 3, pos 3.
        let weights = try XCTUnwrap(prepared.classifier.model.classWeights)
        XCTAssertEqual(weights[0], 8 / 6, accuracy: 1e-6)
        XCTAssertEqual(weights[1], 8 / 9, accuracy: 1e-6)
        XCTAssertEqual(prepared.training.count, 8)
        XCTAssertEqual(prepared.classifier.vocabulary.tokens.prefix(2), ["<pad>", "<unk>"])

        XCTAssertThrowsError(try ClassifierRecipe.prepare(training: records([("a", "x"), ("b", "x")]), development: [],
                                                         hyperparameters: h, seed: 1)) { error in
            XCTAssertTrue("\(error)".contains("only one label"), "\(error)")
        }
    }

    func testUnknownDevelopmentLabelAndEmptyTextAreReportedWithTheirLine() throws {
        let dev = records([("great", "pos"), ("dull", "surprised")])
        XCTAssertThrowsError(try ClassifierRecipe.prepare(training: toyTraining, development: dev,
                                                         hyperparameters: smallHyperparameters, seed: 1)) { error in
            XCTAssertEqual("\(error)", "mem.csv:3: unknown label 'surprised'; this model knows 'meh', 'neg', 'pos'")
        }
        let emptyTraining = toyTraining + records([("   ", "pos")])
        XCTAssertThrowsError(try ClassifierRecipe.prepare(training: emptyTraining, development: [],
                                                         hyperparameters: smallHyperparameters, seed: 1)) { error in
            XCTAssertTrue("\(error)".hasPrefix("mem.csv:2: the text is empty"), "\(error)")
        }
    }

    func testSavedModelLoadsBackAndPredictsTheSame() throws {
        let prepared = try ClassifierRecipe.prepare(training: toyTraining, development: [],
                                                    hyperparameters: smallHyperparameters, seed: 9)
        let directory = temporaryDirectory()
        try prepared.classifier.save(to: directory)
        for file in ["model.safetensors", "config.json", "vocabulary.json", "labels.json", "ngrams.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path), file)
        }
        let loaded = try TrainedClassifier.load(from: directory)
        XCTAssertEqual(loaded.ngramFeatures, prepared.classifier.ngramFeatures)
        XCTAssertEqual(loaded.model.ngrams?.weight.value, prepared.classifier.model.ngrams?.weight.value)
        XCTAssertEqual(loaded.labels, prepared.classifier.labels)
        XCTAssertEqual(loaded.vocabulary, prepared.classifier.vocabulary)
        XCTAssertEqual(loaded.preparation, prepared.classifier.preparation)
        let texts = ["loved the fun cast", "hated it", "a word never seen"]
        let before = try prepared.classifier.classify(texts)
        let after = try loaded.classify(texts)
        XCTAssertEqual(before, after)
        for prediction in after {
            XCTAssertEqual(prediction.probabilities.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertEqual(prediction.probability, prediction.probabilities.max())
        }
    }

    // MARK: Bag of n-grams

    func testNGramFeaturesCountTextsNotOccurrencesAndReadPresence() {
        let texts = [["not", "good", "not", "good"], ["not", "good", "at", "all"], ["good", "film"]]
        let features = NGramFeatures(counting: texts, settings: .init(order: 2, minDocumentCount: 2))
        // "good" is in 3 texts, "not" and "not good" in 2; "good not" (twice in text 1) only in 1.
        XCTAssertEqual(features.vocabulary.tokens, ["good", "not", "not good"])
        XCTAssertEqual(features.ids(of: ["not", "good", "not", "good", "film"]), [0, 1, 2], "distinct ids, sorted")
        XCTAssertEqual(features.ids(of: ["unseen", "words"]), [])
        let capped = NGramFeatures(counting: texts, settings: .init(order: 3, minDocumentCount: 1, maxCount: 2))
        XCTAssertEqual(capped.vocabulary.tokens, ["good", "not"], "the most widespread first, ties in Unicode order")
        let trigrams = NGramFeatures(counting: texts, settings: .init(order: 3, minDocumentCount: 2))
        XCTAssertTrue(trigrams.vocabulary.tokens.allSatisfy { $0.split(separator: " ").count <= 3 })
        XCTAssertEqual(NGramFeatures(counting: texts.reversed(), settings: .init(order: 2, minDocumentCount: 2)), features,
                       "ids do not depend on the order of the texts")
    }

    func testTheBagOfNGramsIsOptionalAndAModelWithoutItLoadsAsBefore() throws {
        var h = smallHyperparameters
        h.ngrams = nil
        let prepared = try ClassifierRecipe.prepare(training: toyTraining, development: [], hyperparameters: h, seed: 9)
        XCTAssertNil(prepared.classifier.ngramFeatures)
        XCTAssertNil(prepared.classifier.model.ngrams)
        XCTAssertEqual(prepared.training[0].input.featureIDs, [])
        let directory = temporaryDirectory()
        try prepared.classifier.save(to: directory)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("ngrams.json").path))
        let config = try String(contentsOf: directory.appendingPathComponent("config.json"), encoding: .utf8)
        XCTAssertFalse(config.contains("ngram"), "a model without a bag writes the config.json of earlier versions: \(config)")
        let loaded = try TrainedClassifier.load(from: directory)
        XCTAssertNil(loaded.ngramFeatures)
        XCTAssertEqual(try loaded.classify(["loved it"]), try prepared.classifier.classify(["loved it"]))
    }

    func testAMissingOrMismatchedNGramFileIsExplained() throws {
        let prepared = try ClassifierRecipe.prepare(training: toyTraining, development: [], hyperparameters: smallHyperparameters, seed: 9)
        let count = try XCTUnwrap(prepared.classifier.ngramFeatures?.count)
        XCTAssertGreaterThan(count, 0)
        let directory = temporaryDirectory()
        try prepared.classifier.save(to: directory)
        let file = directory.appendingPathComponent("ngrams.json")
        try Data("{\"specials\":[],\"tokens\":[\"only one\"]}".utf8).write(to: file)
        XCTAssertThrowsError(try TrainedClassifier.load(from: directory)) { error in
            XCTAssertEqual("\(error)", "\(directory.path): config.json expects \(count) n-gram features, but ngrams.json holds 1")
        }
        try FileManager.default.removeItem(at: file)
        XCTAssertThrowsError(try TrainedClassifier.load(from: directory)) { error in
            XCTAssertTrue("\(error)".contains("is an incomplete classifier model directory"), "\(error)")
        }
    }

    /// A config.json that no saved classifier can have is refused before a model is built
    /// from it: a negative size, a huge one, one label, weights for another number of labels,
    /// a padding id outside the vocabulary (each trapped or allocated before fuzzing found them).
    func testAConfigurationNoStoredClassifierCanHaveIsRefused() throws {
        var h = smallHyperparameters
        h.ngrams = nil
        let prepared = try ClassifierRecipe.prepare(training: toyTraining, development: [], hyperparameters: h, seed: 9)
        let directory = temporaryDirectory()
        try prepared.classifier.save(to: directory)
        let original = try Checkpoint.loadConfig(ClassifierConfiguration.self, from: directory)
        let edits: [(String, (inout ClassifierConfiguration) -> Void)] = [
            ("model.hiddenSize must be at least 1, got -1", { $0.model.hiddenSize = -1 }),
            ("the embedding would have the shape", { $0.model.embeddingDimension = 1 << 50 }),
            ("model.labelCount must be at least 2, got 1", { $0.model.labelCount = 1 }),
            ("classWeights must be 3 finite, non-negative numbers", { $0.classWeights = [1, 2] }),
            ("model.paddingID 99 is not a token", { $0.model.paddingID = 99 }),
            ("text.maxLength must be at least 1, got 0", { $0.text.maxLength = 0 }),
        ]
        for (expected, edit) in edits {
            var configuration = original
            edit(&configuration)
            try Checkpoint.writeJSON(configuration, named: Checkpoint.configFileName, in: directory)
            XCTAssertThrowsError(try TrainedClassifier.load(from: directory), expected) { error in
                XCTAssertTrue("\(error)".contains("holds a classifier that cannot be built: \(directory.path)/config.json: \(expected)"),
                              "\(error)")
            }
        }
    }

    func testTextsGetTheIDsOfTheirNGrams() throws {
        var h = smallHyperparameters
        h.ngrams = NGramFeatures.Settings(order: 2, minDocumentCount: 1)  // no bigram of the toy texts is in two of them
        let prepared = try ClassifierRecipe.prepare(training: toyTraining, development: [], hyperparameters: h, seed: 9)
        let features = try XCTUnwrap(prepared.classifier.ngramFeatures)
        let input = try prepared.classifier.input(of: "Loved it, great fun!")
        XCTAssertEqual(input.featureIDs, features.ids(of: ["loved", "it", ",", "great", "fun", "!"]))
        XCTAssertTrue(input.featureIDs.contains(try XCTUnwrap(features.vocabulary.id(of: "loved it"))), "bigrams count")
        XCTAssertEqual(prepared.training[0].input, try prepared.classifier.input(of: toyTraining[0].text))
    }

    func testBatchedPredictionMatchesOneTextAtATime() throws {
        let prepared = try ClassifierRecipe.prepare(training: toyTraining, development: [],
                                                    hyperparameters: smallHyperparameters, seed: 2)
        let ids = prepared.training.map(\.input)
        let together = prepared.classifier.model.predict(ids, batchSize: 3)
        for (i, text) in ids.enumerated() {
            let alone = prepared.classifier.model.predict([text])[0]
            XCTAssertEqual(alone.label, together[i].label)
            for (a, b) in zip(alone.probabilities, together[i].probabilities) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        }
    }

    /// Several batches at once (parallelism around BLAS) give exactly the one-worker predictions,
    /// in the order given, in memory, streamed from a file and when annotating a CSV.
    func testConcurrentBatchesGiveTheSamePredictions() throws {
        let prepared = try ClassifierRecipe.prepare(training: toyTraining, development: [],
                                                    hyperparameters: smallHyperparameters, seed: 2)
        let classifier = prepared.classifier
        let ids = prepared.training.map(\.input)
        let alone = classifier.model.predict(ids, batchSize: 2)
        let concurrent = classifier.model.predict(ids, batchSize: 2, workers: 3)
        XCTAssertEqual(concurrent.map(\.label), alone.map(\.label))
        XCTAssertEqual(concurrent.map(\.probabilities), alone.map(\.probabilities), "bit for bit")

        let texts = toyTraining.map(\.text)
        XCTAssertEqual(try classifier.classify(texts, batchSize: 2, workers: 2), try classifier.classify(texts, batchSize: 2))
        let csv = "text,label\n" + toyTraining.map { "\"\($0.text)\",\($0.label)" }.joined(separator: "\n") + "\n"
        var one = try CSVTextReader(rows: CSVRowReader(string: csv, name: "t.csv"))
        var two = try CSVTextReader(rows: CSVRowReader(string: csv, name: "t.csv"))
        let inMemory = try classifier.evaluate(on: toyTraining)
        XCTAssertEqual(try classifier.evaluate(&one, batchSize: 1).confusionMatrix, inMemory.confusionMatrix)
        XCTAssertEqual(try classifier.evaluate(&two, batchSize: 1, workers: 2).confusionMatrix, inMemory.confusionMatrix)
        XCTAssertEqual(try classifier.evaluate(on: toyTraining, workers: 2).confusionMatrix, inMemory.confusionMatrix)
    }

    /// Batches handed to workers come back in index order, each computed once, whatever the
    /// number of workers (more workers than items included).
    func testConcurrentResultsKeepIndexOrder() {
        for workers in [1, 2, 5, 40] {
            let counter = CallCounter()
            let results = concurrentResults(count: 23, workers: workers) { index -> Int in
                counter.increment()
                return index * index
            }
            XCTAssertEqual(results, (0..<23).map { $0 * $0 }, "workers \(workers)")
            XCTAssertEqual(counter.value, 23, "each index once, workers \(workers)")
        }
        XCTAssertEqual(concurrentResults(count: 0, workers: 2) { $0 }, [])
    }

    func testLoadingExplainsAMissingOrForeignDirectory() throws {
        let missing = temporaryDirectory()
        XCTAssertThrowsError(try TrainedClassifier.load(from: missing)) { error in
            XCTAssertTrue("\(error)".contains("no such model directory"), "\(error)")
        }
        let foreign = temporaryDirectory()
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try Data("{\"hiddenSize\": 3}".utf8).write(to: foreign.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try TrainedClassifier.load(from: foreign)) { error in
            XCTAssertTrue("\(error)".contains("is not a classifier model directory"), "\(error)")
        }
    }

    func testClassifyRejectsAnEmptyText() throws {
        let prepared = try ClassifierRecipe.prepare(training: toyTraining, development: [],
                                                    hyperparameters: smallHyperparameters, seed: 2)
        XCTAssertThrowsError(try prepared.classifier.classify(["fine", " "])) { error in
            XCTAssertEqual("\(error)", "text 2: the text is empty (no tokens to classify)")
        }
    }

    func testEvaluationOfAFileNamesAnUnknownLabel() throws {
        let prepared = try ClassifierRecipe.prepare(training: toyTraining, development: [],
                                                    hyperparameters: smallHyperparameters, seed: 2)
        var good = try CSVTextReader(rows: CSVRowReader(string: "text,label\nloved it,pos\ndull,neg\n", name: "t.csv"))
        XCTAssertEqual(try prepared.classifier.evaluate(&good).rows, 2)
        var bad = try CSVTextReader(rows: CSVRowReader(string: "text,label\nloved it,pos\ndull,negative\n", name: "t.csv"))
        XCTAssertThrowsError(try prepared.classifier.evaluate(&bad)) { error in
            XCTAssertEqual("\(error)", "t.csv:3: unknown label 'negative'; this model knows 'meh', 'neg', 'pos'")
        }
    }

    func testCSVLabellingKeepsEveryColumnAndAppendsPrediction() throws {
        let prepared = try ClassifierRecipe.prepare(training: toyTraining, development: [],
                                                    hyperparameters: smallHyperparameters, seed: 2)
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let input = directory.appendingPathComponent("in.csv").path, output = directory.appendingPathComponent("out.csv").path
        try Data("id,text,stars\r\n1,\"loved it, great fun\",5\r\n2,awful,1\r\n3,fine,3\r\n".utf8).write(to: URL(fileURLWithPath: input))
        let count = try prepared.classifier.annotateCSV(input: input, output: output, batchSize: 2)
        XCTAssertEqual(count, 3)
        var rows = try CSVRowReader(contentsOf: output)
        XCTAssertEqual(rows.header, ["id", "text", "stars", "predicted_label", "probability"])
        let expected = try prepared.classifier.classify(["loved it, great fun", "awful", "fine"])
        var read: [[String]] = []
        while let row = try rows.next() { read.append(row.fields) }
        XCTAssertEqual(read.map { Array($0.prefix(3)) }, [["1", "loved it, great fun", "5"], ["2", "awful", "1"], ["3", "fine", "3"]])
        XCTAssertEqual(read.map { $0[3] }, expected.map(\.label))
        XCTAssertEqual(read.map { $0[4] }, expected.map { TrainedClassifier.formatProbability($0.probability) })
    }

    func testTrainingThroughTheSharedLoopLearnsTheToyTask() throws {
        var h = smallHyperparameters
        h.dropout = 0
        let prepared = try ClassifierRecipe.prepare(training: toyTraining, development: toyTraining, hyperparameters: h, seed: 3)
        var model = prepared.classifier.model
        let before = model.evaluate(on: prepared.development).metric
        let trainer = Trainer(options: TrainerOptions(epochs: 10, batchSize: 2, learningRate: 0.05, seed: 3))
        let directory = temporaryDirectory()
        try trainer.fit(&model, train: prepared.training, dev: prepared.development, in: directory) { best, dir in
            var bundle = prepared.classifier
            bundle.model = best
            try bundle.save(to: dir)
        }
        let after = model.evaluate(on: prepared.development)
        XCTAssertEqual(after.metric, 1, "accuracy before training \(before), after \(after)")
        let reloaded = try TrainedClassifier.load(from: directory)
        XCTAssertEqual(try reloaded.classify(["loved it"])[0].label, "pos")
        XCTAssertEqual(try reloaded.classify(["awful and dull"])[0].label, "neg")
    }

    func testPretrainedVectorsFillTheirRowsAndCanBeFrozen() throws {
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let vectors = directory.appendingPathComponent("vectors.txt")
        try Data("loved 1 2 3 4 5 6 7 8\nawful -1 -2 -3 -4 -5 -6 -7 -8\nabsent 9 9 9 9 9 9 9 9\n".utf8).write(to: vectors)
        var h = smallHyperparameters
        h.vectorsPath = vectors.path
        h.freezeEmbeddings = true
        let prepared = try ClassifierRecipe.prepare(training: toyTraining, development: [], hyperparameters: h, seed: 1)
        XCTAssertEqual(prepared.vectorCoverage, 2)
        let classifier = prepared.classifier
        let table = classifier.model.embedding.weight.value.scalars
        let loved = try XCTUnwrap(classifier.vocabulary.tokens.firstIndex(of: "loved"))
        XCTAssertEqual(Array(table[(loved * 8)..<(loved * 8 + 8)]), [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertFalse(classifier.model.embedding.isTrainable)

        h.embeddingDimension = 5
        XCTAssertThrowsError(try ClassifierRecipe.prepare(training: toyTraining, development: [], hyperparameters: h, seed: 1)) { error in
            XCTAssertTrue("\(error)".contains("8-dimensional vectors"), "\(error)")
        }
    }

    func testXMLReviewsReadWithTheLabelAttribute() throws {
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("reviews.xml")
        try Data("<reviews><review stars=\"pos\">Loved it.</review><review stars=\"neg\">Dull.</review></reviews>".utf8).write(to: file)
        XCTAssertEqual(LabelledTextFormat.guess(from: file.path), .xml)
        let records = try LabelledTextFormat.xml.readAll(file.path, columns: LabelledTextColumns(label: "stars"))
        XCTAssertEqual(records.map(\.text), ["Loved it.", "Dull."])
        XCTAssertEqual(records.map(\.label), ["pos", "neg"])
    }

    // MARK: Data on disk

    private var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func testReviewSampleHasThreeLabelsAndNoEmptyTexts() throws {
        let reviews = repositoryRoot.appendingPathComponent("Corpora/reviews")
        for name in ["train.csv", "dev.csv"] {
            let records = try LabelledTextFormat.csv.readAll(reviews.appendingPathComponent(name).path)
            XCTAssertGreaterThan(records.count, 100, name)
            XCTAssertEqual(Set(records.map(\.label)), ["pos", "neg", "neutral"], name)
            XCTAssertTrue(records.allSatisfy { !TextPreparation().tokens(of: $0.text).isEmpty }, name)
        }
    }

    func testIMDBReviewsPrepareWithinTheLengthLimit() throws {
        let path = repositoryRoot.appendingPathComponent("../shared/corpora/sentiment/imdb/test.csv").standardized.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("IMDB is not at \(path) (the shared corpora are absent)")
        }
        var source = try LabelledTextFormat.csv.open(path)
        var lengths: [Int] = []
        var labels = Set<String>()
        while lengths.count < 200, let record = try source.next() {
            let tokens = TextPreparation().tokens(of: record.text)
            XCTAssertFalse(tokens.contains("br"), "line breaks must not become tokens")
            lengths.append(tokens.count)
            labels.insert(record.label)
        }
        XCTAssertEqual(lengths.count, 200)
        XCTAssertEqual(TextPreparation().maxLength, 600)
        XCTAssertLessThanOrEqual(lengths.max() ?? 0, 600)
        XCTAssertTrue(labels.isSubset(of: ["pos", "neg"]), "\(labels)")
    }

    /// Texts are prepared on the BLAS threads: results keep their order, and of several bad
    /// texts the earliest one is reported.
    func testConcurrentMapKeepsOrderAndThrowsTheEarliestError() throws {
        let threads = BLAS.threadCount
        defer { BLAS.setThreadCount(threads) }
        BLAS.setThreadCount(2)
        let numbers = Array(0..<1_000)
        XCTAssertEqual(try numbers.concurrentMap(minimumPerThread: 10) { $0 * 3 }, numbers.map { $0 * 3 })
        struct Bad: Error, Equatable { let index: Int }
        XCTAssertThrowsError(try numbers.concurrentMap(minimumPerThread: 10) { n -> Int in
            if n == 700 || n == 300 || n == 900 { throw Bad(index: n) }
            return n
        }) { XCTAssertEqual($0 as? Bad, Bad(index: 300)) }
    }
}

/// Counts calls made from several threads.
private final class CallCounter: @unchecked Sendable {
    private var count = 0
    private let lock = NSLock()
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
