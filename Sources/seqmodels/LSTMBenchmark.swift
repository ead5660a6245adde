import Foundation
import SeqModels
import Tasks

/// One benchmark shape of `seqmodels bench lstm`, as listed in the issue.
struct LSTMBenchmarkShape {
    var key: String
    var summary: String
    var layers: Int
    var bidirectional: Bool
    var input: Int
    var hidden: Int
    /// One length per sequence (equal lengths for the padded shapes).
    var lengths: [Int]
    var packed: Bool
    var inferenceOnly: Bool = false

    var tokens: Int { lengths.reduce(0, +) }

    /// Floating-point operations of one forward pass over the real tokens:
    /// per token, layer and direction, 2·4H·(I_layer + H) for the two GEMMs.
    var forwardFlops: Double {
        let d = bidirectional ? 2 : 1
        var perToken = 0.0
        for layer in 0..<layers {
            let inputWidth = layer == 0 ? input : d * hidden
            perToken += Double(d) * 2 * 4 * Double(hidden) * Double(inputWidth + hidden)
        }
        return perToken * Double(tokens)
    }

    /// Forward + backward: backward costs two GEMMs for each forward one.
    var trainingFlops: Double { 3 * forwardFlops }

    static func standard(seed: UInt64) -> [LSTMBenchmarkShape] {
        var g = SeededGenerator(seed: seed)
        let uneven = (0..<32).map { _ in 5 + g.nextInt(below: 46) }
        let total = uneven.reduce(0, +)
        let equalLength = Int((Double(total) / 32).rounded())
        return [
            .init(key: "a", summary: "uni 1x128, I=128, B=32, T=35", layers: 1, bidirectional: false, input: 128, hidden: 128,
                  lengths: Array(repeating: 35, count: 32), packed: false),
            .init(key: "b", summary: "uni 2x256, I=128, B=32, T=35", layers: 2, bidirectional: false, input: 128, hidden: 256,
                  lengths: Array(repeating: 35, count: 32), packed: false),
            .init(key: "c", summary: "bi 1x128, I=100, B=32, T=25", layers: 1, bidirectional: true, input: 100, hidden: 128,
                  lengths: Array(repeating: 25, count: 32), packed: false),
            .init(key: "d", summary: "bi 1x256, I=100, B=64, T=200", layers: 1, bidirectional: true, input: 100, hidden: 256,
                  lengths: Array(repeating: 200, count: 64), packed: false),
            .init(key: "e", summary: "bi 1x128, I=100, B=32, T∈[5,50] packed", layers: 1, bidirectional: true, input: 100, hidden: 128,
                  lengths: uneven, packed: true),
            .init(key: "e=", summary: "(e)'s tokens as equal lengths T=\(equalLength)", layers: 1, bidirectional: true, input: 100, hidden: 128,
                  lengths: Array(repeating: equalLength, count: 32), packed: false),
            .init(key: "f", summary: "latency: bi 1x128, I=100, one 20-token sentence", layers: 1, bidirectional: true, input: 100, hidden: 128,
                  lengths: [20], packed: false, inferenceOnly: true),
        ]
    }
}

/// Runs SeqModels' LSTM on one shape: inference, or forward + backward + Adam step.
struct SeqModelsLSTMRunner {
    let shape: LSTMBenchmarkShape
    var lstm: LSTM
    let input: PackedSequence
    let outputGradient: Tensor
    var optimizer: Adam
    var generator = SeededGenerator(seed: 7)

    init(shape: LSTMBenchmarkShape) {
        self.shape = shape
        var g = SeededGenerator(seed: 0)
        lstm = LSTM(inputSize: shape.input, hiddenSize: shape.hidden, layerCount: shape.layers,
                    bidirectional: shape.bidirectional, generator: &g)
        // Sort by decreasing length, remembering the original order (enforceSorted: false).
        let order = shape.lengths.indices.sorted { shape.lengths[$0] > shape.lengths[$1] }
        let sorted = order.map { shape.lengths[$0] }
        let T = sorted.first ?? 0
        let batchSizes = (0..<T).map { t in sorted.filter { $0 > t }.count }
        let isSorted = order == Array(shape.lengths.indices)
        input = PackedSequence(data: .normal([shape.tokens, shape.input], using: &g), batchSizes: batchSizes,
                               sortedIndices: isSorted ? nil : order)
        let d = shape.bidirectional ? 2 : 1
        outputGradient = .normal([shape.tokens, d * shape.hidden], using: &g)
        optimizer = Adam(learningRate: 1e-3)
    }

    mutating func runInference() {
        _ = lstm(input)
    }

    mutating func runTraining() {
        let (_, _, cache) = lstm.forward(input, generator: &generator)
        _ = lstm.backward(cache, outputGradient: outputGradient)
        optimizer.step(&lstm)
        lstm.zeroGradients()
    }
}

/// Talks to `Tools/bench_lstm_pytorch.py`, a persistent PyTorch worker.
final class PyTorchWorker {
    private let process = Process()
    private let toWorker = Pipe()
    private let fromWorker = Pipe()
    private var buffer = Data()
    let version: String

    init(python: String, script: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script]
        process.standardInput = toWorker
        process.standardOutput = fromWorker
        try process.run()
        let hello = try PyTorchWorker.readLine(fromWorker.fileHandleForReading, buffer: &buffer)
        guard let object = try JSONSerialization.jsonObject(with: Data(hello.utf8)) as? [String: Any] else {
            throw TaskError("the PyTorch worker said something unexpected: \(hello)")
        }
        if let error = object["error"] as? String { throw TaskError(error) }
        version = object["ready"] as? String ?? "?"
    }

    deinit {
        try? toWorker.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    /// Per-iteration seconds of PyTorch on `shape`.
    func measure(_ shape: LSTMBenchmarkShape, training: Bool, threads: Int, iterations: Int) throws -> [Double] {
        let request: [String: Any] = [
            "layers": shape.layers, "bidirectional": shape.bidirectional, "input": shape.input, "hidden": shape.hidden,
            "lengths": shape.lengths, "packed": shape.packed, "mode": training ? "training" : "inference",
            "threads": threads, "iterations": iterations,
        ]
        var line = try JSONSerialization.data(withJSONObject: request)
        line.append(0x0A)
        try toWorker.fileHandleForWriting.write(contentsOf: line)
        let answer = try PyTorchWorker.readLine(fromWorker.fileHandleForReading, buffer: &buffer)
        guard let object = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any] else {
            throw TaskError("the PyTorch worker said something unexpected: \(answer)")
        }
        if let error = object["error"] as? String { throw TaskError("PyTorch failed on (\(shape.key)): \(error)") }
        guard let seconds = object["seconds"] as? [Double] else { throw TaskError("the PyTorch worker sent no timings") }
        return seconds
    }

    private static func readLine(_ handle: FileHandle, buffer: inout Data) throws -> String {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            // `availableData` returns as soon as anything arrives (`read(upToCount:)` waits for the full count).
            let chunk = handle.availableData
            guard !chunk.isEmpty else {
                throw TaskError("the PyTorch worker exited early")
            }
            buffer.append(chunk)
        }
    }
}


/// Wall-clock seconds of `body`.
func timeSeconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
