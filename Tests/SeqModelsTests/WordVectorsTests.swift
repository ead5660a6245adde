import XCTest
import Foundation
@testable import SeqModels

final class WordVectorsTests: XCTestCase {
    private func write(_ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vectors-\(UUID().uuidString).txt")
        try Data(text.utf8).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func testGloVeVectorsFillTheVocabularyRowsAndCountCoverage() throws {
        let path = try write("the 0.1 0.2 0.3\ncat -1 2.5 3e-1\nunused 9 9 9\n")
        let vocabulary = Vocabulary(tokens: ["cat", "the", "dog"])
        let vectors = try WordVectors.read(contentsOf: path, for: vocabulary)
        XCTAssertEqual(vectors.dimension, 3)
        XCTAssertEqual(vectors.vectors.shape, [7, 3])
        XCTAssertEqual(vectors.coverage, 2)
        XCTAssertEqual(vectors.found, [false, false, false, false, true, true, false])
        XCTAssertEqual(Array(vectors.vectors.scalars[12..<15]), [-1, 2.5, 0.3], "row of `cat` (id 4)")
        XCTAssertEqual(Array(vectors.vectors.scalars[15..<18]), [0.1, 0.2, 0.3], "row of `the` (id 5)")
        XCTAssertEqual(Array(vectors.vectors.scalars[18..<21]), [0, 0, 0], "`dog` is absent: zero row")
    }

    func testWord2VecHeaderIsDetectedAndChecked() throws {
        let path = try write("2 2\nhello 1 2\nworld 3 4\n")
        let vectors = try WordVectors.read(contentsOf: path, for: Vocabulary(tokens: ["world"], specials: []))
        XCTAssertEqual(vectors.dimension, 2)
        XCTAssertEqual(vectors.vectors.scalars, [3, 4])
        let wrongCount = try write("3 2\nhello 1 2\n")
        XCTAssertThrowsError(try WordVectors.read(contentsOf: wrongCount, for: Vocabulary(tokens: []))) { error in
            XCTAssertEqual((error as? WordVectorsError)?.line, 1)
        }
    }

    /// A word2vec header is a claim: nothing of its size is allocated until a vector line shows
    /// it (found by fuzzing: a header of 2,222,222,222 dimensions asked for 62 GB).
    func testAHugeDeclaredDimensionAllocatesNothingAndIsRefusedByTheLines() throws {
        let vocabulary = Vocabulary(tokens: ["the", "cat"], specials: [.unknown])
        let headerOnly = try write("3 2222222222\n")
        XCTAssertThrowsError(try WordVectors.read(contentsOf: headerOnly, for: vocabulary)) { error in
            XCTAssertTrue("\(error)".contains("no vectors in the file"), "\(error)")
        }
        let shortLine = try write("3 2222222222\nthe 0.5 0.25\n")
        XCTAssertThrowsError(try WordVectors.read(contentsOf: shortLine, for: vocabulary)) { error in
            XCTAssertTrue("\(error)".contains(":2: expected a word and 2222222222 numbers"), "\(error)")
        }
    }

    func testWrongDimensionNamesTheLine() throws {
        let path = try write("a 1 2 3\nb 1 2\n")
        XCTAssertThrowsError(try WordVectors.read(contentsOf: path, for: Vocabulary(tokens: ["a"]))) { error in
            let error = error as? WordVectorsError
            XCTAssertEqual(error?.line, 2)
            XCTAssertEqual(error?.message, "expected a word and 3 numbers (the dimension of line 1), found 2 numbers")
        }
        let tooMany = try write("2 2\na 1 2\nb 1 2 3\n")
        XCTAssertThrowsError(try WordVectors.read(contentsOf: tooMany, for: Vocabulary(tokens: ["a"]))) { error in
            XCTAssertEqual((error as? WordVectorsError)?.line, 3)
        }
        let notANumber = try write("a 1 x\n")
        XCTAssertThrowsError(try WordVectors.read(contentsOf: notANumber, for: Vocabulary(tokens: ["a"]))) { error in
            XCTAssertEqual((error as? WordVectorsError)?.line, 1)
        }
    }

    func testInvalidUTF8InAWordNamesTheLine() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vectors-\(UUID().uuidString).txt")
        try Data(Array("a 1 2\n".utf8) + [0xC3, 0x28] + Array(" 3 4\n".utf8)).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try WordVectors.read(contentsOf: url.path, for: Vocabulary(tokens: ["a"]))) { error in
            XCTAssertEqual(error as? WordVectorsError, WordVectorsError("invalid UTF-8", file: url.path, line: 2))
        }
    }

    func testLowercaseFallbackAndWordsWithSpaces() throws {
        let path = try write("the 1 1\nnew york 2 2\n")
        let vocabulary = Vocabulary(tokens: ["The", "new york"], specials: [])
        let strict = try WordVectors.read(contentsOf: path, for: vocabulary)
        XCTAssertEqual(strict.found, [false, true])
        let folded = try WordVectors.read(contentsOf: path, for: vocabulary, lowercaseFallback: true)
        XCTAssertEqual(folded.found, [true, true])
        XCTAssertEqual(folded.vectors.scalars, [1, 1, 2, 2])
    }
}
