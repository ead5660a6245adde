#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a reader takes its bytes from: a file on disk, bytes already in memory (tests,
/// strings typed by a user), or chunks pulled one by one from a stream (an HTTP upload).
/// `name` is what error messages call it.
enum ByteInput: Sendable {
    case file(path: String)
    /// The bytes `range` of a file (one process's share of it, `CSVSharding`).
    case fileRange(path: String, range: Range<Int>)
    case bytes([UInt8], name: String)
    /// Returns the next chunk (not empty), or `nil` at the end; may block.
    case pull(@Sendable () throws -> [UInt8]?, name: String)

    var name: String {
        switch self {
        case .file(let path), .fileRange(let path, _): return path
        case .bytes(_, let name): return name
        case .pull(_, let name): return name
        }
    }
}

/// Reads a file in fixed-size chunks so that memory stays constant however large it is.
///
/// A final class because it owns a `FILE*` that must be closed exactly once.
final class ByteChunkReader {
    private var file: UnsafeMutablePointer<FILE>?
    private var memory: [UInt8]
    private var memoryOffset = 0
    private let pull: (@Sendable () throws -> [UInt8]?)?
    /// Bytes of the file still to read (a `.fileRange`), or `nil` to the end.
    private var remaining: Int?
    let name: String
    /// Chunk size in bytes: large enough that `fread` costs nothing per byte.
    let chunkSize: Int

    /// Whether the first chunk has still to be checked for a UTF-8 byte-order mark to drop.
    private var checksByteOrderMark: Bool

    /// With `skippingByteOrderMark`, a UTF-8 byte-order mark at the very start of the input is
    /// dropped, however the input's first bytes are split into chunks (an upload may deliver
    /// them one at a time).
    init(_ input: ByteInput, chunkSize: Int = 1 << 20, skippingByteOrderMark: Bool = false) throws {
        self.chunkSize = chunkSize
        self.name = input.name
        self.checksByteOrderMark = skippingByteOrderMark
        switch input {
        case .file(let path):
            guard let handle = fopen(path, "rb") else {
                let reason = String(cString: strerror(errno))
                throw CorpusError("cannot open file: \(reason)", at: SourceLocation(file: path, line: 0))
            }
            file = handle
            memory = []
            pull = nil
        case .fileRange(let path, let range):
            guard let handle = fopen(path, "rb") else {
                let reason = String(cString: strerror(errno))
                throw CorpusError("cannot open file: \(reason)", at: SourceLocation(file: path, line: 0))
            }
            guard fseeko(handle, off_t(range.lowerBound), SEEK_SET) == 0 else {
                let reason = String(cString: strerror(errno))
                fclose(handle)
                throw CorpusError("cannot seek to byte \(range.lowerBound): \(reason)", at: SourceLocation(file: path, line: 0))
            }
            file = handle
            remaining = range.count
            memory = []
            pull = nil
        case .bytes(let bytes, _):
            file = nil
            memory = bytes
            pull = nil
        case .pull(let next, _):
            file = nil
            memory = []
            pull = next
        }
    }

    deinit {
        if let file { fclose(file) }
    }

    /// Fills `buffer` with the next chunk (never empty); returns `false` at the end of the input.
    func readChunk(into buffer: inout [UInt8]) throws -> Bool {
        guard checksByteOrderMark else { return try readRawChunk(into: &buffer) }
        checksByteOrderMark = false
        // Gather the first three bytes, whatever the chunks they come in.
        var head: [UInt8] = [], chunk: [UInt8] = []
        while head.count < 3, try readRawChunk(into: &chunk) { head += chunk }
        if head.starts(with: [0xEF, 0xBB, 0xBF]) { head.removeFirst(3) }
        guard !head.isEmpty else { return try readRawChunk(into: &buffer) }
        buffer = head
        return true
    }

    /// The next chunk as the input gives it.
    private func readRawChunk(into buffer: inout [UInt8]) throws -> Bool {
        if let pull {
            while let chunk = try pull() {
                if !chunk.isEmpty { buffer = chunk; return true }
            }
            return false
        }
        if let file {
            let wanted = min(chunkSize, remaining ?? chunkSize)
            guard wanted > 0 else { return false }
            var count = 0
            buffer = [UInt8](unsafeUninitializedCapacity: wanted) { pointer, initialized in
                count = fread(pointer.baseAddress, 1, wanted, file)
                initialized = count
            }
            if count == 0 && ferror(file) != 0 {
                throw CorpusError("read error", at: SourceLocation(file: name, line: 0))
            }
            remaining = remaining.map { $0 - count }
            return count > 0
        }
        guard memoryOffset < memory.count else { return false }
        let end = min(memory.count, memoryOffset + chunkSize)
        buffer = Array(memory[memoryOffset..<end])
        memoryOffset = end
        return true
    }
}

/// Streams a UTF-8 text input line by line, in memory bounded by its longest line.
///
/// Lines end at LF; a CR right before the LF (CRLF files) is removed, so callers see the
/// same lines for LF and CRLF files. A leading UTF-8 byte-order mark is skipped. The last
/// line is returned even without a final newline. Invalid UTF-8 is an error naming the line,
/// and so is a line longer than `maxLineBytes` (a file without line breaks would otherwise
/// be gathered whole into one line).
struct LineReader {
    /// The longest line read unless told otherwise: 64 MiB, as a CSV record
    /// (`CSVRowReader.defaultMaxRecordBytes`): far above any sentence, review or poem.
    static let defaultMaxLineBytes = 64 << 20

    private let chunks: ByteChunkReader
    private var buffer: [UInt8] = []
    private var position = 0
    private var pending: [UInt8] = []
    private var finished = false
    /// 1-based number of the line most recently returned.
    private(set) var lineNumber = 0
    var name: String { chunks.name }
    let maxLineBytes: Int

    init(_ input: ByteInput, maxLineBytes: Int = LineReader.defaultMaxLineBytes) throws {
        chunks = try ByteChunkReader(input, skippingByteOrderMark: true)
        self.maxLineBytes = maxLineBytes
    }

    /// The next line without its terminator, or `nil` at the end of the input.
    mutating func nextLine() throws -> String? {
        while true {
            if position < buffer.count {
                // memchr: fast even in debug builds, where a Swift byte loop is not.
                let start = position
                let found: Int? = buffer.withUnsafeBufferPointer { bytes in
                    guard let base = bytes.baseAddress,
                          let hit = memchr(base + start, 0x0A, bytes.count - start) else { return nil }
                    return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
                }
                if let newline = found {
                    defer { position = newline + 1 }
                    if pending.isEmpty {  // the whole line is in this chunk: no copy
                        return try buffer.withUnsafeBufferPointer { bytes in
                            try finishLine(UnsafeBufferPointer(rebasing: bytes[position..<newline]))
                        }
                    }
                    pending.append(contentsOf: buffer[position..<newline])
                    return try finishPendingLine()
                }
                pending.append(contentsOf: buffer[position...])
                position = buffer.count
                if pending.count > maxLineBytes {
                    throw CorpusError("a line longer than \(maxLineBytes) bytes starts here: is this a text file with line "
                                      + "breaks? (longer lines are refused to keep memory bounded)",
                                      at: SourceLocation(file: name, line: lineNumber + 1))
                }
            }
            if finished { return nil }
            if try !chunks.readChunk(into: &buffer) {
                finished = true
                position = 0
                buffer = []
                if pending.isEmpty { return nil }
                return try finishPendingLine()
            }
            position = 0
        }
    }

    private mutating func finishPendingLine() throws -> String {
        defer { pending.removeAll(keepingCapacity: true) }
        return try pending.withUnsafeBufferPointer { try finishLine($0) }
    }

    /// Counts the line, drops a final CR, and decodes it.
    private mutating func finishLine(_ bytes: UnsafeBufferPointer<UInt8>) throws -> String {
        lineNumber += 1
        var line = bytes
        if line.last == 0x0D { line = UnsafeBufferPointer(rebasing: line.dropLast()) }
        guard let text = String(validating: line, as: UTF8.self) else {
            throw CorpusError("invalid UTF-8", at: SourceLocation(file: name, line: lineNumber))
        }
        return text
    }
}
