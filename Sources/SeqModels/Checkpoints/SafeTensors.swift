import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A set of named tensors in the safetensors format, read from a file or built in memory.
///
/// The format (the one Hugging Face's `safetensors` package reads and writes):
/// an 8-byte little-endian `UInt64` header length `N`, then `N` bytes of UTF-8 JSON
/// `{"__metadata__": {String: String}, "name": {"dtype": "F32", "shape": [2, 3],
/// "data_offsets": [begin, end]}, ...}` (padded with spaces), then the data buffer.
/// Offsets count from the start of the buffer; the tensors cover it exactly, with
/// neither holes nor overlaps; data are little-endian and row-major.
///
/// Reading maps the file into memory and validates the whole header up front, so
/// every later accessor only converts bytes. Every defect of a file is a thrown
/// `SafeTensorsError` naming the file, the tensor and what is wrong.
///
/// Writing (`serialized()`, `write(to:)`) produces the same bytes as python's
/// `safetensors.numpy.save_file` / `safetensors.torch.save_file` for the same tensors:
/// tensors ordered by decreasing dtype alignment, then by name (byte order); compact
/// JSON padded with spaces to a multiple of 8 bytes. Metadata keys are written
/// sorted (python writes them in hash order, so files with two or more metadata
/// keys differ from python's only in that order); empty metadata is omitted, as
/// python does for `metadata=None`.
///
/// ```swift
/// var file = SafeTensors()
/// file.set(weights, named: "linear.weight")
/// file.metadata = ["format": "pt"]
/// try file.write(to: url)                    // atomic
/// let back = try SafeTensors(contentsOf: url)
/// let w = try back.floatTensor("linear.weight")
/// ```
public struct SafeTensors: Sendable {
    /// The element types of the format. Raw values are the strings in the header.
    public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
        case bool = "BOOL"
        case uint8 = "U8"
        case int8 = "I8"
        case float8E5M2 = "F8_E5M2"
        case float8E4M3 = "F8_E4M3"
        case int16 = "I16"
        case uint16 = "U16"
        case float16 = "F16"
        case bfloat16 = "BF16"
        case int32 = "I32"
        case uint32 = "U32"
        case float32 = "F32"
        case float64 = "F64"
        case int64 = "I64"
        case uint64 = "U64"

        /// Bytes per element.
        public var byteSize: Int {
            switch self {
            case .bool, .uint8, .int8, .float8E5M2, .float8E4M3: return 1
            case .int16, .uint16, .float16, .bfloat16: return 2
            case .int32, .uint32, .float32: return 4
            case .float64, .int64, .uint64: return 8
            }
        }

        /// Position in the reference implementation's dtype enumeration; its writer
        /// lays tensors out by decreasing rank (so larger alignments come first).
        var writerRank: Int {
            switch self {
            case .bool: return 0
            case .uint8: return 4
            case .int8: return 5
            case .float8E5M2: return 6
            case .float8E4M3: return 7
            case .int16: return 9
            case .uint16: return 10
            case .float16: return 11
            case .bfloat16: return 12
            case .int32: return 13
            case .uint32: return 14
            case .float32: return 15
            case .float64: return 17
            case .int64: return 18
            case .uint64: return 19
            }
        }

        public var description: String { rawValue }
    }

    /// One tensor: its element type, shape and little-endian bytes.
    struct Entry: Sendable {
        var dtype: DType
        var shape: [Int]
        /// Exactly `shape.product * dtype.byteSize` bytes (a slice of the mapped file when read).
        var bytes: Data
    }

    /// The largest header accepted, as in the reference implementation (100 MB).
    public static let maximumHeaderLength = 100_000_000

    /// Free-form string metadata (`__metadata__`), e.g. `["format": "pt"]`.
    public var metadata: [String: String]
    private var entries: [String: Entry]
    /// Where the tensors came from, for error messages: a path, or `<memory>`.
    public let source: String

    /// An empty set, to fill with `set(_:named:)` and write.
    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
        self.entries = [:]
        self.source = "<memory>"
    }

    /// Reads and validates a safetensors file (memory-mapped, so large files cost no copy).
    ///
    /// Throws `SafeTensorsError` naming the file when it cannot be opened or is malformed.
    public init(contentsOf url: URL) throws {
        let path = url.path
        let data = try Self.mapFile(atPath: path)
        try self.init(data: data, source: path)
    }

    /// Parses and validates safetensors bytes; `source` names them in error messages.
    public init(data: Data, source: String = "<memory>") throws {
        self.source = source
        let fail = { (problem: SafeTensorsError.Problem) in SafeTensorsError(file: source, problem: problem) }
        let total = data.count
        guard total >= 8 else { throw fail(.fileTooShort(byteCount: total)) }
        let start = data.startIndex
        var declared: UInt64 = 0
        for i in 0..<8 { declared |= UInt64(data[start + i]) << (8 * UInt64(i)) }
        guard declared <= UInt64(Self.maximumHeaderLength) else {
            throw fail(.headerTooLarge(declared: declared, limit: Self.maximumHeaderLength))
        }
        let headerLength = Int(declared)
        guard 8 + headerLength <= total else {
            throw fail(.headerPastEndOfFile(declared: declared, available: total - 8))
        }
        let headerBytes = data[(start + 8)..<(start + 8 + headerLength)]
        guard String(data: headerBytes, encoding: .utf8) != nil else { throw fail(.headerNotUTF8) }
        let header: HeaderJSON
        do {
            header = try HeaderJSON.parse([UInt8](headerBytes))
        } catch let error as HeaderJSON.SyntaxError {
            throw fail(.headerNotJSON(reason: error.message))
        }
        guard case let .object(members) = header else { throw fail(.headerNotObject(found: header.kindName)) }

        let bufferStart = start + 8 + headerLength
        let available = total - 8 - headerLength
        var metadata: [String: String] = [:]
        var placed: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        var seen = Set<String>()
        for (name, value) in members {
            guard seen.insert(name).inserted else { throw fail(.duplicateName(name)) }
            if name == "__metadata__" {
                guard case let .object(pairs) = value else {
                    throw fail(.invalidMetadata(reason: "it is \(value.kindName), not an object of strings"))
                }
                for (key, item) in pairs {
                    guard case let .string(text) = item else {
                        throw fail(.invalidMetadata(reason: "the value of '\(key)' is \(item.kindName), not a string"))
                    }
                    metadata[key] = text
                }
                continue
            }
            placed.append(try Self.parseEntry(name: name, value: value, fail: fail))
        }

        // The tensors must tile the buffer: sorted by position, each starts where the last ended.
        placed.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var previous: (name: String, end: Int)? = nil
        for item in placed {
            let expected = previous?.end ?? 0
            if item.begin > expected {
                throw fail(.hole(tensor: item.name, previous: previous?.name, begin: item.begin, expected: expected))
            }
            if item.begin < expected, let previous {
                throw fail(.overlap(tensor: item.name, other: previous.name, begin: item.begin, otherEnd: previous.end))
            }
            previous = (item.name, item.end)
        }
        if let last = placed.last, last.end > available {
            let first = placed.first { $0.end > available } ?? last
            throw fail(.truncated(tensor: first.name, end: first.end, declaredEnd: last.end, available: available))
        }
        let dataEnd = placed.last?.end ?? 0
        if dataEnd < available {
            throw fail(.trailingBytes(after: placed.last?.name, dataEnd: dataEnd, available: available))
        }

        var entries: [String: Entry] = [:]
        for item in placed {
            entries[item.name] = Entry(dtype: item.dtype, shape: item.shape,
                                       bytes: data[(bufferStart + item.begin)..<(bufferStart + item.end)])
        }
        self.metadata = metadata
        self.entries = entries
    }

    private static func parseEntry(
        name: String, value: HeaderJSON, fail: (SafeTensorsError.Problem) -> SafeTensorsError
    ) throws -> (name: String, dtype: DType, shape: [Int], begin: Int, end: Int) {
        guard case let .object(fields) = value else {
            throw fail(.invalidEntry(tensor: name, reason: "its entry is \(value.kindName), not an object with dtype, shape and data_offsets"))
        }
        func field(_ key: String) throws -> HeaderJSON {
            guard let found = fields.first(where: { $0.0 == key }) else {
                throw fail(.invalidEntry(tensor: name, reason: "its entry has no \"\(key)\""))
            }
            return found.1
        }
        func naturals(_ key: String) throws -> [Int] {
            guard case let .array(items) = try field(key) else {
                throw fail(.invalidEntry(tensor: name, reason: "\"\(key)\" is not an array of whole numbers"))
            }
            return try items.map { item in
                guard case let .integer(n) = item, n >= 0 else {
                    throw fail(.invalidEntry(tensor: name, reason: "\"\(key)\" holds \(item.literal), not a whole number ≥ 0"))
                }
                return n
            }
        }
        guard case let .string(dtypeName) = try field("dtype") else {
            throw fail(.invalidEntry(tensor: name, reason: "\"dtype\" is not a string"))
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw fail(.unknownDType(tensor: name, dtype: dtypeName))
        }
        let shape = try naturals("shape")
        let offsets = try naturals("data_offsets")
        guard offsets.count == 2 else {
            throw fail(.invalidEntry(tensor: name, reason: "\"data_offsets\" has \(offsets.count) numbers instead of 2 (begin, end)"))
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else { throw fail(.invalidOffsets(tensor: name, begin: begin, end: end)) }
        var expected = dtype.byteSize
        for extent in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw fail(.invalidEntry(tensor: name, reason: "its shape \(shape) is too large to address")) }
            expected = product
        }
        guard expected == end - begin else {
            throw fail(.byteCountMismatch(tensor: name, dtype: dtype, shape: shape, expected: expected, declared: end - begin))
        }
        return (name, dtype, shape, begin, end)
    }

    // MARK: Reading

    /// Every tensor name, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// Whether a tensor of that name exists.
    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The shape of a tensor, or nil when there is none of that name.
    public func shape(of name: String) -> [Int]? { entries[name]?.shape }

    /// The element type of a tensor, or nil when there is none of that name.
    public func dtype(of name: String) -> DType? { entries[name]?.dtype }

    /// Every tensor's shape by name (what `LSTMStateDict` needs to infer a configuration).
    public var shapes: [String: [Int]] { entries.mapValues { $0.shape } }

    /// The raw little-endian bytes of a tensor, or nil when there is none of that name.
    public func rawBytes(of name: String) -> Data? { entries[name]?.bytes }

    /// A tensor as `Float`s with its shape.
    ///
    /// Conversion rule: F32 is copied; F16 and BF16 widen exactly; F64 rounds to the
    /// nearest `Float` (as PyTorch's `tensor.float()`). Any other dtype throws
    /// `.wrongDType` naming the tensor and its dtype; a missing name throws `.noSuchTensor`.
    public func floatTensor(_ name: String) throws -> Tensor {
        let entry = try self.entry(name)
        let count = entry.bytes.count / entry.dtype.byteSize
        let isFloat = [.float32, .float64, .float16, .bfloat16].contains(entry.dtype)
        guard isFloat else {
            throw SafeTensorsError(file: source, problem: .wrongDType(tensor: name, dtype: entry.dtype, wanted: "a floating-point tensor (F32, F64, F16 or BF16)"))
        }
        let scalars = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            entry.bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                guard let dst = out.baseAddress, let src = raw.baseAddress, count > 0 else { return }
                switch entry.dtype {
                case .float32:
                    #if _endian(little)
                    UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count &* 4)
                    #else
                    for i in 0..<count { dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))) }
                    #endif
                case .float64:
                    for i in 0..<count {
                        dst[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self))))
                    }
                case .float16:
                    for i in 0..<count {
                        dst[i] = Self.floatFromHalf(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))
                    }
                case .bfloat16:
                    for i in 0..<count {
                        let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
                        dst[i] = Float(bitPattern: UInt32(bits) << 16)
                    }
                default:
                    dst.initialize(repeating: 0, count: count)  // unreachable: checked above
                }
            }
            initialized = count
        }
        return Tensor(shape: entry.shape, scalars: scalars)
    }

    /// A tensor's elements as `Int64`s in row-major order (its shape is `shape(of:)`).
    ///
    /// I64 is copied; the narrower integer types and BOOL (0 or 1) widen exactly; U64
    /// throws `.valueOutOfRange` for a value above `Int64.max`. Floating-point dtypes
    /// throw `.wrongDType`; a missing name throws `.noSuchTensor`.
    public func int64Array(_ name: String) throws -> [Int64] {
        let entry = try self.entry(name)
        let size = entry.dtype.byteSize
        let count = entry.bytes.count / size
        var tooLarge: UInt64? = nil
        let values: [Int64]? = entry.bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [Int64]? in
            func load<T: FixedWidthInteger>(_: T.Type) -> [Int64] {
                (0..<count).map { i in Int64(T(littleEndian: raw.loadUnaligned(fromByteOffset: i &* size, as: T.self))) }
            }
            switch entry.dtype {
            case .int64: return load(Int64.self)
            case .int32: return load(Int32.self)
            case .int16: return load(Int16.self)
            case .int8: return load(Int8.self)
            case .uint32: return load(UInt32.self)
            case .uint16: return load(UInt16.self)
            case .uint8, .bool: return load(UInt8.self)
            case .uint64:
                var result: [Int64] = []
                result.reserveCapacity(count)
                for i in 0..<count {
                    let v = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self))
                    guard let exact = Int64(exactly: v) else { tooLarge = v; return nil }
                    result.append(exact)
                }
                return result
            default:
                return nil
            }
        }
        if let tooLarge {
            throw SafeTensorsError(file: source, problem: .valueOutOfRange(tensor: name, value: String(tooLarge)))
        }
        guard let values else {
            throw SafeTensorsError(file: source, problem: .wrongDType(tensor: name, dtype: entry.dtype, wanted: "an integer tensor"))
        }
        return values
    }

    private func entry(_ name: String) throws -> Entry {
        guard let entry = entries[name] else {
            throw SafeTensorsError(file: source, problem: .noSuchTensor(name))
        }
        return entry
    }

    /// IEEE binary16 bits to `Float` (exact), written out so it works where `Float16` does not exist.
    static func floatFromHalf(_ bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-24  // zero or subnormal
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    // MARK: Building

    /// Adds or replaces an F32 tensor.
    public mutating func set(_ tensor: Tensor, named name: String) {
        precondition(name != "__metadata__", "'__metadata__' is reserved by the safetensors format")
        #if _endian(little)
        let bytes = tensor.withUnsafeBufferPointer { Data(buffer: $0) }
        #else
        var bytes = Data(count: tensor.count * 4)
        bytes.withUnsafeMutableBytes { out in
            for (i, v) in tensor.scalars.enumerated() { out.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
        #endif
        entries[name] = Entry(dtype: .float32, shape: tensor.shape, bytes: bytes)
    }

    /// Adds or replaces an I64 tensor; `shape` defaults to `[values.count]`.
    public mutating func set(int64s values: [Int64], shape: [Int]? = nil, named name: String) {
        precondition(name != "__metadata__", "'__metadata__' is reserved by the safetensors format")
        let shape = shape ?? [values.count]
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == values.count,
                     "Shape \(shape) does not hold \(values.count) values")
        var bytes = Data(count: values.count * 8)
        bytes.withUnsafeMutableBytes { out in
            for (i, v) in values.enumerated() { out.storeBytes(of: v.littleEndian, toByteOffset: i * 8, as: Int64.self) }
        }
        entries[name] = Entry(dtype: .int64, shape: shape, bytes: bytes)
    }

    /// Adds or replaces a tensor of any dtype from its little-endian bytes
    /// (`bytes.count` must be `shape.product * dtype.byteSize`).
    public mutating func set(rawBytes bytes: Data, dtype: DType, shape: [Int], named name: String) {
        precondition(name != "__metadata__", "'__metadata__' is reserved by the safetensors format")
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(dtype.byteSize, *) == bytes.count,
                     "Shape \(shape) of \(dtype) needs \(shape.reduce(dtype.byteSize, *)) bytes, got \(bytes.count)")
        entries[name] = Entry(dtype: dtype, shape: shape, bytes: bytes)
    }

    /// Removes a tensor, if present.
    public mutating func remove(_ name: String) { entries[name] = nil }

    // MARK: Writing

    /// The file's bytes, laid out as the python `safetensors` writer lays them out.
    public func serialized() -> Data {
        serializedChunks().reduce(into: Data()) { $0.append($1) }
    }

    /// The file as its header followed by each tensor's bytes, in file order (no copies of tensor data).
    private func serializedChunks() -> [Data] {
        let ordered = entries.sorted { a, b in
            if a.value.dtype.writerRank != b.value.dtype.writerRank { return a.value.dtype.writerRank > b.value.dtype.writerRank }
            return a.key.utf8.lexicographicallyPrecedes(b.key.utf8)
        }
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += jsonStringLiteral("__metadata__") + ":{"
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            json += keys.map { jsonStringLiteral($0) + ":" + jsonStringLiteral(metadata[$0]!) }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for (name, entry) in ordered {
            if !first { json += "," }
            first = false
            let end = offset + entry.bytes.count
            json += jsonStringLiteral(name) + ":{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":["
                + entry.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"
        var header = Array(json.utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        var prefix = Data(capacity: 8 + header.count)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { prefix.append(contentsOf: $0) }
        prefix.append(contentsOf: header)
        return [prefix] + ordered.map(\.value.bytes)
    }

    /// Writes the file atomically: to a temporary file in the same directory, then
    /// renamed over `url`, so `url` never holds a partial file and a failure leaves
    /// whatever was there before. Throws `.writeFailed` with the system's reason.
    public func write(to url: URL) throws {
        do {
            try AtomicFile.write(serializedChunks(), to: url)
        } catch let failure as AtomicFile.Failure {
            throw SafeTensorsError(file: url.path, problem: .writeFailed(reason: failure.reason))
        }
    }

    private static func mapFile(atPath path: String) throws -> Data {
        let fail = { (reason: String) in SafeTensorsError(file: path, problem: .cannotOpen(reason: reason)) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail(String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fail(String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw fail("it is not a regular file") }
        let size = Int(info.st_size)
        if size == 0 { return Data() }
        guard let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), pointer != MAP_FAILED else {
            throw fail("cannot map it into memory: " + String(cString: strerror(errno)))
        }
        return Data(bytesNoCopy: pointer, count: size, deallocator: .custom { p, n in munmap(p, n) })
    }
}

/// Why a safetensors file could not be read, written or queried.
///
/// `description` names the file, the tensor, and what is wrong, e.g.
/// `model.safetensors: tensor 'w' is F32 with shape [2, 3], which needs 24 bytes, but its data_offsets span 20 bytes`.
public struct SafeTensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong; cases carrying `tensor` name the offending tensor.
    public enum Problem: Equatable, Sendable {
        case cannotOpen(reason: String)
        case fileTooShort(byteCount: Int)
        case headerTooLarge(declared: UInt64, limit: Int)
        case headerPastEndOfFile(declared: UInt64, available: Int)
        case headerNotUTF8
        case headerNotJSON(reason: String)
        case headerNotObject(found: String)
        case invalidMetadata(reason: String)
        case duplicateName(String)
        case invalidEntry(tensor: String, reason: String)
        case unknownDType(tensor: String, dtype: String)
        case byteCountMismatch(tensor: String, dtype: SafeTensors.DType, shape: [Int], expected: Int, declared: Int)
        case invalidOffsets(tensor: String, begin: Int, end: Int)
        case overlap(tensor: String, other: String, begin: Int, otherEnd: Int)
        case hole(tensor: String, previous: String?, begin: Int, expected: Int)
        case truncated(tensor: String, end: Int, declaredEnd: Int, available: Int)
        case trailingBytes(after: String?, dataEnd: Int, available: Int)
        case noSuchTensor(String)
        case wrongDType(tensor: String, dtype: SafeTensors.DType, wanted: String)
        case valueOutOfRange(tensor: String, value: String)
        case writeFailed(reason: String)
    }

    /// The file path, or `<memory>` for bytes parsed in memory.
    public var file: String
    public var problem: Problem

    public init(file: String, problem: Problem) {
        self.file = file
        self.problem = problem
    }

    public var description: String {
        let what: String
        switch problem {
        case let .cannotOpen(reason):
            what = "cannot open the file: \(reason)"
        case let .fileTooShort(count):
            what = "the file is \(count) bytes long, too short for a safetensors file (it must start with an 8-byte header length)"
        case let .headerTooLarge(declared, limit):
            what = "the header length field says \(declared) bytes, more than the \(limit)-byte limit: this is not a safetensors file, or it is corrupt"
        case let .headerPastEndOfFile(declared, available):
            what = "the header length field says \(declared) bytes, but only \(available) bytes follow it: the file is truncated or not a safetensors file"
        case .headerNotUTF8:
            what = "the header is not valid UTF-8 text"
        case let .headerNotJSON(reason):
            what = "the header is not valid JSON: \(reason)"
        case let .headerNotObject(found):
            what = "the header is \(found), but it must be a JSON object mapping tensor names to their dtype, shape and data_offsets"
        case let .invalidMetadata(reason):
            what = "the header's __metadata__ is malformed: \(reason)"
        case let .duplicateName(name):
            what = "the header lists '\(name)' twice"
        case let .invalidEntry(tensor, reason):
            what = "tensor '\(tensor)' is malformed: \(reason)"
        case let .unknownDType(tensor, dtype):
            let known = SafeTensors.DType.allCases.map(\.rawValue).joined(separator: ", ")
            what = "tensor '\(tensor)' has dtype \"\(dtype)\", which is not one of \(known)"
        case let .byteCountMismatch(tensor, dtype, shape, expected, declared):
            what = "tensor '\(tensor)' is \(dtype) with shape \(shape), which needs \(expected) bytes, but its data_offsets span \(declared) bytes"
        case let .invalidOffsets(tensor, begin, end):
            what = "tensor '\(tensor)' has data_offsets [\(begin), \(end)]: the end comes before the beginning"
        case let .overlap(tensor, other, begin, otherEnd):
            what = "tensor '\(tensor)' starts at byte \(begin) of the data, inside tensor '\(other)' (which ends at byte \(otherEnd)): tensors must not overlap"
        case let .hole(tensor, previous, begin, expected):
            let after = previous.map { "tensor '\($0)' ends" } ?? "the data starts"
            what = "tensor '\(tensor)' starts at byte \(begin) of the data, but \(after) at byte \(expected): the \(begin - expected) bytes between belong to no tensor"
        case let .truncated(tensor, end, declaredEnd, available):
            what = "tensor '\(tensor)' ends at byte \(end) of the data, but only \(available) bytes of data follow the header (the header declares \(declaredEnd)): the file is truncated"
        case let .trailingBytes(after, dataEnd, available):
            let last = after.map { "the last tensor, '\($0)', ends at byte \(dataEnd)" } ?? "the header lists no tensors"
            what = "\(available) bytes of data follow the header, but \(last): the \(available - dataEnd) bytes after belong to no tensor"
        case let .noSuchTensor(name):
            what = "there is no tensor named '\(name)'"
        case let .wrongDType(tensor, dtype, wanted):
            what = "tensor '\(tensor)' has dtype \(dtype), but \(wanted) is needed"
        case let .valueOutOfRange(tensor, value):
            what = "tensor '\(tensor)' holds \(value), which does not fit in Int64"
        case let .writeFailed(reason):
            what = "cannot write the file: \(reason)"
        }
        return "\(file): \(what)"
    }
}

/// Writes whole files atomically: temporary file in the destination's directory,
/// flushed, then renamed over the destination. On failure the temporary file is
/// removed and the destination is untouched.
enum AtomicFile {
    struct Failure: Error { var reason: String }

    /// The marker between a file's name and the process and random number in its temporary name.
    private static let temporaryMarker = ".tmp-"

    /// Writes the concatenation of `chunks` to `url`.
    static func write(_ chunks: [Data], to url: URL) throws {
        let destination = url.path
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + url.lastPathComponent + temporaryMarker + "\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        func failure(_ what: String) -> Failure { Failure(reason: "\(what): \(String(cString: strerror(errno)))") }

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create a temporary file in \(directory)") }
        var closed = false
        var renamed = false
        defer {
            if !closed { close(fd) }
            if !renamed { unlink(temporary) }
        }
        let total = chunks.reduce(0) { $0 + $1.count }
        var written = 0
        for chunk in chunks {
            try chunk.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                guard let base = raw.baseAddress else { return }
                var done = 0
                while done < raw.count {
                    let n = Foundation.write(fd, base + done, raw.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw failure("writing failed after \(written + done) of \(total) bytes")
                    }
                    done += n
                }
                written += done
            }
        }
        guard fsync(fd) == 0 else { throw failure("cannot flush the data to disk") }
        closed = true
        guard close(fd) == 0 else { throw failure("cannot close the temporary file") }
        guard rename(temporary, destination) == 0 else { throw failure("cannot move the finished file into place") }
        renamed = true
        // Make the rename itself durable; failure here cannot undo the write, so it is ignored.
        let directoryFD = open(directory, O_RDONLY | O_CLOEXEC)
        if directoryFD >= 0 { _ = fsync(directoryFD); close(directoryFD) }
    }

    /// Whether `name` is a temporary file of `write(_:to:)`: `.NAME.tmp-PID-NUMBER`.
    static func isTemporaryFileName(_ name: String) -> Bool {
        guard name.hasPrefix("."), let marker = name.range(of: temporaryMarker, options: .backwards),
              marker.lowerBound > name.index(after: name.startIndex) else { return false }
        let numbers = name[marker.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        return numbers.count == 2 && numbers.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }
    }

    /// Removes from `directory` the temporary files of writes that never finished (their process
    /// was killed mid-write) and returns their names. Only for a directory no other process is
    /// writing into at the same time.
    static func removeLeftovers(in directory: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter(isTemporaryFileName).sorted().filter {
            (try? FileManager.default.removeItem(at: directory.appendingPathComponent($0))) != nil
        }
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// A minimal JSON reader for safetensors headers: keeps members in file order,
/// distinguishes integer literals, and reports errors by byte position.
enum HeaderJSON: Equatable {
    case object([(String, HeaderJSON)])
    case array([HeaderJSON])
    case string(String)
    case integer(Int)
    case number(String)
    case bool(Bool)
    case null

    struct SyntaxError: Error { var message: String }

    static func == (a: HeaderJSON, b: HeaderJSON) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.array(x), .array(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    /// A phrase for error messages: "an array", "the string \"x\"".
    var kindName: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .integer, .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }

    /// The value as it would appear in JSON (short forms for containers).
    var literal: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case let .string(s): return jsonStringLiteral(s)
        case let .integer(n): return String(n)
        case let .number(text): return text
        case let .bool(b): return String(b)
        case .null: return "null"
        }
    }

    static func parse(_ bytes: [UInt8]) throws -> HeaderJSON {
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0

        func error(_ message: String) -> SyntaxError {
            if position < bytes.count {
                let shown = bytes[position] >= 0x20 && bytes[position] < 0x7F ? "'\(Character(UnicodeScalar(bytes[position])))'" : String(format: "byte 0x%02X", bytes[position])
                return SyntaxError(message: "\(message) at byte \(position) of the header (found \(shown))")
            }
            return SyntaxError(message: "\(message) at byte \(position) of the header (its end)")
        }

        mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws {
            guard position < bytes.count, bytes[position] == byte else { throw error("expected \(what)") }
            position += 1
        }

        mutating func value(depth: Int) throws -> HeaderJSON {
            guard depth < 64 else { throw error("nesting is too deep") }
            guard position < bytes.count else { throw error("expected a value") }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                position += 1
                var members: [(String, HeaderJSON)] = []
                skipWhitespace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                while true {
                    skipWhitespace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a quoted member name") }
                    let key = try string()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"), "':' after a member name")
                    skipWhitespace()
                    members.append((key, try value(depth: depth + 1)))
                    skipWhitespace()
                    guard position < bytes.count else { throw error("expected ',' or '}'") }
                    if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                    try expect(UInt8(ascii: "}"), "',' or '}'")
                    return .object(members)
                }
            case UInt8(ascii: "["):
                position += 1
                var items: [HeaderJSON] = []
                skipWhitespace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                while true {
                    skipWhitespace()
                    items.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard position < bytes.count else { throw error("expected ',' or ']'") }
                    if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                    try expect(UInt8(ascii: "]"), "',' or ']'")
                    return .array(items)
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try word("true"); return .bool(true)
            case UInt8(ascii: "f"): try word("false"); return .bool(false)
            case UInt8(ascii: "n"): try word("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return try number()
            default:
                throw error("expected a value")
            }
        }

        mutating func word(_ text: String) throws {
            for byte in text.utf8 { try expect(byte, "'\(text)'") }
        }

        mutating func number() throws -> HeaderJSON {
            let start = position
            func digits() -> Int {
                let from = position
                while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") { position += 1 }
                return position - from
            }
            if bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard digits() > 0 else { throw error("expected digits in a number") }
            var integral = true
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1; integral = false
                guard digits() > 0 else { throw error("expected digits after a decimal point") }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                position += 1; integral = false
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
                guard digits() > 0 else { throw error("expected digits in an exponent") }
            }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            if integral, let n = Int(text) { return .integer(n) }
            return .number(text)
        }

        mutating func string() throws -> String {
            position += 1  // opening quote
            var scalars = String.UnicodeScalarView()
            var run: [UInt8] = []
            func flush() {
                if !run.isEmpty { scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars); run.removeAll() }
            }
            while true {
                guard position < bytes.count else { throw error("unterminated string") }
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") { position += 1; break }
                if byte < 0x20 { throw error("control character inside a string") }
                if byte != UInt8(ascii: "\\") { run.append(byte); position += 1; continue }
                flush()
                position += 1
                guard position < bytes.count else { throw error("unterminated escape") }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate escape")
                        }
                        position += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate escape") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                    scalars.append(scalar)
                default:
                    position -= 1
                    throw error("invalid escape")
                }
            }
            flush()
            return String(scalars)
        }

        mutating func hex4() throws -> UInt32 {
            guard position + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[position..<(position + 4)], as: UTF8.self), radix: 16) else {
                throw error("expected 4 hex digits after \\u")
            }
            position += 4
            return code
        }
    }
}
