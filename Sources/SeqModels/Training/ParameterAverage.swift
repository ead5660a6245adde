/// An exponential moving average of a model's parameters, kept beside the parameters that
/// training updates, and evaluated and saved in their place (Polyak averaging; TensorFlow's
/// `ExponentialMovingAverage` with `num_updates`, or `torch.optim.swa_utils.AveragedModel`
/// with an EMA average function).
///
/// The parameters after any one step carry the noise of that step's batch; their average over
/// the last few hundred steps generalises better and moves less from one evaluation to the
/// next, so "the best epoch" is less a matter of luck.
///
/// After update `n` (from 0) the average moves towards the parameters by `1 − dₙ`, with
/// `dₙ = min(decay, (1 + n) / (10 + n))`: early on it follows the parameters closely, later
/// it spans about `1 / (1 − decay)` steps.
public struct ParameterAverage: Sendable {
    /// The largest decay per step, in (0, 1).
    public let decay: Double
    /// Updates so far.
    public private(set) var updates: Int
    /// The averaged values, in the model's visiting order.
    private var values: [Tensor]

    /// An average that starts at `model`'s current parameters.
    public init(of model: some ParameterContainer, decay: Double) {
        precondition(decay > 0 && decay < 1, "The averaging decay must be in (0, 1), got \(decay)")
        self.decay = decay
        self.updates = 0
        self.values = model.namedParameters().map(\.value)
    }

    /// An average restored from saved values (`named`) after `updates` updates.
    /// - Throws: `ParameterLoadingError` when a parameter of `model` is missing or has another shape.
    public init(of model: some ParameterContainer, decay: Double, updates: Int, named saved: [String: Tensor]) throws {
        precondition(decay > 0 && decay < 1, "The averaging decay must be in (0, 1), got \(decay)")
        precondition(updates >= 0, "The number of updates cannot be negative")
        var values: [Tensor] = []
        for (name, value) in model.namedParameters() {
            guard let tensor = saved[name] else { throw ParameterLoadingError.missing(name: name) }
            guard tensor.shape == value.shape else {
                throw ParameterLoadingError.shapeMismatch(name: name, expected: value.shape, found: tensor.shape)
            }
            values.append(tensor)
        }
        self.decay = decay
        self.updates = updates
        self.values = values
    }

    /// The decay of the next update.
    var nextDecay: Double { min(decay, Double(1 + updates) / Double(10 + updates)) }

    /// Moves the average towards `model`'s current parameters: `a ← d·a + (1 − d)·p`.
    public mutating func update(from model: inout some ParameterContainer) {
        let d = Float(nextDecay)
        var index = 0
        model.visitParameters(prefix: "") { _, parameter in
            precondition(index < values.count && values[index].shape == parameter.value.shape,
                         "ParameterAverage.update: the model's parameters changed shape")
            values[index].withUnsafeMutableBufferPointer { average in
                parameter.value.withUnsafeBufferPointer { current in
                    guard let a = average.baseAddress, let p = current.baseAddress else { return }
                    BLAS.scal(count: average.count, alpha: d, x: a)
                    BLAS.axpy(count: average.count, alpha: 1 - d, x: p, y: a)
                }
            }
            index += 1
        }
        updates += 1
    }

    /// Swaps the model's parameter values with the averaged ones (cheap: no tensor is copied).
    /// Calling it twice restores both.
    public mutating func exchange(with model: inout some ParameterContainer) {
        var index = 0
        model.visitParameters(prefix: "") { _, parameter in
            precondition(index < values.count && values[index].shape == parameter.value.shape,
                         "ParameterAverage.exchange: the model's parameters changed shape")
            swap(&values[index], &parameter.value)
            index += 1
        }
    }

    /// The averaged values under the model's parameter names.
    public func named(like model: some ParameterContainer) -> [(name: String, value: Tensor)] {
        zip(model.namedParameters(), values).map { ($0.name, $1) }
    }
}
