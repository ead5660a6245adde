import Foundation
import ArgumentParser
import Corpus
import SeqModels
import Tasks

/// `seqmodels tag …`: train, evaluate and run the BiLSTM part-of-speech tagger.
///
///     seqmodels tag train --train Corpora/pos/sample.xml --dev Corpora/pos/sample-dev.xml --model models/sample
///     seqmodels tag eval --model models/sample --test Corpora/pos/sample-dev.xml
///     seqmodels tag --model models/sample "The old sailor bought three lanterns."
struct TagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag",
        abstract: "Part-of-speech tagging with a BiLSTM over words and characters.",
        subcommands: [TagTextCommand.self, TagTrainCommand.self, TagEvalCommand.self],
        defaultSubcommand: TagTextCommand.self
    )
}

extension TaggedCorpusFormat: ExpressibleByArgument {}
extension TaggedTextFormat: ExpressibleByArgument {}

/// Where tagged corpora come from: the format and, for XML, the mapping flags.
struct TaggedCorpusOptions: ParsableArguments {
    @Option(help: "Corpus format: xml or conllu (default: from the extension, .conllu → conllu, else xml).")
    var format: TaggedCorpusFormat?

    @Option(help: "CoNLL-U column to read tags from: upos or xpos.")
    var tag: CoNLLUTagColumn = .upos

    @OptionGroup(title: "XML mapping") var xml: XMLMappingOptions

    func read(_ path: String) throws -> [TaggedSentence] {
        try TaggedCorpus.read(path: path, format: format, mapping: xml.mapping(xpos: tag == .xpos),
                              validation: xml.validation, tagColumn: tag)
    }
}

/// `seqmodels tag --model M [TEXT …]`: tags sentences given as arguments or one per line on stdin.
struct TagTextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "Tag sentences: the arguments, or one sentence per line of --input or standard input.",
        discussion: """
            Raw text is split with the word tokenizer; with --pretokenized tokens are separated by \
            whitespace. Output: word/TAG per token (default), or --output conllu, xml, json. In a file \
            or on standard input a blank line is a paragraph break: an empty line in the slash output, \
            nothing in the others.

                seqmodels tag --model models/ewt "I love apples."
                I/PRON love/VERB apples/NOUN ./PUNCT
            """
    )

    @Option(help: "Model directory written by `seqmodels tag train`.")
    var model: String

    @Argument(help: "Sentences to tag; when none are given, the lines of --input or standard input are.")
    var text: [String] = []

    @Option(help: "Text file to tag, one sentence per line ('-': standard input, the default without TEXT).")
    var input: String?

    @Flag(help: "Input is already tokenised: tokens separated by whitespace.")
    var pretokenized = false

    @Option(help: "Output format: slash (word/TAG), conllu, xml or json (one object per line).")
    var output: TaggedTextFormat = .slash

    @Flag(help: "With --output json: add each token's probability of every tag (\"probabilities\", in the order of \"tag_set\"; with a CRF the marginals given the sentence).")
    var probabilities = false

    @OptionGroup var parallelism: BatchThreadsOption

    func validate() throws {
        if probabilities && output != .json { throw ValidationError("--probabilities needs --output json") }
        if input != nil && !text.isEmpty { throw ValidationError("give either TEXT arguments or --input, not both") }
    }

    /// One sentence of `--output json --probabilities`.
    private struct SentenceWithProbabilities: Encodable {
        var tokens: [String]
        var tags: [String]
        var tag_set: [String]
        var probabilities: [[Float]]
    }

    func run() throws {
        let workers = parallelism.startWorkers()
        // Under mpirun, the processes share the lines of an --input file; anything else is tagged by rank 0 alone.
        let group = sharesWork ? Launch.sharedGroup : nil
        let tagger = try Tagger.load(from: URL(fileURLWithPath: model))
        let tokenizer: any Tokenizer = pretokenized ? PreTokenizedTokenizer() : WordTokenizer()
        var start = ParagraphState()
        var lines: InputLines?
        var sink = FileHandle.standardOutput
        var part: URL?
        defer { if let part { try? FileManager.default.removeItem(at: part) } }
        if let group, let input {
            let bytes = try LineSharding.shard(of: input, group: group)
            start = try ParagraphState.atStart(of: InputLines(path: input, bytes: bytes), tokenizer: tokenizer, group: group)
            lines = try InputLines(path: input, bytes: bytes)
            if !group.isLeader {
                let url = FileManager.default.temporaryDirectory.appendingPathComponent("seqmodels-part-\(group.rank)-\(getpid()).txt")
                guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                    throw TaskError("\(url.path): cannot create this process's part of the output")
                }
                sink = try FileHandle(forWritingTo: url)
                part = url
            }
        } else if text.isEmpty {
            lines = try InputLines(path: input ?? "-")
        }
        var number = start.sentences
        var pending: [[String]] = []
        // FileHandle's plain write(_:) traps on a failed write (a full disk); this one reports it.
        func emit(_ text: String) throws {
            do {
                try sink.write(contentsOf: Data(text.utf8))
            } catch {
                throw OutputWriteError(description: "cannot write the tagged sentences: \(error.localizedDescription)")
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func flush() throws {
            var chunk = ""
            if probabilities {
                let distributions = tagger.predictTagDistributions(pending.map { tagger.encode(tokens: $0) })
                for (tokens, distribution) in zip(pending, distributions) {
                    let line = SentenceWithProbabilities(
                        tokens: tokens, tags: distribution.tagIDs.map { tagger.vocabularies.tags.token(of: $0) },
                        tag_set: tagger.vocabularies.tags.tokens, probabilities: distribution.probabilities)
                    chunk += String(decoding: (try? encoder.encode(line)) ?? Data("{}".utf8), as: UTF8.self) + "\n"
                }
            } else {
                for (tokens, tags) in zip(pending, tagger.tag(sentences: pending, workers: workers)) {
                    number += 1
                    chunk += output.render(tokens: tokens, tags: tags, number: number)
                }
            }
            try emit(chunk)
            pending.removeAll(keepingCapacity: true)
        }
        func enqueue(_ tokens: [String]) throws {
            pending.append(tokens)
            if pending.count == 256 { try flush() }
        }
        /// The next input line; before a read error or an overlong line, what came before is still tagged.
        func nextLine(of lines: InputLines) throws -> String? {
            do {
                return try lines.nextLine()
            } catch {
                try flush()
                throw error
            }
        }
        if Launch.isLeader { try emit(output.header) }
        if let lines {
            // A blank line (or several) between sentences is a paragraph break.
            var sentencesSeen = start.sentences > 0, breakPending = start.breakPending
            while let line = try nextLine(of: lines) {
                let tokens = tokenizer.tokenize(line)
                if tokens.isEmpty {
                    breakPending = sentencesSeen
                    continue
                }
                if breakPending && output == .slash {
                    try flush()
                    try emit("\n")
                }
                breakPending = false
                sentencesSeen = true
                try enqueue(tokens)
            }
        } else {
            for (i, sentence) in text.enumerated() {
                let tokens = tokenizer.tokenize(sentence)
                guard !tokens.isEmpty else {
                    try flush()   // what came before is still tagged
                    throw TaskError("argument \(i + 1) is empty: give one non-empty sentence per argument")
                }
                try enqueue(tokens)
            }
        }
        try flush()
        if let group {
            if !group.isLeader { try sink.close() }
            try group.appendParts(part, to: group.isLeader ? sink : nil)
        }
        if Launch.isLeader { try emit(output.footer) }
    }

    /// Where a share of the input starts: the sentences before it and whether a paragraph break
    /// is pending (blank lines after the last sentence before it), so that every process numbers
    /// and separates its sentences as one process reading the whole file does.
    struct ParagraphState {
        var sentences = 0
        var breakPending = false

        /// The state at the start of this process's share: each process summarises its own
        /// lines (sentences, blank lines, blank lines after its last sentence), the summaries
        /// are exchanged and those of the shares before this one are composed in order.
        static func atStart(of lines: InputLines, tokenizer: any Tokenizer, group: any ProcessGroup) throws -> ParagraphState {
            var sentences = 0, blank = false, blankAfterLastSentence = false
            while let line = try lines.nextLine() {
                if tokenizer.tokenize(line).isEmpty {
                    blank = true
                    blankAfterLastSentence = sentences > 0
                } else {
                    sentences += 1
                    blankAfterLastSentence = false
                }
            }
            var state = ParagraphState()
            for fields in try group.gather([sentences, blank ? 1 : 0, blankAfterLastSentence ? 1 : 0]).prefix(group.rank) {
                if fields[0] > 0 {
                    state.sentences += fields[0]
                    state.breakPending = fields[2] == 1
                } else if fields[1] == 1 && state.sentences > 0 {
                    state.breakPending = true
                }
            }
            return state
        }
    }
}

/// `seqmodels tag eval --model M --test FILE`: accuracy, OOV and sentence accuracy, per-tag scores, confusions.
struct TagEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a tagger on a tagged corpus: token, OOV and sentence accuracy, per-tag P/R/F1, confusion matrix."
    )

    @Option(help: "Model directory written by `seqmodels tag train`.")
    var model: String

    @Option(help: "Tagged corpus to evaluate on.")
    var test: String

    @OptionGroup var corpus: TaggedCorpusOptions

    @Flag(help: "Print one JSON object (accuracy, oov_accuracy, sentence_accuracy, tokens, per_tag, confusion).")
    var json = false

    @OptionGroup var parallelism: BatchThreadsOption

    func run() throws {
        let workers = parallelism.startWorkers()
        let tagger = try Tagger.load(from: URL(fileURLWithPath: model))
        let examples = try tagger.encode(corpus.read(test))
        let start = Date()
        let report = TaggingReport(examples: examples, predictions: tagger.predictTagIDs(examples, workers: workers),
                                   tags: tagger.vocabularies.tags.tokens)
        let seconds = Date().timeIntervalSince(start)
        if json {
            print(report.json)
        } else {
            print(report.text)
            print(String(format: "\ntagged %d tokens in %.2f s (%.0f tokens/s)", report.tokens, seconds,
                         Double(report.tokens) / max(seconds, 1e-9)))
        }
    }
}

/// `seqmodels tag train --train FILE --dev FILE --model OUT`: trains with the shared loop.
struct TagTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a tagger; the best epoch by dev accuracy is kept in the model directory.",
        discussion: """
            The model directory receives model.safetensors, config.json (every model \
            hyperparameter), words.json, characters.json, tags.json, training.json (the loop's \
            options), metrics.jsonl, curves.svg and resume/.

            Training defaults of the tagger: --epochs 30 --batch-size 32 --learning-rate 0.002 \
            --optimizer adam --clip-norm 5 --schedule plateau --decay 0.5 --plateau-patience 1 \
            --patience 4 --seed 1.

                seqmodels tag train --train Corpora/pos/sample.xml --dev Corpora/pos/sample-dev.xml --model models/sample
            """
    )

    @Option(help: "Tagged training corpus (XML or CoNLL-U).")
    var train: String

    @Option(help: "Tagged development corpus, evaluated after every epoch.")
    var dev: String

    @Option(help: "Model directory to write.")
    var model: String

    @OptionGroup var corpus: TaggedCorpusOptions

    @Option(help: "Word embedding size.") var wordEmbeddingSize: Int = TaggerConfiguration().wordEmbeddingSize
    @Option(help: "Character embedding size.") var charEmbeddingSize: Int = TaggerConfiguration().characterEmbeddingSize
    @Option(help: "Character BiLSTM hidden size per direction.") var charHiddenSize: Int = TaggerConfiguration().characterHiddenSize
    @Option(help: "Sentence BiLSTM hidden size per direction.") var hiddenSize: Int = TaggerConfiguration().hiddenSize
    @Option(help: "Stacked sentence BiLSTM layers.") var layers: Int = TaggerConfiguration().layerCount
    @Option(help: "Dropout on the BiLSTM input, between layers and on its output.") var dropout: Float = TaggerConfiguration().dropout
    @Option(help: "Probability of replacing a training word by <unk>.") var wordDropout: Float = TaggerConfiguration().wordDropout
    @Option(help: "Words seen fewer times in training become <unk>.") var minWordFrequency: Int = TaggerConfiguration().minWordFrequency
    @Option(help: "Longer words keep their first and last half of this many characters.") var maxWordLength: Int = TaggerConfiguration().maxWordLength
    @Option(help: "Share of training sentences also trained on all lower case or in title case (half each).") var caseVariants: Float = TaggerConfiguration().caseVariants
    @Flag(help: "A CRF over each sentence's tag scores (BiLSTM-CRF: sentence-level training, Viterbi decoding) instead of a softmax per token.")
    var crf = false
    @Option(name: .customLong("char-lm"),
            help: "A pretrained character language model (lm pretrain), read as features of every token (flair's contextual string embeddings); give one forward and one backward. The model directory gets a copy.")
    var characterLanguageModels: [String] = []

    @OptionGroup(title: "Training") var training: TrainingOptions

    func run() throws {
        var configuration = TaggerConfiguration()
        configuration.wordEmbeddingSize = wordEmbeddingSize
        configuration.characterEmbeddingSize = charEmbeddingSize
        configuration.characterHiddenSize = charHiddenSize
        configuration.hiddenSize = hiddenSize
        configuration.layerCount = layers
        configuration.dropout = dropout
        configuration.wordDropout = wordDropout
        configuration.minWordFrequency = minWordFrequency
        configuration.maxWordLength = maxWordLength
        configuration.outputLayer = crf ? .crf : .softmax
        configuration.caseVariants = caseVariants
        try configuration.validate()
        let options = try training.trainerOptions(defaults: TaggerTraining.defaultOptions)
        let languageModels = try characterLanguageModels.map { try GeneratorModel.load(from: URL(fileURLWithPath: $0)) }
        let trainSentences = try corpus.read(train)
        let devSentences = try corpus.read(dev)
        let (tagger, _) = try TaggerTraining.train(
            configuration: configuration, options: options, train: trainSentences, dev: devSentences,
            languageModels: languageModels, directory: URL(fileURLWithPath: model), resume: training.resume, progress: training.progress,
            processGroup: training.processGroup)
        guard Launch.isLeader else { return }
        let devExamples = try tagger.encode(devSentences)
        let report = TaggingReport(examples: devExamples, predictions: tagger.predictTagIDs(devExamples),
                                   tags: tagger.vocabularies.tags.tokens)
        print(String(format: "dev: accuracy %.2f%%, OOV accuracy %.2f%% (%d OOV tokens), sentence accuracy %.2f%%; model in %@",
                     100 * report.accuracy, 100 * report.oovAccuracy, report.oovTokens, 100 * report.sentenceAccuracy, model))
    }
}
