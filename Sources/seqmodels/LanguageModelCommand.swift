import Foundation
import ArgumentParser
import Corpus
import SeqModels
import Tasks

/// `seqmodels lm`: language models trained on unlabelled text, for the heads to build on.
struct LanguageModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lm",
        abstract: "Pretrain language models on unlabelled text, for the tagger to read (tag train --char-lm).",
        subcommands: [LanguageModelPretrainCommand.self]
    )
}

struct LanguageModelPretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Train a forward or backward language model on raw text and write its model directory.",
        discussion: """
            The texts (plain files, the --text-column of CSV files and the --sentences of tagged \
            corpora, one record or sentence per line) are \
            read as one stream; --direction backward trains on it reversed, to read what follows a \
            word. The best model by the loss on the last --validation-fraction of the stream is kept \
            in --model: a generator directory whose config.json records the direction. A tagger \
            takes one forward and one backward character model:

                seqmodels lm pretrain --csv imdb/train.csv --model lm/fwd \\
                    --direction forward --time-limit 50 --threads 1
                seqmodels lm pretrain --csv imdb/train.csv --model lm/bwd \\
                    --direction backward --time-limit 50 --threads 1
                seqmodels tag train --train train.xml --dev dev.xml --crf \\
                    --char-lm lm/fwd --char-lm lm/bwd --model tagger

            A classifier takes word models of its own shape, whose embeddings and LSTM start it \
            (ULMFiT's idea; a backward model starts the BiLSTM's reverse direction):

                seqmodels lm pretrain --csv imdb/train.csv --level word \\
                    --tokenizer words --min-frequency 3 --max-vocabulary 40000 \\
                    --embedding-size 128 --hidden-size 48 --seq-length 70 \\
                    --direction forward --model lm/words-fwd --time-limit 25
                seqmodels classify train --train imdb/train.csv --model imdb \\
                    --pretrained lm/words-fwd --pretrained lm/words-bwd

            Defaults: one LSTM layer of 256 over 32-wide embeddings, chunks of 250 tokens, \
            dropout 0.1, 1% held out, Adam 2e-3, batches of 32 lanes, clipping at 5, learning rate \
            halved when the held-out loss stops improving; an adaptive softmax from 2,000 tokens \
            up. Test sets must not be among the texts.
            """
    )

    @Option(help: "UTF-8 text file to train on ('-': standard input); repeatable.")
    var text: [String] = []

    @Option(help: "CSV file whose --text-column records are training text, one per line; repeatable.")
    var csv: [String] = []

    @Option(help: "Column of the CSV files holding the text (a header name or a 0-based index).")
    var textColumn: String = "text"

    @Option(help: "Tagged corpus (XML or CoNLL-U) whose sentences are training text, tokens joined by spaces as a tagger reads them, one per line; repeatable. Never a test set.")
    var sentences: [String] = []

    @Option(help: "forward (left to right) or backward (right to left).")
    var direction: ReadingDirection = .forward

    @Option(help: "Token level: char (for a tagger's contextual features) or word.")
    var level: TokenLevel = .char

    @Option(help: "Model directory to write.")
    var model: String

    @Option(help: "For --level word: split every text as a classifier with this --tokenizer does (words: lower-cased words, <br /> removed; cased-words; characters; whitespace), so that 'classify train --pretrained' finds the same tokens. Default: the generator's cased words.")
    var tokenizer: TextPreparation.TokenizerKind?

    @Option(help: "Tokens seen fewer times become <unk>.") var minFrequency: Int = 1
    @Option(help: "Most tokens in the vocabulary, the most frequent kept (default: all).") var maxVocabulary: Int?

    @Option(help: "Embedding width.") var embeddingSize: Int = 32
    @Option(help: "LSTM hidden units per layer (the width of a token's features in a tagger).") var hiddenSize: Int = 256
    @Option(help: "LSTM layers.") var layers: Int = 1
    @Option(help: "Dropout on embeddings, between layers and before the output layer.") var dropout: Float = 0.1
    @Option(help: "Tokens per training chunk (truncated BPTT).") var seqLength: Int = 250
    @Option(help: "Share of the stream (its end) held out for validation.") var validationFraction: Double = 0.01

    @OptionGroup(title: "Training") var training: TrainingOptions

    @OptionGroup(title: "Tagged corpus (--sentences)") var corpus: TaggedCorpusOptions

    var recipe: GeneratorRecipe {
        var recipe = GeneratorRecipe(level: level, records: .stream, embeddingSize: embeddingSize, hiddenSize: hiddenSize,
                                     layerCount: layers, dropout: dropout, sequenceLength: seqLength, sampling: .consecutive,
                                     validationFraction: validationFraction, softmax: .automatic, direction: direction)
        recipe.minFrequency = minFrequency
        recipe.maxVocabularySize = maxVocabulary
        return recipe
    }

    func validate() throws {
        if text.isEmpty && csv.isEmpty && sentences.isEmpty {
            throw ValidationError("give at least one --text, --csv or --sentences file to train on")
        }
        do { try recipe.validate() } catch { throw ValidationError(String(describing: error)) }
        if tokenizer != nil && level != .word { throw ValidationError("--tokenizer applies to --level word") }
        if minFrequency < 1 { throw ValidationError("--min-frequency must be at least 1, got \(minFrequency)") }
        let smallest = SpecialToken.allCases.count + 1
        if let maxVocabulary, maxVocabulary < smallest {
            throw ValidationError("--max-vocabulary must be at least \(smallest) (the special tokens and one more), got \(maxVocabulary)")
        }
        guard validationFraction > 0 && validationFraction < 1 else {
            throw ValidationError("--validation-fraction must be in (0, 1), got \(validationFraction)")
        }
    }

    func run() throws {
        let options = try training.trainerOptions(defaults: GeneratorRecipe.defaultTrainerOptions)
        if let threads = options.threads { BLAS.setThreadCount(threads) }
        var parts: [String] = []
        for path in text {
            parts.append(try readText(path))
        }
        for path in csv {
            var rows = try CSVRowReader(contentsOf: path)
            let column = try rows.index(of: CSVColumn(parsing: textColumn))
            while let record = try rows.next() {
                guard column < record.fields.count else {
                    throw TaskError("\(path):\(record.line): the record has \(record.fields.count) fields, no column \(textColumn)")
                }
                parts.append(record.fields[column])
            }
        }
        for path in sentences {
            parts += try corpus.read(path).map { $0.tokens.joined(separator: " ") }
        }
        if let tokenizer {
            let preparation = TextPreparation(tokenizer: tokenizer, maxLength: nil)
            parts = parts.map { preparation.tokens(of: $0).joined(separator: " ") }
        }
        let source = parts.joined(separator: "\n")
        note("lm pretrain: \(source.count) characters in \(parts.count) texts (files, records and sentences), "
             + "\(level.rawValue) level, reading \(direction.rawValue)")
        _ = try GeneratorTraining.train(text: source, recipe: recipe, options: options, directory: URL(fileURLWithPath: model),
                                        resume: training.resume, progress: training.progress, processGroup: training.processGroup)
    }
}

extension ReadingDirection: ExpressibleByArgument {}
