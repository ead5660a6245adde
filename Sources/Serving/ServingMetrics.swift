import Foundation
import Prometheus

/// The server's Prometheus metrics, served as text at `GET /metrics`:
///
/// - `seqmodels_http_requests_total{route, status}`: requests answered, by route and status;
/// - `seqmodels_http_request_errors_total{route}`: answers with a 4xx or 5xx status;
/// - `seqmodels_http_request_duration_seconds{route}`: time from request to response head;
/// - `seqmodels_batch_jobs{model}` and `seqmodels_batch_items{model}`: requests and
///   sentences/texts per batch the model's workers ran.
///
/// Routes are the server's own paths; any other path counts as `other`, so a client cannot
/// grow the set of series.
public final class ServingMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let counts = RequestCounts()
    /// The server's routes and the method each answers.
    static let routeMethods: [String: String] = [
        "/": "GET", "/health": "GET", "/metrics": "GET", "/openapi.yaml": "GET", "/v1/models": "GET",
        "/v1/tag": "POST", "/v1/classify": "POST", "/v1/classify/csv": "POST", "/v1/generate": "POST", "/v1/acrostic": "POST",
    ]
    static var knownRoutes: Set<String> { Set(routeMethods.keys) }

    public init() {}

    static func route(of path: String) -> String { knownRoutes.contains(path) ? path : "other" }

    private static var requests: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "seqmodels", subsystem: "http", metricName: "requests", unitName: "total",
            helpText: "HTTP requests answered, by route and status.")
    }

    private static var errors: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "seqmodels", subsystem: "http", metricName: "request_errors", unitName: "total",
            helpText: "HTTP requests answered with a 4xx or 5xx status.")
    }

    private static var duration: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "seqmodels", subsystem: "http", metricName: "request_duration", unitName: "seconds",
            helpText: "Time from a request's arrival to its response head, in seconds.")
    }

    private static var batchJobs: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "seqmodels", subsystem: "batch", metricName: "jobs", unitName: "",
            helpText: "Requests run together in one batch.")
    }

    private static var batchItems: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "seqmodels", subsystem: "batch", metricName: "items", unitName: "",
            helpText: "Sentences or texts run together in one batch.")
    }

    /// A request reached the router (its head was read and accepted).
    func requestStarted() {
        counts.started()
    }

    /// Requests accepted and requests answered so far; equal once nothing is in flight.
    public var requestCounts: (received: Int, answered: Int) { counts.value }

    func observeRequest(path: String, status: Int, seconds: Double) {
        counts.answered()
        let route = Self.route(of: path)
        registry.makeCounter(descriptor: Self.requests, labels: [("route", route), ("status", String(status))]).increment()
        if status >= 400 {
            registry.makeCounter(descriptor: Self.errors, labels: [("route", route)]).increment()
        }
        registry.makeValueHistogram(descriptor: Self.duration, labels: [("route", route)],
                                    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]).record(seconds)
    }

    func observeBatch(model: String, jobs: Int, items: Int) {
        registry.makeValueHistogram(descriptor: Self.batchJobs, labels: [("model", model)],
                                    buckets: [1, 2, 4, 8, 16, 32, 64, 128]).record(Double(jobs))
        registry.makeValueHistogram(descriptor: Self.batchItems, labels: [("model", model)],
                                    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]).record(Double(items))
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> String { registry.emitToString() }
}

/// Requests received and answered, for the shutdown report (every accepted request answered?).
private final class RequestCounts: @unchecked Sendable {
    private let lock = NSLock()
    private var received = 0
    private var answeredCount = 0

    func started() {
        lock.lock()
        received += 1
        lock.unlock()
    }

    func answered() {
        lock.lock()
        answeredCount += 1
        lock.unlock()
    }

    var value: (received: Int, answered: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (received, answeredCount)
    }
}
