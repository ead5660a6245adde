/// A trainable tensor and the gradient accumulated for it by backward passes.
///
/// Layers own their parameters as stored properties; `gradient` always has the
/// shape of `value`, and backward passes add into it (never overwrite), so
/// gradients from several uses sum up as in PyTorch. Optimizers read `gradient`
/// and update `value`.
public struct Parameter: Sendable, Equatable {
    public var value: Tensor
    public var gradient: Tensor
    /// Whether training may change `value` (PyTorch's `requires_grad`). A frozen
    /// parameter is still visited, named and saved in checkpoints, but layers leave
    /// its gradient at zero, optimizers skip it (no weight decay, no state) and
    /// gradient clipping ignores it.
    public var isTrainable: Bool

    public init(_ value: Tensor, isTrainable: Bool = true) {
        self.value = value
        self.gradient = Tensor(shape: value.shape)
        self.isTrainable = isTrainable
    }
}

/// Anything that owns named parameters: a layer, or a model made of layers.
///
/// Names follow PyTorch's `state_dict` convention (`weight`, `lstm.weight_ih_l0`,
/// `lstm.bias_hh_l1_reverse`), so a checkpoint written here loads into the
/// equivalent PyTorch module. A container visits its parameters in a fixed order,
/// prefixing the names of its children (`prefix + "weight"`).
public protocol ParameterContainer {
    /// Calls `visit` once per parameter, in a fixed order, with its full name.
    mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows
}

/// Why loading parameters by name failed; each case names the tensor.
public enum ParameterLoadingError: Error, Equatable, CustomStringConvertible {
    case missing(name: String)
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    case unexpected(names: [String])

    public var description: String {
        switch self {
        case let .missing(name):
            return "the checkpoint has no tensor named '\(name)'"
        case let .shapeMismatch(name, expected, found):
            return "tensor '\(name)' has shape \(found), but the model needs \(expected)"
        case let .unexpected(names):
            return "the checkpoint has tensors the model does not use: \(names.joined(separator: ", "))"
        }
    }
}

extension ParameterContainer {
    /// Every parameter value under its full name, in visiting order.
    public func namedParameters(prefix: String = "") -> [(name: String, value: Tensor)] {
        var copy = self
        var result: [(name: String, value: Tensor)] = []
        copy.visitParameters(prefix: prefix) { name, parameter in result.append((name, parameter.value)) }
        return result
    }

    /// Every gradient under its parameter's full name, in visiting order.
    public func namedGradients(prefix: String = "") -> [(name: String, gradient: Tensor)] {
        var copy = self
        var result: [(name: String, gradient: Tensor)] = []
        copy.visitParameters(prefix: prefix) { name, parameter in result.append((name, parameter.gradient)) }
        return result
    }

    /// Total number of trainable scalars.
    public var parameterCount: Int {
        namedParameters().reduce(0) { $0 + $1.value.count }
    }

    /// Sets every gradient to zero.
    public mutating func zeroGradients() {
        visitParameters(prefix: "") { _, parameter in parameter.gradient.zero() }
    }

    /// Replaces every parameter value with the tensor of the same name.
    ///
    /// Throws, changing nothing, when a name is missing, a shape differs, or (when
    /// `strict`) the dictionary holds names the model does not have.
    public mutating func loadParameters(_ tensors: [String: Tensor], prefix: String = "", strict: Bool = true) throws {
        var seen = Set<String>()
        for (name, value) in namedParameters(prefix: prefix) {
            guard let t = tensors[name] else { throw ParameterLoadingError.missing(name: name) }
            guard t.shape == value.shape else {
                throw ParameterLoadingError.shapeMismatch(name: name, expected: value.shape, found: t.shape)
            }
            seen.insert(name)
        }
        if strict {
            let extra = tensors.keys.filter { $0.hasPrefix(prefix) && !seen.contains($0) }.sorted()
            if !extra.isEmpty { throw ParameterLoadingError.unexpected(names: extra) }
        }
        visitParameters(prefix: prefix) { name, parameter in
            if let t = tensors[name] { parameter.value = t }
        }
    }
}
