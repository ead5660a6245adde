import Foundation

/// A model directory: parameters in `model.safetensors`, the model's configuration in
/// `config.json`, and any extra JSON files a task needs (vocabularies, label sets).
///
/// Parameters are stored under their PyTorch names (`ParameterContainer.namedParameters()`)
/// as F32, with metadata `format: pt`, so `safetensors.torch.load_file` reads them
/// straight into the equivalent PyTorch module's `load_state_dict`. Every file is
/// written atomically (temporary file + rename), so an interrupted save never leaves
/// a half-written file; a save writes `model.safetensors` first and `config.json` last.
///
/// ```swift
/// try Checkpoint.save(model, config: configuration, to: directory)
/// try Checkpoint.writeJSON(vocabulary, named: "vocabulary.json", in: directory)
/// // later
/// let configuration = try Checkpoint.loadConfig(Tagger.Configuration.self, from: directory)
/// var model = Tagger(configuration, generator: &generator)
/// try Checkpoint.loadParameters(into: &model, from: directory)
/// ```
public enum Checkpoint {
    /// File name of the parameters inside a model directory.
    public static let parametersFileName = "model.safetensors"
    /// File name of the configuration inside a model directory.
    public static let configFileName = "config.json"

    /// Saves `model`'s parameters and `config` into `directory` (created if missing).
    ///
    /// `metadata` is added to the safetensors header next to `format: pt`.
    /// - Throws: `CheckpointError` when the directory cannot be created or a file cannot be written.
    public static func save<Model: ParameterContainer, Config: Encodable>(
        _ model: Model, config: Config, to directory: URL, metadata: [String: String] = [:]
    ) throws {
        try createDirectory(directory)
        var file = SafeTensors(metadata: ["format": "pt"].merging(metadata) { _, new in new })
        for (name, value) in model.namedParameters() {
            precondition(!file.contains(name), "The model has two parameters named '\(name)'")
            file.set(value, named: name)
        }
        let url = directory.appendingPathComponent(parametersFileName)
        do {
            try file.write(to: url)
        } catch let error as SafeTensorsError {
            throw CheckpointError(path: url.path, problem: .writeFailed(reason: error.description))
        }
        try writeJSON(config, named: configFileName, in: directory)
    }

    /// Decodes the configuration saved by `save(_:config:to:)`.
    /// - Throws: `CheckpointError` for a missing directory or file, or JSON that does not decode as `Config`.
    public static func loadConfig<Config: Decodable>(_ type: Config.Type, from directory: URL) throws -> Config {
        try readJSON(type, named: configFileName, in: directory)
    }

    /// Replaces every parameter of `model` with the tensor of the same name in the directory's `model.safetensors`.
    ///
    /// Floating-point tensors of any width are accepted (F16/BF16/F64 convert to Float,
    /// as PyTorch's `load_state_dict` converts dtypes); each tensor's shape must equal the
    /// parameter's. With `strict` (the default), tensors the model does not have are an error.
    /// On any error the model is left unchanged.
    /// - Throws: `CheckpointError` naming the file and the tensor: missing directory or file,
    ///   malformed file, missing tensor, unexpected tensor, wrong shape, wrong dtype.
    public static func loadParameters<Model: ParameterContainer>(
        into model: inout Model, from directory: URL, strict: Bool = true
    ) throws {
        let url = try existingFile(parametersFileName, in: directory)
        let file: SafeTensors
        do {
            file = try SafeTensors(contentsOf: url)
        } catch let error as SafeTensorsError {
            throw CheckpointError(path: url.path, problem: .unreadable(error))
        }
        let fail = { (problem: CheckpointError.Problem) in CheckpointError(path: url.path, problem: problem) }
        var tensors: [String: Tensor] = [:]
        for (name, value) in model.namedParameters() {
            guard let dtype = file.dtype(of: name), let shape = file.shape(of: name) else {
                throw fail(.missingTensor(name))
            }
            guard [.float32, .float16, .bfloat16, .float64].contains(dtype) else {
                throw fail(.wrongDType(tensor: name, dtype: dtype))
            }
            guard shape == value.shape else {
                throw fail(.shapeMismatch(tensor: name, expected: value.shape, found: shape))
            }
            do {
                tensors[name] = try file.floatTensor(name)
            } catch let error as SafeTensorsError {
                throw fail(.unreadable(error))
            }
        }
        if strict {
            let unexpected = file.names.filter { tensors[$0] == nil }
            if !unexpected.isEmpty { throw fail(.unexpectedTensors(unexpected)) }
        }
        do {
            try model.loadParameters(tensors, strict: false)
        } catch let error as ParameterLoadingError {
            // Unreachable after the checks above, but reported rather than trapped.
            throw fail(.rejectedByModel(error.description))
        }
    }

    /// Writes `data` to `url` atomically (a temporary file in the same directory, flushed, then
    /// renamed): an interrupted write never leaves a partial file under the final name.
    public static func writeFileAtomically(_ data: Data, to url: URL) throws {
        do {
            try AtomicFile.write([data], to: url)
        } catch let failure as AtomicFile.Failure {
            throw CheckpointError(path: url.path, problem: .writeFailed(reason: failure.reason))
        }
    }

    /// Writes `value` as pretty-printed JSON with sorted keys to `directory/fileName`, atomically
    /// (for vocabularies, label sets and other small files beside the parameters).
    /// The directory is created if missing.
    public static func writeJSON<Value: Encodable>(_ value: Value, named fileName: String, in directory: URL) throws {
        try createDirectory(directory)
        let url = directory.appendingPathComponent(fileName)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do {
            data = try encoder.encode(value) + Data("\n".utf8)
        } catch let error as EncodingError {
            throw CheckpointError(path: url.path, problem: .writeFailed(reason: describe(error)))
        }
        do {
            try AtomicFile.write([data], to: url)
        } catch let failure as AtomicFile.Failure {
            throw CheckpointError(path: url.path, problem: .writeFailed(reason: failure.reason))
        }
    }

    /// Reads `directory/fileName` as JSON decoding to `Value`.
    /// - Throws: `CheckpointError` for a missing directory or file, or JSON that does not decode,
    ///   with the coding path of the offending value (e.g. `lstm.hiddenSize`).
    public static func readJSON<Value: Decodable>(_ type: Value.Type, named fileName: String, in directory: URL) throws -> Value {
        let url = try existingFile(fileName, in: directory)
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CheckpointError(path: url.path, problem: .unreadableFile(reason: error.localizedDescription))
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw CheckpointError(path: url.path, problem: .invalidJSON(reason: describe(error)))
        }
    }

    // MARK: Configurations read back

    /// Checks the sizes a model directory's `config.json` names before a model of that shape
    /// is built: a configuration is a file a user may have edited or downloaded, and a model
    /// built from a negative or absurd size would trap, or allocate far beyond the memory of
    /// the machine, before the parameters file could say that it does not match.
    ///
    /// Every size must be positive, and every tensor that a model of this configuration is
    /// sure to have must hold no more numbers than `model.safetensors` stores in all (read from
    /// its header; the file is mapped, not copied). So building the model allocates at most a
    /// few times what the file holds, and the exact shapes are then compared by
    /// `loadParameters(into:from:)`.
    ///
    ///     let sizes = try Checkpoint.SizeCheck(directory: directory)
    ///     try sizes.positive(configuration.hiddenSize, "hiddenSize")
    ///     try sizes.tensor([4, h, h], "the LSTM's recurrent weights")   // the product is checked, never overflows
    public struct SizeCheck: Sendable {
        /// The numbers `model.safetensors` stores, all tensors together.
        public let storedScalars: Int
        private let configPath: String

        /// Reads the number of stored scalars from `directory`'s `model.safetensors`.
        /// - Throws: `CheckpointError` when the file is missing or malformed.
        public init(directory: URL) throws {
            let url = try Checkpoint.existingFile(parametersFileName, in: directory)
            let file: SafeTensors
            do {
                file = try SafeTensors(contentsOf: url)
            } catch let error as SafeTensorsError {
                throw CheckpointError(path: url.path, problem: .unreadable(error))
            }
            storedScalars = file.names.reduce(0) { total, name in
                total + (file.shape(of: name) ?? []).reduce(1, *)   // sizes the parser checked against the file's bytes
            }
            configPath = directory.appendingPathComponent(configFileName).path
        }

        /// Throws unless `value` (the configuration's `name`) is at least 1.
        public func positive(_ value: Int, _ name: String) throws {
            guard value >= 1 else { throw failure("\(name) must be at least 1, got \(value)") }
        }

        /// Throws unless a tensor of `shape` (what the model calls `name`) holds at most the
        /// numbers stored in `model.safetensors`; sizes are checked positive first.
        public func tensor(_ shape: [Int], _ name: String) throws {
            var count = 1
            for size in shape {
                guard size >= 1 else { throw failure("\(name) would have the shape \(shape)") }
                let (product, overflow) = count.multipliedReportingOverflow(by: size)
                guard !overflow, product <= storedScalars else {
                    throw failure("\(name) would have the shape \(shape), more numbers than the \(storedScalars) "
                                  + "that \(parametersFileName) stores")
                }
                count = product
            }
        }

        /// An error about `config.json`.
        public func failure(_ reason: String) -> CheckpointError {
            CheckpointError(path: configPath, problem: .invalidConfiguration(reason))
        }
    }

    // MARK: Helpers

    private static func createDirectory(_ directory: URL) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw CheckpointError(path: directory.path, problem: .notADirectory) }
            return
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError(path: directory.path, problem: .cannotCreateDirectory(reason: error.localizedDescription))
        }
    }

    fileprivate static func existingFile(_ fileName: String, in directory: URL) throws -> URL {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            throw CheckpointError(path: directory.path, problem: .directoryMissing)
        }
        guard isDirectory.boolValue else { throw CheckpointError(path: directory.path, problem: .notADirectory) }
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CheckpointError(path: url.path, problem: .fileMissing)
        }
        return url
    }

    private static func codingPath(_ path: [any CodingKey]) -> String {
        path.isEmpty ? "the top level" : "'" + path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") + "'"
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case let .keyNotFound(key, context):
            return "\(codingPath(context.codingPath + [key])) is missing"
        case let .valueNotFound(type, context):
            return "\(codingPath(context.codingPath)) is null, but a \(type) is needed"
        case let .typeMismatch(type, context):
            return "\(codingPath(context.codingPath)) is not a \(type)"
        case let .dataCorrupted(context):
            let underlying = context.underlyingError.map { " (\($0.localizedDescription))" } ?? ""
            return "\(codingPath(context.codingPath)): \(context.debugDescription)\(underlying)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func describe(_ error: EncodingError) -> String {
        switch error {
        case let .invalidValue(value, context):
            return "cannot encode \(value) at \(codingPath(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// Why a model directory could not be saved or loaded; `path` is the directory or file concerned.
///
/// Descriptions read like `…/model.safetensors: tensor 'lstm.weight_ih_l0' has shape [512, 100], but the model needs [512, 128]`.
public struct CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        case directoryMissing
        case notADirectory
        case cannotCreateDirectory(reason: String)
        case fileMissing
        case unreadableFile(reason: String)
        case invalidJSON(reason: String)
        case writeFailed(reason: String)
        /// The safetensors file is malformed (or a tensor in it cannot be read).
        case unreadable(SafeTensorsError)
        case missingTensor(String)
        case unexpectedTensors([String])
        case shapeMismatch(tensor: String, expected: [Int], found: [Int])
        case wrongDType(tensor: String, dtype: SafeTensors.DType)
        case rejectedByModel(String)
        /// `config.json` names sizes or settings no model saved beside it can have.
        case invalidConfiguration(String)
    }

    public var path: String
    public var problem: Problem

    public init(path: String, problem: Problem) {
        self.path = path
        self.problem = problem
    }

    public var description: String {
        switch problem {
        case .directoryMissing:
            return "\(path): no such model directory"
        case .notADirectory:
            return "\(path): is a file, but a model directory is needed"
        case let .cannotCreateDirectory(reason):
            return "\(path): cannot create the model directory: \(reason)"
        case .fileMissing:
            return "\(path): the model directory has no such file"
        case let .unreadableFile(reason):
            return "\(path): cannot read the file: \(reason)"
        case let .invalidJSON(reason):
            return "\(path): the JSON does not match what is expected: \(reason)"
        case let .writeFailed(reason):
            return "\(path): cannot save: \(reason)"
        case let .unreadable(error):
            return error.description
        case let .invalidConfiguration(reason):
            return "\(path): \(reason)"
        case let .missingTensor(name):
            return "\(path): the checkpoint has no tensor '\(name)', which the model needs"
        case let .unexpectedTensors(names):
            return "\(path): the checkpoint has tensors the model does not have: \(names.map { "'\($0)'" }.joined(separator: ", "))"
        case let .shapeMismatch(tensor, expected, found):
            return "\(path): tensor '\(tensor)' has shape \(found), but the model needs \(expected)"
        case let .wrongDType(tensor, dtype):
            return "\(path): tensor '\(tensor)' has dtype \(dtype), but the model needs floating-point values (F32, F16, BF16 or F64)"
        case let .rejectedByModel(reason):
            return "\(path): \(reason)"
        }
    }
}
