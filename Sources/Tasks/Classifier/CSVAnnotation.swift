import Foundation
import Corpus
import SeqModels

extension TrainedClassifier {
    /// Copies the CSV/TSV file `input` to `output`, appending to every row the predicted label
    /// and its probability (columns `labelColumnName`, `probabilityColumnName` in the header).
    ///
    /// Streams: a group of rows (`batchSize`, or four batches per worker with `workers > 1`) is
    /// read, classified together and written, so memory stays bounded whatever the file's size. Every other column is kept as it was.
    /// - Returns: the number of data rows written.
    /// - Throws: `CorpusError` for malformed input (file and line), `TaskError` when the text
    ///   column is missing or a row's text is empty (naming the line), and write errors.
    ///
    /// With `group` (the processes of an `mpirun` job, every one calling this with the same
    /// arguments), each process labels its own share of `input` (`CSVSharding`: record
    /// boundaries found exactly, quoted line breaks included); rank 0 writes its rows straight
    /// to `output`, the others into a temporary file each, which rank 0 then appends in rank
    /// order, a few megabytes at a time: the output is byte for byte what one process writes.
    /// `input` must then be a regular file at the same path for every process.
    @discardableResult
    public func annotateCSV(input: String, output: String, format: CSVFormat = .csv, textColumn: CSVColumn = "text",
                            labelColumnName: String = "predicted_label", probabilityColumnName: String = "probability",
                            batchSize: Int = 256, workers: Int = 1, group: (any ProcessGroup)? = nil) throws -> Int {
        precondition(batchSize > 0 && workers > 0, "batchSize and workers must be positive")
        let headerReader = try CSVRowReader(contentsOf: input, format: format, hasHeader: true)
        let header = headerReader.header ?? []
        let textIndex = try headerReader.index(of: textColumn)
        guard let group, group.size > 1 else {
            var rows = headerReader
            let writer = try CSVWriter(path: output, format: format)
            try writer.write(header + [labelColumnName, probabilityColumnName])
            let written = try label(&rows, textIndex: textIndex, textColumn: textColumn, input: input, into: writer,
                                    batchSize: batchSize, workers: workers)
            try writer.close()
            return written
        }
        let shard = try CSVSharding.shard(of: input, format: format, group: group)
        var rows = try CSVRowReader(shard: shard, of: input, format: format, header: header)
        let part = group.isLeader ? nil
            : FileManager.default.temporaryDirectory.appendingPathComponent("seqmodels-part-\(group.rank)-\(getpid()).csv")
        defer { if let part { try? FileManager.default.removeItem(at: part) } }
        let writer = try CSVWriter(path: part?.path ?? output, format: format)
        if group.isLeader { try writer.write(header + [labelColumnName, probabilityColumnName]) }
        let written = try label(&rows, textIndex: textIndex, textColumn: textColumn, input: input, into: writer,
                                batchSize: batchSize, workers: workers)
        try writer.close()
        var sink: FileHandle?
        let toStandardOutput = output == "/dev/stdout"
        if group.isLeader {
            guard let handle = toStandardOutput ? FileHandle.standardOutput : FileHandle(forWritingAtPath: output) else {
                throw TaskError("\(output): cannot open to append the other processes' rows")
            }
            _ = try? handle.seekToEnd()   // after rank 0's rows (a pipe has no position to move)
            sink = handle
        }
        defer { if !toStandardOutput { try? sink?.close() } }
        try group.appendParts(part, to: sink)
        return try group.gather(written).reduce(0, +)
    }

    /// Labels every row of `rows` into `writer`; returns how many.
    private func label(_ rows: inout CSVRowReader, textIndex: Int, textColumn: CSVColumn, input: String, into writer: CSVWriter,
                       batchSize: Int, workers: Int) throws -> Int {
        let groupSize = Self.recordsPerGroup(batchSize: batchSize, workers: workers)
        var pending: [CSVRecord] = []
        var written = 0
        func flush() throws {
            let pendingIDs = try pending.concurrentMap(threads: max(workers, BLAS.threadCount)) { record in
                try self.input(of: record.fields[textIndex], where: "\(input):\(record.line)")
            }
            let predictions = model.predict(pendingIDs, batchSize: batchSize, workers: workers)
            for (record, prediction) in zip(pending, predictions) {
                try writer.write(record.fields + [labels[prediction.label], Self.formatProbability(prediction.probability)])
            }
            written += pending.count
            pending.removeAll(keepingCapacity: true)
        }
        while let record = try rows.next() {
            guard textIndex < record.fields.count else {
                throw TaskError("\(input):\(record.line): the row has no column \(textColumn)")
            }
            pending.append(record)
            if pending.count == groupSize { try flush() }
        }
        if !pending.isEmpty { try flush() }
        return written
    }

    /// A probability as printed and written: four decimals.
    public static func formatProbability(_ p: Float) -> String {
        let scaled = Int((Double(p) * 10_000).rounded())
        let whole = scaled / 10_000, fraction = scaled % 10_000
        let digits = String(fraction)
        return "\(whole)." + String(repeating: "0", count: 4 - digits.count) + digits
    }
}
