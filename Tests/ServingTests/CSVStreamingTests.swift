import Corpus
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import XCTest
@testable import Serving

/// `POST /v1/classify/csv` streamed both ways, and the pipes it streams through.
final class CSVStreamingTests: XCTestCase {
    func testAnUploadComesBackWithEveryRowAndColumnLabelled() async throws {
        let fixture = try ServingFixture()
        defer { fixture.tearDown() }
        let upload = "id,text,stars\r\n1,a good film,5\r\n2,\"dull, and \"\"bad\"\"\nfor two hours\",1\r\n3,,3\r\n"
        try await fixture.application().test(.ahc(.http)) { client in
            let response = try await client.post("/v1/classify/csv", json: upload, contentType: "text/csv")
            XCTAssertEqual(response.status, .ok, response.text)
            XCTAssertEqual(response.headers[.contentType], "text/csv; charset=utf-8")
            var rows = try CSVRowReader(string: response.text)
            XCTAssertEqual(rows.header, ["id", "text", "stars", "predicted_label", "probability"])
            var read: [[String]] = []
            while let row = try rows.next() { read.append(row.fields) }
            XCTAssertEqual(read.map { Array($0.prefix(3)) }, [["1", "a good film", "5"], ["2", "dull, and \"bad\"\nfor two hours", "1"], ["3", "", "3"]])
            for row in read.prefix(2) {
                XCTAssertTrue(ServingTestModels.labels.contains(row[3]), "\(row)")
                XCTAssertNotNil(Float(row[4]))
            }
            XCTAssertEqual(Array(read[2].suffix(2)), ["", ""], "a row without tokens gets an empty label")

            let byIndex = try await client.post("/v1/classify/csv?text_column=1&format=tsv", json: "a\tb\nx\tgood film\n", contentType: "text/tab-separated-values")
            XCTAssertEqual(byIndex.status, .ok, byIndex.text)
            XCTAssertTrue(byIndex.text.hasPrefix("a\tb\tpredicted_label\tprobability\r\n"), byIndex.text)
        }
    }

    func testUploadsThatCannotBeReadGetA400NamingTheProblem() async throws {
        let fixture = try ServingFixture()
        defer { fixture.tearDown() }
        try await fixture.application().test(.ahc(.http)) { client in
            let cases: [(String, String, String)] = [
                ("/v1/classify/csv", "id,review\n1,good\n", "no column named \"text\""),
                ("/v1/classify/csv", "", "the file is empty"),
                ("/v1/classify/csv", "text\n\"never closed\n", "unterminated quoted field"),
                ("/v1/classify/csv", "text,x\none\n", "row has 1 field"),
                ("/v1/classify/csv?format=json", "text\nx\n", "format must be csv or tsv"),
                ("/v1/classify/csv?model=zzz", "text\nx\n", "no classifier named 'zzz'"),
            ]
            for (path, body, message) in cases {
                let response = try await client.post(path, json: body, contentType: "text/csv")
                XCTAssertTrue([.badRequest, .notFound].contains(response.status), "\(path) \(body.debugDescription): \(response.status)")
                let error = try response.decoded(ErrorBody.self)
                XCTAssertTrue(error.error.message.contains(message), "expected '\(message)' in \(response.text)")
            }
        }
    }

    func testALargeUploadStreamsThroughWithEveryRowInOrder() async throws {
        let fixture = try ServingFixture()
        defer { fixture.tearDown() }
        let rows = 20_000
        var text = "n,text\n"
        for n in 0..<rows { text += "\(n),\(n % 3 == 0 ? "a good film" : "\"dull . bad film , fine\"")\n" }
        let upload = text
        try await fixture.application().test(.ahc(.http)) { client in
            let response = try await client.post("/v1/classify/csv", json: upload, contentType: "text/csv")
            XCTAssertEqual(response.status, .ok)
            var reader = try CSVRowReader(string: response.text)
            var count = 0
            while let row = try reader.next() {
                XCTAssertEqual(row.fields[0], String(count))
                count += 1
            }
            XCTAssertEqual(count, rows)

            // Malformed far into the upload: the 200 is cut short, and the server stays up.
            let broken = upload + "20000,\"never closed\n"
            let cut = try? await client.post("/v1/classify/csv", json: broken, contentType: "text/csv")
            if let cut {
                XCTAssertEqual(cut.status, .ok)
                XCTAssertLessThan(cut.text.count, response.text.count + 10, "no row after the error")
            }
            let health = try await client.get("/health")
            XCTAssertEqual(health.status, .ok)
        }
    }

    func testPipesHoldAtMostTheirCapacityAndDeliverInOrder() async throws {
        let pipe = Pipe<Int>(capacity: 2)
        let received = Locked<[Int]>([])
        let consumer = Thread {
            while let value = try? pipe.receiveBlocking() { received.withValue { $0.append(value) } }
        }
        consumer.start()
        for value in 0..<1000 { let sent = await pipe.send(value); XCTAssertTrue(sent) }
        pipe.finish()
        while received.withValue({ $0.count }) < 1000 { try await Task.sleep(nanoseconds: 1_000_000) }
        XCTAssertEqual(received.withValue { $0 }, Array(0..<1000))

        // Thread to async, with an error at the end.
        struct Failure: Error {}
        let back = Pipe<Int>(capacity: 1)
        Thread {
            for value in 0..<50 { _ = back.sendBlocking(value) }
            back.finish(throwing: Failure())
        }.start()
        var values: [Int] = []
        do {
            while let value = try await back.receive() { values.append(value) }
            XCTFail("the error ends the stream")
        } catch is Failure {}
        XCTAssertEqual(values, Array(0..<50))

        // A receiver that gives up releases a blocked sender.
        let abandoned = Pipe<Int>(capacity: 1)
        XCTAssertTrue(abandoned.sendBlocking(1))
        let released = Locked(false)
        Thread { released.withValue { $0 = !abandoned.sendBlocking(2) } }.start()
        try await Task.sleep(nanoseconds: 20_000_000)
        abandoned.cancel()
        while !released.withValue({ $0 }) { try await Task.sleep(nanoseconds: 1_000_000) }
        let afterCancel = await abandoned.send(3)
        XCTAssertFalse(afterCancel)
    }
}

/// A value behind a lock, for tests that share it between threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withValue<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
