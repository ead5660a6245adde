import CXMLReader

/// Streams tagged sentences out of an XML corpus, one sentence in memory at a time,
/// whatever the size of the file (libxml2's `xmlTextReader` underneath, with network,
/// DTDs, external entities and entity expansion all refused).
///
/// ```swift
/// var reader = try XMLSentenceReader(path: "en_ewt-ud-train.xml", mapping: .tei)
/// while let sentence = try reader.next() { … }
/// print(reader.report.summary)   // "nothing skipped"
/// ```
///
/// Problems a user can fix (malformed XML, a token without a tag, an empty sentence, a
/// tag outside `validation.knownTags`, an entity reference) throw a `CorpusError` naming
/// file, line and column, or with the `.skip` policy skip the sentence and count it in
/// `report`. The reader is a value whose copies share one stream.
public struct XMLSentenceReader: TaggedSentenceSource {
    /// The layout this reader follows.
    public let mapping: XMLMapping
    /// The rules sentences must follow.
    public let validation: XMLSentenceValidation
    private let state: State

    /// Opens `path`; throws a `CorpusError` when the file cannot be opened.
    public init(path: String, mapping: XMLMapping = .tei,
                validation: XMLSentenceValidation = XMLSentenceValidation()) throws(CorpusError) {
        self.mapping = mapping
        self.validation = validation
        self.state = try State(path: path, mapping: mapping, validation: validation)
    }

    /// What was read, skipped and replaced so far.
    public var report: XMLImportReport { state.report }

    /// External resources (DTD subsets, external entities) that the file asked for and
    /// that were refused; they never are loaded.
    public var refusedExternalLoads: Int { state.parser.refusedLoads }

    /// The next valid sentence, or `nil` at the end of the file.
    public mutating func next() throws(CorpusError) -> TaggedSentence? {
        try state.nextSentence()
    }
}

extension XMLSentenceReader {
    /// The streaming state machine; a class because it owns the C reader.
    final class State {
        let parser: XMLPullParser
        let validation: XMLSentenceValidation
        var report = XMLImportReport(recordName: "sentence")

        // Names interned in the reader's dictionary: element matching is pointer equality.
        private let sentenceName: UnsafePointer<CChar>
        private let tokenNames: [UnsafePointer<CChar>]
        private let containerName: UnsafePointer<CChar>?
        private let namespace: UnsafePointer<CChar>?
        private let tagAttribute: UnsafePointer<CChar>
        private let wordAttribute: UnsafePointer<CChar>?
        private let idAttribute: UnsafePointer<CChar>?

        // The sentence being read.
        private var sentenceDepth = -1
        private var sentenceOrdinal: UInt64 = 0
        private var sentenceID: String?
        private var sentenceLocation: SourceLocation?
        private var tokens: [String] = []
        private var tags: [String] = []
        private var containerDepth = -1
        private var sentenceProblems: [XMLRecordProblem: Int] = [:]
        // The token being read (content mode).
        private var tokenDepth = -1
        private var tokenBytes: [UInt8] = []

        init(path: String, mapping: XMLMapping, validation: XMLSentenceValidation) throws(CorpusError) {
            let parser = try XMLPullParser(path: path)
            self.parser = parser
            self.validation = validation
            sentenceName = parser.intern(mapping.sentenceElement)
            tokenNames = mapping.tokenElements.map { parser.intern($0) }
            containerName = mapping.tokenContainer.map { parser.intern($0) }
            namespace = mapping.namespace.map { parser.intern($0) }
            tagAttribute = parser.intern(mapping.tagAttribute)
            if case .attribute(let name) = mapping.tokenText {
                wordAttribute = parser.intern(name)
            } else {
                wordAttribute = nil
            }
            idAttribute = mapping.sentenceIDAttribute.map { parser.intern($0) }
            tokenBytes.reserveCapacity(64)
        }

        private var inSentence: Bool { sentenceDepth >= 0 }
        private var inToken: Bool { tokenDepth >= 0 }

        @inline(__always) private func isTokenName(_ name: UnsafePointer<CChar>) -> Bool {
            for candidate in tokenNames where candidate == name { return true }
            return false
        }

        func nextSentence() throws(CorpusError) -> TaggedSentence? {
            while true {
                switch parser.next() {
                case .startElement:
                    try startElement()
                case .endElement:
                    if let sentence = try endElement() { return sentence }
                case .text, .whitespace:
                    if inToken, let value = parser.value { appendCString(value, to: &tokenBytes) }
                case .entityReference:
                    throw parser.entityReferenceError()
                case .error:
                    throw parser.parseError()
                case .endOfDocument:
                    return nil
                }
            }
        }

        private func startElement() throws(CorpusError) {
            let name = parser.localName
            if inToken { return }  // markup inside a token is part of its content
            if !inSentence {
                if name == sentenceName, parser.isInNamespace(namespace) {
                    try beginSentence()
                    if parser.isEmptyElement { _ = try finishSentence() }
                } else if isTokenName(name), parser.isInNamespace(namespace) {
                    report.tokensOutsideSentences += 1
                }
                return
            }
            if let containerName, name == containerName, containerDepth < 0 {
                if !parser.isEmptyElement { containerDepth = parser.depth }
                return
            }
            guard isTokenName(name), parser.isInNamespace(namespace) else { return }
            if containerName != nil, parser.depth != containerDepth + 1 { return }
            try beginToken()
        }

        private func endElement() throws(CorpusError) -> TaggedSentence? {
            guard inSentence else { return nil }
            let depth = parser.depth
            if inToken {
                if depth == tokenDepth {
                    if !tokenIsAttributeWord { tokens.append(trimmedString(tokenBytes)) }
                    tokenIsAttributeWord = false
                    tokenDepth = -1
                }
                return nil
            }
            if depth == containerDepth { containerDepth = -1; return nil }
            if depth == sentenceDepth { return try finishSentence() }
            return nil
        }

        private func beginSentence() throws(CorpusError) {
            sentenceDepth = parser.depth
            sentenceOrdinal = parser.elementOrdinal
            sentenceLocation = parser.cheapLocation
            sentenceID = try parser.attributeString(idAttribute)
            tokens.removeAll(keepingCapacity: true)
            tags.removeAll(keepingCapacity: true)
            sentenceProblems.removeAll(keepingCapacity: true)
            containerDepth = -1
        }

        private func beginToken() throws(CorpusError) {
            // The tag.
            let tagPointer = try parser.attribute(tagAttribute)
            if let tagPointer, tagPointer.pointee != 0 {
                let tag = String(cString: tagPointer)
                if let known = validation.knownTags, !known.contains(tag) {
                    try problem(.unknownTag, "the tag \"\(tag)\" is not in the known tag set")
                }
                tags.append(tag)
            } else if let replacement = validation.missingTagReplacement {
                report.replacedTags += 1
                tags.append(replacement)
            } else {
                let what = tagPointer == nil ? "has no" : "has an empty"
                try problem(.tokenWithoutTag,
                            "the token \(what) tag attribute \"\(String(cString: tagAttribute))\"")
                tags.append("")
            }
            // The word.
            if let wordAttribute {
                tokens.append(try parser.attributeString(wordAttribute) ?? "")
                if !parser.isEmptyElement {
                    // Content of a token whose word is an attribute is read and ignored.
                    tokenDepth = parser.depth
                    tokenIsAttributeWord = true
                }
            } else if parser.isEmptyElement {
                tokens.append("")
            } else {
                tokenDepth = parser.depth
                tokenBytes.removeAll(keepingCapacity: true)
            }
        }

        /// Set while skipping the content of a token whose word came from an attribute.
        private var tokenIsAttributeWord = false

        private func problem(_ kind: XMLRecordProblem, _ message: String) throws(CorpusError) {
            if validation.policy == .fail {
                throw CorpusError(message, at: parser.locationOfStartTag(parser.elementOrdinal))
            }
            sentenceProblems[kind, default: 0] += 1
        }

        private func finishSentence() throws(CorpusError) -> TaggedSentence? {
            sentenceDepth = -1
            containerDepth = -1
            if tokens.isEmpty {
                if validation.policy == .fail {
                    throw CorpusError("the sentence has no tokens",
                                      at: parser.locationOfStartTag(sentenceOrdinal))
                }
                sentenceProblems[.emptySentence, default: 0] += 1
            }
            if !sentenceProblems.isEmpty {
                report.skippedRecords += 1
                for (kind, count) in sentenceProblems { report.problems[kind, default: 0] += count }
                return nil
            }
            report.records += 1
            report.tokens += tokens.count
            return TaggedSentence(id: sentenceID, tokens: tokens, tags: tags, location: sentenceLocation)
        }
    }
}
