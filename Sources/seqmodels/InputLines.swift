#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Tasks

/// The lines of a text file, or of standard input for `-`, read one at a time without their
/// line ends (`\n` or `\r\n`). Memory stays bounded however long the input: a line longer than
/// `maximumLength` bytes is refused, naming the file and the line, and so is a failed read (a
/// directory, an I/O error), which must not pass for the end of the input. Invalid UTF-8 is
/// repaired with U+FFFD. A line is returned as soon as its end arrives (`read(2)`, not a
/// buffered `FILE`), so a pipe is tagged while it is still being written. A final class: it owns
/// the file descriptor of a file it opened, and closes it once.
final class InputLines {
    /// The longest line accepted, in bytes (1 MiB: one sentence or one review per line; the
    /// message names it so).
    static let maximumLength = 1 << 20

    private let descriptor: Int32
    private let ownsDescriptor: Bool
    /// The name in messages: the path, or "standard input".
    private let name: String
    /// Bytes read but not yet returned: `buffer[unread]`.
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var unread = 0..<0
    /// Offset in the file of the first unread byte.
    private var offset: Int
    /// The byte where reading stops (a share of the file that ends after a line), or `nil`.
    private let end: Int?
    private var reachedEnd = false
    /// Lines returned so far.
    private var lineCount = 0
    /// Whether reading started at the file's first byte (so line numbers are the file's).
    private let startsAtBeginning: Bool

    /// - Throws: `TaskError` naming the file when it cannot be opened.
    convenience init(path: String) throws {
        try self.init(path: path, from: 0, to: nil)
    }

    /// The lines of the bytes `range` of `path`, which must start at a line's start and end
    /// after a line's end (`LineSharding`).
    convenience init(path: String, bytes range: Range<Int>) throws {
        try self.init(path: path, from: range.lowerBound, to: range.upperBound)
    }

    private init(path: String, from start: Int, to end: Int?) throws {
        if path == "-" {
            descriptor = STDIN_FILENO
            ownsDescriptor = false
            name = "standard input"
        } else {
            descriptor = open(path, O_RDONLY)
            guard descriptor >= 0 else { throw TaskError("cannot open \(path): \(String(cString: strerror(errno)))") }
            ownsDescriptor = true
            name = path
        }
        offset = start
        startsAtBeginning = start == 0
        self.end = end
        if start > 0 && lseek(descriptor, off_t(start), SEEK_SET) < 0 {
            let reason = String(cString: strerror(errno))
            if ownsDescriptor { close(descriptor) }
            throw TaskError("cannot read \(path) from byte \(start): \(reason)")
        }
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// The next line, or `nil` after the last one.
    /// - Throws: `TaskError` naming the input when a read fails or a line is longer than `maximumLength`.
    func nextLine() throws -> String? {
        if let end, offset >= end { return nil }
        let lineStart = offset
        var line: [UInt8] = []
        var ended = false
        while !ended {
            if unread.isEmpty {
                if reachedEnd { break }
                guard try fill() else { break }
            }
            let newline = buffer[unread].firstIndex(of: 0x0A)
            let taken = unread.lowerBound..<(newline ?? unread.upperBound)
            // One byte more than the limit may be the line's "\r".
            guard line.count + taken.count <= Self.maximumLength + 1 else { throw overlongLine(startingAt: lineStart) }
            line.append(contentsOf: buffer[taken])
            let consumed = taken.count + (newline == nil ? 0 : 1)
            unread = (unread.lowerBound + consumed)..<unread.upperBound
            offset += consumed
            ended = newline != nil
        }
        if !ended && line.isEmpty { return nil }
        if line.last == 0x0D { line.removeLast() }
        guard line.count <= Self.maximumLength else { throw overlongLine(startingAt: lineStart) }
        lineCount += 1
        return String(decoding: line, as: UTF8.self)
    }

    /// Reads the next bytes into `buffer`; false at the end of the input.
    private func fill() throws -> Bool {
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                unread = 0..<count
                return true
            }
            if count == 0 {
                reachedEnd = true
                return false
            }
            if errno == EINTR { continue }
            throw TaskError("cannot read \(name) after byte \(offset): \(String(cString: strerror(errno)))")
        }
    }

    private func overlongLine(startingAt lineStart: Int) -> TaskError {
        TaskError("\(describeLine(startingAt: lineStart)) is longer than 1 MiB: give one sentence or text per line "
                  + "(split long texts into lines)")
    }

    /// "line N of PATH" when reading from the file's start, otherwise (a share of it) the line's byte offset.
    private func describeLine(startingAt lineStart: Int) -> String {
        startsAtBeginning ? "line \(lineCount + 1) of \(name)" : "the line at byte \(lineStart) of \(name)"
    }
}
