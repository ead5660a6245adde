import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Updates a model's parameters from their accumulated gradients.
///
/// Every optimizer here reproduces the update formulas and defaults of its PyTorch
/// namesake (the single-tensor CPU path of `torch/optim`), keeps its per-parameter state
/// under the parameter's full name, skips frozen parameters (`isTrainable == false`)
/// as PyTorch skips parameters without a gradient, and is `Codable` — configuration and
/// state together — so a training run saved between two steps resumes bit-identically.
///
/// The training loop calls `step` once per batch, after `backward`; the optimizer does not
/// zero the gradients (call `zeroGradients()` before the next backward, as in PyTorch).
public protocol Optimizer: Codable, Sendable {
    /// The step size; learning-rate schedules set it between epochs.
    var learningRate: Float { get set }
    /// Applies one update to every trainable parameter of `model`.
    mutating func step<Model: ParameterContainer>(_ model: inout Model)
    /// Throws `OptimizerStateError` when restored state does not fit `model`; call it after
    /// decoding an optimizer from a checkpoint (`step` would otherwise stop on the mismatch).
    func validateState<Model: ParameterContainer>(for model: inout Model) throws
}

/// Why saved optimizer state does not fit a model (for instance a checkpoint written for
/// a model of another size); each case names the parameter.
public enum OptimizerStateError: Error, Equatable, CustomStringConvertible {
    case unknownParameter(name: String)
    case sizeMismatch(name: String, parameterCount: Int, stateCount: Int)

    public var description: String {
        switch self {
        case let .unknownParameter(name):
            return "the saved optimizer state has an entry '\(name)' that the model does not have"
        case let .sizeMismatch(name, parameterCount, stateCount):
            return "the saved optimizer state for '\(name)' has \(stateCount) elements, but the parameter has \(parameterCount)"
        }
    }
}

/// Throws unless every state entry (name → element counts of its buffers) names a parameter
/// of `model` with that many elements.
private func validate<Model: ParameterContainer>(_ counts: [String: [Int]], against model: inout Model) throws {
    var sizes: [String: Int] = [:]
    model.visitParameters(prefix: "") { name, parameter in sizes[name] = parameter.value.count }
    for (name, buffers) in counts.sorted(by: { $0.key < $1.key }) {
        guard let size = sizes[name] else { throw OptimizerStateError.unknownParameter(name: name) }
        for count in buffers where count != size {
            throw OptimizerStateError.sizeMismatch(name: name, parameterCount: size, stateCount: count)
        }
    }
}

/// Stops with a clear message when saved state does not fit the parameter it is used for
/// (for instance an optimizer restored for a different model).
@inline(__always)
private func checkStateSize(_ count: Int, _ parameter: Parameter, _ name: String) {
    precondition(count == parameter.value.count,
                 "Optimizer state for '\(name)' has \(count) elements but the parameter has \(parameter.value.count)")
}

/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and
/// L2 weight decay, as `torch.optim.SGD`:
/// `g ← ∇ + λθ`; with momentum μ, `b ← g` on the first step, else `b ← μb + (1 − τ)g`,
/// then `g ← g + μb` (Nesterov) or `g ← b`; finally `θ ← θ − η g`.
public struct SGD: Optimizer, Equatable {
    public var learningRate: Float
    public var momentum: Double
    public var dampening: Double
    public var weightDecay: Double
    public var nesterov: Bool
    /// Momentum buffer per parameter name (absent until the parameter's first step).
    public private(set) var momentumBuffers: [String: [Float]] = [:]

    /// PyTorch's rule: Nesterov momentum needs `momentum > 0` and `dampening == 0`.
    public init(learningRate: Float, momentum: Double = 0, dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) {
        precondition(learningRate >= 0 && momentum >= 0 && weightDecay >= 0, "SGD hyperparameters must be non-negative")
        precondition(!nesterov || (momentum > 0 && dampening == 0), "Nesterov momentum requires a momentum and zero dampening")
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public func validateState<Model: ParameterContainer>(for model: inout Model) throws {
        try validate(momentumBuffers.mapValues { [$0.count] }, against: &model)
    }

    public mutating func step<Model: ParameterContainer>(_ model: inout Model) {
        let lr = learningRate, mu = Float(momentum), keep = Float(1 - dampening), wd = Float(weightDecay)
        let nesterov = self.nesterov ? Int32(1) : 0
        model.visitParameters(prefix: "") { name, parameter in
            guard parameter.isTrainable else { return }
            let n = parameter.value.count
            let stored = momentum != 0 ? momentumBuffers.removeValue(forKey: name) : nil
            if let stored { checkStateSize(stored.count, parameter, name) }
            var buffer = stored ?? (momentum != 0 ? [Float](repeating: 0, count: n) : [])
            let first: Int32 = stored == nil ? 1 : 0
            parameter.gradient.withUnsafeBufferPointer { g in
                parameter.value.withUnsafeMutableBufferPointer { p in
                    buffer.withUnsafeMutableBufferPointer { b in
                        sm_sgd_update(p.baseAddress, g.baseAddress, b.baseAddress, n, lr, mu, keep, wd, nesterov, first)
                    }
                }
            }
            if momentum != 0 { momentumBuffers[name] = buffer }
        }
    }
}

/// Adam, and AdamW with `decoupledWeightDecay`, as `torch.optim.Adam` / `torch.optim.AdamW`
/// (without AMSGrad). Per parameter, at step t:
/// Adam adds `λθ` to the gradient; AdamW instead scales `θ ← θ(1 − ηλ)` first. Then
/// `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`, and
/// `θ ← θ − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)`.
/// Hyperparameters other than the learning rate are `Double` so that literals such as
/// 0.999 give exactly PyTorch's bias corrections.
public struct Adam: Optimizer, Equatable {
    /// Moments of one parameter.
    public struct State: Codable, Equatable, Sendable {
        /// Number of updates applied to this parameter.
        public var step: Int
        /// First moment `m` (PyTorch `exp_avg`).
        public var firstMoment: [Float]
        /// Second moment `v` (PyTorch `exp_avg_sq`).
        public var secondMoment: [Float]
    }

    public var learningRate: Float
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    /// AdamW: decay the weights directly instead of adding `λθ` to the gradient.
    public var decoupledWeightDecay: Bool
    /// State per parameter name.
    public private(set) var states: [String: State] = [:]

    public init(learningRate: Float = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                weightDecay: Double = 0, decoupledWeightDecay: Bool = false) {
        precondition(learningRate >= 0 && epsilon >= 0 && weightDecay >= 0, "Adam hyperparameters must be non-negative")
        precondition((0..<1).contains(beta1) && (0..<1).contains(beta2), "Adam betas must be in [0, 1)")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
    }

    /// `torch.optim.AdamW`'s default weight decay, 0.01.
    public static let adamWDefaultWeightDecay = 1e-2

    /// AdamW with PyTorch's `torch.optim.AdamW` defaults (weight decay `adamWDefaultWeightDecay`).
    public static func adamW(learningRate: Float = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                             epsilon: Double = 1e-8, weightDecay: Double = adamWDefaultWeightDecay) -> Adam {
        Adam(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
             weightDecay: weightDecay, decoupledWeightDecay: true)
    }

    public func validateState<Model: ParameterContainer>(for model: inout Model) throws {
        try validate(states.mapValues { [$0.firstMoment.count, $0.secondMoment.count] }, against: &model)
    }

    public mutating func step<Model: ParameterContainer>(_ model: inout Model) {
        let lr = Double(learningRate)
        let decay = decoupledWeightDecay ? Float(1 - lr * weightDecay) : 1
        let l2 = decoupledWeightDecay ? 0 : Float(weightDecay)
        model.visitParameters(prefix: "") { name, parameter in
            guard parameter.isTrainable else { return }
            let n = parameter.value.count
            var s = states.removeValue(forKey: name)
                ?? State(step: 0, firstMoment: [Float](repeating: 0, count: n), secondMoment: [Float](repeating: 0, count: n))
            checkStateSize(s.firstMoment.count, parameter, name)
            checkStateSize(s.secondMoment.count, parameter, name)
            s.step += 1
            let t = Double(s.step)
            let stepSize = Float(lr / (1 - pow(beta1, t)))
            let correction2Root = Float((1 - pow(beta2, t)).squareRoot())
            parameter.gradient.withUnsafeBufferPointer { g in
                parameter.value.withUnsafeMutableBufferPointer { p in
                    s.firstMoment.withUnsafeMutableBufferPointer { m in
                        s.secondMoment.withUnsafeMutableBufferPointer { v in
                            sm_adam_update(p.baseAddress, g.baseAddress, m.baseAddress, v.baseAddress, n,
                                           decay, l2, Float(1 - beta1), Float(beta2), Float(1 - beta2),
                                           stepSize, correction2Root, Float(epsilon))
                        }
                    }
                }
            }
            states[name] = s
        }
    }
}

/// RMSProp as `torch.optim.RMSprop`: `g ← ∇ + λθ`, `s ← αs + (1 − α)g²`; centered keeps
/// `ḡ ← αḡ + (1 − α)g` and uses `d = √(s − ḡ²) + ε`, otherwise `d = √s + ε`; with momentum μ,
/// `b ← μb + g/d` and `θ ← θ − ηb`, otherwise `θ ← θ − η g/d`.
public struct RMSProp: Optimizer, Equatable {
    /// Running averages of one parameter.
    public struct State: Codable, Equatable, Sendable {
        public var step: Int
        /// `s` (PyTorch `square_avg`).
        public var squareAverage: [Float]
        /// `ḡ` (PyTorch `grad_avg`); empty unless centered.
        public var gradientAverage: [Float]
        /// `b` (PyTorch `momentum_buffer`); empty unless momentum > 0.
        public var momentumBuffer: [Float]
    }

    public var learningRate: Float
    public var alpha: Double
    public var epsilon: Double
    public var weightDecay: Double
    public var momentum: Double
    public var centered: Bool
    /// State per parameter name.
    public private(set) var states: [String: State] = [:]

    public init(learningRate: Float = 1e-2, alpha: Double = 0.99, epsilon: Double = 1e-8, weightDecay: Double = 0,
                momentum: Double = 0, centered: Bool = false) {
        precondition(learningRate >= 0 && alpha >= 0 && epsilon >= 0 && weightDecay >= 0 && momentum >= 0,
                     "RMSProp hyperparameters must be non-negative")
        self.learningRate = learningRate
        self.alpha = alpha
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.centered = centered
    }

    public func validateState<Model: ParameterContainer>(for model: inout Model) throws {
        let centered = self.centered, momentum = self.momentum
        try validate(states.mapValues { s in
            [s.squareAverage.count] + (centered ? [s.gradientAverage.count] : []) + (momentum > 0 ? [s.momentumBuffer.count] : [])
        }, against: &model)
    }

    public mutating func step<Model: ParameterContainer>(_ model: inout Model) {
        let lr = learningRate, a = Float(alpha), oneMinusA = Float(1 - alpha), eps = Float(epsilon)
        let wd = Float(weightDecay), mu = Float(momentum), centered = self.centered
        model.visitParameters(prefix: "") { name, parameter in
            guard parameter.isTrainable else { return }
            let n = parameter.value.count
            let zeros = [Float](repeating: 0, count: n)
            var s = states.removeValue(forKey: name)
                ?? State(step: 0, squareAverage: zeros, gradientAverage: centered ? zeros : [],
                         momentumBuffer: momentum > 0 ? zeros : [])
            checkStateSize(s.squareAverage.count, parameter, name)
            if centered { checkStateSize(s.gradientAverage.count, parameter, name) }
            if momentum > 0 { checkStateSize(s.momentumBuffer.count, parameter, name) }
            s.step += 1
            parameter.gradient.withUnsafeBufferPointer { g in
                parameter.value.withUnsafeMutableBufferPointer { p in
                    s.squareAverage.withUnsafeMutableBufferPointer { sq in
                        s.gradientAverage.withUnsafeMutableBufferPointer { ga in
                            s.momentumBuffer.withUnsafeMutableBufferPointer { b in
                                sm_rmsprop_update(p.baseAddress, g.baseAddress, sq.baseAddress, ga.baseAddress,
                                                  b.baseAddress, n, lr, a, oneMinusA, eps, wd, mu, centered ? 1 : 0)
                            }
                        }
                    }
                }
            }
            states[name] = s
        }
    }
}
