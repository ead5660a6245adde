import Corpus
import Foundation
import SeqModels
import Tasks
import XCTest

/// Every Swift snippet of the DocC articles (`Sources/SeqModels/SeqModels.docc`,
/// `Sources/Tasks/Tasks.docc`) and the README's library example stands verbatim in a test
/// below, so that it compiles and runs; `testEveryArticleSnippetIsOneOfTheseTests` fails when
/// a snippet is not found here (imports aside).
final class DocumentationSnippetTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    override func setUp() {
        // The articles name files relative to the package, as a user's program run there would.
        FileManager.default.changeCurrentDirectoryPath(Self.root.path)
    }

    func testEveryArticleSnippetIsOneOfTheseTests() throws {
        func normalised(_ text: String) -> [String] {
            text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("import ") }
        }
        let source = normalised(try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)).joined(separator: "\n")
        var snippets = 0
        for catalog in ["Sources/SeqModels/SeqModels.docc", "Sources/Tasks/Tasks.docc"] {
            let folder = Self.root.appendingPathComponent(catalog)
            for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".md") {
                let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                for block in text.components(separatedBy: "```swift\n").dropFirst() {
                    let code = block.components(separatedBy: "```")[0]
                    snippets += 1
                    XCTAssertTrue(source.contains(normalised(code).joined(separator: "\n")),
                                  "\(catalog)/\(file): a snippet is not among DocumentationSnippetTests:\n\(code)")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(snippets, 7, "every article has its snippet (seven articles with code)")

        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let library = try XCTUnwrap(readme.components(separatedBy: "## The library in a few lines").dropFirst().first)
        let example = library.components(separatedBy: "```swift\n")[1].components(separatedBy: "```")[0]
        XCTAssertTrue(source.contains(normalised(example).joined(separator: "\n")),
                      "README.md: the library example is not among DocumentationSnippetTests:\n\(example)")
    }

    // MARK: SeqModels.docc

    func testGettingStarted() throws {
        ProcessMemory.retainFreedMemory()                    // once per program: passes reuse their buffers
        BLAS.makeIdleThreadsSleepAtOnce()                    // once per program: BLAS's idle threads leave the cores free
        var generator = SeededGenerator(seed: 42)
        var lstm = LSTM(inputSize: 8, hiddenSize: 16, layerCount: 2, bidirectional: true, generator: &generator)
        var optimizer = Adam(learningRate: 1e-2)

        // Three sequences of lengths 5, 2 and 4, each step an 8-feature vector.
        let sequences = [5, 2, 4].map { Tensor.normal([$0, 8], using: &generator) }
        let batch = try packSequence(sequences, enforceSorted: false)    // no padding anywhere

        var losses: [Double] = []
        for _ in 0..<20 {
            let (output, _, cache) = lstm.forward(batch, generator: &generator)   // output.data: [11, 32]
            let target = Tensor(shape: output.data.shape, repeating: 0.5)
            var gradient = output.data
            gradient.add(target, scaledBy: -1)                                   // d(½‖y − t‖²)/dy
            losses.append(0.5 * gradient.squaredNorm)
            _ = lstm.backward(cache, outputGradient: gradient)
            optimizer.step(&lstm)
            lstm.zeroGradients()
        }
        try Checkpoint.save(lstm, config: lstm.configuration, to: FileManager.default.temporaryDirectory
            .appendingPathComponent("readme-lstm"))                              // loads into torch.nn.LSTM
        XCTAssertLessThan(losses.last!, losses.first! * 0.5, "the loss falls by more than half: \(losses)")
    }

    func testPackingAndPyTorch() throws {
        let sequences = [Tensor(rows: [[1], [2], [3]]), Tensor(rows: [[4]]), Tensor(rows: [[5], [6]])]
        let packed = try packSequence(sequences, enforceSorted: false)
        // packed.batchSizes == [3, 2, 1], packed.sortedIndices == [0, 2, 1]
        let (padded, lengths) = try padPackedSequence(packed, batchFirst: true)   // [3, 3, 1]; lengths [3, 1, 2]
        let mask = try sequenceMask(lengths: lengths)                             // 1 on real steps, 0 on padding
        let unpacked = unpackSequence(packed)                                     // the three sequences again

        var generator = SeededGenerator(seed: 1)
        let lstm = LSTM(inputSize: 1, hiddenSize: 4, bidirectional: true, generator: &generator)
        let (output, state) = lstm(packed)          // output.data [6, 8]; state.hidden [2, 3, 4]

        XCTAssertEqual(packed.batchSizes, [3, 2, 1])
        XCTAssertEqual(packed.sortedIndices, [0, 2, 1])
        XCTAssertEqual(padded.shape, [3, 3, 1])
        XCTAssertEqual(lengths, [3, 1, 2])
        XCTAssertEqual(mask.scalars, [1, 1, 1, 1, 0, 0, 1, 1, 0])
        XCTAssertEqual(unpacked, sequences)
        XCTAssertEqual(output.data.shape, [6, 8])
        XCTAssertEqual(state.hidden.shape, [2, 3, 4])
    }

    func testLengthBuckets() throws {
        let batcher = try LengthBucketBatcher(lengths: [12, 3, 7, 30, 4, 9], maxSequences: 2)
        let batches = batcher.batches(seed: 7)      // index lists, e.g. [[3, 0], [5, 2], [4, 1]]
        XCTAssertEqual(batches.flatMap { $0 }.sorted(), [0, 1, 2, 3, 4, 5])
        XCTAssertTrue(batches.allSatisfy { $0.count <= 2 })
    }

    func testSpeed() {
        let report = ComputeReport()
        print(report.processor, report.kernelBuild, report.blas.library)   // e.g. AMD EPYC … avx512 OpenBLAS 0.3.21
        XCTAssertTrue(report.runnableKernelBuilds.contains(report.kernelBuild))
    }

    // MARK: Tasks.docc

    func testTaggingPartsOfSpeech() throws {
        let train = try TaggedCorpus.read(path: "Corpora/pos/sample.xml")
        let dev = try TaggedCorpus.read(path: "Corpora/pos/sample-dev.xml")
        var configuration = TaggerConfiguration()
        configuration.outputLayer = .crf
        let options = TrainerOptions(epochs: 3, batchSize: 16, learningRate: 1e-2, seed: 1)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("docs-tagger")
        let (tagger, summary) = try TaggerTraining.train(configuration: configuration, options: options,
                                                         train: train, dev: dev, directory: directory)
        print(summary.best?.devMetric ?? 0)                           // development accuracy of the best epoch
        let tags = try Tagger.load(from: directory).tag(["The", "cat", "sat", "."])
        XCTAssertEqual(tags.count, 4)
        XCTAssertNotNil(tagger.crf)
        XCTAssertGreaterThan(summary.best?.devMetric ?? 0, 0.3)
    }

    func testClassifyingTexts() throws {
        let records = try LabelledTextFormat.csv.readAll("Corpora/reviews/train.csv")
        let development = try LabelledTextFormat.csv.readAll("Corpora/reviews/dev.csv")
        let prepared = try ClassifierRecipe.prepare(training: records, development: development,
                                                    hyperparameters: ClassifierHyperparameters(), seed: 1)
        var model = prepared.classifier.model
        let trainer = Trainer(options: TrainerOptions(epochs: 2, batchSize: 32, learningRate: 1e-2, seed: 1))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("docs-classifier")
        try trainer.fit(&model, train: prepared.training, dev: prepared.development, in: directory) { best, directory in
            var classifier = prepared.classifier
            classifier.model = best
            try classifier.save(to: directory)
        }
        let classifier = try TrainedClassifier.load(from: directory)
        let predictions = try classifier.classify(["The soup was wonderful.", "Cold food, rude staff."])
        XCTAssertEqual(predictions.map(\.label), ["pos", "neg"])
    }

    func testGeneratingText() throws {
        let poems = try String(contentsOfFile: "Corpora/poems/poems.txt", encoding: .utf8)
        let recipe = GeneratorRecipe(records: .lines, embeddingSize: 16, hiddenSize: 32, layerCount: 1)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("docs-generator")
        let (generator, _) = try GeneratorTraining.train(
            text: poems, recipe: recipe, options: TrainerOptions(epochs: 2, batchSize: 8, learningRate: 1e-2, seed: 1),
            directory: directory)
        var random = SeededGenerator(seed: 3)
        let sample = try generator.sample(prefix: "春", length: 20, options: SamplingOptions(temperature: 0.8, topK: 20),
                                          generator: &random)
        let poem = try generator.acrostic(heads: "春花", lineLength: 5, options: SamplingOptions(temperature: 0.8),
                                          generator: &random)
        XCTAssertTrue(sample.text.hasPrefix("春"))
        XCTAssertEqual(poem.lines.count, 2)
        XCTAssertTrue(poem.lines[0].hasPrefix("春") && poem.lines[1].hasPrefix("花"), "\(poem.lines)")
    }
}
