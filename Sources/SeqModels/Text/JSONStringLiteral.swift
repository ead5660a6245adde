/// `text` as a JSON string literal, escaped exactly as serde_json (the safetensors
/// reference writer) escapes it: `"` `\` and control characters, nothing else.
///
/// Used where SeqModels writes JSON by hand because the bytes must be exact
/// (safetensors headers) or the layout is chosen for people (corpus reports).
public func jsonStringLiteral(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case let c where c.value < 0x20:
            let hex = String(c.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
