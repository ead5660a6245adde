import ArgumentParser
import Corpus
import Foundation
import SeqModels
import Tasks

/// `seqmodels classify`: train, evaluate and run review classifiers.
///
///     seqmodels classify train --train Corpora/reviews/train.csv --dev Corpora/reviews/dev.csv --model runs/reviews
///     seqmodels classify eval --model runs/reviews --test Corpora/reviews/dev.csv
///     seqmodels classify --model runs/reviews "I loved the soup." "The staff was rude."
///     seqmodels classify --model runs/reviews --input reviews.csv --output labelled.csv
struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Classify texts (reviews) with a BiLSTM classifier: train, eval, or predict (the default).",
        subcommands: [ClassifyPredictCommand.self, ClassifyTrainCommand.self, ClassifyEvalCommand.self],
        defaultSubcommand: ClassifyPredictCommand.self
    )
}

extension LabelledTextFormat: ExpressibleByArgument {}

/// Loads a model directory, turning a missing path into a message naming it.
private func loadClassifier(_ path: String) throws -> TrainedClassifier {
    try TrainedClassifier.load(from: URL(fileURLWithPath: path))
}

struct ClassifyPredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Print the label and probability of each text (arguments, or one per line on standard input), or label a CSV.",
        discussion: """
        With TEXT arguments, or else standard input (one text per line; blank lines are skipped), prints
        one line per text: label, probability, text, separated by tabs.
        With --input CSV --output CSV, copies every row and column and appends predicted_label and probability;
        under mpirun every process labels its share of the file and the output keeps the input's order.
        """
    )

    @Option(help: "Model directory written by `classify train`.")
    var model: String

    @Argument(help: "Texts to classify; none: read standard input.")
    var texts: [String] = []

    @Option(help: "CSV or TSV file to label (with --output; '-': standard input).")
    var input: String?

    @Option(help: "File to write: the input's rows with predicted_label and probability appended ('-': standard output).")
    var output: String?

    @Option(help: "Column of --input holding the text: header name or 0-based index.")
    var textColumn: String = "text"

    @Option(help: "Format of --input/--output: csv or tsv (default: from the file name).")
    var format: LabelledTextFormat?

    @Option(help: "Texts classified together.")
    var batchSize: Int = 256

    @Flag(help: "Print one JSON object per text: text, label, probability and every label's probability.")
    var json = false

    @OptionGroup var parallelism: BatchThreadsOption

    /// One line of `--json`.
    private struct JSONLine: Encodable {
        var text: String
        var label: String
        var probability: Float
        var probabilities: [String: Float]
    }

    func validate() throws {
        if json && input != nil { throw ValidationError("--json prints texts given as arguments or on standard input, not --input CSV") }
        if (input == nil) != (output == nil) { throw ValidationError("--input and --output go together") }
        if input != nil && !texts.isEmpty { throw ValidationError("give either TEXT arguments or --input, not both") }
        if format == .xml { throw ValidationError("--format xml is for training and evaluation; label CSV or TSV files") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        let workers = parallelism.startWorkers()
        let classifier = try loadClassifier(model)
        if let input, let output {
            let kind = format ?? LabelledTextFormat.guess(from: input)
            let count = try classifier.annotateCSV(input: input == "-" ? "/dev/stdin" : input, output: output == "-" ? "/dev/stdout" : output,
                                                   format: kind == .tsv ? .tsv : .csv,
                                                   textColumn: CSVColumn(parsing: textColumn), batchSize: batchSize, workers: workers,
                                                   group: Launch.sharedGroup)
            guard Launch.isLeader else { return }
            FileHandle.standardError.write(Data("labelled \(count) rows into \(output == "-" ? "standard output" : output)\n".utf8))
            return
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func emit(_ batch: [String]) throws {
            for (text, prediction) in zip(batch, try classifier.classify(batch, batchSize: batchSize, workers: workers)) {
                if json {
                    let line = JSONLine(text: text, label: prediction.label, probability: prediction.probability,
                                        probabilities: Dictionary(uniqueKeysWithValues: zip(classifier.labels, prediction.probabilities)))
                    print(String(decoding: try encoder.encode(line), as: UTF8.self))
                } else {
                    print("\(prediction.label)\t\(TrainedClassifier.formatProbability(prediction.probability))\t\(text)")
                }
            }
        }
        if !texts.isEmpty {
            try emit(texts)
            return
        }
        // Typed at a terminal: answer each line at once; piped: classify batchSize lines together.
        let linesPerBatch = isatty(STDIN_FILENO) != 0 ? 1 : batchSize
        var batch: [String] = []
        let lines = try InputLines(path: "-")
        while let line = try lines.nextLine() {
            if line.allSatisfy(\.isWhitespace) { continue }
            batch.append(line)
            if batch.count == linesPerBatch { try emit(batch); batch.removeAll() }
        }
        if !batch.isEmpty { try emit(batch) }
    }
}

struct ClassifyEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy, macro-F1, per-label precision/recall/F1 and the confusion matrix on a labelled file."
    )

    @Option(help: "Model directory written by `classify train`.")
    var model: String

    @Option(help: "Labelled file to evaluate on.")
    var test: String

    @OptionGroup var input: LabelledFileOptions

    @Flag(help: "Print JSON (keys accuracy, macro_f1, rows, labels, per_label, confusion_matrix).")
    var json = false

    @Option(help: "Texts classified together (sorted by length inside each group).")
    var batchSize: Int = 512

    @OptionGroup var parallelism: BatchThreadsOption

    func run() throws {
        let workers = parallelism.startWorkers()
        let classifier = try loadClassifier(model)
        var source = try input.format(of: test).open(test, columns: input.columns)
        let start = Date()
        let report = try classifier.evaluate(&source, batchSize: max(1, batchSize), workers: workers)
        let seconds = Date().timeIntervalSince(start)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text)
            print(String(format: "\n%.1f s, %.0f texts/s", seconds, Double(report.rows) / max(seconds, 1e-9)))
        }
    }
}

extension SequencePooling: ExpressibleByArgument {}
extension TextPreparation.Truncation: ExpressibleByArgument {}
extension TextPreparation.TokenizerKind: ExpressibleByArgument {}
extension ClassifierHyperparameters.ClassWeighting: ExpressibleByArgument {}

struct ClassifyTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a BiLSTM classifier on a labelled CSV, TSV or XML file.",
        discussion: """
        Writes the best model (by dev accuracy) to --model with metrics.jsonl, curves.svg and resume state.
        Without --dev, a seeded --dev-fraction of the training file is held out.

          seqmodels classify train --train imdb/train.csv --model runs/imdb --time-limit 30
        """
    )

    @Option(help: "Labelled training file.")
    var train: String

    @Option(help: "Labelled development file (default: hold out --dev-fraction of --train).")
    var dev: String?

    @Option(help: "Fraction of --train held out for development when --dev is not given.")
    var devFraction: Double = 0.1

    @Option(help: "Model directory to write.")
    var model: String

    @OptionGroup var input: LabelledFileOptions

    @Option(help: "Tokenizer: words (lowercased), cased-words, characters (e.g. Chinese), whitespace (pre-tokenised).")
    var tokenizer: TextPreparation.TokenizerKind = .words

    @Option(help: "Most tokens kept per text; 0 keeps all.")
    var maxLength: Int = ClassifierHyperparameters().text.maxLength ?? 0

    @Option(help: "Which tokens of a longer text to keep: head, tail or both (half each).")
    var truncate: TextPreparation.Truncation = ClassifierHyperparameters().text.truncation

    @Option(help: "Keep only tokens seen at least this often in the training texts.")
    var minFrequency: Int = ClassifierHyperparameters().minFrequency

    @Option(help: "Most vocabulary entries (<pad> and <unk> included); 0 for no limit.")
    var maxVocabulary: Int = ClassifierHyperparameters().maxVocabularySize ?? 0

    @Option(help: "Embedding dimension (must match --vectors).")
    var embeddingDimension: Int = ClassifierHyperparameters().embeddingDimension

    @Option(help: "LSTM units per direction.")
    var hiddenSize: Int = ClassifierHyperparameters().hiddenSize

    @Option(help: "Stacked LSTM layers.")
    var layers: Int = 1

    @Flag(help: "Run the LSTM forward only (default: bidirectional).")
    var unidirectional = false

    @Option(help: "Pooling over the tokens: max, mean, last or max+mean.")
    var pooling: SequencePooling = ClassifierHyperparameters().pooling

    @Option(help: "Dropout on the embedded tokens.")
    var embeddingDropout: Float = ClassifierHyperparameters().embeddingDropout

    @Option(help: "Dropout between LSTM layers and on the pooled vector.")
    var dropout: Float = ClassifierHyperparameters().dropout

    @Option(help: "Class weights in the loss: none, or balanced (n / (labels × n_label)).")
    var classWeights: ClassifierHyperparameters.ClassWeighting = .none

    @Option(help: "GloVe or word2vec text file to initialise the embeddings.")
    var vectors: String?

    @Flag(help: "Keep the embeddings fixed during training (with --vectors).")
    var freezeEmbeddings = false

    @Option(help: "A word language model from 'lm pretrain --level word' (same --tokenizer, embedding and hidden sizes) to start the embeddings and the LSTM from: a forward one for the forward direction, a backward one for the reverse; repeatable.")
    var pretrained: [String] = []

    @Option(help: "Longest n-gram in the bag of n-grams beside the LSTM; 0 trains the LSTM alone.")
    var ngrams: Int = ClassifierHyperparameters().ngrams?.order ?? 0

    @Option(help: "Keep n-grams found in at least this many training texts.")
    var ngramMinCount: Int = ClassifierHyperparameters().ngrams?.minDocumentCount ?? 2

    @Option(help: "Most n-grams kept (the most widespread).")
    var maxNgrams: Int = ClassifierHyperparameters().ngrams?.maxCount ?? 1_000_000

    @Option(help: "Probability of dropping each n-gram of a text in training.")
    var ngramDropout: Float = ClassifierHyperparameters().ngramDropout

    @OptionGroup var training: TrainingOptions

    /// The classifier's training defaults: Adam 1e-3, batches of 32 reviews, clipping at 5,
    /// at most 10 epochs, the learning rate halved when the dev accuracy has not improved for two
    /// epochs (PyTorch's `ReduceLROnPlateau`, patience 1), stop after three.
    static let trainerDefaults = TrainerOptions(epochs: 10, batchSize: 32, learningRate: 1e-3, clipNorm: 5,
                                                schedule: .plateau(factor: 0.5, patience: 1), patience: 3)

    func validate() throws {
        if maxLength < 0 { throw ValidationError("--max-length must be 0 (no limit) or positive") }
        if minFrequency < 1 { throw ValidationError("--min-frequency must be at least 1") }
        if maxVocabulary != 0 && maxVocabulary < 3 { throw ValidationError("--max-vocabulary must be 0 (no limit) or at least 3") }
        if embeddingDimension < 1 || hiddenSize < 1 || layers < 1 {
            throw ValidationError("--embedding-dimension, --hidden-size and --layers must be positive")
        }
        if ngrams < 0 { throw ValidationError("--ngrams must be 0 (no bag of n-grams) or positive") }
        if ngramMinCount < 1 || maxNgrams < 1 { throw ValidationError("--ngram-min-count and --max-ngrams must be positive") }
        for (name, p) in [("--dropout", dropout), ("--embedding-dropout", embeddingDropout), ("--ngram-dropout", ngramDropout)]
        where !(p >= 0 && p < 1) {
            throw ValidationError("\(name) must be in [0, 1), got \(p)")
        }
        if !(devFraction > 0 && devFraction < 1) { throw ValidationError("--dev-fraction must be in (0, 1)") }
        if freezeEmbeddings && vectors == nil { throw ValidationError("--freeze-embeddings needs --vectors") }
    }

    var hyperparameters: ClassifierHyperparameters {
        var h = ClassifierHyperparameters()
        h.embeddingDimension = embeddingDimension
        h.hiddenSize = hiddenSize
        h.layerCount = layers
        h.bidirectional = !unidirectional
        h.embeddingDropout = embeddingDropout
        h.dropout = dropout
        h.pooling = pooling
        h.minFrequency = minFrequency
        h.maxVocabularySize = maxVocabulary == 0 ? nil : maxVocabulary
        h.text = TextPreparation(tokenizer: tokenizer, maxLength: maxLength == 0 ? nil : maxLength, truncation: truncate)
        h.classWeighting = classWeights
        h.vectorsPath = vectors
        h.freezeEmbeddings = freezeEmbeddings
        h.ngrams = ngrams == 0 ? nil : NGramFeatures.Settings(order: ngrams, minDocumentCount: ngramMinCount, maxCount: maxNgrams)
        h.ngramDropout = ngramDropout
        return h
    }

    func run() throws {
        let options = try training.trainerOptions(defaults: Self.trainerDefaults)
        let columns = input.columns
        let log = { (line: String) in if Launch.isLeader { FileHandle.standardError.write(Data((line + "\n").utf8)) } }
        var trainRecords = try input.format(of: train).readAll(train, columns: columns)
        var devRecords: [LabelledText]
        if let dev {
            devRecords = try input.format(of: dev).readAll(dev, columns: columns)
        } else {
            guard trainRecords.count >= 2 else { throw ValidationError("\(train) holds fewer than two texts: nothing to hold out") }
            (trainRecords, devRecords) = splitForDevelopment(trainRecords, fraction: devFraction, seed: options.seed)
            log("no --dev: holding out \(devRecords.count) of \(trainRecords.count + devRecords.count) training texts (seed \(options.seed))")
        }
        let languageModels = try pretrained.map { try GeneratorModel.load(from: URL(fileURLWithPath: $0)) }
        let prepared = try ClassifierRecipe.prepare(training: trainRecords, development: devRecords,
                                                    hyperparameters: hyperparameters, languageModels: languageModels,
                                                    seed: options.seed)
        let bundle = prepared.classifier
        log("labels: \(bundle.labels.joined(separator: ", ")); vocabulary: \(bundle.vocabulary.count) entries"
            + (prepared.vectorCoverage.map { "; \($0) have pretrained vectors" } ?? "")
            + (prepared.pretrained.map { "; \($0.coveredTokens) embeddings and \($0.lstmTensors.count) LSTM tensors from the language models" } ?? "")
            + (bundle.ngramFeatures.map { "; \($0.count) n-grams (1 to \($0.settings.order) tokens)" } ?? ""))
        var classifier = bundle.model
        let trainer = Trainer(options: options, progress: training.progress, processGroup: training.processGroup)
        let summary = try trainer.fit(&classifier, train: prepared.training, dev: prepared.development,
                                      in: URL(fileURLWithPath: model), resume: training.resume) { best, directory in
            var saved = bundle
            saved.model = best
            try saved.save(to: directory)
        }
        // The trainer already evaluated the best epoch on the dev set: report it without a second pass.
        guard Launch.isLeader else { return }
        guard let best = summary.best else {
            print("model: \(model)  no epoch finished, nothing saved")
            return
        }
        let macroF1 = best.devDetails["macro_f1"].map { "  dev macro-F1 " + TrainedClassifier.formatProbability(Float($0)) } ?? ""
        print("model: \(model)  best epoch \(best.epoch)  dev accuracy \(TrainedClassifier.formatProbability(Float(best.devMetric)))\(macroF1)")
    }
}

/// Where the texts and labels are in a labelled file: shared by `classify train` and `classify eval`.
struct LabelledFileOptions: ParsableArguments {
    @Option(help: "Column holding the text: header name or 0-based index (XML: child element, or 'text' for the content).")
    var textColumn: String = "text"

    @Option(help: "Column holding the label (XML: attribute of the record element).")
    var labelColumn: String = "label"

    @Option(help: "File format: csv, tsv or xml (default: from the file name).")
    var format: LabelledTextFormat?

    var columns: LabelledTextColumns { LabelledTextColumns(text: textColumn, label: labelColumn) }

    /// `--format`, or the format the file name implies.
    func format(of path: String) -> LabelledTextFormat { format ?? .guess(from: path) }
}
