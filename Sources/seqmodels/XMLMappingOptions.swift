import ArgumentParser
import Corpus

/// The XML mapping flags shared by every command that reads tagged XML.
///
/// Start from a preset and override single parts of it:
///
///     seqmodels corpus stats nps_chat/*.xml --preset nps-chat --missing-tag -NONE-
///     seqmodels corpus stats corpus.xml --sentence-element sentence --token-element tok --tag-attribute ana
struct XMLMappingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("XML layout preset: \(XMLMapping.presets.map(\.name).joined(separator: ", ")).",
                               discussion: XMLMapping.presets.map { "\($0.name): \($0.summary)" }.joined(separator: "\n")))
    var preset: String = XMLMapping.tei.name

    @Option(help: "XML element that holds one sentence (overrides the preset).")
    var sentenceElement: String?

    @Option(help: "XML element(s) that hold one token; repeat for several, e.g. w and c (overrides the preset).")
    var tokenElement: [String] = []

    @Option(help: "Take each token's text from this attribute instead of the element's content.")
    var wordAttribute: String?

    @Option(help: "Attribute holding each token's tag (overrides the preset).")
    var tagAttribute: String?

    @Flag(help: "Skip sentences with a token without a tag or without tokens, and report how many; default: stop at the first.")
    var skipInvalid = false

    @Option(help: "Give tokens without a tag (missing or empty attribute) this tag instead of treating them as errors.")
    var missingTag: String?

    /// The mapping these flags describe; `tagColumn` picks `xpos` over the preset's attribute for `--tag xpos`.
    func mapping(xpos: Bool = false) throws -> XMLMapping {
        guard var mapping = XMLMapping.preset(named: preset) else {
            throw ValidationError("unknown --preset '\(preset)'; choose one of \(XMLMapping.presets.map(\.name).joined(separator: ", "))")
        }
        if let sentenceElement { mapping.sentenceElement = sentenceElement }
        if !tokenElement.isEmpty { mapping.tokenElements = tokenElement }
        if let wordAttribute { mapping.tokenText = .attribute(wordAttribute) }
        if let tagAttribute { mapping.tagAttribute = tagAttribute } else if xpos { mapping.tagAttribute = "xpos" }
        return mapping
    }

    var validation: XMLSentenceValidation {
        XMLSentenceValidation(policy: skipInvalid ? .skip : .fail, missingTagReplacement: missingTag)
    }
}
