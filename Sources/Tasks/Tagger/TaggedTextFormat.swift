import Foundation

/// How tagged sentences are written out by `seqmodels tag`.
public enum TaggedTextFormat: String, Sendable, CaseIterable {
    /// `word/TAG word/TAG …`, one sentence per line.
    case slash
    /// CoNLL-U: `# text = …`, then `ID FORM _ UPOS _ _ _ _ _ _` lines, a blank line after each sentence.
    case conllu
    /// The TEI-like XML the tagger trains on: `<s id="1"><w pos="TAG">word</w>…</s>`.
    case xml
    /// JSON lines: `{"tags":[…],"tokens":[…]}` per sentence.
    case json

    /// What goes before the first sentence (the XML prologue), or "".
    public var header: String {
        self == .xml ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<corpus>\n" : ""
    }

    /// What goes after the last sentence (the XML epilogue), or "".
    public var footer: String { self == .xml ? "</corpus>\n" : "" }

    /// One tagged sentence, ending in a newline; `number` is its 1-based position (its id).
    public func render(tokens: [String], tags: [String], number: Int) -> String {
        precondition(tokens.count == tags.count, "One tag per token is needed")
        switch self {
        case .slash:
            return zip(tokens, tags).map { "\($0)/\($1)" }.joined(separator: " ") + "\n"
        case .conllu:
            var lines = ["# sent_id = \(number)", "# text = \(tokens.joined(separator: " "))"]
            for (i, (token, tag)) in zip(tokens, tags).enumerated() {
                lines.append("\(i + 1)\t\(token)\t_\t\(tag)\t_\t_\t_\t_\t_\t_")
            }
            return lines.joined(separator: "\n") + "\n\n"
        case .xml:
            let words = zip(tokens, tags).map { "<w pos=\"\(Self.escape($1))\">\(Self.escape($0))</w>" }.joined()
            return "<s id=\"\(number)\">\(words)</s>\n"
        case .json:
            struct Line: Encodable { var tokens: [String]; var tags: [String] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = (try? encoder.encode(Line(tokens: tokens, tags: tags))) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self) + "\n"
        }
    }

    private static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
