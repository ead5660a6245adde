import XCTest
import SeqModels
@testable import Tasks

final class GeneratorAcrosticTests: XCTestCase {
    /// Checks the acrostic format: one line per head, each starting with it, `length` letters, then ，/。 alternately (last 。).
    private func assertValid(_ lines: [String], heads: String, length: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(lines.count, heads.count, file: file, line: line)
        for (index, (text, head)) in zip(lines, heads).enumerated() {
            let characters = Array(text)
            XCTAssertEqual(characters.count, length + 1, "line \(index): \(text)", file: file, line: line)
            XCTAssertEqual(characters.first, head, "line \(index): \(text)", file: file, line: line)
            XCTAssertTrue(characters.dropLast().allSatisfy(\.isLetter), "line \(index): \(text)", file: file, line: line)
            let expected: Character = index == lines.count - 1 || index % 2 == 1 ? "。" : "，"
            XCTAssertEqual(characters.last, expected, "line \(index): \(text)", file: file, line: line)
        }
    }

    func testAcrosticPoemsHaveTheRequiredFormForManyHeadsAndSeeds() throws {
        let model = try GeneratorTestSupport.poemModel()
        let letters = model.vocabulary.tokens.filter { $0.count == 1 && $0.first!.isLetter }
        var g = SeededGenerator(seed: 9)
        for trial in 0..<12 {
            let heads = String((0..<(trial % 2 == 0 ? 4 : 5)).map { _ in Character(letters[g.nextInt(below: letters.count)]) })
            let length = trial % 3 == 0 ? 7 : 5
            let options = trial % 4 == 0 ? SamplingOptions.greedy : SamplingOptions(temperature: 0.8, topK: 20, topP: 0.95)
            let (poem, lines) = try model.acrostic(heads: heads, lineLength: length, options: options, generator: &g)
            assertValid(lines, heads: heads, length: length)
            XCTAssertEqual(poem, lines.joined())
            XCTAssertFalse(poem.contains("<"), poem)
        }
    }

    func testASpringFlowerAutumnMoonPoemIsValid() throws {
        let model = try GeneratorTestSupport.poemModel()
        var g = SeededGenerator(seed: 1)
        let (_, lines) = try model.acrostic(heads: "春花秋月", lineLength: 7, options: .greedy, generator: &g)
        assertValid(lines, heads: "春花秋月", length: 7)
    }

    func testAHeadOutsideTheVocabularyIsAClearError() throws {
        let model = GeneratorTestSupport.untrainedModel(tokens: ["春", "花", "，", "。"])
        var g = SeededGenerator(seed: 1)
        XCTAssertThrowsError(try model.acrostic(heads: "春鳥", lineLength: 5, options: .greedy, generator: &g)) { error in
            XCTAssertTrue(String(describing: error).contains("'鳥' is not in the model's vocabulary"), "\(error)")
        }
        XCTAssertThrowsError(try model.acrostic(heads: "春，", lineLength: 5, options: .greedy, generator: &g)) { error in
            XCTAssertTrue(String(describing: error).contains("not a poem character"), "\(error)")
        }
        let (_, lines) = try model.acrostic(heads: "花春", lineLength: 5, options: .greedy, generator: &g)
        assertValid(lines, heads: "花春", length: 5)
    }

    func testAVocabularyWithoutChinesePunctuationIsAClearError() {
        let model = GeneratorTestSupport.untrainedModel(tokens: ["a", "b", "."])
        var g = SeededGenerator(seed: 1)
        XCTAssertThrowsError(try model.acrostic(heads: "ab", lineLength: 5, options: .greedy, generator: &g)) { error in
            XCTAssertTrue(String(describing: error).contains("no '，'"), "\(error)")
        }
    }
}
