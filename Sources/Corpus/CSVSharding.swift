import Foundation
import SeqModels

/// Cuts a CSV (or TSV) file into one share per process of a group, each starting and ending at
/// a record boundary, so that the processes read their own byte ranges in parallel and
/// together read every record exactly once, in order.
///
/// A boundary cannot be found by looking for the next line break: a quoted field may hold
/// line breaks, and whether a byte is inside quotes depends on everything before it. So each
/// process first runs the reader's state machine over its raw range `size·r/n ..< size·(r+1)/n`
/// from each of the four states a parser can be in (at a field's start, in an unquoted field,
/// in a quoted field, just after a closing quote), and counts the range's line breaks. The
/// processes exchange these small summaries; composing the ranges before its own gives each
/// process the exact state at its raw start, from which it walks to the first record boundary
/// (a line feed outside quotes). The boundaries are exchanged again, and share `r` is the
/// bytes from boundary `r` to boundary `r + 1`. The whole file is read once in parallel,
/// plus a few bytes past each cut; nothing is guessed, so quoted line breaks, doubled quotes
/// and a quote inside an unquoted field (kept literally, as `CSVRowReader` does) all cut right.
public enum CSVSharding {
    /// One process's share: its bytes and the file line its first record starts on.
    public struct Shard: Equatable, Sendable {
        public var bytes: Range<Int>
        public var firstLine: Int
        public init(bytes: Range<Int>, firstLine: Int) {
            self.bytes = bytes
            self.firstLine = firstLine
        }
    }

    /// This process's share of `path` (every process of `group` calls this together).
    /// Share 0 starts at byte 0 and so holds the header row.
    /// - Throws: `CorpusError` when the file cannot be read; `ProcessGroupError` from the group.
    public static func shard(of path: String, format: CSVFormat, group: any ProcessGroup) throws -> Shard {
        let size = try fileSize(path)
        let cuts = (0...group.size).map { size * $0 / group.size }
        let raw = cuts[group.rank]..<cuts[group.rank + 1]
        let summary = try summarise(path: path, range: raw, format: format)
        let summaries = try group.gather(summary.encoded).map(RangeSummary.init(decoding:))
        var state = State.fieldStart
        var lineBreaks = 0
        for earlier in summaries.prefix(group.rank) {
            state = earlier.endStates[state.rawValue]
            lineBreaks += earlier.lineBreaks
        }
        let start = group.rank == 0
            ? (offset: 0, lineBreaks: 0)
            : try firstBoundary(path: path, from: raw.lowerBound, state: state, format: format, size: size)
        let starts = try group.gather(start.offset)
        let end = group.rank + 1 < group.size ? starts[group.rank + 1] : size
        return Shard(bytes: start.offset..<max(start.offset, end), firstLine: 1 + lineBreaks + start.lineBreaks)
    }

    // MARK: The state machine of `CSVParser`, reduced to what decides record boundaries

    enum State: Int, CaseIterable {
        case fieldStart, unquoted, quoted, afterClosingQuote
    }

    private static let quote: UInt8 = 0x22, lineFeed: UInt8 = 0x0A, carriageReturn: UInt8 = 0x0D

    /// The state after `byte`, and whether the byte ends a record (a line feed outside quotes).
    @inline(__always)
    static func step(_ state: State, _ byte: UInt8, delimiter: UInt8, quoting: Bool) -> (State, Bool) {
        switch state {
        case .fieldStart, .unquoted, .afterClosingQuote:
            if byte == lineFeed { return (.fieldStart, true) }
            if byte == carriageReturn || byte == delimiter { return (.fieldStart, false) }
            if byte == quote {
                if state == .fieldStart && quoting { return (.quoted, false) }
                if state == .afterClosingQuote { return (.quoted, false) }   // a doubled quote
            }
            // After a closing quote anything else is an error for the reader; it stops there.
            return (.unquoted, false)
        case .quoted:
            return (byte == quote ? .afterClosingQuote : .quoted, false)
        }
    }

    /// What a byte range does to each state, and its line breaks (a lone CR, a lone LF and
    /// CRLF each count one, as the reader numbers lines).
    struct RangeSummary: Equatable {
        var endStates: [State]
        var lineBreaks: Int

        /// The four end states' raw values, then the line breaks: what the processes exchange.
        var encoded: [Int] { endStates.map(\.rawValue) + [lineBreaks] }

        init(endStates: [State], lineBreaks: Int) {
            self.endStates = endStates
            self.lineBreaks = lineBreaks
        }

        init(decoding values: [Int]) {
            endStates = values.prefix(4).map { State(rawValue: $0) ?? .fieldStart }
            lineBreaks = values.count > 4 ? values[4] : 0
        }
    }

    static func summarise(path: String, range: Range<Int>, format: CSVFormat) throws -> RangeSummary {
        var states = State.allCases
        var lineBreaks = 0
        var previousWasCR = try byte(before: range.lowerBound, in: path) == carriageReturn
        let delimiter = format.delimiter, quoting = format.quoting
        // Like the reader, the summary skips a byte-order mark at the start of the file.
        try forEachChunk(of: path, range: range, skippingByteOrderMark: range.lowerBound == 0) { chunk in
            for byte in chunk {
                if byte == carriageReturn || (byte == lineFeed && !previousWasCR) { lineBreaks += 1 }
                previousWasCR = byte == carriageReturn
                for index in 0..<4 { states[index] = step(states[index], byte, delimiter: delimiter, quoting: quoting).0 }
            }
            return true
        }
        return RangeSummary(endStates: states, lineBreaks: lineBreaks)
    }

    /// The first record boundary at or after `offset` (in `state` there), and the line breaks before it.
    static func firstBoundary(path: String, from offset: Int, state: State, format: CSVFormat,
                              size: Int) throws -> (offset: Int, lineBreaks: Int) {
        var state = state
        var position = offset, lineBreaks = 0
        var previousWasCR = try byte(before: offset, in: path) == carriageReturn
        var found: Int?
        try forEachChunk(of: path, range: offset..<size) { chunk in
            for byte in chunk {
                position += 1
                if byte == carriageReturn || (byte == lineFeed && !previousWasCR) { lineBreaks += 1 }
                previousWasCR = byte == carriageReturn
                let (next, endsRecord) = step(state, byte, delimiter: format.delimiter, quoting: format.quoting)
                state = next
                if endsRecord {
                    found = position
                    return false
                }
            }
            return true
        }
        return (found ?? size, lineBreaks)
    }

    static func fileSize(_ path: String) throws -> Int {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw CorpusError("cannot read the file: \(String(cString: strerror(errno)))", at: SourceLocation(file: path, line: 0))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw CorpusError("processes can share only a regular file (not a pipe or standard input)",
                              at: SourceLocation(file: path, line: 0))
        }
        return Int(status.st_size)
    }

    private static func byte(before offset: Int, in path: String) throws -> UInt8? {
        guard offset > 0 else { return nil }
        var result: UInt8?
        try forEachChunk(of: path, range: (offset - 1)..<offset) { chunk in
            result = chunk.first
            return false
        }
        return result
    }

    /// Calls `body` with the bytes of `range` a chunk at a time until it returns `false`
    /// (without a leading byte-order mark with `skippingByteOrderMark`).
    static func forEachChunk(of path: String, range: Range<Int>, skippingByteOrderMark: Bool = false,
                             _ body: ([UInt8]) -> Bool) throws {
        let reader = try ByteChunkReader(.fileRange(path: path, range: range), skippingByteOrderMark: skippingByteOrderMark)
        var chunk: [UInt8] = []
        while try reader.readChunk(into: &chunk) {
            if !body(chunk) { return }
        }
    }
}

/// Cuts a text file of lines into one share per process of a group: share `r` runs from the
/// first line that starts at or after byte `size·r/n` to the first line that starts at or after
/// byte `size·(r+1)/n`, so that the shares hold every line once, in order.
public enum LineSharding {
    /// This process's share of `path`: its bytes (every process of `group` calls this together).
    /// - Throws: `CorpusError` when the file cannot be read or is not a regular file.
    public static func shard(of path: String, group: any ProcessGroup) throws -> Range<Int> {
        let size = try CSVSharding.fileSize(path)
        func lineStart(atOrAfter offset: Int) throws -> Int {
            guard offset > 0 else { return 0 }
            // The first byte after a line feed, looking from the byte before `offset`.
            var position = offset - 1
            var found: Int?
            try CSVSharding.forEachChunk(of: path, range: (offset - 1)..<size) { chunk in
                if let index = chunk.firstIndex(of: 0x0A) {
                    found = position + index + 1
                    return false
                }
                position += chunk.count
                return true
            }
            return found ?? size
        }
        let start = try lineStart(atOrAfter: size * group.rank / group.size)
        let end = try lineStart(atOrAfter: size * (group.rank + 1) / group.size)
        return start..<max(start, end)
    }
}
