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
    @discardableResult
    public func annotateCSV(input: String, output: String, format: CSVFormat = .csv, textColumn: CSVColumn = "text",
                            labelColumnName: String = "predicted_label", probabilityColumnName: String = "probability",
                            batchSize: Int = 256, workers: Int = 1) throws -> Int {
        precondition(batchSize > 0 && workers > 0, "batchSize and workers must be positive")
        let groupSize = Self.recordsPerGroup(batchSize: batchSize, workers: workers)
        var rows = try CSVRowReader(contentsOf: input, format: format, hasHeader: true)
        let textIndex = try rows.index(of: textColumn)
        let writer = try CSVWriter(path: output, format: format)
        try writer.write((rows.header ?? []) + [labelColumnName, probabilityColumnName])
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
        try writer.close()
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
