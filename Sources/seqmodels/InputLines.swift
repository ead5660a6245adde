#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Tasks

/// The lines of a text file, or of standard input for `-`, read one at a time (memory stays
/// bounded however long the input), without their line ends (`\n` or `\r\n`). Invalid UTF-8 is
/// repaired with U+FFFD. A final class: it owns a `FILE*` that it closes once.
final class InputLines: Sequence, IteratorProtocol {
    private let file: UnsafeMutablePointer<FILE>
    private let ownsFile: Bool
    /// The byte where reading stops (a share of the file that ends after a line), or `nil`.
    private var end: Int?

    /// - Throws: `TaskError` naming the file when it cannot be opened.
    init(path: String) throws {
        if path == "-" {
            guard let standardInput = fdopen(STDIN_FILENO, "r") else { throw TaskError("cannot read standard input") }
            file = standardInput
            ownsFile = false
        } else {
            guard let opened = fopen(path, "r") else {
                throw TaskError("cannot open \(path): \(String(cString: strerror(errno)))")
            }
            file = opened
            ownsFile = true
        }
    }

    /// The lines of the bytes `range` of `path`, which must start at a line's start and end
    /// after a line's end (`LineSharding`).
    convenience init(path: String, bytes range: Range<Int>) throws {
        try self.init(path: path)
        guard fseeko(file, off_t(range.lowerBound), SEEK_SET) == 0 else {
            throw TaskError("cannot read \(path) from byte \(range.lowerBound): \(String(cString: strerror(errno)))")
        }
        end = range.upperBound
    }

    deinit {
        if ownsFile { fclose(file) }
    }

    func next() -> String? {
        if let end, ftello(file) >= off_t(end) { return nil }
        var buffer: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(buffer) }
        let count = getline(&buffer, &capacity, file)
        guard count >= 0, let buffer else { return nil }
        var length = count
        if length > 0 && buffer[length - 1] == 0x0A { length -= 1 }
        if length > 0 && buffer[length - 1] == 0x0D { length -= 1 }
        return buffer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}
