import ArgumentParser
import Dispatch
import Foundation
import Logging
import SeqModels
import Serving

/// `seqmodels serve`: trained models behind an HTTP API and a web page (`Serving`).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve trained models over HTTP: a JSON API, a web page, an OpenAPI document and metrics.",
        discussion: """
        Any subset of models; several of one kind by name (--classifier imdb=models/imdb \
        --classifier reviews=models/reviews; a request then names its model). Endpoints: \
        POST /v1/tag, /v1/classify, /v1/classify/csv, /v1/generate, /v1/acrostic; GET /v1/models, \
        /health, /metrics (Prometheus), /openapi.yaml, and the web page at /. Requests that \
        arrive within --max-wait-ms of each other run as one batch. SIGTERM or Ctrl-C stops \
        accepting connections, finishes the requests in flight and exits 0.
        Example:
          seqmodels serve --tagger models/ewt --classifier imdb=models/imdb --generator models/tang --port 8080
        """
    )

    @Option(help: "Tagger model directory (DIR or NAME=DIR); repeat for several.")
    var tagger: [String] = []

    @Option(help: "Classifier model directory (DIR or NAME=DIR); repeat for several.")
    var classifier: [String] = []

    @Option(help: "Generator model directory (DIR or NAME=DIR); repeat for several.")
    var generator: [String] = []

    @Option(help: "Address to listen on (0.0.0.0 for every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed at start).")
    var port = 8080

    @Option(help: "Worker threads per model (batches run at once). Default: the number of cores.")
    var workers: Int?

    @Option(help: "Most sentences or texts run together in one batch.")
    var maxBatch = 256

    @Option(help: "Longest wait, in milliseconds, for more requests to join a batch.")
    var maxWaitMs = 2.0

    @Option(help: "Largest JSON request body in bytes.")
    var maxBodyBytes = 1 << 20

    @Option(help: "Most sentences or texts in one request.")
    var maxItems = 256

    @Option(help: "Most tokens one generate request may ask for.")
    var maxLength = 2000

    func validate() throws {
        if tagger.isEmpty && classifier.isEmpty && generator.isEmpty {
            throw ValidationError("give at least one model: --tagger, --classifier or --generator DIR")
        }
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        if maxBatch < 1 || maxItems < 1 || maxBodyBytes < 1 || maxLength < 1 {
            throw ValidationError("--max-batch, --max-items, --max-body-bytes and --max-length must be at least 1")
        }
        if !(maxWaitMs >= 0 && maxWaitMs <= 1000) { throw ValidationError("--max-wait-ms must be between 0 and 1000") }
    }

    func run() throws {
        // Parallelism is around BLAS: every model's workers run their own batches.
        BLAS.setThreadCount(1)
        var specifications: [ModelSpecification] = []
        for (task, arguments) in [(ModelTask.tagger, tagger), (.classifier, classifier), (.generator, generator)] {
            specifications += try arguments.map { try ModelSpecification(task: task, argument: $0) }
        }
        var settings = WorkerSettings(maxBatchItems: maxBatch, maxWait: maxWaitMs / 1000)
        if let workers { settings.workersPerModel = workers }
        let models = try ServedModels(specifications, settings: settings, metrics: ServingMetrics())
        var limits = ServingLimits()
        limits.maxBodyBytes = maxBodyBytes
        limits.maxItemsPerRequest = maxItems
        limits.maxGenerateLength = maxLength
        let configuration = ServerConfiguration(host: host, port: port, limits: limits)
        let logger = Logger(label: "seqmodels.serve")
        let cards = models.cardsDescription
        let host = self.host
        try blockingRun {
            try await SeqModelsServer.run(models: models, configuration: configuration, logger: logger) { port in
                FileHandle.standardError.write(Data("serving \(cards) on http://\(host):\(port)/ (Ctrl-C to stop)\n".utf8))
            }
        }
        FileHandle.standardError.write(Data("stopped\n".utf8))
    }
}

/// Runs `body` on Swift's concurrency pool and blocks the calling thread (the main thread of a
/// synchronous command) until it ends, rethrowing its error.
private func blockingRun(_ body: @escaping @Sendable () async throws -> Void) throws {
    final class Outcome: @unchecked Sendable { var error: (any Error)? }
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { try await body() } catch { outcome.error = error }
        done.signal()
    }
    done.wait()
    if let error = outcome.error { throw error }
}
