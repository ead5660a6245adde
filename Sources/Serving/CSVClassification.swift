import Corpus
import Foundation
import Hummingbird
import Logging
import NIOCore
import SeqModels
import Tasks

/// `POST /v1/classify/csv`: a CSV (or TSV) upload labelled as it streams, both ways.
///
/// The body is read chunk by chunk into a `Pipe`; a worker thread parses it with
/// `CSVRowReader(pulling:)`, classifies the rows 256 at a time and sends the labelled rows
/// (every column kept, then `predicted_label` and `probability`) into a second pipe that the
/// response writes out. Both pipes are bounded, so a slow client or a 100 MB upload never sits
/// whole in memory: reading the upload waits for the classifier, which waits for the client.
///
/// Query parameters: `text_column` (header name or 0-based index, default `text`), `format`
/// (`csv` or `tsv`), `model`. The response starts once the first 256 rows are labelled, so a
/// missing column, an empty upload or malformed CSV in those rows is a 400 naming the line;
/// malformed CSV further on ends the response early (its 200 status was already sent), and
/// is logged. A row whose text has no tokens gets an empty label.
final class CSVClassification: Sendable {
    let limits: ServingLimits
    private let slots: Slots
    static let rowsPerGroup = 256

    init(limits: ServingLimits) {
        self.limits = limits
        slots = Slots(count: limits.maxConcurrentCSV)
    }

    func respond(to request: Request, classifier: TrainedClassifier, logger: Logger) async throws -> Response {
        let query = request.uri.queryParameters
        let column = CSVColumn(parsing: query["text_column"].map(String.init) ?? "text")
        let format: CSVFormat
        switch query["format"].map(String.init) ?? "csv" {
        case "csv": format = .csv
        case "tsv": format = .tsv
        case let other: throw APIError.badRequest("format must be csv or tsv, got \(other)")
        }
        guard slots.acquire() else {
            throw APIError(.serviceUnavailable, code: "unavailable",
                           "\(limits.maxConcurrentCSV) CSV uploads are being classified; retry shortly")
        }
        let input = Pipe<[UInt8]>(capacity: 4)
        let output = Pipe<ByteBuffer>(capacity: 4)
        let maxRecordBytes = limits.maxCSVRecordBytes
        let slots = self.slots
        let worker = Thread {
            defer { slots.release() }
            do {
                try Self.classify(input: input, output: output, classifier: classifier, format: format, column: column,
                                  maxRecordBytes: maxRecordBytes)
                output.finish()
            } catch {
                input.cancel()
                output.finish(throwing: error)
            }
        }
        worker.name = "classify-csv"
        worker.start()
        let body = request.body
        let pump = Task {
            do {
                for try await buffer in body {
                    guard await input.send(Array(buffer.readableBytesView)) else { return }
                }
                input.finish()
            } catch {
                input.finish(throwing: error)
            }
        }

        // The header and the first rows, or why there are none, decide the status.
        let first: ByteBuffer
        do {
            guard let header = try await output.receive() else { throw APIError.badRequest("the upload is empty") }
            first = header
        } catch let error as CorpusError {
            pump.cancel()
            output.cancel()
            throw APIError.badRequest(error.description)
        } catch let error as TaskError {
            pump.cancel()
            output.cancel()
            throw APIError.badRequest(error.description)
        }
        return Response(status: .ok, headers: [.contentType: format == .tsv ? "text/tab-separated-values; charset=utf-8"
                                                                           : "text/csv; charset=utf-8"],
                        body: ResponseBody { writer in
                            do {
                                try await writer.write(first)
                                while let next = try await output.receive() { try await writer.write(next) }
                                try await writer.finish(nil)
                            } catch {
                                output.cancel()
                                pump.cancel()
                                logger.warning("CSV classification ended early: \(error)")
                                throw error
                            }
                        })
    }

    /// Runs on the worker thread: parse, classify, write, in groups of rows.
    private static func classify(input: Pipe<[UInt8]>, output: Pipe<ByteBuffer>, classifier: TrainedClassifier,
                                 format: CSVFormat, column: CSVColumn, maxRecordBytes: Int) throws {
        var rows = try CSVRowReader(pulling: { try input.receiveBlocking() }, name: "the uploaded CSV", format: format,
                                    hasHeader: true, maxRecordBytes: maxRecordBytes)
        let textIndex = try rows.index(of: column)
        // The header goes out with the first group of rows, so that an error in the first
        // rowsPerGroup rows still decides the status (400) rather than cutting a 200 short.
        var header: String? = try CSVWriter.record((rows.header ?? []) + ["predicted_label", "probability"], format: format)
        var group: [CSVRecord] = []
        func flush() throws -> Bool {
            let ids = group.map { try? classifier.input(of: $0.fields[textIndex]) }
            let readable = ids.compactMap { $0 }
            var predictions = classifier.model.predict(readable, batchSize: 128)[...]
            var text = header ?? ""
            header = nil
            for (record, id) in zip(group, ids) {
                var fields = record.fields
                if id != nil, let prediction = predictions.popFirst() {
                    fields += [classifier.labels[prediction.label], TrainedClassifier.formatProbability(prediction.probability)]
                } else {
                    fields += ["", ""]
                }
                text += try CSVWriter.record(fields, format: format, line: record.line, file: "the labelled CSV")
            }
            group.removeAll(keepingCapacity: true)
            return output.sendBlocking(ByteBuffer(string: text))
        }
        while let record = try rows.next() {
            guard textIndex < record.fields.count else {
                throw TaskError("the uploaded CSV:\(record.line): the row has no column \(column)")
            }
            group.append(record)
            if group.count == rowsPerGroup, try !flush() { return }
        }
        if !group.isEmpty || header != nil { _ = try flush() }
    }
}

/// A counting semaphore that refuses instead of waiting.
final class Slots: @unchecked Sendable {
    private let lock = NSLock()
    private var free: Int

    init(count: Int) { free = count }

    func acquire() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard free > 0 else { return false }
        free -= 1
        return true
    }

    func release() {
        lock.lock()
        free += 1
        lock.unlock()
    }
}
