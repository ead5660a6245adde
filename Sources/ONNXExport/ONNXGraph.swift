import Foundation
import SeqModels
import SwiftProtobuf

/// The ONNX versions every export targets: IR version 8 with the default operator set 17,
/// which ONNX Runtime has run since 1.14 (2023), in browsers and on phones too.
public enum ONNXVersions {
    public static let irVersion: Int64 = 8
    public static let opset: Int64 = 17
}

/// A dimension of a graph input or output: fixed, or named and free (`batch`, `time`).
enum Dimension: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    case fixed(Int)
    case named(String)

    init(integerLiteral value: Int) { self = .fixed(value) }
    init(stringLiteral value: String) { self = .named(value) }
}

/// Element types of graph inputs and outputs.
enum ElementType: Int32 {
    case float = 1
    case int32 = 6
    case int64 = 7
    case bool = 9
}

/// Builds one ONNX graph: initializers (weights), nodes in topological order (each appended
/// after the nodes it reads), inputs and outputs. Value names are made unique by a counter,
/// so helpers can be called any number of times.
struct GraphBuilder {
    private(set) var graph = Onnx_GraphProto()
    private var counter = 0

    init(name: String) {
        graph.name = name
    }

    /// A fresh value name starting with `stem`.
    mutating func fresh(_ stem: String) -> String {
        counter += 1
        return "\(stem)_\(counter)"
    }

    // MARK: Inputs, outputs

    mutating func input(_ name: String, _ type: ElementType, _ shape: [Dimension], doc: String) {
        graph.input.append(Self.valueInfo(name, type, shape, doc: doc))
    }

    /// Declares `value` as a graph output named `name` (through an Identity when the names differ).
    mutating func output(_ value: String, as name: String, _ type: ElementType, _ shape: [Dimension], doc: String) {
        if value != name { node("Identity", [value], outputs: [name]) }
        graph.output.append(Self.valueInfo(name, type, shape, doc: doc))
    }

    private static func valueInfo(_ name: String, _ type: ElementType, _ shape: [Dimension], doc: String) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.docString = doc
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = type.rawValue
        var tensorShape = Onnx_TensorShapeProto()
        tensorShape.dim = shape.map { dimension in
            var d = Onnx_TensorShapeProto.Dimension()
            switch dimension {
            case let .fixed(n): d.dimValue = Int64(n)
            case let .named(name): d.dimParam = name
            }
            return d
        }
        tensorType.shape = tensorShape
        info.type.tensorType = tensorType
        return info
    }

    // MARK: Constants

    /// A float initializer of `shape` holding `values` (row-major); returns its name.
    @discardableResult
    mutating func floats(_ name: String, _ values: [Float], shape: [Int]) -> String {
        precondition(values.count == shape.reduce(1, *), "\(name): \(values.count) values for shape \(shape)")
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = ElementType.float.rawValue
        tensor.dims = shape.map(Int64.init)
        // ONNX's raw_data is little-endian on every platform, as are the machines Swift runs SeqModels on.
        #if !_endian(little)
        #error("ONNX export writes float32 raw data in the machine's byte order, which must be little-endian")
        #endif
        tensor.rawData = values.withUnsafeBytes { Data($0) }
        graph.initializer.append(tensor)
        return name
    }

    /// A float initializer from a tensor (its shape kept, or `shape` when given).
    @discardableResult
    mutating func floats(_ name: String, _ tensor: Tensor, shape: [Int]? = nil) -> String {
        floats(name, tensor.scalars, shape: shape ?? tensor.shape)
    }

    /// An int64 initializer (shape `[values.count]` unless given; `[]` for a scalar).
    @discardableResult
    mutating func int64s(_ name: String, _ values: [Int64], shape: [Int]? = nil) -> String {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = ElementType.int64.rawValue
        tensor.dims = (shape ?? [values.count]).map(Int64.init)
        tensor.int64Data = values
        graph.initializer.append(tensor)
        return name
    }

    /// A one-element float constant of shape `[]`.
    mutating func scalar(_ value: Float, _ stem: String = "scalar") -> String {
        floats(fresh(stem), [value], shape: [])
    }

    // MARK: Nodes

    /// Appends a node; returns its output names (`outputs`, or fresh names, `outputCount` of them).
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], outputs: [String]? = nil, outputCount: Int = 1,
                       _ attributes: [Onnx_AttributeProto] = []) -> [String] {
        var node = Onnx_NodeProto()
        node.opType = op
        node.input = inputs
        node.output = outputs ?? (0..<outputCount).map { _ in fresh(op.lowercased()) }
        node.name = fresh("node_" + op)
        node.attribute = attributes
        graph.node.append(node)
        return node.output
    }

    /// A node with one output.
    mutating func op(_ op: String, _ inputs: String..., attributes: [Onnx_AttributeProto] = []) -> String {
        node(op, inputs, attributes)[0]
    }

    // MARK: Common shapes of computation

    /// `x` with its axes permuted.
    mutating func transpose(_ x: String, _ permutation: [Int]) -> String {
        op("Transpose", x, attributes: [Attribute.ints("perm", permutation)])
    }

    /// A 3-D `x` with its first two axes swapped: batch-major ↔ time-major, `[D, B, H]` ↔ `[B, D, H]`.
    mutating func swapFirstAxes(_ x: String) -> String {
        transpose(x, [1, 0, 2])
    }

    /// `x` converted to `type`.
    mutating func cast(_ x: String, to type: ElementType) -> String {
        op("Cast", x, attributes: [Attribute.int("to", Int(type.rawValue))])
    }

    /// `x @ weightᵀ + bias` for a `Linear` (`weight [out, in]`) over the last axis of `x` (any rank).
    mutating func linear(_ x: String, weight: Tensor, bias: Tensor?, name: String) -> String {
        let out = weight.shape[0], inSize = weight.shape[1]
        let transposed = floats(name + ".weight_t", Self.transpose(weight), shape: [inSize, out])
        var y = op("MatMul", x, transposed)
        if let bias { y = op("Add", y, floats(name + ".bias", bias)) }
        return y
    }

    /// `[rows, cols]` → `[cols, rows]`.
    static func transpose(_ matrix: Tensor) -> [Float] {
        let rows = matrix.shape[0], cols = matrix.shape[1], values = matrix.scalars
        var out = [Float](repeating: 0, count: values.count)
        for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = values[r * cols + c] } }
        return out
    }
}

/// Attribute constructors.
enum Attribute {
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = Int64(value)
        return a
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = values.map(Int64.init)
        return a
    }

    static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = value
        return a
    }

    static func string(_ name: String, _ value: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .string
        a.s = Data(value.utf8)
        return a
    }
}

/// A finished graph with its metadata, ready to serialise.
struct ONNXModel {
    var graph: Onnx_GraphProto
    var metadata: [(key: String, value: String)]
    var documentation: String
    var producerVersion: String

    /// The serialised `ModelProto`.
    func serializedData() throws -> Data {
        var model = Onnx_ModelProto()
        model.irVersion = ONNXVersions.irVersion
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = ONNXVersions.opset
        model.opsetImport = [opset]
        model.producerName = "SeqModels"
        model.producerVersion = producerVersion
        model.docString = documentation
        model.graph = graph
        model.metadataProps = metadata.map { entry in
            var e = Onnx_StringStringEntryProto()
            e.key = entry.key
            e.value = entry.value
            return e
        }
        return try model.serializedData()
    }
}
