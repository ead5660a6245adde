/// Where tagged sentences live in an XML corpus: which elements are sentences and
/// tokens, and where a token's word and tag are written.
///
/// Elements are matched by *local name* (the part after any `prefix:`); `namespace`
/// optionally restricts matches to one namespace URI. Example, the default `tei`
/// layout:
///
/// ```xml
/// <s id="s1"><w pos="PRON">I</w><w pos="VERB">agree</w></s>
/// ```
public struct XMLMapping: Equatable, Sendable {
    /// Where a token's word is written.
    public enum TokenText: Equatable, Sendable {
        /// The element's text content (character data of it and its descendants),
        /// with leading and trailing XML whitespace removed: `<w pos="NOUN">cat</w>`.
        case content
        /// An attribute of the token element: `<t word="cat" pos="NN"/>`.
        case attribute(String)
    }

    /// Short name used on the command line (`--xml-layout tei`).
    public var name: String
    /// One line for `--help` and the README.
    public var summary: String
    /// Local name of the sentence element (`s`, `Post`).
    public var sentenceElement: String
    /// Local names of token elements (`w`, and `c` for TEI punctuation).
    public var tokenElements: [String]
    /// Where the word of a token is.
    public var tokenText: TokenText
    /// Attribute of the token element holding the tag (`pos`, `type`, `c5`).
    public var tagAttribute: String
    /// Namespace URI elements must be in; `nil` matches local names in any namespace
    /// (or none), `""` only elements without a namespace.
    public var namespace: String?
    /// Attribute of the sentence element holding its identifier (`id`; also matches
    /// `xml:id`, as attributes are matched by local name too).
    public var sentenceIDAttribute: String?
    /// When set, only token elements that are direct children of an element with this
    /// local name inside the sentence count (TIGER: `s//terminals/t`, which ignores
    /// anything under `nonterminals`); when `nil`, token elements anywhere inside the
    /// sentence count.
    public var tokenContainer: String?

    /// Makes a mapping; see the presets for complete examples.
    public init(
        name: String, summary: String, sentenceElement: String, tokenElements: [String],
        tokenText: TokenText, tagAttribute: String, namespace: String? = nil,
        sentenceIDAttribute: String? = nil, tokenContainer: String? = nil
    ) {
        precondition(!tokenElements.isEmpty, "An XML mapping needs at least one token element")
        self.name = name
        self.summary = summary
        self.sentenceElement = sentenceElement
        self.tokenElements = tokenElements
        self.tokenText = tokenText
        self.tagAttribute = tagAttribute
        self.namespace = namespace
        self.sentenceIDAttribute = sentenceIDAttribute
        self.tokenContainer = tokenContainer
    }

    /// The TEI namespace, `http://www.tei-c.org/ns/1.0`.
    public static let teiNamespace = "http://www.tei-c.org/ns/1.0"

    /// Default: `<s id><w pos="UPOS" xpos lemma>FORM</w>…</s>` in any namespace
    /// (the EWT and GSDSimp XML renditions).
    public static let tei = XMLMapping(
        name: "tei",
        summary: "<s id><w pos=\"TAG\">word</w>…</s> (EWT/GSDSimp XML renditions; any namespace)",
        sentenceElement: "s", tokenElements: ["w"], tokenText: .content,
        tagAttribute: "pos", sentenceIDAttribute: "id")

    /// NPS Chat: `<Post><terminals><t pos="TAG" word="w"/>…</terminals></Post>`; the raw
    /// post text before `<terminals>` is ignored.
    public static let npsChat = XMLMapping(
        name: "nps-chat",
        summary: "<Post>…<terminals><t pos=\"TAG\" word=\"w\"/>…</terminals></Post> (NPS Chat)",
        sentenceElement: "Post", tokenElements: ["t"], tokenText: .attribute("word"),
        tagAttribute: "pos", tokenContainer: "terminals")

    /// TIGER-XML: `<s id><graph><terminals><t word pos/>…</terminals><nonterminals>…</s>`.
    public static let tiger = XMLMapping(
        name: "tiger",
        summary: "<s id>…<terminals><t word=\"w\" pos=\"TAG\"/>…</terminals> (TIGER-XML, SMULTRON)",
        sentenceElement: "s", tokenElements: ["t"], tokenText: .attribute("word"),
        tagAttribute: "pos", sentenceIDAttribute: "id", tokenContainer: "terminals")

    /// Brown corpus TEI: `<s n><w type="AT">The</w> … <c type="pct">.</c></s>` in the TEI
    /// namespace; punctuation gets its `type` (`pct`) as tag.
    public static let brownTEI = XMLMapping(
        name: "brown-tei",
        summary: "<s><w type=\"TAG\">word</w> <c type=\"pct\">.</c></s> in the TEI namespace (Brown TEI)",
        sentenceElement: "s", tokenElements: ["w", "c"], tokenText: .content,
        tagAttribute: "type", namespace: teiNamespace, sentenceIDAttribute: "n")

    /// Every preset, default first.
    public static let presets: [XMLMapping] = [tei, npsChat, tiger, brownTEI]

    /// The preset called `name`, or `nil`.
    public static func preset(named name: String) -> XMLMapping? {
        presets.first { $0.name == name }
    }
}

/// What to do with a sentence or record that breaks the rules.
public enum XMLInvalidRecordPolicy: Equatable, Sendable {
    /// Stop with a `CorpusError` naming file, line and column.
    case fail
    /// Skip the sentence (or record) and count it by reason in the reader's report.
    case skip
}

/// The rules a tagged sentence must follow, and what happens when it does not.
public struct XMLSentenceValidation: Equatable, Sendable {
    /// Fail (default) or skip-and-count.
    public var policy: XMLInvalidRecordPolicy
    /// When set, a tag outside this set is a problem.
    public var knownTags: Set<String>?
    /// When set, a token without a tag (attribute missing or empty) gets this tag instead
    /// of being a problem; each such token is counted in `XMLImportReport.replacedTags`.
    public var missingTagReplacement: String?

    /// Makes validation rules; the default fails on the first problem.
    public init(policy: XMLInvalidRecordPolicy = .fail, knownTags: Set<String>? = nil,
                missingTagReplacement: String? = nil) {
        self.policy = policy
        self.knownTags = knownTags
        self.missingTagReplacement = missingTagReplacement
    }
}

/// A reason a sentence (or labelled record) is invalid.
public enum XMLRecordProblem: String, CaseIterable, Comparable, Sendable {
    /// A token whose tag attribute is missing or empty.
    case tokenWithoutTag
    /// A token whose tag is not in `XMLSentenceValidation.knownTags`.
    case unknownTag
    /// A sentence element without any token.
    case emptySentence
    /// A labelled record without a label (or with an empty one).
    case missingLabel
    /// A labelled record without text.
    case emptyText

    /// Counted noun phrase, e.g. "2 tokens without a tag".
    public func describe(count: Int) -> String {
        let plural = count != 1
        switch self {
        case .tokenWithoutTag: return "\(count) token\(plural ? "s" : "") without a tag"
        case .unknownTag: return "\(count) token\(plural ? "s" : "") with an unknown tag"
        case .emptySentence: return "\(count) empty sentence\(plural ? "s" : "")"
        case .missingLabel: return "\(count) record\(plural ? "s" : "") without a label"
        case .emptyText: return "\(count) record\(plural ? "s" : "") without text"
        }
    }

    /// Problems sort in declaration order (token problems first), for stable summaries.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }

    private var rank: Int {
        switch self {
        case .tokenWithoutTag: return 0
        case .unknownTag: return 1
        case .emptySentence: return 2
        case .missingLabel: return 3
        case .emptyText: return 4
        }
    }
}

/// What an XML reader has read, skipped and replaced so far: nothing is dropped silently.
public struct XMLImportReport: Equatable, Sendable {
    /// Sentences (or records) returned.
    public var records = 0
    /// Tokens in the returned sentences (0 for labelled texts).
    public var tokens = 0
    /// Sentences (or records) skipped under the `.skip` policy.
    public var skippedRecords = 0
    /// Problems found in skipped records, by reason (one sentence may have several).
    public var problems: [XMLRecordProblem: Int] = [:]
    /// Tokens that had no tag and received `missingTagReplacement`.
    public var replacedTags = 0
    /// Token elements found outside any sentence element (not part of any sentence).
    public var tokensOutsideSentences = 0

    /// What a record is called in `summary` ("sentence", "record").
    public var recordName: String

    /// Makes an empty report whose summary calls records `recordName`.
    public init(recordName: String = "record") { self.recordName = recordName }

    /// One line for a person, e.g. "skipped 2 sentences: 2 tokens without a tag".
    public var summary: String {
        var parts: [String] = []
        if skippedRecords > 0 {
            let reasons = problems.keys.sorted().map { $0.describe(count: problems[$0]!) }
            parts.append("skipped \(skippedRecords) \(recordName)\(skippedRecords == 1 ? "" : "s"): "
                + reasons.joined(separator: ", "))
        }
        if replacedTags > 0 { parts.append("\(replacedTags) missing tag\(replacedTags == 1 ? "" : "s") replaced") }
        if tokensOutsideSentences > 0 { parts.append("\(tokensOutsideSentences) tokens outside sentences ignored") }
        return parts.isEmpty ? "nothing skipped" : parts.joined(separator: "; ")
    }
}
