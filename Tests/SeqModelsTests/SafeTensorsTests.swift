import Foundation
import XCTest
@testable import SeqModels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fixtures written by `Tools/make_safetensors_fixtures.py` with python's `safetensors`.
func safetensorsFixture(_ name: String) throws -> URL {
    let root = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "test bundle has no Fixtures folder")
    return root.appendingPathComponent("safetensors").appendingPathComponent(name)
}

/// A fresh empty directory under the system temporary directory, removed at the end of the test.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("SeqModelsTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock {
        _ = chmod(url.path, 0o755)
        try? FileManager.default.removeItem(at: url)
    }
    return url
}

/// Values stored in the fixture JSON files: numbers, or "inf"/"-inf"/"nan" as strings.
private struct FixtureTensor: Decodable {
    var shape: [Int]
    var values: [Double]

    enum CodingKeys: String, CodingKey { case shape, values }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        shape = try container.decode([Int].self, forKey: .shape)
        var list = try container.nestedUnkeyedContainer(forKey: .values)
        values = []
        while !list.isAtEnd {
            if let number = try? list.decode(Double.self) {
                values.append(number)
            } else {
                let text = try list.decode(String.self)
                values.append(text == "inf" ? .infinity : text == "-inf" ? -.infinity : .nan)
            }
        }
    }
}

private func fixtureTensors(_ name: String) throws -> [String: FixtureTensor] {
    try JSONDecoder().decode([String: FixtureTensor].self, from: Data(contentsOf: safetensorsFixture(name)))
}

final class SafeTensorsTests: XCTestCase {
    // MARK: Writing and round trips

    /// The tensors of `numpy_layout*.safetensors`, rebuilt here from the same closed forms.
    private func layoutTensors(metadata: [String: String]) -> SafeTensors {
        var file = SafeTensors(metadata: metadata)
        file.set(Tensor(shape: [2, 3], scalars: (0..<6).map { Float($0) * 0.25 - 1 }), named: "b")
        file.set(Tensor(shape: [4], scalars: (0..<4).map { Float($0) * 0.5 + 0.125 }), named: "a.weight")
        file.set(Tensor(rows: [[3.5]]), named: "A")
        file.set(Tensor(shape: [2], scalars: [1e-3, -7]), named: "a_10")
        file.set(Tensor(shape: [2], scalars: [65504, -0.0]), named: "a_2")
        file.set(Tensor(shape: [0, 4]), named: "empty")
        file.set(int64s: [-2, 0, 7, 1 << 40, -(1 << 62)], named: "ids")
        file.set(int64s: [1, 2, 3, 4, 5, 6], shape: [3, 2], named: "tokens.count")
        return file
    }

    func testSerializationMatchesPythonNumpyWriterByteForByte() throws {
        let withMetadata = try Data(contentsOf: safetensorsFixture("numpy_layout.safetensors"))
        XCTAssertEqual(layoutTensors(metadata: ["format": "np"]).serialized(), withMetadata)
        let without = try Data(contentsOf: safetensorsFixture("numpy_layout_no_metadata.safetensors"))
        XCTAssertEqual(layoutTensors(metadata: [:]).serialized(), without)
    }

    func testRewritingATorchWrittenFileReproducesItsBytes() throws {
        let url = try safetensorsFixture("lstm_2layer_bidirectional.safetensors")
        let original = try SafeTensors(contentsOf: url)
        var copy = SafeTensors(metadata: original.metadata)
        for name in original.names { copy.set(try original.floatTensor(name), named: name) }
        XCTAssertEqual(copy.serialized(), try Data(contentsOf: url))
    }

    func testRoundTripKeepsTensorsShapesDTypesAndMetadata() throws {
        var file = SafeTensors(metadata: ["format": "pt", "note": "tab\there, quote \" and \u{1} and 東京/ü"])
        let weights = Tensor(shape: [3, 2, 2], scalars: [1, -2, .infinity, -.infinity, .nan, -0.0, Float.leastNonzeroMagnitude, 3.25, 0, 7, 8, 9])
        file.set(weights, named: "encoder.\"odd\\name\"\n東京")
        file.set(int64s: [Int64.min, -1, 0, Int64.max], shape: [2, 2], named: "counts")
        file.set(Tensor(shape: [0]), named: "nothing")
        file.set(rawBytes: Data([1, 0, 1]), dtype: .bool, shape: [3], named: "mask")

        let directory = try temporaryDirectory(self)
        let url = directory.appendingPathComponent("round.safetensors")
        try file.write(to: url)
        let back = try SafeTensors(contentsOf: url)

        XCTAssertEqual(back.names, file.names)
        XCTAssertEqual(back.metadata, file.metadata)
        let name = "encoder.\"odd\\name\"\n東京"
        XCTAssertEqual(back.shape(of: name), [3, 2, 2])
        XCTAssertEqual(back.dtype(of: name), .float32)
        XCTAssertEqual(try back.floatTensor(name).scalars.map(\.bitPattern), weights.scalars.map(\.bitPattern))
        XCTAssertEqual(try back.int64Array("counts"), [Int64.min, -1, 0, Int64.max])
        XCTAssertEqual(back.shape(of: "counts"), [2, 2])
        XCTAssertEqual(back.dtype(of: "counts"), .int64)
        XCTAssertEqual(try back.floatTensor("nothing").shape, [0])
        XCTAssertEqual(try back.int64Array("mask"), [1, 0, 1])
        XCTAssertNil(back.shape(of: "absent"))
        XCTAssertEqual(try Data(contentsOf: url), file.serialized())
        // The header is padded to a multiple of 8 bytes, as the python writer pads it.
        let bytes = file.serialized()
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0)
    }

    // MARK: Reading what python wrote

    func testReadsTorchLSTMStateDictExactly() throws {
        let file = try SafeTensors(contentsOf: safetensorsFixture("lstm_2layer_bidirectional.safetensors"))
        let expected = try fixtureTensors("lstm_2layer_bidirectional.json")
        XCTAssertEqual(file.names, expected.keys.sorted())
        XCTAssertEqual(file.names.count, 17)
        XCTAssertEqual(file.metadata, ["format": "pt"])
        for (name, tensor) in expected {
            let read = try file.floatTensor(name)
            XCTAssertEqual(read.shape, tensor.shape, name)
            XCTAssertEqual(read.scalars, tensor.values.map { Float($0) }, name)
        }
    }

    func testConvertsOtherDTypesByTheDocumentedRule() throws {
        let file = try SafeTensors(contentsOf: safetensorsFixture("dtypes.safetensors"))
        let expected = try fixtureTensors("dtypes.json")
        XCTAssertEqual(file.dtype(of: "f16"), .float16)
        XCTAssertEqual(file.dtype(of: "bf16"), .bfloat16)
        XCTAssertEqual(file.dtype(of: "f64"), .float64)
        for name in ["f64", "f16", "bf16"] {
            let read = try file.floatTensor(name)
            XCTAssertEqual(read.shape, expected[name]?.shape, name)
            XCTAssertEqual(read.scalars, expected[name]?.values.map { Float($0) }, name)
        }
        XCTAssertEqual(try file.floatTensor("f16")[0, 1], .infinity, "70000 overflows half precision")
        for name in ["i32", "i16", "i8", "u8", "bool"] {
            XCTAssertEqual(try file.int64Array(name), expected[name]?.values.map { Int64($0) }, name)
            XCTAssertEqual(file.shape(of: name), expected[name]?.shape, name)
        }
        XCTAssertThrowsError(try file.floatTensor("i32")) { error in
            XCTAssertEqual(error as? SafeTensorsError, SafeTensorsError(file: file.source, problem: .wrongDType(
                tensor: "i32", dtype: .int32, wanted: "a floating-point tensor (F32, F64, F16 or BF16)")))
            XCTAssertTrue("\(error)".contains("tensor 'i32' has dtype I32"), "\(error)")
        }
        XCTAssertThrowsError(try file.int64Array("f16")) { error in
            XCTAssertTrue("\(error)".contains("tensor 'f16' has dtype F16, but an integer tensor is needed"), "\(error)")
        }
        XCTAssertThrowsError(try file.floatTensor("nope")) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.problem, .noSuchTensor("nope"))
        }
    }

    func testHalfPrecisionConversionCoversEveryClassOfValue() {
        XCTAssertEqual(SafeTensors.floatFromHalf(0x3C00), 1)
        XCTAssertEqual(SafeTensors.floatFromHalf(0xC000), -2)
        XCTAssertEqual(SafeTensors.floatFromHalf(0x7BFF), 65504)
        XCTAssertEqual(SafeTensors.floatFromHalf(0x0001), 0x1p-24)  // smallest subnormal
        XCTAssertEqual(SafeTensors.floatFromHalf(0x03FF), 0x3FF * 0x1p-24)  // largest subnormal
        XCTAssertEqual(SafeTensors.floatFromHalf(0x8000).bitPattern, (-0.0 as Float).bitPattern)
        XCTAssertEqual(SafeTensors.floatFromHalf(0xFC00), -.infinity)
        XCTAssertTrue(SafeTensors.floatFromHalf(0x7E00).isNaN)
    }

    func testUnsignedValuesAboveInt64MaxAreReported() throws {
        var file = SafeTensors()
        var raw = Data()
        for value: UInt64 in [3, UInt64.max] { withUnsafeBytes(of: value.littleEndian) { raw.append(contentsOf: $0) } }
        file.set(rawBytes: raw, dtype: .uint64, shape: [2], named: "big")
        let back = try SafeTensors(data: file.serialized())
        XCTAssertThrowsError(try back.int64Array("big")) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.problem, .valueOutOfRange(tensor: "big", value: "18446744073709551615"))
        }
    }

    // MARK: Malformed files, each with its own error

    /// A file made of a header length, header text and `dataCount` data bytes.
    private func bytes(_ header: String, dataCount: Int = 0, declaredLength: UInt64? = nil) -> Data {
        let text = Data(header.utf8)
        var data = Data()
        withUnsafeBytes(of: (declaredLength ?? UInt64(text.count)).littleEndian) { data.append(contentsOf: $0) }
        data.append(text)
        data.append(Data(repeating: 0, count: dataCount))
        return data
    }

    private func assertProblem(_ data: Data, _ expected: SafeTensorsError.Problem, mentions: [String] = [],
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensors(data: data, source: "bad.safetensors"), file: file, line: line) { error in
            guard let error = error as? SafeTensorsError else { return XCTFail("not a SafeTensorsError: \(error)", file: file, line: line) }
            XCTAssertEqual(error.problem, expected, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix("bad.safetensors: "), error.description, file: file, line: line)
            for word in mentions {
                XCTAssertTrue(error.description.contains(word), "'\(word)' not in: \(error.description)", file: file, line: line)
            }
        }
    }

    private let one = #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#

    func testFileShorterThanTheLengthFieldIsRejected() {
        assertProblem(Data([1, 2, 3, 4, 5]), .fileTooShort(byteCount: 5), mentions: ["5 bytes long"])
        assertProblem(Data(), .fileTooShort(byteCount: 0))
    }

    func testAbsurdHeaderLengthIsRejectedBeforeReadingIt() {
        assertProblem(bytes("{}", declaredLength: 1 << 40), .headerTooLarge(declared: 1 << 40, limit: 100_000_000),
                      mentions: ["1099511627776"])
    }

    func testHeaderLengthPastTheEndOfFileIsRejected() {
        assertProblem(bytes("{}", declaredLength: 100), .headerPastEndOfFile(declared: 100, available: 2),
                      mentions: ["100 bytes", "only 2 bytes follow"])
    }

    func testHeaderThatIsNotUTF8OrNotJSONOrNotAnObjectIsRejected() {
        var invalid = bytes("{\"a\":1}")
        invalid[10] = 0xFF
        assertProblem(invalid, .headerNotUTF8)
        XCTAssertThrowsError(try SafeTensors(data: bytes("{\"a\": "), source: "bad.safetensors")) { error in
            guard case .headerNotJSON(let reason)? = (error as? SafeTensorsError)?.problem else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("at byte 6"), reason)
        }
        assertProblem(bytes("[1, 2]"), .headerNotObject(found: "an array"), mentions: ["JSON object"])
        assertProblem(bytes("{\"__metadata__\":{\"format\":3}}"), .invalidMetadata(reason: "the value of 'format' is a number, not a string"))
    }

    func testUnknownDTypeNamesTheTensorAndTheDType() {
        assertProblem(bytes(#"{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#, dataCount: 4),
                      .unknownDType(tensor: "w", dtype: "F33"), mentions: ["tensor 'w'", "\"F33\"", "BF16"])
    }

    func testShapeThatDisagreesWithTheByteCountIsRejected() {
        assertProblem(bytes(#"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#, dataCount: 20),
                      .byteCountMismatch(tensor: "w", dtype: .float32, shape: [2, 3], expected: 24, declared: 20),
                      mentions: ["tensor 'w' is F32 with shape [2, 3], which needs 24 bytes", "span 20 bytes"])
    }

    func testMalformedEntriesAreRejected() {
        assertProblem(bytes(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#),
                      .invalidEntry(tensor: "w", reason: "\"shape\" holds -1, not a whole number ≥ 0"))
        assertProblem(bytes(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}}"#, dataCount: 4),
                      .invalidEntry(tensor: "w", reason: "\"data_offsets\" holds 4.5, not a whole number ≥ 0"))
        assertProblem(bytes(#"{"w":{"dtype":"F32","shape":[1]}}"#), .invalidEntry(tensor: "w", reason: "its entry has no \"data_offsets\""))
        assertProblem(bytes(#"{"w":[1]}"#), .invalidEntry(
            tensor: "w", reason: "its entry is an array, not an object with dtype, shape and data_offsets"))
        assertProblem(bytes(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataCount: 8),
                      .duplicateName("w"))
    }

    func testOffsetsOutOfOrderOrRangeAreRejected() {
        assertProblem(bytes(#"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#, dataCount: 8),
                      .invalidOffsets(tensor: "w", begin: 8, end: 4), mentions: ["tensor 'w'", "[8, 4]"])
        // Offsets past the data buffer: the file holds fewer bytes than declared.
        assertProblem(bytes("{" + one + #","b":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}}"#, dataCount: 12),
                      .truncated(tensor: "b", end: 20, declaredEnd: 20, available: 12),
                      mentions: ["tensor 'b' ends at byte 20", "only 12 bytes", "truncated"])
    }

    func testOverlappingTensorsAreRejected() {
        assertProblem(bytes("{" + one + #","b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataCount: 8),
                      .overlap(tensor: "b", other: "a", begin: 4, otherEnd: 8), mentions: ["tensor 'b'", "inside tensor 'a'"])
    }

    func testHolesBetweenAroundOrAfterTensorsAreRejected() {
        assertProblem(bytes("{" + one + #","b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#, dataCount: 16),
                      .hole(tensor: "b", previous: "a", begin: 12, expected: 8), mentions: ["tensor 'b'", "'a' ends at byte 8", "4 bytes"])
        assertProblem(bytes(#"{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataCount: 8),
                      .hole(tensor: "b", previous: nil, begin: 4, expected: 0), mentions: ["the data starts at byte 0"])
        assertProblem(bytes("{" + one + "}", dataCount: 11),
                      .trailingBytes(after: "a", dataEnd: 8, available: 11), mentions: ["'a', ends at byte 8", "3 bytes"])
    }

    func testTruncatedFileNamesTheFirstTensorItCuts() throws {
        let whole = layoutTensors(metadata: ["format": "np"]).serialized()
        let cut = whole.prefix(whole.count - 30)
        XCTAssertThrowsError(try SafeTensors(data: Data(cut), source: "cut.safetensors")) { error in
            guard case let .truncated(tensor, _, declaredEnd, available)? = (error as? SafeTensorsError)?.problem else {
                return XCTFail("\(error)")
            }
            // Python's order ends with the F32 tensors "a_2" (8 bytes), "b" (24), "empty" (0):
            // cutting 30 bytes removes all of "b" and 6 bytes of "a_2", the first tensor cut.
            XCTAssertEqual(tensor, "a_2")
            XCTAssertEqual(declaredEnd - available, 30)
        }
    }

    func testFilesOnDiskAreNamedInErrors() throws {
        let directory = try temporaryDirectory(self)
        let url = directory.appendingPathComponent("broken.safetensors")
        try bytes(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataCount: 4).write(to: url)
        XCTAssertThrowsError(try SafeTensors(contentsOf: url)) { error in
            XCTAssertTrue("\(error)".hasPrefix(url.path + ": tensor 'w' ends at byte 8"), "\(error)")
        }
        XCTAssertThrowsError(try SafeTensors(contentsOf: directory.appendingPathComponent("absent.safetensors"))) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.problem, .cannotOpen(reason: "No such file or directory"))
        }
        XCTAssertThrowsError(try SafeTensors(contentsOf: directory)) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.problem, .cannotOpen(reason: "it is not a regular file"))
        }
    }

    // MARK: Atomic writing

    private func listing(_ directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    func testWritingReplacesTheFileAndLeavesNoTemporaryFiles() throws {
        let directory = try temporaryDirectory(self)
        let url = directory.appendingPathComponent("model.safetensors")
        var file = SafeTensors()
        file.set(Tensor(shape: [2], scalars: [1, 2]), named: "x")
        try file.write(to: url)
        file.set(Tensor(shape: [3], scalars: [4, 5, 6]), named: "x")
        try file.write(to: url)
        XCTAssertEqual(try listing(directory), ["model.safetensors"])
        XCTAssertEqual(try SafeTensors(contentsOf: url).floatTensor("x").scalars, [4, 5, 6])
    }

    func testWritingIntoAMissingDirectoryFailsWithoutCreatingAnything() throws {
        let directory = try temporaryDirectory(self)
        let url = directory.appendingPathComponent("absent/model.safetensors")
        XCTAssertThrowsError(try SafeTensors().write(to: url)) { error in
            guard case .writeFailed(let reason)? = (error as? SafeTensorsError)?.problem else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("No such file or directory"), reason)
            XCTAssertEqual((error as? SafeTensorsError)?.file, url.path)
        }
        XCTAssertEqual(try listing(directory), [])
    }

    func testFailedRenameRemovesTheTemporaryFile() throws {
        let directory = try temporaryDirectory(self)
        // The destination is a non-empty directory: the data is written, the final rename fails.
        let destination = directory.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: destination.appendingPathComponent("inside"))
        XCTAssertThrowsError(try SafeTensors().write(to: destination)) { error in
            XCTAssertTrue("\(error)".contains("cannot move the finished file into place"), "\(error)")
        }
        XCTAssertEqual(try listing(directory), ["taken"])
        XCTAssertEqual(try listing(destination), ["inside"])
    }

    func testWriteFailingMidwayLeavesThePreviousFileIntact() throws {
        let directory = try temporaryDirectory(self)
        let url = directory.appendingPathComponent("model.safetensors")
        var small = SafeTensors()
        small.set(Tensor(shape: [4], scalars: [1, 2, 3, 4]), named: "x")
        try small.write(to: url)
        let before = try Data(contentsOf: url)

        var large = SafeTensors()
        large.set(Tensor(shape: [64 * 1024], repeating: 0.5), named: "x")
        // Limit the size of files this process may write, so the write fails partway with EFBIG.
        var saved = rlimit()
        XCTAssertEqual(getrlimit(resourceFileSize, &saved), 0)
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var limited = saved
        limited.rlim_cur = 4096
        XCTAssertEqual(setrlimit(resourceFileSize, &limited), 0)
        let outcome = Result { try large.write(to: url) }
        _ = setrlimit(resourceFileSize, &saved)
        signal(SIGXFSZ, previousHandler)

        XCTAssertThrowsError(try outcome.get()) { error in
            XCTAssertTrue("\(error)".contains("writing failed after"), "\(error)")
        }
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertEqual(try listing(directory), ["model.safetensors"])
    }

    func testWritingIntoAReadOnlyDirectoryFailsCleanly() throws {
        if geteuid() == 0 {
            throw XCTSkip("running as root, which ignores directory permissions; testWriteFailingMidwayLeavesThePreviousFileIntact covers failed writes")
        }
        let directory = try temporaryDirectory(self)
        XCTAssertEqual(chmod(directory.path, 0o555), 0)
        XCTAssertThrowsError(try SafeTensors().write(to: directory.appendingPathComponent("model.safetensors"))) { error in
            XCTAssertTrue("\(error)".contains("cannot create a temporary file"), "\(error)")
        }
        XCTAssertEqual(try listing(directory), [])
    }
}

#if canImport(Glibc)
private let resourceFileSize = __rlimit_resource_t(RLIMIT_FSIZE.rawValue)
#else
private let resourceFileSize = RLIMIT_FSIZE
#endif
