import Foundation

/// Reads the shape of an LSTM off the names and shapes of a PyTorch `nn.LSTM` state dict.
///
/// `nn.LSTM(input_size=I, hidden_size=H, num_layers=L, bidirectional=…)` stores, for
/// every layer `k` and direction (suffix `_reverse` for the backward one):
/// `weight_ih_l{k}` `[4H, I]` (`[4H, D·H]` for k > 0, D = 1 or 2 directions),
/// `weight_hh_l{k}` `[4H, H]`, `bias_ih_l{k}` and `bias_hh_l{k}` `[4H]`, usually under
/// a module prefix such as `lstm.`. This lets a checkpoint saved from PyTorch be
/// loaded without being told its sizes:
///
/// ```swift
/// let file = try SafeTensors(contentsOf: url)
/// let configuration = try LSTMStateDict.configuration(of: file)   // finds the "lstm." prefix
/// ```
///
/// Dropout is not recorded in a state dict; the inferred configuration has dropout 0.
/// LSTMs with projections (`proj_size`, tensors `weight_hr_l{k}`) or without biases
/// (`bias=False`) are rejected with an explanation.
public enum LSTMStateDict {
    /// The four tensor kinds of one layer and direction, in PyTorch's state-dict order.
    static let kinds = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]

    /// Every parameter name and shape of an `nn.LSTM` with this configuration, in
    /// PyTorch's `state_dict()` order, each name prefixed by `prefix` (e.g. `"lstm."`).
    public static func parameterShapes(for configuration: LSTM.Configuration, prefix: String = "") -> [(name: String, shape: [Int])] {
        let h = configuration.hiddenSize, d = configuration.directionCount
        var result: [(name: String, shape: [Int])] = []
        for layer in 0..<configuration.layerCount {
            for direction in 0..<d {
                let suffix = "_l\(layer)" + (direction == 1 ? "_reverse" : "")
                let width = layer == 0 ? configuration.inputSize : d * h
                result.append((prefix + "weight_ih" + suffix, [4 * h, width]))
                result.append((prefix + "weight_hh" + suffix, [4 * h, h]))
                result.append((prefix + "bias_ih" + suffix, [4 * h]))
                result.append((prefix + "bias_hh" + suffix, [4 * h]))
            }
        }
        return result
    }

    /// The configuration of the LSTM stored in a safetensors file (see `configuration(fromShapes:prefix:)`).
    public static func configuration(of file: SafeTensors, prefix: String? = nil) throws -> LSTM.Configuration {
        try configuration(fromShapes: file.shapes, prefix: prefix)
    }

    /// Infers input size, hidden size, layer count and directions from state-dict shapes.
    ///
    /// - Parameters:
    ///   - shapes: tensor names and shapes; names outside `prefix` are ignored (other modules).
    ///   - prefix: the LSTM's module prefix, e.g. `"lstm."` or `""` for a bare `nn.LSTM`.
    ///     When nil, it is found from the one name ending in `weight_ih_l0`.
    /// - Throws: `LSTMStateDictError` naming the offending tensor when the names or
    ///   shapes do not form a valid `nn.LSTM` (a missing tensor or direction, a layer
    ///   gap, a shape that contradicts the others, an unknown name under the prefix).
    public static func configuration(fromShapes shapes: [String: [Int]], prefix: String? = nil) throws -> LSTM.Configuration {
        let prefix = try prefix ?? findPrefix(shapes.keys)
        var found: [Key: (name: String, shape: [Int])] = [:]
        for (name, shape) in shapes.sorted(by: { $0.key < $1.key }) where name.hasPrefix(prefix) {
            let local = String(name.dropFirst(prefix.count))
            guard let key = Key(parsing: local) else {
                throw LSTMStateDictError(tensor: name, problem: .unexpectedName(prefix: prefix))
            }
            if key.kind == "weight_hr" { throw LSTMStateDictError(tensor: name, problem: .projectionUnsupported) }
            found[key] = (name, shape)
        }
        guard let first = found[Key(kind: "weight_ih", layer: 0, reverse: false)] else {
            throw LSTMStateDictError(tensor: prefix + "weight_ih_l0", problem: .missing(reason: "every nn.LSTM has it"))
        }
        if !found.keys.contains(where: { $0.kind.hasPrefix("bias") }) {
            throw LSTMStateDictError(tensor: first.name, problem: .biasUnsupported)
        }

        // Sizes from layer 0's input weight: [4H, I].
        guard first.shape.count == 2 else {
            throw LSTMStateDictError(tensor: first.name, problem: .wrongRank(found: first.shape, expectedRank: 2))
        }
        guard first.shape[0] % 4 == 0, first.shape[0] > 0 else {
            throw LSTMStateDictError(tensor: first.name, problem: .gateRowsNotDivisibleByFour(rows: first.shape[0]))
        }
        guard first.shape[1] > 0 else {
            throw LSTMStateDictError(tensor: first.name, problem: .shapeMismatch(found: first.shape, expected: [first.shape[0], 1],
                                                                                 reason: "the input size must be at least 1"))
        }
        let hidden = first.shape[0] / 4, input = first.shape[1]

        // Layers 0..<L with no gap; directions from the presence of any `_reverse` tensor.
        let layers = Set(found.keys.map(\.layer))
        let layerCount = (layers.max() ?? 0) + 1
        if let gap = (0..<layerCount).first(where: { !layers.contains($0) }) {
            let above = found.filter { $0.key.layer > gap }.map(\.value.name).sorted().first ?? first.name
            throw LSTMStateDictError(tensor: above, problem: .layerGap(missingLayer: gap))
        }
        let bidirectional = found.keys.contains { $0.reverse }

        let configuration = LSTM.Configuration(inputSize: input, hiddenSize: hidden, layerCount: layerCount, bidirectional: bidirectional)
        for (name, expected) in parameterShapes(for: configuration, prefix: prefix) {
            let key = Key(parsing: String(name.dropFirst(prefix.count)))!
            guard let actual = found[key] else {
                let reason: String
                if key.reverse {
                    reason = "other tensors have the suffix _reverse, so the LSTM is bidirectional and every layer needs both directions"
                } else if key.kind.hasPrefix("bias") {
                    reason = "the LSTM has biases elsewhere, so every layer and direction needs both bias_ih and bias_hh"
                } else {
                    reason = "layer \(key.layer) has other tensors, so it needs all four of weight_ih, weight_hh, bias_ih and bias_hh"
                }
                throw LSTMStateDictError(tensor: name, problem: .missing(reason: reason))
            }
            guard actual.shape == expected else {
                throw LSTMStateDictError(tensor: name, problem: mismatch(key: key, found: actual.shape, expected: expected,
                                                                         hidden: hidden, input: input, directions: configuration.directionCount,
                                                                         reference: first.name))
            }
        }
        return configuration
    }

    /// Explains which other tensor fixed the expected shape.
    private static func mismatch(key: Key, found: [Int], expected: [Int], hidden h: Int, input: Int, directions d: Int,
                                 reference: String) -> LSTMStateDictError.Problem {
        if found.count != expected.count { return .wrongRank(found: found, expectedRank: expected.count) }
        if found[0] % 4 != 0 { return .gateRowsNotDivisibleByFour(rows: found[0]) }
        if found[0] != 4 * h {
            return .shapeMismatch(found: found, expected: expected,
                                  reason: "'\(reference)' has \(4 * h) rows, so the hidden size is \(h) and every tensor has 4·\(h) = \(4 * h) rows")
        }
        switch key.kind {
        case "weight_hh":
            return .shapeMismatch(found: found, expected: expected, reason: "the recurrent weight's width is the hidden size, \(h)")
        case "weight_ih" where key.layer > 0:
            return .shapeMismatch(found: found, expected: expected,
                                  reason: "layer \(key.layer) reads the output of layer \(key.layer - 1), which is \(d)·\(h) = \(d * h) wide (directions · hidden size)")
        case "weight_ih":
            return .shapeMismatch(found: found, expected: expected,
                                  reason: "both directions of layer 0 read the same input, of size \(input) (from '\(reference)')")
        default:
            return .shapeMismatch(found: found, expected: expected, reason: "a bias has one entry per gate row, 4·\(h) = \(4 * h)")
        }
    }

    private static func findPrefix(_ names: Dictionary<String, [Int]>.Keys) throws -> String {
        let prefixes = Set(names.filter { $0.hasSuffix("weight_ih_l0") }.map { String($0.dropLast("weight_ih_l0".count)) })
        guard let prefix = prefixes.first else {
            throw LSTMStateDictError(tensor: "weight_ih_l0", problem: .noLSTM(names: names.sorted()))
        }
        guard prefixes.count == 1 else {
            throw LSTMStateDictError(tensor: prefixes.sorted()[0] + "weight_ih_l0", problem: .ambiguousPrefix(prefixes.sorted()))
        }
        return prefix
    }

    /// A parsed local name: `weight_ih_l2_reverse` -> (weight_ih, 2, true).
    struct Key: Hashable {
        var kind: String
        var layer: Int
        var reverse: Bool

        init(kind: String, layer: Int, reverse: Bool) {
            self.kind = kind
            self.layer = layer
            self.reverse = reverse
        }

        init?(parsing local: String) {
            var rest = Substring(local)
            reverse = rest.hasSuffix("_reverse")
            if reverse { rest = rest.dropLast("_reverse".count) }
            guard let marker = rest.range(of: "_l", options: .backwards) else { return nil }
            let kind = String(rest[..<marker.lowerBound])
            let digits = rest[marker.upperBound...]
            guard LSTMStateDict.kinds.contains(kind) || kind == "weight_hr",
                  !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  digits == "0" || !digits.hasPrefix("0"),
                  let layer = Int(digits) else { return nil }
            self.kind = kind
            self.layer = layer
        }
    }
}

/// Why a set of tensors is not a valid `nn.LSTM` state dict; `tensor` is the offending name.
public struct LSTMStateDictError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        /// No name ends in `weight_ih_l0`; `names` are the names present.
        case noLSTM(names: [String])
        /// Several module prefixes hold an LSTM; pass one explicitly.
        case ambiguousPrefix([String])
        /// A name under the prefix that `nn.LSTM` never writes.
        case unexpectedName(prefix: String)
        /// `weight_hr_l{k}`: an LSTM with `proj_size > 0`.
        case projectionUnsupported
        /// No bias tensors at all: an LSTM built with `bias=False`.
        case biasUnsupported
        /// The tensor is required but absent; `reason` says why it is required.
        case missing(reason: String)
        /// Layers 0..<L must all be present.
        case layerGap(missingLayer: Int)
        case wrongRank(found: [Int], expectedRank: Int)
        case gateRowsNotDivisibleByFour(rows: Int)
        case shapeMismatch(found: [Int], expected: [Int], reason: String)
    }

    public var tensor: String
    public var problem: Problem

    public init(tensor: String, problem: Problem) {
        self.tensor = tensor
        self.problem = problem
    }

    public var description: String {
        switch problem {
        case let .noLSTM(names):
            let shown = names.prefix(8).map { "'\($0)'" }.joined(separator: ", ") + (names.count > 8 ? ", …" : "")
            return "no LSTM found: no tensor name ends in 'weight_ih_l0' (names present: \(names.isEmpty ? "none" : shown))"
        case let .ambiguousPrefix(prefixes):
            return "several LSTMs found (\(prefixes.map { "'\($0)weight_ih_l0'" }.joined(separator: ", "))): say which prefix to read, one of \(prefixes.map { "'\($0)'" }.joined(separator: ", "))"
        case let .unexpectedName(prefix):
            return "tensor '\(tensor)' is not an nn.LSTM parameter (under prefix '\(prefix)' only weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}, optionally with _reverse, are expected)"
        case .projectionUnsupported:
            return "tensor '\(tensor)' is a projection weight: LSTMs with proj_size > 0 are not supported"
        case .biasUnsupported:
            return "the LSTM with '\(tensor)' has no bias tensors (bias=False): only LSTMs with biases are supported"
        case let .missing(reason):
            return "tensor '\(tensor)' is missing: \(reason)"
        case let .layerGap(layer):
            return "tensor '\(tensor)' belongs to a layer above layer \(layer), but layer \(layer) has no tensors: layers must be numbered 0, 1, 2, … without gaps"
        case let .wrongRank(found, rank):
            return "tensor '\(tensor)' has shape \(found), but it must have \(rank) dimension\(rank == 1 ? "" : "s")"
        case let .gateRowsNotDivisibleByFour(rows):
            return "tensor '\(tensor)' has \(rows) rows, which is not 4 × hidden size (the four gates i, f, g, o)"
        case let .shapeMismatch(found, expected, reason):
            return "tensor '\(tensor)' has shape \(found), but \(expected) is needed: \(reason)"
        }
    }
}
