import ArgumentParser
import Foundation
import SeqModels
import Tasks

/// `seqmodels generate …`: train LSTM language models, sample text, write acrostic poems, evaluate.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Character- and word-level LSTM language models: train, sample, acrostic poems, evaluate.",
        discussion: """
        Examples:
          seqmodels generate train --text Corpora/text/sample.txt --model runs/sample --epochs 20
          seqmodels generate --model runs/sample --prefix "The keeper" --length 200 --temperature 0.8 --seed 1
          seqmodels generate train --text Corpora/poems/poems.txt --records lines --model runs/poems
          seqmodels generate acrostic --model runs/poems --head 春花秋月 --line-length 7
          seqmodels generate eval --model runs/sample --text Corpora/text/sample.txt --json
        """,
        subcommands: [GenerateSampleCommand.self, GenerateTrainCommand.self, GenerateAcrosticCommand.self, GenerateEvalCommand.self],
        defaultSubcommand: GenerateSampleCommand.self
    )
}


/// Reads a whole UTF-8 text file, or standard input for `-`, with a plain error message.
func readText(_ path: String) throws -> String {
    if path == "-" {
        return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    }
    do {
        return try String(contentsOf: URL(fileURLWithPath: path), encoding: .utf8)
    } catch {
        throw TaskError("cannot read \(path) as UTF-8 text: \(error.localizedDescription)")
    }
}

/// Loads a model directory, turning library errors into messages.
private func loadModel(_ path: String) throws -> GeneratorModel {
    do {
        return try GeneratorModel.load(from: URL(fileURLWithPath: path))
    } catch {
        throw TaskError("cannot load the generator model in \(path): \(error)")
    }
}

/// Writes a line to standard error.
func note(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Options shared by the sampling commands.
struct SamplingFlags: ParsableArguments {
    @Option(help: "Sampling temperature; 0 is greedy (always the most probable token).")
    var temperature: Float = 1

    @Option(help: "Sample only among the K most probable tokens.")
    var topK: Int?

    @Option(help: "Sample only among the most probable tokens whose probabilities add up to P (nucleus sampling).")
    var topP: Float?

    @Option(help: "Seed for repeatable output (default: a random seed, printed on standard error).")
    var seed: UInt64?

    @Option(help: "Number of samples.")
    var count: Int = 1

    @Option(help: "BLAS threads (1 is fastest for one token at a time).")
    var threads: Int = 1

    var options: SamplingOptions { SamplingOptions(temperature: temperature, topK: topK, topP: topP) }

    func validate() throws {
        do { try options.validate() } catch { throw ValidationError(String(describing: error)) }
        if count < 1 { throw ValidationError("--count must be at least 1, got \(count)") }
        if threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    /// The generator for this run; a random seed is printed so the run can be repeated.
    func makeGenerator() -> SeededGenerator {
        if let seed { return SeededGenerator(seed: seed) }
        let seed = UInt64.random(in: 0..<1_000_000)
        note("seed \(seed) (pass --seed \(seed) to repeat)")
        return SeededGenerator(seed: seed)
    }
}

/// `seqmodels generate [sample]`: text from a trained model.
struct GenerateSampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate text from a trained model (the default subcommand).",
        discussion: """
        Characters of the prefix that the model does not know are fed as <unk> (with a warning).
        Example:
          seqmodels generate --model runs/shakespeare --prefix "ROMEO:" --length 300 --temperature 0.8 --top-k 20 --seed 7
        """
    )

    @Option(help: "Model directory written by 'generate train'.")
    var model: String

    @Option(help: "Text to start from.")
    var prefix: String = ""

    @Option(help: "Most tokens to generate (characters or words); models trained on lines stop at the end of a line.")
    var length: Int = 200

    @Option(help: "Beam search keeping this many continuations at every token: the most probable text it finds, with no sampling (--temperature, --top-k, --top-p and --seed do not apply). 1: sample.")
    var beam: Int = 1

    @OptionGroup var sampling: SamplingFlags

    func validate() throws {
        if length < 0 { throw ValidationError("--length must be 0 or more, got \(length)") }
        if beam < 1 { throw ValidationError("--beam must be at least 1, got \(beam)") }
        if beam > 1 && sampling.count > 1 { throw ValidationError("--beam gives one text (the most probable it finds): --count does not apply") }
    }

    func run() throws {
        BLAS.setThreadCount(sampling.threads)
        let generatorModel = try loadModel(model)
        var generator = beam > 1 ? SeededGenerator(seed: 0) : sampling.makeGenerator()   // beam search draws nothing
        var warned = false
        for index in 0..<sampling.count {
            let sample: GeneratorModel.Sample
            do {
                sample = beam > 1
                    ? try generatorModel.beamSearch(prefix: prefix, length: length, beamWidth: beam)
                    : try generatorModel.sample(prefix: prefix, length: length, options: sampling.options, generator: &generator)
            } catch let error as TaskError {
                throw TaskError(error.description)
            }
            if !warned && !sample.unknownPrefixTokens.isEmpty {
                note("warning: the model does not know \(sample.unknownPrefixTokens.map { "'\($0)'" }.joined(separator: ", ")) in the prefix; fed as <unk>")
                warned = true
            }
            if index > 0 { print() }
            print(sample.text)
        }
    }
}

/// `seqmodels generate acrostic`: acrostic poems (藏头诗).
struct GenerateAcrosticCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acrostic",
        abstract: "Write acrostic poems: each line starts with one of the head characters.",
        discussion: """
        Every line has exactly --line-length characters and ends with ， or 。 alternately (the last with 。); \
        the format holds by construction. A character already in the line loses --repetition-penalty nats \
        (default 3: it comes back only when the model prefers it about 20 times over). --beam N keeps the N \
        most probable poems at every character (beam search) instead of sampling. Lines are printed one per \
        line, poems separated by a blank line; with --json, one JSON array of poems ({"head", "lines", "poem", \
        "meanLogProbability", "constraints"}: the mean log-probability per token under the model and whether \
        each constraint holds).
        Example:
          seqmodels generate acrostic --model runs/poems --head 春花秋月 --line-length 5 --temperature 0.8 --seed 3
        """
    )

    @Option(help: "Model directory of a character model trained on poems.")
    var model: String

    @Option(help: "Head characters, one per line of the poem.")
    var head: String

    @Option(help: "Characters per line: 5 or 7.")
    var lineLength: Int = 7

    @OptionGroup var sampling: SamplingFlags

    @Option(help: "Beam search with this many poems kept at every character (1: sample, or greedy at --temperature 0).")
    var beam: Int = 1

    @Option(help: "Nats taken from a character already in the line (0: off).")
    var repetitionPenalty: Float = AcrosticOptions.defaultRepetitionPenalty

    @Flag(help: "Rhyme: the last characters of the even lines share a rhyme of 中华新韵, and no line's last character stands elsewhere in the poem.")
    var rhyme = false

    @Flag(help: "Print the poems as one JSON array of objects with head, lines, poem, meanLogProbability and constraints.")
    var json = false

    var options: AcrosticOptions {
        AcrosticOptions(sampling: sampling.options, beamWidth: beam, repetitionPenalty: repetitionPenalty, rhyme: rhyme)
    }

    func validate() throws {
        if lineLength != 5 && lineLength != 7 { throw ValidationError("--line-length must be 5 or 7, got \(lineLength)") }
        if head.isEmpty { throw ValidationError("--head needs at least one character") }
        do { try options.validate() } catch { throw ValidationError(String(describing: error)) }
    }

    func run() throws {
        BLAS.setThreadCount(sampling.threads)
        let generatorModel = try loadModel(model)
        var generator = beam > 1 ? SeededGenerator(seed: 0) : sampling.makeGenerator()   // beam search draws nothing
        var poems: [AcrosticPoem] = []
        for index in 0..<sampling.count {
            let poem: AcrosticPoem
            do {
                poem = try generatorModel.acrosticPoem(heads: head, lineLength: lineLength, options: options, generator: &generator)
            } catch let error as TaskError {
                throw TaskError(error.description)
            }
            if json {
                poems.append(poem)
            } else {
                if index > 0 { print() }
                print(poem.lines.joined(separator: "\n"))
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(poems), as: UTF8.self))
        }
    }

}

/// `seqmodels generate eval`: loss per token and perplexity of a text.
struct GenerateEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Loss per token (nats) and perplexity of a model on a text.",
        discussion: """
        The text is read as the model was trained: a stream (state carried through it) or one record per line.
        Example:
          seqmodels generate eval --model runs/shakespeare --text valid.txt --json
        """
    )

    @Option(help: "Model directory written by 'generate train'.")
    var model: String

    @Option(help: "UTF-8 text file to score ('-': standard input).")
    var text: String

    @Flag(help: "Print JSON (loss, perplexity, tokens, unknownTokens).")
    var json = false

    @Option(help: "BLAS threads.")
    var threads: Int?

    func run() throws {
        if let threads { BLAS.setThreadCount(threads) }
        let generatorModel = try loadModel(model)
        let result: GeneratorModel.TextEvaluation
        do {
            result = try generatorModel.evaluate(text: readText(text))
        } catch let error as TaskError {
            throw TaskError("\(text): \(error.description)")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print("loss \(String(format: "%.4f", result.loss)) nats/token, perplexity \(String(format: "%.3f", result.perplexity)), "
                  + "\(result.tokens) tokens, \(result.unknownTokens) unknown")
        }
    }
}

/// `seqmodels generate train`: trains a language model through the shared training loop.
struct GenerateTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a character- or word-level LSTM language model on a text.",
        discussion: """
        --records stream: the text is one stream cut into chunks of --seq-length tokens for truncated BPTT; \
        the last --validation-fraction is held out. --sampling consecutive (the default, as char-rnn) cuts the \
        stream into --batch-size lanes and carries the LSTM state from each batch to the next (gradients cut, \
        state reset every epoch); --sampling random starts every chunk from a zero state and shuffles the \
        chunks. --records lines: one record \
        per line (a poem a line) framed by <bos> and <eos>; the last lines are held out. After each epoch a \
        sample is printed; the best model by validation loss is kept in --model.
        Defaults (2×256 LSTM, 64-wide embeddings, chunks of 100, dropout 0.1, Adam 2e-3, batch 32, clip 5, \
        plateau schedule) aim at tinyshakespeare. Small text: when the held-out part would hold fewer than \
        1,000 tokens, the choices left to the defaults change (and the log says so): nothing is held out, the \
        learning rate stays constant, and a stream trains on sliding windows of up to 32 tokens starting at \
        every token, so that a short fable is learnt by heart.
        Example:
          seqmodels generate train --text tinyshakespeare.txt --model runs/shakespeare --time-limit 30 --seed 1
        """
    )

    @Option(help: "UTF-8 training text.")
    var text: String

    @Option(help: "Model directory to write.")
    var model: String

    @Option(help: "Token level: char or word.")
    var level: TokenLevel = .char

    @Option(help: "Examples: stream (chunks of the text) or lines (one record per line).")
    var records: RecordMode = .stream

    @Option(help: "Embedding width.")
    var embeddingSize: Int = 64

    @Option(help: "LSTM hidden units per layer.")
    var hiddenSize: Int = 256

    @Option(help: "LSTM layers.")
    var layers: Int = 2

    @Option(help: "Dropout on embeddings, between layers and before the output layer.")
    var dropout: Float = 0.1

    @Option(help: "DropConnect on the LSTM's hidden-to-hidden weights, one mask per batch (AWD-LSTM's weight drop; 0: none).")
    var weightDrop: Float = 0

    @Option(help: "Tokens per training chunk (stream mode). (default: 100; see the small-text note above)")
    var seqLength: Int?

    @Option(help: "Tokens between chunk starts (default: --seq-length, no overlap; other values need --sampling random).")
    var chunkStride: Int?

    @Option(help: "Stream batching: consecutive (state carried between batches) or random (fresh state, shuffled chunks). Default: consecutive.")
    var sampling: StreamSampling?

    @Option(help: "Share of the text held out for validation. (default: 0.1; see the small-text note above)")
    var validationFraction: Double?

    @Option(help: "Output layer: auto (an adaptive softmax for vocabularies of 2,000 tokens or more), full or adaptive.")
    var softmax: SoftmaxKind = .auto

    @Option(help: "Cutoffs of the adaptive softmax, comma-separated (default with --softmax adaptive: 1000,4000, those below the vocabulary size).")
    var cutoffs: String?

    enum SoftmaxKind: String, ExpressibleByArgument, CaseIterable { case auto, full, adaptive }

    @Option(help: "Prefix of the sample shown after each epoch.")
    var samplePrefix: String = ""

    @Option(help: "Tokens of the sample shown after each epoch (0: none).")
    var sampleLength: Int = 200

    @OptionGroup var training: TrainingOptions

    var recipe: GeneratorRecipe {
        let defaults = GeneratorRecipe()
        var recipe = GeneratorRecipe(level: level, records: records, embeddingSize: embeddingSize, hiddenSize: hiddenSize,
                                     layerCount: layers, dropout: dropout, sequenceLength: seqLength ?? defaults.sequenceLength,
                                     stride: chunkStride, sampling: sampling ?? defaults.sampling,
                                     validationFraction: validationFraction ?? defaults.validationFraction, softmax: softmaxChoice)
        recipe.weightDrop = weightDrop
        return recipe
    }

    var softmaxChoice: GeneratorRecipe.Softmax {
        switch softmax {
        case .auto: return .automatic
        case .full: return .full
        case .adaptive: return .adaptive(cutoffs: parsedCutoffs ?? [1_000, 4_000])
        }
    }

    /// `--cutoffs` as numbers; `nil` when it is not given or a part is not a whole number.
    var parsedCutoffs: [Int]? {
        guard let parts = cutoffs?.split(separator: ",").map({ Int($0.trimmingCharacters(in: .whitespaces)) }),
              !parts.contains(nil) else { return nil }
        return parts.compactMap { $0 }
    }

    /// The choices left to the defaults, which `SmallTextFit` may fit to a small text.
    var leftToDefaults: SmallTextFit.Choices {
        var choices: SmallTextFit.Choices = []
        if validationFraction == nil { choices.insert(.validation) }
        if training.schedule == nil && training.decay == nil && training.stepSize == nil && training.plateauPatience == nil {
            choices.insert(.schedule)
        }
        if sampling == nil && seqLength == nil && chunkStride == nil { choices.insert(.chunks) }
        return choices
    }

    func validate() throws {
        if sampling != nil && records == .lines {
            throw ValidationError("--sampling applies to --records stream only (lines are trained one record at a time)")
        }
        do { try recipe.validate() } catch { throw ValidationError(String(describing: error)) }
        if sampleLength < 0 { throw ValidationError("--sample-length must be 0 or more, got \(sampleLength)") }
        if cutoffs != nil && softmax != .adaptive { throw ValidationError("--cutoffs needs --softmax adaptive") }
        if let cutoffs, parsedCutoffs == nil {
            throw ValidationError("--cutoffs takes whole numbers separated by commas, got \(cutoffs)")
        }
    }

    func run() throws {
        let options = try training.trainerOptions(defaults: GeneratorRecipe.defaultTrainerOptions)
        if let threads = options.threads { BLAS.setThreadCount(threads) }
        let source = try readText(text)
        let fit = SmallTextFit(recipe: recipe, options: options, text: source, leftToDefaults: leftToDefaults)
        fit.notes.forEach { note("small text: \($0)") }
        // Errors keep their type, so that the tool's status says what failed (74: a file could not be written).
        _ = try GeneratorTraining.train(
            text: source, recipe: fit.recipe, options: fit.options, directory: URL(fileURLWithPath: model),
            resume: training.resume, progress: training.progress, processGroup: training.processGroup,
            samplePrefix: samplePrefix, sampleLength: Launch.isLeader ? sampleLength : 0,
            showSample: { note("sample: \($0.replacingOccurrences(of: "\n", with: "\n        "))") })
    }
}

extension TokenLevel: ExpressibleByArgument {}
extension RecordMode: ExpressibleByArgument {}
extension StreamSampling: ExpressibleByArgument {}
