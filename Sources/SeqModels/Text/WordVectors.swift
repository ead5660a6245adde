#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem in a word-vector file, with the file and 1-based line, for a person to fix.
public struct WordVectorsError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public init(_ message: String, file: String, line: Int) {
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line): \(message)" }
}

/// Pretrained word vectors picked out for a vocabulary: one row per vocabulary id.
///
/// `vectors` has shape `[vocabulary.count, dimension]`; rows of tokens the file lacks (and
/// of the specials) are zero, and `found[id]` says which rows came from the file, so that
/// a caller can initialise the rest (e.g. randomly, with `SeededGenerator`).
public struct WordVectors: Sendable {
    public var dimension: Int
    public var vectors: Tensor
    public var found: [Bool]
    /// How many vocabulary tokens got a vector from the file.
    public var coverage: Int { found.lazy.filter { $0 }.count }

    /// The most numbers the matrix of a vocabulary's vectors may hold (2^31, 8 GiB of floats):
    /// a bound on the memory that a file's dimension can ask for, far above real embeddings
    /// (a million words of dimension 300 are 3 × 10^8).
    public static let maximumScalarCount = 1 << 31

    /// Reads GloVe text format (`word v1 … vD` per line) or word2vec text format (the same
    /// after a first line `count dimension`), streaming, and keeps the vectors of
    /// `vocabulary`'s tokens.
    ///
    /// A first line of exactly two integers is taken as the word2vec header; its dimension
    /// and count are then checked. Otherwise the dimension is the number of numbers on the
    /// first line. Each line is split at spaces; the word is everything before the last
    /// `dimension` fields (so a GloVe word holding single spaces still reads), and numbers
    /// are parsed only for the words kept. A wrong number
    /// of values, a value that is not a number, or invalid UTF-8 is an error naming the line.
    /// With `lowercaseFallback`, a token absent from the file takes the vector of its
    /// lowercased form (GloVe's 6B vectors are lowercased). When a word appears twice, the
    /// first vector is kept.
    public static func read(contentsOf path: String, for vocabulary: Vocabulary,
                            lowercaseFallback: Bool = false) throws -> WordVectors {
        guard let file = fopen(path, "rb") else {
            throw WordVectorsError("cannot open file: \(String(cString: strerror(errno)))", file: path, line: 0)
        }
        defer { fclose(file) }
        var wanted: [String: [Int]] = [:]
        for (id, token) in vocabulary.tokens.enumerated() where !vocabulary.specials.contains(where: { $0.rawValue == token }) {
            wanted[token, default: []].append(id)
        }
        var fallbacks: [String: [Int]] = [:]
        if lowercaseFallback {
            for (id, token) in vocabulary.tokens.enumerated() where wanted[token] != nil {
                let lower = token.lowercased()
                if lower != token { fallbacks[lower, default: []].append(id) }
            }
        }

        var dimension: Int?
        var declaredCount: Int?
        var dimensionSource = "the header"
        var rows: [Float] = []
        var found = [Bool](repeating: false, count: vocabulary.count)
        var exact = [Bool](repeating: false, count: vocabulary.count)
        var lineNumber = 0
        var entries = 0
        var fields: [Range<Int>] = []
        var linePointer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(linePointer) }
        while true {
            let length = getline(&linePointer, &capacity, file)
            if length < 0 { break }
            lineNumber += 1
            guard let linePointer else { break }
            var bytes = UnsafeBufferPointer(start: UnsafeRawPointer(linePointer).assumingMemoryBound(to: UInt8.self), count: length)
            while let last = bytes.last, last == 0x0A || last == 0x0D || last == 0x20 { bytes = UnsafeBufferPointer(rebasing: bytes.dropLast()) }
            if lineNumber == 1, bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = UnsafeBufferPointer(rebasing: bytes.dropFirst(3)) }
            if bytes.isEmpty { continue }
            // Split at spaces over the bytes: no String is made for lines whose word is not wanted.
            fields.removeAll(keepingCapacity: true)
            var index = 0
            while index < bytes.count {
                while index < bytes.count && bytes[index] == 0x20 { index += 1 }
                let fieldStart = index
                while index < bytes.count && bytes[index] != 0x20 { index += 1 }
                if index > fieldStart { fields.append(fieldStart..<index) }
            }
            func text(_ range: Range<Int>) -> String {
                String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
            }
            if lineNumber == 1, fields.count == 2, let count = Int(text(fields[0])), let size = Int(text(fields[1])) {
                guard size > 0 else { throw WordVectorsError("the header declares dimension \(size)", file: path, line: 1) }
                // Only a claim so far: the matrix is made once a vector line shows it (a header
                // declaring billions of dimensions must not allocate them).
                dimension = size
                declaredCount = count
                continue
            }
            if dimension == nil {
                guard fields.count >= 2 else {
                    throw WordVectorsError("expected a word and its vector, found \(fields.count) field", file: path, line: lineNumber)
                }
                dimension = fields.count - 1
                dimensionSource = "line \(lineNumber)"
            }
            let size = dimension!
            guard fields.count > size else {
                throw WordVectorsError("expected a word and \(size) numbers (the dimension of \(dimensionSource)), found \(fields.count - 1) numbers",
                                       file: path, line: lineNumber)
            }
            if rows.isEmpty {
                // The first vector line: the dimension is real now, and the matrix is made.
                let (count, overflow) = vocabulary.count.multipliedReportingOverflow(by: size)
                guard !overflow, count <= Self.maximumScalarCount else {
                    throw WordVectorsError("\(vocabulary.count) words of dimension \(size) would need more than "
                                           + "\(Self.maximumScalarCount) numbers", file: path, line: lineNumber)
                }
                rows = [Float](repeating: 0, count: count)
            }
            if fields.count > size + 1, Float(text(fields[fields.count - size - 1])) != nil {
                // More numbers than the dimension (a word holding spaces ends in a non-number).
                let numbers = fields.dropFirst().reversed().prefix { Float(text($0)) != nil }.count
                throw WordVectorsError("expected \(size) numbers (the dimension of \(dimensionSource)), found \(numbers)",
                                       file: path, line: lineNumber)
            }
            entries += 1
            let wordRange = fields[0].lowerBound..<fields[fields.count - size - 1].upperBound
            guard let word = String(validating: UnsafeBufferPointer(rebasing: bytes[wordRange]), as: UTF8.self) else {
                throw WordVectorsError("invalid UTF-8", file: path, line: lineNumber)
            }
            let targets = (wanted[word] ?? []).filter { !exact[$0] }
            let lowerTargets = (fallbacks[word] ?? []).filter { !found[$0] }
            if targets.isEmpty && lowerTargets.isEmpty { continue }  // parse only the vectors kept, for speed
            var vector = [Float](repeating: 0, count: size)
            for (index, field) in fields[(fields.count - size)...].enumerated() {
                let number = text(field)
                guard let value = Float(number), value.isFinite else {
                    throw WordVectorsError("\"\(number)\" is not a number", file: path, line: lineNumber)
                }
                vector[index] = value
            }
            for id in targets {
                rows.replaceSubrange((id * size)..<((id + 1) * size), with: vector)
                found[id] = true
                exact[id] = true
            }
            for id in lowerTargets {
                rows.replaceSubrange((id * size)..<((id + 1) * size), with: vector)
                found[id] = true
            }
        }
        if ferror(file) != 0 { throw WordVectorsError("read error", file: path, line: lineNumber) }
        guard let size = dimension, entries > 0 else { throw WordVectorsError("no vectors in the file", file: path, line: lineNumber) }
        if let declaredCount, declaredCount != entries {
            throw WordVectorsError("the header declares \(declaredCount) vectors but the file holds \(entries)", file: path, line: 1)
        }
        return WordVectors(dimension: size, vectors: Tensor(shape: [vocabulary.count, size], scalars: rows), found: found)
    }
}
