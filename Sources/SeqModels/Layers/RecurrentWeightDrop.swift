/// DropConnect on an LSTM's hidden-to-hidden weights for one training step: AWD-LSTM's
/// `WeightDrop` (Merity, Keskar and Socher 2018; DropConnect: Wan et al. 2013).
///
/// Dropout on activations leaves the recurrence itself unregularised; dropping entries of
/// every `weight_hh` (`[4H, H]`) instead perturbs how the state carries from step to step,
/// with one mask for the whole batch and every time step, so the cell kernels and the
/// packed products run unchanged on the masked matrices. Each entry is kept with
/// probability `1 − p` and scaled by `1/(1 − p)`, so evaluation uses the weights as they
/// are. The masks come from the caller's generator (one uniform draw per entry, cells in
/// order), so a seed fixes them.
///
/// Use: `let step = drop.apply(to: &lstm, generator: &g)`, then the LSTM's `forward` and
/// `backward`, then `drop.restore(&lstm, after: step)`, which puts the weights back and
/// turns the step's gradient with respect to the masked matrices into the gradient with
/// respect to the weights (`∂L/∂W = mask ⊙ ∂L/∂W̃`), leaving what the gradients held before
/// the step as it was (accumulation over several batches stays right).
public struct RecurrentWeightDrop: Sendable, Equatable {
    /// Probability of dropping an entry, in `[0, 1)`.
    public let probability: Float

    public init(probability: Float) {
        precondition(probability >= 0 && probability < 1, "Weight drop probability must be in [0, 1), got \(probability)")
        self.probability = probability
    }

    /// What `restore` needs, per cell: the weights as they were, the mask (entries 0 or
    /// `1/(1 − p)`) and the gradient before the step.
    public struct Step: Sendable {
        fileprivate let weights: [Tensor]
        fileprivate let masks: [Tensor]
        fileprivate let gradientsBefore: [Tensor]
    }

    /// Replaces each cell's `weight_hh` by a masked copy; `nil` (nothing drawn, nothing
    /// changed) when the probability is 0 or the hidden-to-hidden weights are frozen.
    public func apply(to lstm: inout LSTM, generator: inout SeededGenerator) -> Step? {
        guard probability > 0 else { return nil }
        var cells = lstm.cells
        guard cells.allSatisfy(\.weightHH.isTrainable) else { return nil }
        var weights: [Tensor] = [], masks: [Tensor] = [], gradients: [Tensor] = []
        for index in cells.indices {
            let original = cells[index].weightHH.value
            var masked = original
            var mask = Tensor(shape: original.shape)
            mask.withUnsafeMutableBufferPointer { mb in
                masked.withUnsafeMutableBufferPointer { wb in
                    guard let m = mb.baseAddress, let w = wb.baseAddress else { return }
                    Dropout.drawMask(probability: probability, into: m, applyingTo: w, count: mb.count, generator: &generator)
                }
            }
            weights.append(original)
            masks.append(mask)
            gradients.append(cells[index].weightHH.gradient)
            cells[index].weightHH.value = masked
        }
        lstm.cells = cells
        return Step(weights: weights, masks: masks, gradientsBefore: gradients)
    }

    /// Puts back the weights `apply` masked and maps the gradient the step added through
    /// the mask: `gradient = before + mask ⊙ (gradient − before)`.
    public func restore(_ lstm: inout LSTM, after step: Step) {
        var cells = lstm.cells
        precondition(cells.count == step.weights.count, "The weight drop step belongs to an LSTM with \(step.weights.count) cells")
        for index in cells.indices {
            var gradient = cells[index].weightHH.gradient
            let before = step.gradientsBefore[index], mask = step.masks[index]
            precondition(gradient.shape == mask.shape, "The weight drop step belongs to another LSTM")
            gradient.withUnsafeMutableBufferPointer { gb in
                before.withUnsafeBufferPointer { bb in
                    mask.withUnsafeBufferPointer { mb in
                        for i in 0..<gb.count { gb[i] = bb[i] + mb[i] * (gb[i] - bb[i]) }
                    }
                }
            }
            cells[index].weightHH.gradient = gradient
            cells[index].weightHH.value = step.weights[index]
        }
        lstm.cells = cells
    }
}
