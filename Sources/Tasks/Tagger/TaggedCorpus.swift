import Corpus

/// The formats a tagged corpus can come in.
public enum TaggedCorpusFormat: String, Sendable, CaseIterable {
    /// XML read through an `XMLMapping` (default: the TEI-like layout of the EWT rendition).
    case xml
    /// CoNLL-U, UPOS column (or XPOS).
    case conllu

    /// The format a file name's extension implies (`.conllu`/`.conll` → CoNLL-U, else XML).
    public init(inferringFrom path: String) {
        let lower = path.lowercased()
        self = lower.hasSuffix(".conllu") || lower.hasSuffix(".conll") ? .conllu : .xml
    }
}

/// Reading whole tagged corpora into memory for training and evaluation.
public enum TaggedCorpus {
    /// Every sentence of `path`. XML follows `mapping` and `validation`; CoNLL-U reads `tagColumn`.
    /// Throws the reader's `CorpusError` (file:line: problem), or a `TaskError` for a corpus
    /// without a single sentence.
    public static func read(path: String, format: TaggedCorpusFormat? = nil, mapping: XMLMapping = .tei,
                            validation: XMLSentenceValidation = XMLSentenceValidation(),
                            tagColumn: CoNLLUTagColumn = .upos) throws -> [TaggedSentence] {
        var sentences: [TaggedSentence] = []
        switch format ?? TaggedCorpusFormat(inferringFrom: path) {
        case .xml:
            var reader = try XMLSentenceReader(path: path, mapping: mapping, validation: validation)
            while let sentence = try reader.next() { sentences.append(sentence) }
        case .conllu:
            var reader = try CoNLLUReader(contentsOf: path, tag: tagColumn)
            while let sentence = try reader.next() { sentences.append(sentence) }
        }
        guard sentences.contains(where: { !$0.tokens.isEmpty }) else {
            throw TaskError("\(path): no tagged sentences found (is the format or the XML mapping right?)")
        }
        return sentences
    }
}
