import Foundation
import Hummingbird
import Logging
import NIOCore
import SeqModels
import ServiceLifecycle
import Tasks

/// Where the server listens and what it accepts.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var limits: ServingLimits

    public init(host: String = "127.0.0.1", port: Int = 8080, limits: ServingLimits = ServingLimits()) {
        self.host = host
        self.port = port
        self.limits = limits
    }
}

/// `seqmodels serve`: trained models behind a versioned JSON API, a web page, an OpenAPI
/// document and Prometheus metrics, on Hummingbird 2 (SwiftNIO).
///
/// Requests are decoded and checked on the event loop; the models run on their own worker
/// threads (`BatchingWorkers`), requests that arrive together as one packed batch, so a long
/// generation never blocks a health check. Every failure a client can cause is a 4xx with a
/// JSON body `{"error": {"code", "message"}}`; nothing it sends can crash the server.
public enum SeqModelsServer {
    /// The router with every route and the error and metrics middleware.
    public static func makeRouter(models: ServedModels, limits: ServingLimits, logger: Logger) -> Router<BasicRequestContext> {
        let router = Router()
        let metrics = models.metrics
        router.add(middleware: ErrorAndMetricsMiddleware(metrics: metrics, logger: logger))
        let csv = CSVClassification(limits: limits)

        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                     body: .init(byteBuffer: ByteBuffer(string: WebPage.html)))
        }
        router.get("/health") { _, _ in
            try json(Health(status: "ok", models: models.models.count))
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
        }
        router.get("/v1/models") { _, _ in
            try json(["models": models.cards])
        }
        router.post("/v1/tag") { request, _ in
            let body = try await decode(TagRequest.self, from: request, limit: limits.maxBodyBytes)
            try body.validate(limits)
            let model = try models.model(.tagger, named: body.model)
            guard case .tagger(let workers) = model.runner else { throw APIError.badRequest("not a tagger") }
            let tokenizer: any Tokenizer = body.pretokenized == true ? PreTokenizedTokenizer() : WordTokenizer()
            let sentences = body.sentences.map { tokenizer.tokenize($0) }
            if let empty = sentences.firstIndex(where: \.isEmpty) {
                throw APIError.badRequest("sentence \(empty + 1) has no tokens")
            }
            let tagged = try await workers.submit(TagJob(sentences: sentences, probabilities: body.probabilities == true))
            return try json(TagResponse(model: model.card.name, sentences: tagged))
        }
        router.post("/v1/classify") { request, _ in
            let body = try await decode(ClassifyRequest.self, from: request, limit: limits.maxBodyBytes)
            try body.validate(limits)
            let model = try models.model(.classifier, named: body.model)
            guard case .classifier(let workers, _) = model.runner else { throw APIError.badRequest("not a classifier") }
            let results = try await workers.submit(ClassifyJob(texts: body.texts))
            return try json(ClassifyResponse(model: model.card.name, results: results))
        }
        router.post("/v1/classify/csv") { request, context in
            let name = request.uri.queryParameters["model"].map(String.init)
            let model = try models.model(.classifier, named: name)
            guard case .classifier(_, let classifier) = model.runner else { throw APIError.badRequest("not a classifier") }
            return try await csv.respond(to: request, classifier: classifier, logger: context.logger)
        }
        router.post("/v1/generate") { request, _ in
            let body = try await decode(GenerateRequest.self, from: request, limit: limits.maxBodyBytes)
            try body.validate(limits)
            let model = try models.model(.generator, named: body.model)
            guard case .generator(let workers) = model.runner else { throw APIError.badRequest("not a generator") }
            let seed = body.seed.map { UInt64($0) } ?? UInt64.random(in: 0...UInt64(UInt32.max))
            let prefix = body.prefix ?? ""
            let options = SamplingOptions(temperature: body.temperature ?? 1, topK: body.topK, topP: body.topP)
            let output = try await workers.submit(.continuation(prefix: prefix, length: body.length ?? 200, options: options,
                                                                beam: body.beam ?? 1, seed: seed))
            guard case .continuation(let sample) = output else { throw APIError.badRequest("not a continuation") }
            return try json(GenerateResponse(model: model.card.name, prefix: prefix, text: sample.text, tokens: sample.tokens,
                                             ended: sample.endedAtEndOfSequence, unknownPrefixTokens: sample.unknownPrefixTokens,
                                             seed: seed))
        }
        router.post("/v1/acrostic") { request, _ in
            let body = try await decode(AcrosticRequest.self, from: request, limit: limits.maxBodyBytes)
            try body.validate(limits)
            let model = try models.model(.generator, named: body.model)
            guard case .generator(let workers) = model.runner else { throw APIError.badRequest("not a generator") }
            let seed = body.seed.map { UInt64($0) } ?? UInt64.random(in: 0...UInt64(UInt32.max))
            let options = AcrosticOptions(sampling: SamplingOptions(temperature: body.temperature ?? 1), beamWidth: body.beam ?? 1,
                                          repetitionPenalty: AcrosticOptions.defaultRepetitionPenalty, rhyme: body.rhyme ?? false)
            let output = try await workers.submit(.acrostic(head: body.head, lineLength: body.lineLength ?? 7,
                                                            count: body.count ?? 1, options: options, seed: seed))
            guard case .poems(let poems) = output else { throw APIError.badRequest("not a poem") }
            return try json(AcrosticResponse(model: model.card.name, poems: poems, seed: seed))
        }
        return router
    }

    /// Serves `models` until SIGTERM or SIGINT: then stops accepting connections, finishes the
    /// requests in flight, stops the models' workers, logs how many requests were received and
    /// answered (equal: no accepted request lost its answer) and returns.
    /// - Parameter onRunning: called with the bound port once the server listens.
    public static func run(models: ServedModels, configuration: ServerConfiguration, logger: Logger,
                           onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let router = makeRouter(models: models, limits: configuration.limits, logger: logger)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "seqmodels"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        defer { models.shutdown() }
        try await group.run()
        let counts = models.metrics.requestCounts
        logger.info("stopped: \(counts.received) requests received, \(counts.answered) answered")
    }
}

// MARK: - JSON in and out

/// `GET /health`: the server runs, with this many models.
struct Health: Codable, Equatable {
    var status: String
    var models: Int
}

private let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
}()

/// A JSON response with status 200.
func json(_ value: some Encodable) throws -> Response {
    let data = try encoder.encode(value)
    return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// The request's JSON body decoded as `T`, read up to `limit` bytes.
/// - Throws: `APIError` 413 beyond the limit, 415 for another content type, 400 for bytes that
///   are not UTF-8 JSON of the expected shape (naming the field).
func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
    if let contentType = request.headers[.contentType], !contentType.lowercased().hasPrefix("application/json") {
        throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                       "send the request body as application/json, not \(contentType)")
    }
    if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
        throw APIError(.contentTooLarge, code: "payload_too_large", "the body has \(length) bytes; at most \(limit)")
    }
    let buffer: ByteBuffer
    do {
        buffer = try await request.body.collect(upTo: limit)
    } catch let error as HTTPError where error.status == .contentTooLarge {
        throw APIError(.contentTooLarge, code: "payload_too_large", "the body is over \(limit) bytes")
    }
    guard buffer.readableBytes > 0 else { throw APIError.badRequest("the body is empty: send a JSON object") }
    do {
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    } catch let error as DecodingError {
        throw APIError.badRequest(describe(error))
    }
}

/// A decoding error in words: which field, what was wrong.
func describe(_ error: DecodingError) -> String {
    func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "the body" : "field '" + keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            .joined(separator: ".").replacingOccurrences(of: ".[", with: "[") + "'"
    }
    switch error {
    case .typeMismatch(let type, let context):
        return "\(path(context.codingPath)) should be \(describe(type))"
    case .valueNotFound(let type, let context):
        return "\(path(context.codingPath)) is null; it should be \(describe(type))"
    case .keyNotFound(let key, let context):
        return "\(path(context.codingPath + [key])) is missing"
    case .dataCorrupted(let context):
        if context.codingPath.isEmpty {
            // Foundation reports a number its field cannot hold (-4 for a seed, 1e307 for a
            // float) the same way as broken JSON, without the field.
            return "the body is not valid JSON (or not UTF-8), or a number in it is out of its field's range"
        }
        return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default:
        return "the body does not match the request's shape"
    }
}

private func describe(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: return "a string"
    case is Bool.Type: return "true or false"
    case is Int.Type: return "an integer"
    case is UInt64.Type: return "a non-negative integer"
    case is Float.Type, is Double.Type: return "a number"
    default:
        let name = String(describing: type)
        if name.hasPrefix("Array<") { return "an array" }
        if name.hasPrefix("Dictionary<") { return "an object" }
        return "of type \(name)"
    }
}

// MARK: - Errors and metrics

/// The body of every error response: `{"error": {"code", "message"}}`.
struct ErrorBody: Codable, Equatable {
    struct Detail: Codable, Equatable {
        var code: String
        var message: String
    }

    var error: Detail
}

/// Turns every error into a JSON error response and records every request's route, status
/// and duration. Errors that are not the client's (a bug) are logged and answered 500 without
/// their details.
struct ErrorAndMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServingMetrics
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        metrics.requestStarted()
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = Self.response(error)
        } catch let error as ServingError {
            response = Self.response(APIError(.serviceUnavailable, code: "unavailable", error.description))
        } catch let error as HTTPError where error.status == .notFound && ServingMetrics.routeMethods[request.uri.path] != nil {
            let allowed = ServingMetrics.routeMethods[request.uri.path]!
            response = Self.response(APIError(.methodNotAllowed, code: "method_not_allowed",
                                              "\(request.uri.path) answers \(allowed) only, not \(request.method)"))
            response.headers[.allow] = allowed
        } catch let error as HTTPError {
            let code: String
            switch error.status {
            case .notFound: code = "not_found"
            case .methodNotAllowed: code = "method_not_allowed"
            case .contentTooLarge: code = "payload_too_large"
            default: code = error.status.code < 500 ? "bad_request" : "internal_error"
            }
            let message = error.body ?? (error.status == .notFound ? "no such route: \(request.method) \(request.uri.path)"
                                                                    : error.status.reasonPhrase)
            response = Self.response(APIError(error.status, code: code, message))
        } catch {
            logger.error("internal error on \(request.method) \(request.uri.path): \(error)")
            response = Self.response(APIError(.internalServerError, code: "internal_error", "internal error; the server log has the details"))
        }
        let elapsed = ContinuousClock.now - start
        metrics.observeRequest(path: request.uri.path, status: response.status.code,
                               seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        return response
    }

    static func response(_ error: APIError) -> Response {
        let data = (try? encoder.encode(ErrorBody(error: .init(code: error.code, message: error.message)))) ?? Data("{}".utf8)
        return Response(status: error.status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
