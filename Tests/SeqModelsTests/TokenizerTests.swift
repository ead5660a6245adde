import XCTest
@testable import SeqModels

final class TokenizerTests: XCTestCase {
    func testWordTokenizerSplitsEnglishPunctuationAndKeepsContractions() {
        let tokens = WordTokenizer().tokenize("\"Don't miss it!\" O'Brien said: it's well-known, costs $3.50 (10,000 yen)...")
        XCTAssertEqual(tokens, ["\"", "Don't", "miss", "it", "!", "\"", "O'Brien", "said", ":", "it's", "well-known", ",",
                                "costs", "$", "3.50", "(", "10,000", "yen", ")", ".", ".", "."])
    }

    func testWordTokenizerEdgeApostrophesAndLowercasing() {
        XCTAssertEqual(WordTokenizer().tokenize("'quoted' dogs' bone"), ["'", "quoted", "'", "dogs", "'", "bone"])
        XCTAssertEqual(WordTokenizer(lowercased: true).tokenize("The CAT’s Ärger"), ["the", "cat’s", "ärger"])
        XCTAssertEqual(WordTokenizer().tokenize("<br />Great"), ["<", "br", "/", ">", "Great"])
    }

    func testWordTokenizerSplitsChineseByCharacterAndKeepsEmojiWhole() {
        XCTAssertEqual(WordTokenizer().tokenize("我爱北京 ok👍🏽!"), ["我", "爱", "北", "京", "ok", "👍🏽", "!"])
        XCTAssertEqual(WordTokenizer().tokenize("\u{20000}字"), ["\u{20000}", "字"], "CJK Extension B is outside the BMP")
    }

    func testASCIIFastPathAgreesWithTheCharacterRule() {
        var generator = SeededGenerator(seed: 7)
        let pieces = ["a", "Z", "7", "'", "-", ".", ",", " ", "\t", "\r\n", "!", "\"", "<br />", "n't", "x", "\u{1}", "$"]
        for lowercased in [false, true] {
            let tokenizer = WordTokenizer(lowercased: lowercased)
            for _ in 0..<200 {
                let text = (0..<generator.nextInt(below: 12)).map { _ in pieces[generator.nextInt(below: pieces.count)] }.joined()
                let fast = Array(text.utf8).withUnsafeBufferPointer { tokenizer.tokenizeASCII($0) }
                XCTAssertEqual(fast, tokenizer.tokenizeCharacters(text), "\(text.debugDescription)")
            }
        }
    }

    func testCharacterTokenizerKeepsGraphemesWhole() {
        let text = "床前\u{20000}。👨‍👩‍👧 e\u{301}"
        XCTAssertEqual(CharacterTokenizer().tokenize(text), ["床", "前", "\u{20000}", "。", "👨‍👩‍👧", " ", "e\u{301}"])
        XCTAssertEqual(CharacterTokenizer.droppingWhitespace.tokenize("a b\nc"), ["a", "b", "c"])
    }

    func testPreTokenizedTokenizerSplitsOnlyAtWhitespace() {
        XCTAssertEqual(PreTokenizedTokenizer().tokenize("  it 's a  gem ,\tn't it\n"), ["it", "'s", "a", "gem", ",", "n't", "it"])
        XCTAssertEqual(PreTokenizedTokenizer().tokenize("床前\u{3000}月光\u{A0}😀\r\nx"), ["床前", "月光", "😀", "x"], "ideographic and no-break spaces split")
        XCTAssertEqual(PreTokenizedTokenizer().tokenize(""), [])
        let ascii = " a  b\tc\r\nd\u{B}e "
        XCTAssertEqual(PreTokenizedTokenizer().tokenize(ascii + "é"), PreTokenizedTokenizer().tokenize(ascii) + ["é"],
                       "the ASCII fast path splits like the scalar path")
    }
}
