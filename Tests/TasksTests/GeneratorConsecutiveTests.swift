import Foundation
import XCTest
import SeqModels
@testable import Tasks

/// Consecutive truncated BPTT: lanes, batch order, the carried state, and that random
/// sampling is untouched.
final class GeneratorConsecutiveTests: XCTestCase {
    private var directories: [URL] = []

    override func tearDown() {
        for directory in directories { try? FileManager.default.removeItem(at: directory) }
        directories = []
        super.tearDown()
    }

    private func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("generator-bptt-\(UUID().uuidString)")
        directories.append(url)
        return url
    }

    /// A tiny model without dropout, so training forwards equal inference forwards.
    private func tinyModel(vocabularySize: Int, seed: UInt64 = 4) -> LanguageModel {
        var generator = SeededGenerator(seed: seed)
        return LanguageModel(GeneratorConfiguration(level: .char, records: .stream, vocabularySize: vocabularySize,
                                                    embeddingSize: 6, hiddenSize: 10, layerCount: 2, dropout: 0),
                             generator: &generator)
    }

    /// Pseudo-random token ids in `0..<vocabularySize`.
    private func stream(count: Int, vocabularySize: Int, seed: UInt64 = 11) -> [Int] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in generator.nextInt(below: vocabularySize) }
    }

    // MARK: Lanes and batches

    func testBatchesAreLaneOrderedAndCoverEachLanesTokensInOrderExactlyOnce() {
        // 26 ids = 25 predictions over 3 lanes: 9, 8, 8 predictions; chunks of 4 → batches of 3, 3, 1 lanes.
        let ids = Array(100..<126)
        let (chunks, batches) = GeneratorData.laneChunks(ids, lanes: 3, length: 4)
        XCTAssertEqual(batches.map(\.count), [3, 3, 1])
        XCTAssertEqual(batches.flatMap { $0 }, Array(chunks.indices), "chunks are stored in training order, each once")
        XCTAssertEqual(batches.map { $0.map { chunks[$0].count } }, [[4, 4, 4], [4, 4, 4], [1]])

        // Lane ℓ of batch k is entry ℓ; following a lane through the batches walks its tokens in order.
        var lanes = [[Int]](repeating: [], count: 3)
        for batch in batches {
            for (lane, index) in batch.enumerated() {
                let chunk = chunks[index]
                XCTAssertEqual(chunk.targets, chunk.inputs.map { $0 + 1 }, "each target is the next token")
                lanes[lane] += chunk.inputs
            }
        }
        XCTAssertEqual(lanes[0], Array(100..<109))
        XCTAssertEqual(lanes[1], Array(109..<117))
        XCTAssertEqual(lanes[2], Array(117..<125))
        XCTAssertEqual(lanes.flatMap { $0 }, Array(ids.dropLast()), "every prediction of the stream exactly once, in order")
    }

    func testConsecutiveDataUsesTheBatchSizeAsLanesAndKeepsValidationAsBefore() throws {
        let text = String(repeating: "the cat sat on the mat. ", count: 20)
        let consecutive = try GeneratorData(text: text, level: .char, mode: .stream, sequenceLength: 10,
                                            sampling: .consecutive, lanes: 8)
        let random = try GeneratorData(text: text, level: .char, mode: .stream, sequenceLength: 10, sampling: .random)
        let batches = try XCTUnwrap(consecutive.trainingBatches)
        XCTAssertEqual(batches.first?.count, 8)
        XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(consecutive.training.indices))
        XCTAssertNil(random.trainingBatches)
        XCTAssertEqual(consecutive.validation, random.validation)
        XCTAssertEqual(consecutive.vocabulary, random.vocabulary)
        XCTAssertEqual(consecutive.training.reduce(0) { $0 + $1.count }, random.training.reduce(0) { $0 + $1.count },
                       "both schemes predict every training token once")
        XCTAssertThrowsError(try GeneratorData(text: text, level: .char, mode: .stream, sequenceLength: 10, stride: 5,
                                               sampling: .consecutive)) { error in
            XCTAssertTrue("\(error)".contains("needs random sampling"), "\(error)")
        }
    }

    // MARK: The carried state

    func testTwoHalfChunksWithTheStateCarriedGiveTheLossOfTheWholeChunk() {
        var model = tinyModel(vocabularySize: 7)
        let ids = stream(count: 31, vocabularySize: 7)
        let whole = TokenSequence(inputs: Array(ids[0..<30]), targets: Array(ids[1..<31]))
        let first = TokenSequence(inputs: Array(ids[0..<16]), targets: Array(ids[1..<17]))
        let second = TokenSequence(inputs: Array(ids[16..<30]), targets: Array(ids[17..<31]))
        var generator = SeededGenerator(seed: 1)

        let (wholeLoss, wholeState) = model.accumulateGradients(on: [whole], initialState: nil, generator: &generator)
        let (firstLoss, firstState) = model.accumulateGradients(on: [first], initialState: nil, generator: &generator)
        let (secondLoss, secondState) = model.accumulateGradients(on: [second], initialState: firstState, generator: &generator)
        XCTAssertEqual(firstLoss.count + secondLoss.count, wholeLoss.count)
        XCTAssertEqual(firstLoss.sum + secondLoss.sum, wholeLoss.sum, accuracy: 1e-4 * wholeLoss.sum)
        XCTAssertEqual(secondState.hidden.scalars.count, wholeState.hidden.scalars.count)
        for (a, b) in zip(secondState.hidden.scalars + secondState.cell.scalars, wholeState.hidden.scalars + wholeState.cell.scalars) {
            XCTAssertEqual(a, b, accuracy: 1e-5)
        }
        let (freshLoss, _) = model.accumulateGradients(on: [second], initialState: nil, generator: &generator)
        XCTAssertGreaterThan(abs(freshLoss.sum - secondLoss.sum), 1e-3, "the carried state must make a difference")
    }

    func testTheTrainingModelCarriesTheStateAcrossBatchesIncludingShorterAndFewerLanes() {
        let vocabularySize = 9
        let ids = stream(count: 26, vocabularySize: vocabularySize)
        let (chunks, batches) = GeneratorData.laneChunks(ids, lanes: 3, length: 4)   // batches of 3, 3 and 1 lanes
        let base = tinyModel(vocabularySize: vocabularySize)
        var training = TrainingLanguageModel(model: base, vocabulary: Vocabulary(tokens: (0..<5).map(String.init)),
                                             consecutiveBatches: batches)
        var generator = SeededGenerator(seed: 2)
        XCTAssertEqual(training.trainingBatches(of: chunks, batchSize: 3, generator: &generator), batches)

        func epochLoss() -> BatchLoss {
            training.beginEpoch()
            XCTAssertNil(training.carriedState)
            var total = BatchLoss(sum: 0, count: 0)
            for batch in batches {
                let loss = training.accumulateGradients(on: batch.map { chunks[$0] }, generator: &generator)
                XCTAssertEqual(training.carriedState?.hidden.shape, [2, batch.count, 10])
                total.sum += loss.sum
                total.count += loss.count
            }
            return total
        }
        // Whole lanes evaluated in one pass each (inference carries the state inside a sequence).
        let laneSequences = (0..<3).map { lane in
            let pieces = batches.compactMap { $0.count > lane ? chunks[$0[lane]] : nil }
            return TokenSequence(inputs: pieces.flatMap(\.inputs), targets: pieces.flatMap(\.targets))
        }
        let reference = base.loss(on: laneSequences)
        let first = epochLoss()
        XCTAssertEqual(first.count, 25)
        XCTAssertEqual(first.count, reference.count)
        XCTAssertEqual(first.sum, reference.sum, accuracy: 1e-4 * reference.sum)
        // The next epoch starts afresh: same parameters, same loss (no state left over).
        XCTAssertEqual(epochLoss(), first)

        var random = TrainingLanguageModel(model: base, vocabulary: Vocabulary(tokens: []), consecutiveBatches: nil)
        XCTAssertNil(random.trainingBatches(of: chunks, batchSize: 3, generator: &generator))
        var freshTotal = 0.0
        for batch in batches { freshTotal += random.accumulateGradients(on: batch.map { chunks[$0] }, generator: &generator).sum }
        XCTAssertNil(random.carriedState, "random sampling carries nothing")
        XCTAssertGreaterThan(abs(freshTotal - first.sum), 1e-3, "zero states per chunk give another loss")
    }

    // MARK: Through the training loop

    private func sampleText() throws -> String {
        let text = try String(contentsOf: GeneratorTestSupport.repositoryRoot.appendingPathComponent("Corpora/text/sample.txt"),
                              encoding: .utf8)
        return String(text.prefix(1500))
    }

    private func recipe(_ sampling: StreamSampling) -> GeneratorRecipe {
        GeneratorRecipe(level: .char, records: .stream, embeddingSize: 6, hiddenSize: 12, layerCount: 1, dropout: 0.1,
                        sequenceLength: 20, sampling: sampling, validationFraction: 0.1)
    }

    private func options(epochs: Int) -> TrainerOptions {
        var options = GeneratorRecipe.defaultTrainerOptions
        options.epochs = epochs
        options.batchSize = 8
        options.learningRate = 0.01
        options.seed = 5
        return options
    }

    private func bits(_ model: LanguageModel) -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.value.scalars.map(\.bitPattern)) })
    }

    private func lastWeights(_ directory: URL, epoch: Int) throws -> [String: [UInt32]] {
        let file = try SafeTensors(contentsOf: directory.appendingPathComponent("resume/parameters-\(epoch).safetensors"))
        return try Dictionary(uniqueKeysWithValues: file.names.map { ($0, try file.floatTensor($0).scalars.map(\.bitPattern)) })
    }

    func testRandomSamplingTrainsExactlyAsThePlainModelInTheTrainer() throws {
        let text = try sampleText()
        let options = options(epochs: 2)
        let (trained, summary) = try GeneratorTraining.train(text: text, recipe: recipe(.random), options: options,
                                                             directory: temporaryDirectory())
        // The same run by hand: random chunks, the plain model, the loop's own batches.
        let data = try GeneratorData(text: text, level: .char, mode: .stream, sequenceLength: 20, sampling: .random)
        var generator = SeededGenerator(seed: options.seed)
        let r = recipe(.random)
        var plain = LanguageModel(GeneratorConfiguration(level: .char, records: .stream, vocabularySize: data.vocabulary.count,
                                                         embeddingSize: r.embeddingSize, hiddenSize: r.hiddenSize,
                                                         layerCount: r.layerCount, dropout: r.dropout, sequenceLength: 20),
                                  generator: &generator)
        let plainSummary = try Trainer(options: options).fit(&plain, train: data.training, dev: data.validation,
                                                             in: temporaryDirectory()) { _, _ in }
        XCTAssertTrue(bits(trained.model) == bits(plain), "random sampling must train as the plain model does")
        XCTAssertEqual(summary.history.map(\.trainLoss), plainSummary.history.map(\.trainLoss))
    }

    func testConsecutiveSamplingTrainsOnLaneBatchesAndDiffersFromRandom() throws {
        let text = try sampleText()
        let consecutive = try GeneratorTraining.train(text: text, recipe: recipe(.consecutive), options: options(epochs: 2),
                                                      directory: temporaryDirectory())
        let random = try GeneratorTraining.train(text: text, recipe: recipe(.random), options: options(epochs: 2),
                                                 directory: temporaryDirectory())
        let data = try GeneratorData(text: text, level: .char, mode: .stream, sequenceLength: 20, sampling: .consecutive, lanes: 8)
        XCTAssertEqual(consecutive.summary.history.map(\.batches), Array(repeating: data.trainingBatches!.count, count: 2))
        let tokens = data.training.reduce(0) { $0 + $1.count }
        XCTAssertEqual(consecutive.summary.history.map(\.tokens), [tokens, tokens])
        XCTAssertFalse(bits(consecutive.model.model) == bits(random.model.model), "the schemes must train differently")
        XCTAssertTrue(consecutive.summary.history.allSatisfy { $0.trainLoss.isFinite })
    }

    func testResumeWithConsecutiveSamplingIsBitIdentical() throws {
        let text = try sampleText()
        let straightDirectory = temporaryDirectory()
        let straight = try GeneratorTraining.train(text: text, recipe: recipe(.consecutive), options: options(epochs: 3),
                                                   directory: straightDirectory)
        let directory = temporaryDirectory()
        _ = try GeneratorTraining.train(text: text, recipe: recipe(.consecutive), options: options(epochs: 1), directory: directory)
        let resumed = try GeneratorTraining.train(text: text, recipe: recipe(.consecutive), options: options(epochs: 3),
                                                  directory: directory, resume: true)
        XCTAssertEqual(resumed.summary.history.map(\.trainLoss), straight.summary.history.map(\.trainLoss))
        XCTAssertTrue(try lastWeights(directory, epoch: 3) == lastWeights(straightDirectory, epoch: 3), "last weights differ")
        XCTAssertTrue(bits(resumed.model.model) == bits(straight.model.model), "best weights differ")
    }

    /// Resuming with another sampling scheme (same shapes; the number of chunks may well be the
    /// same too) would silently continue a different run: it is refused, naming the change.
    func testResumingWithAnotherSamplingIsRefused() throws {
        let text = try sampleText()
        let directory = temporaryDirectory()
        _ = try GeneratorTraining.train(text: text, recipe: recipe(.consecutive), options: options(epochs: 1), directory: directory)
        XCTAssertThrowsError(try GeneratorTraining.train(text: text, recipe: recipe(.random), options: options(epochs: 2),
                                                         directory: directory, resume: true)) { error in
            guard case let TrainingError.resumeMismatch(_, differences) = error else {
                return XCTFail("expected a resume mismatch, got \(error)")
            }
            XCTAssertTrue(differences.contains("sampling consecutive → random"), "\(differences)")
        }
        // The same recipe still resumes.
        XCTAssertNoThrow(try GeneratorTraining.train(text: text, recipe: recipe(.consecutive), options: options(epochs: 2),
                                                     directory: directory, resume: true))
    }

    func testAStrideWithConsecutiveSamplingIsAClearError() {
        XCTAssertThrowsError(try GeneratorRecipe(sequenceLength: 50, stride: 10, sampling: .consecutive).validate()) { error in
            XCTAssertTrue("\(error)".contains("needs random sampling"), "\(error)")
        }
        XCTAssertNoThrow(try GeneratorRecipe(sequenceLength: 50, stride: 10, sampling: .random).validate())
        XCTAssertNoThrow(try GeneratorRecipe(records: .lines, sequenceLength: 50, stride: 10, sampling: .consecutive).validate())
        XCTAssertEqual(GeneratorRecipe().sampling, .consecutive)
    }
}
