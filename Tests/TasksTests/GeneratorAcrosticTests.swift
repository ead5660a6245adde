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

    /// The problems of `poem` as an acrostic on `heads` with `length` characters a line,
    /// checked from the text alone (not with the decoder's masks); empty when it is valid.
    static func problems(poem: String, lines: [String], heads: String, length: Int) -> [String] {
        var problems: [String] = []
        if poem != lines.joined() { problems.append("the poem is not its lines joined") }
        for special in ["<unk>", "<bos>", "<eos>", "<pad>"] where poem.contains(special) { problems.append("contains \(special)") }
        if lines.count != heads.count { problems.append("\(lines.count) lines for \(heads.count) heads") }
        for (index, (line, head)) in zip(lines, heads).enumerated() {
            let characters = Array(line)
            let mark: Character = index == heads.count - 1 || index % 2 == 1 ? "。" : "，"
            guard characters.last == mark else { problems.append("line \(index + 1) '\(line)' does not end with \(mark)"); continue }
            let body = characters.dropLast()
            if body.count != length { problems.append("line \(index + 1) '\(line)' has \(body.count) characters before \(mark)") }
            if body.first != head { problems.append("line \(index + 1) '\(line)' does not begin with \(head)") }
            if !body.allSatisfy({ $0.isLetter && !$0.isPunctuation && !$0.isWhitespace }) {
                problems.append("line \(index + 1) '\(line)' holds something other than poem characters")
            }
        }
        return problems
    }

    /// 100 random 4-character heads drawn (seeded) from the CJK characters of the poem model's
    /// vocabulary, each decoded at full temperature (which wanders furthest from the training
    /// text: the hardest case for the format); returns the invalid poems with their problems.
    private func invalidPoemsForOneHundredRandomHeads(lineLength: Int) throws -> [String] {
        let model = try GeneratorTestSupport.poemModel()
        let cjk = model.vocabulary.tokens.dropFirst(model.vocabulary.specials.count).filter {
            $0.count == 1 && $0.unicodeScalars.count == 1 && $0.unicodeScalars.first!.properties.isIdeographic
        }
        XCTAssertGreaterThan(cjk.count, 200, "poems.txt should give hundreds of distinct characters")
        var draw = SeededGenerator(seed: 2024)
        let headSets = (0..<100).map { _ in String((0..<4).map { _ in Character(cjk[draw.nextInt(below: cjk.count)]) }) }
        XCTAssertEqual(Set(headSets).count, 100, "100 different head sets")
        var generator = SeededGenerator(seed: 17 + UInt64(lineLength))
        var invalid: [String] = []
        for heads in headSets {
            let (poem, lines) = try model.acrostic(heads: heads, lineLength: lineLength, options: SamplingOptions(temperature: 1),
                                                   generator: &generator)
            let problems = Self.problems(poem: poem, lines: lines, heads: heads, length: lineLength)
            if !problems.isEmpty { invalid.append("\(heads): \(poem): \(problems.joined(separator: "; "))") }
        }
        return invalid
    }

    func testOneHundredRandomVocabularyHeadsGiveValidFiveCharacterPoems() throws {
        let invalid = try invalidPoemsForOneHundredRandomHeads(lineLength: 5)
        XCTAssertEqual(invalid, [], "valid: \(100 - invalid.count) of 100")
    }

    func testOneHundredRandomVocabularyHeadsGiveValidSevenCharacterPoems() throws {
        let invalid = try invalidPoemsForOneHundredRandomHeads(lineLength: 7)
        XCTAssertEqual(invalid, [], "valid: \(100 - invalid.count) of 100")
    }

    func testTheValidityCheckCatchesBrokenPoems() {
        let good = ["春风吹柳岸，", "花开满山谷。"]
        XCTAssertEqual(Self.problems(poem: good.joined(), lines: good, heads: "春花", length: 5), [])
        XCTAssertEqual(Self.problems(poem: "春风吹柳，花开满山谷。", lines: ["春风吹柳，", "花开满山谷。"], heads: "春花", length: 5).count, 1)
        XCTAssertEqual(Self.problems(poem: "春风吹柳岸。花开满山谷。", lines: ["春风吹柳岸。", "花开满山谷。"], heads: "春花", length: 5).count, 1)
        XCTAssertEqual(Self.problems(poem: "秋风吹柳岸，花开满山谷。", lines: ["秋风吹柳岸，", "花开满山谷。"], heads: "春花", length: 5).count, 1)
        XCTAssertFalse(Self.problems(poem: "春<unk>柳岸，花开满山谷。", lines: ["春<unk>柳岸，", "花开满山谷。"], heads: "春花", length: 5).isEmpty)
    }
}
