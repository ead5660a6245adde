import Foundation
import XCTest
@testable import SeqModels

/// A small model made of two "layers", named as PyTorch would name them.
private struct TinyModel: ParameterContainer, Equatable {
    struct Configuration: Codable, Equatable {
        var vocabularySize: Int
        var width: Int
        var outputs: Int
        var name: String
    }

    var embedding: Parameter
    var weight: Parameter
    var bias: Parameter

    init(_ configuration: Configuration, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        embedding = Parameter(.normal([configuration.vocabularySize, configuration.width], using: &generator))
        weight = Parameter(.uniform([configuration.outputs, configuration.width], low: -1, high: 1, using: &generator))
        bias = Parameter(.uniform([configuration.outputs], low: -1, high: 1, using: &generator))
    }

    mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {
        try visit(prefix + "embedding.weight", &embedding)
        try visit(prefix + "linear.weight", &weight)
        try visit(prefix + "linear.bias", &bias)
    }
}

final class CheckpointTests: XCTestCase {
    private let configuration = TinyModel.Configuration(vocabularySize: 5, width: 3, outputs: 2, name: "tiny/tagger")

    private func savedModel() throws -> (model: TinyModel, directory: URL) {
        let directory = try temporaryDirectory(self).appendingPathComponent("models/tiny")
        let model = TinyModel(configuration, seed: 7)
        try Checkpoint.save(model, config: configuration, to: directory, metadata: ["epoch": "3"])
        return (model, directory)
    }

    private func assertLoadFails(_ directory: URL, into model: TinyModel, _ expected: CheckpointError.Problem, message: String? = nil,
                                 file: StaticString = #filePath, line: UInt = #line) {
        var target = model
        XCTAssertThrowsError(try Checkpoint.loadParameters(into: &target, from: directory), file: file, line: line) { error in
            XCTAssertEqual((error as? CheckpointError)?.problem, expected, file: file, line: line)
            if let message {
                XCTAssertEqual("\(error)", message, file: file, line: line)
            }
        }
        XCTAssertEqual(target, model, "a failed load must leave the model unchanged", file: file, line: line)
    }

    /// Rewrites the directory's parameter file with `change` applied.
    private func editParameters(in directory: URL, _ change: (inout SafeTensors) throws -> Void) throws {
        let url = directory.appendingPathComponent(Checkpoint.parametersFileName)
        var file = try SafeTensors(contentsOf: url)
        try change(&file)
        try file.write(to: url)
    }

    // MARK: Round trip

    func testSaveThenLoadRestoresParametersAndConfiguration() throws {
        let (model, directory) = try savedModel()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted(),
                       ["config.json", "model.safetensors"], "no temporary files are left behind")

        let loadedConfiguration = try Checkpoint.loadConfig(TinyModel.Configuration.self, from: directory)
        XCTAssertEqual(loadedConfiguration, configuration)
        var fresh = TinyModel(loadedConfiguration, seed: 99)
        XCTAssertNotEqual(fresh.namedParameters().map(\.value), model.namedParameters().map(\.value))
        try Checkpoint.loadParameters(into: &fresh, from: directory)
        XCTAssertEqual(fresh.namedParameters().map(\.name), model.namedParameters().map(\.name))
        XCTAssertEqual(fresh.namedParameters().map(\.value), model.namedParameters().map(\.value))
    }

    func testSavedFilesUsePyTorchNamesAndReadableJSON() throws {
        let (model, directory) = try savedModel()
        let file = try SafeTensors(contentsOf: directory.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(file.names, ["embedding.weight", "linear.bias", "linear.weight"])
        XCTAssertEqual(file.metadata, ["format": "pt", "epoch": "3"])
        XCTAssertEqual(file.dtype(of: "linear.weight"), .float32)
        XCTAssertEqual(try file.floatTensor("linear.weight"), model.weight.value)

        let json = try String(contentsOf: directory.appendingPathComponent("config.json"), encoding: .utf8)
        XCTAssertEqual(json, """
        {
          "name" : "tiny/tagger",
          "outputs" : 2,
          "vocabularySize" : 5,
          "width" : 3
        }

        """)
    }

    func testExtraJSONFilesRoundTrip() throws {
        let (_, directory) = try savedModel()
        let vocabulary = ["<pad>", "the", "東京", "\"quoted\""]
        try Checkpoint.writeJSON(vocabulary, named: "vocabulary.json", in: directory)
        XCTAssertEqual(try Checkpoint.readJSON([String].self, named: "vocabulary.json", in: directory), vocabulary)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted(),
                       ["config.json", "model.safetensors", "vocabulary.json"])
    }

    func testHalfPrecisionTensorsLoadLikePyTorchLoadStateDict() throws {
        let (model, directory) = try savedModel()
        try editParameters(in: directory) { file in
            // 0.5 and -0.25 are exact in F16: 0x3800, 0xB400.
            file.set(rawBytes: Data([0x00, 0x38, 0x00, 0xB4]), dtype: .float16, shape: [2], named: "linear.bias")
        }
        var target = model
        try Checkpoint.loadParameters(into: &target, from: directory)
        XCTAssertEqual(target.bias.value.scalars, [0.5, -0.25])
    }

    // MARK: Errors

    func testMissingDirectoryOrFileIsReported() throws {
        let root = try temporaryDirectory(self)
        let missing = root.appendingPathComponent("nowhere")
        assertLoadFails(missing, into: TinyModel(configuration, seed: 1), .directoryMissing,
                        message: "\(missing.path): no such model directory")
        XCTAssertThrowsError(try Checkpoint.loadConfig(TinyModel.Configuration.self, from: root)) { error in
            XCTAssertEqual(error as? CheckpointError, CheckpointError(path: root.appendingPathComponent("config.json").path, problem: .fileMissing))
        }
        let (_, directory) = try savedModel()
        try FileManager.default.removeItem(at: directory.appendingPathComponent("model.safetensors"))
        assertLoadFails(directory, into: TinyModel(configuration, seed: 1), .fileMissing)
    }

    func testSavingOverAFileInsteadOfADirectoryIsReported() throws {
        let root = try temporaryDirectory(self)
        let file = root.appendingPathComponent("occupied")
        try Data().write(to: file)
        XCTAssertThrowsError(try Checkpoint.save(TinyModel(configuration, seed: 1), config: configuration, to: file)) { error in
            XCTAssertEqual((error as? CheckpointError)?.problem, .notADirectory)
        }
    }

    func testMissingTensorIsNamed() throws {
        let (model, directory) = try savedModel()
        try editParameters(in: directory) { $0.remove("linear.bias") }
        let path = directory.appendingPathComponent("model.safetensors").path
        assertLoadFails(directory, into: model, .missingTensor("linear.bias"),
                        message: "\(path): the checkpoint has no tensor 'linear.bias', which the model needs")
    }

    func testUnexpectedTensorsAreNamedUnlessNotStrict() throws {
        let (model, directory) = try savedModel()
        try editParameters(in: directory) { $0.set(Tensor(shape: [1]), named: "decoder.weight") }
        assertLoadFails(directory, into: model, .unexpectedTensors(["decoder.weight"]))
        var lenient = TinyModel(configuration, seed: 3)
        try Checkpoint.loadParameters(into: &lenient, from: directory, strict: false)
        XCTAssertEqual(lenient, model)
    }

    func testWrongShapeIsReportedWithBothShapes() throws {
        let (model, directory) = try savedModel()
        try editParameters(in: directory) { $0.set(Tensor(shape: [2, 5]), named: "linear.weight") }
        let path = directory.appendingPathComponent("model.safetensors").path
        assertLoadFails(directory, into: model, .shapeMismatch(tensor: "linear.weight", expected: [2, 3], found: [2, 5]),
                        message: "\(path): tensor 'linear.weight' has shape [2, 5], but the model needs [2, 3]")
    }

    func testWrongDTypeIsReported() throws {
        let (model, directory) = try savedModel()
        try editParameters(in: directory) { $0.set(int64s: [1, 2], named: "linear.bias") }
        assertLoadFails(directory, into: model, .wrongDType(tensor: "linear.bias", dtype: .int64))
    }

    func testMalformedParameterFileIsReportedWithItsOwnReason() throws {
        let (model, directory) = try savedModel()
        let url = directory.appendingPathComponent("model.safetensors")
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count - 4).write(to: url)
        var target = model
        XCTAssertThrowsError(try Checkpoint.loadParameters(into: &target, from: directory)) { error in
            guard case let .unreadable(inner)? = (error as? CheckpointError)?.problem, case .truncated = inner.problem else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue("\(error)".hasPrefix(url.path + ": tensor "), "\(error)")
        }
    }

    func testConfigurationThatDoesNotDecodeNamesTheKey() throws {
        let (_, directory) = try savedModel()
        try Data(#"{"name": "x", "outputs": 2, "vocabularySize": "five", "width": 3}"#.utf8)
            .write(to: directory.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try Checkpoint.loadConfig(TinyModel.Configuration.self, from: directory)) { error in
            XCTAssertTrue("\(error)".contains("'vocabularySize' is not a Int"), "\(error)")
        }
        try Data(#"{"name": "x", "outputs": 2, "vocabularySize": 5}"#.utf8).write(to: directory.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try Checkpoint.loadConfig(TinyModel.Configuration.self, from: directory)) { error in
            XCTAssertTrue("\(error)".contains("'width' is missing"), "\(error)")
        }
    }

    // MARK: LSTM state dicts

    private func shapes(_ configuration: LSTM.Configuration, prefix: String = "lstm.") -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: LSTMStateDict.parameterShapes(for: configuration, prefix: prefix).map { ($0.name, $0.shape) })
    }

    private func assertInferenceFails(_ shapes: [String: [Int]], prefix: String? = nil, tensor: String, _ problem: LSTMStateDictError.Problem,
                                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try LSTMStateDict.configuration(fromShapes: shapes, prefix: prefix), file: file, line: line) { error in
            XCTAssertEqual(error as? LSTMStateDictError, LSTMStateDictError(tensor: tensor, problem: problem), file: file, line: line)
            XCTAssertTrue("\(error)".contains("'\(tensor)'"), "\(error)", file: file, line: line)
        }
    }

    func testInfersTheConfigurationOfATorchLSTMCheckpoint() throws {
        let file = try SafeTensors(contentsOf: safetensorsFixture("lstm_2layer_bidirectional.safetensors"))
        let inferred = try LSTMStateDict.configuration(of: file)
        XCTAssertEqual(inferred, LSTM.Configuration(inputSize: 3, hiddenSize: 2, layerCount: 2, bidirectional: true))
        XCTAssertEqual(try LSTMStateDict.configuration(of: file, prefix: "lstm."), inferred)
        // The names PyTorch wrote are exactly the ones SeqModels expects, in state_dict order.
        XCTAssertEqual(Set(LSTMStateDict.parameterShapes(for: inferred, prefix: "lstm.").map(\.name)),
                       Set(file.names.filter { $0.hasPrefix("lstm.") }))
    }

    func testInferenceInvertsParameterShapesForManyConfigurations() throws {
        for (input, hidden, layers, bidirectional) in [(1, 1, 1, false), (7, 5, 3, true), (128, 64, 2, false), (4, 9, 1, true)] {
            let configuration = LSTM.Configuration(inputSize: input, hiddenSize: hidden, layerCount: layers, bidirectional: bidirectional)
            XCTAssertEqual(try LSTMStateDict.configuration(fromShapes: shapes(configuration, prefix: "")), configuration)
            var withOthers = shapes(configuration, prefix: "encoder.rnn.")
            withOthers["encoder.embedding.weight"] = [10, input]
            withOthers["decoder.weight"] = [3, configuration.outputSize]
            XCTAssertEqual(try LSTMStateDict.configuration(fromShapes: withOthers), configuration)
        }
    }

    private let twoLayerBidirectional = LSTM.Configuration(inputSize: 3, hiddenSize: 2, layerCount: 2, bidirectional: true)

    func testMissingReverseDirectionForOneLayerIsNamed() {
        var s = shapes(twoLayerBidirectional)
        for kind in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] { s["lstm.\(kind)_l1_reverse"] = nil }
        assertInferenceFails(s, tensor: "lstm.weight_ih_l1_reverse",
                             .missing(reason: "other tensors have the suffix _reverse, so the LSTM is bidirectional and every layer needs both directions"))
    }

    func testGateRowsNotDivisibleByFourAreRejected() {
        var s = shapes(twoLayerBidirectional)
        s["lstm.weight_ih_l0"] = [7, 3]
        assertInferenceFails(s, tensor: "lstm.weight_ih_l0", .gateRowsNotDivisibleByFour(rows: 7))
        s = shapes(twoLayerBidirectional)
        s["lstm.bias_hh_l1"] = [9]
        assertInferenceFails(s, tensor: "lstm.bias_hh_l1", .gateRowsNotDivisibleByFour(rows: 9))
    }

    func testLayerGapIsRejected() {
        var s = shapes(LSTM.Configuration(inputSize: 3, hiddenSize: 2, layerCount: 3))
        for kind in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] { s["lstm.\(kind)_l1"] = nil }
        assertInferenceFails(s, tensor: "lstm.bias_hh_l2", .layerGap(missingLayer: 1))
    }

    func testUpperLayerInputWidthMustBeDirectionsTimesHidden() {
        var s = shapes(twoLayerBidirectional)
        s["lstm.weight_ih_l1"] = [8, 2]
        assertInferenceFails(s, tensor: "lstm.weight_ih_l1", .shapeMismatch(
            found: [8, 2], expected: [8, 4],
            reason: "layer 1 reads the output of layer 0, which is 2·2 = 4 wide (directions · hidden size)"))
        s = shapes(twoLayerBidirectional)
        s["lstm.weight_hh_l0_reverse"] = [12, 3]
        assertInferenceFails(s, tensor: "lstm.weight_hh_l0_reverse", .shapeMismatch(
            found: [12, 3], expected: [8, 2],
            reason: "'lstm.weight_ih_l0' has 8 rows, so the hidden size is 2 and every tensor has 4·2 = 8 rows"))
        s = shapes(twoLayerBidirectional)
        s["lstm.bias_ih_l0"] = [8, 1]
        assertInferenceFails(s, tensor: "lstm.bias_ih_l0", .wrongRank(found: [8, 1], expectedRank: 1))
    }

    func testMissingBiasForOneLayerIsNamed() {
        var s = shapes(twoLayerBidirectional)
        s["lstm.bias_ih_l1"] = nil
        assertInferenceFails(s, tensor: "lstm.bias_ih_l1", .missing(
            reason: "the LSTM has biases elsewhere, so every layer and direction needs both bias_ih and bias_hh"))
    }

    func testUnknownNamesUnderThePrefixAreRejected() {
        var s = shapes(twoLayerBidirectional)
        s["lstm.weight_ih_l0_backward"] = [8, 3]
        assertInferenceFails(s, tensor: "lstm.weight_ih_l0_backward", .unexpectedName(prefix: "lstm."))
        s = shapes(twoLayerBidirectional)
        s["lstm.weight_ih_l01"] = [8, 3]
        assertInferenceFails(s, tensor: "lstm.weight_ih_l01", .unexpectedName(prefix: "lstm."))
    }

    func testProjectionsAndBiaslessLSTMsAreRejectedClearly() {
        // nn.LSTM(3, 4, proj_size=2): weight_hh is [16, 2] and weight_hr_l0 is [2, 4].
        var s = shapes(LSTM.Configuration(inputSize: 3, hiddenSize: 4))
        s["lstm.weight_hh_l0"] = [16, 2]
        s["lstm.weight_hr_l0"] = [2, 4]
        assertInferenceFails(s, tensor: "lstm.weight_hr_l0", .projectionUnsupported)
        s = shapes(twoLayerBidirectional).filter { !$0.key.contains("bias") }
        assertInferenceFails(s, tensor: "lstm.weight_ih_l0", .biasUnsupported)
    }

    func testPrefixMustBeFoundAndUnambiguous() {
        assertInferenceFails(["embedding.weight": [4, 3]], tensor: "weight_ih_l0", .noLSTM(names: ["embedding.weight"]))
        var s = shapes(twoLayerBidirectional, prefix: "encoder.")
        s.merge(shapes(twoLayerBidirectional, prefix: "decoder.")) { a, _ in a }
        assertInferenceFails(s, tensor: "decoder.weight_ih_l0", .ambiguousPrefix(["decoder.", "encoder."]))
        XCTAssertEqual(try LSTMStateDict.configuration(fromShapes: s, prefix: "decoder."), twoLayerBidirectional)
    }
}
