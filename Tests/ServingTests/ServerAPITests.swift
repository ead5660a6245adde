import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import XCTest
@testable import Serving
@testable import Tasks

/// The API as a client uses it: a live server on a loopback port, every endpoint, every kind
/// of bad input.
final class ServerAPITests: XCTestCase {
    func testEveryEndpointAnswersWithTheDocumentedShape() async throws {
        let fixture = try ServingFixture()
        defer { fixture.tearDown() }
        try await fixture.application().test(.live) { client in
            let health = try await client.get("/health")
            XCTAssertEqual(health.status, .ok)
            XCTAssertEqual(try health.decoded(Health.self), Health(status: "ok", models: 3))

            struct Models: Decodable { var models: [ModelCard] }
            let cards = try await client.get("/v1/models").decoded(Models.self).models
            XCTAssertEqual(cards.map(\.name), ["pos", "reviews", "poems"])
            XCTAssertEqual(cards.map(\.task), [.tagger, .classifier, .generator])
            XCTAssertEqual(cards[1].labels, ServingTestModels.labels)
            XCTAssertEqual(Set(cards[0].labels ?? []), Set(ServingTestModels.tags))
            XCTAssertTrue(cards.allSatisfy { $0.parameters > 0 && $0.vocabularySize > 0 })
            XCTAssertEqual(cards[2].records, "lines")

            // Tagging: raw text through the word tokenizer, pretokenized text split on spaces.
            let tagged = try await client.post("/v1/tag", json: #"{"sentences": ["The old keeper wrote.", "A ship sailed"]}"#)
            XCTAssertEqual(tagged.status, .ok, tagged.text)
            let tags = try tagged.decoded(TagResponse.self)
            XCTAssertEqual(tags.model, "pos")
            XCTAssertEqual(tags.sentences.map(\.tokens), [["The", "old", "keeper", "wrote", "."], ["A", "ship", "sailed"]])
            for sentence in tags.sentences {
                XCTAssertEqual(sentence.tags.count, sentence.tokens.count)
                XCTAssertTrue(sentence.tags.allSatisfy(ServingTestModels.tags.contains), "\(sentence.tags)")
                XCTAssertNil(sentence.probabilities, "probabilities only on request")
            }
            let pretokenized = try await client.post("/v1/tag", json: #"{"sentences": ["don't stop"], "pretokenized": true, "probabilities": true}"#)
                .decoded(TagResponse.self)
            XCTAssertEqual(pretokenized.sentences[0].tokens, ["don't", "stop"])
            let probabilities = try XCTUnwrap(pretokenized.sentences[0].probabilities)
            XCTAssertEqual(probabilities.count, 2)
            for (row, tag) in zip(probabilities, pretokenized.sentences[0].tags) {
                XCTAssertEqual(row.values.reduce(0, +), 1, accuracy: 1e-4)
                XCTAssertEqual(row.max { $0.value < $1.value }?.key, tag, "the softmax tagger's tag is its most probable one")
            }

            let classified = try await client.post("/v1/classify", json: #"{"texts": ["a good film", "dull ."]}"#)
            XCTAssertEqual(classified.status, .ok, classified.text)
            let results = try classified.decoded(ClassifyResponse.self).results
            XCTAssertEqual(results.count, 2)
            for result in results {
                XCTAssertEqual(result.probabilities.values.reduce(0, +), 1, accuracy: 1e-4)
                XCTAssertEqual(result.probabilities[result.label], result.probability)
                XCTAssertEqual(result.probabilities.values.max(), result.probability)
            }

            // Generation is repeatable with a seed and reports the seed it used without one.
            let request = #"{"prefix": "春", "length": 12, "temperature": 0.8, "top_k": 10, "seed": 5}"#
            let first = try await client.post("/v1/generate", json: request).decoded(GenerateResponse.self)
            let second = try await client.post("/v1/generate", json: request).decoded(GenerateResponse.self)
            XCTAssertEqual(first.text, second.text)
            XCTAssertEqual(first.seed, 5)
            XCTAssertTrue(first.text.hasPrefix("春"))
            XCTAssertLessThanOrEqual(first.tokens.count, 12)
            let beam = try await client.post("/v1/generate", json: #"{"prefix": "春", "length": 6, "beam": 3}"#)
            XCTAssertEqual(beam.status, .ok, beam.text)

            let poems = try await client.post("/v1/acrostic", json: #"{"head": "春花秋月", "line_length": 5, "count": 2, "seed": 3}"#)
            XCTAssertEqual(poems.status, .ok, poems.text)
            let written = try poems.decoded(AcrosticResponse.self)
            XCTAssertEqual(written.poems.count, 2)
            for poem in written.poems {
                XCTAssertEqual(poem.lines.map { $0.first.map(String.init) }, ["春", "花", "秋", "月"])
                XCTAssertTrue(poem.constraints.heads && poem.constraints.lineLength && poem.constraints.punctuation, poem.poem)
            }

            let document = try await client.get("/openapi.yaml")
            XCTAssertEqual(document.status, .ok)
            for route in ServingMetrics.knownRoutes {
                XCTAssertTrue(document.text.contains("  \(route):\n"), "the OpenAPI document describes \(route)")
            }
            let page = try await client.get("/")
            XCTAssertEqual(page.headers[.contentType], "text/html; charset=utf-8")
            for id in ["tag-input", "tag-submit", "tag-output", "classify-input", "csv-file", "acrostic-input", "models-table"] {
                XCTAssertTrue(page.text.contains("id=\"\(id)\""), "the page has #\(id)")
            }
            XCTAssertFalse(page.text.contains("http://") || page.text.contains("https://"), "nothing is fetched from elsewhere")

            let metrics = try await client.get("/metrics").text
            XCTAssertTrue(metrics.contains(#"seqmodels_http_requests_total{route="/v1/tag",status="200"} 2"#), metrics)
            XCTAssertTrue(metrics.contains("seqmodels_batch_items_bucket"), metrics)
            XCTAssertTrue(metrics.contains(#"seqmodels_http_request_duration_seconds_count{route="/v1/classify"} 1"#), metrics)
        }
    }

    func testBadInputGetsAClear4xxAndTheServerStaysUp() async throws {
        var limits = ServingLimits()
        limits.maxBodyBytes = 4096
        limits.maxItemsPerRequest = 3
        limits.maxGenerateLength = 50
        let fixture = try ServingFixture(limits: limits)
        defer { fixture.tearDown() }
        struct Case {
            var path: String
            var body: [UInt8]
            var contentType = "application/json"
            var status: HTTPResponse.Status
            var message: String
        }
        func json(_ text: String) -> [UInt8] { Array(text.utf8) }
        let cases: [Case] = [
            Case(path: "/v1/tag", body: json("{\"sentences\": [\"a\""), status: .badRequest, message: "not valid JSON"),
            Case(path: "/v1/tag", body: json(#"{"sentences": "The cat."}"#), status: .badRequest, message: "field 'sentences' should be an array"),
            Case(path: "/v1/tag", body: json(#"{"sentences": ["ok", 3]}"#), status: .badRequest, message: "field 'sentences[1]' should be a string"),
            Case(path: "/v1/tag", body: json(#"{"texts": ["x"]}"#), status: .badRequest, message: "field 'sentences' is missing"),
            Case(path: "/v1/tag", body: json(#"{"sentences": []}"#), status: .badRequest, message: "no sentences"),
            Case(path: "/v1/tag", body: json(#"{"sentences": ["fine", "  "]}"#), status: .badRequest, message: "sentence 2 is empty"),
            Case(path: "/v1/tag", body: json(#"{"sentences": ["a", "b", "c", "d"]}"#), status: .badRequest, message: "at most 3"),
            Case(path: "/v1/tag", body: [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D], status: .badRequest, message: "not valid JSON (or not UTF-8)"),
            Case(path: "/v1/tag", body: json(#"{"sentences": ["x"]}"#), contentType: "text/plain", status: .unsupportedMediaType,
                 message: "application/json"),
            Case(path: "/v1/tag", body: json(#"{"sentences": ["x"], "model": "nope"}"#), status: .notFound, message: "no tagger named 'nope'"),
            Case(path: "/v1/tag", body: json("{\"sentences\": [\"" + String(repeating: "a", count: 5000) + "\"]}"), status: .contentTooLarge,
                 message: "at most 4096"),
            Case(path: "/v1/tag", body: [], status: .badRequest, message: "body is empty"),
            Case(path: "/v1/classify", body: json(#"{"texts": ["a good film", null]}"#), status: .badRequest, message: "is null"),
            Case(path: "/v1/classify", body: json(#"{"texts": ["   "]}"#), status: .badRequest, message: "text 1 is empty"),
            Case(path: "/v1/generate", body: json(#"{"length": 51}"#), status: .badRequest, message: "between 0 and 50"),
            Case(path: "/v1/generate", body: json(#"{"length": -1}"#), status: .badRequest, message: "between 0 and 50"),
            Case(path: "/v1/generate", body: json(#"{"temperature": -1}"#), status: .badRequest, message: "temperature"),
            Case(path: "/v1/generate", body: json(#"{"top_p": 1.5}"#), status: .badRequest, message: "top-p"),
            Case(path: "/v1/generate", body: json(#"{"top_p": 5e-324}"#), status: .badRequest, message: "out of its field's range"),
            Case(path: "/v1/generate", body: json(#"{"temperature": 2.4e307}"#), status: .badRequest, message: "out of its field's range"),
            Case(path: "/v1/generate", body: json(#"{"temperature": 250}"#), status: .badRequest, message: "at most 100"),
            Case(path: "/v1/generate", body: json(#"{"top_p": 0.0001}"#), status: .badRequest, message: "top_p must be at least 0.001"),
            Case(path: "/v1/generate", body: json(#"{"seed": -4}"#), status: .badRequest, message: "seed must be 0 or more"),
            Case(path: "/v1/generate", body: json(#"{"beam": 11}"#), status: .badRequest, message: "beam"),
            Case(path: "/v1/acrostic", body: json(#"{"head": "春X"}"#), status: .badRequest, message: "'X' is not in the model's vocabulary"),
            Case(path: "/v1/acrostic", body: json(#"{"head": ""}"#), status: .badRequest, message: "head is empty"),
            Case(path: "/v1/acrostic", body: json(#"{"head": "春", "line_length": 6}"#), status: .badRequest, message: "5 or 7"),
            Case(path: "/v1/acrostic", body: json(#"{"head": "春", "count": 100}"#), status: .badRequest, message: "count"),
            Case(path: "/v1/nothing", body: json("{}"), status: .notFound, message: "no such route"),
        ]
        try await fixture.application().test(.live) { client in
            for c in cases {
                let response = try await client.execute(uri: c.path, method: .post, headers: [.contentType: c.contentType],
                                                        body: ByteBuffer(bytes: c.body))
                XCTAssertEqual(response.status, c.status, "\(c.path) \(String(decoding: c.body.prefix(60), as: UTF8.self)): \(response.text)")
                let error = try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body.readableBytesView))
                XCTAssertNotNil(error, "a JSON error body for \(c.message): \(response.text)")
                XCTAssertTrue(error?.error.message.contains(c.message) == true, "expected '\(c.message)' in \(response.text)")
            }
            let wrongMethod = try await client.execute(uri: "/v1/tag", method: .get)
            XCTAssertEqual(wrongMethod.status, .methodNotAllowed, wrongMethod.text)
            XCTAssertEqual(wrongMethod.headers[.allow], "POST")
            let trace = try await client.execute(uri: "/health", method: .init("TRACE")!)
            XCTAssertEqual(trace.status, .methodNotAllowed, trace.text)
            let health = try await client.get("/health")
            XCTAssertEqual(health.status, .ok, "the server is still up")
            let metrics = try await client.get("/metrics").text
            XCTAssertTrue(metrics.contains(#"seqmodels_http_request_errors_total{route="/v1/tag"} 13"#), metrics)
            XCTAssertTrue(metrics.contains(#"route="other""#), "unknown paths count as one route")
        }
    }

    func testSeveralModelsOfOneTaskAreChosenByName() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("serving-names-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let specifications = try ServingTestModels.write(to: root)
        let classifier = specifications[1]
        let models = try ServedModels([classifier, ModelSpecification(task: .classifier, name: "second", directory: classifier.directory)],
                                      metrics: ServingMetrics())
        defer { models.shutdown() }
        XCTAssertThrowsError(try ServedModels([classifier, classifier], metrics: ServingMetrics())) { error in
            XCTAssertTrue("\(error)".contains("two classifiers are named 'reviews'"), "\(error)")
        }
        XCTAssertThrowsError(try ServedModels([ModelSpecification(task: .tagger, name: "t", directory: classifier.directory)],
                                              metrics: ServingMetrics())) { error in
            XCTAssertTrue("\(error)".contains("cannot serve \(classifier.directory.path) as a tagger"), "\(error)")
        }
        let app = Application(router: SeqModelsServer.makeRouter(models: models, limits: ServingLimits(), logger: .init(label: "test")))
        try await app.test(.live) { client in
            let ambiguous = try await client.post("/v1/classify", json: #"{"texts": ["a good film"]}"#)
            XCTAssertEqual(ambiguous.status, .badRequest)
            XCTAssertTrue(ambiguous.text.contains("several classifiers ('reviews', 'second')"), ambiguous.text)
            let named = try await client.post("/v1/classify", json: #"{"texts": ["a good film"], "model": "second"}"#)
            XCTAssertEqual(try named.decoded(ClassifyResponse.self).model, "second")
            let none = try await client.post("/v1/tag", json: #"{"sentences": ["a"]}"#)
            XCTAssertEqual(none.status, .notFound)
            XCTAssertTrue(none.text.contains("this server has no tagger"), none.text)
        }
    }

    func testModelArgumentsParseNameAndDirectory() throws {
        let plain = try ModelSpecification(task: .classifier, argument: "models/imdb")
        XCTAssertEqual(plain.name, "imdb")
        XCTAssertEqual(plain.directory.path, URL(fileURLWithPath: "models/imdb").path)
        let named = try ModelSpecification(task: .classifier, argument: "reviews=runs/a=b")
        XCTAssertEqual(named.name, "reviews")
        XCTAssertEqual(named.directory.lastPathComponent, "a=b")
        XCTAssertThrowsError(try ModelSpecification(task: .tagger, argument: "x="))
        XCTAssertThrowsError(try ModelSpecification(task: .tagger, argument: "a b=dir"))
    }

    func testConcurrentRequestsGetTheAnswersTheyWouldGetAlone() async throws {
        let fixture = try ServingFixture(settings: WorkerSettings(workersPerModel: 2, maxBatchItems: 64, maxWait: 0.01))
        defer { fixture.tearDown() }
        let sentences = ["the old keeper wrote .", "a ship sailed", "the ship wrote a keeper .", "old", "a a a a a a a a a a"]
        try await fixture.application().test(.live) { client in
            var alone: [String: [String]] = [:]
            for sentence in sentences {
                let response = try await client.post("/v1/tag", json: "{\"sentences\": [\"\(sentence)\"], \"pretokenized\": true}")
                alone[sentence] = try response.decoded(TagResponse.self).sentences[0].tags
            }
            try await withThrowingTaskGroup(of: (String, [String]).self) { group in
                for index in 0..<40 {
                    let sentence = sentences[index % sentences.count]
                    group.addTask {
                        let response = try await client.post("/v1/tag", json: "{\"sentences\": [\"\(sentence)\"], \"pretokenized\": true}")
                        return (sentence, try response.decoded(TagResponse.self).sentences[0].tags)
                    }
                }
                for try await (sentence, tags) in group {
                    XCTAssertEqual(tags, alone[sentence], "batched with others, \(sentence) gets the tags it gets alone")
                }
            }
        }
    }
}
