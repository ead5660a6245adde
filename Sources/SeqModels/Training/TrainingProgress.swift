import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `Trainer` reports when a run starts.
public struct TrainingStart: Equatable, Sendable {
    /// The first epoch this run trains (1, or the one after the last saved epoch when resuming).
    public var firstEpoch: Int
    /// The last epoch the run may reach (`TrainerOptions.epochs`).
    public var epochs: Int
    public var trainExamples: Int
    public var devExamples: Int
    /// Units (tokens) in the training set, as counted by `TrainableModel.length(of:)`.
    public var trainTokens: Int
    public var parameterCount: Int
    /// The model directory (where the best checkpoint, `metrics.jsonl` and `curves.svg` go).
    public var directory: URL
}

/// What `Trainer` reports after every batch.
public struct BatchProgress: Equatable, Sendable {
    public var epoch: Int
    public var epochs: Int
    /// Batches done in this epoch (1-based count) and in the whole epoch.
    public var batch: Int
    public var batches: Int
    /// Units (tokens) trained on so far in this epoch.
    public var tokens: Int
    /// Mean training loss per unit so far in this epoch.
    public var loss: Double
    /// Seconds since the epoch started.
    public var seconds: Double

    /// Units per second so far in this epoch.
    public var tokensPerSecond: Double { seconds > 0 ? Double(tokens) / seconds : 0 }
    /// Estimated seconds to the end of the epoch's training batches, from the pace so far.
    public var secondsRemaining: Double { batch > 0 ? seconds / Double(batch) * Double(batches - batch) : 0 }
}

/// Receives the progress of a training run. `Trainer` calls these on its own thread, in
/// order: `trainingStarted`, then per epoch any number of `batchEnded` and one `epochEnded`,
/// then `trainingEnded` (or `trainingFailed` when the run stops on an error). Every method
/// has an empty default, so a reporter implements only what it shows.
public protocol TrainingProgressReporter: AnyObject {
    func trainingStarted(_ start: TrainingStart)
    func batchEnded(_ progress: BatchProgress)
    /// Called before the development set is evaluated (a slow step worth showing).
    func evaluationStarted(epoch: Int)
    func epochEnded(_ record: EpochRecord)
    func trainingEnded(_ summary: TrainingSummary)
    func trainingFailed(_ error: Error)
    /// A line worth telling the person (resumed from epoch 4, stopped early, …).
    func note(_ message: String)
}

extension TrainingProgressReporter {
    public func trainingStarted(_ start: TrainingStart) {}
    public func batchEnded(_ progress: BatchProgress) {}
    public func evaluationStarted(epoch: Int) {}
    public func epochEnded(_ record: EpochRecord) {}
    public func trainingEnded(_ summary: TrainingSummary) {}
    public func trainingFailed(_ error: Error) {}
    public func note(_ message: String) {}
}

/// A reporter that shows nothing (tests, library use).
public final class SilentProgress: TrainingProgressReporter {
    public init() {}
}

/// Progress for a person, written as text (standard error by default).
///
/// Interactive (a terminal): one live line per epoch redrawn in place at most ten times a
/// second, e.g.
/// `epoch 3/20 [██████████░░░░░░░░░░] 120/300  loss 0.4123  45,210 tok/s  ETA 0:42`,
/// replaced at the end of the epoch by its summary line. Not interactive (a log file, a
/// pipe): only the summary line of each epoch,
/// `epoch 3/20  loss 0.4123  dev accuracy 0.9312 (oov_accuracy 0.8120) *best*  lr 0.001  12.3 s  45,210 tok/s`
/// (at most four of the evaluation's details, by name).
public final class ConsoleProgress: TrainingProgressReporter {
    /// Whether to draw the live bar (true on a terminal).
    public let interactive: Bool
    private let write: (String) -> Void
    private let minimumRedrawInterval: Double
    private var lastRedraw = -Double.infinity
    private var lineIsOpen = false
    private var epochs = 0

    /// A reporter writing through `write`; `interactive` draws the live bar with carriage returns.
    public init(interactive: Bool, minimumRedrawInterval: Double = 0.1, write: @escaping (String) -> Void) {
        self.interactive = interactive
        self.minimumRedrawInterval = minimumRedrawInterval
        self.write = write
    }

    /// Writes to standard error, with the live bar when standard error is a terminal.
    public static func standardError() -> ConsoleProgress {
        ConsoleProgress(interactive: isatty(STDERR_FILENO) == 1) { text in
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    public func trainingStarted(_ start: TrainingStart) {
        epochs = start.epochs
        let from = start.firstEpoch > 1 ? " from epoch \(start.firstEpoch)" : ""
        line("training\(from): \(Self.grouped(start.trainExamples)) examples (\(Self.grouped(start.trainTokens)) tokens), "
             + "\(Self.grouped(start.devExamples)) dev examples, \(Self.grouped(start.parameterCount)) parameters, "
             + "up to \(start.epochs) epochs → \(start.directory.path)")
    }

    public func batchEnded(_ progress: BatchProgress) {
        guard interactive else { return }
        let now = ProcessInfo.processInfo.systemUptime
        guard progress.batch == progress.batches || now - lastRedraw >= minimumRedrawInterval else { return }
        lastRedraw = now
        let width = 20
        let filled = progress.batches > 0 ? min(width, progress.batch * width / progress.batches) : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let text = "epoch \(progress.epoch)/\(progress.epochs) [\(bar)] \(progress.batch)/\(progress.batches)"
            + "  loss \(Self.fixed(progress.loss, 4))  \(Self.grouped(Int(progress.tokensPerSecond))) tok/s"
            + "  ETA \(Self.clock(progress.secondsRemaining))"
        write("\r\u{1B}[K" + text)
        lineIsOpen = true
    }

    public func evaluationStarted(epoch: Int) {
        guard interactive else { return }
        write("\r\u{1B}[K" + "epoch \(epoch)/\(epochs)  evaluating on the dev set…")
        lineIsOpen = true
    }

    public func epochEnded(_ record: EpochRecord) {
        line(Self.summary(of: record, epochs: epochs))
    }

    public func trainingEnded(_ summary: TrainingSummary) {
        line(summary.description)
    }

    public func trainingFailed(_ error: Error) {
        closeLine()
    }

    public func note(_ message: String) {
        line(message)
    }

    /// The one-line summary of an epoch (also the non-interactive output).
    public static func summary(of record: EpochRecord, epochs: Int) -> String {
        var text = "epoch \(record.epoch)/\(epochs)"
        if !record.complete { text += " (cut short at batch \(record.batches))" }
        text += "  loss \(fixed(record.trainLoss, 4))  dev \(record.metricName) \(fixed(record.devMetric, 4))"
        let details = record.devDetails.sorted { $0.key < $1.key }.prefix(4)
        if !details.isEmpty {
            // Counts (such as tokens) print as whole numbers, measures with four decimals.
            text += " (" + details.map { name, value in
                "\(name) " + (value == value.rounded() && abs(value) >= 1 ? String(Int(value)) : fixed(value, 4))
            }.joined(separator: ", ") + ")"
        }
        if record.isBest { text += " *best*" }
        text += "  lr \(record.learningRate)  \(fixed(record.seconds, 1)) s  \(grouped(Int(record.tokensPerSecond))) tok/s"
        return text
    }

    private func line(_ text: String) {
        write((interactive && lineIsOpen ? "\r\u{1B}[K" : "") + text + "\n")
        lineIsOpen = false
    }

    private func closeLine() {
        if lineIsOpen { write("\n") }
        lineIsOpen = false
    }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        return String(format: "%.\(digits)f", value)
    }

    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + out
    }

    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite && seconds >= 0 else { return "?" }
        let total = Int(seconds.rounded())
        let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }
}
