import XCTest
import SeqModels

/// The library example of README.md, verbatim, so that it keeps compiling and working.
final class ReadmeExampleTests: XCTestCase {
    func testReadmeLibraryExampleTrainsAndShrinksTheLoss() throws {
        // --- README example begins ---
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
        // --- README example ends ---
        XCTAssertLessThan(losses.last!, losses.first! * 0.5, "training should at least halve the loss: \(losses)")
    }
}
