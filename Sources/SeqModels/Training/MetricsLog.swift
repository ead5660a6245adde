import Foundation

/// One epoch of a training run: one line of `metrics.jsonl`.
///
/// ```json
/// {"complete":true,"dev_details":{"oov_accuracy":0.81},"dev_metric":0.9312,"epoch":3,"higher_is_better":true,
///  "is_best":true,"learning_rate":0.001,"metric_name":"accuracy","seconds":12.3,"tokens":204585,
///  "batches":300,"tokens_per_second":45210.5,"train_loss":0.4123}
/// ```
public struct EpochRecord: Codable, Equatable, Sendable {
    /// 1-based epoch number.
    public var epoch: Int
    /// False when the time limit stopped the epoch before its last batch.
    public var complete: Bool
    /// Batches trained in this epoch.
    public var batches: Int
    /// Units (tokens) trained on in this epoch.
    public var tokens: Int
    /// Mean training loss per unit over the epoch.
    public var trainLoss: Double
    /// The development evaluation after the epoch (`Evaluation.metricName`, `.metric`, `.details`).
    public var metricName: String
    public var devMetric: Double
    public var higherIsBetter: Bool
    public var devDetails: [String: Double]
    /// The learning rate used during the epoch.
    public var learningRate: Float
    /// Wall time of the epoch, training and evaluation.
    public var seconds: Double
    /// Training units per second (training batches only).
    public var tokensPerSecond: Double
    /// Whether this epoch's model became the best checkpoint.
    public var isBest: Bool

    public init(epoch: Int, complete: Bool, batches: Int, tokens: Int, trainLoss: Double, evaluation: Evaluation,
                learningRate: Float, seconds: Double, tokensPerSecond: Double, isBest: Bool) {
        self.epoch = epoch
        self.complete = complete
        self.batches = batches
        self.tokens = tokens
        self.trainLoss = trainLoss
        self.metricName = evaluation.metricName
        self.devMetric = evaluation.metric
        self.higherIsBetter = evaluation.higherIsBetter
        self.devDetails = evaluation.details
        self.learningRate = learningRate
        self.seconds = seconds
        self.tokensPerSecond = tokensPerSecond
        self.isBest = isBest
    }

    /// The development evaluation this record holds.
    public var evaluation: Evaluation {
        Evaluation(metricName: metricName, metric: devMetric, higherIsBetter: higherIsBetter, details: devDetails)
    }

    private enum CodingKeys: String, CodingKey {
        case epoch, complete, batches, tokens, seconds
        case trainLoss = "train_loss"
        case metricName = "metric_name"
        case devMetric = "dev_metric"
        case higherIsBetter = "higher_is_better"
        case devDetails = "dev_details"
        case learningRate = "learning_rate"
        case tokensPerSecond = "tokens_per_second"
        case isBest = "is_best"
    }
}

/// The `metrics.jsonl` file beside a model: one `EpochRecord` as JSON per line, appended
/// at the end of every epoch, so `tail -f` or pandas (`pd.read_json(path, lines=True)`) can
/// follow a run. Non-finite numbers are written as the strings `"nan"`, `"inf"`, `"-inf"`.
public struct MetricsLog: Sendable {
    /// File name inside the model directory.
    public static let fileName = "metrics.jsonl"
    public let url: URL

    public init(directory: URL) {
        url = directory.appendingPathComponent(Self.fileName)
    }

    /// One record as a JSON line (sorted keys, no trailing newline).
    public static func line(for record: EpochRecord) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(record), as: UTF8.self)
    }

    /// Replaces the file with `records` (a fresh run writes none; a resumed run the saved history).
    public func rewrite(_ records: [EpochRecord]) throws {
        let text = try records.map { try Self.line(for: $0) + "\n" }.joined()
        do {
            try AtomicFile.write([Data(text.utf8)], to: url)
        } catch let failure as AtomicFile.Failure {
            throw TrainingError.cannotWrite(path: url.path, reason: failure.reason)
        }
    }

    /// Appends one record as a line. A write that fails (a full disk) is undone, so the file
    /// never ends in part of a line.
    public func append(_ record: EpochRecord) throws {
        let data = Data((try Self.line(for: record) + "\n").utf8)
        do {
            if !FileManager.default.fileExists(atPath: url.path) {
                try AtomicFile.write([data], to: url)
                return
            }
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            let end = try handle.seekToEnd()
            do {
                try handle.write(contentsOf: data)
                try handle.synchronize()
            } catch {
                try? handle.truncate(atOffset: end)
                throw error
            }
        } catch let failure as AtomicFile.Failure {
            throw TrainingError.cannotWrite(path: url.path, reason: failure.reason)
        } catch {
            throw TrainingError.cannotWrite(path: url.path, reason: error.localizedDescription)
        }
    }

    /// Reads every record back (for tools and tests).
    public func read() throws -> [EpochRecord] {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw TrainingError.cannotRead(path: url.path, reason: error.localizedDescription)
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var records: [EpochRecord] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            do {
                records.append(try decoder.decode(EpochRecord.self, from: Data(line.utf8)))
            } catch {
                throw TrainingError.cannotRead(path: "\(url.path):\(number + 1)", reason: "not an epoch record: \(error)")
            }
        }
        return records
    }
}
