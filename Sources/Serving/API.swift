import Foundation
import HTTPTypes
import Tasks

// The JSON API, version 1: what clients send and receive. Field names are snake_case on the
// wire (`top_k`, `line_length`), as the OpenAPI document (`OpenAPIDocument.yaml`) describes.

/// `POST /v1/tag`: sentences to tag, raw text (split with the word tokenizer) or, with
/// `pretokenized`, tokens separated by whitespace.
struct TagRequest: Codable, Sendable {
    var sentences: [String]
    var pretokenized: Bool?
    /// Every tag's probability at every token (softmax, or the CRF's marginals).
    var probabilities: Bool?
    /// The tagger's name when the server holds several.
    var model: String?
}

struct TaggedSentenceResponse: Codable, Sendable, Equatable {
    var tokens: [String]
    var tags: [String]
    /// Per token, every tag's probability (present when asked for).
    var probabilities: [[String: Float]]?
}

struct TagResponse: Codable, Sendable {
    var model: String
    var sentences: [TaggedSentenceResponse]
}

/// `POST /v1/classify`: texts to classify.
struct ClassifyRequest: Codable, Sendable {
    var texts: [String]
    var model: String?
}

struct ClassificationResponse: Codable, Sendable, Equatable {
    var label: String
    var probability: Float
    /// Every label's probability.
    var probabilities: [String: Float]
}

struct ClassifyResponse: Codable, Sendable {
    var model: String
    var results: [ClassificationResponse]
}

/// `POST /v1/generate`: a continuation of `prefix`, sampled or (with `beam` > 1) by beam search.
struct GenerateRequest: Codable, Sendable {
    var prefix: String?
    var length: Int?
    var temperature: Float?
    var topK: Int?
    var topP: Float?
    /// 0 or more (read as a signed integer so that a negative seed gets a clear message).
    var seed: Int64?
    var beam: Int?
    var model: String?

    enum CodingKeys: String, CodingKey {
        case prefix, length, temperature, topK = "top_k", topP = "top_p", seed, beam, model
    }
}

struct GenerateResponse: Codable, Sendable {
    var model: String
    var prefix: String
    /// The prefix and its continuation, as `seqmodels generate` prints them.
    var text: String
    /// The generated tokens alone.
    var tokens: [String]
    /// Whether generation stopped at the end of a record (`lines` models) before `length` tokens.
    var ended: Bool
    /// Prefix tokens the model does not know (read as `<unk>`).
    var unknownPrefixTokens: [String]
    /// The seed used (drawn by the server when the request gave none), to repeat the result.
    var seed: UInt64

    enum CodingKeys: String, CodingKey {
        case model, prefix, text, tokens, ended, unknownPrefixTokens = "unknown_prefix_tokens", seed
    }
}

/// `POST /v1/acrostic`: acrostic poems, one line per head character.
struct AcrosticRequest: Codable, Sendable {
    var head: String
    var lineLength: Int?
    var count: Int?
    /// 0 or more.
    var seed: Int64?
    var temperature: Float?
    var beam: Int?
    var rhyme: Bool?
    var model: String?

    enum CodingKeys: String, CodingKey {
        case head, lineLength = "line_length", count, seed, temperature, beam, rhyme, model
    }
}

struct AcrosticResponse: Codable, Sendable {
    var model: String
    var poems: [AcrosticPoem]
    var seed: UInt64
}

/// What the server may be asked for at most, so that no request can take unbounded memory or time.
public struct ServingLimits: Sendable, Equatable {
    /// Largest request body of the JSON endpoints, in bytes (413 beyond).
    public var maxBodyBytes = 1 << 20
    /// Most sentences or texts in one call.
    public var maxItemsPerRequest = 256
    /// Most characters (Unicode code points, as JSON Schema counts them) in one sentence or text.
    public var maxCharactersPerItem = 100_000
    /// Most tokens one `generate` call may ask for.
    public var maxGenerateLength = 2_000
    /// Most poems one `acrostic` call may ask for.
    public var maxPoems = 10
    /// Widest beam.
    public var maxBeam = 10
    /// Most head characters of an acrostic.
    public var maxHeadCharacters = 16
    /// Most bytes of one CSV record (a review) in `/v1/classify/csv`.
    public var maxCSVRecordBytes = 1 << 20
    /// Most CSV uploads classified at the same time (503 beyond).
    public var maxConcurrentCSV = 2

    public init() {}
}

/// A failure the client caused or should know about, sent as
/// `{"error": {"code": "...", "message": "..."}}` with its HTTP status.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// A stable, machine-readable code (`bad_request`, `unknown_model`, `payload_too_large`, …).
    public var code: String
    /// What was wrong, for a person.
    public var message: String

    public init(_ status: HTTPResponse.Status, code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public static func badRequest(_ message: String) -> APIError { APIError(.badRequest, code: "bad_request", message) }

    public var description: String { "\(status.code) \(code): \(message)" }
}

/// Why the server could not run a job (not the client's input).
enum ServingError: Error, Sendable, CustomStringConvertible {
    case busy(model: String, waiting: Int)
    case shuttingDown

    var description: String {
        switch self {
        case .busy(let model, let waiting): return "model \(model) is busy: \(waiting) requests are already waiting; retry shortly"
        case .shuttingDown: return "the server is shutting down"
        }
    }
}

extension TagRequest {
    func validate(_ limits: ServingLimits) throws {
        try validateItems(sentences, what: "sentence", limits)
    }
}

extension ClassifyRequest {
    func validate(_ limits: ServingLimits) throws {
        try validateItems(texts, what: "text", limits)
    }
}

extension GenerateRequest {
    func validate(_ limits: ServingLimits) throws {
        if let length, !(0...limits.maxGenerateLength).contains(length) {
            throw APIError.badRequest("length must be between 0 and \(limits.maxGenerateLength) tokens, got \(length)")
        }
        if let beam, !(1...limits.maxBeam).contains(beam) {
            throw APIError.badRequest("beam must be between 1 and \(limits.maxBeam), got \(beam)")
        }
        if let prefix, prefix.unicodeScalars.count > limits.maxCharactersPerItem {
            throw APIError.badRequest("the prefix has \(prefix.unicodeScalars.count) characters; at most \(limits.maxCharactersPerItem)")
        }
        try validateSeed(seed)
        try validateSampling(temperature: temperature, topK: topK, topP: topP)
    }
}

extension AcrosticRequest {
    func validate(_ limits: ServingLimits) throws {
        guard !head.isEmpty else { throw APIError.badRequest("head is empty: give one character per line") }
        if head.unicodeScalars.count > limits.maxHeadCharacters {
            throw APIError.badRequest("head has \(head.unicodeScalars.count) characters; at most \(limits.maxHeadCharacters)")
        }
        if let lineLength, lineLength != 5 && lineLength != 7 {
            throw APIError.badRequest("line_length must be 5 or 7, got \(lineLength)")
        }
        if let count, !(1...limits.maxPoems).contains(count) {
            throw APIError.badRequest("count must be between 1 and \(limits.maxPoems), got \(count)")
        }
        if let beam, !(1...limits.maxBeam).contains(beam) {
            throw APIError.badRequest("beam must be between 1 and \(limits.maxBeam), got \(beam)")
        }
        try validateSeed(seed)
        try validateSampling(temperature: temperature, topK: nil, topP: nil)
    }
}

private func validateItems(_ items: [String], what: String, _ limits: ServingLimits) throws {
    guard !items.isEmpty else { throw APIError.badRequest("no \(what)s: send at least one") }
    guard items.count <= limits.maxItemsPerRequest else {
        throw APIError(.badRequest, code: "too_many_items",
                       "\(items.count) \(what)s in one call; at most \(limits.maxItemsPerRequest)")
    }
    for (index, item) in items.enumerated() {
        if item.allSatisfy(\.isWhitespace) { throw APIError.badRequest("\(what) \(index + 1) is empty") }
        if item.unicodeScalars.count > limits.maxCharactersPerItem {
            throw APIError(.badRequest, code: "item_too_long",
                           "\(what) \(index + 1) has \(item.unicodeScalars.count) characters; at most \(limits.maxCharactersPerItem)")
        }
    }
}

private func validateSeed(_ seed: Int64?) throws {
    if let seed, seed < 0 { throw APIError.badRequest("seed must be 0 or more, got \(seed)") }
}

private func validateSampling(temperature: Float?, topK: Int?, topP: Float?) throws {
    if let temperature, temperature > 100 { throw APIError.badRequest("temperature must be at most 100, got \(temperature)") }
    if let topP, topP < 0.001 { throw APIError.badRequest("top_p must be at least 0.001, got \(topP)") }
    do {
        try SamplingOptions(temperature: temperature ?? 1, topK: topK, topP: topP).validate()
    } catch let error as TaskError {
        throw APIError.badRequest(error.description)
    }
}
