import XCTest
import GradientChecking
@testable import SeqModels

/// `RecurrentWeightDrop`: the gradient it leaves is the gradient with respect to the
/// unmasked weights (finite differences through the masked LSTM), the weights come back
/// unchanged, earlier gradients stay, and a probability of 0 draws nothing.
final class RecurrentWeightDropTests: XCTestCase {
    /// loss = Σ output ⊙ R over a packed batch of uneven lengths, in Double.
    private func loss(_ lstm: LSTM, _ input: PackedSequence, _ r: Tensor) -> Double {
        let output = lstm(input).output.data
        var sum = 0.0
        for i in 0..<output.count { sum += Double(output[flat: i]) * Double(r[flat: i]) }
        return sum
    }

    /// `lstm` with every `weight_hh` multiplied by the masks the drop draws from `seed`.
    private func masked(_ lstm: LSTM, _ drop: RecurrentWeightDrop, seed: UInt64) -> LSTM {
        var copy = lstm
        var generator = SeededGenerator(seed: seed)
        _ = drop.apply(to: &copy, generator: &generator)
        return copy
    }

    func testGradientIsThatOfTheUnmaskedWeightsAndEarlierGradientsStay() throws {
        var g = SeededGenerator(seed: 11)
        var lstm = LSTM(inputSize: 3, hiddenSize: 4, layerCount: 2, generator: &g)
        let input = LSTMGradientTests.packedBatch(sortedLengths: [5, 4, 2], features: 3, sortedIndices: [1, 2, 0], generator: &g)
        let r = Tensor.uniform([input.rowCount, 4], low: -1, high: 1, using: &g)
        // Gradients already accumulated from an earlier batch must survive the step unchanged.
        let earlier = (0..<lstm.cells.count).map { _ in Tensor.uniform([16, 4], low: -1, high: 1, using: &g) }
        var cells = lstm.cells
        for index in cells.indices { cells[index].weightHH.gradient = earlier[index] }
        lstm.cells = cells
        let weightsBefore = lstm.cells.map(\.weightHH.value)

        let drop = RecurrentWeightDrop(probability: 0.5)
        var maskGenerator = SeededGenerator(seed: 5)
        let step = try XCTUnwrap(drop.apply(to: &lstm, generator: &maskGenerator))
        let maskedWeights = lstm.cells.map(\.weightHH.value)
        var dropoutGenerator = SeededGenerator(seed: 1)
        let (_, _, cache) = lstm.forward(input, initialState: nil, generator: &dropoutGenerator)
        _ = lstm.backward(cache, outputGradient: r)
        drop.restore(&lstm, after: step)

        XCTAssertEqual(lstm.cells.map(\.weightHH.value), weightsBefore, "the unmasked weights come back bit for bit")
        var dropped = 0, total = 0
        for (cellIndex, cell) in lstm.cells.enumerated() {
            let gradient = cell.weightHH.gradient
            var stepGradient = gradient
            for i in 0..<gradient.count { stepGradient[flat: i] = gradient[flat: i] - earlier[cellIndex][flat: i] }
            for i in 0..<gradient.count where maskedWeights[cellIndex][flat: i] == 0 {
                dropped += 1
                XCTAssertEqual(stepGradient[flat: i], 0, "a dropped weight gets no gradient from the step")
            }
            total += gradient.count
            // Finite differences of the loss through the masked LSTM, with respect to the unmasked weights.
            let report = checkGradient(of: { w in
                var probe = lstm
                var probeCells = probe.cells
                probeCells[cellIndex].weightHH.value = w
                probe.cells = probeCells
                return self.loss(self.masked(probe, drop, seed: 5), input, r)
            }, analytic: stepGradient, at: cell.weightHH.value, tolerance: 1e-2, "weight_hh of cell \(cellIndex)")
            XCTAssertGreaterThan(report.checkedCount, 0)
        }
        XCTAssertGreaterThan(dropped, total / 4, "about half of \(total) weights are dropped, got \(dropped)")
        XCTAssertLessThan(dropped, 3 * total / 4, "about half of \(total) weights are dropped, got \(dropped)")
    }

    func testNoProbabilityDrawsNothingAndChangesNothing() {
        var g = SeededGenerator(seed: 3)
        var lstm = LSTM(inputSize: 2, hiddenSize: 3, generator: &g)
        let before = lstm.cells
        var generator = SeededGenerator(seed: 9)
        XCTAssertNil(RecurrentWeightDrop(probability: 0).apply(to: &lstm, generator: &generator))
        XCTAssertEqual(generator, SeededGenerator(seed: 9), "nothing is drawn")
        XCTAssertEqual(lstm.cells, before)
    }

    func testMasksAreScaledToKeepTheExpectedWeight() throws {
        var g = SeededGenerator(seed: 4)
        var lstm = LSTM(inputSize: 2, hiddenSize: 32, generator: &g)
        let original = lstm.cells[0].weightHH.value
        var generator = SeededGenerator(seed: 2)
        _ = try XCTUnwrap(RecurrentWeightDrop(probability: 0.25).apply(to: &lstm, generator: &generator))
        let masked = lstm.cells[0].weightHH.value
        for i in 0..<masked.count where masked[flat: i] != 0 {
            XCTAssertEqual(masked[flat: i], original[flat: i] / 0.75, accuracy: 1e-6 * abs(original[flat: i]) + 1e-7)
        }
    }
}
